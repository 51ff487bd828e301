"""Our public routes never take a URL that a route of an Odoo addon serves.

The Odoo side is not a list typed by hand: every ``*.py`` of the Odoo tree this
database runs on (``addons/`` and ``odoo/addons/`` next to ``odoo.__file__``) is
parsed with ``ast`` and the rule strings of every ``@http.route(...)`` /
``@route(...)`` decorator are collected, whether or not the addon is installed
(a clash with an app someone installs later is still a clash). Our side is read
from our controllers' routing, as Odoo builds it.

Two werkzeug rules overlap when one URL matches both. Each rule yields witness
URLs (several sample values per converter, the rule's own converters deciding
which samples it accepts, with and without a trailing slash) that are matched
against the other side's map, in both directions. The maps are built like
Odoo's (``strict_slashes=False``, Odoo's converters from ``ir.http``), with no
method restriction: a GET-only and a POST-only route on one URL still clash for
whoever types or shares the link.
"""

import ast
import itertools
import logging
import re
from pathlib import Path

import werkzeug.routing
from werkzeug.exceptions import HTTPException

import odoo
from odoo import http
from odoo.tests import TransactionCase, tagged

_logger = logging.getLogger(__name__)

MODULE = "sms_marketing_custom"
SURVEY_SESSION = "addons/survey/controllers/survey_session_manage.py"

# Sample values per converter; a sample is only used where the rule itself accepts it.
SEGMENTS = ["4242", "abc", "a-1", "name-12", "AbC123", "x_y.z", "0", "-3", "1.5"]
SAMPLES = {
    "default": SEGMENTS,
    "string": SEGMENTS,
    "path": [*SEGMENTS, "a-1/b", "name-12/x/y", "abc/def/ghi", "4242/AbC123"],
    "int": ["0", "7", "4242", "-3"],
    "float": ["1.5", "-2.0", "0.0"],
    "uuid": ["12345678-1234-1234-1234-123456789abc"],
    "model": ["12", "name-12", "a-1"],
    "models": ["12", "1,2", "3,4,5"],
}
MAX_WITNESSES = 64  # combinations per rule beyond which samples are zipped instead of crossed
VARIABLE_RE = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>.*?)\))?:)?(?P<variable>[a-zA-Z_][a-zA-Z0-9_]*)>"
)


# ------------------------------------------------------------------ parsing the Odoo tree
def odoo_tree_files():
    """``*.py`` files of the Odoo tree ``odoo`` is imported from, ours excluded wherever it lies."""
    root = Path(odoo.__file__).resolve().parent.parent
    for folder in (root / "addons", root / "odoo" / "addons"):
        for path in sorted(folder.rglob("*.py")):
            if MODULE not in path.relative_to(folder).parts:
                yield root, path


class _Constants(ast.NodeVisitor):
    """String (and list of strings) constants assigned at module and class level of one file.

    Payment providers declare ``_return_url = "/payment/x/return"`` and route ``_return_url``.
    """

    def __init__(self):
        self.values = {}

    def visit_Module(self, node):
        self._assignments(node.body)
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        self._assignments(node.body)
        self.generic_visit(node)

    def _assignments(self, body):
        for statement in body:
            if isinstance(statement, ast.Assign):
                targets, value = statement.targets, statement.value
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                targets, value = [statement.target], statement.value
            else:
                continue
            resolved = evaluate(value, self.values)
            if resolved is not None:
                for target in targets:
                    if isinstance(target, ast.Name):
                        self.values[target.id] = resolved


def evaluate(node, constants):
    """The string or list of strings ``node`` stands for, or None when it is not static."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("cls", "self"):
        return constants.get(node.attr)
    if isinstance(node, ast.List | ast.Tuple):
        items = [evaluate(item, constants) for item in node.elts]
        if any(not isinstance(item, str) for item in items):
            return None
        return items
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = evaluate(node.left, constants), evaluate(node.right, constants)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        return None
    if isinstance(node, ast.JoinedStr):
        text = []
        for value in node.values:
            part = value.value if isinstance(value, ast.FormattedValue) else value
            part = evaluate(part, constants)
            if not isinstance(part, str):
                return None
            text.append(part)
        return "".join(text)
    return None


def route_decorators(tree):
    """``@route(...)`` calls decorating functions of ``tree`` (``http.route``, ``odoo.http.route``, ``route``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if not isinstance(decorator, ast.Call):
                    continue
                func = decorator.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name == "route":
                    yield decorator


def collect_odoo_routes():
    """(rules, report): ``rules`` is a list of (rule string, file); ``report`` counts what was read."""
    rules = []
    report = {"files": 0, "decorators": 0, "not_literal": 0, "resolved": 0, "unresolved": []}
    for root, path in odoo_tree_files():
        source = path.read_text(encoding="utf-8", errors="replace")
        if "route" not in source:
            continue
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError:
            continue  # not Python 3 (a few templates of scaffolding); Odoo cannot load it either
        report["files"] += 1
        constants = None
        for decorator in route_decorators(tree):
            arg = decorator.args[0] if decorator.args else None
            if arg is None:
                arg = next((keyword.value for keyword in decorator.keywords if keyword.arg == "route"), None)
            if arg is None:
                continue  # an override keeping its parent's routes
            report["decorators"] += 1
            items = arg.elts if isinstance(arg, ast.List | ast.Tuple) else [arg]
            for item in items:
                if isinstance(item, ast.Constant) and isinstance(item.value, str):
                    rules.append((item.value, str(path.relative_to(root))))
                    continue
                report["not_literal"] += 1
                if constants is None:
                    visitor = _Constants()
                    visitor.visit(tree)
                    constants = visitor.values
                value = evaluate(item, constants)
                values = [value] if isinstance(value, str) else value
                if not values:
                    report["unresolved"].append(f"{path.relative_to(root)}: {ast.unparse(item)}")
                    continue
                report["resolved"] += 1
                rules.extend((rule, str(path.relative_to(root))) for rule in values)
    return rules, report


# ------------------------------------------------------------------ matching
def matching_converters(converters):
    """Odoo's converters, matching only: no record is browsed and extra arguments (domains) are accepted."""

    def wrap(converter_class):
        class Converter(converter_class):
            def __init__(self, url_map, *args, **kwargs):
                try:
                    super().__init__(url_map, *args, **kwargs)
                except TypeError:  # base's model converter has no domain argument (website's has)
                    super().__init__(url_map, *args[:1])

            def to_python(self, value):
                return value

        Converter.__name__ = converter_class.__name__
        return Converter

    return {name: wrap(converter_class) for name, converter_class in converters.items()}


def build_map(rules, converters):
    """A werkzeug map of ``rules`` (endpoint: their index), configured like Odoo's; (map, adapter, broken)."""
    url_map = werkzeug.routing.Map(strict_slashes=False, converters=converters)
    broken = []
    for index, rule in enumerate(rules):
        try:
            url_map.add(werkzeug.routing.Rule(rule, endpoint=index))
        except (ValueError, LookupError, TypeError) as error:
            broken.append(f"{rule}: {error}")
    return url_map, url_map.bind("odoo.example.com"), broken


def match(adapter, url):
    """Index of a rule of ``adapter``'s map that serves ``url``, or None."""
    try:
        endpoint, _arguments = adapter.match(url)
        return endpoint
    except werkzeug.routing.RequestRedirect as redirect:  # "//" merged, "/x/" -> "/x": the same rule serves it
        new_path = redirect.new_url.split("odoo.example.com", 1)[-1].split("?", 1)[0]
        return match(adapter, new_path) if new_path != url else None
    except HTTPException:
        return None


def witnesses(rule, converters):
    """URLs that ``rule`` itself matches, made from sample values of its converters."""
    variables = list(VARIABLE_RE.finditer(rule))
    choices = []
    for variable in variables:
        converter = variable.group("converter") or "default"
        if converter == "any":
            samples = [arg.strip().strip("'\"") for arg in (variable.group("args") or "").split(",")]
        else:
            samples = SAMPLES.get(converter, SEGMENTS)
        choices.append(samples)
    combinations = list(itertools.islice(itertools.product(*choices), MAX_WITNESSES + 1))
    if len(combinations) > MAX_WITNESSES:
        longest = max(len(samples) for samples in choices)
        combinations = [tuple(samples[index % len(samples)] for samples in choices) for index in range(longest)]
    _url_map, own, _broken = build_map([rule], converters)
    urls = []
    for values in combinations:
        url, position = [], 0
        for variable, value in zip(variables, values, strict=True):
            url.append(rule[position : variable.start()])
            url.append(value)
            position = variable.end()
        url.append(rule[position:])
        url = "".join(url)
        for candidate in (url, url.rstrip("/") + "/", url.rstrip("/") or "/"):
            if candidate not in urls and match(own, candidate) is not None:
                urls.append(candidate)
    return urls


def our_routes():
    """Route strings of our controllers, from the routing Odoo builds for the module."""
    rules = []
    for url, endpoint in http._generate_routing_rules([MODULE], nodb_only=False):
        if endpoint.__module__.startswith(f"odoo.addons.{MODULE}.") and url not in rules:
            rules.append(url)
    return rules


def clashes(ours, theirs, converters):
    """(our rule, their rule, witness URL) for every URL found that both sides match."""
    their_rules = [rule for rule, _file in theirs]
    _map, their_adapter, _broken = build_map(their_rules, converters)
    _map, our_adapter, _broken = build_map(ours, converters)
    found = []
    for rule in ours:
        for url in witnesses(rule, converters):
            index = match(their_adapter, url)
            if index is not None:
                found.append((rule, theirs[index], url))
    for rule, file in theirs:
        for url in witnesses(rule, converters):
            our_index = match(our_adapter, url)
            if our_index is not None:
                found.append((ours[our_index], (rule, file), url))
    return found


@tagged("post_install", "-at_install")
class TestRouteCoexistence(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.converters = matching_converters(cls.env["ir.http"]._get_converters())
        cls.odoo_routes, cls.report = collect_odoo_routes()
        cls.ours = our_routes()

    def test_odoo_tree_parsed(self):
        report = self.report
        _logger.info(
            "route coexistence: %d Odoo route rules in %d files (%d decorators); "
            "%d not literal: %d resolved, %d unresolved %s",
            len(self.odoo_routes),
            report["files"],
            report["decorators"],
            report["not_literal"],
            report["resolved"],
            len(report["unresolved"]),
            report["unresolved"],
        )
        # an empty or partial parse must not pass for "no clash"
        self.assertGreater(len(self.odoo_routes), 1000)
        self.assertIn(("/s/<string:session_code>", SURVEY_SESSION), self.odoo_routes)
        self.assertIn(("/r/<string:code>", "addons/link_tracker/controller/main.py"), self.odoo_routes)
        self.assertLessEqual(len(report["unresolved"]), 5, report["unresolved"])
        _map, _adapter, broken = build_map([rule for rule, _file in self.odoo_routes], self.converters)
        self.assertFalse(broken, "Odoo rules werkzeug cannot compile with Odoo's converters")

    def test_our_routes_read(self):
        self.assertGreaterEqual(len(self.ours), 4, self.ours)
        self.assertTrue(all(rule.startswith("/") for rule in self.ours), self.ours)

    def test_detects_a_clash(self):
        """The check itself sees the clash that made the one-segment ``/s/<code>`` wrong."""
        found = clashes(["/s/<string:code>"], self.odoo_routes, self.converters)
        self.assertIn(SURVEY_SESSION, {theirs[1] for _ours, theirs, _url in found})
        found = clashes(["/r/<string:code>/<path:rest>"], self.odoo_routes, self.converters)
        self.assertIn("addons/mass_mailing_sms/controllers/main.py", {theirs[1] for _ours, theirs, _url in found})

    def test_no_clash_with_odoo(self):
        pairs = {}
        for ours, theirs, url in clashes(self.ours, self.odoo_routes, self.converters):
            pairs.setdefault((ours, *theirs), url)
        self.assertFalse(
            pairs,
            "routes of ours that serve a URL an Odoo addon serves:\n"
            + "\n".join(f"  {ours} vs {theirs} ({file}), e.g. {url}" for (ours, theirs, file), url in pairs.items()),
        )
