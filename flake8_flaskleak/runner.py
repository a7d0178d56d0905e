"""Running one function over many files: in order, in worker processes with ``-j``, with a
progress bar on stderr when the run is long and stderr is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

PROGRESS_DELAY = 1.0  # seconds before a progress bar appears: short runs stay quiet


class Progress:
    """A one-line progress bar on stderr, for runs longer than a second on a terminal."""

    def __init__(self, total: int, label: str, delay: float | None = None):
        self.total, self.label = total, label
        self.delay = PROGRESS_DELAY if delay is None else delay
        self.enabled = total > 1 and sys.stderr.isatty()
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.shown = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.started < self.delay or now - self.drawn_at < 0.1:
            return
        self.drawn_at, self.shown = now, True
        width = 30
        filled = width * done // self.total
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} files"
        )
        sys.stderr.flush()

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run_over_files(
    function: Callable, items: Sequence, jobs: int, label: str, delay: float | None = None
) -> list:
    """``function(item)`` for each item, in order; in worker processes when ``jobs > 1``."""
    progress = Progress(len(items), label, delay)
    results = []
    try:
        if jobs > 1 and len(items) > 1:
            workers = min(jobs, len(items))
            chunk = max(1, min(16, len(items) // (workers * 4)))
            with ProcessPoolExecutor(max_workers=workers) as executor:
                for result in executor.map(function, items, chunksize=chunk):
                    results.append(result)
                    progress.update(len(results))
        else:
            for item in items:
                results.append(function(item))
                progress.update(len(results))
    finally:
        progress.finish()
    return results
