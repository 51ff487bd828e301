"""A recipient filter read as data, never run as code (pure Python, no odoo import).

A mailing's filter is stored as text, as the web client's domain editor
writes it: ``[('create_uid', '=', uid), ('create_date', '>=',
(context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]``. It was
evaluated with ``safe_eval`` and a live ``user`` record, so whoever could type
a filter could call any method of any record (``user.sudo().write(...)``).

Here the text is parsed with ``ast.parse`` and walked: only a whitelist of
node shapes is accepted, and every value is computed by this module from
plain values (``FilterNames``): no record, environment or callable is ever
handed to anything, nothing is evaluated. What is accepted:

- a domain: a list (or tuple) of ``'&'``, ``'|'``, ``'!'`` and conditions
  ``(path, operator, value)`` with ``path`` and ``operator`` strings (also
  Odoo's constant conditions ``(1, '=', 1)`` and ``(0, '=', 1)``); with the
  operators ``any`` / ``not any`` the value is a domain itself;
- a value: a constant (string, number, boolean, None), a negative number, a
  list or tuple of such values, one of the names ``uid``, ``user.id``,
  ``user.company_id.id``, ``user.partner_id.id`` (the sender's ids), or a date
  computed from ``context_today()``, ``datetime.date.today()``,
  ``datetime.datetime.now()``, ``datetime.date(y, m, d)``,
  ``datetime.datetime(y, m, d[, h, mi, s])``,
  ``datetime.datetime.combine(<date>, datetime.time(h, m, s))``, plus or
  minus ``relativedelta(...)`` / ``datetime.timedelta(...)`` with integer
  arguments, then ``.strftime(format)`` or ``.to_utc()``; or
  ``time.strftime(format)``.

The clock: ``context_today()`` is today in the sender's time zone;
``datetime.datetime.now()``, ``datetime.date.today()`` and
``time.strftime`` are UTC (the server's clock, as ``safe_eval`` read them).
``.to_utc()`` (the web client's) reads a datetime built from
``context_today()`` as the sender's local time and converts it to UTC; on
one that is already UTC it changes nothing. A date or datetime left as a
value becomes its ORM text (``'%Y-%m-%d'``, ``'%Y-%m-%d %H:%M:%S'``).

The size is bounded (``MAX_LENGTH`` characters, ``MAX_DEPTH`` levels), so a
huge or deeply nested text is refused before it costs anything. A refused
text raises ``FilterError``: its ``reason`` (one of the ``REASON_*``
constants) and the part of the text concerned, for the caller to say in the
user's language.
"""

import ast
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

# A filter of 10,000 ids is about 70,000 characters; the bound keeps parsing cheap.
MAX_LENGTH = 200_000
# Levels of nested domains (``any``) and of nested expressions in a value.
MAX_DEPTH = 12
# The longest strftime format accepted.
MAX_FORMAT_LENGTH = 64
# How much of the text an error quotes.
SNIPPET_LENGTH = 80

REASON_SYNTAX = "syntax"  # not Python literal syntax at all
REASON_TOO_LONG = "too_long"
REASON_TOO_DEEP = "too_deep"
REASON_NOT_A_LIST = "not_a_list"  # the whole text is not a list of conditions
REASON_NOT_A_CONDITION = "not_a_condition"  # an element is neither an operator nor (path, operator, value)
REASON_MISSING_OPERAND = "missing_operand"  # '&', '|' or '!' without enough conditions after it
REASON_NOT_ALLOWED = "not_allowed"  # an expression outside the whitelist
REASON_BAD_DATE = "bad_date"  # a whitelisted date computation that gives no date (bad argument, out of range)

DOMAIN_OPERATORS = {"&": 2, "|": 2, "!": 1}
CONSTANT_CONDITIONS = {(1, "=", 1), (0, "=", 1)}  # Odoo's TRUE_LEAF and FALSE_LEAF
SUBDOMAIN_OPERATORS = ("any", "not any")
CONSTANT_TYPES = (str, int, float, bool, type(None))

# the names a filter may use, and the FilterNames attribute each one stands for
NAMES = {
    "uid": "uid",
    "user.id": "uid",
    "user.company_id.id": "company_id",
    "user.partner_id.id": "partner_id",
}
RELATIVEDELTA_ARGUMENTS = frozenset(
    (
        *("years", "months", "weeks", "days", "hours", "minutes", "seconds"),  # shifts
        *("year", "month", "day", "weekday", "hour", "minute", "second"),  # absolute values
    )
)
TIMEDELTA_ARGUMENTS = frozenset(("weeks", "days", "hours", "minutes", "seconds"))
TIME_ARGUMENTS = ("hour", "minute", "second")
DATE_ARGUMENTS = ("year", "month", "day")
DATETIME_ARGUMENTS = ("year", "month", "day", "hour", "minute", "second")


class FilterError(ValueError):
    """A text that is not a literal domain: why (``reason``), and where (``snippet``, the text concerned)."""

    def __init__(self, reason, snippet="", limit=None):
        super().__init__(reason, snippet)
        self.reason = reason
        self.snippet = snippet
        self.limit = limit


@dataclass(frozen=True)
class FilterNames:
    """The plain values a filter's names stand for: the sender's ids and time zone, and the clock."""

    uid: int
    company_id: int | bool = False
    partner_id: int | bool = False
    tz: str = "UTC"
    now: dt.datetime | None = None  # naive UTC; None: the current time


@dataclass(frozen=True)
class _Moment:
    """A date or datetime computed by the filter, and whether it is UTC (else the sender's local time)."""

    value: dt.date
    utc: bool


def parse_domain(text, names):
    """The domain written in ``text`` as a list, its names replaced by the values of ``names``
    (a ``FilterNames``); raises ``FilterError`` when the text is not a literal domain."""
    text = (text or "").strip() or "[]"
    if len(text) > MAX_LENGTH:
        raise FilterError(REASON_TOO_LONG, limit=MAX_LENGTH)
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        # ValueError: a null byte or an integer too long to convert; RecursionError: nesting
        raise FilterError(REASON_SYNTAX, _shorten(text)) from error
    return _Reader(text, names)._domain(tree.body, 0)


def _shorten(text):
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_LENGTH else text[: SNIPPET_LENGTH - 1] + "…"


def _dotted_name(node):
    """``user.company_id.id`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Reader:
    """One walk of one filter's syntax tree."""

    def __init__(self, text, names):
        self.text = text
        self.names = names
        self.now = names.now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        try:
            self.tz = ZoneInfo(names.tz or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = dt.timezone.utc  # an unknown zone reads as UTC, as Odoo's context_timestamp does

    def _error(self, reason, node):
        return FilterError(reason, _shorten(ast.get_source_segment(self.text, node) or ""))

    # ---------------------------------------------------------------- domains
    def _domain(self, node, depth):
        if depth > MAX_DEPTH:
            raise self._error(REASON_TOO_DEEP, node)
        if not isinstance(node, ast.List | ast.Tuple):
            raise self._error(REASON_NOT_A_LIST, node)
        domain = [self._element(element, depth) for element in node.elts]
        # prefix notation: each operator needs its operands after it (the rest is an implicit AND)
        available = 0
        for element, item in zip(reversed(node.elts), reversed(domain), strict=True):
            if isinstance(item, str):
                if available < DOMAIN_OPERATORS[item]:
                    raise self._error(REASON_MISSING_OPERAND, element)
                available -= DOMAIN_OPERATORS[item] - 1
            else:
                available += 1
        return domain

    def _element(self, node, depth):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in DOMAIN_OPERATORS:
            return node.value
        if not isinstance(node, ast.List | ast.Tuple) or len(node.elts) != 3:
            raise self._error(REASON_NOT_A_CONDITION, node)
        path_node, operator_node, value_node = node.elts
        if not all(isinstance(part, ast.Constant) for part in (path_node, operator_node)):
            raise self._error(REASON_NOT_A_CONDITION, node)
        path, operator = path_node.value, operator_node.value
        if _is_integer(path) and isinstance(value_node, ast.Constant) and type(value_node.value) is int:
            condition = (path, operator, value_node.value)
            if condition in CONSTANT_CONDITIONS:
                return condition
        if not (isinstance(path, str) and path and isinstance(operator, str) and operator):
            raise self._error(REASON_NOT_A_CONDITION, node)
        if operator.lower() in SUBDOMAIN_OPERATORS and isinstance(value_node, ast.List | ast.Tuple):
            return (path, operator, self._domain(value_node, depth + 1))
        return (path, operator, self._value(value_node))

    # ---------------------------------------------------------------- values
    def _value(self, node):
        if isinstance(node, ast.List | ast.Tuple):
            return [self._scalar(element) for element in node.elts]
        return self._scalar(node)

    def _scalar(self, node):
        value = self._expression(node, 0)
        if isinstance(value, _Moment):
            is_datetime = isinstance(value.value, dt.datetime)
            return value.value.strftime("%Y-%m-%d %H:%M:%S" if is_datetime else "%Y-%m-%d")
        if not isinstance(value, CONSTANT_TYPES):
            raise self._error(REASON_NOT_ALLOWED, node)  # a delta or a time alone is no value
        return value

    def _expression(self, node, depth):
        """The value of a whitelisted expression: a constant, a name's value, a _Moment, a delta or a time."""
        if depth > MAX_DEPTH:
            raise self._error(REASON_TOO_DEEP, node)
        if isinstance(node, ast.Constant) and type(node.value) in CONSTANT_TYPES:
            return node.value
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)
        ):
            return -node.operand.value
        name = _dotted_name(node)
        if name in NAMES:
            return getattr(self.names, NAMES[name])
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            return self._shift(node, depth)
        raise self._error(REASON_NOT_ALLOWED, node)

    def _shift(self, node, depth):
        """A _Moment plus or minus a relativedelta or timedelta."""
        left = self._expression(node.left, depth + 1)
        right = self._expression(node.right, depth + 1)
        if isinstance(node.op, ast.Add) and isinstance(left, relativedelta | dt.timedelta):
            left, right = right, left  # delta + moment
        if not (isinstance(left, _Moment) and isinstance(right, relativedelta | dt.timedelta)):
            raise self._error(REASON_NOT_ALLOWED, node)
        try:
            value = left.value + right if isinstance(node.op, ast.Add) else left.value - right
        except (ValueError, OverflowError, TypeError) as error:
            raise self._error(REASON_BAD_DATE, node) from error
        return _Moment(value, left.utc)

    def _call(self, node, depth):
        if any(keyword.arg is None for keyword in node.keywords):
            raise self._error(REASON_NOT_ALLOWED, node)  # **kwargs
        args = [self._expression(arg, depth + 1) for arg in node.args]
        kwargs = {keyword.arg: self._expression(keyword.value, depth + 1) for keyword in node.keywords}
        name = _dotted_name(node.func)
        try:
            if name in FUNCTIONS:
                return FUNCTIONS[name](self, *args, **kwargs)
            if isinstance(node.func, ast.Attribute) and node.func.attr in METHODS:
                receiver = self._expression(node.func.value, depth + 1)
                if isinstance(receiver, _Moment):
                    return METHODS[node.func.attr](self, receiver, *args, **kwargs)
        except (_BadArguments, TypeError) as error:  # TypeError: a wrong number of arguments
            raise self._error(REASON_NOT_ALLOWED, node) from error
        except (ValueError, OverflowError, IndexError) as error:  # IndexError: relativedelta(weekday=7)
            raise self._error(REASON_BAD_DATE, node) from error
        raise self._error(REASON_NOT_ALLOWED, node)

    # ---------------------------------------------------------------- the functions a filter may call
    def _context_today(self):
        return _Moment(self.now.replace(tzinfo=dt.timezone.utc).astimezone(self.tz).date(), utc=False)

    def _date_today(self):
        return _Moment(self.now.date(), utc=True)

    def _datetime_now(self):
        return _Moment(self.now, utc=True)

    def _date(self, *args, **kwargs):
        return _Moment(dt.date(**_integers(DATE_ARGUMENTS, args, kwargs, required=3)), utc=True)

    def _datetime(self, *args, **kwargs):
        return _Moment(dt.datetime(**_integers(DATETIME_ARGUMENTS, args, kwargs, required=3)), utc=True)

    def _time(self, *args, **kwargs):
        return dt.time(**_integers(TIME_ARGUMENTS, args, kwargs))

    def _combine(self, day, time):
        if not (isinstance(day, _Moment) and isinstance(time, dt.time)):
            raise _BadArguments
        return _Moment(dt.datetime.combine(day.value, time), day.utc)

    def _relativedelta(self, **kwargs):
        return relativedelta(**_integer_keywords(RELATIVEDELTA_ARGUMENTS, kwargs))

    def _timedelta(self, **kwargs):
        return dt.timedelta(**_integer_keywords(TIMEDELTA_ARGUMENTS, kwargs))

    def _time_strftime(self, date_format):
        return self._strftime(_Moment(self.now, utc=True), date_format)

    def _strftime(self, moment, date_format):
        if not isinstance(date_format, str) or len(date_format) > MAX_FORMAT_LENGTH:
            raise _BadArguments
        return moment.value.strftime(date_format)

    def _to_utc(self, moment):
        if not isinstance(moment.value, dt.datetime):
            raise _BadArguments  # as in the web client, a date has no to_utc()
        if moment.utc:
            return moment
        local = moment.value.replace(tzinfo=self.tz)
        return _Moment(local.astimezone(dt.timezone.utc).replace(tzinfo=None), utc=True)


class _BadArguments(Exception):
    """A whitelisted function called with arguments it does not take."""


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _integers(names, args, kwargs, required=0):
    """{name: int} of positional and keyword integer arguments, as a function of parameters ``names`` takes."""
    if len(args) > len(names) or not set(kwargs) <= set(names[len(args) :]):
        raise _BadArguments
    values = {**dict(zip(names, args, strict=False)), **kwargs}
    if len(values) < required or not all(_is_integer(value) for value in values.values()):
        raise _BadArguments
    return values


def _integer_keywords(allowed, kwargs):
    if not set(kwargs) <= allowed or not all(_is_integer(value) for value in kwargs.values()):
        raise _BadArguments
    return kwargs


FUNCTIONS = {
    "context_today": _Reader._context_today,
    "datetime.date.today": _Reader._date_today,
    "datetime.datetime.now": _Reader._datetime_now,
    "datetime.date": _Reader._date,
    "datetime.datetime": _Reader._datetime,
    "datetime.time": _Reader._time,
    "datetime.datetime.combine": _Reader._combine,
    "datetime.timedelta": _Reader._timedelta,
    "relativedelta": _Reader._relativedelta,
    "dateutil.relativedelta.relativedelta": _Reader._relativedelta,
    "time.strftime": _Reader._time_strftime,
}
METHODS = {
    "strftime": _Reader._strftime,
    "to_utc": _Reader._to_utc,
}
