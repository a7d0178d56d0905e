"""FLK403 whole-file-in-memory: a whole file or remote body held in memory to be sent back.

Two shapes. A view that reads a whole file (``read()``, ``readlines()``, ``read_bytes()``,
``read_text()``) or a whole remote body (``requests.get(...).content``) and returns it as the
response body: the worker holds every byte at once, per concurrent download. And a remote body
fetched without ``stream=True`` whose content is then streamed (``iter_content``, ``raw``):
``requests`` has already buffered all of it. Reading the request's own body
(``request.get_data()``, an upload's ``read()``) is not reported: that spike is bounded by
``MAX_CONTENT_LENGTH``, and nothing outlives the request.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property

from ..astutil import FunctionNode, dotted_name, last_part, short_source, walk_local
from ..finding import Finding
from ..model.dead_branches import is_dead
from ..rule import Rule

FILE_OPENERS = {
    "builtins.open",
    "io.open",
    "gzip.open",
    "bz2.open",
    "lzma.open",
    "codecs.open",
    "tarfile.open",
}
REMOTE_OPENERS = {"urllib.request.urlopen", "urllib2.urlopen"}
PATH_CLASSES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.WindowsPath"}
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "request")
REMOTE_CALLS = {
    f"{module}.{method}" for module in ("requests", "requests.api") for method in HTTP_METHODS
}
WHOLE_READS = {"read", "readlines"}
PATH_READS = {"read_bytes", "read_text"}
REMOTE_BODIES = {"content", "text"}
# Calls whose first argument becomes (part of) the response body.
BODY_WRAPPERS = {"Response", "make_response", "response_class", "BytesIO", "StringIO", "send_file"}
BODY_RETURNING_KINDS = {"route", "view", "errorhandler", "app_errorhandler"}
RAW_ATTRIBUTE = re.compile(r"\.raw\b")

ADVICE = {
    "file": "return `send_file`/`send_from_directory`, or stream it from a generator wrapped "
    "in `stream_with_context`",
    "remote": "request it with `stream=True` and return "
    "`Response(stream_with_context(r.iter_content(64 * 1024)))`",
}

@dataclass(frozen=True)
class Read:
    node: ast.AST  # the expression that reads everything
    kind: str  # "file" or "remote"
    function: FunctionNode
    sent_by_send_file: bool = False  # already handed to send_file, as bytes


class WholeFileInMemory(Rule):
    code = "FLK403"
    name = "whole-file-in-memory"
    summary = "whole file or remote body read into worker memory to be sent as the response"
    triggers = (".read", "readlines", "read_bytes", "read_text", ".content", ".text", "iter_", ".raw")
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        reported: set[ast.AST] = set()
        views: set[FunctionNode] = set()
        for entry in flask.entry_points:
            if entry.kind not in BODY_RETURNING_KINDS or entry.function in views:
                continue
            views.add(entry.function)
            reach = flask.request_time.get(entry.function)
            for read in self.returned_reads(entry.function):
                if read.node in reported or reach is None:
                    continue
                reported.add(read.node)
                via = f" via `{read.function.name}`" if read.function is not entry.function else ""
                advice = ADVICE[read.kind]
                if read.sent_by_send_file and read.kind == "file":
                    advice = "give `send_file` the path or the open file instead of its bytes"
                yield self.finding(
                    read.node,
                    f"`{short_source(read.node, 50)}` holds the whole {self.what(read)} in worker "
                    f"memory to return it as the response body ({reach.describe()}{via}): "
                    f"{advice}",
                )
        yield from self.buffered_streams(reported)

    def buffered_streams(self, reported: set[ast.AST]) -> Iterator[Finding]:
        """``r = requests.get(url)`` then ``r.iter_content(...)`` or ``r.raw``: the body was
        downloaded whole before the first chunk is handed out."""
        flask = self.model.flask
        uses: list[tuple[ast.AST, ast.AST, ast.AST]] = []  # (function, node, response)
        for function, call in self.model.calls_to({"iter_content", "iter_lines"}):
            if isinstance(call.func, ast.Attribute):
                uses.append((function, call, call.func.value))
        for function in self.model.functions_mentioning(RAW_ATTRIBUTE):
            for node in walk_local(function):
                if isinstance(node, ast.Attribute) and node.attr == "raw":
                    uses.append((function, node, node.value))
        for function, node, response in uses:
            reach = flask.request_time.get(function)
            fetch = self.unstreamed_fetch(response, function) if reach is not None else None
            if fetch is None or node in reported or is_dead(self.model, function, node):
                continue
            reported.add(node)
            yield self.finding(
                node,
                f"`{short_source(node, 50)}` streams a remote body fetched without "
                f"`stream=True` (`{short_source(fetch, 40)}`), so requests has already read all "
                f"of it into worker memory ({reach.describe()}): pass `stream=True` to the "
                "request and close the response when done",
            )

    def unstreamed_fetch(self, receiver: ast.AST, function: FunctionNode) -> ast.Call | None:
        """The ``requests.get(...)`` call without ``stream=True`` that ``receiver`` is."""
        candidates = [receiver]
        if isinstance(receiver, ast.Name):
            candidates = self.values_bound(function, receiver.id)
        fetches = [
            value for value in candidates
            if isinstance(value, ast.Call)
            and self.qualified_callee(value.func) in REMOTE_CALLS
            and not (self.qualified_callee(value.func) or "").endswith(".head")  # no body
        ]
        # every binding must fetch the whole body: a later ``stream=True`` one is the one read
        if not fetches or len(fetches) != len(candidates) or any(_streams(f) for f in fetches):
            return None
        return fetches[0]

    @staticmethod
    def what(read: Read) -> str:
        return "remote body" if read.kind == "remote" else "file"

    # -- what reads everything -----------------------------------------------------------------

    def reads_in(self, function: FunctionNode) -> Iterator[Read]:
        sources = self.sources(function)
        for node in walk_local(function):
            kind = self.whole_read(node, sources)
            if kind is not None:
                yield Read(node, kind, function)

    def whole_read(self, node: ast.AST, sources: dict[str, str]) -> str | None:
        if isinstance(node, ast.Attribute) and node.attr in REMOTE_BODIES:
            if self.source_kind(node.value, sources) == "response":
                return "remote"
            return None
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            return None
        method, receiver = node.func.attr, node.func.value
        if method in PATH_READS and not node.args:
            return "file"
        if method in WHOLE_READS and _reads_everything(node):
            kind = self.source_kind(receiver, sources)
            return kind if kind in ("file", "remote") else None
        return None

    def source_kind(self, node: ast.AST, sources: dict[str, str]) -> str | None:
        """What a receiver is: an open ``file``, a ``remote`` stream, an ``upload``, a ``path``,
        a requests ``response``; ``None`` when unknown."""
        flask = self.model.flask
        if isinstance(node, ast.Name):
            if node.id in sources:
                return sources[node.id]
        if isinstance(node, ast.Attribute):
            is_request = flask.request_global(node.value) == "request"
            if node.attr in ("stream", "input_stream") and is_request:
                return "upload"
            if node.attr == "stream" and self.source_kind(node.value, sources) == "upload_file":
                return "upload_file"
        if isinstance(node, ast.Subscript) and self.is_request_files(node.value):
            return "upload_file"
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        qualified = self.qualified_callee(func)
        if qualified in FILE_OPENERS:
            return "file"
        if qualified in REMOTE_OPENERS:
            return "remote"
        if qualified in REMOTE_CALLS:
            return "response"
        if qualified in PATH_CLASSES:
            return "path"
        if isinstance(func, ast.Attribute):
            if func.attr == "get" and self.is_request_files(func.value):
                return "upload_file"
            if func.attr in ("open", "open_resource", "open_instance_resource"):
                return "file"  # Path.open, ZipFile.open, app.open_resource: a file-like object
            if func.attr in ("joinpath", "with_suffix", "with_name", "resolve", "absolute"):
                return "path" if self.source_kind(func.value, sources) == "path" else None
        return None

    def qualified_callee(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name) and func.id == "open":
            shadowed = self.model.imports.is_imported("open") or (
                "open" in self.model.flask.module_functions
            )
            return None if shadowed else "builtins.open"
        return self.model.imports.qualified_name(func)

    def is_request_files(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "files"
            and self.model.flask.request_global(node.value) == "request"
        )

    def sources(self, function: FunctionNode) -> dict[str, str]:
        """Names bound to readables: ``with open(p) as f``, ``r = requests.get()``."""
        sources: dict[str, str] = {}
        bindings: list[tuple[ast.AST, ast.AST]] = []
        for node in walk_local(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                bindings.append((node.targets[0], node.value))
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        bindings.append((item.optional_vars, item.context_expr))
        for _ in range(2):  # a path first, then the file opened from it
            for target, value in bindings:
                if isinstance(target, ast.Name):
                    kind = self.source_kind(value, sources)
                    if kind is not None:
                        sources.setdefault(target.id, kind)
        return sources

    # -- what is returned as the body ----------------------------------------------------------

    def returned_reads(self, function: FunctionNode) -> list[Read]:
        found: list[Read] = []
        for node in walk_local(function):
            if isinstance(node, ast.Return) and node.value is not None:
                found.extend(self.carried(node.value, function, set()))
        return found

    def carried(self, expr: ast.AST, function: FunctionNode, seen: set) -> list[Read]:
        """The whole-file/remote reads whose content ``expr`` is (or wraps)."""
        key = (id(expr), function)
        if key in seen or is_dead(self.model, function, expr):
            return []  # a value bound or returned in a branch that never runs is never sent
        seen.add(key)
        kind = self.whole_read(expr, self.sources_of(function))
        if kind in ("file", "remote"):
            return [Read(expr, kind, function)]
        if isinstance(expr, ast.Name):
            return [
                read
                for value in self.values_bound(function, expr.id)
                for read in self.carried(value, function, seen)
            ]
        if isinstance(expr, ast.Tuple) and expr.elts:
            return self.carried(expr.elts[0], function, seen)
        if isinstance(expr, ast.IfExp):
            body = self.carried(expr.body, function, seen)
            return body + self.carried(expr.orelse, function, seen)
        if not isinstance(expr, ast.Call):
            return []
        func = expr.func
        if isinstance(func, ast.Attribute) and func.attr in ("decode", "encode", "strip"):
            return self.carried(func.value, function, seen)
        wrapper = last_part(dotted_name(func)) or getattr(func, "attr", None)
        if wrapper in BODY_WRAPPERS:
            body = expr.args[0] if expr.args else _keyword(expr, "response")
            found = self.carried(body, function, seen) if body is not None else []
            if wrapper == "send_file":
                found = [replace(read, sent_by_send_file=True) for read in found]
            return found
        found: list[Read] = []
        for callee in self.model.flask.functions_called(func, expr):
            for node in walk_local(callee):
                if isinstance(node, ast.Return) and node.value is not None:
                    found.extend(self.carried(node.value, callee, seen))
        return found

    def values_bound(self, function: FunctionNode, name: str) -> list[ast.AST]:
        return [
            node.value
            for node in walk_local(function)
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            and node.value is not None
            and any(
                isinstance(t, ast.Name) and t.id == name
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            )
        ]

    def sources_of(self, function: FunctionNode) -> dict[str, str]:
        if function not in self._sources:
            self._sources[function] = self.sources(function)
        return self._sources[function]

    @cached_property
    def _sources(self) -> dict[FunctionNode, dict[str, str]]:
        return {}


def _reads_everything(call: ast.Call) -> bool:
    """``read()``, ``read(-1)``, ``read(None)``: no size limit."""
    if call.keywords:
        return False
    if not call.args:
        return True
    size = call.args[0]
    if isinstance(size, ast.Constant) and size.value is None:
        return True
    if isinstance(size, ast.UnaryOp) and isinstance(size.op, ast.USub):
        return isinstance(size.operand, ast.Constant) and size.operand.value == 1
    return False


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _streams(call: ast.Call) -> bool:
    """``stream=True`` (or a value we cannot see) among the request's arguments."""
    for keyword in call.keywords:
        if keyword.arg is None:
            return True  # **options may carry it
        if keyword.arg == "stream":
            return not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
    return False
