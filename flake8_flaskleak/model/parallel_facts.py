"""Building a project index with several processes: the modules' call facts in parallel.

A cold index spends its time parsing the modules request-time code reaches and reading their
calls (``module_facts.call_facts``), one module at a time, and each module's facts depend on
that module alone. With ``-j N`` (``flake8 -j N``, ``flaskleak check -j N``) they are computed
by N worker processes before the reach is walked: a dry run of the reach over the facts already
known names the modules it would parse next (the entry modules first, then the modules their
reached functions call into, and so on), the workers compute those, and as each module's facts
arrive the dry run goes on from where it stopped, handing out what it needs next, until it
needs nothing new. One pool serves every project. The reach itself then runs over known facts and
gives exactly what it gives alone; a module a worker could not analyse is left to it, and
reported the usual way.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from queue import Queue

from ..options import Options
from ..source import SourceError, collected_notices
from .project import ProjectIndex, index_at, read_file_entry, walk_reach

CALLS = "calls"
LOCALS = ".<locals>"


ENTRIES_PER_TASK = 64  # files a worker lists (reads, hashes, looks for signals) per task


def compute_reach_facts(indexes: list[ProjectIndex], jobs: int) -> None:
    """Fill each index with the call facts its request-time reach needs, ``jobs`` at a time
    (one pool of worker processes for all the projects): first the entries of the files not
    in the cache, then, project by project as its listing completes, the modules' facts."""
    waiting = [index for index in indexes if not index.reach_is_stored()]
    if jobs <= 1 or not waiting:
        return
    finished: Queue[Future] = Queue()  # completed tasks, in the order they complete
    with ProcessPoolExecutor(max_workers=jobs) as executor:
        listing: dict[Future, ProjectIndex] = {}
        facts_of: dict[Future, tuple[ProjectIndex, ReachFrontier, str]] = {}
        unlisted_tasks: dict[ProjectIndex, int] = {}

        def submit(function, task) -> Future:
            future = executor.submit(function, task)
            future.add_done_callback(finished.put)
            return future

        outstanding: dict[ProjectIndex, int] = {}  # facts tasks handed out and not back yet

        def hand_out(index: ProjectIndex, frontier: ReachFrontier) -> None:
            for relative in frontier.advance():
                task = (index.root, relative, index.options)
                facts_of[submit(_calls_facts, task)] = (index, frontier, relative)
                outstanding[index] = outstanding.get(index, 0) + 1
            if not outstanding.get(index):
                # every module it needs is known: its walk runs here while the workers go on
                # with the other projects, instead of after the last of them
                walk_reach(index)

        listed = []  # every file's entry already cached: its facts are handed out below
        for index in waiting:
            files = index.unlisted_files()
            for start in range(0, len(files), ENTRIES_PER_TASK):
                task = (files[start:start + ENTRIES_PER_TASK], index.root, index.options)
                listing[submit(_file_entries, task)] = index
            unlisted_tasks[index] = -(-len(files) // ENTRIES_PER_TASK)
            if not unlisted_tasks[index]:
                listed.append(index)
        for index in listed:  # after every listing task is out: a walk here keeps no worker idle
            hand_out(index, ReachFrontier(index))
        while listing or facts_of:
            future = finished.get()
            if future in listing:
                index = listing.pop(future)
                for relative, entry in future.result():
                    if entry is not None:  # one a worker could not read: the index says why
                        index.adopt_entry(relative, entry)
                unlisted_tasks[index] -= 1
                if not unlisted_tasks[index]:
                    hand_out(index, ReachFrontier(index))
                continue
            index, frontier, relative = facts_of.pop(future)
            outstanding[index] -= 1
            facts = future.result()
            if facts is not None:  # one a worker could not analyse is left to the reach
                index.store_facts(relative, CALLS, facts)
                frontier.arrived(relative)
            hand_out(index, frontier)


def modules_the_reach_needs(index: ProjectIndex) -> list[str]:
    """The modules whose call facts ``ProjectIndex.request_time`` would compute next."""
    return ReachFrontier(index).advance()


class ReachFrontier:
    """The walk of ``ProjectIndex.request_time`` over the facts known so far, stopping at each
    module not analysed yet and taken up again where it stopped when that module's facts
    arrive: each wave costs what it adds, not a walk from the entry points again."""

    def __init__(self, index: ProjectIndex):
        self.index = index
        self.reached: set[tuple[str, str]] = set()
        self.queue: deque[tuple[str, str]] = deque()
        # module -> what waits for its facts: None (its own entry points), or an imported name
        self.waiting: dict[str, list[str | None]] = {}
        self.asked: set[str] = set()  # modules handed out once (a failure is not asked again)
        for relative in index.files:
            entry = index.file_entry(relative)
            if entry is not None and entry["entry"]:
                self._seed(relative)

    def advance(self) -> list[str]:
        """Walk as far as the known facts go; the modules to analyse next."""
        while self.queue:
            self._visit(*self.queue.popleft())
        missing = [relative for relative in self.waiting if relative not in self.asked]
        self.asked.update(missing)
        return missing

    def arrived(self, relative: str) -> None:
        """``relative``'s call facts are known now: resume what waited for them."""
        for name in self.waiting.pop(relative, ()):
            if name is None:
                self._seed(relative)
            else:
                self._follow(name)

    def _seed(self, relative: str) -> None:
        facts = self._known(relative, None)
        for qualname in (facts or {}).get("entries", {}):
            self._reach((relative, qualname))

    def _visit(self, relative: str, qualname: str) -> None:
        facts = self.index.cached_facts(relative, CALLS) or {}
        calls = facts.get("calls", {}).get(qualname, {})
        for local in calls.get("local", []):
            self._reach((relative, local))
        for name in calls.get("imported", []):
            located = self.index.locate(_without_locals(name))
            if located is None or not self.index.may_define(*located):
                continue  # no function or class of that name there (``targets_of``)
            if self._known(located[0], name) is not None:
                self._follow(name)

    def _follow(self, name: str) -> None:
        for target in self.index.targets_of(name):
            self._reach(target)

    def _reach(self, target: tuple[str, str]) -> None:
        if target not in self.reached:
            self.reached.add(target)
            self.queue.append(target)

    def _known(self, relative: str, waiter: str | None) -> dict | None:
        """The module's call facts, or None; an analysable module without them yet is
        waited for, with what to resume when they arrive."""
        facts = self.index.cached_facts(relative, CALLS)
        if facts is None and self.index.file_entry(relative) is not None:
            self.waiting.setdefault(relative, []).append(waiter)
        return facts


def _without_locals(name: str) -> str:
    while name.endswith(LOCALS):
        name = name[: -len(LOCALS)]
    return name


def _calls_facts(task: tuple[str, str, Options]) -> dict | None:
    """In a worker: one module's call facts (None when it cannot be analysed; the main
    process then tries it itself and tells the user why)."""
    root, relative, options = task
    index = index_at(root, options)
    if index is None:
        return None
    with collected_notices():
        return index.compute_facts(relative, CALLS, quiet=True)


def _file_entries(task: tuple[list, str, Options]) -> list[tuple[str, dict | None]]:
    """In a worker: the cache entries of some files of a project (None for a file that cannot
    be read, or is too big to hold facts: the main process looks at it itself)."""
    files, root, options = task
    entries = []
    for relative, signature in files:
        try:
            entries.append((relative, read_file_entry(root, relative, signature, options)))
        except SourceError:
            entries.append((relative, None))
    return entries
