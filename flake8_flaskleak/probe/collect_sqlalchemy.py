"""SQLAlchemy: pooled connections still checked out after a request, and ``scoped_session``
registries still holding a session after it. Only when the app imported SQLAlchemy.

While a batch runs the probe pauses the cyclic garbage collector, so a connection that only
the collector would give back (a ``Connection`` dropped without ``close()``) is counted as
left checked out, which is what it is in a busy worker until a collection happens to run.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from collections import Counter

from .evidence import SINGLE, Collector, Evidence, PhaseResult, frequent, rate
from .objects import instances_of


class PoolCollector(Collector):
    kind = "pool"
    always = True  # leaked connections are given back during warm-ups too, or the pool blocks

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.pool import Pool

        self.event, self.pool_class = event, Pool
        self.outstanding: dict[int, tuple[int, tuple[str, int] | None]] = {}
        self.lock = threading.Lock()
        self.left: Counter = Counter()
        self.counting = False
        event.listen(Pool, "checkout", self.on_checkout)
        event.listen(Pool, "checkin", self.on_checkin)

    def uninstall(self) -> None:
        self.event.remove(self.pool_class, "checkout", self.on_checkout)
        self.event.remove(self.pool_class, "checkin", self.on_checkin)

    def on_checkout(self, dbapi_connection, record, proxy) -> None:
        where = self.project.caller_line()
        with self.lock:
            self.outstanding[id(record)] = (threading.get_ident(), where)

    def on_checkin(self, dbapi_connection, record) -> None:
        with self.lock:
            self.outstanding.pop(id(record), None)

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.left = Counter()
        self.counting = True

    def before_request(self) -> object:
        me = threading.get_ident()
        with self.lock:
            return {key for key, (thread, _) in self.outstanding.items() if thread == me}

    def after_request(self, state: object) -> None:
        me = threading.get_ident()
        with self.lock:
            left = [
                where for key, (thread, where) in self.outstanding.items()
                if thread == me and key not in state  # type: ignore[operator]
            ]
        if self.counting:
            for where in left:
                self.left[where] += 1
        if left:  # give the leaked connections back before the pool blocks a later request
            gc.collect()

    def end_phase(self, measured_requests: int) -> PhaseResult:
        self.counting = False
        result = PhaseResult()
        total = sum(self.left.values())
        result.numbers["pool"] = (rate(total, measured_requests), "connections")
        for where, count in self.left.most_common():
            if frequent(count, measured_requests):
                path, line = where if where else (None, None)
                result.evidence.append(Evidence(
                    "pool", self.phase, rate(count, measured_requests), "connections",
                    "checked out here and still checked out after the request",
                    path, line,
                ))
        return result


class TouchRecorder:
    """Stands in for a ``scoped_session``'s registry while the probe runs, to learn which
    threads used the session during their request (every proxied call goes through it)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.touched: dict[int, set] = {}  # thread -> the scopes it used (scopefunc registries)

    def __call__(self):
        scopes = self.touched.setdefault(threading.get_ident(), set())
        scopefunc = getattr(self.inner, "scopefunc", None)
        if scopefunc is not None:
            with contextlib.suppress(Exception):
                scopes.add(scopefunc())
        return self.inner()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def holds_session(registry, scopes: set) -> bool:
    """Does the registry still hold a session for the current thread, or (a registry with a
    scopefunc, such as Flask-SQLAlchemy's per app context) for a scope the request used?"""
    store = getattr(registry, "registry", None)
    if isinstance(store, dict):
        return any(scope in store for scope in scopes)
    return getattr(store, "value", None) is not None


class ScopedSessionCollector(Collector):
    """``scoped_session`` registries of the project that a request used and that still hold
    a session when it is over: nothing called ``remove()``."""

    kind = "scoped-session"

    def install(self) -> None:
        self.scoped_class = sys.modules["sqlalchemy.orm"].scoped_session
        self.wrapped: list[tuple[str, object, TouchRecorder]] = []

    def uninstall(self) -> None:
        self.unwrap()

    def unwrap(self) -> None:
        for _, scoped, recorder in self.wrapped:
            scoped.registry = recorder.inner  # type: ignore[attr-defined]
        self.wrapped = []

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.unwrap()
        for name, scoped in instances_of(self.project, self.scoped_class):
            if isinstance(scoped.registry, TouchRecorder):  # type: ignore[attr-defined]
                continue
            if phase == SINGLE:  # each route starts clean: no session left by the previous one
                with contextlib.suppress(Exception):
                    scoped.remove()  # type: ignore[attr-defined]
            recorder = TouchRecorder(scoped.registry)  # type: ignore[attr-defined]
            scoped.registry = recorder  # type: ignore[attr-defined]
            self.wrapped.append((name, scoped, recorder))
        self.left: Counter = Counter()

    def before_request(self) -> object:
        me = threading.get_ident()
        for _, _, recorder in self.wrapped:
            recorder.touched.pop(me, None)
        return None

    def after_request(self, state: object) -> None:
        me = threading.get_ident()
        for name, _, recorder in self.wrapped:
            scopes = recorder.touched.get(me)
            if scopes is not None and holds_session(recorder.inner, scopes):
                self.left[name] += 1

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        result.numbers["scoped-session"] = (
            rate(sum(self.left.values()), measured_requests), "sessions")
        for name, count in self.left.most_common():
            if frequent(count, measured_requests):
                result.evidence.append(Evidence(
                    "scoped-session", self.phase, rate(count, measured_requests), "sessions",
                    "still holds the session the request used (no remove())",
                    name=name,
                ))
        return result
