"""Which values come from the request: the key question for anything keyed per value.

A cache, a dict or a set filled per request grows without bound only when its keys come from
request traffic (a URL segment, a query argument, a header, a body); keyed by configuration, a
constant, a plugin name or the current user, it is bounded by that source. The same question
decides whether a logger name or a metric label is one per request.

Request-derived ("tainted") values are ``request``/``session``/``g`` and what is computed from
them, and the parameters of a view (its URL segments). Taint flows through assignments, loop
targets and ``with ... as`` within a function, from a function to the parameters of the module's
functions it calls, and into nested functions' closures. The answer is computed on demand, for
the expression asked about: only the lines naming the names involved are looked at.

A value checked against a fixed table is no longer one per request (``validated.py``): a lookup
``TABLE[x]`` is not tainted whatever ``x`` is, and after ``x = TABLE[x]`` or ``if find(x) is
None: return`` the later lines of the function see a checked ``x``.

Two things are not traffic. What code only privileged routes run reads from the request, an
administrator chose (``privilege.py``): a handful of values picked by trusted people. And ``g``
handed whole to a function (``Match.user(g, action=...)``) is the request's namespace of
resources, not a value from it: what the function reads from it is not followed, as it is not
for a function that reads ``g`` itself; ``g.client_ip`` read here stays request data, and so does
``g`` given to a builtin (``getattr(g, name)``).
"""

from __future__ import annotations

import ast
import builtins

from .flask import URL_ENTRY_KINDS
from .scopes import FunctionNode
from .text import words_pattern
from .validated import Check, Validation

BUILTIN_NAMES = frozenset(dir(builtins))


class Taint:
    def __init__(self, model):
        self.model = model
        self.flask = model.flask
        self._names: dict[tuple[ast.AST, str, ast.AST | None], bool] = {}
        self._callers: dict[ast.AST, list[tuple[ast.AST, ast.Call]]] = {}
        self.validation = Validation(self.flask)

    def tainted(self, expr: ast.AST | None, function: ast.AST | None) -> bool:
        """Whether ``expr``, written in ``function``, can hold a request-derived value that
        users open to all choose."""
        if expr is None or not self._reads_request(expr, function):
            return False
        return not self._admin_only(function)  # asked last: it needs the open reach

    def _admin_only(self, function: ast.AST | None) -> bool:
        """Whether only privileged routes run ``function`` per request (``privilege.py``)."""
        flask = self.flask
        return function in flask.request_time and function not in flask.open_request_time

    def _reads_request(self, expr: ast.AST, function: ast.AST | None) -> bool:
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.Name, ast.Attribute)) and self.flask.request_global(node):
                return True
            if (
                isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Load)
                and function is not None
                and self.name_tainted(node.id, function, getattr(node, "lineno", None))
            ):
                return True
            if self.validation.is_table_lookup(node):
                stack.extend(_lookup_defaults(node))  # the value is one of the table's
                continue
            if isinstance(node, ast.Call):
                stack.append(node.func)
                arguments = list(node.args) + [keyword.value for keyword in node.keywords]
                for argument in arguments:
                    if not self._namespace_handed_on(argument, node, function):
                        stack.append(argument)
                continue
            stack.extend(ast.iter_child_nodes(node))
        return False

    def _namespace_handed_on(
        self, argument: ast.expr, call: ast.Call, function: ast.AST | None
    ) -> bool:
        """``g`` itself (Flask's, not a local of that name) passed to a function that is not a
        builtin."""
        if not isinstance(argument, (ast.Name, ast.Attribute)):
            return False
        if self.flask.request_global(argument) != "g":
            return False
        if isinstance(argument, ast.Name) and isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = argument.id
            if name in _parameters(function) or self._bound_values(name, function) is not None:
                return False  # ``for g in groups:``: a local that hides Flask's ``g``
        func = call.func
        builtin = isinstance(func, ast.Name) and func.id in BUILTIN_NAMES
        return not (builtin and func.id not in self.model.imports.names)

    def name_tainted(self, name: str, function: ast.AST, line: int | None = None) -> bool:
        """Whether ``name`` can hold a request-derived value in ``function`` (on ``line``,
        when given: a check of the name before that line narrows what it holds there)."""
        check = None
        if line is not None and isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            check = self.validation.check_before(function, name, line)
        key = (function, name, check.statement if check else None)
        if key not in self._names:
            self._names[key] = False  # a cycle (recursion, a loop) adds nothing
            self._names[key] = self._name_tainted(name, function, check)
        return self._names[key]

    def _name_tainted(self, name: str, function: ast.AST, check: Check | None = None) -> bool:
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False  # module or class level: fixed at import
        if check is not None:  # what the check leaves, and what later bindings add
            later = self._bound_values(name, function, after=check.statement.end_lineno or check.line)
            values = [check.value] if check.value is not None else []
            return any(self.tainted(value, function) for value in values + (later or []))
        if name in _parameters(function):
            return self._parameter_tainted(name, function)
        values = self._bound_values(name, function)
        if values is not None:
            return any(self.tainted(value, function) for value in values)
        parent = self.flask.info(function).parent
        if parent is not None:  # a closure: the enclosing function's name
            return self.name_tainted(name, parent)
        return False

    def _parameter_tainted(self, name: str, function: FunctionNode) -> bool:
        positional = [a.arg for a in function.args.posonlyargs + function.args.args]
        info = self.flask.info(function)
        is_method = info.klass is not None and not _decorated(function, "staticmethod")
        if is_method and positional and name == positional[0]:
            return False  # self / cls
        for entry in self.flask.entry_points:
            if entry.function is function and entry.kind in URL_ENTRY_KINDS:
                return True  # a URL segment
        # whatever reaches it here: an open route elsewhere may pass what an admin route here
        # does not
        if info.qualname in self.flask.called_from_elsewhere:
            project = self.model.project
            if project is None or project.parameter_tainted(self.model.path, info.qualname, name):
                return True  # another module's request-time code passes request data
        for caller, call in self.callers(function):
            argument = argument_for(call, function, name, is_method)
            if argument is not None and self.tainted(argument, caller):
                return True
        return False

    def _bound_values(self, name: str, function: FunctionNode, after: int = 0) -> list[ast.AST] | None:
        """What ``name`` is bound to in ``function`` (None: it is not bound there), from the
        statements on the lines that name it (after line ``after``, when given)."""
        values: list[ast.AST] = []
        bound = False
        end = function.end_lineno or function.lineno
        start = max(function.lineno, after)
        lines = [
            line for line in self.model.source.lines_matching(words_pattern([name]))
            if start < line <= end
        ]
        for node in self.model.scopes.nodes_on_lines(function, lines):
            if isinstance(node, ast.Global) and name in node.names:
                return None
            for target, value in _bindings(node):
                if any(
                    isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
                    for n in ast.walk(target)
                ):
                    bound = True
                    if value is not None:
                        values.append(value)
        return values if bound else None

    def callers(self, function: FunctionNode) -> list[tuple[ast.AST, ast.Call]]:
        """(scope, call) of the calls in this module that run ``function``."""
        found = self._callers.get(function)
        if found is None:
            found = []
            for scope, call in self.model.calls_to({function.name}):
                if function in self.flask._functions_referenced(call.func, scope):
                    found.append((scope, call))
            self._callers[function] = found
        return found


def _lookup_defaults(lookup: ast.AST) -> list[ast.AST]:
    """What a table lookup can return besides the table's values: ``get``'s default."""
    if isinstance(lookup, ast.Call) and not isinstance(lookup.func, ast.Name):
        return list(lookup.args[1:]) + [keyword.value for keyword in lookup.keywords]
    return []


def _parameters(function: FunctionNode) -> set[str]:
    arguments = function.args
    names = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
    names |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a}
    return names


def _decorated(function: FunctionNode, name: str) -> bool:
    return any(isinstance(d, ast.Name) and d.id == name for d in function.decorator_list)


def argument_for(call: ast.Call, function: FunctionNode, name: str, is_method: bool) -> ast.AST | None:
    """The expression a call passes for parameter ``name`` (the call itself for ``*args``)."""
    positional = [a.arg for a in function.args.posonlyargs + function.args.args]
    if is_method and isinstance(call.func, ast.Attribute) and positional:
        positional = positional[1:]
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
        if keyword.arg is None:
            return keyword.value  # **options: may carry it
    for index, argument in enumerate(call.args):
        if isinstance(argument, ast.Starred):
            return argument.value
        if index < len(positional) and positional[index] == name:
            return argument
    vararg = function.args.vararg
    if vararg is not None and vararg.arg == name:
        extra = call.args[len(positional):]
        return ast.Tuple(elts=list(extra), ctx=ast.Load()) if extra else None
    return None



def _bindings(node: ast.AST) -> list[tuple[ast.AST, ast.AST | None]]:
    """(target, value) pairs a node binds."""
    if isinstance(node, ast.Assign):
        return [(target, node.value) for target in node.targets]
    if isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
        return [(node.target, node.value)]
    if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        return [(node.target, node.iter)]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [(i.optional_vars, i.context_expr) for i in node.items if i.optional_vars]
    return []
