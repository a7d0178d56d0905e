"""FLK309 setup-repeated-per-app: process-wide registration in an app factory that the process
runs more than once.

SQLAlchemy's listeners on a class, the logging module's loggers, a module-level signal's
receivers and ``atexit``'s list belong to the process, not to an app. Registered from code that
runs per app, unguarded, each app the process makes adds another: listeners and handlers run
once per app ever created, and keep what they close over (often the app itself) alive. Only
reported where the production code makes several apps in one process (``model/setup.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ..astutil import (
    FunctionNode,
    dotted_name,
    keyword_value,
    local_bindings,
    short_source,
    walk_local,
)
from ..finding import Finding
from ..model.setup import SetupReach, factory_repetition, setup_code
from ..model.text import words_pattern
from ..rule import Rule
from ..scan import scan

ATEXIT_REGISTER = {"atexit.register"}
ATEXIT_UNDO = {"atexit.unregister"}
SQLALCHEMY_LISTEN = {"sqlalchemy.event.listen", "sqlalchemy.event.api.listen"}
SQLALCHEMY_LISTENS_FOR = {"sqlalchemy.event.listens_for", "sqlalchemy.event.api.listens_for"}
SQLALCHEMY_UNDO = {"remove", "contains"}  # event.remove / event.contains in the same function
GET_LOGGER = {"logging.getLogger"}
ROOT_LOGGER = {"logging.root"}
HANDLER_BOOKKEEPING = {"removeHandler", "handlers", "hasHandlers"}
BLINKER_UNDO = {"disconnect"}
# Names an app object goes by: what hangs off it is per app.
APP_HEADS = {"self", "cls", "app", "current_app", "flask_app", "application"}
CALL_NAMES = {"addHandler", "register", "listen", "listens_for", "connect", "connect_via"}


@dataclass(frozen=True)
class Registration:
    node: ast.AST  # the call (or decorator) that registers
    kind: str  # "sqlalchemy", "logging", "blinker", "atexit"
    source: str  # how the message shows it
    target: str  # what keeps it: "the `Engine` class", "the root logger"


class SetupRepeatedPerApp(Rule):
    code = "FLK309"
    name = "setup-repeated-per-app"
    summary = "listener, log handler, signal receiver or exit hook added again by each app a process makes"
    triggers = ("addHandler", "atexit", "listen", "connect_via", "weak=")

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        setup = None
        for scope, node in self.candidates():
            function = flask.executing_function(node)
            if function is None:
                continue  # at import: once per process
            registration = self.registration(scope, node, function)
            if registration is None or function in flask.request_time:
                continue  # per request: FLK305 and FLK306 report those
            setup = setup or setup_code(self.model)
            reach = setup.reach(function)
            if reach is None or setup.guarded(function, registration.node):
                continue
            if self.undone(function, registration):
                continue
            repeated = factory_repetition(self.model, reach.factory)
            if repeated is None:
                continue  # one app per process: repeated only by a test suite
            yield self.finding(registration.node, self.message(registration, reach, repeated))

    # -- finding the calls ---------------------------------------------------------------------

    def candidates(self) -> Iterator[tuple[ast.AST, ast.AST]]:
        """(scope, call) for calls named like a registration, and ``@atexit.register``."""
        names = set(CALL_NAMES)
        qualified = ATEXIT_REGISTER | SQLALCHEMY_LISTEN | SQLALCHEMY_LISTENS_FOR
        names |= {local for local, target in self.model.imports.names.items() if target in qualified}
        yield from self.model.calls_to(names)
        if "atexit" not in self.model.text:
            return
        lines = self.model.source.lines_matching(words_pattern(["register"]))
        for scope in self.model.scopes.scopes_at(lines):
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in scope.decorator_list:
                    if self.qualified(decorator) in ATEXIT_REGISTER:
                        yield scope, decorator

    def qualified(self, node: ast.AST) -> str:
        return self.model.imports.qualified_name(node) or ""

    # -- what a call registers -----------------------------------------------------------------

    def registration(self, scope, node: ast.AST, function: FunctionNode) -> Registration | None:
        if not isinstance(node, ast.Call):  # @atexit.register on a nested def
            return Registration(node, "atexit", f"@{dotted_name(node)}", "the interpreter's exit list")
        qualified = self.qualified(node.func)
        name = dotted_name(node.func) or ""
        if qualified in ATEXIT_REGISTER:
            return Registration(node, "atexit", _render(node), "the interpreter's exit list")
        if qualified in SQLALCHEMY_LISTEN or name.endswith("event.listen"):
            return self.sqlalchemy_listen(node, function)
        if qualified in SQLALCHEMY_LISTENS_FOR or name.endswith("event.listens_for"):
            return self.sqlalchemy_listens_for(scope, node, function)
        if not isinstance(node.func, ast.Attribute):
            return None
        method = node.func.attr
        if method == "addHandler":
            return self.add_handler(node, function)
        if method == "connect":
            return self.blinker_connect(node, function)
        if method == "connect_via":
            return self.blinker_connect_via(scope, node, function)
        return None

    def sqlalchemy_listen(self, call: ast.Call, function: FunctionNode) -> Registration | None:
        if len(call.args) < 3:
            return None
        return self.sqlalchemy(call, call.args[0], call.args[2], function)

    def sqlalchemy_listens_for(self, scope, call: ast.Call, function: FunctionNode):
        listener = self.applied_to(scope, call)
        if listener is None or not call.args:
            return None
        return self.sqlalchemy(call, call.args[0], listener, function)

    def sqlalchemy(self, call: ast.Call, target: ast.expr, listener, function: FunctionNode):
        """A listener on a target that outlives the app: on a class (SQLAlchemy appends to a
        class's listeners whether or not the function is there already), or a new function."""
        if not self.outlives_app(target, function):
            return None
        if not (_class_like(target) or self.fresh(listener, function)):
            return None  # the same function on the same object: SQLAlchemy keeps it once
        return Registration(call, "sqlalchemy", _render(call), f"`{dotted_name(target)}`")

    def add_handler(self, call: ast.Call, function: FunctionNode) -> Registration | None:
        if not call.args:
            return None
        logger = self.process_logger(call.func.value, function)
        if logger is None or not self.fresh(call.args[0], function):
            return None  # a handler object kept at module level is added once (addHandler checks)
        return Registration(call, "logging", _render(call), logger)

    def blinker_connect(self, call: ast.Call, function: FunctionNode) -> Registration | None:
        weak = keyword_value(call, "weak")
        if weak is None and len(call.args) >= 3:
            weak = call.args[2]
        if not (isinstance(weak, ast.Constant) and weak.value is False):
            return None  # held weakly: a receiver made per app dies with what holds it
        receiver = call.args[0] if call.args else keyword_value(call, "receiver")
        signal = call.func.value
        if receiver is None or not self.fresh(receiver, function):
            return None  # the same function again: blinker keeps it once
        if not self.outlives_app(signal, function):
            return None
        return Registration(call, "blinker", _render(call), f"signal `{dotted_name(signal)}`")

    def blinker_connect_via(self, scope, call: ast.Call, function: FunctionNode):
        weak = keyword_value(call, "weak")
        if isinstance(weak, ast.Constant) and weak.value is True:
            return None
        receiver = self.applied_to(scope, call)
        signal = call.func.value
        if receiver is None or not self.fresh(receiver, function):
            return None
        if not self.outlives_app(signal, function):
            return None
        return Registration(call, "blinker", _render(call), f"signal `{dotted_name(signal)}`")

    def applied_to(self, scope, call: ast.Call):
        """What a decorator factory's result is applied to: ``@x(...)`` or ``x(...)(f)``."""
        parent = self.model.parents(scope).get(call)
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and call in parent.decorator_list:
            return parent
        if isinstance(parent, ast.Call) and parent.func is call and parent.args:
            return parent.args[0]
        return None

    # -- what outlives the app -----------------------------------------------------------------

    def outlives_app(self, target: ast.expr, function: FunctionNode) -> bool:
        """An imported object or one this module keeps at module level, not the app, one of
        its attributes, or something the function makes (an engine created in the factory)."""
        name = dotted_name(target)
        if name is None:
            return False  # a call's result: `db.get_engine()`, `create_engine(...)`
        head, _, rest = name.partition(".")
        last = name.rsplit(".", 1)[-1]
        if rest and (last in ("engine", "engines") or last.endswith("_engine")):
            return False  # Flask-SQLAlchemy's `db.engine`: one engine per app
        if head in APP_HEADS or head in local_bindings(function):
            return False
        if self.model.imports.names.get(head) in ("flask.current_app", "quart.current_app"):
            return False
        return head in self.model.imports.names or head in self.module_names

    @property
    def module_names(self) -> set[str]:
        found = self.__dict__.get("_module_names")
        if found is None:
            found = set()
            for statement in self.model.tree.body:
                if isinstance(statement, (ast.Assign, ast.AnnAssign)):
                    targets = (
                        statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                    )
                    found.update(t.id for t in targets if isinstance(t, ast.Name))
            found -= self.model.flask.app_names
            self.__dict__["_module_names"] = found
        return found

    def process_logger(self, receiver: ast.expr, function: FunctionNode) -> str | None:
        """What the logger a handler is added to is, when the logging module keeps it for the
        process: the root logger, ``logging.getLogger(...)``, a name bound to one. Not
        ``app.logger`` (see the rule's page)."""
        if isinstance(receiver, ast.Call) and self.qualified(receiver.func) in GET_LOGGER:
            return _logger_label(receiver)
        if self.qualified(receiver) in ROOT_LOGGER:
            return "the root logger"
        if isinstance(receiver, ast.Name):
            values = [
                node.value
                for node in walk_local(function)
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == receiver.id for t in node.targets)
            ]
            if not values and receiver.id in self.module_names:
                values = self.module_values(receiver.id)
            if values and all(
                isinstance(v, ast.Call) and self.qualified(v.func) in GET_LOGGER for v in values
            ):
                return _logger_label(values[0])
        return None

    def module_values(self, name: str) -> list[ast.expr]:
        return [
            statement.value
            for statement in self.model.tree.body
            if isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in statement.targets)
        ]

    @staticmethod
    def fresh(expr, function: FunctionNode) -> bool:
        """A callable or handler made anew by each run of ``function``."""
        if isinstance(expr, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True  # a decorated def nested in it
        if isinstance(expr, (ast.Lambda, ast.Call)):
            return True
        if isinstance(expr, ast.Name):
            return expr.id in _made_in(function)
        return False

    def undone(self, function: FunctionNode, registration: Registration) -> bool:
        """The function takes registrations back or checks for them itself."""
        for node in scan(function).of_any(ast.Attribute, ast.Call):
            if isinstance(node, ast.Attribute):
                if registration.kind == "logging" and node.attr in HANDLER_BOOKKEEPING:
                    if self.qualified(node) != "logging.handlers":  # the module, not a list
                        return True
                if registration.kind == "blinker" and node.attr in BLINKER_UNDO:
                    return True
                continue
            qualified = self.qualified(node.func)
            if registration.kind == "atexit" and qualified in ATEXIT_UNDO:
                return True
            if registration.kind == "sqlalchemy" and isinstance(node.func, ast.Attribute):
                if node.func.attr in SQLALCHEMY_UNDO and "event" in (dotted_name(node.func) or ""):
                    return True
        return False

    # -- messages ------------------------------------------------------------------------------

    @staticmethod
    def message(registration: Registration, reach: SetupReach, repeated: str) -> str:
        where = f"`{registration.source}` in {reach.describe()}"
        again = f"each app this process makes adds another ({repeated})"
        if registration.kind == "sqlalchemy":
            return (
                f"{where} registers a listener on {registration.target}, which outlives the "
                f"app: {again}, kept with what it closes over and run once per app ever "
                "created; listen once at import, or check `event.contains()` first"
            )
        if registration.kind == "logging":
            return (
                f"{where} adds a new handler to {registration.target}, which the logging module "
                f"keeps for the process: {again}, each holding its stream or file and writing "
                "every record again; configure logging once (a module-level flag, or "
                "`if not logger.handlers`)"
            )
        if registration.kind == "blinker":
            return (
                f"{where} connects a new strongly-held receiver to {registration.target}, "
                f"which outlives the app: {again}, kept with what it closes over (often the "
                "app) for the life of the process; connect a module-level function once at "
                "import, or with `weak=True`"
            )
        return (
            f"{where} appends to the interpreter's exit list, which outlives the app: {again}, "
            "keeping each callback and its arguments until exit; register once at import, or "
            "behind a module-level flag"
        )


def _render(call: ast.Call) -> str:
    text = short_source(call, 60)
    if len(text) >= 60 and isinstance(call.func, ast.Attribute):
        return f"{short_source(call.func, 40)}(...)"
    return text


def _logger_label(call: ast.Call) -> str:
    if not call.args and not call.keywords:
        return "the root logger"
    return f"logger `{short_source(call, 40)}`"


def _class_like(target: ast.expr) -> bool:
    """A class (``Engine``, ``Session``, a model) or a scoped session: SQLAlchemy keeps
    class-level listeners in a list that takes the same function again."""
    name = dotted_name(target) or ""
    last = name.rsplit(".", 1)[-1]
    return last[:1].isupper() or last in ("session", "mapper")


def _made_in(function: FunctionNode) -> set[str]:
    """Names the function binds to something it makes on each run: a nested def, or the result
    of a call or a lambda (``handler = logging.FileHandler(...)``), not its parameters."""
    found: set[str] = set()
    for node in walk_local(function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(
            node.value, (ast.Call, ast.Lambda)
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update(t.id for t in targets if isinstance(t, ast.Name))
    return found
