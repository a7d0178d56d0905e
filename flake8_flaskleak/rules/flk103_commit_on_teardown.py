"""FLK103 commit-on-teardown: a database session committed while the context is torn down.

``SQLALCHEMY_COMMIT_ON_TEARDOWN`` (Flask-SQLAlchemy 2.x, removed in 3.0) and hand-written
teardowns both commit after the response is built. When that commit fails, the exception
escapes the teardown: the session keeps its failed transaction for the next request on the
thread, the teardowns after it do not run, and before Flask 0.11 the app context stayed pushed.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from functools import cached_property

from ..astutil import FunctionNode, SCOPE_NODES, dotted_name, short_source, walk
from ..model.configs import CLASS_ATTRIBUTE, words
from ..finding import Finding
from ..model.flask import EntryPoint
from ..options import Options
from ..rule import Rule

COMMIT_KEY = "SQLALCHEMY_COMMIT_ON_TEARDOWN"
# Give the session back even after a failed commit: rollback, or close/remove (which roll back).
CLEANUP_METHODS = {"rollback", "remove", "close"}
# Handlers that catch whatever a commit raises (a flush error, a DB-API error, a stale row).
BROAD_ERRORS = {"Exception", "BaseException", "SQLAlchemyError"}
SESSION_FACTORIES = {"scoped_session", "sessionmaker", "Session", "async_scoped_session"}
NOT_DATABASE_SESSIONS = {"flask.session", "quart.session"}  # the signed-cookie session
MAX_HELPER_DEPTH = 6


class CommitOnTeardown(Rule):
    code = "FLK103"
    name = "commit-on-teardown"
    summary = "database session committed in a teardown (or SQLALCHEMY_COMMIT_ON_TEARDOWN on)"
    triggers = ("COMMIT_ON_TEARDOWN", "teardown_")

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        return "COMMIT_ON_TEARDOWN" in text or ("teardown_" in text and ".commit(" in text)

    def check(self) -> Iterator[Finding]:
        configs = self.model.configs
        for setting in configs.settings_anywhere(COMMIT_KEY):
            if configs.truthiness(setting) is True:
                where = f" in `{setting.owner.name}`" if setting.form == CLASS_ATTRIBUTE else ""
                yield self.finding(
                    setting.statement,
                    f"`{COMMIT_KEY} = {short_source(setting.value, 30)}`{where} makes "
                    "Flask-SQLAlchemy 2.x commit in its teardown, where a failed commit raises "
                    "and leaves the failed transaction to the next request on the thread (3.0 "
                    "removed the option): drop it and commit explicitly in the views",
                )
        if "teardown_" in self.model.text:
            yield from self._teardown_commits()

    # -- teardowns -----------------------------------------------------------------------------

    def _teardown_commits(self) -> Iterator[Finding]:
        reported: set[ast.Call] = set()
        for entry in self.model.flask.teardowns:
            for call, path, handled in self._commits_reached(entry.function):
                if call not in reported:
                    reported.add(call)
                    yield self.finding(call, self._teardown_message(entry, path, call, handled))

    def _commits_reached(self, teardown: FunctionNode) -> Iterator[tuple[ast.Call, tuple, bool]]:
        """Commits the teardown runs, in it or in helpers it calls, each with whether its
        failure is handled (caught, or the session given back in a ``finally``)."""
        seen = {teardown}
        queue = deque([(teardown, (teardown.name,), False)])
        while queue:
            function, path, outer_handled = queue.popleft()
            for node, handled in self._calls(function.body, outer_handled):
                if self._is_session_commit(node):
                    yield node, path, handled
                elif len(path) < MAX_HELPER_DEPTH:
                    for callee in self.model.flask.functions_called(node.func, node):
                        if callee not in seen:
                            seen.add(callee)
                            queue.append((callee, path + (callee.name,), handled))

    def _teardown_message(
        self, entry: EntryPoint, path: tuple, call: ast.Call, handled: bool
    ) -> str:
        receiver = short_source(call.func.value, 40)
        via = f" (via `{'` -> `'.join(path[1:])}`)" if len(path) > 1 else ""
        subject = f"teardown `{entry.function.name}` commits `{receiver}`{via}"
        if handled:
            return (
                f"{subject} after the response is sent: a commit that fails is only caught, so "
                "the write is lost without the client knowing: commit in the view and only "
                "remove() the session in teardown"
            )
        return (
            f"{subject}: a commit that fails here raises out of the teardown, skips the "
            "session's removal and leaves its failed transaction to the next request on the "
            "thread: commit in the view and only remove() the session in teardown"
        )

    def _calls(self, body: list[ast.stmt], handled: bool) -> Iterator[tuple[ast.Call, bool]]:
        """Calls in ``body``, each with whether a ``try`` around it handles its failure."""
        for statement in body:
            if isinstance(statement, SCOPE_NODES):
                continue
            if isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
                yield from self._calls(statement.body, handled or _try_handles_failure(statement))
                for handler in statement.handlers:
                    yield from self._calls(handler.body, handled)
                yield from self._calls(statement.orelse, handled)
                yield from self._calls(statement.finalbody, handled)
                continue
            for node in _own_expressions(statement):
                if isinstance(node, ast.Call):
                    yield node, handled
            for block in _blocks(statement):
                yield from self._calls(block, handled)

    def _is_session_commit(self, node: ast.AST) -> bool:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return False
        if node.func.attr != "commit":
            return False
        return self._is_session(node.func.value)

    def _is_session(self, receiver: ast.expr) -> bool:
        if self.model.imports.qualified_name(receiver) in NOT_DATABASE_SESSIONS:
            return False
        target = receiver.func if isinstance(receiver, ast.Call) else receiver
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if "session" in words(name):
            return True
        return dotted_name(receiver) in self._session_names

    @cached_property
    def _session_names(self) -> set[str]:
        """Module-level names bound to ``scoped_session(...)`` / ``sessionmaker(...)()``."""
        names: set[str] = set()
        for statement in self.model.tree.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                func = statement.value.func
                if isinstance(func, ast.Call):
                    func = func.func
                factory = (dotted_name(func) or "").rsplit(".", 1)[-1]
                if factory in SESSION_FACTORIES:
                    names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        return names


def _is_call_to(node: ast.AST, methods: set[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in methods
    )


def _catches_commit_errors(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((dotted_name(t) or "").rsplit(".", 1)[-1] in BROAD_ERRORS for t in types)


def _try_handles_failure(statement: ast.Try) -> bool:
    """A commit failing in this ``try`` is caught, or the session is given back in ``finally``.

    Once caught, the teardowns after this one run (Flask-SQLAlchemy's ``session.remove()``
    among them); a ``finally`` that rolls back or removes gives the session back even when the
    exception goes on (FLK201 reports that part).
    """
    if any(_catches_commit_errors(handler) for handler in statement.handlers):
        return True
    return any(
        _is_call_to(node, CLEANUP_METHODS)
        for child in statement.finalbody
        for node in walk(child)
    )


def _blocks(statement: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(statement, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
    for case in getattr(statement, "cases", None) or []:
        yield case.body


def _own_expressions(statement: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a statement outside its nested blocks and nested scopes."""
    stack: list[ast.AST] = []
    for name, value in ast.iter_fields(statement):
        if name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        if isinstance(value, list):
            stack.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            stack.append(value)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, SCOPE_NODES):
            stack.extend(ast.iter_child_nodes(node))
