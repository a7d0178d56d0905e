"""The link between the static findings and what the probe measured, in one place.

Static findings come from ``engine.analyse`` (the code path ``flaskleak check`` uses), for
every Python file under the project root. A finding is *reached* by a route when, during the
route's traced warm-up requests, its line ran, or a line of the function that contains it
(the decorator lines count as the function's), or when the route left behind the runtime
object its line names (``read_session = scoped_session(...)`` at module level runs at import,
not per request). It is *confirmed* when a measurement of a kind that can show its leak points
at it: at its line or inside its function, or at the object its line names, or (for
measurements that have no location, such as open descriptors) anywhere in a route that
reaches it. Measurements that confirm nothing are *leads*.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from .evidence import Evidence

# Which measurements can show which rule's leak. Memory growth can show any rule's.
KIND_CODES: dict[str, frozenset[str] | None] = {
    "memory": None,
    "pool": frozenset({"FLK401", "FLK202", "FLK205", "FLK206", "FLK405"}),
    "scoped-session": frozenset({"FLK202"}),
    "thread-local": frozenset({"FLK203", "FLK303"}),
    "app-context": frozenset({"FLK104"}),
    "loggers": frozenset({"FLK305", "FLK309"}),
    "handlers": frozenset({"FLK305", "FLK309"}),
    "figures": frozenset({"FLK406"}),
    "cache": frozenset({"FLK304"}),
    "container": frozenset({"FLK301", "FLK302", "FLK303"}),
    "threads": frozenset({"FLK404"}),
    "descriptors": frozenset({"FLK401", "FLK402", "FLK405"}),
    "unclosed": frozenset({"FLK401", "FLK402", "FLK405"}),
}
SKIP_DIRECTORIES = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", "build", "dist",
    "node_modules", ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".flaskleak_cache", "site-packages",
})


@dataclass(frozen=True, order=True)
class StaticFinding:
    path: str  # absolute
    line: int
    code: str
    message: str


@dataclass
class LinkedFinding:
    finding: StaticFinding
    status: str  # "confirmed" or "not observed"
    evidence: list[Evidence] = field(default_factory=list)


# --- static findings --------------------------------------------------------------------------


def static_findings(root: str) -> tuple[list[StaticFinding], list[str]]:
    """Every finding of ``flaskleak check`` under root, and the files it could not read."""
    from ..engine import analyse
    from ..noqa import split_suppressed
    from ..options import Options
    from ..source import SourceError, decode_source, parse_text, read_source

    findings: list[StaticFinding] = []
    problems: list[str] = []
    for path in python_files(root):
        try:
            text = decode_source(read_source(path))
            tree = parse_text(text, path)
            shown, _ = split_suppressed(analyse(tree, text, path, Options()), text)
        except SourceError as error:
            problems.append(f"{path}: {error}")
            continue
        except Exception as error:  # an analysis bug must not stop the measurement
            problems.append(f"{path}: static analysis failed: {type(error).__name__}: {error}")
            continue
        findings.extend(StaticFinding(path, f.line, f.code, f.message) for f in shown)
    return sorted(findings), problems


def python_files(root: str) -> list[str]:
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if name not in SKIP_DIRECTORIES)
        files.extend(os.path.join(directory, name) for name in sorted(names)
                     if name.endswith(".py"))
    return [os.path.realpath(path) for path in files]


# --- reach ------------------------------------------------------------------------------------


class ReachTracer:
    """Records the project lines that run, and who calls each project function, while on.

    It traces only the thread that starts it, and only the warm-up requests: line tracing
    slows code down several times, the measured batches run untraced."""

    def __init__(self, project) -> None:
        self.project = project
        self.lines: dict[str, set[int]] = defaultdict(set)
        # (file, first line of a function) -> project lines that called it
        self.callers: dict[tuple[str, int], set[tuple[str, int]]] = defaultdict(set)

    def start(self) -> None:
        self.lines = defaultdict(set)
        self._previous = sys.gettrace()
        sys.settrace(self._on_call)

    def stop(self) -> dict[str, set[int]]:
        sys.settrace(self._previous)
        return {os.path.realpath(path): lines for path, lines in self.lines.items()}

    def _on_call(self, frame, event, argument):
        code = frame.f_code
        if event != "call" or not self.project.contains(code.co_filename):
            return None
        caller = frame.f_back
        while caller is not None and not self.project.contains(caller.f_code.co_filename):
            caller = caller.f_back
        if caller is not None:
            self.callers[(code.co_filename, code.co_firstlineno)].add(
                (os.path.realpath(caller.f_code.co_filename), caller.f_lineno))
        lines = self.lines[code.co_filename]
        lines.add(frame.f_lineno)

        def on_line(frame, event, argument):
            if event == "line":
                lines.add(frame.f_lineno)
            return on_line

        return on_line


@lru_cache(maxsize=256)
def _function_spans(path: str) -> tuple[tuple[int, int], ...]:
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return ()
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.append((start, node.end_lineno or node.lineno))
    return tuple(spans)


def function_span(path: str, line: int) -> tuple[int, int] | None:
    """The innermost function (decorators included) containing the line, if any."""
    inside = [span for span in _function_spans(path) if span[0] <= line <= span[1]]
    return min(inside, key=lambda span: span[1] - span[0]) if inside else None


@lru_cache(maxsize=256)
def _source_lines(path: str) -> tuple[str, ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return tuple(handle.read().splitlines())
    except OSError:
        return ()


def line_names(finding: StaticFinding, name: str) -> bool:
    """Does the finding's line mention the object (by its last dotted part)?"""
    lines = _source_lines(finding.path)
    if not 1 <= finding.line <= len(lines):
        return False
    short = name.rsplit(".", 1)[-1]
    return re.search(rf"(?<!\w){re.escape(short)}\b", lines[finding.line - 1]) is not None


# --- the link ---------------------------------------------------------------------------------


def fits(evidence: Evidence, code: str) -> bool:
    codes = KIND_CODES.get(evidence.kind, frozenset())
    return codes is None or code in codes


def points_at(evidence: Evidence, finding: StaticFinding, reached: bool) -> bool:
    if not fits(evidence, finding.code):
        return False
    if evidence.location is not None:
        if os.path.realpath(evidence.path or "") != finding.path:
            return False
        if evidence.line == finding.line:
            return True
        span = function_span(finding.path, finding.line)
        return span is not None and span[0] <= evidence.line <= span[1]  # type: ignore[operator]
    if evidence.name is not None:
        return line_names(finding, evidence.name)
    return reached  # a measurement without a place: any finding of its kind the route reaches


def is_reached(finding: StaticFinding, executed: dict[str, set[int]]) -> bool:
    lines = executed.get(finding.path, set())
    if finding.line in lines:
        return True
    span = function_span(finding.path, finding.line)
    return span is not None and any(span[0] <= line <= span[1] for line in lines)


def link_route(
    findings: list[StaticFinding], executed: dict[str, set[int]], evidence: list[Evidence]
) -> tuple[list[LinkedFinding], list[Evidence]]:
    """The route's findings (confirmed / not observed) and its leads."""
    linked: list[LinkedFinding] = []
    used: set[int] = set()
    for finding in findings:
        reached = is_reached(finding, executed)
        matching = [item for item in evidence if points_at(item, finding, reached)]
        if matching:
            used.update(id(item) for item in matching)
            linked.append(LinkedFinding(finding, "confirmed", matching))
        elif reached:
            linked.append(LinkedFinding(finding, "not observed"))
    confirmed_codes = {item.finding.code for item in linked if item.status == "confirmed"}
    # A growing cache's callers build its keys: memory growing in their functions is the
    # cache's (the key's values are allocated there, before the call).
    explained_spans = {
        (path, function_span(path, line) or (line, line))
        for item in evidence for path, line in item.related
    }
    # Objects a confirmed finding leaks (a scoped session never removed): memory growing at a
    # line that uses them is theirs.
    leaked_objects = {item.name for linked_item in linked for item in linked_item.evidence
                      if linked_item.status == "confirmed" and item.name}
    leads = []
    for item in evidence:
        if id(item) in used:
            continue
        if item.kind == "memory":
            if item.location and any(
                path == os.path.realpath(item.path) and span[0] <= item.line <= span[1]
                for path, span in explained_spans
            ):
                continue
            if item.location and any(
                line_names(StaticFinding(os.path.realpath(item.path), item.line, "", ""), name)
                for name in leaked_objects
            ):
                continue
            if item.outside and confirmed_codes:
                # Allocated by Flask or a library (the URL's value, a parsed query string) and
                # kept by what a confirmed finding grows: tracemalloc knows where memory was
                # allocated, not who holds it.
                continue
        else:
            codes = KIND_CODES.get(item.kind) or frozenset()
            if codes & confirmed_codes:
                continue  # e.g. connections a confirmed unremoved scoped session holds
        leads.append(item)
    return linked, leads


