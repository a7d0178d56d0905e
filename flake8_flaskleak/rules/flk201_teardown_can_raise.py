"""FLK201 teardown-can-raise: a teardown with a statement that can raise outside a catch-all try.

Flask runs teardown functions in reverse registration order; one that raises stops the rest
(``session.remove()``, ``request.close()``), and before Flask 0.11 the app context stayed on the
stack for good.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..astutil import SCOPE_NODES, FunctionNode, dotted_name, short_source
from ..finding import Finding, FixSafety
from ..model.imports import ImportResolver
from ..rule import Rule

CATCH_ALL = {"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"}
# Calls that do not raise in practice: logging swallows its own errors, these builtins cannot
# fail on ordinary objects, and ``g.pop(name, default)`` has a default.
SAFE_CALL_NAMES = {"print", "hasattr", "isinstance", "issubclass", "len", "id", "repr", "str", "bool", "callable"}
LOGGING_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}


def catches_everything(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(dotted_name(t) in CATCH_ALL for t in types)


def call_is_safe(call: ast.Call, loggers: frozenset[str] = frozenset()) -> bool:
    name = dotted_name(call.func) or ""
    if name in SAFE_CALL_NAMES:
        return True
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in LOGGING_METHODS
        and isinstance(func.value, ast.Call)
        and (dotted_name(func.value.func) or "").endswith("getLogger")
    ):
        return True  # logging.getLogger(__name__).exception(...)
    head, last = name.split(".", 1)[0], name.rsplit(".", 1)[-1]
    if last in LOGGING_METHODS and ("log" in name.lower() or head in loggers):
        return True  # logger.info, app.logger.error, audit.exception (a module logger)
    if last == "getattr" and len(call.args) == 3:
        return True  # with a default, getattr does not raise on a missing name
    if (last == "pop" and len(call.args) == 2) or (last == "get" and len(call.args) in (1, 2)):
        return True  # g.pop(name, default), g.get(name): a mapping-style read with a default
    return False


def expression_can_raise(node: ast.AST, loggers: frozenset[str] = frozenset()) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call) and not call_is_safe(current, loggers):
            return True
        if isinstance(current, (ast.Subscript, ast.Await, ast.Raise, ast.Assert)):
            return True
        if isinstance(current, (ast.Import, ast.ImportFrom)):
            return True
        if isinstance(current, ast.Delete) and any(
            isinstance(t, (ast.Attribute, ast.Subscript)) for t in current.targets
        ):
            return True
        if isinstance(current, SCOPE_NODES):
            continue
        stack.extend(ast.iter_child_nodes(current))
    return False


def first_unprotected(
    body: list[ast.stmt], loggers: frozenset[str] = frozenset()
) -> ast.stmt | None:
    """The first statement of a block that can raise and is not inside a catch-all ``try``."""
    for statement in body:
        found = _unprotected_in(statement, loggers)
        if found is not None:
            return found
    return None


def _unprotected_in(statement: ast.stmt, loggers: frozenset[str]) -> ast.stmt | None:
    if isinstance(statement, SCOPE_NODES):
        return None
    if isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
        if not any(catches_everything(handler) for handler in statement.handlers):
            found = first_unprotected(statement.body, loggers)
            if found is not None:
                return found
        for handler in statement.handlers:
            found = first_unprotected(handler.body, loggers)
            if found is not None:
                return found
        return first_unprotected(statement.orelse, loggers) or first_unprotected(
            statement.finalbody, loggers
        )
    headers: list[ast.AST] = []
    blocks: list[list[ast.stmt]] = []
    if isinstance(statement, (ast.If, ast.While)):
        headers, blocks = [statement.test], [statement.body, statement.orelse]
    elif isinstance(statement, (ast.For, ast.AsyncFor)):
        headers, blocks = [statement.iter], [statement.body, statement.orelse]
    elif isinstance(statement, (ast.With, ast.AsyncWith)):
        headers, blocks = list(statement.items), [statement.body]
    elif isinstance(statement, ast.Match):
        headers, blocks = [statement.subject], [case.body for case in statement.cases]
    else:
        return statement if expression_can_raise(statement, loggers) else None
    if isinstance(statement, ast.AsyncWith) or any(
        expression_can_raise(h, loggers) for h in headers
    ):
        return statement
    if isinstance(statement, ast.If):
        guards = hasattr_guards(statement.test)
        body = [s for s in statement.body if not is_guarded_deletion(s, guards)]
        blocks = [body, statement.orelse]
    for block in blocks:
        found = first_unprotected(block, loggers)
        if found is not None:
            return found
    return None


def hasattr_guards(test: ast.expr) -> set[tuple[str, str]]:
    """``(object, attribute)`` pairs an ``if hasattr(obj, "attr") [and ...]:`` test checks."""
    tests = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    guards = set()
    for part in tests:
        if (
            isinstance(part, ast.Call)
            and dotted_name(part.func) == "hasattr"
            and len(part.args) == 2
            and isinstance(part.args[1], ast.Constant)
            and isinstance(part.args[1].value, str)
            and dotted_name(part.args[0])
        ):
            guards.add((dotted_name(part.args[0]), part.args[1].value))
    return guards


def is_guarded_deletion(statement: ast.stmt, guards: set[tuple[str, str]]) -> bool:
    """``del obj.attr`` or ``delattr(obj, "attr")`` right under ``if hasattr(obj, "attr"):``."""
    if not guards:
        return False
    if isinstance(statement, ast.Delete):
        return all(
            isinstance(t, ast.Attribute) and (dotted_name(t.value), t.attr) in guards
            for t in statement.targets
        )
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        return (
            dotted_name(call.func) == "delattr"
            and len(call.args) == 2
            and isinstance(call.args[1], ast.Constant)
            and (dotted_name(call.args[0]), call.args[1].value) in guards
        )
    return False


def describe(statement: ast.stmt) -> str:
    """A short rendering of a statement; a compound statement by its header only."""
    if isinstance(statement, (ast.If, ast.While)):
        return f"{type(statement).__name__.lower()} {short_source(statement.test, 40)}:"
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return f"for ... in {short_source(statement.iter, 40)}:"
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return f"with {short_source(statement.items[0].context_expr, 40)}:"
    if isinstance(statement, ast.Match):
        return f"match {short_source(statement.subject, 40)}:"
    return short_source(statement, 50)


class TeardownCanRaise(Rule):
    code = "FLK201"
    name = "teardown-can-raise"
    summary = "teardown function can raise and skip the teardowns after it"
    triggers = ("teardown_",)
    request_time_only = True
    fix_safety = FixSafety.UNSAFE
    fix_reason = (
        "the `try` turns an exception the teardown raises into a logged error: a request that "
        "failed with 500 succeeds, and a failing check in a test teardown no longer fails"
    )

    def check(self) -> Iterator[Finding]:
        for function, statement in self.unprotected_teardowns():
            yield self.finding(
                statement,
                f"teardown `{function.name}` can raise at `{describe(statement)}` and skip the "
                "teardowns after it (session.remove(), context pop): wrap its body in "
                "try/except Exception that calls logger.exception",
            )

    def unprotected_teardowns(self) -> Iterator[tuple[FunctionNode, ast.stmt]]:
        """Each teardown function with its first statement that can raise unprotected."""
        loggers = frozenset(module_loggers(self.model.tree, self.model.imports))
        seen = set()
        for entry in self.model.flask.teardowns:
            function = entry.function
            if function in seen:
                continue
            seen.add(function)
            statement = first_unprotected(function.body, loggers)
            if statement is not None:
                yield function, statement

    def fix(self, context):
        """Wrap each reported teardown's body (after its docstring) in a logging try/except."""
        wanted = {(finding.line, finding.col) for finding in context.findings}
        functions = [
            function
            for function, statement in self.unprotected_teardowns()
            if (statement.lineno, statement.col_offset) in wanted
        ]
        if not functions:
            return None
        from ._flk201_fix import wrap_teardowns  # libcst is loaded only to fix

        return wrap_teardowns(context, functions, self.model)


def module_loggers(tree: ast.Module, imports: ImportResolver) -> list[str]:
    """Module-level names bound to ``logging.getLogger(...)``, in order."""
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        if isinstance(value, ast.Call) and imports.matches(value.func, "logging.getLogger"):
            names.extend(target.id for target in targets if isinstance(target, ast.Name))
    return names
