"""FLK404 thread-per-request: threads, processes or worker pools created in request-time code.

Every request that runs the code adds a thread (with its own stack) or a whole pool, and nothing
bounds how many exist at once; an executor that is never shut down keeps its idle workers for
good. A thread target that reads ``request``/``session``/``g`` without
``copy_current_request_context`` runs outside the request context: it fails, or it is handed one
that the thread then keeps alive.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from functools import cached_property

from ..astutil import FunctionNode, dotted_name, keyword_value, short_source, walk, walk_local
from ..finding import Finding
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
CALLEE_DEPTH = 3  # how far a target's own calls are followed to find a request read


class ThreadPerRequest(Rule):
    code = "FLK404"
    name = "thread-per-request"
    summary = "thread, process or worker pool created per request"
    triggers = ("Thread", "Timer", "Process", "Executor", "Pool")
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        for function, reach in flask.request_time.items():
            for node in walk_local(function):
                if not isinstance(node, ast.Call):
                    continue
                if self.is_thread_class(node.func):
                    yield self.finding(node, self.thread_message(node, function, reach))
                elif self.model.imports.qualified_name(node.func) in EXECUTOR_CLASSES:
                    yield self.finding(node, self.executor_message(node, function, reach))

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

    def thread_message(self, call: ast.Call, function: FunctionNode, reach) -> str:
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
        kept = ""
        if copied or any(self.is_copied(target) for target in targets):
            kept = (
                ", and `copy_current_request_context` keeps each request context alive until its "
                "thread ends"
            )
        return (
            f"`{constructor}` started per request ({reach.describe()}): every request adds a "
            f"thread with its own stack and nothing bounds how many run at once{kept}; submit to "
            "one executor created at start-up, or a task queue"
        )

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

    def executor_message(self, call: ast.Call, function: FunctionNode, reach) -> str:
        constructor = short_source(call.func, 40)
        if self.is_shut_down(call, function):
            consequence = ": every request starts and stops a pool of workers"
        else:
            consequence = " and never shut down: its idle workers outlive the request"
        return (
            f"`{constructor}` created per request ({reach.describe()}){consequence}; create one "
            "executor at start-up and `submit()` to it"
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
