"""Process-wide resources: threads alive, open file descriptors, and objects the garbage
collector had to close (``ResourceWarning``: a file or socket never closed by the code)."""

from __future__ import annotations

import os
import threading
import tracemalloc
import warnings
import weakref
from collections import Counter

from . import trend
from .evidence import Collector, Evidence, PhaseResult, frequent, rate

COUNT_FLOOR = 1.0  # per 1,000 requests
PROBE_THREAD_PREFIX = "flaskleak-probe"


class ThreadCollector(Collector):
    """Threads alive after each batch, by the project line that started them."""

    kind = "threads"

    def install(self) -> None:
        self.started_at: "weakref.WeakKeyDictionary[threading.Thread, tuple]" = (
            weakref.WeakKeyDictionary()
        )
        self.targets: dict[tuple[str, int], set[tuple[str, int]]] = {}
        self.original_start = threading.Thread.start
        collector = self

        def start(thread, *args, **kwargs):
            where = collector.project.caller_line()
            if where is not None:
                collector.started_at[thread] = where
                collector.note_target(where, getattr(thread, "_target", None))
            return collector.original_start(thread, *args, **kwargs)

        threading.Thread.start = start  # type: ignore[method-assign]

    def uninstall(self) -> None:
        threading.Thread.start = self.original_start  # type: ignore[method-assign]

    def note_target(self, where: tuple[str, int], target: object) -> None:
        """The lines of the thread's target: memory growing there is the thread's own."""
        code = getattr(target, "__code__", None)
        if code is not None and where not in self.targets:
            self.targets[where] = {
                (os.path.realpath(code.co_filename), line)
                for _, _, line in code.co_lines() if line is not None
            }

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.samples: list[tuple[int, int, Counter]] = []

    def sample(self, requests_done: int) -> None:
        alive = [
            thread for thread in threading.enumerate()
            if not thread.name.startswith(PROBE_THREAD_PREFIX)
        ]
        by_line = Counter(self.started_at.get(thread) for thread in alive)
        by_line.pop(None, None)
        self.samples.append((requests_done, len(alive), by_line))

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        if len(self.samples) < 2:
            return result
        xs = [sample[0] for sample in self.samples]
        counts = [sample[1] for sample in self.samples]
        result.numbers["threads"] = (trend.per_thousand(xs, counts), "threads")
        if not trend.grows(xs, counts, COUNT_FLOOR):
            return result
        located = False
        for where in set(self.samples[-1][2]):
            series = [sample[2].get(where, 0) for sample in self.samples]
            if trend.grows(xs, series, COUNT_FLOOR):
                located = True
                result.evidence.append(Evidence(
                    "threads", self.phase, trend.per_thousand(xs, series), "threads",
                    "threads started here are still running", where[0], where[1],
                    related=frozenset(self.targets.get(where, ())),
                ))
        if not located:
            result.evidence.append(Evidence(
                "threads", self.phase, trend.per_thousand(xs, counts), "threads",
                "more threads alive after each batch",
            ))
        return result


def open_descriptors() -> int | None:
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder)) - 1  # minus the one listdir itself opened
        except OSError:
            continue
    return None


class DescriptorCollector(Collector):
    """Open file descriptors after each batch (sockets, files, database files)."""

    kind = "descriptors"

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.samples: list[tuple[int, int]] = []

    def sample(self, requests_done: int) -> None:
        count = open_descriptors()
        if count is not None:
            self.samples.append((requests_done, count))

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        if len(self.samples) < 2:
            return result
        xs = [x for x, _ in self.samples]
        counts = [count for _, count in self.samples]
        result.numbers["descriptors"] = (trend.per_thousand(xs, counts), "descriptors")
        if trend.grows(xs, counts, COUNT_FLOOR):
            result.evidence.append(Evidence(
                "descriptors", self.phase, trend.per_thousand(xs, counts), "descriptors",
                "more file descriptors open after each batch",
            ))
        return result


def resource_name(warning_text: str) -> str:
    """``unclosed file <...>`` -> "file"; ``unclosed <socket.socket ...>`` -> "socket"."""
    text = warning_text.lower()
    for name in ("file", "socket", "database", "transport", "event loop"):
        if name in text:
            return "database connection" if name == "database" else name
    return "object"


class UnclosedCollector(Collector):
    """``ResourceWarning``s: files and sockets closed by the garbage collector instead of by
    the code, located at the project line that opened them (tracemalloc knows)."""

    kind = "unclosed"

    def install(self) -> None:
        self.counts: Counter = Counter()
        self.saved_filters = warnings.filters[:]
        self.saved_show = getattr(warnings, "_showwarnmsg", None)
        warnings.simplefilter("ignore")  # the app's deprecation warnings are not the probe's
        warnings.simplefilter("always", ResourceWarning)
        collector = self

        def show(message):
            if issubclass(message.category, ResourceWarning):
                collector.record(message)

        if self.saved_show is not None:
            warnings._showwarnmsg = show  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        warnings.filters[:] = self.saved_filters
        if self.saved_show is not None:
            warnings._showwarnmsg = self.saved_show  # type: ignore[attr-defined]

    def record(self, message) -> None:
        where = None
        source = getattr(message, "source", None)
        if source is not None:
            traceback = tracemalloc.get_object_traceback(source)
            if traceback is not None:
                where = self.project.traceback_line(traceback)
        if where is None and self.project.contains(message.filename):
            where = (message.filename, message.lineno)
        self.counts[(where, resource_name(str(message.message)))] += 1

    def begin_phase(self, phase: str) -> None:
        super().begin_phase(phase)
        self.counts = Counter()

    def end_phase(self, measured_requests: int) -> PhaseResult:
        result = PhaseResult()
        total = sum(self.counts.values())
        result.numbers["unclosed"] = (rate(total, measured_requests), "objects")
        for (where, what), count in self.counts.most_common():
            if frequent(count, measured_requests):
                path, line = where if where else (None, None)
                result.evidence.append(Evidence(
                    "unclosed", self.phase, rate(count, measured_requests), f"{what}s",
                    f"{what} never closed by the code: the garbage collector closed it",
                    path, line,
                ))
        return result
