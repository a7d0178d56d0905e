"""FLK402 file-not-closed: a file opened in request-time code and bound without ``with``.

``f = open(path)`` in a view or a helper it calls, never closed in ``finally``, not returned,
stored or handed to ``send_file``: the descriptor stays open until the file object is
garbage collected, which is not at the end of the function when a traceback keeps the frame.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cached_property

from ..astutil import FunctionNode, dotted_name, keyword_value
from ..finding import Finding, FixSafety
from ..model.resources import (
    Binding,
    Opener,
    Outcome,
    bindings_in,
    collect,
    judge,
    leak_message,
)
from ..model.text import words_pattern
from ..model.with_rewrite import with_fix_applicability
from ..rule import Rule
from ..scan import scan

FILE_OPENERS = {
    "io.open", "codecs.open", "gzip.open", "gzip.GzipFile", "bz2.open", "bz2.BZ2File",
    "lzma.open", "lzma.LZMAFile", "tarfile.open", "zipfile.ZipFile", "os.fdopen",
    "tempfile.TemporaryFile", "tempfile.NamedTemporaryFile", "tempfile.SpooledTemporaryFile",
    "builtins.open",
}
PATH_CLASSES = {
    f"pathlib.{name}" for name in ("Path", "PurePath", "PosixPath", "WindowsPath")
}
PATH_METHODS = {
    "joinpath", "with_name", "with_suffix", "with_stem", "resolve", "absolute", "expanduser",
    "relative_to", "cwd", "home",
}
FLASK_RESOURCE_OPENERS = {"open_resource", "open_instance_resource"}
CANDIDATE_CALLEES = frozenset(
    {name.rsplit(".", 1)[-1] for name in FILE_OPENERS} | {"open"} | FLASK_RESOURCE_OPENERS
)
# Text a module must contain to have request-time code of its own (decorators, hooks, views).
REQUEST_CODE_MARKERS = (
    "route(", "before_request", "before_app_request", "after_request", "after_app_request",
    "teardown_", "errorhandler", "context_processor", "url_value_preprocessor",
    "url_defaults", "add_url_rule", "View", "Resource", "register_error_handler",
) + tuple(
    f".{method}({quote}/" for method in ("get", "post", "put", "patch", "delete")
    for quote in "\"'"
)
CONSEQUENCE = {"file": "its file descriptor stays open until it is garbage collected"}


class FileNotClosed(Rule):
    code = "FLK402"
    name = "file-not-closed"
    summary = "file opened in request-time code without `with` (left to the GC)"
    triggers = (
        "open(", "TemporaryFile(", "ZipFile(", "GzipFile(", "BZ2File(", "LZMAFile(",
        "open_resource(", "open_instance_resource(",
    )
    fix_safety = FixSafety.SAFE

    @cached_property
    def _path_names(self) -> set[str]:
        """Dotted names assigned a ``pathlib.Path`` somewhere in this module."""
        names: set[str] = set()
        path_classes = {name.rsplit(".", 1)[-1] for name in PATH_CLASSES} | {
            local for local, target in self.model.imports.names.items() if target in PATH_CLASSES
        }
        scopes = [self.model.tree, *self.model.scopes_mentioning(words_pattern(path_classes))]
        assignments = [
            node for scope in dict.fromkeys(scopes) for node in scan(scope).of_any(ast.Assign, ast.AnnAssign)
            if node.value is not None
        ]
        for _ in range(3):  # BASE = Path(...); STATIC = BASE / "static"
            for node in assignments:
                if self.is_path(node.value, names):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names.update(filter(None, (dotted_name(t) for t in targets)))
        return names

    def is_path(self, expr: ast.expr, known: set[str] | None = None) -> bool:
        known = self._path_names if known is None else known
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
            return self.is_path(expr.left, known)
        if isinstance(expr, ast.Attribute) and expr.attr == "parent":
            return self.is_path(expr.value, known)
        if isinstance(expr, ast.Call):
            if self.model.imports.qualified_name(expr.func) in PATH_CLASSES:
                return True
            func = expr.func
            return (
                isinstance(func, ast.Attribute)
                and func.attr in PATH_METHODS
                and self.is_path(func.value, known)
            )
        if isinstance(expr, ast.Name):
            if self.model.imports.qualified_name(expr) in PATH_CLASSES:
                return True  # the receiver of Path.cwd()
        return dotted_name(expr) in known

    @cached_property
    def _open_is_builtin(self) -> bool:
        """Whether the name ``open`` is the builtin here (not imported, not defined)."""
        if self.model.imports.is_imported("open"):
            return False
        return not any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "open"
            or isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "open" for t in node.targets)
            for node in self.model.tree.body
        )

    def _is_builtin_open(self, func: ast.expr) -> bool:
        return isinstance(func, ast.Name) and func.id == "open" and self._open_is_builtin

    def opener_of(self, call: ast.Call) -> Opener | None:
        func = call.func
        callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if callee not in CANDIDATE_CALLEES:
            return None  # the cheap test, for the many calls of a file
        if self._is_builtin_open(func):
            return Opener(call, "file")
        qualified = self.model.imports.qualified_name(func)
        if qualified in FILE_OPENERS:
            # Closing a NamedTemporaryFile deletes it: code that hands on its path may break.
            deletes = qualified == "tempfile.NamedTemporaryFile" and not _is_false(
                keyword_value(call, "delete")
            )
            return Opener(call, "file", fixable=not deletes, unfixable_reason=(
                "closing a NamedTemporaryFile deletes it, and the code may still use its path"
            ))
        if isinstance(func, ast.Attribute):
            if func.attr == "open" and self.is_path(func.value):
                return Opener(call, "file")
            if func.attr in FLASK_RESOURCE_OPENERS and self.model.flask.is_flask_object(
                func.value
            ):
                return Opener(call, "file")
        return None

    @cached_property
    def openers(self) -> dict[ast.Call, Opener]:
        """Every opener call in the module, found in one walk."""
        found = {}
        names = set(CANDIDATE_CALLEES)
        names |= {local for local, target in self.model.imports.names.items() if target in FILE_OPENERS}
        for _, node in self.model.calls_to(names):
            opener = self.opener_of(node)
            if opener is not None:
                found[node] = opener
        return found

    def judged_bindings(self) -> Iterator[tuple[Binding, Outcome, object]]:
        for function in self.request_functions():
            for binding in bindings_in(function, self.openers.get):
                facts = collect(binding)
                yield binding, judge(facts), facts

    def request_functions(self) -> Iterator[FunctionNode]:
        for function in self.model.flask.request_time:
            if function.name not in ("__enter__", "__aenter__"):
                yield function

    def may_have_request_code(self) -> bool:
        """A cheap test before the Flask model is built: most files that open files are not
        Flask code. A module with no request code of its own may be called from another's."""
        model = self.model
        extra = tuple(d.rsplit(".", 1)[-1] for d in model.options.request_decorators)
        if any(marker in model.text for marker in REQUEST_CODE_MARKERS + extra):
            return True
        project = model.project
        return project is not None and bool(project.reached_from_elsewhere(model.path))

    def check(self) -> Iterator[Finding]:
        if not self.may_have_request_code() or not self.openers:
            return  # both before the Flask model is built; the text test before any walk
        request_time = self.model.flask.request_time
        for binding, outcome, _ in self.judged_bindings():
            where = request_time[binding.function].describe()
            message = leak_message(binding, outcome, where, CONSEQUENCE)
            if message is not None:
                yield self.finding(binding.statement, message)

    def fix_applicability(self, findings):
        return with_fix_applicability(self, findings)

    def fix(self, context):
        from ..resource_fix import fix_bindings  # libcst is loaded only to fix

        return fix_bindings(self, context)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False
