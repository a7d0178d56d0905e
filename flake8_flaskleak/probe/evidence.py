"""What a measurement found: the shared types of collectors, runner, link and reports."""

from __future__ import annotations

from dataclasses import dataclass, field

SINGLE, POOL = "1 thread", "thread pool"


@dataclass
class Evidence:
    """Something a route leaves behind or grows, per 1,000 requests."""

    kind: str  # "memory", "pool", "scoped-session", "thread-local", ... (see collectors)
    phase: str  # SINGLE or POOL
    amount: float  # per 1,000 requests, in ``unit``
    unit: str  # "KiB", "connections", "loggers", ...
    detail: str  # what was seen, for people: "left checked out after the request"
    path: str | None = None  # where (absolute path), when the collector can tell
    line: int | None = None
    name: str | None = None  # the runtime object, e.g. "shop.extensions.read_session"
    # Project lines whose calls fill this object (a cache's callers): memory growth there is
    # this object's, not a separate lead.
    related: frozenset[tuple[str, int]] = frozenset()
    outside: bool = False  # memory allocated with no project frame on the stack

    @property
    def location(self) -> tuple[str, int] | None:
        return (self.path, self.line) if self.path and self.line else None


@dataclass
class PhaseResult:
    numbers: dict[str, tuple[float, str]] = field(default_factory=dict)  # kind -> (per 1000, unit)
    evidence: list[Evidence] = field(default_factory=list)
    steady: set[str] = field(default_factory=set)  # kinds whose total climbed steadily


class Collector:
    """One kind of measurement. The runner calls, in order: ``install`` once;
    ``begin_route`` before a route's warm-up and ``begin_thread`` on each probe thread; per
    phase ``begin_phase``, then around every request ``before_request``/``after_request``
    (in the thread that ran it), ``sample`` after each batch (after a garbage collection),
    and ``end_phase``; ``uninstall`` at the end."""

    kind = ""
    always = False  # also called around warm-up requests (to keep the app serviceable)

    def __init__(self, project) -> None:
        self.project = project

    def install(self) -> None:
        pass

    def uninstall(self) -> None:
        pass

    def begin_route(self) -> None:
        pass

    def begin_thread(self) -> None:
        """On each of the probe's threads before a route (what a new thread would see)."""

    def begin_phase(self, phase: str) -> None:
        self.phase = phase

    def before_request(self) -> object:
        return None

    def after_request(self, state: object) -> None:
        pass

    def sample(self, requests_done: int) -> None:
        pass

    def end_phase(self, measured_requests: int) -> PhaseResult:
        return PhaseResult()


def rate(count: int, requests: int) -> float:
    return count * 1000.0 / requests if requests else 0.0


def frequent(count: int, requests: int) -> bool:
    """Exact counts of things left behind: enough to call it a pattern, not an accident."""
    return count >= 2 and count >= 0.02 * requests
