"""FLK102 debug-queries-every-request: recorded queries read by code that runs on every request.

``get_debug_queries()`` (Flask-SQLAlchemy 2.x) and ``get_recorded_queries()`` (3.x) only return
something while query recording is on; calling them per request means recording is on in
production, and every query's statement and parameters are kept on the app context.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from ..astutil import dotted_name, walk
from ..finding import Finding
from ..model.flask import EntryPoint, FlaskModel, Reach
from ..model.text import words_pattern
from ..rule import Rule
from ..scan import scan

QUERY_READERS = {
    "flask_sqlalchemy.get_debug_queries": "get_debug_queries",
    "flask.ext.sqlalchemy.get_debug_queries": "get_debug_queries",
    "flaskext.sqlalchemy.get_debug_queries": "get_debug_queries",
    "flask_sqlalchemy.record_queries.get_recorded_queries": "get_recorded_queries",
}
# Words that make an ``if`` test a debug/testing switch: ``app.debug``, ``config["TESTING"]``,
# ``app.config["ENV"] == "development"``.
DEBUG_WORD = re.compile(r"debug|testing|development", re.IGNORECASE)
NEGATING_COMPARISONS = (ast.NotEq, ast.IsNot, ast.NotIn)


def query_reader_calls(model) -> Iterator[tuple[ast.Call, str]]:
    """Calls of a recorded-queries reader, with the reader's short name (any import spelling)."""
    for _, node in model.calls_of(QUERY_READERS):
        yield node, QUERY_READERS[model.imports.qualified_name(node.func)]


def _mentions_debug(test: ast.expr) -> bool:
    for node in walk(test):
        if isinstance(node, ast.Name):
            word = node.id
        elif isinstance(node, ast.Attribute):
            word = node.attr
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            word = node.value
        else:
            continue
        if DEBUG_WORD.search(word):
            return True
    return False


def implies_debug(test: ast.expr) -> bool:
    """Whether a true ``test`` means the app runs in debug, testing or development mode."""
    if isinstance(test, ast.BoolOp):
        if isinstance(test.op, ast.And):
            return any(implies_debug(value) for value in test.values)
        return all(implies_debug(value) for value in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return False
    if isinstance(test, ast.Compare) and any(
        isinstance(op, NEGATING_COMPARISONS) for op in test.ops
    ):
        return False
    return _mentions_debug(test)


def implies_production(test: ast.expr) -> bool:
    """Whether a false ``test`` means debug mode (``if not app.debug: ... else: <debug>``)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return implies_debug(test.operand)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return isinstance(test.ops[0], NEGATING_COMPARISONS) and _mentions_debug(test)
    return False


class DebugGuards:
    """Which nodes only run in debug/testing mode, judged by the ``if`` statements above them."""

    def __init__(self, model):
        self.model = model

    def guarded(self, node: ast.AST) -> bool:
        for child, parent in self.model.ancestors(node):
            if isinstance(parent, ast.If):
                if child in parent.body and implies_debug(parent.test):
                    return True
                if child in parent.orelse and implies_production(parent.test):
                    return True
        return False


def debug_only_entry(entry: EntryPoint, guards: DebugGuards, model) -> bool:
    """An entry point whose registration only happens in debug/testing mode."""
    function = entry.function
    if guards.guarded(function):
        return True
    if function.decorator_list:
        return False
    registrations = [
        node
        for scope in model.scopes_mentioning(words_pattern([function.name]))
        for node in scan(scope).of(ast.Call)
        if any(dotted_name(argument) == function.name for argument in node.args)
    ]
    return bool(registrations) and all(guards.guarded(call) for call in registrations)


class DebugQueriesEveryRequest(Rule):
    code = "FLK102"
    name = "debug-queries-every-request"
    summary = "recorded queries read on every request: query recording is on in production"
    triggers = ("get_debug_queries", "get_recorded_queries")
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        calls = list(query_reader_calls(self.model))
        if not calls:
            return
        flask = self.model.flask
        guards = DebugGuards(self.model)
        reach_by_function = self._production_reach(flask, guards)
        for call, reader in calls:
            function = flask.executing_function(call)
            reach = reach_by_function.get(function) if function is not None else None
            if reach is None or guards.guarded(call):
                continue
            yield self.finding(call, self._message(reader, reach))

    def _production_reach(self, flask: FlaskModel, guards: DebugGuards) -> dict:
        entries = [
            entry
            for entry in flask.entry_points
            if not debug_only_entry(entry, guards, self.model)
        ]
        return flask.reach_from(entries)

    @staticmethod
    def _message(reader: str, reach: Reach) -> str:
        return (
            f"`{reader}()` runs on every request ({reach.describe()}): it only returns queries "
            "while recording is on, so every query's statement and parameters are kept on the "
            "app context; log slow queries from SQLAlchemy `before_cursor_execute`/"
            "`after_cursor_execute` events instead"
        )
