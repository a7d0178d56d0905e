"""Building a project index with several processes: the modules' call facts in parallel.

A cold index spends its time parsing the modules request-time code reaches and reading their
calls (``module_facts.call_facts``), one module at a time, and each module's facts depend on
that module alone. With ``-j N`` (``flake8 -j N``, ``flaskleak check -j N``) they are computed
by N worker processes before the reach is walked, wave by wave: a dry run of the reach over the
facts already known names the modules it would parse next (the entry modules first, then the
modules their reached functions call into, and so on), the workers compute those, and the dry
run starts again, until it needs nothing new. The reach itself then runs over known facts and
gives exactly what it gives alone; a module a worker could not analyse is left to it, and
reported the usual way.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ProcessPoolExecutor

from ..options import Options
from ..source import collected_notices
from .project import ProjectIndex, index_at

CALLS = "calls"
LOCALS = ".<locals>"


def compute_reach_facts(index: ProjectIndex, jobs: int) -> None:
    """Fill ``index`` with the call facts its request-time reach needs, ``jobs`` at a time."""
    if jobs <= 1 or index.reach_is_stored():
        return
    executor = None
    try:
        while True:
            missing = modules_the_reach_needs(index)
            if not missing:
                return
            if executor is None:
                executor = ProcessPoolExecutor(max_workers=jobs)
            chunk = max(1, min(8, len(missing) // (jobs * 4)))
            tasks = [(index.root, relative, index.options) for relative in missing]
            computed = 0
            for relative, facts in zip(missing, executor.map(_calls_facts, tasks, chunksize=chunk)):
                if facts is not None:
                    index.store_facts(relative, CALLS, facts)
                    computed += 1
            if computed == 0:
                return  # what is left fails in the workers: the reach reports it itself
    finally:
        if executor is not None:
            executor.shutdown()


def modules_the_reach_needs(index: ProjectIndex) -> list[str]:
    """The modules whose call facts ``ProjectIndex.request_time`` would compute next: its
    walk, over the facts already known, stopping at each module not analysed yet."""
    missing: dict[str, None] = {}

    def known(relative: str) -> dict | None:
        facts = index.cached_facts(relative, CALLS)
        if facts is None and index.file_entry(relative) is not None:
            missing.setdefault(relative)
        return facts

    reached: set[tuple[str, str]] = set()
    queue: deque[tuple[str, str]] = deque()
    for relative in index.files:
        entry = index.file_entry(relative)
        if entry is None or not entry["entry"]:
            continue
        facts = known(relative)
        for qualname in (facts or {}).get("entries", {}):
            reached.add((relative, qualname))
            queue.append((relative, qualname))
    while queue:
        relative, qualname = queue.popleft()
        calls = (known(relative) or {}).get("calls", {}).get(qualname, {})
        targets = [(relative, local) for local in calls.get("local", [])]
        for name in calls.get("imported", []):
            located = index.locate(_without_locals(name))
            if located is not None and known(located[0]) is not None:
                targets.extend(index.targets_of(name))
        for target in targets:
            if target not in reached:
                reached.add(target)
                queue.append(target)
    return list(missing)


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
