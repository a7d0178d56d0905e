"""FLK306 listener-per-request: listeners, receivers, exit hooks and Flask hooks added per request.

Each registration appends to a process-wide list (an SQLAlchemy dispatch collection, a blinker
signal's receivers, ``atexit``'s list, Flask's ``before_request_funcs``...) that nothing empties.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from ..astutil import (
    FunctionNode,
    dotted_name,
    keyword_value,
    short_source,
    walk_executed,
    walk,
)
from ..finding import Finding
from ..model.flask import Reach
from ..model.text import words_pattern
from ..rule import Rule
from ..scan import scan

SQLALCHEMY_LISTEN = {"sqlalchemy.event.listen", "sqlalchemy.event.api.listen"}
SQLALCHEMY_LISTENS_FOR = {"sqlalchemy.event.listens_for", "sqlalchemy.event.api.listens_for"}
ATEXIT_REGISTER = {"atexit.register"}
CURRENT_APP = {"flask.current_app", "flask.globals.current_app", "quart.current_app"}
# Hooks that append to one of the app's lists on each registration (error handlers and
# blueprints are keyed, so registering again replaces or refuses instead).
CURRENT_APP_HOOKS = {
    "before_request", "before_app_request", "after_request", "after_app_request",
    "teardown_request", "teardown_app_request", "teardown_appcontext", "context_processor",
    "app_context_processor", "url_value_preprocessor", "app_url_value_preprocessor",
    "url_defaults", "app_url_defaults", "before_first_request", "shell_context_processor",
}
SETUP_FUNCTIONS = {"create_app", "make_app", "init_app", "setup_app", "register", "configure_app"}
APP_PARAMETERS = {"app", "flask_app", "application"}
# Flask methods that register what they are given right away: ``app.before_request(f)``.
FLASK_REGISTERS = {
    "before_request",
    "before_app_request",
    "after_request",
    "after_app_request",
    "teardown_request",
    "teardown_app_request",
    "teardown_appcontext",
    "context_processor",
    "app_context_processor",
    "shell_context_processor",
    "url_value_preprocessor",
    "app_url_value_preprocessor",
    "url_defaults",
    "app_url_defaults",
    "before_first_request",
    "register_error_handler",
    "add_url_rule",
    "register_blueprint",
    "add_template_filter",
    "add_template_global",
    "add_template_test",
    "add_app_template_filter",
    "add_app_template_global",
}
# Flask methods that return a decorator: the registration happens when it is applied.
FLASK_DECORATOR_FACTORIES = {
    "route",
    "errorhandler",
    "app_errorhandler",
    "template_filter",
    "template_global",
    "template_test",
    "app_template_filter",
    "app_template_global",
}
# What takes a registration back, per kind: qualified names, ``event.remove`` as spelled, or
# (blinker) the method name.
UNDO_CALLS = {
    "sqlalchemy": {"sqlalchemy.event.remove", "sqlalchemy.event.api.remove", "event.remove"},
    "blinker": {"disconnect"},
    "atexit": {"atexit.unregister"},
}


@dataclass(frozen=True)
class Registration:
    node: ast.AST  # the call, or the decorator, that registers
    kind: str  # "sqlalchemy", "blinker", "atexit", "flask"
    source: str


class ListenerPerRequest(Rule):
    code = "FLK306"
    name = "listener-per-request"
    summary = "listener, signal receiver, exit hook or Flask hook registered on every request"
    triggers = (
        "listen",
        "weak=",
        "connect_via",
        "atexit",
        "before_",
        "after_",
        "teardown_",
        "add_url_rule",
        "register_",
        "processor",
        "url_defaults",
        "template_",
        "errorhandler",
        "route",
    )
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        if not flask.request_time and "current_app" not in self.model.text:
            return
        words = FLASK_REGISTERS | FLASK_DECORATOR_FACTORIES | {
            "register", "listen", "listens_for", "connect", "connect_via",
        }
        for scope in self.model.scopes_mentioning(words_pattern(words)):
            self.scope = scope
            yield from self.check_scope(scope)

    def check_scope(self, scope: ast.AST) -> Iterator[Finding]:
        flask = self.model.flask
        for node in scan(scope).of_any(ast.Call, ast.Attribute):
            reach = flask.request_reach(node)
            if reach is None:
                yield from self.on_current_app(node)
                continue
            function = flask.executing_function(node)
            registration = self.registration(node, function)
            if registration is not None and not self.undone_in(function, registration):
                yield self.finding(node, self.message(registration, reach))

    # -- hooks registered on current_app ------------------------------------------------------

    def on_current_app(self, node: ast.AST) -> Iterator[Finding]:
        """A Flask hook registered on ``current_app`` inside a function that no request is
        known to reach: ``current_app`` only exists inside an app or request context, so the
        function runs once per request or task, and each run registers again."""
        attribute = node if isinstance(node, ast.Attribute) else node.func
        if not isinstance(attribute, ast.Attribute) or attribute.attr not in CURRENT_APP_HOOKS:
            return
        if not self.is_current_app(attribute.value):
            return
        function = self.model.flask.executing_function(node)
        if function is None or self.sets_up_an_app(function) or function in self.set_up_code:
            return
        registration = self.registration(node, function)
        if registration is None or registration.kind != "flask":
            return
        yield self.finding(
            node,
            f"`{registration.source}` inside `{function.name}` registers on `current_app` each "
            "time it runs, and `current_app` only exists inside a request or app context, so "
            "it runs per request or per task: Flask keeps every registration and runs them all "
            "(Flask 2.3+ refuses it with an AssertionError once the app has served a request; "
            "a worker that never serves one keeps appending); register once, in the app "
            "factory or `init_app`",
        )

    @cached_property
    def set_up_code(self) -> set:
        """Functions of this module that app set-up code (a factory, ``init_app``, a function
        given the app) calls: they run once per app, inside its context."""
        flask = self.model.flask
        roots = [f for f in flask.outer_functions() if self.sets_up_an_app(f, commands=False)]
        return flask.reachable_from(roots)

    def is_current_app(self, node: ast.AST) -> bool:
        return self.model.imports.qualified_name(node) in CURRENT_APP

    def sets_up_an_app(self, function: FunctionNode, commands: bool = True) -> bool:
        """App set-up code runs once per app: a factory, ``init_app``, a function given the
        app; a CLI command runs once per process (``commands``); and a function that pushes
        the context itself (``with app.app_context()``) has it for that one run."""
        flask = self.model.flask
        info = flask.info(function)
        while info.parent is not None:
            info = flask.info(info.parent)
        outer = info.node
        for candidate in {function, outer}:
            if candidate.name in flask.factories or candidate.name in SETUP_FUNCTIONS:
                return True
            parameters = candidate.args.posonlyargs + candidate.args.args
            if any(argument.arg in APP_PARAMETERS for argument in parameters):
                return True
            if not commands:
                continue
            for decorator in candidate.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = (dotted_name(target) or "").lower()
                if "command" in name or "cli" in name.split(".") or "group" in name:
                    return True
        for node in walk_executed(function.body):
            if isinstance(node, (ast.With, ast.AsyncWith)) and any(
                isinstance(item.context_expr, ast.Call)
                and isinstance(item.context_expr.func, ast.Attribute)
                and item.context_expr.func.attr in ("app_context", "test_request_context")
                for item in node.items
            ):
                return True
        return False

    # -- recognising registrations -------------------------------------------------------------

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The parent of a node of the scope being checked (``self.scope``)."""
        return self.model.parents(self.scope).get(node)

    def decorated(self, node: ast.AST) -> ast.AST | None:
        """The ``def`` or ``class`` a node decorates, if it is a decorator."""
        parent = self.parent(node)
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if any(decorator is node for decorator in parent.decorator_list):
                return parent
        return None

    def applied_to(self, node: ast.Call) -> ast.expr | ast.AST | None:
        """What a decorator factory's result is applied to: ``@x(...)`` or ``x(...)(f)``."""
        decorated = self.decorated(node)
        if decorated is not None:
            return decorated
        parent = self.parent(node)
        if isinstance(parent, ast.Call) and parent.func is node and parent.args:
            return parent.args[0]
        return None

    def registration(self, node: ast.AST, function: FunctionNode) -> Registration | None:
        if isinstance(node, ast.Attribute):  # @app.before_request on a nested def
            if node.attr not in FLASK_REGISTERS:
                return None
            if self.decorated(node) is not None and self.flask_registers(node, node.attr):
                return Registration(node, "flask", f"@{short_source(node, 40)}")
            return None
        qualified = self.model.imports.qualified_name(node.func) or ""
        name = dotted_name(node.func) or ""
        if qualified in ATEXIT_REGISTER:
            return Registration(node, "atexit", self.render(node))
        if qualified in SQLALCHEMY_LISTEN or name.endswith(".event.listen"):
            return self.sqlalchemy_listen(node, function)
        if qualified in SQLALCHEMY_LISTENS_FOR or name.endswith(".event.listens_for"):
            return self.sqlalchemy_listens_for(node, function)
        if not isinstance(node.func, ast.Attribute):
            return None
        method = node.func.attr
        if method == "connect":
            return self.blinker_connect(node, function)
        if method == "connect_via":
            return self.blinker_connect_via(node, function)
        if method in FLASK_REGISTERS and self.flask_registers(node.func, method):
            if node.args or node.keywords:
                return Registration(node, "flask", self.render(node))
        if method in FLASK_DECORATOR_FACTORIES and self.flask_registers(node.func, method):
            if self.applied_to(node) is not None:
                return Registration(node, "flask", self.render(node))
        return None

    def flask_registers(self, attribute: ast.Attribute, method: str) -> bool:
        names = FLASK_REGISTERS | FLASK_DECORATOR_FACTORIES
        return method in names and self.model.flask.is_flask_object(attribute.value)

    def sqlalchemy_listen(self, call: ast.Call, function: FunctionNode) -> Registration | None:
        if len(call.args) < 3:
            return None
        target, listener = call.args[0], call.args[2]
        if self.fresh_callable(listener, function) and not self.made_here(target, function):
            return Registration(call, "sqlalchemy", self.render(call))
        return None

    def sqlalchemy_listens_for(self, call: ast.Call, function: FunctionNode):
        listener = self.applied_to(call)
        if listener is None or not call.args or self.made_here(call.args[0], function):
            return None
        if isinstance(listener, ast.expr) and not self.fresh_callable(listener, function):
            return None
        return Registration(call, "sqlalchemy", self.render(call))

    def blinker_connect(self, call: ast.Call, function: FunctionNode) -> Registration | None:
        weak = keyword_value(call, "weak")
        if weak is None and len(call.args) >= 3:
            weak = call.args[2]
        if not (isinstance(weak, ast.Constant) and weak.value is False):
            return None
        receiver = call.args[0] if call.args else keyword_value(call, "receiver")
        if receiver is not None and self.fresh_callable(receiver, function):
            return Registration(call, "blinker", self.render(call))
        return None

    def blinker_connect_via(self, call: ast.Call, function: FunctionNode):
        weak = keyword_value(call, "weak")
        if isinstance(weak, ast.Constant) and weak.value is True:
            return None  # a weak reference to a per-request function dies with the request
        receiver = self.applied_to(call)
        if receiver is None:
            return None
        if isinstance(receiver, ast.expr) and not self.fresh_callable(receiver, function):
            return None
        return Registration(call, "blinker", self.render(call))

    # -- is the listener new on every call? ----------------------------------------------------

    def fresh_callable(self, expr: ast.expr, function: FunctionNode) -> bool:
        """A callable made anew by each run of ``function``: registries that de-duplicate by
        identity (SQLAlchemy, blinker) keep one entry per such object."""
        if isinstance(expr, (ast.Lambda, ast.Call)):
            return True
        if isinstance(expr, ast.Name):
            return self.bound_in_body(expr.id, function)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            owner = expr.value.id
            if owner in ("self", "cls"):
                klass = self.model.flask.info(function).klass
                return klass is not None and klass.name in self.model.flask.view_classes
            return self.bound_in_body(owner, function)
        return False

    @staticmethod
    def bound_in_body(name: str, function: FunctionNode) -> bool:
        """Bound by the function's own statements (not a parameter, not a global)."""
        for node in walk_executed(function.body):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                return True
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
                return True
        return False

    @staticmethod
    def made_here(target: ast.expr, function: FunctionNode) -> bool:
        """A listen target built by this call (``session = Session()``) dies with it."""
        if not isinstance(target, ast.Name):
            return False
        return any(
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and any(isinstance(t, ast.Name) and t.id == target.id for t in node.targets)
            for node in walk_executed(function.body)
        )

    def undone_in(self, function: FunctionNode, registration: Registration) -> bool:
        """``event.remove``, ``signal.disconnect`` or ``atexit.unregister`` in the same function."""
        undo = UNDO_CALLS.get(registration.kind)
        if undo is None:
            return False
        for node in walk(function):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                qualified = self.model.imports.qualified_name(node.func) or ""
                name = dotted_name(node.func) or ""
                if qualified in undo or name in undo or node.func.attr in undo:
                    return True
        return False

    # -- messages ------------------------------------------------------------------------------

    @staticmethod
    def render(call: ast.Call) -> str:
        text = short_source(call, 60)
        if isinstance(call.func, ast.Attribute) and len(text) >= 60:
            return f"{short_source(call.func, 40)}(...)"
        return text

    @staticmethod
    def message(registration: Registration, reach: Reach) -> str:
        where = f"`{registration.source}` in request-time code ({reach.describe()})"
        if registration.kind == "sqlalchemy":
            return (
                f"{where} adds a new SQLAlchemy listener on every request: the target's "
                "dispatch list keeps each one, and what it closes over, for the process and "
                "runs them all; listen once, at import or in the app factory"
            )
        if registration.kind == "blinker":
            return (
                f"{where} connects a new strongly-held receiver on every request: the signal "
                "keeps each one, and what it closes over, and calls them all; connect a "
                "module-level receiver once at import, or use `signal.connected_to()`"
            )
        if registration.kind == "atexit":
            return (
                f"{where} appends to the interpreter's exit list on every request: each callback "
                "and what it references is kept until the process exits and runs once per "
                "request served; register once, at import"
            )
        return (
            f"{where} registers on every request: Flask appends to its hook or URL lists and "
            "never removes, so the function and what it closes over are kept and run once per "
            "registration; register once, at import or in the app factory"
        )
