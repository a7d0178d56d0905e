"""FLK104 app-context-never-popped: an app or request context pushed by hand and never popped.

A pushed context stays the current one of its thread (Flask's ``_cv_app``/``_app_ctx_stack``)
until it is popped: ``g``, the Flask-SQLAlchemy session and recorded queries hang off it.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..astutil import (
    FunctionNode,
    dotted_name,
    short_source,
    string_value,
    walk,
    walk_executed,
    walk_local,
)
from ..finding import Finding
from ..rule import Rule

CONTEXT_FACTORIES = {
    "app_context": "app context",
    "test_request_context": "request context",
    "request_context": "request context",
}
RELEASE_METHODS = {"pop", "__exit__"}
# Module names of modules a server imports to serve requests: a push at their top level runs in
# every worker. Elsewhere a top-level push is taken to be a one-off script's.
SERVER_MODULE_STEMS = {"wsgi", "asgi", "app", "application", "server", "main", "__init__"}


@dataclass(frozen=True)
class Push:
    """One ``.push()`` of a context: what is pushed, where, and how it is named (if it is)."""

    call: ast.Call
    kind: str  # "app context" / "request context"
    handle: str | None  # the name or dotted name the context is bound to, None if inline
    function: FunctionNode | None  # the function that runs the push, None at import time
    source: str


class AppContextNeverPopped(Rule):
    code = "FLK104"
    name = "app-context-never-popped"
    summary = "app or request context pushed by hand and never popped"
    triggers = ("app_context", "request_context")

    def check(self) -> Iterator[Finding]:
        pushes = list(self.pushes())
        for push in pushes:
            if not self.is_released(push):
                yield self.finding(push.call, self.message(push))

    # -- collecting ----------------------------------------------------------------------------

    def context_kind(self, node: ast.AST) -> str | None:
        """``"app context"`` for ``app.app_context()`` and the like, ``None`` for anything else."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return None
        kind = CONTEXT_FACTORIES.get(node.func.attr)
        receiver = node.func.value
        if kind is None:
            return None
        if isinstance(receiver, ast.Call) or self.model.flask.is_flask_object(receiver):
            return kind
        return None

    def pushes(self) -> Iterator[Push]:
        flask = self.model.flask
        for _, node in self.model.calls_to({"push"}):
            if not isinstance(node.func, ast.Attribute) or node.args:
                continue
            pushed = node.func.value
            function = flask.executing_function(node)
            kind = self.context_kind(pushed)
            handle = None
            if kind is None:
                handle = dotted_name(pushed)
                kind = self.bound_kind(handle, function) if handle else None
            if kind is not None:
                yield Push(node, kind, handle, function, self.render(pushed))

    @staticmethod
    def render(pushed: ast.expr) -> str:
        """``app.app_context().push()``; arguments shortened to ``...``."""
        if isinstance(pushed, ast.Call) and isinstance(pushed.func, ast.Attribute):
            receiver = dotted_name(pushed.func.value) or short_source(pushed.func.value, 30)
            arguments = "..." if pushed.args or pushed.keywords else ""
            return f"{receiver}.{pushed.func.attr}({arguments}).push()"
        return short_source(pushed, 40) + ".push()"

    def bound_kind(self, handle: str, function: FunctionNode | None) -> str | None:
        """The kind of context ``handle`` is bound to, in the function or at module level."""
        scopes: list[list[ast.stmt]] = []
        if function is not None:
            scopes.append(function.body)
            if "." in handle:  # self.ctx: bound in another method of the class, e.g. setUp
                binding = re.compile(re.escape(handle) + r"\s*=[^=]")
                scopes.extend(
                    other.body for other in self.model.functions_mentioning(binding)
                )
        scopes.append(self.model.tree.body)
        for body in scopes:
            for node in walk_executed(body):
                if isinstance(node, ast.Assign) and any(
                    dotted_name(target) == handle for target in node.targets
                ):
                    kind = self.context_kind(node.value)
                    if kind is not None:
                        return kind
        return None

    # -- judging -------------------------------------------------------------------------------

    def is_released(self, push: Push) -> bool:
        if push.handle is None:
            return push.function is None and not self.module_push_leaks(push.call)
        local = push.function is not None and "." not in push.handle and self.binds_locally(push)
        released = re.compile(re.escape(push.handle) + r"\s*\.\s*(?:pop|__exit__)\b")
        areas = [push.function] if local else self.model.scopes_mentioning(released)
        for area in areas:
            for node in walk(area) if local else walk_local(area):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in RELEASE_METHODS
                    and dotted_name(node.value) == push.handle
                ):
                    return True
        if local and self.escapes(push):
            return True  # returned, yielded or handed on: whoever receives it pops it
        return push.function is None and not self.module_push_leaks(push.call)

    def binds_locally(self, push: Push) -> bool:
        return any(
            isinstance(node, ast.Name)
            and node.id == push.handle
            and isinstance(node.ctx, ast.Store)
            for node in walk_executed(push.function.body)
        )

    def escapes(self, push: Push) -> bool:
        """Whether the local context object is used other than through its own attributes."""
        parents = {}
        for node in walk(push.function):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
            if (
                isinstance(node, ast.Name)
                and node.id == push.handle
                and isinstance(node.ctx, ast.Load)
                and node in parents
                and not isinstance(parents[node], ast.Attribute)
            ):
                return True
        return False

    def module_push_leaks(self, call: ast.Call) -> bool:
        """A push at import time leaks in a module that serves requests, not in a script."""
        branch = self.main_guard_branch(call)
        if branch == "main":
            return False
        if branch == "import":
            return True  # written to run only when a server or worker imports the module
        flask = self.model.flask
        stem = os.path.splitext(os.path.basename(self.model.path or ""))[0]
        return bool(flask.entry_points) or bool(flask.app_names) or stem in SERVER_MODULE_STEMS

    def main_guard_branch(self, node: ast.AST) -> str | None:
        """``"main"`` inside the branch of ``if __name__ == "__main__":`` that runs as a script,
        ``"import"`` inside the one that runs on import (its ``else``, or the body of
        ``if __name__ != "__main__":``): every worker of a server that imports the module runs
        it. None outside such an ``if``."""
        parents = self.model.parents(self.model.tree)
        child, parent = node, parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.If):
                equal = _main_test(parent.test)
                if equal is not None:
                    as_script = parent.body if equal else parent.orelse
                    return "main" if child in as_script else "import"
            child, parent = parent, parents.get(parent)
        return None

    def message(self, push: Push) -> str:
        if push.function is None:
            where = "at import time"
        else:
            klass = self.model.flask.info(push.function).klass
            prefix = f"{klass.name}." if klass is not None else ""
            where = f"in `{prefix}{push.function.name}`"
        if push.handle:
            what = f"{push.kind} `{push.handle}` pushed {where} is never popped"
        else:
            article = "an" if push.kind[0] in "aeiou" else "a"
            what = f"`{push.source}` {where} pushes {article} {push.kind} that is never popped"
        return (
            f"{what}: it stays the thread's current context, reused by later requests and "
            "tasks, so its `g`, sessions and recorded queries live for the process; push it "
            "with `with` or pop it in a `finally`"
        )


def _main_test(test: ast.expr) -> bool | None:
    """True for ``__name__ == "__main__"``, False for ``!=``, None for any other test."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    sides = {dotted_name(test.left), string_value(test.comparators[0]),
             dotted_name(test.comparators[0]), string_value(test.left)}
    if not {"__name__", "__main__"} <= sides:
        return None
    if isinstance(test.ops[0], ast.Eq):
        return True
    if isinstance(test.ops[0], ast.NotEq):
        return False
    return None
