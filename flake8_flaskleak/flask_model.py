"""The Flask program one module describes, computed once per file and shared by every rule.

It answers the questions most rules ask:

* which names are Flask apps and blueprints (constructed, returned by a factory, imported and
  used as one) — never guessed from the spelling ``app``;
* which functions are request hooks, views and teardowns (decorator and call forms, app and
  blueprint, class-based views), and which functions they reach through calls in this module,
  so a finding in a helper can name the route it runs under;
* which functions run outside any request (thread targets, executor jobs, Celery tasks);
* which module-level names hold instances of classes defined here;
* the module's config classes and config writes (``configs.ConfigModel``).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from .astutil import (
    FunctionNode,
    dotted_name,
    keyword_value,
    string_value,
    walk_executed,
    walk_local,
    walk,
)
from .configs import ConfigModel
from .imports import ImportResolver
from .options import Options

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
SHORTCUT_ROUTE_METHODS = {"get", "post", "put", "patch", "delete"}
TEARDOWN_HOOKS = {"teardown_request", "teardown_app_request", "teardown_appcontext"}
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
# Methods only a Flask-like object has: seeing one on a name of unknown origin makes it an app.
FLASK_ONLY_METHODS = REQUEST_HOOKS | {"add_url_rule", "register_blueprint", "register_error_handler"}
# Strings request-time code is registered with: a file with none of them has no entry point.
REQUEST_SIGNALS = (
    "route(",
    "_request",
    "teardown_",
    "errorhandler",
    "processor",
    "url_defaults",
    "add_url_rule",
    "endpoint",
    "View",
    "Resource",
    '("/',
    "('/",
)
THREAD_CLASSES = {"threading.Thread", "threading.Timer", "multiprocessing.Process"}
EXECUTOR_METHODS = {"submit", "map", "apply_async", "map_async", "starmap", "submit_stored"}
TASK_DECORATORS = {"task", "shared_task", "job", "periodic_task", "actor"}
# Flask's (and Quart's) per-request proxies, by every module path they are imported from.
REQUEST_GLOBALS = {
    f"{package}.{name}": name
    for package in ("flask", "flask.globals", "quart", "quart.globals")
    for name in ("request", "session", "g")
}


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


@dataclass
class FunctionInfo:
    node: FunctionNode
    qualname: str
    klass: ast.ClassDef | None  # the class it is a method of, if any
    parent: FunctionNode | None  # the function it is nested in, if any
    nested: dict[str, FunctionNode] = field(default_factory=dict)


class FlaskModel:
    def __init__(self, tree: ast.Module, imports: ImportResolver, path: str, options: Options):
        self.tree = tree
        self.imports = imports
        self.path = path
        self.options = options
        self.other_framework = imports.imports_any(*OTHER_FRAMEWORKS) and not imports.imports_any(
            "flask", "quart"
        )
        self.functions: dict[FunctionNode, FunctionInfo] = {}
        self.module_functions: dict[str, FunctionNode] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        self.methods: dict[str, dict[str, FunctionNode]] = {}
        self._index_definitions()
        self.app_names: set[str] = set()  # names bound to an app or blueprint we can see made
        self.non_flask_names: set[str] = set()  # names bound to something else we can see made
        self.factories: set[str] = set()
        self.module_instances: dict[str, str] = {}  # module-level name -> class defined here
        self._index_bindings()
        self.entry_points: list[EntryPoint] = []
        self.background: dict[FunctionNode, str] = {}  # function -> why it runs outside requests
        self.view_classes: dict[str, str] = {}  # class name -> description
        self._find_registrations()

    # -- definitions ---------------------------------------------------------------------------

    def _index_definitions(self) -> None:
        def visit(body, klass, parent, prefix):
            for statement in body:
                for node in _definitions_in(statement):
                    if isinstance(node, ast.ClassDef):
                        if parent is None and klass is None:
                            self.classes.setdefault(node.name, node)
                        visit(node.body, node, None, f"{prefix}{node.name}.")
                    else:
                        info = FunctionInfo(node, prefix + node.name, klass, parent)
                        self.functions[node] = info
                        if parent is not None:
                            self.functions[parent].nested.setdefault(node.name, node)
                        elif klass is not None:
                            self.methods.setdefault(klass.name, {}).setdefault(node.name, node)
                        else:
                            self.module_functions.setdefault(node.name, node)
                        visit(node.body, None, node, f"{prefix}{node.name}.<locals>.")

        visit(self.tree.body, None, None, "")

    def _index_bindings(self) -> None:
        for node in walk(self.tree):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            kind = self._constructed_kind(node.value)
            for target in targets:
                name = dotted_name(target)
                if name is None:
                    continue
                if kind == "flask":
                    self.app_names.add(name)
                elif kind == "other":
                    self.non_flask_names.add(name)
        for function in self.functions:
            if any(
                isinstance(n, ast.Return) and n.value is not None and dotted_name(n.value) in self.app_names
                for n in walk_local(function)
            ):
                self.factories.add(function.name)
        for node in walk(self.tree):  # app = create_app() with the factory defined here
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if dotted_name(node.value.func) in self.factories:
                    for target in node.targets:
                        if dotted_name(target):
                            self.app_names.add(dotted_name(target))
        for statement in self.tree.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                class_name = dotted_name(statement.value.func)
                if class_name in self.classes:
                    for target in statement.targets:
                        if isinstance(target, ast.Name):
                            self.module_instances[target.id] = class_name

    def _constructed_kind(self, value: ast.expr) -> str | None:
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

    # -- what is an app ------------------------------------------------------------------------

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

    def _find_registrations(self) -> None:
        for node in walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for decorator in node.decorator_list:
                    self._visit_decorator(node, decorator)
            elif isinstance(node, ast.Call):
                self._visit_registration_call(node)
        for class_name, klass in self.classes.items():
            if class_name not in self.view_classes and self._is_view_class(klass, set()):
                self.view_classes[class_name] = f"view {class_name}"
        for class_name, description in self.view_classes.items():
            for method_name, method in self._all_methods(class_name).items():
                if method_name in VIEW_METHODS:
                    self._add_entry(method, "view", f"{description}.{method_name}", None)
        extra = set(self.options.request_decorators)
        if extra:
            for function in self.functions:
                for decorator in function.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    name = dotted_name(target) or ""
                    qualified = self.imports.qualified_name(target) or ""
                    if {name, qualified, name.rsplit(".", 1)[-1]} & extra:
                        self._add_entry(function, "route", f"@{name} handler", None)

    def _visit_decorator(self, node, decorator: ast.expr) -> None:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = decorator.func if call else decorator
        if isinstance(target, ast.Attribute):
            method = target.attr
            receiver = target.value
            if isinstance(node, ast.ClassDef):
                if method in ROUTE_METHODS and self.is_flask_object(receiver):
                    path = string_value(call.args[0]) if call and call.args else None
                    self.view_classes[node.name] = f"view '{path}' {node.name}" if path else f"view {node.name}"
                return
            if self._is_route_decorator(method, receiver, call):
                path = string_value(call.args[0]) if call and call.args else None
                description = f"route '{path}'" if path else "route"
                self._add_entry(node, "route", description, dotted_name(receiver))
            elif method in REQUEST_HOOKS and self.is_flask_object(receiver):
                self._add_entry(node, method, f"{method} hook", dotted_name(receiver))
            elif method in TASK_DECORATORS or (
                isinstance(target, ast.Name) and target.id in TASK_DECORATORS
            ):
                self.background.setdefault(node, f"task `{node.name}`")
        elif isinstance(target, ast.Name) and not isinstance(node, ast.ClassDef):
            qualified = self.imports.qualified_name(target) or target.id
            if qualified.rsplit(".", 1)[-1] in TASK_DECORATORS:
                self.background.setdefault(node, f"task `{node.name}`")

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

    def _visit_registration_call(self, call: ast.Call) -> None:
        func = call.func
        if isinstance(func, ast.Call) and isinstance(func.func, ast.Attribute):
            # app.route("/x")(view) and app.errorhandler(500)(handler)
            method = func.func.attr
            if call.args and self.is_flask_object(func.func.value):
                if method in ROUTE_METHODS or method in REQUEST_HOOKS:
                    kind = "route" if method in ROUTE_METHODS else method
                    for function in self._functions_referenced(call.args[0], call):
                        self._add_entry(function, kind, f"{kind} hook" if kind != "route" else "route",
                                        dotted_name(func.func.value))
            return
        if not isinstance(func, ast.Attribute):
            self._visit_background_call(call)
            return
        method = func.attr
        receiver = func.value
        if method in REQUEST_HOOKS and call.args and self.is_flask_object(receiver):
            for function in self._functions_referenced(call.args[-1], call):
                self._add_entry(function, method, f"{method} hook", dotted_name(receiver))
        elif method == "register_error_handler" and len(call.args) >= 2 and self.is_flask_object(receiver):
            for function in self._functions_referenced(call.args[1], call):
                self._add_entry(function, "errorhandler", "errorhandler", dotted_name(receiver))
        elif method == "add_url_rule" and self.is_flask_object(receiver):
            view = keyword_value(call, "view_func")
            if view is None and len(call.args) >= 3:
                view = call.args[2]
            path = string_value(call.args[0]) if call.args else None
            if view is not None:
                self._register_view_reference(view, call, path, dotted_name(receiver))
        elif method == "add_resource" and call.args:
            class_name = dotted_name(call.args[0])
            if class_name in self.classes:
                path = string_value(call.args[1]) if len(call.args) > 1 else None
                self.view_classes[class_name] = f"view '{path}' {class_name}" if path else f"view {class_name}"
        else:
            self._visit_background_call(call)

    def _register_view_reference(self, view: ast.expr, call: ast.Call, path, receiver) -> None:
        if (
            isinstance(view, ast.Call)
            and isinstance(view.func, ast.Attribute)
            and view.func.attr == "as_view"
        ):
            class_name = dotted_name(view.func.value)
            if class_name in self.classes:
                self.view_classes[class_name] = f"view '{path}' {class_name}" if path else f"view {class_name}"
            return
        description = f"route '{path}'" if path else "route"
        for function in self._functions_referenced(view, call):
            self._add_entry(function, "route", description, receiver)

    def _visit_background_call(self, call: ast.Call) -> None:
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
        for function in self._functions_referenced(target, call):
            self.background.setdefault(function, f"{reason} `{function.name}`")

    # -- resolving references to functions -----------------------------------------------------

    def enclosing_function(self, node: ast.AST) -> FunctionNode | None:
        return self._enclosing.get(node)

    @cached_property
    def _enclosing(self) -> dict[ast.AST, FunctionNode]:
        result: dict[ast.AST, FunctionNode] = {}
        for function in self.functions:
            for child in walk_local(function):
                result[child] = function
        return result

    def _functions_referenced(self, expr: ast.expr, site: ast.AST) -> list[FunctionNode]:
        """The function(s) defined here that an expression such as ``f`` or ``self.f`` names."""
        if isinstance(expr, ast.Lambda):
            return []
        scope = self.enclosing_function(site)
        if isinstance(expr, ast.Name):
            found = self._lookup_name(expr.id, scope)
            return [found] if found is not None else []
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            owner = expr.value.id
            if owner in ("self", "cls") and scope is not None:
                klass = self.functions[scope].klass or self._class_of_outer(scope)
                if klass is not None:
                    method = self._all_methods(klass.name).get(expr.attr)
                    return [method] if method is not None else []
            class_name = owner if owner in self.classes else self.module_instances.get(owner)
            if class_name:
                method = self._all_methods(class_name).get(expr.attr)
                return [method] if method is not None else []
        return []

    def _class_of_outer(self, function: FunctionNode) -> ast.ClassDef | None:
        info = self.functions.get(function)
        while info is not None and info.klass is None and info.parent is not None:
            info = self.functions.get(info.parent)
        return info.klass if info is not None else None

    def _lookup_name(self, name: str, scope: FunctionNode | None) -> FunctionNode | None:
        while scope is not None:
            info = self.functions[scope]
            if name in info.nested:
                return info.nested[name]
            scope = info.parent
        return self.module_functions.get(name)

    def functions_called(self, expr: ast.expr, site: ast.AST) -> list[FunctionNode]:
        """The functions defined here that ``expr`` (``f``, ``self.f``, ``Cls.f``) names."""
        return self._functions_referenced(expr, site)

    def request_global(self, node: ast.AST) -> str | None:
        """``request``/``session``/``g`` when ``node`` names Flask's or Quart's proxy."""
        if not isinstance(node, (ast.Name, ast.Attribute)):
            return None
        return REQUEST_GLOBALS.get(self.imports.qualified_name(node) or "")

    def all_methods(self, class_name: str) -> dict[str, FunctionNode]:
        """Methods of a class defined here, by name, including those of bases defined here."""
        return self._all_methods(class_name)

    def _all_methods(self, class_name: str, seen: set[str] | None = None) -> dict[str, FunctionNode]:
        """Methods of a class defined here, including those inherited from bases defined here."""
        seen = seen if seen is not None else set()
        if class_name in seen or class_name not in self.classes:
            return {}
        seen.add(class_name)
        result: dict[str, FunctionNode] = {}
        for base in reversed(self.classes[class_name].bases):
            base_name = dotted_name(base)
            if base_name:
                result.update(self._all_methods(base_name, seen))
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

    def _add_entry(self, function: FunctionNode, kind: str, description: str, registered_on) -> None:
        self.entry_points.append(EntryPoint(function, kind, description, registered_on))

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

    def executing_function(self, node: ast.AST) -> FunctionNode | None:
        """The function whose run evaluates ``node`` (``None``: module or class level, at import).

        Unlike ``enclosing_function``, the decorators and default values of a ``def`` belong to
        the function the ``def`` stands in: ``@event.listens_for(...)`` on a function nested in
        a view runs on every request, ``@app.after_request`` on a module-level one at import.
        """
        return self._executing.get(node)

    @cached_property
    def _executing(self) -> dict[ast.AST, FunctionNode]:
        result: dict[ast.AST, FunctionNode] = {}
        for function in self.functions:
            for child in walk_executed(function.body):
                result[child] = function
        return result

    def request_reach(self, node: ast.AST) -> Reach | None:
        """How the code that evaluates ``node`` runs per request; ``None`` if it does not."""
        function = self.executing_function(node)
        return self.request_time.get(function) if function is not None else None

    def add_external_reach(self, reached: dict[str, str]) -> None:
        """Seed functions that request-time code in other modules calls (project analysis)."""
        by_qualname = {info.qualname: node for node, info in self.functions.items()}
        reached_here = self.request_time  # what this module's own entry points reach comes first
        for qualname, description in reached.items():
            function = by_qualname.get(qualname)
            if function is not None and function not in reached_here:
                self.entry_points.append(EntryPoint(function, "called", description, None))
        self.__dict__.pop("request_time", None)

    def imported_calls(self, function: FunctionNode) -> list[str]:
        """Qualified names of imported functions ``function`` calls or hands on (project analysis).

        A decorator from another module is named with a ``.<locals>`` suffix: its wrappers run.
        """
        found = []
        for decorator in function.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            qualified = self.imports.qualified_name(target)
            if qualified:
                found.append(f"{qualified}.<locals>")
        for node in walk_local(function):
            if isinstance(node, ast.Call):
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
            if function in seen or function not in self.functions:
                continue
            seen.add(function)
            stack.extend(self.callees(function))
        return seen

    def is_request_time(self, function: FunctionNode | None) -> bool:
        return function is not None and function in self.request_time

    def request_time_functions(self) -> Iterator[tuple[FunctionNode, Reach]]:
        return iter(self.request_time.items())

    @cached_property
    def teardowns(self) -> list[EntryPoint]:
        return [entry for entry in self.entry_points if entry.kind in TEARDOWN_HOOKS]

    def callees(self, function: FunctionNode) -> list[FunctionNode]:
        """Functions defined in this module that running ``function`` runs (or hands on to run)."""
        info = self.functions[function]
        found: list[FunctionNode] = list(info.nested.values())
        for decorator in function.decorator_list:  # a decorator's wrapper runs on every call
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            for decorator_function in self._functions_referenced(target, function):
                found.extend(self.functions[decorator_function].nested.values())
        for node in walk_local(function):
            if not isinstance(node, ast.Call):
                continue
            found.extend(self._functions_referenced(node.func, node))
            name = dotted_name(node.func)
            if name in self.classes:
                init = self._all_methods(name).get("__init__")
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
                    method = self._all_methods(base_name).get(node.func.attr) if base_name else None
                    if method is not None:
                        found.append(method)
            for argument in list(node.args) + [k.value for k in node.keywords]:
                if isinstance(argument, (ast.Name, ast.Attribute)):
                    found.extend(self._functions_referenced(argument, node))
        return found

    @cached_property
    def configs(self) -> ConfigModel:
        return ConfigModel(self.tree, self.path, self.options, self.is_app_config)


def _definitions_in(statement: ast.stmt) -> Iterator[ast.AST]:
    """Function and class definitions in a statement, looking into if/try/with blocks."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement
        return
    for block_name in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(statement, block_name, []) or []:
            if isinstance(child, ast.ExceptHandler):
                for inner in child.body:
                    yield from _definitions_in(inner)
            elif isinstance(child, ast.stmt):
                yield from _definitions_in(child)
