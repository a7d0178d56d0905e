"""FLK305 logger-per-request: loggers named per request, or handlers added per request.

``logging.getLogger(name)`` caches every logger it makes in ``logging.Logger.manager.loggerDict``
for the life of the process; ``addHandler`` appends to the logger's ``handlers`` list.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..astutil import FunctionNode, dotted_name, keyword_value, short_source, walk, walk_executed
from ..finding import Finding
from ..model.flask import URL_ENTRY_KINDS, Reach
from ..rule import Rule

GET_LOGGER = {"logging.getLogger", "logging.root.getChild", "logging.root.manager.getLogger"}
CONSTANT_NAMES = {"__name__", "__package__", "__module__", "__qualname__", "__file__"}
# Attributes that name a class or module, a finite set fixed by the code: ``type(self).__name__``.
CONSTANT_ATTRIBUTES = {"__name__", "__module__", "__qualname__", "import_name"}
STRING_METHODS = {"format", "join", "lower", "upper", "strip", "replace", "removesuffix"}
BOUNDED_REQUEST_ATTRIBUTES = {"endpoint", "blueprint", "method", "url_rule"}
REQUEST_PROXIES = {"flask.request", "quart.request"}
HANDLER_BOOKKEEPING = {"removeHandler", "hasHandlers", "handlers"}


class LoggerPerRequest(Rule):
    code = "FLK305"
    name = "logger-per-request"
    summary = "logger named per request or handler added per request: kept for the process"
    triggers = ("getLogger", "addHandler", "getChild")
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        self.module_constants = self.constant_module_names()
        names = {"getLogger", "addHandler", "getChild"}
        names |= {local for local, target in self.model.imports.names.items() if target in GET_LOGGER}
        for _, node in self.model.calls_to(names):
            kind = self.call_kind(node)
            if kind is None:
                continue
            reach = flask.request_reach(node)
            if reach is None:
                continue
            function = flask.executing_function(node)
            if kind == "addHandler":
                if not self.handlers_managed(node, function):
                    yield self.finding(node, self.handler_message(node, reach))
                continue
            # A name only an administrator can pick (an admin-only route) is one of a handful.
            reach = flask.open_request_reach(node)
            if reach is None:
                continue
            name = node.args[0] if node.args else keyword_value(node, "name")
            why = self.varying_name(name, function, set())
            if why is not None:
                yield self.finding(node, self.logger_message(node, why, reach))

    def call_kind(self, call: ast.Call) -> str | None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "addHandler" and call.args:
            return "addHandler"
        if isinstance(func, ast.Attribute) and func.attr == "getChild" and call.args:
            return "getChild"
        if self.model.imports.qualified_name(func) in GET_LOGGER:
            return "getLogger"
        return None

    # -- is the logger name fixed? -------------------------------------------------------------

    def constant_module_names(self) -> set[str]:
        """Module-level names bound only to constant expressions (``LOGGER_NAME = "audit"``)."""
        values: dict[str, list[ast.expr]] = {}
        for statement in self.model.tree.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        values.setdefault(target.id, []).append(statement.value)
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                if isinstance(statement.target, ast.Name):
                    values.setdefault(statement.target.id, []).append(statement.value)
        constants: set[str] = set()
        for name, assigned in values.items():
            if all(self.plain_constant(value, constants) for value in assigned):
                constants.add(name)
        return constants

    def plain_constant(self, node: ast.expr, constants: set[str]) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in CONSTANT_NAMES or node.id in constants
        if isinstance(node, ast.BinOp):
            return self.plain_constant(node.left, constants) and self.plain_constant(
                node.right, constants
            )
        if isinstance(node, ast.JoinedStr):
            return all(
                self.plain_constant(v.value if isinstance(v, ast.FormattedValue) else v, constants)
                for v in node.values
            )
        return False

    def varying_name(
        self, node: ast.expr | None, function: FunctionNode, seen: set[str]
    ) -> str | None:
        """Why a logger name can differ from request to request, ``None`` if it cannot."""
        if node is None or isinstance(node, ast.Constant):
            return None
        if isinstance(node, ast.Name):
            return self.varying_variable(node.id, function, seen)
        if isinstance(node, ast.Attribute):
            if node.attr in CONSTANT_ATTRIBUTES or node.attr.isupper():
                return None  # a class or module name, a setting: one value per process
            if node.attr == "name" and dotted_name(node.value) in ("current_app", "app"):
                return None
            if node.attr == "name" and isinstance(node.value, ast.Attribute):
                if node.value.attr == "logger":
                    return None  # app.logger.name
            if node.attr in BOUNDED_REQUEST_ATTRIBUTES and self.is_request(node.value):
                return None  # one value per route the code defines
            if self.constant_class_attribute(node, function):
                return None
            return f"`{short_source(node, 40)}`"
        if isinstance(node, ast.Subscript):
            if self.is_settings_lookup(node):
                return None
            return f"`{short_source(node, 40)}`"
        parts = self.name_parts(node)
        if parts is None:
            return f"`{short_source(node, 40)}`"
        for part in parts:
            why = self.varying_name(part, function, seen)
            if why is not None:
                return why
        return None

    def is_request(self, node: ast.expr) -> bool:
        return self.model.imports.qualified_name(node) in REQUEST_PROXIES

    def constant_class_attribute(self, node: ast.Attribute, function: FunctionNode) -> bool:
        """``self.logger_name`` where the class sets ``logger_name = "billing"``."""
        if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            return False
        klass = self.model.flask.info(function).klass
        if klass is None:
            return False
        for statement in klass.body:
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.attr for t in statement.targets
            ):
                return self.plain_constant(statement.value, self.module_constants)
        return False

    @staticmethod
    def name_parts(node: ast.expr) -> list[ast.expr] | None:
        """The pieces a string-building expression is made of, ``None`` for anything else."""
        if isinstance(node, ast.BinOp):
            return [node.left, node.right]
        if isinstance(node, ast.JoinedStr):
            return [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        if isinstance(node, ast.IfExp):
            return [node.body, node.orelse]
        if isinstance(node, (ast.List, ast.Tuple)):
            return list(node.elts)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in STRING_METHODS
        ):
            return [node.func.value, *node.args, *(k.value for k in node.keywords)]
        if isinstance(node, ast.Call) and dotted_name(node.func) == "type":
            return []  # type(self): the class, fixed by the code
        return None

    @staticmethod
    def is_settings_lookup(node: ast.Subscript) -> bool:
        """``app.config["LOGGER_NAME"]``, ``os.environ["LOGGER"]``: one value per process."""
        container = dotted_name(node.value) or ""
        return isinstance(node.slice, ast.Constant) and (
            container.endswith("config") or container.endswith("environ")
        )

    def varying_variable(self, name: str, function: FunctionNode, seen: set[str]) -> str | None:
        if name in CONSTANT_NAMES or (name in self.module_constants and not self.is_local(
            name, function
        )):
            return None
        if name in seen:
            return None
        seen = seen | {name}
        assigned = [
            node.value
            for node in walk_executed(function.body)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ]
        if assigned:
            for value in assigned:
                why = self.varying_name(value, function, seen)
                if why is not None:
                    return why
            return None
        if name in self.parameters(function):
            return self.varying_argument(name, function, seen)
        return f"`{name}`"

    def is_local(self, name: str, function: FunctionNode) -> bool:
        return name in self.parameters(function) or any(
            isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
            for node in walk_executed(function.body)
        )

    @staticmethod
    def parameters(function: FunctionNode) -> list[str]:
        arguments = function.args
        return [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]

    def varying_argument(self, name: str, function: FunctionNode, seen: set[str]) -> str | None:
        """A parameter: varying when a call in this module passes a varying value for it."""
        flask = self.model.flask
        entries = [entry for entry in flask.entry_points if entry.function is function]
        if any(entry.kind in URL_ENTRY_KINDS for entry in entries):
            return f"`{name}`"  # a view argument: a value from the URL
        position = self.parameters(function).index(name)
        if flask.info(function).klass is not None:
            position -= 1  # self/cls is not written at the call
        for caller in flask.open_request_time:  # what an administrator passes is not traffic
            for call in walk_executed(caller.body):
                if not isinstance(call, ast.Call) or function not in self.called_by(call):
                    continue
                value = self.argument_for(call, name, position)
                why = self.varying_name(value, caller, seen) if value is not None else None
                if why is not None:
                    return f"{why}, passed by `{caller.name}`,"
        return None

    def called_by(self, call: ast.Call) -> list[FunctionNode]:
        """The functions defined here that a call runs: ``f()``, ``self.f()``, ``Class()``."""
        flask = self.model.flask
        found = list(flask.functions_called(call.func, call))
        class_name = dotted_name(call.func)
        if class_name in flask.classes:
            init = flask.all_methods(class_name).get("__init__")
            if init is not None:
                found.append(init)
        return found

    @staticmethod
    def argument_for(call: ast.Call, name: str, position: int) -> ast.expr | None:
        for keyword in call.keywords:
            if keyword.arg == name:
                return keyword.value
        if 0 <= position < len(call.args) and not isinstance(call.args[position], ast.Starred):
            return call.args[position]
        return None

    # -- handlers ------------------------------------------------------------------------------

    def handlers_managed(self, call: ast.Call, function: FunctionNode) -> bool:
        """Handlers removed again, or added only when the logger has none."""
        for node in walk(function):
            if isinstance(node, ast.Attribute) and node.attr in HANDLER_BOOKKEEPING:
                return True
        receiver = call.func.value
        if isinstance(receiver, ast.Name):
            return any(
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == receiver.id for t in node.targets)
                and self.model.imports.qualified_name(getattr(node.value, "func", None))
                == "logging.Logger"
                for node in walk_executed(function.body)
            )  # a logger object of its own, not the cached one: it goes with the request
        return False

    # -- messages ------------------------------------------------------------------------------

    @staticmethod
    def logger_message(call: ast.Call, why: str, reach: Reach) -> str:
        return (
            f"`{short_source(call, 50)}` in request-time code ({reach.describe()}) makes a logger "
            f"per distinct name ({why} varies) and `logging.Logger.manager.loggerDict` keeps "
            "every one for the process; log to a module logger and pass per-request values with "
            "`extra=` or a `LoggerAdapter`"
        )

    @staticmethod
    def handler_message(call: ast.Call, reach: Reach) -> str:
        target = short_source(call.func.value, 30)
        return (
            f"`{target}.addHandler(...)` runs on every request ({reach.describe()}): the logger "
            "keeps every handler added (and its open file or stream) and writes each record once "
            "per handler; add handlers once, at import or in the app factory"
        )
