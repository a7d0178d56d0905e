"""FLK404 thread-per-request: what accumulates when request-time code starts threads and pools.

An executor or process pool created per request and never shut down keeps its idle workers for
good, one more pool per request; a thread started per request whose target never ends (a
``while True`` loop, a queue consumer, ``serve_forever()``) adds a thread for good. A thread
target that reads ``request``/``session``/``g`` without ``copy_current_request_context`` runs
outside the request context. A finite fire-and-forget thread ends with its work, and a
singleton or guarded thread (``if t is None or not t.is_alive()``) is made once: neither is
reported.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from functools import cached_property

from ..astutil import FunctionNode, dotted_name, keyword_value, short_source, walk, walk_local
from ..finding import Finding
from ..model.loops import forever_loop
from ..rule import Rule

THREAD_CLASSES = {
    "threading.Thread",
    "threading.Timer",
    "multiprocessing.Process",
    "multiprocessing.context.Process",
}
EXECUTOR_CLASSES = {
    "concurrent.futures.ThreadPoolExecutor",
    "concurrent.futures.ProcessPoolExecutor",
    "concurrent.futures.thread.ThreadPoolExecutor",
    "concurrent.futures.process.ProcessPoolExecutor",
    "multiprocessing.Pool",
    "multiprocessing.pool.Pool",
    "multiprocessing.pool.ThreadPool",
    "multiprocessing.dummy.Pool",
}
COPY_CONTEXT = {
    "flask.copy_current_request_context",
    "flask.ctx.copy_current_request_context",
    "quart.copy_current_request_context",
    "quart.ctx.copy_current_request_context",
}
SHUTDOWN_METHODS = {"shutdown", "close", "terminate"}
FOREVER_METHODS = {"serve_forever", "run_forever"}
CALLEE_DEPTH = 3  # how far a target's own calls are followed to find a request read


class ThreadPerRequest(Rule):
    code = "FLK404"
    name = "thread-per-request"
    summary = "thread, process or worker pool created per request"
    triggers = ("Thread", "Timer", "Process", "Executor", "Pool")
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        names = {name.rsplit(".", 1)[-1] for name in THREAD_CLASSES | EXECUTOR_CLASSES}
        names |= set(self.thread_subclasses)
        names |= {
            local for local, qualified in self.model.imports.names.items()
            if qualified in THREAD_CLASSES or qualified in EXECUTOR_CLASSES
        }
        for function, call in self.model.calls_to(names):
            reach = flask.per_request(function, call)
            if reach is None:
                continue  # not request-time code, or a singleton behind a once-guard
            if self.is_thread_class(call.func):
                message = self.thread_message(call, function, reach)
            elif self.model.imports.qualified_name(call.func) in EXECUTOR_CLASSES:
                message = self.executor_message(call, function, reach)
            else:
                continue
            if message is not None:
                yield self.finding(call, message)

    # -- threads -------------------------------------------------------------------------------

    def is_thread_class(self, func: ast.expr) -> bool:
        return (
            self.model.imports.qualified_name(func) in THREAD_CLASSES
            or dotted_name(func) in self.thread_subclasses
        )

    @cached_property
    def thread_subclasses(self) -> set[str]:
        classes = self.model.flask.classes
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, klass in classes.items():
                if name not in found and any(
                    self.model.imports.qualified_name(base) in THREAD_CLASSES
                    or dotted_name(base) in found
                    for base in klass.bases
                ):
                    found.add(name)
                    changed = True
        return found

    def thread_message(self, call: ast.Call, function: FunctionNode, reach) -> str | None:
        """What a thread started per request leaves behind: a request context its target
        reads without a copy, or a thread that never ends. A finite thread ends with its
        work and is not reported."""
        constructor = short_source(call.func, 40)
        copied, targets = self.targets(call, function)
        for target in targets:
            proxy = self.reads_request(target)
            if proxy and not copied and not self.is_copied(target):
                return (
                    f"thread target `{target.name}` reads `{proxy}` outside the request context "
                    f"({reach.describe()}): decorate it with `@copy_current_request_context` or "
                    "pass it the values it needs, and prefer one executor created at start-up "
                    f"to a `{constructor}` per request"
                )
        for target in targets:
            forever = self.runs_forever(target)
            if forever:
                return (
                    f"`{constructor}` started per request ({reach.describe()}) runs "
                    f"`{target.name}` forever ({forever}): every request adds a thread that "
                    "never ends, with its stack and everything it references; start one worker "
                    "at start-up and hand it work through a queue"
                )
        return None

    def runs_forever(self, target: FunctionNode) -> str | None:
        """How a thread target never ends: ``while True``, a queue consumer loop,
        ``serve_forever()``; followed into what it calls, a few calls deep."""
        flask = self.model.flask
        seen = {target}
        queue = deque([(target, 0)])
        while queue:
            function, depth = queue.popleft()
            for node in walk_local(function):
                if isinstance(node, ast.While):
                    forever = forever_loop(node)
                    if forever:
                        return forever
                    if any(_is_queue_get(inner) for inner in walk_local_block(node.body)):
                        return "a loop consuming a queue"
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    if node.func.attr in FOREVER_METHODS:
                        return f"`{node.func.attr}()`"
            if depth < CALLEE_DEPTH:
                for callee in flask.callees(function):
                    if callee not in seen:
                        seen.add(callee)
                        queue.append((callee, depth + 1))
        return None

    def targets(self, call: ast.Call, function: FunctionNode) -> tuple[bool, list[FunctionNode]]:
        """Whether the target is wrapped in ``copy_current_request_context``, and what it runs."""
        flask = self.model.flask
        name = dotted_name(call.func)
        if name in self.thread_subclasses:
            run = flask.all_methods(name).get("run")
            return False, [run] if run is not None else []
        target = keyword_value(call, "target")
        if target is None and len(call.args) >= 2:
            # Thread(group, target) is rare; Timer(interval, function) is the usual positional form
            target = call.args[1]
        if target is None:
            return False, []
        copied = False
        if isinstance(target, ast.Call) and self.is_copy_context(target.func) and target.args:
            copied, target = True, target.args[0]
        if isinstance(target, ast.Lambda):
            return copied, []
        return copied, flask.functions_called(target, call)

    def is_copy_context(self, node: ast.expr) -> bool:
        return self.model.imports.qualified_name(node) in COPY_CONTEXT

    def is_copied(self, target: FunctionNode) -> bool:
        return any(self.is_copy_context(d) for d in target.decorator_list)

    def reads_request(self, target: FunctionNode) -> str | None:
        """``request``/``session``/``g`` if the target (or what it calls) reads one."""
        flask = self.model.flask
        seen = {target}
        queue = deque([(target, 0)])
        while queue:
            function, depth = queue.popleft()
            for node in walk(function):
                proxy = flask.request_global(node)
                if proxy:
                    return proxy
            if depth < CALLEE_DEPTH:
                for callee in flask.callees(function):
                    if callee not in seen:
                        seen.add(callee)
                        queue.append((callee, depth + 1))
        return None

    # -- executors and pools -------------------------------------------------------------------

    def executor_message(self, call: ast.Call, function: FunctionNode, reach) -> str | None:
        if self.is_shut_down(call, function):
            return None  # started and stopped within the request: nothing outlives it
        constructor = short_source(call.func, 40)
        return (
            f"`{constructor}` created per request ({reach.describe()}) and never shut down: its "
            "idle workers outlive the request, one more pool per request; create one executor "
            "at start-up and `submit()` to it, or use it in a `with` block"
        )

    def is_shut_down(self, call: ast.Call, function: FunctionNode) -> bool:
        bound: set[str] = set()
        for node in walk_local(function):
            if isinstance(node, (ast.With, ast.AsyncWith)):
                if any(item.context_expr is call for item in node.items):
                    return True
            elif isinstance(node, ast.Assign) and node.value is call:
                bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if not bound:
            return False
        for node in walk_local(function):
            if isinstance(node, (ast.With, ast.AsyncWith)) and any(
                dotted_name(item.context_expr) in bound for item in node.items
            ):
                return True
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SHUTDOWN_METHODS
                and dotted_name(node.func.value) in bound
            ):
                return True
        return False


def walk_local_block(body: list[ast.stmt]):
    for statement in body:
        yield statement
        yield from walk_local(statement)


def _is_queue_get(node: ast.AST) -> bool:
    """``queue.get()``, ``self._tasks.get(timeout=1)``: a blocking read of a queue."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr != "get":
        return False
    # a mapping's get() takes a key; a queue's takes nothing, or block/timeout
    if not node.args:
        return True
    first = node.args[0]
    return isinstance(first, ast.Constant) and isinstance(first.value, bool)
