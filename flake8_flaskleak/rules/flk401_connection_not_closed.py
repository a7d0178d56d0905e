"""FLK401 connection-not-closed: a database connection, session or HTTP session left to the GC.

``conn = engine.connect()`` with no ``with``, no ``close()`` in ``finally``, not returned or
stored: the pool's connection stays checked out until the garbage collector finalises the
``Connection``. Also ``has_table(engine.connect(), ...)`` and a bare
``engine.connect()`` statement, which drop the connection on the spot.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cached_property

from ..astutil import FunctionNode, callee_name, dotted_name
from ..finding import Finding, FixSafety
from ..model.resources import (
    Binding,
    Opener,
    Outcome,
    Verdict,
    bindings_in,
    closed_locals,
    collect,
    dropped_inline,
    judge,
    leak_message,
    summary,
    with_header,
)
from ..model.loops import forever_loop
from ..model.pins import Requirement
from ..model.text import words_pattern
from ..model.with_rewrite import with_fix_applicability
from ..rule import Rule
from ..scan import scan
from .flk402_file_not_closed import CANDIDATE_CALLEES as FILE_CALLEES


ENGINE_MAKERS = {
    "sqlalchemy.create_engine",
    "sqlalchemy.engine.create_engine",
    "sqlalchemy.engine_from_config",
    "sqlalchemy.engine.engine_from_config",
}
SESSION_CLASSES = {"sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session"}
SESSION_MAKERS = {"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"}
HTTP_SESSIONS = {"requests.Session", "requests.session", "requests.sessions.Session"}
# DB-API ``connect()``: their ``with`` ends a transaction (sqlite3, psycopg2) or is not
# guaranteed to close across versions, so the fix writes ``contextlib.closing(...)``.
DBAPI_CONNECT = {
    f"{module}.{function}"
    for module in (
        "sqlite3", "sqlite3.dbapi2", "psycopg", "psycopg2", "pymysql", "MySQLdb", "cx_Oracle",
        "oracledb", "mysql.connector", "pyodbc", "pymssql", "duckdb", "pg8000", "mariadb",
    )
    for function in ("connect", "Connect")
}
FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
# The last name of every opener call, but those made by a module's own sessionmaker.
CANDIDATE_CALLEES = frozenset({
    "connect", "Connect", "raw_connection", "Session", "session",
})
# What a ``with`` on each kind needs: ``Session`` became a context manager in SQLAlchemy 1.4.
CONNECTION_WITH = Requirement("SQLAlchemy", (1, 0), "`Connection`")
SESSION_WITH = Requirement("SQLAlchemy", (1, 4), "`Session`")
HTTP_SESSION_WITH = Requirement("requests", (2, 0), "`requests.Session`")
CONSEQUENCE = {
    "connection": "the pool keeps it checked out until it is garbage collected",
    "database connection": "the database keeps its session, locks and memory until the "
    "connection is garbage collected",
    "session": "its transaction and pooled connection stay until it is garbage collected",
    "requests session": "its connection pool keeps sockets open until it is garbage collected",
}
# Objects whose close() frees only memory: skipping it costs nothing the GC does not reclaim.
IN_MEMORY = frozenset({"BytesIO", "StringIO"})
# Lookups that take an object out of what holds it (``g``, a dict, an attribute); ``.get(...)``
# without ``stream=True`` is left out with the fully read HTTP responses (``_read_whole``).
TAKEN_FROM_HOLDER = frozenset({"pop", "getattr", "setdefault"})
HTTP_CALLS = frozenset({"get", "post", "put", "patch", "delete", "head", "request", "urlopen"})


class ConnectionNotClosed(Rule):
    code = "FLK401"
    name = "connection-not-closed"
    summary = "database connection, session or HTTP session never closed (left to the GC)"
    triggers = (
        "connect(", "raw_connection(", "Session(", "sessionmaker(", "requests.session(", ".close(",
    )
    fix_safety = FixSafety.SAFE

    # -- what opens a connection ---------------------------------------------------------------

    def _bound_kind(self, name: str) -> str | None:
        """What this module assigns to a dotted name: "engine", "sessionmaker", "other" (another
        call) or "unknown"; None when it assigns nothing to it."""
        if name not in self._bound_kinds:
            kind = None
            assigned = re.compile(r"(?<![\w.])" + re.escape(name) + r"\s*(?::[^=\n]*)?=(?!=)")
            for scope in self.model.scopes_mentioning(assigned):
                for node in scan(scope).of_any(ast.Assign, ast.AnnAssign):
                    if node.value is None:
                        continue
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    if any(dotted_name(target) == name for target in targets):
                        if kind not in ("engine", "sessionmaker"):
                            kind = self._value_kind(node.value)
            self._bound_kinds[name] = kind
        return self._bound_kinds[name]

    @cached_property
    def _bound_kinds(self) -> dict[str, str | None]:
        return {}

    @cached_property
    def _sessionmaker_names(self) -> set[str]:
        """Names this module binds to a ``sessionmaker(...)``: calling one opens a session."""
        names: set[str] = set()
        for scope, call in self.model.calls_of(SESSION_MAKERS):
            parent = self.model.parents(scope).get(call)
            if isinstance(parent, (ast.Assign, ast.AnnAssign)):
                targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
                names.update(dotted_name(t).rsplit(".", 1)[-1] for t in targets if dotted_name(t))
        return names

    def _value_kind(self, value: ast.expr) -> str:
        if self._makes_engine(value):
            return "engine"
        if isinstance(value, ast.Call) and self.model.imports.qualified_name(
            value.func
        ) in SESSION_MAKERS:
            return "sessionmaker"
        return "other" if isinstance(value, ast.Call) else "unknown"

    def _makes_engine(self, value: ast.expr) -> bool:
        if isinstance(value, ast.Attribute) and value.attr == "engine":
            return True  # db.engine (Flask-SQLAlchemy), self.engine
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Attribute):
            return value.value.attr == "engines"  # db.engines["reports"]
        if isinstance(value, ast.Call):
            if isinstance(value.func, ast.Attribute) and value.func.attr == "get_engine":
                return True
            return self.model.imports.qualified_name(value.func) in ENGINE_MAKERS
        return False

    def is_engine(self, expr: ast.expr) -> bool:
        """A SQLAlchemy engine: made here, ``db.engine``, ``get_engine()``, or named ``*engine``."""
        if self._makes_engine(expr):
            return True
        name = dotted_name(expr)
        if name is None:
            return False
        kind = self._bound_kind(name)
        if kind == "engine":
            return True
        if kind in ("other", "sessionmaker"):
            return False
        last = name.rsplit(".", 1)[-1].lower()
        return last == "engine" or last.endswith("_engine")

    @cached_property
    def _has_sessionmaker(self) -> bool:
        return "sessionmaker" in self.model.text

    def opener_of(self, call: ast.Call) -> Opener | None:
        func = call.func
        callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if callee not in CANDIDATE_CALLEES and not self._has_sessionmaker:
            return None  # the cheap test, for the many calls of a file
        if isinstance(func, ast.Attribute) and not call.args and self.is_engine(func.value):
            if func.attr == "connect":
                return Opener(call, "connection", requires=CONNECTION_WITH)
            if func.attr == "raw_connection":
                return Opener(call, "connection", needs_closing=True)
            return None
        qualified = self.model.imports.qualified_name(func)
        if qualified in DBAPI_CONNECT:
            return Opener(call, "database connection", needs_closing=True)
        if qualified in SESSION_CLASSES:
            return Opener(call, "session", requires=SESSION_WITH)
        if qualified in HTTP_SESSIONS:
            return Opener(call, "requests session", requires=HTTP_SESSION_WITH)
        if isinstance(func, ast.Call) and self._value_kind(func) == "sessionmaker":
            return Opener(call, "session", requires=SESSION_WITH)  # sessionmaker(bind=engine)()
        name = dotted_name(func)
        if name is not None and self._bound_kind(name) == "sessionmaker":
            return Opener(call, "session", requires=SESSION_WITH)
        return None

    # -- checking ------------------------------------------------------------------------------

    @cached_property
    def _opener_scopes(self) -> dict[ast.Call, tuple[Opener, ast.AST]]:
        """Every opener call of the module, with the scope it is written in."""
        names = CANDIDATE_CALLEES | self._sessionmaker_names
        scopes = self.model.scopes_mentioning(words_pattern(names, r"\s*\("))
        if self._has_sessionmaker:  # ``sessionmaker(bind=engine)()``
            scopes += self.model.scopes_mentioning(words_pattern(["sessionmaker"]))
        found = {}
        for scope in dict.fromkeys(scopes):
            for node in scan(scope).of(ast.Call):
                opener = self.opener_of(node)
                if opener is not None:
                    found[node] = (opener, scope)
        return found

    @cached_property
    def openers(self) -> dict[ast.Call, Opener]:
        return {call: opener for call, (opener, _) in self._opener_scopes.items()}

    def enclosing_function(self, call: ast.Call) -> FunctionNode | None:
        scope = self._opener_scopes[call][1]
        while isinstance(scope, ast.ClassDef):
            scope = self.model.scopes.parent_scope(scope)
        return scope if isinstance(scope, FUNCTION_TYPES) else None

    @cached_property
    def self_closed(self) -> dict[ast.Call, tuple[Opener, FunctionNode]]:
        """Calls, in request-time code, whose result is bound to a local the function itself
        closes on some path (``s = get_session()`` ... ``s.close()``), whatever made it: the
        code treats it as a resource, so a path that skips the close leaves it to the GC."""
        model = self.model
        if not model.request_code_possible:
            return {}
        functions = model.functions_mentioning(words_pattern(["close"], r"\s*\("))
        if not functions:
            return {}
        request_time = model.flask.request_time
        found = {}
        for function in functions:
            if function not in request_time or function.name in ("__enter__", "__aenter__"):
                continue
            for call, _ in closed_locals(function).items():
                if call in self.openers or callee_name(call) in FILE_CALLEES | IN_MEMORY:
                    continue  # a known opener (above), a file (FLK402), a buffer in memory
                if _read_whole(call):
                    continue  # a response read in full is back in its pool already
                if callee_name(call) in TAKEN_FROM_HOLDER:
                    continue  # `g.pop("db")`: made and owned elsewhere; this code releases it
                found[call] = (Opener(call, _resource_kind(call), needs_closing=True), function)
        return found

    def judged_bindings(self) -> Iterator[tuple[Binding, Outcome, object]]:
        openers = {call: opener for call, (opener, _) in self.self_closed.items()}
        openers.update(self.openers)
        functions = {self.enclosing_function(call) for call in self.openers}
        functions.update(function for _, function in self.self_closed.values())
        for function in sorted(filter(None, functions), key=lambda f: f.lineno):
            if function.name in ("__enter__", "__aenter__"):
                continue  # what __enter__ opens is handed to the `with` using it
            for binding in bindings_in(function, openers.get):
                facts = collect(binding)
                yield binding, judge(facts), facts

    def check(self) -> Iterator[Finding]:
        if self.model.imports.imports_any("alembic"):
            # An Alembic migration or env.py runs once per deploy in the migration tool, not in
            # the long-running service; its sessions are bound to Alembic's own connection.
            return
        if not self.openers and not self.self_closed:
            return
        roles = self.model.roles
        for binding, outcome, _ in self.judged_bindings():
            if binding.opener.call in self.self_closed and outcome.verdict not in (
                Verdict.CLOSED_LATE, Verdict.CLOSED_SOMETIMES
            ):
                continue  # only the code's own close() says it is a resource
            if not roles.serving(binding.function):
                continue  # start-up, command-line or import-time code: opened once, not per use
            if _kept_for_a_forever_loop(binding):
                continue  # a worker's own connection, used for as long as the worker runs
            message = self.binding_message(binding, outcome)
            if message is not None:
                yield self.finding(binding.statement, message)
        for call, (opener, scope) in self._opener_scopes.items():
            if not roles.serving(self.enclosing_function(call)):
                continue
            if dropped_inline(call, self.model.parents(scope)):
                where = self.where(self.enclosing_function(call))
                yield self.finding(
                    call,
                    f"{opener.kind} from `{summary(call)}` is used in passing and never "
                    f"closed ({where}): {CONSEQUENCE[opener.kind]}; bind it with "
                    f"`with {with_header(opener, 'conn')}:`",
                )

    def where(self, function: FunctionNode | None) -> str:
        if function is None:
            return "at import time"
        flask = self.model.flask
        reach = flask.request_time.get(function)
        if reach is not None:
            return reach.describe()
        return f"in `{flask.info(function).qualname}`"

    def binding_message(self, binding: Binding, outcome: Outcome) -> str | None:
        if outcome.verdict in (Verdict.MANAGED, Verdict.HANDED_ON, Verdict.CLOSED):
            return None  # before where(), which builds the Flask model
        return leak_message(binding, outcome, self.where(binding.function), CONSEQUENCE)

    # -- fixing --------------------------------------------------------------------------------

    def fix_applicability(self, findings):
        return with_fix_applicability(self, findings)

    def fix(self, context):
        from ..resource_fix import fix_bindings  # libcst is loaded only to fix

        return fix_bindings(self, context)


def _kept_for_a_forever_loop(binding: Binding) -> bool:
    """``session = requests.Session()`` then ``while True: session.get(...)``: the resource
    lives as long as the loop, which never ends; it is the worker's, not a per-use leak."""
    function = binding.function
    if function is None:
        return False
    for node in ast.walk(function):
        if (
            isinstance(node, ast.While)
            and node.lineno > binding.statement.lineno
            and forever_loop(node)
            and any(isinstance(n, ast.Name) and n.id == binding.name for n in ast.walk(node))
        ):
            return True
    return False


def _resource_kind(call: ast.Call) -> str:
    """What a closed local is, as its maker's name says (``get_db_session()`` -> session)."""
    name = callee_name(call).lower()
    if "session" in name:
        return "session"
    if "cursor" in name:
        return "cursor"
    if "conn" in name:
        return "connection"
    if name in HTTP_CALLS:
        return "response"
    if "client" in name:
        return "client"
    return "resource"


def _read_whole(call: ast.Call) -> bool:
    """``requests.get(url)`` without ``stream=True``: the body is read before it returns and
    the connection goes back to the pool; its ``close()`` releases nothing."""
    if callee_name(call) not in HTTP_CALLS - {"urlopen"}:
        return False
    stream = next((k.value for k in call.keywords if k.arg == "stream"), None)
    return stream is None or (isinstance(stream, ast.Constant) and not stream.value)
