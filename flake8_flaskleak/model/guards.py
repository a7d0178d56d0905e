"""Evidence that code runs once (or one at a time), not once per request.

Real services start their background machinery lazily, from the first request that needs it,
behind a guard on long-lived state:

    if _worker is None or not _worker.is_alive():     # a singleton thread
    if cls._instance is None:                          # a singleton object
    if any(t.is_alive() for t in backup_threads):      # refuse while one runs
        return redirect(...)
    if _initialised: return                            # an in-progress / done flag
    if not lock.acquire(blocking=False): return        # one at a time

What such a guard protects runs once per process (or once at a time), however many requests
pass through: a thread, pool, listener or cache made there is not made per request. A guard on
a local variable (``if user is None:``) proves nothing and does not count.

The guarded lines of a function are found from its statements alone (no full scan), once per
function; a node is guarded when its line falls in one of them.
"""

from __future__ import annotations

import ast
from bisect import bisect_right

from ..astutil import dotted_name
from ..scan import statements

EXIT_STATEMENTS = (ast.Return, ast.Raise)
ONCE_DECORATORS = {"functools.cache", "functools.lru_cache", "functools.cached_property"}
GUARD_CALLS = {"is_alive", "locked", "acquire", "is_set", "done", "running"}


class Guards:
    def __init__(self, flask):
        self.flask = flask
        self._ranges: dict[ast.AST, tuple[list[int], list[int]]] = {}

    def guarded(self, function: ast.AST, line: int) -> bool:
        """Whether ``line`` of ``function`` only runs behind a once-guard (or the function
        itself runs once: a ``functools`` cache on a function without parameters)."""
        if self.runs_once(function):
            return True
        starts, ends = self._ranges_of(function)
        position = bisect_right(starts, line) - 1
        while position >= 0:
            if line <= ends[position]:
                return True
            position -= 1
        return False

    def _ranges_of(self, function: ast.AST) -> tuple[list[int], list[int]]:
        found = self._ranges.get(function)
        if found is None:
            ranges = []
            end = getattr(function, "end_lineno", None) or 0
            for statement in statements(function):
                if not isinstance(statement, ast.If) or not self.is_once_test(statement.test, function):
                    continue
                ranges.append((statement.body[0].lineno, statement.body[-1].end_lineno or 0))
                top_level = statement in getattr(function, "body", ())
                if top_level and isinstance(statement.body[-1], EXIT_STATEMENTS):
                    # ``if worker_running: return`` guards the rest of the function
                    ranges.append(((statement.end_lineno or statement.lineno) + 1, end))
            ranges.sort()
            found = ([start for start, _ in ranges], [stop for _, stop in ranges])
            self._ranges[function] = found
        return found

    def runs_once(self, function: ast.AST) -> bool:
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        arguments = function.args
        if arguments.args or arguments.posonlyargs or arguments.kwonlyargs:
            return False
        if arguments.vararg or arguments.kwarg:
            return False
        imports = self.flask.imports
        for decorator in function.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if imports.qualified_name(target) in ONCE_DECORATORS:
                return True
        return False

    def is_once_test(self, test: ast.expr, function: ast.AST) -> bool:
        """A test on state that outlives the request: a module global, a class attribute or
        the attribute of a module-level object; ``is None``, a flag, ``is_alive()``, a lock."""
        for node in ast.walk(test):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in GUARD_CALLS and self.long_lived(node.func.value, function):
                    return True
                if node.func.attr == "is_alive":  # any(t.is_alive() for t in threads)
                    return True
        parts = test.values if isinstance(test, ast.BoolOp) else [test]
        for part in parts:
            if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.Not):
                part = part.operand
            if isinstance(part, ast.Compare) and len(part.ops) == 1:
                if isinstance(part.ops[0], (ast.Is, ast.IsNot)) and _is_none(part.comparators[0]):
                    part = part.left
                else:
                    continue
            if isinstance(part, (ast.Name, ast.Attribute)) and self.long_lived(part, function):
                return True
        return False

    def long_lived(self, expr: ast.expr, function: ast.AST) -> bool:
        """A name or attribute chain rooted at something that outlives a request."""
        name = dotted_name(expr)
        if name is None:
            return False
        head = name.split(".")[0]
        if head in ("cls",) or head in self.flask.classes:
            return "." in name
        if head == "self":
            info = self.flask.info(function) if isinstance(
                function, (ast.FunctionDef, ast.AsyncFunctionDef)
            ) else None
            klass = info.klass if info is not None else None
            return klass is not None and klass.name in self.flask.module_instances.values()
        if head in _declared_global(function):
            return True
        return head in self.flask.module_level_names and head not in _local_names(function)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _declared_global(function: ast.AST) -> set[str]:
    names: set[str] = set()
    for statement in statements(function):
        if isinstance(statement, ast.Global):
            names.update(statement.names)
    return names


def _local_names(function: ast.AST) -> set[str]:
    """Names a function binds by plain assignment (statements only: enough for a guard)."""
    names: set[str] = set()
    if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = function.args
        names.update(a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs)
    for statement in statements(function):
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
    return names - _declared_global(function)
