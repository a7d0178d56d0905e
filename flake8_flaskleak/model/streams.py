"""Streamed responses: which generator a response streams, and which function builds it.

Flask streams a generator when a view hands one over: ``Response(gen())``,
``app.response_class(gen())``, ``make_response(gen())``, ``stream_with_context(gen())`` (which
also keeps the request context until the generator ends), or ``return gen()`` from a view. The
generator then runs after the view has returned, for as long as the client reads, and stops at
a ``yield`` when the client goes away (the server closes it). What it holds, it holds that long.

Found from the text: functions that ``yield``, then the calls of those functions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..astutil import FunctionNode, dotted_name
from ..scan import scan
from .text import words_pattern

STREAM_WITH_CONTEXT = {
    "flask.stream_with_context", "flask.helpers.stream_with_context",
    "quart.stream_with_context", "quart.helpers.stream_with_context",
}
RESPONSE_CLASSES = {
    "flask.Response", "flask.wrappers.Response", "werkzeug.Response",
    "werkzeug.wrappers.Response", "werkzeug.wrappers.response.Response", "quart.Response",
}
MAKE_RESPONSE = {"flask.make_response", "flask.helpers.make_response", "quart.make_response"}
RESPONDING_ENTRY_KINDS = {"route", "view", "errorhandler"}


@dataclass(frozen=True)
class StreamedGenerator:
    generator: FunctionNode  # the generator function
    call: ast.Call  # ``gen(...)``: the call that makes the generator object
    site: ast.AST  # what hands it to Flask: the ``Response(...)`` call, or the ``return``
    builder: FunctionNode  # the function that builds the response
    with_context: bool  # ``stream_with_context``: the request context lives until it ends

    def describe(self) -> str:
        from .resources import summary

        if isinstance(self.site, ast.Return):
            return f"returned by `{self.builder.name}`"
        return f"`{summary(self.site, 50)}` in `{self.builder.name}`"


def generator_functions(model) -> list[FunctionNode]:
    """Functions that ``yield`` themselves (not only in a nested function)."""
    found = []
    for function in model.functions_mentioning(words_pattern(["yield"])):
        own = scan(function)
        if own.of(ast.Yield) or own.of(ast.YieldFrom):
            found.append(function)
    return found


def streamed_generators(model) -> list[StreamedGenerator]:
    flask = model.flask
    found = []
    for generator in generator_functions(model):
        decorated = any(_is(model, d, STREAM_WITH_CONTEXT) for d in generator.decorator_list)
        for scope, call in model.calls_to({generator.name}):
            if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if generator not in flask.functions_called(call.func, call):
                continue
            handed = _streaming_site(model, scope, call)
            if handed is None:
                continue
            site, with_context = handed
            found.append(
                StreamedGenerator(generator, call, site, scope, with_context or decorated)
            )
    return found


def _streaming_site(model, scope, call: ast.Call) -> tuple[ast.AST, bool] | None:
    """Where a generator object goes: into a response (the site), through
    ``stream_with_context`` or not; None when it is not streamed."""
    parents = model.parents(scope)
    node: ast.AST = call
    with_context = False
    while True:
        parent = parents.get(node)
        if isinstance(parent, ast.keyword):
            node, parent = parent, parents.get(parent)
        if isinstance(parent, ast.Call) and parent.func is not node:
            if _is(model, parent.func, STREAM_WITH_CONTEXT):
                with_context = True
                node = parent
                continue
            if _responds(model, parent.func):
                return parent, with_context
            return None
        if isinstance(parent, ast.Tuple):  # ``return gen(), {"Content-Type": ...}``
            node = parent
            continue
        if isinstance(parent, ast.Return):
            reach = model.flask.request_time.get(scope)
            if reach is not None and reach.entry.function is scope and (
                reach.entry.kind in RESPONDING_ENTRY_KINDS
            ):
                return parent, with_context  # a view returning it: Flask streams it
            return None
        if isinstance(parent, (ast.Assign, ast.AnnAssign)) and with_context:
            return parent, with_context  # ``body = stream_with_context(gen())``: only to stream
        return None


def _responds(model, func: ast.expr) -> bool:
    """``Response``, ``app.response_class``, ``current_app.response_class``, ``make_response``."""
    if _is(model, func, RESPONSE_CLASSES | MAKE_RESPONSE):
        return True
    if isinstance(func, ast.Attribute) and func.attr == "response_class":
        return model.flask.is_flask_object(func.value)
    return dotted_name(func) in ("Response", "make_response")


def _is(model, node: ast.AST, qualified: set[str]) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, (ast.Name, ast.Attribute)) and (
        model.imports.qualified_name(target) in qualified
    )


def is_endless(generator: FunctionNode) -> bool:
    """A generator that only ends when the client goes away: ``while True``, or a loop over a
    pub/sub ``listen()``."""
    own = scan(generator)
    for loop in own.of(ast.While):
        if isinstance(loop.test, ast.Constant) and loop.test.value:
            return True
    for loop in own.of(ast.For):
        iterator = loop.iter
        if isinstance(iterator, ast.Call) and isinstance(iterator.func, ast.Attribute):
            if iterator.func.attr == "listen":
                return True
    return False
