"""What a statement can raise, and whether a ``try`` around it catches that.

FLK201 asks it of teardown functions: the first statement that can raise and is not inside a
``try`` whose handlers catch what it raises. A statement raises:

* anything (``*``) when it calls something that can fail (an unknown call, ``await``, ``raise``,
  ``import``, ``assert``) — but not a call that cannot fail in practice (logging, ``len``,
  ``getattr`` with a default, a mapping's ``pop``/``get`` with a default), nor a call of a
  project function that itself cannot raise past its own ``try`` (followed a few calls deep);
* ``LookupError`` for a subscript (covered by ``except KeyError`` or ``IndexError``: which one
  depends on the container), ``AttributeError`` for
  ``del obj.attr`` / ``delattr``; a deletion guarded by ``hasattr`` on the same attribute
  cannot raise; nor can ``slot.release()`` of a lock the request acquired and kept on ``g``
  (``acquisitions.py``).

A handler for ``Exception`` (or bare ``except:``) catches everything; ``except KeyError`` covers
a subscript, ``except AttributeError`` a deletion, and so on through the builtin hierarchy.
"""

from __future__ import annotations

import ast

from ..astutil import SCOPE_NODES, dotted_name
from .acquisitions import releases_acquired_slot

ANYTHING = "*"
CATCH_ALL = {"Exception", "BaseException"}
# What each builtin exception class catches, besides itself.
COVERS = {
    "LookupError": {"KeyError", "IndexError"},
    "OSError": {"IOError", "EnvironmentError"},
}
# Calls that do not raise in practice: logging swallows its own errors, these builtins cannot
# fail on ordinary objects, and ``g.pop(name, default)`` has a default.
SAFE_CALL_NAMES = {"print", "hasattr", "isinstance", "issubclass", "len", "id", "repr", "str", "bool", "callable"}
LOGGING_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
MAX_CALL_DEPTH = 3


class RaiseAnalysis:
    def __init__(self, model, loggers: frozenset[str] = frozenset(), assumed: set | None = None):
        self.model = model
        self.loggers = loggers
        self._safe_functions: dict[ast.AST, bool] = {}
        # With a set, a call of an imported function is assumed not to raise and its qualified
        # name recorded here, for the project index to check later (``raising_facts``).
        self.assumed = assumed

    # -- the first statement that can raise unprotected ----------------------------------------

    def first_unprotected(
        self, body: list[ast.stmt], caught: frozenset[str] = frozenset(), depth: int = 0
    ) -> ast.stmt | None:
        for statement in body:
            found = self._unprotected_in(statement, caught, depth)
            if found is not None:
                return found
        return None

    def _unprotected_in(self, statement: ast.stmt, caught: frozenset[str], depth: int) -> ast.stmt | None:
        if isinstance(statement, SCOPE_NODES):
            return None
        if isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
            inner = caught | _caught_by(statement.handlers)
            found = self.first_unprotected(statement.body, inner, depth)
            if found is not None:
                return found
            for handler in statement.handlers:
                found = self.first_unprotected(handler.body, caught, depth)
                if found is not None:
                    return found
            return self.first_unprotected(statement.orelse, caught, depth) or self.first_unprotected(
                statement.finalbody, caught, depth
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
            return statement if self._escapes(self.raises(statement, depth), caught) else None
        if isinstance(statement, ast.AsyncWith) or any(
            self._escapes(self.raises(header, depth), caught) for header in headers
        ):
            return statement
        if isinstance(statement, ast.If):
            guards = hasattr_guards(statement.test)
            body = [
                s for s in statement.body
                if not is_guarded_deletion(s, guards)
                and not releases_acquired_slot(self.model, s, statement.test)
            ]
            blocks = [body, statement.orelse]
        for block in blocks:
            found = self.first_unprotected(block, caught, depth)
            if found is not None:
                return found
        return None

    @staticmethod
    def _escapes(raised: set[str], caught: frozenset[str]) -> bool:
        if not raised:
            return False
        if caught & CATCH_ALL:
            return False
        if ANYTHING in raised:
            return True
        return any(not _covered(kind, caught) for kind in raised)

    # -- what an expression or statement can raise ---------------------------------------------

    def raises(self, node: ast.AST, depth: int = 0) -> set[str]:
        found: set[str] = set()
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.Call):
                if dotted_name(current.func) == "delattr":
                    found.add("AttributeError")  # and only that
                elif not self.call_is_safe(current, depth):
                    return {ANYTHING}
            elif isinstance(current, (ast.Await, ast.Raise, ast.Assert, ast.Import, ast.ImportFrom)):
                return {ANYTHING}
            elif isinstance(current, ast.Subscript):
                found.add("LookupError")
            elif isinstance(current, ast.Delete):
                for target in current.targets:
                    if isinstance(target, ast.Attribute):
                        found.add("AttributeError")
                    elif isinstance(target, ast.Subscript):
                        found.add("LookupError")
            if isinstance(current, SCOPE_NODES):
                continue
            stack.extend(ast.iter_child_nodes(current))
        return found

    def call_is_safe(self, call: ast.Call, depth: int = 0) -> bool:
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
        if isinstance(func, ast.Attribute):
            last = func.attr  # also on a call's result: ``store().pop(key, None)``
        if last in LOGGING_METHODS and ("log" in name.lower() or head in self.loggers):
            return True  # logger.info, app.logger.error, audit.exception (a module logger)
        if last == "getattr" and len(call.args) == 3:
            return True  # with a default, getattr does not raise on a missing name
        if (last == "pop" and len(call.args) == 2) or (last == "get" and len(call.args) in (1, 2)):
            return True  # g.pop(name, default), g.get(name): a mapping-style read with a default
        return self._calls_safe_function(call, depth)

    def _calls_safe_function(self, call: ast.Call, depth: int) -> bool:
        """A call of a project function whose own body cannot raise past its ``try``."""
        if depth >= MAX_CALL_DEPTH:
            return False
        called = self.model.flask.functions_called(call.func, call)
        if not called:
            return self._imported_function_cannot_raise(call)
        if len(called) != 1:
            return False
        function = called[0]
        if function not in self._safe_functions:
            self._safe_functions[function] = False  # recursion: assume it can raise
            unprotected = self.first_unprotected(function.body, frozenset(), depth + 1)
            self._safe_functions[function] = unprotected is None
        return self._safe_functions[function]


    def _imported_function_cannot_raise(self, call: ast.Call) -> bool:
        """A call of a function another project module defines (``from .store import get``):
        that module's ``raising`` facts say whether its body can raise."""
        qualified = self.model.imports.qualified_name(call.func)
        if not qualified or qualified == dotted_name(call.func):
            return False  # not imported: a builtin, an attribute of a local object
        if self.assumed is not None:
            self.assumed.add(qualified)
            return True
        project = self.model.project
        return bool(project is not None and project.cannot_raise(qualified))


def raising_facts(model) -> dict:
    """The module's functions that cannot raise past their own ``try``, each with the imported
    functions it calls, which must not raise either (the project index checks them): cached
    for calls from other modules' teardowns."""
    flask = model.flask
    safe: dict[str, list[str]] = {}  # qualname -> imported functions it calls that must not raise
    for function in model.scopes.all_functions():
        assumed: set[str] = set()
        analysis = RaiseAnalysis(model, assumed=assumed)
        if analysis.first_unprotected(function.body, frozenset(), 1) is None:
            safe[flask.info(function).qualname] = sorted(assumed)
    return {"cannot_raise": safe}


def _caught_by(handlers: list[ast.ExceptHandler]) -> frozenset[str]:
    names: set[str] = set()
    for handler in handlers:
        if handler.type is None:
            names.add("BaseException")
            continue
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for kind in types:
            name = (dotted_name(kind) or "").rsplit(".", 1)[-1]
            if name:
                names.add(name)
    return frozenset(names)


def _covered(kind: str, caught: frozenset[str]) -> bool:
    if kind in caught:
        return True
    if kind == "LookupError":  # a subscript: KeyError on a mapping, IndexError on a sequence
        return bool(caught & {"KeyError", "IndexError"})
    return any(kind in COVERS.get(name, ()) for name in caught)


def catches_everything(handler: ast.ExceptHandler) -> bool:
    return bool(_caught_by([handler]) & CATCH_ALL)


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
