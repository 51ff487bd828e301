"""No SQL built by string formatting, including through ``odoo.tools.SQL``.

pylint-odoo's ``sql-injection`` check (enabled in .pylintrc) catches
``cr.execute("... %s" % x)`` but not ``SQL(f"... {x}")``, the Odoo 17 idiom:
this test reads the addon's sources and fails on both. Identifiers go through
``SQL.identifier()``, values through ``SQL("%s", value)``. A line that really
needs it (a constant chosen in code) carries ``# sql-safe: <why>``.
"""

import ast
import pathlib
from decimal import Decimal

from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..tools import pg_arrays

ADDON = pathlib.Path(__file__).resolve().parent.parent
SQL_CALLS = {"SQL", "execute", "executemany", "execute_values", "mogrify"}


def _is_formatted(node):
    """Whether ``node`` builds a string from non-constant parts."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(value, ast.FormattedValue) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return not (isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        return isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)
    return False


def find_formatted_sql(source, filename="<string>"):
    """Return (line, code) of each SQL call whose query is built by formatting."""
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in SQL_CALLS or not _is_formatted(node.args[0]):
            continue
        if name == "execute" and isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "self":
            continue  # a model's own method named execute(), not a cursor
        line = lines[node.lineno - 1]
        if "sql-safe:" not in line:
            found.append((node.lineno, line.strip()))
    return found


@tagged("post_install", "-at_install", "sms_security")
class TestSqlSafety(TransactionCase):
    def test_detector(self):
        bad = (
            "cr.execute('SELECT %s' % x)\n"
            "cr.execute(f'SELECT {x}')\n"
            "SQL(f'SELECT {x}')\n"
            "SQL('SELECT ' + x)\n"
            "SQL('SELECT {}'.format(x))\n"
            "self.env.cr.execute('DELETE FROM t WHERE id IN %s' % (ids,))\n"
        )
        self.assertEqual(len(find_formatted_sql(bad)), 6)
        good = (
            "cr.execute('SELECT %s', [x])\n"
            "SQL('SELECT %s FROM %s', x, SQL.identifier(t))\n"
            "SQL('SELECT 1')\n"
            "cr.execute(SQL('SELECT %s', x))\n"
            "SQL(f'SELECT {x}')  # sql-safe: x is a constant of this module\n"
        )
        self.assertEqual(find_formatted_sql(good), [])

    def test_addon_sources(self):
        offenders = []
        for path in sorted(ADDON.rglob("*.py")):
            if "tests" in path.relative_to(ADDON).parts:
                continue
            for lineno, code in find_formatted_sql(path.read_text(encoding="utf-8"), str(path)):
                offenders.append(f"{path.relative_to(ADDON)}:{lineno}: {code}")
        self.assertFalse(offenders, "SQL built by string formatting:\n" + "\n".join(offenders))


@tagged("post_install", "-at_install", "sms_security")
class TestNumberArrays(TransactionCase):
    """The arrays of numbers the engine passes as one literal (``tools/pg_arrays.py``)."""

    def _read_back(self, literal, cast):
        self.env.cr.execute(SQL("SELECT %s%s", literal, SQL(cast)))
        return self.env.cr.fetchone()[0]

    def test_numbers_read_back_as_given(self):
        self.assertEqual(
            self._read_back(pg_arrays.int_array([1, None, -3, 2**31 - 1]), "::int[]"), [1, None, -3, 2**31 - 1]
        )
        numbers = [0.0123, 1e-05, Decimal("2.5000"), 7, None, 123456789.125]
        self.assertEqual(
            self._read_back(pg_arrays.number_array(numbers), "::numeric[]"),
            [Decimal("0.0123"), Decimal("0.00001"), Decimal("2.5000"), Decimal(7), None, Decimal("123456789.125")],
        )
        self.assertEqual(self._read_back(pg_arrays.int_array([]), "::int[]"), [])

    def test_anything_but_a_number_is_refused(self):
        for value in ("1},{2", "1", True, b"1", 1.5, float("nan"), float("inf"), Decimal("NaN"), [1]):
            with self.subTest(value=value), self.assertRaises(TypeError):
                pg_arrays.int_array([1, value])
        for value in ("0.5", "1},{2", True, float("nan"), float("-inf"), Decimal("sNaN"), Decimal("Infinity")):
            with self.subTest(value=value), self.assertRaises(TypeError):
                pg_arrays.number_array([1, value])

    def test_the_trace_writer_takes_other_values_as_psycopg2_adapts_them(self):
        """A provider of another addon may answer its parts as text or a float: written as before."""
        mailing = self.env["sms.marketing.mailing"].create({"subject": "Writer", "body": "Hello"})
        trace = self.env["sms.marketing.trace"].create(
            {"mailing_id": mailing.id, "number": "+32470000001", "state": "sent", "cost": 1.0}
        )
        self.env.flush_all()
        self.env["sms.marketing.engine"]._write_traces(
            (("id", "int"), ("segments", "int"), ("tries", "int"), ("cost", "numeric")),
            {"id": [trace.id], "segments": ["2"], "tries": [3.0], "cost": [0.5]},
            SQL("segments = v.segments, try_count = v.tries, cost = v.cost"),
        )
        trace.invalidate_recordset()
        self.assertEqual((trace.segments, trace.try_count, trace.cost), (2, 3, 0.5))
