"""The Flask program one module describes, computed lazily and shared by every rule.

It answers the questions most rules ask:

* which names are Flask apps and blueprints (constructed, returned by a factory, imported and
  used as one) — never guessed from the spelling ``app``;
* which functions are request hooks, views and teardowns (decorator and call forms, app and
  blueprint, class-based views), and which functions they reach through calls in this module,
  so a finding in a helper can name the route it runs under;
* which functions run outside any request (thread targets, executor jobs, Celery tasks);
* which module-level names hold instances of classes defined here.

Nothing here walks the whole tree. The text index points at the lines that can register an
entry point, construct an app or start a thread; only the scopes holding those lines, and the
functions the entry points reach, are scanned.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from ..astutil import dotted_name, keyword_value, string_value
from .guards import Guards
from .imports import ImportResolver
from .privilege import class_privilege_checked, is_privilege_check, registered_decorators
from ..scan import header_end, statements
from .scopes import FunctionInfo, FunctionNode, Scopes
from .text import SourceText, Words, words_pattern

APP_CLASSES = {
    "flask.Flask",
    "flask.app.Flask",
    "quart.Quart",
    "quart.app.Quart",
    "apiflask.APIFlask",
}
BLUEPRINT_CLASSES = {
    "flask.Blueprint",
    "flask.blueprints.Blueprint",
    "quart.Blueprint",
    "quart.blueprints.Blueprint",
    "flask_smorest.Blueprint",
    "apiflask.APIBlueprint",
    "flask_restx.Namespace",
    "flask_restplus.Namespace",
}
REST_API_CLASSES = {"flask_restful.Api", "flask_restx.Api", "flask_restplus.Api"}
VIEW_BASE_CLASSES = {
    "flask.views.MethodView",
    "flask.views.View",
    "quart.views.MethodView",
    "quart.views.View",
    "flask_restful.Resource",
    "flask_restx.Resource",
    "flask_restplus.Resource",
}
VIEW_BASE_SHORT_NAMES = {"MethodView", "Resource"}
OTHER_FRAMEWORKS = (
    "fastapi",
    "starlette",
    "sanic",
    "bottle",
    "falcon",
    "aiohttp",
    "tornado",
    "django",
    "litestar",
    "pyramid",
    "cherrypy",
    "robyn",
)
VIEW_METHODS = {
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "trace",
    "dispatch_request",
    "__init__",
}
ROUTE_METHODS = {"route", "endpoint"}
URL_ENTRY_KINDS = {"route", "view"}  # entry points a client calls by URL
SHORTCUT_ROUTE_METHODS = {"get", "post", "put", "patch", "delete"}
TEARDOWN_HOOKS = {"teardown_request", "teardown_app_request", "teardown_appcontext"}
CLEANUP_HOOKS = TEARDOWN_HOOKS | {"after_request", "after_app_request"}
REQUEST_HOOKS = TEARDOWN_HOOKS | {
    "before_request",
    "before_app_request",
    "after_request",
    "after_app_request",
    "errorhandler",
    "app_errorhandler",
    "context_processor",
    "app_context_processor",
    "url_value_preprocessor",
    "app_url_value_preprocessor",
    "url_defaults",
    "app_url_defaults",
}
# the decorators that register a route or a hook (``privilege.registered_decorators``)
REGISTERING_METHODS = ROUTE_METHODS | SHORTCUT_ROUTE_METHODS | REQUEST_HOOKS
# Methods only a Flask-like object has: seeing one on a name of unknown origin makes it an app.
FLASK_ONLY_METHODS = REQUEST_HOOKS | {"add_url_rule", "register_blueprint", "register_error_handler"}
THREAD_CLASSES = {"threading.Thread", "threading.Timer", "multiprocessing.Process"}
EXECUTOR_METHODS = {"submit", "map", "apply_async", "map_async", "starmap", "submit_stored"}
TASK_DECORATORS = {"task", "shared_task", "job", "periodic_task", "actor"}
# Flask's (and Quart's) per-request proxies, by every module path they are imported from.
REQUEST_GLOBALS = {
    f"{package}.{name}": name
    for package in ("flask", "flask.globals", "quart", "quart.globals")
    for name in ("request", "session", "g")
}

# Lines that can register something in call form (``app.add_url_rule(...)``,
# ``bp.teardown_request(f)``, ``app.route("/x")(view)``), or start a thread or a job.
REGISTRATION_CALL = Words(
    REQUEST_HOOKS | ROUTE_METHODS | {"add_url_rule", "register_error_handler", "add_resource"},
    r"\s*\(",
)
BACKGROUND_CALL = Words({"Thread", "Timer", "Process"} | EXECUTOR_METHODS, r"\s*\(")
DECORATOR_LINE = Words(["@"], whole=False)


@dataclass(frozen=True)
class EntryPoint:
    """A function Flask calls on every request (or at the end of every app context)."""

    function: FunctionNode
    kind: str  # "route", "view", "before_request", "teardown_appcontext", ...
    description: str  # "route '/users'", "teardown_request hook", "view UserAPI.get"
    registered_on: str | None  # the app or blueprint name it is registered on, when known


@dataclass(frozen=True)
class Reach:
    """How a function comes to run per request: its entry point and the call path."""

    entry: EntryPoint
    path: tuple[str, ...]  # function names from the entry point to this function

    def describe(self) -> str:
        if self.entry.kind == "called":  # reached from request-time code in another module
            return f"{self.entry.description} via `{'` -> `'.join(self.path)}`"
        if len(self.path) <= 1:
            return f"{self.entry.description} `{self.path[0]}`" if self.path else self.entry.description
        return f"{self.entry.description} `{self.path[0]}` via `{'` -> `'.join(self.path[1:])}`"


class PrivilegeElsewhere(Protocol):
    """What the project index says about privileged routes (``FileModel`` provides it)."""

    def open_reach(self) -> dict[str, str]:
        """Qualname -> how, for this module's functions open routes elsewhere run."""

    def guarded(self) -> frozenset[str]:
        """Blueprints a ``before_request`` hook anywhere guards with a privilege check."""


class FlaskModel:
    def __init__(
        self,
        tree: ast.Module,
        imports: ImportResolver,
        scopes: Scopes,
        source: SourceText,
        path: str,
        options,
    ):
        self.tree = tree
        self.imports = imports
        self.scopes = scopes
        self.source = source
        self.path = path
        self.options = options
        self.other_framework = imports.imports_any(*OTHER_FRAMEWORKS) and not imports.imports_any(
            "flask", "quart"
        )
        self._external: list[EntryPoint] = []
        self._privilege_elsewhere: PrivilegeElsewhere | None = None  # the project's answers
        # qualnames other modules' request-time code calls by name (the project index)
        self.called_from_elsewhere: set[str] = set()

    # -- definitions ---------------------------------------------------------------------------

    @cached_property
    def classes(self) -> dict[str, ast.ClassDef]:
        """Module-level classes by name (the first definition of a name wins)."""
        found: dict[str, ast.ClassDef] = {}
        for klass in self.scopes.classes_in(self.tree):
            found.setdefault(klass.name, klass)
        return found

    @cached_property
    def module_functions(self) -> dict[str, FunctionNode]:
        found: dict[str, FunctionNode] = {}
        for function in self.scopes.functions_in(self.tree):
            found.setdefault(function.name, function)
        return found

    @cached_property
    def methods(self) -> dict[str, dict[str, FunctionNode]]:
        found: dict[str, dict[str, FunctionNode]] = {}
        for name, klass in self.classes.items():
            methods = found.setdefault(name, {})
            for function in self.scopes.functions_in(klass):
                methods.setdefault(function.name, function)
        return found

    def outer_functions(self) -> list[FunctionNode]:
        """Module-level functions and the methods of module-level classes: the functions that
        are not made anew by each call of another function."""
        found = list(self.scopes.functions_in(self.tree))
        for klass in self.scopes.classes_in(self.tree):
            found.extend(self.scopes.functions_in(klass))
        return found

    def info(self, function: FunctionNode) -> FunctionInfo:
        return self.scopes.info(function)

    def nested(self, function: FunctionNode) -> dict[str, FunctionNode]:
        found: dict[str, FunctionNode] = {}
        for inner in self.scopes.functions_in(function):
            found.setdefault(inner.name, inner)
        return found

    # -- bindings: which names are apps ---------------------------------------------------------

    @cached_property
    def _bindings(self) -> tuple[set[str], set[str], set[str]]:
        """(app and blueprint names, names bound to another framework's objects, factories)."""
        apps: set[str] = set()
        others: set[str] = set()
        factories: set[str] = set()
        constructors = self._constructor_names()
        scopes: list[ast.AST] = [self.tree]
        if constructors:
            lines = self.source.lines_matching(words_pattern(constructors, r"\s*\("))
            scopes += [s for s in self.scopes.scopes_at(lines) if s is not self.tree]
        for scope in scopes:
            for node in _assignments(scope):
                kind = self._constructed_kind(node.value)
                if kind is None:
                    continue
                for target in _targets(node):
                    name = dotted_name(target)
                    if name is not None:
                        (apps if kind == "flask" else others).add(name)
        if apps:
            returned = words_pattern(["return"], r"[ \t]+(?:" + "|".join(map(re.escape, apps)) + r")[ \t]*(?:[\r\n#;]|$)")
            for scope in self.scopes.scopes_at(self.source.lines_matching(returned)):
                if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    isinstance(node, ast.Return)
                    and node.value is not None
                    and dotted_name(node.value) in apps
                    for node in statements(scope)
                ):
                    factories.add(scope.name)
        if factories:  # app = create_app() with the factory defined here
            lines = self.source.lines_matching(words_pattern(factories, r"\s*\("))
            for scope in self.scopes.scopes_at(lines):
                for node in _assignments(scope):
                    if isinstance(node.value, ast.Call) and dotted_name(node.value.func) in factories:
                        for target in node.targets:
                            if dotted_name(target):
                                apps.add(dotted_name(target))
        return apps, others, factories

    def _constructor_names(self) -> set[str]:
        """Names a call constructing an app, a blueprint or another framework's object uses."""
        names = {qualified.rsplit(".", 1)[-1] for qualified in APP_CLASSES | BLUEPRINT_CLASSES}
        for local, qualified in self.imports.names.items():
            if qualified in APP_CLASSES or qualified in BLUEPRINT_CLASSES:
                names.add(local)
            elif qualified.split(".")[0] in OTHER_FRAMEWORKS:
                names.add(local)
        names |= {name for name, klass in self.classes.items() if self._inherits_app_class(klass, set())}
        return names

    @property
    def app_names(self) -> set[str]:
        return self._bindings[0]

    @property
    def non_flask_names(self) -> set[str]:
        return self._bindings[1]

    @property
    def factories(self) -> set[str]:
        return self._bindings[2]

    @cached_property
    def module_level_names(self) -> set[str]:
        """Names the module binds at its top level (assignments, definitions, imports)."""
        names: set[str] = set()
        for statement in statements(self.tree):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(statement.name)
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
                for target in _targets(statement):
                    if isinstance(target, ast.Name):
                        names.add(target.id)
            elif isinstance(statement, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in statement.names)
        return names

    @cached_property
    def guards(self) -> Guards:
        """Once-guards: lines that run once per process (or one at a time), not per request."""
        return Guards(self)

    @cached_property
    def module_instances(self) -> dict[str, str]:
        """Module-level name -> the class defined here that it is an instance of."""
        found: dict[str, str] = {}
        for statement in self.tree.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                class_name = dotted_name(statement.value.func)
                if class_name in self.classes:
                    for target in statement.targets:
                        if isinstance(target, ast.Name):
                            found[target.id] = class_name
        return found

    def _constructed_kind(self, value: ast.expr | None) -> str | None:
        if not isinstance(value, ast.Call):
            return None
        qualified = self.imports.qualified_name(value.func)
        if qualified in APP_CLASSES or qualified in BLUEPRINT_CLASSES:
            return "flask"
        if qualified and qualified.split(".")[0] in OTHER_FRAMEWORKS:
            return "other"
        name = dotted_name(value.func)
        if name in self.classes and self._inherits_app_class(self.classes[name], set()):
            return "flask"
        return None

    def _inherits_app_class(self, klass: ast.ClassDef, seen: set[str]) -> bool:
        seen.add(klass.name)
        for base in klass.bases:
            qualified = self.imports.qualified_name(base)
            if qualified in APP_CLASSES or qualified in BLUEPRINT_CLASSES:
                return True
            name = dotted_name(base)
            if name in self.classes and name not in seen and self._inherits_app_class(self.classes[name], seen):
                return True
        return False

    def is_flask_object(self, node: ast.expr) -> bool:
        """Whether an expression is (most likely) a Flask/Quart app or blueprint."""
        name = dotted_name(node)
        if name is None:
            return False
        if name in self.app_names:
            return True
        if name in self.non_flask_names:
            return False
        qualified = self.imports.qualified_name(node)
        if qualified in ("flask.current_app", "quart.current_app"):
            return True
        if qualified and qualified.split(".")[0] in OTHER_FRAMEWORKS:
            return False
        return not self.other_framework  # origin unknown here: imported, a parameter, self.app

    def is_app_config(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "config" and self.is_flask_object(node.value)

    # -- registrations -------------------------------------------------------------------------

    @cached_property
    def _registrations(self) -> tuple[list[EntryPoint], dict[FunctionNode, str], dict[str, str]]:
        self._entries: list[tuple[tuple[int, int], EntryPoint]] = []
        self._background: dict[FunctionNode, str] = {}
        self._views: dict[str, str] = {}
        # class name -> the apps or blueprints it is registered on (None: not known)
        self._view_receivers: dict[str, set[str | None]] = {}
        self._lambdas: list[ast.Lambda] = []
        source = self.source
        decorator_lines = self.scopes.lines_by_scope(source.lines_matching(DECORATOR_LINE))
        for definition, lines in decorator_lines.items():
            if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for decorator in definition.decorator_list:
                    if decorator.lineno in lines:
                        self._visit_decorator(definition, decorator)
        lines = set(source.lines_matching(REGISTRATION_CALL)) | set(source.lines_matching(BACKGROUND_CALL))
        aliases = [local for local, qualified in self.imports.names.items() if qualified in THREAD_CLASSES]
        if aliases:  # ``from threading import Thread as Worker``
            lines |= set(source.lines_matching(words_pattern(aliases, r"\s*\(")))
        for scope, scope_lines in self.scopes.lines_by_scope(lines).items():
            written_in = scope
            if not isinstance(scope, ast.Module) and scope_lines[-1] <= scope.lineno:
                written_in = self.scopes.parent_scope(scope)  # in a decorator or a default
            for call in self.scopes.nodes_on_lines(scope, scope_lines):
                if type(call) is ast.Call:
                    self._visit_registration_call(call, written_in)
        for class_name, klass in self.classes.items():
            if class_name not in self._views and self._is_view_class(klass, set()):
                self._views[class_name] = f"view {class_name}"
        for class_name, description in self._views.items():
            # one blueprint for every registration, or none known (then it counts as open)
            receivers = self._view_receivers.get(class_name, {None})
            registered_on = next(iter(receivers)) if len(receivers) == 1 else None
            for method_name, method in self.all_methods(class_name).items():
                if method_name in VIEW_METHODS:
                    self._add_entry(
                        method, "view", f"{description}.{method_name}", registered_on, method
                    )
        self._entries.sort(key=lambda item: item[0])
        entries = [entry for _, entry in self._entries]
        return entries, self._background, self._views

    @property
    def entry_points(self) -> list[EntryPoint]:
        return self._registrations[0] + self._external

    @property
    def background(self) -> dict[FunctionNode, str]:
        return self._registrations[1]

    @property
    def view_classes(self) -> dict[str, str]:
        return self._registrations[2]

    @property
    def teardown_lambdas(self) -> list[ast.Lambda]:
        """``app.teardown_appcontext(lambda exc: Session.remove())``: lambdas registered as
        teardowns (the reach model follows functions, not lambdas)."""
        self._registrations  # noqa: B018 - the registrations find them
        return self._lambdas

    def _visit_decorator(self, node, decorator: ast.expr) -> None:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = decorator.func if call else decorator
        extra = self.options.request_decorators
        if extra and not isinstance(node, ast.ClassDef):
            name = dotted_name(target) or ""
            qualified = self.imports.qualified_name(target) or ""
            if {name, qualified, name.rsplit(".", 1)[-1]} & set(extra):
                self._add_entry(node, "route", f"@{name} handler", None, decorator)
        if isinstance(target, ast.Attribute):
            method = target.attr
            receiver = target.value
            if isinstance(node, ast.ClassDef):
                if method in ROUTE_METHODS and self.is_flask_object(receiver):
                    path = string_value(call.args[0]) if call and call.args else None
                    self._add_view(node.name, path, dotted_name(receiver))
                return
            if self._is_route_decorator(method, receiver, call):
                path = string_value(call.args[0]) if call and call.args else None
                description = f"route '{path}'" if path else "route"
                self._add_entry(node, "route", description, dotted_name(receiver), decorator)
            elif method in REQUEST_HOOKS and self.is_flask_object(receiver):
                self._add_entry(node, method, f"{method} hook", dotted_name(receiver), decorator)
            elif method in TASK_DECORATORS or (
                isinstance(target, ast.Name) and target.id in TASK_DECORATORS
            ):
                self._background.setdefault(node, f"task `{node.name}`")
        elif isinstance(target, ast.Name) and not isinstance(node, ast.ClassDef):
            qualified = self.imports.qualified_name(target) or target.id
            if qualified.rsplit(".", 1)[-1] in TASK_DECORATORS:
                self._background.setdefault(node, f"task `{node.name}`")

    def _is_route_decorator(self, method: str, receiver: ast.expr, call: ast.Call | None) -> bool:
        if method in ROUTE_METHODS:
            return call is not None and self.is_flask_object(receiver)
        if method in SHORTCUT_ROUTE_METHODS and call is not None and call.args:
            path = string_value(call.args[0])
            name = dotted_name(receiver)
            if name in self.app_names:
                return True
            return path is not None and path.startswith("/") and self.is_flask_object(receiver)
        return False

    def _visit_registration_call(self, call: ast.Call, scope: ast.AST) -> None:
        func = call.func
        if isinstance(func, ast.Call) and isinstance(func.func, ast.Attribute):
            # app.route("/x")(view) and app.errorhandler(500)(handler)
            method = func.func.attr
            if call.args and self.is_flask_object(func.func.value):
                if method in ROUTE_METHODS or method in REQUEST_HOOKS:
                    kind = "route" if method in ROUTE_METHODS else method
                    for function in self._functions_referenced(call.args[0], scope):
                        self._add_entry(function, kind, f"{kind} hook" if kind != "route" else "route",
                                        dotted_name(func.func.value), call)
            return
        if not isinstance(func, ast.Attribute):
            self._visit_background_call(call, scope)
            return
        method = func.attr
        receiver = func.value
        if (
            method.startswith("teardown_")
            and call.args
            and isinstance(call.args[-1], ast.Lambda)
            and self.is_flask_object(receiver)
        ):
            self._lambdas.append(call.args[-1])
        if method in REQUEST_HOOKS and call.args and self.is_flask_object(receiver):
            for function in self._functions_referenced(call.args[-1], scope):
                self._add_entry(function, method, f"{method} hook", dotted_name(receiver), call)
        elif method == "register_error_handler" and len(call.args) >= 2 and self.is_flask_object(receiver):
            for function in self._functions_referenced(call.args[1], scope):
                self._add_entry(function, "errorhandler", "errorhandler", dotted_name(receiver), call)
        elif method == "add_url_rule" and self.is_flask_object(receiver):
            view = keyword_value(call, "view_func")
            if view is None and len(call.args) >= 3:
                view = call.args[2]
            path = string_value(call.args[0]) if call.args else None
            if view is not None:
                self._register_view_reference(view, call, scope, path, dotted_name(receiver))
        elif method == "add_resource" and call.args:
            class_name = dotted_name(call.args[0])
            if class_name in self.classes:
                path = string_value(call.args[1]) if len(call.args) > 1 else None
                self._add_view(class_name, path, None)  # on a REST ``Api``, not a blueprint
        else:
            self._visit_background_call(call, scope)

    def _add_view(self, class_name: str, path: str | None, receiver: str | None) -> None:
        self._views[class_name] = f"view '{path}' {class_name}" if path else f"view {class_name}"
        self._view_receivers.setdefault(class_name, set()).add(receiver)

    def _register_view_reference(self, view: ast.expr, call: ast.Call, scope, path, receiver) -> None:
        if (
            isinstance(view, ast.Call)
            and isinstance(view.func, ast.Attribute)
            and view.func.attr == "as_view"
        ):
            class_name = dotted_name(view.func.value)
            if class_name in self.classes:
                self._add_view(class_name, path, receiver)
            return
        description = f"route '{path}'" if path else "route"
        for function in self._functions_referenced(view, scope):
            self._add_entry(function, "route", description, receiver, call)

    def _visit_background_call(self, call: ast.Call, scope: ast.AST) -> None:
        qualified = self.imports.qualified_name(call.func) or dotted_name(call.func) or ""
        short = qualified.rsplit(".", 1)[-1]
        target = None
        if qualified in THREAD_CLASSES or short in ("Thread", "Timer", "Process"):
            target = keyword_value(call, "target")
            if target is None and short == "Timer" and len(call.args) >= 2:
                target = call.args[1]
            reason = "thread target"
        elif isinstance(call.func, ast.Attribute) and short in EXECUTOR_METHODS and call.args:
            target = call.args[0]
            reason = "executor job"
        if target is None:
            return
        for function in self._functions_referenced(target, scope):
            self._background.setdefault(function, f"{reason} `{function.name}`")

    def _add_entry(self, function, kind: str, description: str, registered_on, site) -> None:
        position = (getattr(site, "lineno", 0), getattr(site, "col_offset", 0))
        self._entries.append((position, EntryPoint(function, kind, description, registered_on)))

    # -- resolving references to functions -----------------------------------------------------

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        """The function whose body holds ``node`` (its decorators and defaults included, as the
        scans count them); ``None`` for module and class level."""
        line = getattr(node, "lineno", None)
        if line is None:
            return None
        scope = self.scopes.scope_at(line)
        if scope is node:  # a ``def`` or ``class``: the scope it is written in
            scope = self.scopes.parent_scope(node)
        return scope if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    def executing_function(self, node: ast.AST) -> FunctionNode | None:
        """The function whose run evaluates ``node`` (``None``: module or class level, at import).

        Unlike ``enclosing_function``, the decorators and default values of a ``def`` belong to
        the function the ``def`` stands in: ``@event.listens_for(...)`` on a function nested in
        a view runs on every request, ``@app.after_request`` on a module-level one at import.
        A class body runs when the scope holding the ``class`` statement runs.
        """
        line = getattr(node, "lineno", None)
        if line is None:
            return None
        scope = self.scopes.scope_at(line)
        while not isinstance(scope, ast.Module):
            if isinstance(scope, ast.ClassDef) or _in_header(scope, node):
                scope = self.scopes.parent_scope(scope)
                continue
            return scope
        return None

    def _functions_referenced(self, expr: ast.expr, scope: ast.AST | None) -> list[FunctionNode]:
        """The function(s) defined here that an expression such as ``f`` or ``self.f`` names,
        where ``scope`` is the function (or module/class) the expression is written in."""
        if isinstance(expr, ast.Lambda):
            return []
        function = scope if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if isinstance(expr, ast.Name):
            found = self._lookup_name(expr.id, function)
            return [found] if found is not None else []
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Attribute):
            # ``tracker.registry.merge`` / ``self.registry.merge``: a method of the object an
            # attribute holds, when its class assigns it an instance of a class defined here
            holder = self._class_named_by(expr.value.value, function)
            held = self.attribute_classes(holder).get(expr.value.attr) if holder else None
            method = self.all_methods(held).get(expr.attr) if held else None
            return [method] if method is not None else []
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Call):
            class_name = dotted_name(expr.value.func)  # AuditTrail().record(entry)
            if class_name in self.classes:
                method = self.all_methods(class_name).get(expr.attr)
                return [method] if method is not None else []
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            owner = expr.value.id
            if owner in ("self", "cls") and function is not None:
                klass = self.info(function).klass or self._class_of_outer(function)
                if klass is not None:
                    method = self.all_methods(klass.name).get(expr.attr)
                    return [method] if method is not None else []
            class_name = None
            if function is not None:  # trail = AuditTrail(); trail.record(entry)
                class_name = self._local_instances(function).get(owner)
            if class_name is None:
                class_name = owner if owner in self.classes else self.module_instances.get(owner)
            if class_name:
                method = self.all_methods(class_name).get(expr.attr)
                return [method] if method is not None else []
        return []

    def _class_named_by(self, node: ast.expr, function: FunctionNode | None) -> str | None:
        """The class defined here that ``self``, a class name, a local or a module instance
        names."""
        if not isinstance(node, ast.Name):
            return None
        if node.id in ("self", "cls") and function is not None:
            klass = self.info(function).klass or self._class_of_outer(function)
            return klass.name if klass is not None else None
        if function is not None and node.id in self._local_instances(function):
            return self._local_instances(function)[node.id]
        if node.id in self.classes:
            return node.id
        return self.module_instances.get(node.id)

    def attribute_classes(self, class_name: str) -> dict[str, str]:
        """``self.x = Cls()`` in the methods of ``class_name`` (and its bases defined here):
        attribute -> the class defined here it holds an instance of."""
        cached = self._attribute_classes.get(class_name)
        if cached is not None:
            return cached
        found: dict[str, str] = {}
        for method in self.all_methods(class_name).values():
            for statement in statements(method):
                if not isinstance(statement, ast.Assign) or not isinstance(statement.value, ast.Call):
                    continue
                held = dotted_name(statement.value.func)
                if held not in self.classes:
                    continue
                for target in statement.targets:
                    if isinstance(target, ast.Attribute) and dotted_name(target.value) == "self":
                        found.setdefault(target.attr, held)
        self._attribute_classes[class_name] = found
        return found

    @cached_property
    def _attribute_classes(self) -> dict[str, dict[str, str]]:
        return {}

    def _local_instances(self, function: FunctionNode) -> dict[str, str]:
        """Local names a function binds to an instance of a class defined here."""
        found = self._instances_in.get(function)
        if found is None:
            found = {}
            if self.classes:
                for statement in statements(function):
                    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                        class_name = dotted_name(statement.value.func)
                        if class_name in self.classes:
                            for target in statement.targets:
                                if isinstance(target, ast.Name):
                                    found[target.id] = class_name
            self._instances_in[function] = found
        return found

    @cached_property
    def _instances_in(self) -> dict[FunctionNode, dict[str, str]]:
        return {}

    def _class_of_outer(self, function: FunctionNode) -> ast.ClassDef | None:
        info = self.info(function)
        while info.klass is None and info.parent is not None:
            info = self.info(info.parent)
        return info.klass

    def _lookup_name(self, name: str, function: FunctionNode | None) -> FunctionNode | None:
        while function is not None:
            nested = self.nested(function)
            if name in nested:
                return nested[name]
            function = self.info(function).parent
        return self.module_functions.get(name)

    def functions_called(self, expr: ast.expr, site: ast.AST) -> list[FunctionNode]:
        """The functions defined here that ``expr`` (``f``, ``self.f``, ``Cls.f``) names, with
        ``site`` a node of the function the expression is written in."""
        return self._functions_referenced(expr, self.enclosing_function(site))

    def request_global(self, node: ast.AST) -> str | None:
        """``request``/``session``/``g`` when ``node`` names Flask's or Quart's proxy."""
        if not isinstance(node, (ast.Name, ast.Attribute)):
            return None
        return REQUEST_GLOBALS.get(self.imports.qualified_name(node) or "")

    def all_methods(self, class_name: str, seen: set[str] | None = None) -> dict[str, FunctionNode]:
        """Methods of a class defined here, including those inherited from bases defined here."""
        seen = seen if seen is not None else set()
        if class_name in seen or class_name not in self.classes:
            return {}
        seen.add(class_name)
        result: dict[str, FunctionNode] = {}
        for base in reversed(self.classes[class_name].bases):
            base_name = dotted_name(base)
            if base_name:
                result.update(self.all_methods(base_name, seen))
        result.update(self.methods.get(class_name, {}))
        return result

    def _is_view_class(self, klass: ast.ClassDef, seen: set[str]) -> bool:
        seen.add(klass.name)
        for base in klass.bases:
            qualified = self.imports.qualified_name(base) or ""
            name = dotted_name(base) or ""
            if qualified in VIEW_BASE_CLASSES or name.rsplit(".", 1)[-1] in VIEW_BASE_SHORT_NAMES:
                return True
            if name in self.classes and name not in seen and self._is_view_class(self.classes[name], seen):
                return True
        return False

    # -- request-time reachability -------------------------------------------------------------

    @cached_property
    def request_time(self) -> dict[FunctionNode, Reach]:
        """Every function that runs per request, with the first entry point found to reach it."""
        return self.reach_from(self.entry_points)

    def reach_from(self, entries: Iterable[EntryPoint]) -> dict[FunctionNode, Reach]:
        """Every function that the given entry points run, with the first entry found to reach it."""
        reached: dict[FunctionNode, Reach] = {}
        queue: deque[FunctionNode] = deque()
        for entry in entries:
            if entry.function not in reached:
                reached[entry.function] = Reach(entry, (entry.function.name,))
                queue.append(entry.function)
        while queue:
            function = queue.popleft()
            reach = reached[function]
            for callee in self.callees(function):
                if callee not in reached:
                    reached[callee] = Reach(reach.entry, reach.path + (callee.name,))
                    queue.append(callee)
        return reached

    @cached_property
    def open_request_time(self) -> dict[FunctionNode, Reach]:
        """The request-time functions that entry points open to every user reach (not only
        admin-only ones, ``privilege.py``), with the first such entry point found."""
        local = [entry for entry in self._registrations[0] if not self.privileged(entry)]
        if self._privilege_elsewhere is None:
            return self.reach_from(local + self._external)
        # ``_external`` holds whatever other modules reach, admin routes included, and only
        # functions this module's own entry points do not reach: the open walk replaces it.
        openly = self._privilege_elsewhere.open_reach()
        external = [
            EntryPoint(function, "called", description, None)
            for qualname, description in openly.items()
            if (function := self.function_by_qualname(qualname)) is not None
        ]
        return self.reach_from(local + external)

    def use_privilege_elsewhere(self, elsewhere: PrivilegeElsewhere) -> None:
        """With the project index: ``elsewhere.open_reach()`` (qualname -> how, for this
        module's functions that open entry points in other modules reach) and
        ``elsewhere.guarded()`` (blueprints a ``before_request`` hook in any module guards with
        a privilege check), asked only when a rule needs the open reach."""
        self._privilege_elsewhere = elsewhere
        self.__dict__.pop("open_request_time", None)

    def open_request_reach(self, node: ast.AST) -> Reach | None:
        """``request_reach`` through entry points open to every user: ``None`` when only
        privileged routes (or no request at all) run ``node`` per request."""
        function = self.executing_function(node)
        if function is None or self.per_request(function, node) is None:
            return None  # not request-time, or behind a once-guard
        return self.open_request_time.get(function)

    def privileged(self, entry: EntryPoint) -> bool:
        """Whether only privileged users can call a route or view (``privilege.py``)."""
        if entry.kind not in URL_ENTRY_KINDS:
            return False
        function = entry.function
        decorators = registered_decorators(function, entry.registered_on, REGISTERING_METHODS)
        if any(is_privilege_check(decorator, self.imports) for decorator in decorators):
            return True
        if entry.registered_on is not None and entry.registered_on in self.privileged_blueprints:
            return True
        if entry.registered_on is not None and self._privilege_elsewhere is not None:
            if self.imports.qualify(entry.registered_on) in self._privilege_elsewhere.guarded():
                return True  # guarded by a hook in another module (an ``api/hooks.py``)
        klass = self.info(function).klass
        return klass is not None and class_privilege_checked(klass, self.imports)

    @cached_property
    def privileged_blueprints(self) -> set[str]:
        """Apps and blueprints (as named here) whose ``before_request`` hook here checks a
        privilege."""
        return {
            entry.registered_on
            for entry in self._registrations[0]
            if entry.kind == "before_request"
            and entry.registered_on is not None
            and any(
                is_privilege_check(d, self.imports)
                for d in registered_decorators(entry.function, entry.registered_on, REQUEST_HOOKS)
            )
        }

    def request_reach(self, node: ast.AST) -> Reach | None:
        """How the code that evaluates ``node`` runs per request; ``None`` if it does not
        (not in request-time code, or behind a once-guard there)."""
        function = self.executing_function(node)
        if function is None:
            return None
        return self.per_request(function, node)

    def per_request(self, function: FunctionNode, node: ast.AST) -> Reach | None:
        """The reach of ``node``, written in ``function``, when it runs on every request that
        runs the function: ``None`` outside request-time code and behind a once-guard."""
        reach = self.request_time.get(function)
        if reach is None or self.guards.guarded(function, getattr(node, "lineno", 0)):
            return None
        return reach

    def add_external_reach(self, reached: dict[str, str]) -> None:
        """Seed functions that request-time code in other modules calls (project analysis)."""
        if not reached:
            return
        reached_here = self.request_time  # what this module's own entry points reach comes first
        for qualname, description in reached.items():
            function = self.function_by_qualname(qualname)
            if function is not None and function not in reached_here:
                self._external.append(EntryPoint(function, "called", description, None))
        self.__dict__.pop("request_time", None)
        self.__dict__.pop("open_request_time", None)

    def function_by_qualname(self, qualname: str) -> FunctionNode | None:
        """``Cls.method`` or ``create_app.<locals>.index`` -> its node, scanning only that path."""
        scope: ast.AST = self.tree
        for part in qualname.split("."):
            if part == "<locals>":
                continue
            found = None
            for definition in self.scopes.definitions(scope):
                if definition.name == part:
                    found = definition
                    break
            if found is None:
                return None
            scope = found
        return scope if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    def imported_calls(self, function: FunctionNode) -> list[str]:
        """Qualified names of imported functions ``function`` calls or hands on (project analysis).

        A decorator from another module is named with a ``.<locals>`` suffix: its wrappers run
        (``.<locals>.<locals>`` for a decorator factory: the functions nested in what it returns).
        """
        found = []
        for decorator in function.decorator_list:
            factory = isinstance(decorator, ast.Call)
            target = decorator.func if factory else decorator
            qualified = self.imports.qualified_name(target)
            if qualified:  # a factory's wrappers are one level deeper
                found.append(f"{qualified}.<locals>.<locals>" if factory else f"{qualified}.<locals>")
        guards = self.guards
        for node in self._calls_on(function, self._imported_lines):
            if guards.guarded(function, node.lineno):
                continue  # behind a once-guard: runs once per process, not per call
            for candidate in [node.func] + list(node.args) + [k.value for k in node.keywords]:
                if isinstance(candidate, (ast.Name, ast.Attribute)):
                    qualified = self.imports.qualified_name(candidate)
                    if qualified:
                        found.append(qualified)
        return found

    def reachable_from(self, starts) -> set[FunctionNode]:
        """``starts`` and every function of this module they run (through ``callees``)."""
        seen: set[FunctionNode] = set()
        stack = list(starts)
        while stack:
            function = stack.pop()
            if function in seen:
                continue
            seen.add(function)
            stack.extend(self.callees(function))
        return seen

    def is_request_time(self, function: FunctionNode | None) -> bool:
        return function is not None and function in self.request_time

    def request_time_functions(self) -> Iterator[tuple[FunctionNode, Reach]]:
        return iter(self.request_time.items())

    @property
    def teardowns(self) -> list[EntryPoint]:
        return [entry for entry in self.entry_points if entry.kind in TEARDOWN_HOOKS]

    @property
    def cleanup_hooks(self) -> list[EntryPoint]:
        """Teardowns and ``after_request`` hooks: where a request's leftovers are released.
        (An ``after_request`` hook is skipped when the view raises: FLK205 says so.)"""
        return [entry for entry in self.entry_points if entry.kind in CLEANUP_HOOKS]

    def callees(self, function: FunctionNode) -> list[FunctionNode]:
        """Functions defined in this module that running ``function`` runs (or hands on to run)."""
        cached = self._callees.get(function)
        if cached is not None:
            return cached
        info = self.info(function)
        found: list[FunctionNode] = list(self.nested(function).values())
        for decorator in function.decorator_list:  # a decorator's wrapper runs on every call
            factory = isinstance(decorator, ast.Call)  # @audit("x"): the factory's decorator
            target = decorator.func if factory else decorator
            for decorator_function in self._functions_referenced(target, function):
                wrappers = list(self.nested(decorator_function).values())
                if factory:  # runs at import; the wrappers are the functions nested in it
                    wrappers = [w for inner in wrappers for w in self.nested(inner).values()]
                found.extend(wrappers)
        nested = self.nested(function)
        lines = self._callable_lines
        if nested:  # calls of its own nested functions
            lines = sorted(set(lines) | set(self.source.lines_matching(words_pattern(nested))))
        guards = self.guards
        for node in self._calls_on(function, lines):
            if guards.guarded(function, node.lineno):
                continue  # behind a once-guard: runs once per process, not per call
            found.extend(self._functions_referenced(node.func, function))
            name = dotted_name(node.func)
            if name in self.classes:
                init = self.all_methods(name).get("__init__")
                if init is not None:
                    found.append(init)
            if (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call)
                and dotted_name(node.func.value.func) == "super"
                and info.klass is not None
            ):
                for base in info.klass.bases:
                    base_name = dotted_name(base)
                    method = self.all_methods(base_name).get(node.func.attr) if base_name else None
                    if method is not None:
                        found.append(method)
            for argument in list(node.args) + [k.value for k in node.keywords]:
                if isinstance(argument, (ast.Name, ast.Attribute)):
                    found.extend(self._functions_referenced(argument, function))
        self._callees[function] = found
        return found

    @cached_property
    def _callees(self) -> dict[FunctionNode, list[FunctionNode]]:
        return {}

    @cached_property
    def _callable_lines(self) -> list[int]:
        """Lines naming something defined here that a call can run: a function, a class, a
        module-level instance, a method (``self.m()``, ``obj.m()``), or ``super()``."""
        words = set(self.module_functions) | set(self.classes) | set(self.module_instances)
        for methods in self.methods.values():
            words |= set(methods)
        words.add("super")
        return self.source.lines_matching(words_pattern(words))

    @cached_property
    def _imported_lines(self) -> list[int]:
        """Lines naming an imported name (the calls that may run code of another module)."""
        return self.source.lines_matching(words_pattern(self.imports.names))

    def _calls_on(self, function: FunctionNode, lines: list[int]) -> list[ast.Call]:
        """The calls ``function`` itself makes on the given lines (not its nested functions')."""
        first = bisect_right(lines, header_end(function))
        last = bisect_right(lines, function.end_lineno or function.lineno)
        if first >= last:
            return []
        nodes = self.scopes.nodes_on_lines(function, lines[first:last])
        return [node for node in nodes if type(node) is ast.Call]


def _assignments(scope: ast.AST) -> Iterator[ast.Assign | ast.AnnAssign]:
    for node in statements(scope):
        if isinstance(node, ast.Assign) or (isinstance(node, ast.AnnAssign) and node.value is not None):
            yield node


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _in_header(definition: ast.AST, node: ast.AST) -> bool:
    """Whether ``node`` is part of a ``def``'s decorators or default values."""
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    arguments = definition.args
    header = list(definition.decorator_list) + list(arguments.defaults)
    header += [d for d in arguments.kw_defaults if d is not None]
    start = (node.lineno, node.col_offset)
    end = (getattr(node, "end_lineno", node.lineno), getattr(node, "end_col_offset", node.col_offset))
    for part in header:
        if (part.lineno, part.col_offset) <= start and end <= (part.end_lineno, part.end_col_offset):
            return True
    return False
