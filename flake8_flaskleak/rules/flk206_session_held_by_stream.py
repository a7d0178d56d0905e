"""FLK206 session-held-by-stream: a streamed generator holds a connection, cursor, session or
Redis pub/sub and does not release it in its ``finally``.

A streamed generator runs after the view has returned, for as long as the client reads. When
the client goes away the server closes the generator at its next ``yield``: code after the loop
never runs, only ``finally`` (or ``with``) does. Three shapes:

* a connection, cursor, session or pub/sub the view opens and the generator uses (a closure
  variable or an argument): only the generator can release it;
* a Redis pub/sub the generator opens itself (a connection opened there is FLK401's);
* a scoped session (``db.session``) queried by a generator that only ends when the client
  leaves (``while True``, ``pubsub.listen()``) and never ends its transaction: the session keeps
  a pooled connection for as long as the client listens.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cached_property

from ..astutil import FunctionNode, dotted_name
from ..finding import Finding
from ..model.held_resources import opened_resource
from ..model.resources import LAZY_METHODS, summary
from ..model.streams import StreamedGenerator, is_endless, streamed_generators
from ..rule import Rule
from ..scan import scan, statements

RELEASE_METHODS = {"close", "aclose", "remove", "reset", "unsubscribe", "punsubscribe", "release"}
POOL_RETURNS = {"putconn", "release"}
TRANSACTION_ENDS = {"commit", "rollback", "remove", "close"}
EXIT_EXCEPTIONS = {"GeneratorExit", "BaseException"}
FLASK_SQLALCHEMY = {"flask_sqlalchemy.SQLAlchemy", "flask_sqlalchemy.extension.SQLAlchemy"}
SCOPED_SESSION = {"sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session"}


class SessionHeldByStream(Rule):
    code = "FLK206"
    name = "session-held-by-stream"
    summary = "connection, cursor, session or Redis pub/sub held by a streamed generator"
    triggers = ("yield",)
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        if not self.model.flask.request_time:
            return
        reported: set[int] = set()
        for stream in streamed_generators(self.model):
            for node, message in [*self.captured(stream), *self.opened_inside(stream),
                                  *self.endless_sessions(stream)]:
                if id(node) not in reported:
                    reported.add(id(node))
                    yield self.finding(node, message)

    # -- opened by the view, used by the generator ---------------------------------------------

    def captured(self, stream: StreamedGenerator) -> Iterator[tuple[ast.AST, str]]:
        builder, generator = stream.builder, stream.generator
        resources = self.resources_of(builder)
        if not resources:
            return
        by_origin: dict[int, tuple[tuple, set[str]]] = {}
        for name_in_view, name_in_generator in self.names_handed_over(stream).items():
            origin = resources.get(name_in_view)
            if origin is not None:
                by_origin.setdefault(id(origin[0]), (origin, set()))[1].add(name_in_generator)
        for (call, kind, opened_as), names in by_origin.values():
            if self.view_keeps(builder, opened_as, generator):
                continue
            if released_in(generator, names):
                continue
            yield call, (
                f"the {kind} `{opened_as}` from `{summary(call, 40)}` is used by the streamed "
                f"generator `{generator.name}` ({stream.describe()}) and not released in its "
                "`finally`: the generator runs after the view returns, for as long as the "
                "client reads, and a client that disconnects stops it at a `yield`, so the "
                f"{kind} is left to the garbage collector (a client that keeps listening holds "
                f"it for good); close it in a `finally` in `{generator.name}`"
            )

    def resources_of(self, function: FunctionNode) -> dict[str, tuple[ast.Call, str, str]]:
        """Local name -> (the call that opened it, its kind, the name it was opened as), for
        resources the function opens and the lazy results computed from them."""
        found: dict[str, tuple[ast.Call, str, str]] = {}
        assignments = [
            node for node in scan(function).of(ast.Assign)
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ]
        changed = True
        while changed:  # in order, until derived names stop appearing (loops assign late)
            changed = False
            for node in assignments:
                name = node.targets[0].id
                if name in found or not isinstance(node.value, ast.Call):
                    continue
                origin = _lazy_origin(node.value, found)
                if origin is None:
                    kind = opened_resource(self.model, node.value) or self.session_maker_call(
                        node.value
                    )
                    origin = (node.value, kind, name) if kind is not None else None
                if origin is not None:
                    found[name] = origin
                    changed = True
        return found

    def session_maker_call(self, call: ast.Call) -> str | None:
        """``SessionLocal()`` where the module binds ``SessionLocal = sessionmaker(...)``."""
        if isinstance(call.func, ast.Name) and call.func.id in self.session_makers:
            return "session"
        return None

    @cached_property
    def session_makers(self) -> set[str]:
        found = set()
        for statement in statements(self.model.tree):
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                qualified = self.model.imports.qualified_name(statement.value.func) or ""
                if qualified.endswith(".sessionmaker"):
                    found.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        return found

    def names_handed_over(self, stream: StreamedGenerator) -> dict[str, str]:
        """Names of the view the generator uses -> the name it uses them by: the free names of
        a generator nested in the view, and the arguments of the call that makes it."""
        generator = stream.generator
        used: dict[str, str] = {}
        parameters = [a.arg for a in generator.args.posonlyargs + generator.args.args]
        offset = 1 if self.model.flask.info(generator).klass is not None else 0
        for position, argument in enumerate(stream.call.args):
            if isinstance(argument, ast.Name) and position + offset < len(parameters):
                used[argument.id] = parameters[position + offset]
        for keyword in stream.call.keywords:
            if keyword.arg and isinstance(keyword.value, ast.Name):
                used[keyword.value.id] = keyword.arg
        if self.model.scopes.parent_scope(generator) is stream.builder:
            bound = _bound_in(generator)
            for node in scan(generator).of(ast.Name):
                if isinstance(node.ctx, ast.Load) and node.id not in bound:
                    used.setdefault(node.id, node.id)
        return used

    def view_keeps(self, builder: FunctionNode, name: str, generator: FunctionNode) -> bool:
        """The view closes it itself (before or after building the response), manages it
        with ``with``, has the response close it (``call_on_close``), or stores it."""
        for node in scan(builder).nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in RELEASE_METHODS and _names(node.func.value) == {name}:
                    return True
                if node.func.attr == "call_on_close" and any(name in _names(a) for a in node.args):
                    return True
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                if any(name in _names(item.context_expr) for item in node.items):
                    return True
            elif isinstance(node, ast.Assign) and any(
                not isinstance(target, ast.Name) for target in node.targets
            ) and name in _names(node.value):
                return True
        return False

    # -- a pub/sub the generator opens ---------------------------------------------------------

    def opened_inside(self, stream: StreamedGenerator) -> Iterator[tuple[ast.AST, str]]:
        generator = stream.generator
        for node in scan(generator).of(ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                continue
            if not isinstance(node.value, ast.Call):
                continue
            if opened_resource(self.model, node.value) != "Redis pub/sub":
                continue
            name = node.targets[0].id
            if released_in(generator, {name}):
                continue
            yield node.value, (
                f"the Redis pub/sub `{name}` from `{summary(node.value, 40)}` in the streamed "
                f"generator `{generator.name}` ({stream.describe()}) is not closed in a "
                "`finally`: it holds a Redis connection for as long as the client listens, and "
                "after a disconnect until the generator reaches its next `yield`, then is left "
                f"to the garbage collector; call `{name}.close()` in a `finally`"
            )

    # -- a scoped session in a generator that never ends ---------------------------------------

    def endless_sessions(self, stream: StreamedGenerator) -> Iterator[tuple[ast.AST, str]]:
        generator = stream.generator
        if not self.session_names or not is_endless(generator):
            return
        uses = [
            node for node in scan(generator).of_any(ast.Name, ast.Attribute)
            if isinstance(node.ctx, ast.Load) and dotted_name(node) in self.session_names
        ]
        if not uses:
            return
        session = dotted_name(uses[0])
        for node in scan(generator).of(ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in TRANSACTION_ENDS:
                if dotted_name(func.value) == session:
                    return
        yield uses[0], (
            f"the scoped session `{session}` is queried by the streamed generator "
            f"`{generator.name}` ({stream.describe()}), which only ends when the client leaves, "
            "and never ends its transaction: from the first query the session keeps a pooled "
            "connection checked out for as long as the client listens, so a few listening "
            f"clients exhaust the pool; call `{session}.commit()` (or `rollback()`) after each "
            f"query, or `{session}.remove()` in a `finally`"
        )

    @cached_property
    def session_names(self) -> set[str]:
        """``db.session`` of a Flask-SQLAlchemy ``db``, and names bound to ``scoped_session``."""
        names = set()
        imports = self.model.imports
        for local, qualified in imports.names.items():
            if qualified in FLASK_SQLALCHEMY:
                continue
            if local == "db" or qualified.endswith(".db"):
                names.add(f"{local}.session")
        for statement in statements(self.model.tree):
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                qualified = imports.qualified_name(statement.value.func) or ""
                targets = [t.id for t in statement.targets if isinstance(t, ast.Name)]
                if qualified in FLASK_SQLALCHEMY:
                    names.update(f"{target}.session" for target in targets)
                elif qualified in SCOPED_SESSION:
                    names.update(targets)
        return names


def released_in(generator: FunctionNode, names: set[str]) -> bool:
    """The generator releases one of ``names`` where a disconnect still gets there: in a
    ``finally``, a handler of ``GeneratorExit``/``BaseException``, or a ``with``."""
    own = scan(generator)
    for node in own.of_any(ast.Try, *_TRY_STAR):
        blocks = list(node.finalbody)
        for handler in node.handlers:
            if _catches_exit(handler):
                blocks.extend(handler.body)
        for statement in blocks:
            if any(_releases(inner, names) for inner in ast.walk(statement)):
                return True
    for node in own.of_any(ast.With, ast.AsyncWith):
        if any(names & _names(item.context_expr) for item in node.items):
            return True
    return False


_TRY_STAR = (ast.TryStar,) if hasattr(ast, "TryStar") else ()


def _releases(node: ast.AST, names: set[str]) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    if node.func.attr in RELEASE_METHODS and names & _names(node.func.value):
        return True
    return node.func.attr in POOL_RETURNS and any(names & _names(a) for a in node.args)


def _catches_exit(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(dotted_name(t) in EXIT_EXCEPTIONS for t in types)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound_in(function: FunctionNode) -> set[str]:
    arguments = function.args
    bound = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
    for node in scan(function).of(ast.Name):
        if isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    return bound


def _lazy_origin(value: ast.expr, found: dict) -> tuple | None:
    """``rows = conn.execute(...)``, ``cur = conn.cursor()``: a result that still uses one of
    the ``found`` resources (it is followed as that resource)."""
    node = value
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr not in LAZY_METHODS and node.func.attr != "cursor":
            return None
        receiver = node.func.value
        if isinstance(receiver, ast.Name) and receiver.id in found:
            return found[receiver.id]
        node = receiver
    return None
