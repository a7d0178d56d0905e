"""Per-process state the app can pile up: thread-local attributes left after a request, app
contexts pushed and never popped, loggers and handlers, matplotlib figures, ``functools``
caches."""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter, deque

from . import trend
from .evidence import Collector, Evidence, PhaseResult, frequent, rate
from .objects import instances_of, project_objects

COUNT_FLOOR = 1.0  # per 1,000 requests


def local_attributes(local: object) -> list[str]:
    """The names the current thread (or context) has set on a thread-local."""
    try:
        if isinstance(local, threading.local):
            values = vars(local)
        else:  # werkzeug.local.Local keeps a ContextVar holding a dict (Werkzeug 2.1+)
            values = object.__getattribute__(local, "_Local__storage").get({})
    except Exception:
        return []
    return list(values)


def forget_local(local: object) -> None:
    """Empty the current thread's view of a thread-local, as a new thread would find it."""
    try:
        if isinstance(local, threading.local):
            vars(local).clear()
        else:
            local.__release_local__()  # type: ignore[attr-defined]
    except Exception:
        pass


class ThreadLocalCollector(Collector):
    """Attributes a ``threading.local``/werkzeug ``Local`` of the project still holds after a
    request, on the thread that served it. The probe's threads start each route with empty
    thread-locals, so what is there was written by this route's requests."""

    kind = "thread-local"

    def begin_route(self) -> None:
        kinds: list[type] = [threading.local]
        werkzeug_local = sys.modules.get("werkzeug.local")
        if werkzeug_local is not None and hasattr(werkzeug_local, "Local"):
            kinds.append(werkzeug_local.Local)
        self.locals = [
            (name, value) for kind in kinds for name, value in instances_of(self.project, kind)
        ]

    def begin_thread(self) -> None:
        for _, local in self.locals:
            forget_local(local)

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.left: Counter = Counter()
        self.attributes: dict[str, set[str]] = {}

    def after_request(self, state: object) -> None:
        for name, local in self.locals:
            left = local_attributes(local)
            if left:
                self.left[name] += 1
                self.attributes.setdefault(name, set()).update(left)

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        result.numbers["thread-local"] = (
            rate(sum(self.left.values()), measured_requests), "requests")
        for name, count in self.left.most_common():
            if frequent(count, measured_requests):
                names = ", ".join(sorted(self.attributes[name])[:5])
                result.evidence.append(Evidence(
                    "thread-local", self.phase, rate(count, measured_requests), "requests",
                    f"keeps {names} after the request, until the thread's next one",
                    name=name,
                ))
        return result


class AppContextCollector(Collector):
    """App contexts pushed during a request and never popped (located where pushed)."""

    kind = "app-context"

    def install(self) -> None:
        from flask.ctx import AppContext

        self.context_class = AppContext
        self.original_push, self.original_pop = AppContext.push, AppContext.pop
        self.pushed: dict[int, tuple[int, tuple[str, int] | None]] = {}
        self.lock = threading.Lock()
        collector = self

        def push(context, *args, **kwargs):
            where = collector.project.caller_line()
            with collector.lock:
                collector.pushed[id(context)] = (threading.get_ident(), where)
            return collector.original_push(context, *args, **kwargs)

        def pop(context, *args, **kwargs):
            with collector.lock:
                collector.pushed.pop(id(context), None)
            return collector.original_pop(context, *args, **kwargs)

        AppContext.push, AppContext.pop = push, pop  # type: ignore[method-assign]

    def uninstall(self) -> None:
        self.context_class.push = self.original_push  # type: ignore[method-assign]
        self.context_class.pop = self.original_pop  # type: ignore[method-assign]

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.left: Counter = Counter()

    def before_request(self) -> object:
        me = threading.get_ident()
        with self.lock:
            return {key for key, (thread, _) in self.pushed.items() if thread == me}

    def after_request(self, state: object) -> None:
        me = threading.get_ident()
        with self.lock:
            left = [(key, where) for key, (thread, where) in self.pushed.items()
                    if thread == me and key not in state]  # type: ignore[operator]
            for key, _ in left:  # counted once; ids can be reused by later contexts
                del self.pushed[key]
        for _, where in left:
            self.left[where] += 1

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        result.numbers["app-context"] = (
            rate(sum(self.left.values()), measured_requests), "contexts")
        for where, count in self.left.most_common():
            if frequent(count, measured_requests):
                path, line = where if where else (None, None)
                result.evidence.append(Evidence(
                    "app-context", self.phase, rate(count, measured_requests), "contexts",
                    "app context pushed here and never popped", path, line,
                ))
        return result


class LoggingCollector(Collector):
    """Loggers created (they are never freed) and handlers added, by project line."""

    kind = "loggers"

    def install(self) -> None:
        self.manager_class = type(logging.Logger.manager)
        self.original_get_logger = self.manager_class.getLogger
        self.original_add_handler = logging.Logger.addHandler
        self.created: Counter = Counter()
        self.added: Counter = Counter()
        collector = self

        def get_logger(manager, name):
            new = name not in manager.loggerDict
            logger = collector.original_get_logger(manager, name)
            if new:
                collector.created[collector.project.caller_line()] += 1
            return logger

        def add_handler(logger, handler):
            had = handler in logger.handlers
            collector.original_add_handler(logger, handler)
            if not had:
                collector.added[collector.project.caller_line()] += 1

        self.manager_class.getLogger = get_logger  # type: ignore[method-assign]
        logging.Logger.addHandler = add_handler  # type: ignore[method-assign]

    def uninstall(self) -> None:
        self.manager_class.getLogger = self.original_get_logger  # type: ignore[method-assign]
        logging.Logger.addHandler = self.original_add_handler  # type: ignore[method-assign]

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.samples: list[tuple[int, int, int]] = []

    def sample(self, requests_done: int) -> None:
        if not self.samples:  # counting starts after the warm-up
            self.created.clear()
            self.added.clear()
        loggers = [logging.getLogger()] + [
            value for value in list(logging.Logger.manager.loggerDict.values())
            if isinstance(value, logging.Logger)
        ]
        handlers = sum(len(logger.handlers) for logger in loggers)
        self.samples.append((requests_done, len(loggers), handlers))

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        if len(self.samples) < 2:
            return result
        xs = [sample[0] for sample in self.samples]
        for position, kind, counter, what in (
            (1, "loggers", self.created, "loggers created here (a logger is never freed)"),
            (2, "handlers", self.added, "handlers added here and still attached"),
        ):
            series = [sample[position] for sample in self.samples]
            result.numbers[kind] = (trend.per_thousand(xs, series), kind)
            if not trend.grows(xs, series, COUNT_FLOOR):
                continue
            located = [(where, count) for where, count in counter.most_common()
                       if where is not None and frequent(count, measured_requests)]
            for (path, line), count in located:
                result.evidence.append(Evidence(
                    kind, self.phase, rate(count, measured_requests), kind, what, path, line))
            if not located:
                result.evidence.append(Evidence(
                    kind, self.phase, trend.per_thousand(xs, series), kind,
                    f"more {kind} after each batch"))
        return result


CONTAINER_TYPES = (list, dict, set, deque)


class ContainerCollector(Collector):
    """The project's module-level and class-level containers (lists, dicts, sets, deques
    without ``maxlen``, and their subclasses) that gain entries with request traffic."""

    kind = "container"

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.containers = [
            (name, value) for name, value in project_objects(self.project)
            if issubclass(type(value), CONTAINER_TYPES)
            and not (issubclass(type(value), deque) and value.maxlen is not None)
        ]
        self.samples: list[tuple[int, list[int]]] = []

    def sample(self, requests_done: int) -> None:
        self.samples.append((requests_done, [len(value) for _, value in self.containers]))

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        if len(self.samples) < 2:
            return result
        xs = [x for x, _ in self.samples]
        for index, (name, _) in enumerate(self.containers):
            series = [sizes[index] for _, sizes in self.samples]
            if trend.grows(xs, series, COUNT_FLOOR):
                result.evidence.append(Evidence(
                    "container", self.phase, trend.per_thousand(xs, series), "entries",
                    "gains entries with request traffic, never shrinks", name=name,
                ))
        return result


class FigureCollector(Collector):
    """matplotlib figures still open in pyplot's registry (only when the app uses pyplot)."""

    kind = "figures"

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.samples: list[tuple[int, int]] = []

    def sample(self, requests_done: int) -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            self.samples.append((requests_done, len(pyplot.get_fignums())))

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        if len(self.samples) < 2:
            return result
        xs = [x for x, _ in self.samples]
        counts = [count for _, count in self.samples]
        result.numbers["figures"] = (trend.per_thousand(xs, counts), "figures")
        if trend.grows(xs, counts, COUNT_FLOOR):
            result.evidence.append(Evidence(
                "figures", self.phase, trend.per_thousand(xs, counts), "figures",
                "more pyplot figures open after each batch (never plt.close()d)"))
        return result


def unbounded(cache: object) -> bool:
    try:
        return cache.cache_info().maxsize is None  # type: ignore[attr-defined]
    except Exception:
        return False


class CacheCollector(Collector):
    """``functools`` caches of the project whose size climbs with request traffic."""

    kind = "cache"

    def __init__(self, project, callers=None) -> None:
        super().__init__(project)
        self.callers = callers if callers is not None else {}  # function -> lines calling it

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        # Unbounded caches only: a bounded one filling up to its maxsize is doing its job.
        self.caches = [
            (name, value) for name, value in project_objects(self.project)
            if callable(getattr(value, "cache_info", None)) and hasattr(value, "__wrapped__")
            and unbounded(value)
        ]
        self.samples: list[tuple[int, list[int]]] = []

    def sample(self, requests_done: int) -> None:
        sizes = []
        for _, cache in self.caches:
            try:
                sizes.append(cache.cache_info().currsize)
            except Exception:
                sizes.append(0)
        self.samples.append((requests_done, sizes))

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        if len(self.samples) < 2:
            return result
        xs = [x for x, _ in self.samples]
        total = [sum(sizes) for _, sizes in self.samples]
        result.numbers["cache"] = (trend.per_thousand(xs, total), "entries")
        for index, (name, cache) in enumerate(self.caches):
            series = [sizes[index] for _, sizes in self.samples]
            if not trend.grows(xs, series, COUNT_FLOOR):
                continue
            code = getattr(getattr(cache, "__wrapped__", None), "__code__", None)
            path = code.co_filename if code else None
            line = code.co_firstlineno if code else None
            result.evidence.append(Evidence(
                "cache", self.phase, trend.per_thousand(xs, series), "entries",
                "gains an entry per distinct request value", path, line, name=name,
                related=frozenset(self.callers.get((path, line), ())),
            ))
        return result
