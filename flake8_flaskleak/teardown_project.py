"""Teardowns across modules: what a module's registered teardowns run, by qualified name.

FLK202 and FLK203 ask the same question of the whole project: does a teardown registered
anywhere release this session / clear this thread-local? A module answers with facts about its
own teardowns (the dotted names they release, qualified where its imports tell; the imported
functions they run), and the module being checked matches those facts against what it defines,
following re-exports through the project's ``__init__`` modules (``from ckan import model`` then
``model.Session`` is ``ckan.model.meta.Session``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from functools import lru_cache

from .astutil import FunctionNode, walk
from .flask_model import TEARDOWN_HOOKS
from .imports import ImportResolver

APP_PREFIX = "<app>"  # how FLK202 normalises ``app.x`` / ``current_app.x``
MAX_REEXPORT_HOPS = 8


def module_bindings(tree: ast.Module) -> set[str]:
    """Names bound at module level (assignments, defs, classes), not imports."""
    names: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def qualify(analysis, dotted: str | None, bindings: set[str] | None = None) -> str | None:
    """``db_session`` imported from ``.extensions`` -> ``pkg.extensions.db_session``; a name
    bound at module level -> ``pkg.mod.name``; None when it cannot be told (parameters, app)."""
    if not dotted or dotted.startswith(APP_PREFIX):
        return None
    head, _, rest = dotted.partition(".")
    target = analysis.imports.names.get(head)
    if target is None:
        module = analysis.module[0]
        if not module or head not in (bindings if bindings is not None else set()):
            return None
        target = f"{module}.{head}"
    if target.startswith("."):
        return None  # a relative import whose package is unknown
    return f"{target}.{rest}" if rest else target


def teardown_functions(flask) -> set[FunctionNode]:
    """Registered teardowns of this module and the module functions they call."""
    seen: set[FunctionNode] = set()
    stack = [entry.function for entry in flask.teardowns]
    while stack:
        function = stack.pop()
        if function in seen or function not in flask.functions:
            continue
        seen.add(function)
        stack.extend(flask.callees(function))
    return seen


def teardown_lambdas(analysis) -> Iterator[ast.Lambda]:
    """``app.teardown_appcontext(lambda exc: Session.remove())``: the model skips lambdas."""
    for node in walk(analysis.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr.startswith("teardown_")
            and node.args
            and isinstance(node.args[-1], ast.Lambda)
            and analysis.flask.is_flask_object(node.func.value)
        ):
            yield node.args[-1]


def imported_runs(
    analysis, functions: Iterable[FunctionNode], lambdas: list[ast.Lambda]
) -> list[str]:
    """Qualified names of imported functions that this module's teardowns run: registered
    directly (``app.teardown_appcontext(shutdown_session)``) or called from a teardown."""
    flask = analysis.flask
    found: set[str] = set()
    for node in walk(analysis.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in TEARDOWN_HOOKS
            and node.args
            and flask.is_flask_object(node.func.value)
        ):
            qualified = analysis.imports.qualified_name(node.args[-1])
            if qualified:
                found.add(qualified)
    for function in functions:
        found.update(flask.imported_calls(function))
    for lambda_node in lambdas:
        for node in walk(lambda_node):
            if isinstance(node, ast.Call):
                qualified = analysis.imports.qualified_name(node.func)
                if qualified:
                    found.add(qualified)
    return sorted(name for name in found if not name.startswith("."))


class ProjectNames:
    """Resolves qualified names against the project's own modules (re-exports followed)."""

    def __init__(self, project):
        self.project = project

    def resolve(self, qualified: str | None) -> str | None:
        """Where ``qualified`` is defined, following re-exports (``from .meta import Session``
        in a package ``__init__``); None when it names nothing in the project's own modules.
        A re-export of something outside the project answers that outside name."""
        if not qualified:
            return None
        step = self._step(qualified)
        if step is None:
            return None
        for _ in range(MAX_REEXPORT_HOPS):
            found, followed = step
            if followed is None:
                return found
            step = self._step(followed)
            if step is None:
                return followed  # re-exported from outside the project
        return step[0]

    def _step(self, qualified: str) -> tuple[str, str | None] | None:
        """(qualified as found in a project module, the import it re-exports or None)."""
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            source = self.project.module_source(module)
            if source is None:
                continue
            relative, text = source
            names = _imported_names(module, relative.endswith("__init__.py"), text)
            target = names.get(parts[cut])
            if target is None or target.startswith(".") or target == ".".join(parts[: cut + 1]):
                return qualified, None
            return qualified, ".".join([target, *parts[cut + 1:]])
        return None

    def functions_run(self, analysis, runs: Iterable[str]) -> list[FunctionNode]:
        """Functions of the checked module that another module's teardowns run."""
        module = analysis.module[0]
        if not module:
            return []
        flask = analysis.flask
        wanted = {self.resolve(name) or name for name in runs}
        prefix = module + "."
        local_names = {name[len(prefix):] for name in wanted if name.startswith(prefix)}
        if not local_names:
            return []
        found = []
        for function, info in flask.functions.items():
            if info.qualname in local_names:
                found.append(function)
        for instance, class_name in flask.module_instances.items():
            for name in local_names:
                head, _, method = name.partition(".")
                if head == instance and method:
                    target = flask.all_methods(class_name).get(method)
                    if target is not None:
                        found.append(target)
        return found


@lru_cache(maxsize=512)
def _imported_names(module: str, is_package: bool, text: str) -> dict[str, str]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    return ImportResolver(tree, module, is_package).names
