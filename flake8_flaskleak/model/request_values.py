"""Which values a request brings can take without bound, and which the code fixes.

``request.path`` has one value per URL a client asks for (every id, every scanner's probe),
``request.endpoint`` one per view the code defines. A value kept per distinct key (a metric's
label set, a cache entry) grows with the first kind and stays bounded with the second. The
question is asked of one expression, following local assignments, the return values of
functions defined in the module, and the arguments its callers in the module pass.
"""

from __future__ import annotations

import ast
import re

from ..astutil import FunctionNode, string_value
from ..scan import scan, statements

REQUEST_PROXIES = {"flask.request", "quart.request", "flask.globals.request"}
SESSION_PROXIES = {"flask.session", "quart.session", "flask.globals.session"}
G_PROXIES = {"flask.g", "quart.g", "flask.globals.g"}
CURRENT_USER = {"flask_login.current_user", "flask_login.utils.current_user", "flask_security.current_user"}
IDENTITY_FUNCTIONS = {"flask_jwt_extended.get_jwt_identity", "flask_jwt_extended.get_current_user"}

# ``request.<attribute>``: the URL, the query, the body, the client.
UNBOUNDED_REQUEST_ATTRIBUTES = {
    "path", "full_path", "url", "base_url", "query_string", "args", "values", "form", "json",
    "cookies", "view_args", "remote_addr", "user_agent", "access_route", "data", "files",
}
UNBOUNDED_REQUEST_METHODS = {"get_json", "get_data"}
# Header and WSGI environ keys whose value differs per client or per URL.
UNBOUNDED_HEADERS = {
    "user-agent", "referer", "x-forwarded-for", "x-real-ip", "x-request-id", "cookie",
    "authorization",
}
UNBOUNDED_ENVIRON = {
    "PATH_INFO", "RAW_URI", "REQUEST_URI", "QUERY_STRING", "REMOTE_ADDR", "HTTP_USER_AGENT",
    "HTTP_REFERER", "HTTP_X_FORWARDED_FOR",
}
# Attributes and keys that identify a user (``current_user.id``, ``session["user_id"]``).
IDENTITY_NAMES = {
    "id", "user_id", "userid", "uid", "username", "user_name", "email", "login", "name", "get_id",
}
URL_VARIABLE = re.compile(r"<(?:[^<>:]+:)?(\w+)>")
BOUNDED_CONVERTER = re.compile(r"<any\(")
MAX_DEPTH = 4


class RequestValues:
    """Answers "can this expression take a new value on every request?" for one module."""

    def __init__(self, model):
        self.model = model
        self.imports = model.imports

    def unbounded(self, node: ast.AST | None, function: FunctionNode | None) -> str | None:
        """How the value of ``node`` (written in ``function``) varies without bound, as a short
        description (```request.path```, ```current_user.id```), or None."""
        return self._why(node, function, set(), 0)

    # -- one expression ------------------------------------------------------------------------

    def _why(self, node, function, seen: set, depth: int) -> str | None:
        if node is None or depth > MAX_DEPTH:
            return None
        direct = self._direct(node)
        if direct is not None:
            return direct
        if isinstance(node, ast.Name):
            return self._name(node.id, function, seen, depth)
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
        elif isinstance(node, ast.BinOp):
            parts = [node.left, node.right]
        elif isinstance(node, ast.IfExp):
            parts = [node.orelse] if _checked_membership(node) else [node.body, node.orelse]
        elif isinstance(node, ast.BoolOp):
            parts = list(node.values)
        elif isinstance(node, (ast.Tuple, ast.List)):
            parts = list(node.elts)
        elif isinstance(node, ast.Call):
            parts = _string_parts(node)
            if parts is None:
                return self._returned(node, function, seen, depth)
        elif isinstance(node, ast.Subscript):
            parts = [node.value]
        else:
            return None
        for part in parts:
            why = self._why(part, function, seen, depth)
            if why is not None:
                return why
        return None

    def _returned(self, call: ast.Call, function, seen: set, depth: int) -> str | None:
        """What a function defined in this module returns, when ``call`` calls one."""
        func = call.func
        if function is not None:
            callees = self.model.flask.functions_called(func, call)
        elif isinstance(func, ast.Name) and func.id in self.model.flask.module_functions:
            callees = [self.model.flask.module_functions[func.id]]
        else:
            callees = []
        for callee in callees:
            if ("returns", callee) in seen:
                continue
            seen.add(("returns", callee))
            for statement in statements(callee):
                if isinstance(statement, ast.Return) and statement.value is not None:
                    why = self._why(statement.value, callee, seen, depth + 1)
                    if why is not None:
                        return why
        return None

    def _direct(self, node: ast.AST) -> str | None:
        """A request, session, ``g`` or user value read right here."""
        if isinstance(node, ast.Attribute):
            owner = node.value
            if self._is(owner, REQUEST_PROXIES):
                if node.attr in UNBOUNDED_REQUEST_ATTRIBUTES:
                    return f"`request.{node.attr}`"
                return None
            if self._is(owner, CURRENT_USER) and node.attr in IDENTITY_NAMES:
                return f"`current_user.{node.attr}`"
            if self._is(owner, G_PROXIES) and node.attr in ("user_id", "username", "uid"):
                return f"`g.{node.attr}`"
            if (
                isinstance(owner, ast.Attribute)
                and owner.attr in ("user", "current_user")
                and self._is(owner.value, G_PROXIES)
                and node.attr in IDENTITY_NAMES
            ):
                return f"`g.{owner.attr}.{node.attr}`"
            if isinstance(owner, ast.Attribute) and self._is(owner.value, REQUEST_PROXIES):
                if owner.attr in ("url_rule", "endpoint", "blueprint", "method"):
                    return None
            return None
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _subscript(self, node: ast.Subscript) -> str | None:
        key = string_value(node.slice)
        owner = node.value
        if isinstance(owner, ast.Attribute) and self._is(owner.value, REQUEST_PROXIES):
            if owner.attr in ("headers",) and key and key.lower() in UNBOUNDED_HEADERS:
                return f"the `{key}` header"
            if owner.attr == "environ" and key in UNBOUNDED_ENVIRON:
                return f"`request.environ[{key!r}]`"
        if self._is(owner, SESSION_PROXIES) and key and key.lower() in IDENTITY_NAMES:
            return f"`session[{key!r}]`"
        return None

    def _call(self, call: ast.Call) -> str | None:
        func = call.func
        qualified = self.imports.qualified_name(func) or ""
        if qualified in IDENTITY_FUNCTIONS:
            return f"`{qualified.rsplit('.', 1)[-1]}()`"
        if not isinstance(func, ast.Attribute):
            return None
        owner = func.value
        if self._is(owner, REQUEST_PROXIES) and func.attr in UNBOUNDED_REQUEST_METHODS:
            return f"`request.{func.attr}()`"
        if self._is(owner, CURRENT_USER) and func.attr == "get_id":
            return "`current_user.get_id()`"
        key = string_value(call.args[0]) if call.args else None
        if func.attr == "get" and key:
            if isinstance(owner, ast.Attribute) and self._is(owner.value, REQUEST_PROXIES):
                if owner.attr == "headers" and key.lower() in UNBOUNDED_HEADERS:
                    return f"the `{key}` header"
                if owner.attr == "environ" and key in UNBOUNDED_ENVIRON:
                    return f"`request.environ[{key!r}]`"
            if self._is(owner, SESSION_PROXIES) and key.lower() in IDENTITY_NAMES:
                return f"`session[{key!r}]`"
            if self._is(owner, G_PROXIES) and key in ("user_id", "username", "uid"):
                return f"`g.{key}`"
        return None

    def _is(self, node: ast.AST, qualified: set[str]) -> bool:
        return isinstance(node, (ast.Name, ast.Attribute)) and (
            self.imports.qualified_name(node) in qualified
        )

    # -- names: local assignments, URL variables, parameters ------------------------------------

    def _name(self, name: str, function, seen: set, depth: int) -> str | None:
        if function is None or (name, function) in seen:
            return None
        seen.add((name, function))
        assigned = [
            node.value
            for node in scan(function).of_any(ast.Assign, ast.AnnAssign)
            if node.value is not None
            and any(_binds(target, name) for target in _targets(node))
        ]
        for value in assigned:
            why = self._why(value, function, seen, depth)
            if why is not None:
                return why
        if assigned:
            return None
        position = _parameter_position(function, name)
        if position is None:
            return None
        variable = self._url_variable(function, name)
        if variable is not None:
            return variable
        return self._from_callers(function, name, position, seen, depth)

    def _url_variable(self, function: FunctionNode, name: str) -> str | None:
        """A view parameter filled from the URL (``/users/<int:user_id>``): one value per URL."""
        for decorator in function.decorator_list:
            if not isinstance(decorator, ast.Call) or not decorator.args:
                continue
            path = string_value(decorator.args[0])
            if not path or "<" not in path:
                continue
            for match in URL_VARIABLE.finditer(path):
                if match.group(1) == name and not BOUNDED_CONVERTER.match(
                    path, match.start()
                ):
                    return f"the URL variable `{name}`"
        return None

    def _from_callers(self, function, name: str, position: int, seen: set, depth: int):
        """The arguments callers in this module pass for a parameter (one level per depth)."""
        for _, call in self.model.calls_to({function.name}):
            caller = self.model.flask.executing_function(call)
            if caller is None or function not in self.model.flask.functions_called(
                call.func, call
            ):
                continue
            argument = None
            for keyword in call.keywords:
                if keyword.arg == name:
                    argument = keyword.value
            offset = 1 if self.model.flask.info(function).klass is not None else 0
            if argument is None and 0 <= position - offset < len(call.args):
                candidate = call.args[position - offset]
                if not isinstance(candidate, ast.Starred):
                    argument = candidate
            why = self._why(argument, caller, seen, depth + 1)
            if why is not None:
                return why
        return None


STRING_METHODS = {
    "format", "join", "lower", "upper", "strip", "rstrip", "lstrip", "replace", "split", "get",
    "getlist", "removeprefix", "removesuffix", "title", "casefold",
}


def _string_parts(call: ast.Call) -> list[ast.expr] | None:
    """What a string-building call is made of (``"{}".format(x)``, ``str(x)``), or None."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in STRING_METHODS:
        return [func.value, *call.args, *(k.value for k in call.keywords)]
    if isinstance(func, ast.Name) and func.id in ("str", "repr"):
        return list(call.args)
    return None


def _checked_membership(node: ast.IfExp) -> bool:
    """``kind if kind in KINDS else "other"``: the value kept is one of a fixed set."""
    test = node.test
    return (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.In)
        and isinstance(test.left, ast.Name)
        and isinstance(node.body, ast.Name)
        and node.body.id == test.left.id
    )


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _binds(target: ast.expr, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, (ast.Tuple, ast.List)):
        return False  # unpacking: the parts are not followed
    return False


def _parameter_position(function: FunctionNode, name: str) -> int | None:
    arguments = function.args
    for position, argument in enumerate(arguments.posonlyargs + arguments.args):
        if argument.arg == name:
            return position
    if any(argument.arg == name for argument in arguments.kwonlyargs):
        return -1
    return None
