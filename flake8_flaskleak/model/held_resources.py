"""Resources a request holds between two pieces of code: checked out in one place (a
``before_request`` hook, a view), kept on ``g``, a global or a local, and given back in another.

The vocabulary is small and shared (FLK205): which calls give a resource back (``close()``,
``pool.putconn(conn)``, ``lock.release()``, a scoped session's ``remove()``), what they give
back (the *holder*: ``g.db``, however the code reads it), and where the same holder was
filled. Everything is found from the text first: the lines that name a release, the lines that
assign the holder.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from ..astutil import FunctionNode, dotted_name, string_value
from ..scan import scan, statements
from .resources import summary
from .text import words_pattern

G_PROXIES = {"flask.g", "quart.g", "flask.globals.g"}
CLOSE_METHODS = {"close", "aclose"}
RELEASE_WORDS = {"close", "aclose", "remove", "putconn", "release"}
# Calls that check a resource out of a pool or take a lock: their result (or their receiver,
# for a lock) must be given back.
CHECKOUT_METHODS = {"getconn": "pooled connection", "acquire": "lock"}
KINDS_BY_CALL = {
    "getconn": "pooled connection",
    "get_connection": "pooled connection",
    "connect": "connection",
    "raw_connection": "connection",
    "cursor": "cursor",
    "Session": "session",
    "session": "session",
    "pubsub": "pub/sub connection",
    "open": "file",
    "acquire": "lock",
}


@dataclass(frozen=True)
class Holder:
    """Where a held resource is kept, as the code reads it."""

    key: str  # "g.db", "session:db.session", "global:pool_lock", "local:conn"
    display: str  # "g.db", "db.session", "pool_lock", "conn"
    kind: str  # "g", "session", "global", "local"


@dataclass(frozen=True)
class Release:
    call: ast.Call
    holder: Holder
    function: FunctionNode


@dataclass(frozen=True)
class Acquisition:
    holder_key: str
    node: ast.AST | None  # the call that checks out (None: found in another module's text)
    source: str  # "pool.getconn()"
    function: FunctionNode | None  # None: found in another module's text
    where: str  # "`shop/db.py` line 12", filled for acquisitions in other modules
    kind: str = "resource"  # "pooled connection", "connection", "lock"...


class HeldResources:
    """Releases and acquisitions of one module, keyed by holder."""

    def __init__(self, model):
        self.model = model
        self.imports = model.imports

    # -- releases ------------------------------------------------------------------------------

    def releases(self) -> list[Release]:
        found = []
        for _, call in self.model.calls_to(RELEASE_WORDS):
            function = self.model.flask.executing_function(call)
            if function is None:
                continue
            holder = self.released_holder(call, function)
            if holder is not None:
                found.append(Release(call, holder, function))
        return found

    def released_holder(self, call: ast.Call, function: FunctionNode) -> Holder | None:
        func = call.func
        if not isinstance(func, ast.Attribute):
            return None
        method = func.attr
        if method == "remove":
            if call.args or call.keywords:
                return None  # list.remove(x), dict.pop...: not a scoped session
            name = dotted_name(func.value)
            if name and "session" in name.rsplit(".", 1)[-1].lower():
                return Holder(f"session:{name}", name, "session")
            return None
        if method in CLOSE_METHODS:
            return self.holder(func.value, function)
        if method == "putconn" or (method == "release" and call.args):
            return self.holder(call.args[0], function) if call.args else None
        if method == "release":  # lock.release(), slot.release()
            return self.holder(func.value, function)
        return None

    def holder(self, expr: ast.AST, function: FunctionNode) -> Holder | None:
        """The holder an expression reads: ``g.db``, ``g.pop("db")``, ``getattr(g, "db")``,
        a local bound to one of those or to a checkout, or a module-level name."""
        attribute = self.g_attribute(expr)
        if attribute is not None:
            return Holder(f"g.{attribute}", f"g.{attribute}", "g")
        if isinstance(expr, ast.Name):
            value = self.local_value(expr.id, function)
            if value is not None:
                inner = self.g_attribute(value)
                if inner is not None:
                    return Holder(f"g.{inner}", f"g.{inner}", "g")
                if isinstance(value, ast.Call):
                    return Holder(f"local:{expr.id}", expr.id, "local")
                return None
            if expr.id in self.module_names or expr.id in _declared_global(function):
                return Holder(f"global:{expr.id}", expr.id, "global")
        return None

    def g_attribute(self, expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Attribute) and self.is_g(expr.value):
            return expr.attr
        if isinstance(expr, ast.Call):
            func = expr.func
            key = string_value(expr.args[0]) if expr.args else None
            if isinstance(func, ast.Attribute) and func.attr in ("get", "pop") and self.is_g(func.value):
                return key
            if isinstance(func, ast.Name) and func.id == "getattr" and len(expr.args) >= 2:
                if self.is_g(expr.args[0]):
                    return string_value(expr.args[1])
        return None

    def is_g(self, node: ast.AST) -> bool:
        return isinstance(node, (ast.Name, ast.Attribute)) and (
            self.imports.qualified_name(node) in G_PROXIES
        )

    def local_value(self, name: str, function: FunctionNode) -> ast.expr | None:
        """The value a function assigns to a local name (the first assignment), or None."""
        for node in scan(function).of_any(ast.Assign, ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(
                isinstance(t, ast.Name) and t.id == name for t in targets
            ):
                return node.value
        for node in scan(function).of(ast.NamedExpr):
            if node.target.id == name:
                return node.value
        return None

    @property
    def module_names(self) -> set[str]:
        cached = self.__dict__.get("_module_names")
        if cached is None:
            cached = set()
            for statement in statements(self.model.tree):
                if isinstance(statement, ast.Assign):
                    cached.update(t.id for t in statement.targets if isinstance(t, ast.Name))
            self.__dict__["_module_names"] = cached
        return cached

    # -- acquisitions --------------------------------------------------------------------------

    def acquisitions(self, holder: Holder) -> list[Acquisition]:
        """Where this module fills the holder (``g.db = connect()``, ``lock.acquire()``)."""
        if holder.kind == "g":
            return self._g_acquisitions(holder)
        if holder.kind == "global":
            return self._checkouts_of(holder)
        return []

    def _g_acquisitions(self, holder: Holder) -> list[Acquisition]:
        attribute = holder.key[2:]
        found = []
        for scope in self.model.scopes_mentioning(words_pattern([attribute])):
            if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in scan(scope).of_any(ast.Assign, ast.Call):
                value = self._filled_with(node, attribute)
                if isinstance(value, ast.Call):
                    found.append(self._acquired(holder, value, scope))
        return found

    def _acquired(self, holder: Holder, call: ast.Call, function) -> Acquisition:
        return Acquisition(holder.key, call, summary(call, 40), function, "", self.kind_of(call))

    def kind_of(self, call: ast.Call, depth: int = 0) -> str:
        """What a call hands out, by its name (``getconn`` -> pooled connection), following a
        function of this module to what it returns (``connect_db()`` -> connection)."""
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in KINDS_BY_CALL:
            return KINDS_BY_CALL[name]
        function = self.model.flask.module_functions.get(name) if isinstance(func, ast.Name) else None
        if function is not None and depth < 3:
            for statement in statements(function):
                if isinstance(statement, ast.Return) and isinstance(statement.value, ast.Call):
                    kind = self.kind_of(statement.value, depth + 1)
                    if kind != "resource":
                        return kind
        return "resource"

    def _filled_with(self, node: ast.AST, attribute: str) -> ast.expr | None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if self.g_attribute(target) == attribute:
                    return node.value
            return None
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "setdefault" and self.is_g(func.value):
            if len(node.args) == 2 and string_value(node.args[0]) == attribute:
                return node.args[1]
        if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) == 3:
            if self.is_g(node.args[0]) and string_value(node.args[1]) == attribute:
                return node.args[2]
        return None

    def _checkouts_of(self, holder: Holder) -> list[Acquisition]:
        """``lock.acquire()`` on a module-level lock, or ``global conn; conn = pool.getconn()``."""
        name = holder.display
        found = []
        for scope, call in self.model.calls_to(CHECKOUT_METHODS):
            func = call.func
            if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(func, ast.Attribute) and dotted_name(func.value) == name and func.attr == "acquire":
                found.append(self._acquired(holder, call, scope))
                continue
            parent = self.model.parents(scope).get(call)
            if isinstance(parent, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in parent.targets
            ) and name in _declared_global(scope):
                found.append(self._acquired(holder, call, scope))
        return found

    def local_checkout(self, holder: Holder, function: FunctionNode) -> Acquisition | None:
        """``conn = pool.getconn()`` in the releasing function itself."""
        value = self.local_value(holder.display, function)
        if isinstance(value, ast.Call) and is_checkout(value):
            return self._acquired(holder, value, function)
        return None

    def elsewhere(self, holder: Holder) -> Acquisition | None:
        """``g.db = ...`` written in another module of the project (found from its text)."""
        project = self.model.project
        if project is None or holder.kind != "g":
            return None
        attribute = holder.key[2:]
        assigned = re.compile(
            rf"^[ \t]*(?:flask\.)?g\.{re.escape(attribute)}[ \t]*=(?!=)[ \t]*(.+?)[ \t]*(?:#.*)?$",
            re.M,
        )
        here = project.relative(self.model.path)
        for relative in project.files_mentioning(f"g.{attribute}"):
            if relative == here:
                continue
            text = project.text(relative) or ""
            match = assigned.search(text)
            if match and "(" in match.group(1):
                line = text.count("\n", 0, match.start()) + 1
                shown = relative.replace("\\", "/")
                source = " ".join(match.group(1).split())
                if len(source) > 40:
                    source = source.split("(", 1)[0] + "(...)"
                name = re.split(r"[.(\s]", source.split("(", 1)[0])[-1]
                kind = KINDS_BY_CALL.get(name, "resource")
                return Acquisition(holder.key, None, source, None, f"`{shown}` line {line}", kind)
        return None


def is_checkout(call: ast.Call) -> bool:
    """``pool.getconn()``, ``pool.acquire()``, ``pool.get_connection()``: a pool checkout."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "getconn":
        return True
    receiver = (dotted_name(func.value) or "").lower()
    return func.attr in ("acquire", "get_connection") and "pool" in receiver


def _declared_global(function: FunctionNode) -> set[str]:
    return {
        name
        for statement in statements(function)
        if isinstance(statement, (ast.Global, ast.Nonlocal))
        for name in statement.names
    }


DBAPI_MODULES = (
    "sqlite3", "sqlite3.dbapi2", "psycopg", "psycopg2", "pymysql", "MySQLdb", "cx_Oracle",
    "oracledb", "mysql.connector", "pyodbc", "pymssql", "duckdb", "pg8000", "mariadb",
)
DBAPI_CONNECT = {f"{module}.{name}" for module in DBAPI_MODULES for name in ("connect", "Connect")}
SESSION_CLASSES = {"sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session"}


def opened_resource(model, call: ast.Call) -> str | None:
    """What a call opens that must be closed, by its kind ("connection", "Redis pub/sub"...),
    or None: a DB-API ``connect()``, ``engine.connect()``/``raw_connection()``, a SQLAlchemy
    ``Session()``, ``redis.pubsub()``, ``pool.getconn()`` (a cursor counts as the connection
    it comes from)."""
    func = call.func
    qualified = model.imports.qualified_name(func) or ""
    if qualified in DBAPI_CONNECT:
        return "database connection"
    if qualified in SESSION_CLASSES:
        return "session"
    if not isinstance(func, ast.Attribute):
        return None
    receiver = (dotted_name(func.value) or "").lower()
    if func.attr in ("connect", "raw_connection") and "engine" in receiver:
        return "connection"
    if func.attr == "pubsub":
        return "Redis pub/sub"
    if is_checkout(call) and func.attr != "acquire":
        return "pooled connection"
    return None
