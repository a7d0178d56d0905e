"""Request values checked against a fixed table: after the check they take the table's values.

A URL segment is one per request until the code checks it against something fixed. Real views
do it in two ways, and after either the value can only be one of a known, small set:

    try:                                        # looked up: the name now holds the table's value
        namespace = NAMESPACES[namespace]
    except KeyError:
        abort(404)

    if resolve_class(class_name) is None:       # rejected unless a lookup finds it
        return frozenset()

A lookup is a subscript or ``.get()`` of a constant table (an upper-case name imported from
another module, or defined here by a non-empty literal), ``getattr(module, name, None)``, or a
function of this module that does one of these with its parameter and returns None when it
finds nothing. A check counts only where it runs before every later line of the function: a
statement of the function's own body, or one inside a top-level ``try`` whose handlers all
leave the function (``return``, ``raise``, ``abort(...)``). A regex or a length check proves
nothing about how many values there are, and does not count.
"""

from __future__ import annotations

import ast

from ..astutil import dotted_name
from .scopes import FunctionNode

TABLE_LITERALS = (ast.Dict, ast.Set, ast.List, ast.Tuple)
EXIT_STATEMENTS = (ast.Return, ast.Raise, ast.Continue, ast.Break)


class Check:
    """The statement after which ``name`` holds a checked value: a rebinding (``value`` is
    what it is rebound to) or a rejecting ``if`` (``value`` is None)."""

    __slots__ = ("statement", "value")

    def __init__(self, statement: ast.stmt, value: ast.expr | None):
        self.statement = statement
        self.value = value

    @property
    def line(self) -> int:
        return self.statement.lineno


class Validation:
    def __init__(self, flask):
        self.flask = flask
        self._lookups: dict[ast.AST, set[str]] = {}
        self._tables: dict[str, bool] = {}

    # -- constant tables -----------------------------------------------------------------------

    def is_table_lookup(self, node: ast.AST) -> bool:
        """``TABLE[x]``, ``TABLE.get(x)``, ``getattr(module, x, None)``: a value from a fixed
        set, whatever ``x`` is (a default passed to ``get`` is not part of the lookup)."""
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            return self.is_table(node.value)
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get" and len(node.args) in (1, 2):
            return self.is_table(func.value)
        if dotted_name(func) == "getattr" and len(node.args) == 3:
            return self._is_module(node.args[0])
        return False

    def is_table(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Name) or not node.id.lstrip("_").isupper():
            return False
        if node.id not in self._tables:
            self._tables[node.id] = self._constant_table(node.id)
        return self._tables[node.id]

    def _constant_table(self, name: str) -> bool:
        if self.flask.imports.is_imported(name):
            return True  # ``from .const import NAMESPACES``: a constant by its module's convention
        values = [
            statement.value
            for statement in self.flask.tree.body
            if isinstance(statement, (ast.Assign, ast.AnnAssign))
            and any(_is_name(target, name) for target in _targets(statement))
        ]
        # one non-empty literal, never rebound: a fixed table (an empty ``{}`` is a cache)
        return len(values) == 1 and isinstance(values[0], TABLE_LITERALS) and _entries(values[0])

    def _is_module(self, node: ast.expr) -> bool:
        head = dotted_name(node)
        if head is None or self.flask.request_global(node):
            return False  # ``getattr(request, name, None)`` reads the request
        qualified = self.flask.imports.qualified_name(node) or ""
        return qualified != head or self.flask.imports.is_imported(head.split(".")[0])

    # -- checks in a function ------------------------------------------------------------------

    def check_before(self, function: FunctionNode, name: str, line: int) -> Check | None:
        """The last check of ``name`` that runs before ``line`` on every path to it, if any:
        the statements before the line in each block that holds it."""
        found = None
        assigned: dict[str, ast.expr] = {}  # ``bridge = TABLE.get(key)`` before ``if bridge is None``
        block: list[ast.stmt] | None = function.body
        while block:
            inner = None
            for statement in block:
                if (statement.end_lineno or statement.lineno) < line:
                    found = self._check_in(statement, name, assigned) or found
                    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                        target = statement.targets[0]
                        if isinstance(target, ast.Name):
                            assigned[target.id] = statement.value
                elif statement.lineno <= line:
                    inner = _block_holding(statement, line)
                    break
                else:
                    break
            block = inner
        return found

    def _check_in(self, statement: ast.stmt, name: str, assigned: dict[str, ast.expr]) -> Check | None:
        if isinstance(statement, (ast.Assign, ast.AnnAssign)):
            if any(_is_name(target, name) for target in _targets(statement)):
                return Check(statement, statement.value)
        elif isinstance(statement, ast.If):
            return self._rejects_unknown(statement, name, assigned)
        elif isinstance(statement, ast.Try) and statement.handlers and all(
            _leaves(handler.body) for handler in statement.handlers
        ):
            found = None  # the body ran to its end: a lookup in it succeeded
            for inner in statement.body:
                found = self._check_in(inner, name, assigned) or found
            return found
        return None

    def _rejects_unknown(self, statement: ast.If, name: str, assigned: dict[str, ast.expr]) -> Check | None:
        """``if lookup(name) is None: return``, ``if not lookup(name): abort(404)``,
        ``if name not in TABLE: raise``: the rest of the block sees only known names. With
        ``if name != other and (other, name) not in TABLE:`` it sees ``other`` or a known name."""
        if not _leaves(statement.body) or statement.orelse:
            return None
        test = statement.test
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) and len(test.values) == 2:
            same, rejected = test.values
            if (
                isinstance(same, ast.Compare)
                and len(same.ops) == 1
                and isinstance(same.ops[0], ast.NotEq)
                and _is_name(same.left, name)
                and self._rejects(rejected, name, assigned)
            ):
                return Check(statement, same.comparators[0])
            return None
        return Check(statement, None) if self._rejects(test, name, assigned) else None

    def _rejects(self, test: ast.expr, name: str, assigned: dict[str, ast.expr]) -> bool:
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            operator, left, right = test.ops[0], test.left, test.comparators[0]
            if isinstance(operator, ast.NotIn):
                return _holds_name(left, name) and self.is_table(right)
            if isinstance(operator, ast.Is) and _is_none(right):
                return self._looks_up(left, name, assigned)
            return False
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self._looks_up(test.operand, name, assigned)
        return False

    def _looks_up(self, expr: ast.expr, name: str, assigned: dict[str, ast.expr]) -> bool:
        """``TABLE.get(name)``, ``getattr(module, name, None)`` or ``find(name)`` where ``find``
        is a lookup function of this module (or a name just bound to one of these)."""
        if isinstance(expr, ast.Name) and expr.id in assigned:
            expr = assigned[expr.id]
        if not isinstance(expr, ast.Call) or not expr.args:
            return False
        if self.is_table_lookup(expr):
            return _holds_name(_lookup_key(expr), name)
        if not _is_name(expr.args[0], name):
            return False
        called = self.flask.functions_called(expr.func, expr)
        return len(called) == 1 and _first_parameter(called[0]) in self.lookup_parameters(called[0])

    def lookup_parameters(self, function: FunctionNode) -> set[str]:
        """The parameters ``function`` looks up in a fixed table, when it returns None for a
        name it does not find."""
        found = self._lookups.get(function)
        if found is None:
            found = set()
            returns_none = False
            for node in ast.walk(function):
                if isinstance(node, ast.Return) and (node.value is None or _is_none(node.value)):
                    returns_none = True
                elif self.is_table_lookup(node):
                    key = _lookup_key(node)
                    if isinstance(key, ast.Name):
                        found.add(key.id)
            if not returns_none:
                found = set()
            self._lookups[function] = found
        return found


def _block_holding(statement: ast.stmt, line: int) -> list[ast.stmt] | None:
    """The block of ``statement`` whose lines hold ``line`` (None: its header does)."""
    blocks = [getattr(statement, field, None) for field in ("body", "orelse", "finalbody")]
    blocks += [handler.body for handler in getattr(statement, "handlers", None) or []]
    blocks += [case.body for case in getattr(statement, "cases", None) or []]
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return None  # another scope
    for block in blocks:
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            if block[0].lineno <= line <= (block[-1].end_lineno or block[-1].lineno):
                return block
    return None


def _lookup_key(lookup: ast.Subscript | ast.Call) -> ast.expr:
    if isinstance(lookup, ast.Subscript):
        return lookup.slice
    return lookup.args[1] if dotted_name(lookup.func) == "getattr" else lookup.args[0]


def _targets(statement: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return statement.targets if isinstance(statement, ast.Assign) else [statement.target]


def _entries(value: ast.expr) -> bool:
    return bool(value.keys if isinstance(value, ast.Dict) else value.elts)


def _leaves(body: list[ast.stmt]) -> bool:
    """Whether a block ends by leaving: ``return``, ``raise``, ``abort(...)``, ``sys.exit()``."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, EXIT_STATEMENTS):
        return True
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
        called = (dotted_name(last.value.func) or "").rsplit(".", 1)[-1]
        return called.startswith("abort") or called == "exit"
    return False


def _holds_name(key: ast.expr, name: str) -> bool:
    """``name`` or ``(other, name)``: a key made of the name."""
    members = key.elts if isinstance(key, ast.Tuple) else [key]
    return any(_is_name(member, name) for member in members)


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _first_parameter(function: FunctionNode) -> str | None:
    positional = function.args.posonlyargs + function.args.args
    return positional[0].arg if positional else None
