"""Code that runs once per application object, and processes that make more than one app.

Process-wide registries (SQLAlchemy's listeners on a class, the logging module's loggers, a
module-level blinker signal, ``atexit``) outlive any one app. What an app factory registers
there is registered again for every app the process creates. That is a leak in production
only where the production process makes several apps: the factory is called in a loop, at two
places at import (``DispatcherMiddleware(create_app(), {"/admin": create_app(...)})``). (A
factory called per request runs its registrations per request: the per-request rules report
those.) A factory called once per process (the usual case) repeats only under a test suite,
which is not what this tool reports. This module answers:

* which functions of a file an app factory runs: the factory (a function that constructs a
  Flask app and returns it, ``FlaskModel.factories``) and the functions of the module it runs
  (``FlaskModel.callees``: its helpers, ``ext.init_app`` of an extension instance defined
  here), less request-time code, background jobs and nested functions that are only
  registered (decorated); with the project index, functions of this module that a factory in
  another module calls (``configure_logging(app)`` in ``logs.py``, called by ``create_app``;
  each module tells the others what its factories call: ``setup_facts``);
* whether that factory runs more than once per process: its calls in the project's
  non-test modules (``factory_repetition``);
* whether a statement in set-up code is guarded so that it runs once anyway.
"""

from __future__ import annotations

import ast
import os
import weakref
from collections import deque
from dataclasses import dataclass

from ..astutil import FunctionNode, dotted_name, string_value, walk_local
from .flask import FlaskModel

# Attributes and calls whose presence in an ``if`` test makes it a "done already?" guard.
GUARD_ATTRIBUTES = frozenset({
    "handlers", "hasHandlers", "extensions", "receivers", "has_receivers_for", "contains",
})
GUARD_CALLS = frozenset({"hasattr", "getattr"})
CACHE_DECORATORS = frozenset({"functools.cache", "functools.lru_cache", "cache", "lru_cache"})
LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
         ast.GeneratorExp)
MAX_CALLER_HOPS = 4  # how far back through this module's callers another module is looked for


@dataclass(frozen=True)
class SetupReach:
    """How a function comes to run once per app: the factory and the call path."""

    factory: str  # the factory's qualified name: ``shop.create_app``
    root: str  # "app factory `create_app`", "app factory `create_app` in shop/__init__.py"
    path: tuple[str, ...]  # the functions from the factory to this one
    root_here: bool = True  # the factory is ``path[0]``; else it is elsewhere and calls it

    def describe(self) -> str:
        via = self.path[1:-1] if self.root_here else self.path[:-1]
        if self.root_here and len(self.path) <= 1:
            return self.root
        if not via:
            return f"`{self.path[-1]}` (run by {self.root})"
        return f"`{self.path[-1]}` (run by {self.root} via `{'` -> `'.join(via)}`)"


class SetupCode:
    """The per-app functions of one file (built lazily, one per ``FileModel``)."""

    def __init__(self, model):
        self.model = model
        self.flask: FlaskModel = model.flask
        self._elsewhere: dict[FunctionNode, SetupReach | None] = {}
        self.repetitions: dict[str, str | None] = {}  # without a project: factory -> why

    # -- this module ---------------------------------------------------------------------------

    def factories(self) -> list[FunctionNode]:
        flask = self.flask
        found = [flask.module_functions.get(name) for name in sorted(flask.factories)]
        return [function for function in found if function is not None]

    @property
    def local(self) -> dict[FunctionNode, SetupReach]:
        found = self.__dict__.get("_local")
        if found is None:
            module = self.model.module[0]
            starts = [
                (factory, SetupReach(f"{module}.{factory.name}" if module else factory.name,
                                     f"app factory `{factory.name}`", (factory.name,)))
                for factory in self.factories()
            ]
            found = self._reach(starts)
            self.__dict__["_local"] = found
        return found

    def _reach(self, starts: list[tuple[FunctionNode, SetupReach]]) -> dict:
        flask = self.flask
        skipped = set(flask.request_time) | set(flask.background)
        reached: dict[FunctionNode, SetupReach] = {}
        queue: deque[FunctionNode] = deque()
        for function, reach in starts:
            if function not in reached and function not in skipped:
                reached[function] = reach
                queue.append(function)
        while queue:
            function = queue.popleft()
            reach = reached[function]
            nested = set(flask.nested(function).values())
            for callee in flask.callees(function):
                if callee in reached or callee in skipped:
                    continue
                if callee in nested and callee.decorator_list:
                    continue  # a listener or hook it registers, not a function it runs
                reached[callee] = SetupReach(
                    reach.factory, reach.root, reach.path + (callee.name,), reach.root_here
                )
                queue.append(callee)
        return reached

    # -- any module ----------------------------------------------------------------------------

    def reach(self, function: FunctionNode) -> SetupReach | None:
        """How an app factory runs ``function``, or None when none does (as far as is known)."""
        found = self.local.get(function)
        if found is not None:
            return found
        if function not in self._elsewhere:
            self._elsewhere[function] = self._reach_from_elsewhere(function)
        return self._elsewhere[function]

    def _reach_from_elsewhere(self, function: FunctionNode) -> SetupReach | None:
        """A factory of another module calls ``function``, or a module function of this file
        that runs it (a few hops back through this module's calls)."""
        flask = self.flask
        if function in flask.request_time or function in flask.background:
            return None
        project = self.model.project
        if project is None or not self.model.module[0]:
            return None
        callers = self._callers()
        path: dict[FunctionNode, tuple[str, ...]] = {function: (function.name,)}
        frontier = [function]
        for _ in range(MAX_CALLER_HOPS):
            next_frontier = []
            for candidate in frontier:
                info = flask.info(candidate)
                if info.parent is None and info.klass is None:
                    found = _called_by_factory_elsewhere(project, self.model, candidate.name)
                    if found is not None:
                        factory, root = found
                        return SetupReach(factory, root, path[candidate], root_here=False)
                for caller in callers.get(candidate, ()):
                    if caller not in path:
                        path[caller] = (caller.name,) + path[candidate]
                        next_frontier.append(caller)
            frontier = next_frontier
            if not frontier:
                break
        return None

    def _callers(self) -> dict[FunctionNode, list[FunctionNode]]:
        found = self.__dict__.get("_caller_map")
        if found is None:
            found = {}
            for caller in self.flask.outer_functions():
                for callee in self.flask.callees(caller):
                    found.setdefault(callee, []).append(caller)
            self.__dict__["_caller_map"] = found
        return found

    # -- guards --------------------------------------------------------------------------------

    def guarded(self, function: FunctionNode, node: ast.AST) -> bool:
        """Whether ``node`` (in ``function``) runs only once however many apps are made: the
        function is cached, or an ``if`` around the node (or an ``if ...: return`` before it)
        asks whether the work is done already — a module-level or ``global`` flag, the
        logger's ``handlers``, ``app.extensions``, ``event.contains()``, ``hasattr``."""
        if any(_is_cache(self.model, decorator) for decorator in function.decorator_list):
            return True
        flags = self._flags(function)
        parents = self.model.parents(function)
        child, parent = node, parents.get(node)
        while parent is not None and parent is not function:
            if isinstance(parent, ast.If) and child in parent.body + parent.orelse:
                if _is_guard_test(parent.test, flags):
                    return True
            if isinstance(parent, ast.IfExp) and _is_guard_test(parent.test, flags):
                return True
            child, parent = parent, parents.get(parent)
        return self._returns_early(function, node, flags)

    def _flags(self, function: FunctionNode) -> set[str]:
        """Names an ``if`` can test to know the work is done: module-level names of this file
        and names the function declares ``global``/``nonlocal``."""
        names = set(_module_names(self.model.tree))
        for statement in walk_local(function):
            if isinstance(statement, (ast.Global, ast.Nonlocal)):
                names.update(statement.names)
        return names - self.flask.app_names

    def _returns_early(self, function: FunctionNode, node: ast.AST, flags: set[str]) -> bool:
        line = getattr(node, "lineno", 0)
        for statement in function.body:
            if statement.lineno >= line:
                return False
            if (
                isinstance(statement, ast.If)
                and statement.body
                and isinstance(statement.body[-1], (ast.Return, ast.Raise))
                and _is_guard_test(statement.test, flags)
            ):
                return True
        return False


def setup_code(model) -> SetupCode:
    """The one ``SetupCode`` of a file's model."""
    return model.shared("setup code", lambda: SetupCode(model))


def setup_facts(model) -> dict | None:
    """What one module tells the others: the imported functions its app factories run, each
    with the factory (``{"calls": {"shop.logs.configure_logging": "create_app"}}``)."""
    code = setup_code(model)
    calls: dict[str, str] = {}
    for function, reach in code.local.items():
        factory = reach.path[0]
        for qualified in code.flask.imported_calls(function):
            calls.setdefault(qualified, factory)
    return {"calls": calls} if calls else None


def _called_by_factory_elsewhere(project, model, name: str) -> tuple[str, str] | None:
    """(the factory's qualified name, how to name it) when a factory in another project
    module calls ``name`` of this module."""
    qualified = f"{model.module[0]}.{name}"
    here = project.relative(model.path)
    for relative in project.files_mentioning(name):
        if relative == here:
            continue
        facts = project.facts(relative, "setup") or {}
        calls = facts.get("calls")
        factory = calls.get(qualified) if isinstance(calls, dict) else None
        if not isinstance(factory, str):
            continue
        module = _module_of(project, relative)
        shown = relative.replace(os.sep, "/")
        return f"{module}.{factory}" if module else factory, f"app factory `{factory}` in {shown}"
    return None


def _module_of(project, relative: str) -> str | None:
    for module, path in project.module_paths.items():
        if path == relative:
            return module
    return None


# -- does a factory run more than once per process? ----------------------------------------------


_REPETITION: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # project -> answers


def factory_repetition(model, factory: str) -> str | None:
    """Why the factory ``pkg.create_app`` runs more than once in one production process, or
    None: it is called in a loop or comprehension, or at two places at import in one module (not under ``if __name__ == "__main__"``), in any non-test module of the
    project (or in this file alone, without the project index)."""
    project = model.project
    answers = _REPETITION.setdefault(project, {}) if project is not None else (
        setup_code(model).repetitions
    )
    if factory not in answers:
        answers[factory] = _repetition(model, project, factory)
    return answers[factory]


def _repetition(model, project, factory: str) -> str | None:
    name = factory.rsplit(".", 1)[-1]
    if project is None:
        return _repeated_in(model, factory, name, os.path.basename(model.path))
    here = project.relative(model.path)
    for relative in [here] + [r for r in project.files_mentioning(name) if r != here]:
        other = model if relative == here else project.file_model(relative)
        if other is None:
            continue
        why = _repeated_in(other, factory, name, relative.replace(os.sep, "/"))
        if why is not None:
            return why
    return None


def _repeated_in(model, factory: str, name: str, shown: str) -> str | None:
    module = model.module[0]
    defined_here = (f"{module}.{name}" if module else name) == factory
    calls = [
        call for _, call in model.calls_to({name} | _aliases(model, factory))
        if model.imports.qualified_name(call.func) == factory
        or (defined_here and dotted_name(call.func) == name)
    ]
    at_import = 0
    for call in calls:
        rendered = f"`{dotted_name(call.func)}()`"
        reach = model.flask.request_reach(call)
        if reach is not None:
            return f"{rendered} is called per request in {shown} ({reach.describe()})"
        loop, in_main = _enclosing_loop_or_main(model, call)
        if loop:
            return f"{rendered} is called in a loop in {shown}"
        if model.flask.executing_function(call) is None and not in_main:
            at_import += 1
    if at_import >= 2:
        return f"{rendered} is called {at_import} times at import in {shown}"
    return None


def _aliases(model, factory: str) -> set[str]:
    return {local for local, target in model.imports.names.items() if target == factory}


def _enclosing_loop_or_main(model, call: ast.Call) -> tuple[bool, bool]:
    """Whether a loop or comprehension of the call's own scope holds it, and whether an
    ``if __name__ == "__main__":`` does."""
    loop = in_main = False
    for child, parent in model.ancestors(call):
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            break
        if isinstance(parent, LOOPS):
            loop = True
        if isinstance(parent, ast.If) and _is_main_test(parent.test):
            in_main = True
    return loop, in_main


def _is_main_test(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and {dotted_name(test.left), *(dotted_name(c) for c in test.comparators)} >= {"__name__"}
        and "__main__" in {string_value(test.left), *(string_value(c) for c in test.comparators)}
    )


def _module_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _is_guard_test(test: ast.expr, flags: set[str]) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Name) and node.id in flags:
            return True
        if isinstance(node, ast.Attribute) and node.attr in GUARD_ATTRIBUTES:
            return True
        if isinstance(node, ast.Call) and dotted_name(node.func) in GUARD_CALLS:
            return True
    return False


def _is_cache(model, decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    qualified = model.imports.qualified_name(target) or dotted_name(target) or ""
    return qualified in CACHE_DECORATORS
