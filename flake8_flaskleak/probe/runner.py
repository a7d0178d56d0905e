"""Drive each route: a traced warm-up, then batches on one thread and on a small pool.

Per route: ``warmup`` requests with line tracing on (which project lines it reaches), then on
one thread ``batches`` batches of ``requests / batches`` requests, then the same on a pool of
``threads`` threads (after a warm-up there too, so every thread has served requests). The
cyclic garbage collector is paused during a batch and run before each sample.
"""

from __future__ import annotations

import gc
import itertools
import re
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .collect_memory import MemoryCollector
from .collect_process import (
    PROBE_THREAD_PREFIX,
    DescriptorCollector,
    ThreadCollector,
    UnclosedCollector,
)
from .collect_state import (
    AppContextCollector,
    CacheCollector,
    ContainerCollector,
    FigureCollector,
    LoggingCollector,
    ThreadLocalCollector,
)
from .errors import ProbeError, describe_exception
from .evidence import POOL, SINGLE, Collector, Evidence
from .objects import bounded_containers, container_state
from .routes import RoutePlan
from .static_link import LinkedFinding, ReachTracer

MAX_ERRORS = 3


@dataclass
class Settings:
    requests: int = 500  # measured requests per phase
    warmup: int = 100
    batches: int = 5
    threads: int = 4
    memory_floor_kib: float = 8.0  # growth per 1,000 requests below which memory is flat
    fill_limit: int = 3000  # most extra warm-up requests spent filling bounded containers


@dataclass
class RouteResult:
    label: str
    endpoint: str
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    numbers: dict[str, dict[str, tuple[float, str]]] = field(default_factory=dict)
    steady: dict[str, set[str]] = field(default_factory=dict)  # phase -> kinds that climb
    evidence: list[Evidence] = field(default_factory=list)
    executed: dict[str, set[int]] = field(default_factory=dict)
    findings: list[LinkedFinding] = field(default_factory=list)
    leads: list[Evidence] = field(default_factory=list)

    def note_error(self, text: str) -> None:
        if text not in self.errors and len(self.errors) < MAX_ERRORS:
            self.errors.append(text)

    def memory(self, phase: str) -> float | None:
        value = self.numbers.get(phase, {}).get("memory")
        return value[0] if value else None

    @property
    def growth_kib(self) -> float:
        """The larger memory growth per 1,000 requests of the two phases."""
        values = [self.memory(phase) for phase in (SINGLE, POOL)]
        return max([value for value in values if value is not None], default=0.0)

    @property
    def grows(self) -> bool:
        """Memory climbs steadily in every phase (noise and start-up costs show in one)."""
        return bool(self.steady) and all("memory" in kinds for kinds in self.steady.values())

    @property
    def failing(self) -> bool:
        return any(status == "raised" or status >= 500 for status in self.statuses)


def agreed_memory(evidence: list[Evidence]) -> list[Evidence]:
    """Memory growth at a line counts when both phases saw it: a real leak grows on one
    thread and on the pool alike; start-up costs of a thread or a cache show in one only."""
    seen: dict[tuple, set[str]] = {}
    for item in evidence:
        if item.kind == "memory":
            seen.setdefault((item.path, item.line), set()).add(item.phase)
    return [item for item in evidence
            if item.kind != "memory" or len(seen[(item.path, item.line)]) > 1]


def build_collectors(project, settings: Settings, callers) -> list[Collector]:
    collectors: list[Collector] = [
        MemoryCollector(project, settings.memory_floor_kib),
        ThreadCollector(project),
        DescriptorCollector(project),
        UnclosedCollector(project),
        ThreadLocalCollector(project),
        AppContextCollector(project),
        LoggingCollector(project),
        FigureCollector(project),
        CacheCollector(project, callers),
        ContainerCollector(project),
    ]
    if "sqlalchemy" in sys.modules:  # only measured when the app uses SQLAlchemy
        from .collect_sqlalchemy import PoolCollector, ScopedSessionCollector

        collectors.append(PoolCollector(project))
        if "sqlalchemy.orm" in sys.modules:
            collectors.append(ScopedSessionCollector(project))
    return collectors


class Runner:
    def __init__(self, app, project, settings: Settings, guard=None) -> None:
        self.app, self.project, self.settings, self.guard = app, project, settings, guard
        self.tracer = ReachTracer(project)
        self.collectors = build_collectors(project, settings, self.tracer.callers)
        self.always = [c for c in self.collectors if c.always]  # also during warm-ups
        self.current: RouteResult | None = None
        self.lock = threading.Lock()

    def run(self, plans: list[RoutePlan]) -> list[RouteResult]:
        import flask

        installed: list[Collector] = []
        flask.got_request_exception.connect(self._on_exception, self.app, weak=False)
        gc.collect()
        gc.freeze()  # what exists before the first request: never rescanned by collections
        # The probe's own threads serve every route: one for the one-thread phase, a pool for
        # the other (new threads per route would add per-thread start-up allocations to the
        # measurement). Their thread-locals are emptied before each route, as on new threads.
        self.single = ThreadPoolExecutor(1, f"{PROBE_THREAD_PREFIX}-single")
        self.pool = (ThreadPoolExecutor(self.settings.threads, f"{PROBE_THREAD_PREFIX}-pool")
                     if self.settings.threads >= 2 else None)
        try:
            for collector in self.collectors:
                collector.install()
                installed.append(collector)
            return [self.run_route(plan) for plan in plans]
        finally:
            self.single.shutdown(wait=True)
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            gc.unfreeze()
            flask.got_request_exception.disconnect(self._on_exception, self.app)
            for collector in reversed(installed):
                collector.uninstall()

    def _on_exception(self, sender, exception=None, **extra) -> None:
        if self.current is not None and exception is not None:
            self.current.note_error(describe_exception(exception))

    def run_route(self, plan: RoutePlan) -> RouteResult:
        result = RouteResult(plan.label, plan.endpoint)
        self.current = result
        if self.guard is not None:
            self.guard.where = plan.label
        numbers = itertools.count()
        for collector in self.collectors:
            collector.begin_route()
        self.single.submit(self.run_single, plan, result, numbers).result()
        if self.pool is not None:
            clients: dict[int, object] = {}

            def thread_client():
                ident = threading.get_ident()
                if ident not in clients:
                    clients[ident] = self.app.test_client()
                return clients[ident]

            self.on_every_pool_thread(self.forget_thread_state)
            self.measure(plan, result, POOL, numbers, thread_client)
            result.evidence = agreed_memory(result.evidence)
        self.current = None
        return result

    def forget_thread_state(self) -> None:
        for collector in self.collectors:
            collector.begin_thread()

    def on_every_pool_thread(self, function) -> None:
        barrier = threading.Barrier(self.settings.threads)

        def run_once() -> None:
            function()
            barrier.wait(timeout=30)  # keeps this thread busy until every thread ran it

        futures = [self.pool.submit(run_once) for _ in range(self.settings.threads)]
        for future in futures:
            future.result()

    def run_single(self, plan: RoutePlan, result: RouteResult, numbers) -> None:
        """The traced warm-up, filling bounded containers, and the one-thread batches."""
        self.forget_thread_state()
        client = self.app.test_client()
        self.tracer.start()
        try:
            for _ in range(self.settings.warmup):
                self.send(plan, client, next(numbers), result, measured=False)
        finally:
            result.executed = self.tracer.stop()
        self.fill_bounded(plan, client, numbers, result)
        self.measure(plan, result, SINGLE, numbers, lambda: client)

    def fill_bounded(self, plan: RoutePlan, client, numbers, result: RouteResult) -> None:
        """More warm-up while the route fills or rotates a bounded container or cache of the
        project: a ``deque(maxlen=1000)`` reaches its steady state after 1,000 requests."""
        containers = bounded_containers(self.project)
        if not containers or self.settings.fill_limit <= 0:
            return
        before = [container_state(value) for _, value, _ in containers]
        chunk = 50
        for _ in range(chunk):
            self.send(plan, client, next(numbers), result, measured=False)
        after = [container_state(value) for _, value, _ in containers]
        touched = [bound for (_, _, bound), old, new in zip(containers, before, after)
                   if old != new]
        needed = min(max(touched, default=0) + chunk, self.settings.fill_limit)
        for _ in range(needed - chunk):
            self.send(plan, client, next(numbers), result, measured=False)

    def measure(self, plan, result: RouteResult, phase: str, numbers, get_client) -> None:
        pool = self.pool if phase == POOL else None

        def send_many(count: int, measured: bool = True) -> None:
            if pool is None:
                for _ in range(count):
                    self.send(plan, get_client(), next(numbers), result, measured)
            else:
                futures = [pool.submit(lambda: self.send(plan, get_client(), next(numbers),
                                                         result, measured))
                           for _ in range(count)]
                for future in futures:
                    future.result()

        if pool is not None:
            send_many(max(self.settings.warmup, self.settings.threads * 4), measured=False)
        for collector in self.collectors:
            collector.begin_phase(phase)
        per_batch = max(1, self.settings.requests // max(1, self.settings.batches))
        done = 0
        self.sample(done)
        for _ in range(max(2, self.settings.batches)):
            gc.disable()  # what only the cyclic collector would free counts until the sample
            try:
                send_many(per_batch)
            finally:
                gc.enable()
            done += per_batch
            self.sample(done)
        numbers_seen: dict[str, tuple[float, str]] = {}
        steady: set[str] = set()
        for collector in self.collectors:
            outcome = collector.end_phase(done)
            numbers_seen.update(outcome.numbers)
            steady |= outcome.steady
            result.evidence.extend(outcome.evidence)
        result.numbers[phase] = numbers_seen
        result.steady[phase] = steady

    def sample(self, done: int) -> None:
        re.purge()  # the regex cache is bounded (512 patterns) and every upload fills it
        gc.collect()
        for collector in self.collectors:
            collector.sample(done)

    def send(self, plan: RoutePlan, client, number: int, result: RouteResult,
             measured: bool = True) -> None:
        collectors = self.collectors if measured else self.always
        states = [collector.before_request() for collector in collectors]
        method, url, options = plan.request(number)
        status: int | str
        try:
            response = client.open(url, method=method, **options)
            status = response.status_code
            response.close()
        except Exception as error:  # the app's exception, propagated (TESTING) or not
            status = "raised"
            with self.lock:
                result.note_error(describe_exception(error))
        finally:
            for collector, state in zip(collectors, states):
                collector.after_request(state)
        with self.lock:
            result.statuses[status] += 1
        self.check_network()

    def check_network(self) -> None:
        attempt = self.guard.first_attempt() if self.guard is not None else None
        if attempt is not None:
            raise ProbeError(
                f"{attempt.where} tried to connect to {attempt.address}: outgoing network "
                "connections are blocked while probing (--allow-network allows them)"
            )
