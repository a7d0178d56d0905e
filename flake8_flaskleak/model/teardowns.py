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
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

from ..astutil import FunctionNode, dotted_name, string_value, walk
from ..scan import scan, statements
from .flask import TEARDOWN_HOOKS
from .imports import ImportResolver
from .text import words_pattern


def module_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The module-level import statements (``if``/``try`` blocks included): what a module
    re-exports is what it imports at import time."""
    return scan(tree).of_any(ast.Import, ast.ImportFrom)

APP_PREFIX = "<app>"  # how FLK202 normalises ``app.x`` / ``current_app.x``
APP_REFERENCES = {"app", "current_app", "application", "self.app"}
RELEASE_METHODS = {"remove", "close"}  # close() empties the session and gives the connection back
THREAD_LOCAL_CLASSES = {"threading.local", "_threading_local.local"}
WERKZEUG_LOCAL_CLASSES = {"werkzeug.local.Local", "werkzeug.Local"}
EVERYTHING = "*"  # attributes written or cleared under a name not known here
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


def qualify(model, dotted: str | None, bindings: set[str] | None = None) -> str | None:
    """``db_session`` imported from ``.extensions`` -> ``pkg.extensions.db_session``; a name
    bound at module level -> ``pkg.mod.name``; None when it cannot be told (parameters, app)."""
    if not dotted or dotted.startswith(APP_PREFIX):
        return None
    head, _, rest = dotted.partition(".")
    target = model.imports.names.get(head)
    if target is None:
        module = model.module[0]
        if not module or head not in (bindings if bindings is not None else set()):
            return None
        target = f"{module}.{head}"
    if target.startswith("."):
        return None  # a relative import whose package is unknown
    return f"{target}.{rest}" if rest else target


def teardown_functions(flask) -> set[FunctionNode]:
    """Registered teardowns of this module and the module functions they call."""
    seen: set[FunctionNode] = set()
    stack = [entry.function for entry in flask.cleanup_hooks]
    while stack:
        function = stack.pop()
        if function in seen:
            continue
        seen.add(function)
        stack.extend(flask.callees(function))
    return seen


def teardown_lambdas(model) -> list[ast.Lambda]:
    """``app.teardown_appcontext(lambda exc: Session.remove())``: the model skips lambdas."""
    return model.flask.teardown_lambdas


def imported_runs(
    model, functions: Iterable[FunctionNode], lambdas: list[ast.Lambda]
) -> list[str]:
    """Qualified names of imported functions that this module's teardowns run: registered
    directly (``app.teardown_appcontext(shutdown_session)``) or called from a teardown."""
    flask = model.flask
    found: set[str] = set()
    for _, node in model.calls_to(TEARDOWN_HOOKS):
        if (
            isinstance(node.func, ast.Attribute)
            and node.args
            and flask.is_flask_object(node.func.value)
        ):
            qualified = model.imports.qualified_name(node.args[-1])
            if qualified:
                found.add(qualified)
    for function in functions:
        found.update(flask.imported_calls(function))
    for lambda_node in lambdas:
        for node in walk(lambda_node):
            if isinstance(node, ast.Call):
                qualified = model.imports.qualified_name(node.func)
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

    def functions_run(self, model, runs: Iterable[str]) -> list[FunctionNode]:
        """Functions of the checked module that another module's teardowns run."""
        module = model.module[0]
        if not module:
            return []
        flask = model.flask
        wanted = {self.resolve(name) or name for name in runs}
        prefix = module + "."
        local_names = {name[len(prefix):] for name in wanted if name.startswith(prefix)}
        if not local_names:
            return []
        found = []
        for name in local_names:
            function = flask.function_by_qualname(name)
            if function is not None:
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
    return ImportResolver(module_imports(tree), module, is_package).names


# -- what a teardown releases and clears ---------------------------------------------------

def normalise(name: str) -> str:
    """``current_app.db.session`` and ``app.db.session`` name the same object."""
    for prefix in sorted(APP_REFERENCES, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return "<app>" + name[len(prefix):]
    return name


def released_names(scope: ast.AST) -> set[str]:
    """Dotted names ``x`` with ``x.remove()`` (or ``close()``) in ``scope``, loops unrolled."""
    loops: dict[str, list[str]] = {}
    for node in walk(scope):
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and isinstance(
            node.target, ast.Name
        ):
            if isinstance(node.iter, (ast.Tuple, ast.List, ast.Set)):
                items = [dotted_name(item) for item in node.iter.elts]
                loops[node.target.id] = [item for item in items if item]
    found: set[str] = set()
    for node in walk(scope):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RELEASE_METHODS
        ):
            receiver = dotted_name(node.func.value)
            if receiver is None:
                continue
            for name in loops.get(receiver, [receiver]):
                found.add(normalise(name))
    return found


def clear_sites(
    scope: ast.AST, is_local_class_call: Callable[[ast.AST], bool]
) -> Iterator[tuple[ast.AST, str]]:
    """(object, attribute or EVERYTHING) for every delete or reset in ``scope``: ``del x.a``,
    ``x.a = None``, ``x.a.clear()``, ``x.__dict__.clear()``/``pop("a")``, ``delattr(x, "a")``,
    ``release_local(x)``; ``mod.x = threading.local()`` (object ``mod.x``) resets all of it."""
    for node in walk(scope):
        if isinstance(node, ast.Delete):
            for target in flatten_targets(node.targets):
                if isinstance(target, ast.Attribute):
                    yield target.value, target.attr
        elif isinstance(node, ast.Assign):
            for target in flatten_targets(node.targets):
                if isinstance(target, ast.Attribute):
                    if is_empty_value(node.value):
                        yield target.value, target.attr
                    elif is_local_class_call(node.value):
                        yield target, EVERYTHING
        elif isinstance(node, ast.Call):
            yield from _clearing_call(node)


def _clearing_call(call: ast.Call) -> Iterator[tuple[ast.AST, str]]:
    func = call.func
    name = dotted_name(func) or ""
    if name.rsplit(".", 1)[-1] == "release_local" and call.args:
        yield call.args[0], EVERYTHING
    elif name == "delattr" and len(call.args) == 2:
        yield call.args[0], string_value(call.args[1]) or EVERYTHING
    elif isinstance(func, ast.Attribute):
        container = func.value
        holder = dict_of(container)
        if holder is not None:
            if func.attr == "clear":
                yield holder, EVERYTHING
            elif func.attr == "pop" and call.args:
                yield holder, string_value(call.args[0]) or EVERYTHING
        elif func.attr == "clear" and isinstance(container, ast.Attribute):
            yield container.value, container.attr


def flatten_targets(targets: list[ast.expr]) -> Iterator[ast.expr]:
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            yield from flatten_targets(target.elts)
        else:
            yield target


def constant_key(subscript: ast.Subscript) -> str | None:
    return string_value(subscript.slice)


def dict_of(node: ast.AST) -> ast.AST | None:
    """``x`` for ``x.__dict__`` or ``vars(x)``."""
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return node.value
    if isinstance(node, ast.Call) and dotted_name(node.func) == "vars" and len(node.args) == 1:
        return node.args[0]
    return None


def is_empty_value(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None or not node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return not node.elts
    if isinstance(node, ast.Dict):
        return not node.keys
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        return dotted_name(node.func) in ("list", "dict", "set", "tuple")
    return False




def local_subclasses(model) -> dict[str, bool]:
    """Classes defined in the module that derive from ``threading.local`` (value: werkzeug's)."""
    found: dict[str, bool] = {}
    changed = True
    while changed:
        changed = False
        for name, klass in model.flask.classes.items():
            if name in found:
                continue
            for base in klass.bases:
                kind = local_kind(model, base, found)
                if kind is not None:
                    found[name] = kind
                    changed = True
                    break
    return found


def local_kind(model, func: ast.expr, subclasses: dict[str, bool]) -> bool | None:
    """None: not a thread-local class; False: threading.local; True: werkzeug Local."""
    qualified = model.imports.qualified_name(func)
    if qualified in THREAD_LOCAL_CLASSES:
        return False
    if qualified in WERKZEUG_LOCAL_CLASSES:
        return True
    return subclasses.get(dotted_name(func) or "")


def teardown_facts(model) -> dict | None:
    """What this module's registered teardowns (and what they call) release and clear, qualified
    where its imports tell, with the imported functions they run: the facts other modules match
    their scoped sessions (FLK202) and thread-locals (FLK203) against."""
    functions = teardown_functions(model.flask)
    lambdas = list(teardown_lambdas(model))
    if not functions and not lambdas:
        return None
    subclasses = local_subclasses(model)

    def is_local_class_call(node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and local_kind(model, node.func, subclasses) is not None

    removed: set[str] = set()
    cleared: set[tuple[str, str]] = set()
    for scope in [*functions, *lambdas]:
        removed |= released_names(scope)
        for owner, attribute in clear_sites(scope, is_local_class_call):
            written = dotted_name(owner)
            if written is not None and written not in ("self", "cls"):
                cleared.add((written, attribute))
    runs = imported_runs(model, functions, lambdas)
    if not removed and not cleared and not runs:
        return None
    bindings = module_bindings(model.tree)
    return {
        "removed": [[name, qualify(model, name, bindings)] for name in sorted(removed)],
        "cleared": [
            [written, qualify(model, written, bindings), attribute]
            for written, attribute in sorted(cleared)
        ],
        "runs": runs,
    }


# Flask-SQLAlchemy (and Flask-AppBuilder's subclass): the extension removes ``db.session`` in
# its own app-context teardown, so a scoped session handed to it as ``db.session`` is removed.
SESSION_EXTENSIONS = {
    "flask_sqlalchemy.SQLAlchemy", "flask_sqlalchemy.extension.SQLAlchemy",
    "flask_appbuilder.SQLA", "flask_appbuilder.models.sqla.SQLA",
}
SESSION_HANDOFF = ".session ="


def session_handoff_facts(model) -> dict | None:
    """``db = SQLAlchemy(); db.session = settings.Session``: the scoped session the extension
    now removes after every request (as ``removed`` teardown facts)."""
    if SESSION_HANDOFF not in model.text:
        return None
    extensions: set[str] = set()
    handed: set[str] = set()
    for scope in model.scopes_mentioning(words_pattern(["session"])):
        for statement in statements(scope):
            if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
                continue
            target, value = statement.targets[0], statement.value
            if isinstance(value, ast.Call) and model.imports.qualified_name(value.func) in SESSION_EXTENSIONS:
                extensions.update(dotted_name(t) for t in statement.targets if dotted_name(t))
            elif (
                isinstance(target, ast.Attribute)
                and target.attr == "session"
                and dotted_name(target.value) in extensions
                and dotted_name(value)
            ):
                handed.add(dotted_name(value))
    if not handed:
        return None
    bindings = module_bindings(model.tree)
    return {
        "removed": [[name, qualify(model, name, bindings)] for name in sorted(handed)],
        "cleared": [],
        "runs": [],
    }
