"""``flaskleak check``: the findings of each file, as flake8 would report them.

Per file: read (regular files only), decode, gate on text (a file over ``LARGE_FILE_BYTES``
that no rule's trigger matches is not parsed: a 20 MB data module costs a read, not a parse),
parse, run the rules its configuration selects, drop what ``# noqa`` suppresses, and add FLK000
for ``# noqa`` codes that suppress nothing. A rule that crashes gives a FLK900 line: an error
(exit 2), never a quietly shorter report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from .engine import (
    INTERNAL_ERROR_CODE,
    RULES_BY_CODE,
    analyse,
    prebuild_project_indexes,
    worth_parsing,
)
from .finding import Finding
from .fixer import write_atomically
from .noqa import (
    NoqaWriteError,
    add_noqa_to_source,
    mentions_flk_noqa,
    physical_lines,
    split_suppressed,
    stale_noqa,
)
from .model.project import find_root, release_index
from .report import Located
from .settings import FileSettings
from .source import SourceError, collected_notices, decode_source, parse_text, read_source

# Over this size a file is parsed only when a rule's trigger text is in it.
LARGE_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class Job:
    """One file to process: where to read it, how to name it, and its settings."""

    path: str  # on disk; "-" for standard input
    display: str  # as printed (the --stdin-filename for standard input)
    settings: FileSettings
    data: bytes | None = None  # standard input's bytes

    @property
    def analysis_path(self) -> str:
        """The path rules and the project index see (the --stdin-filename for stdin)."""
        return self.display if self.path == "-" else self.path

    def read(self) -> bytes:
        return self.data if self.data is not None else read_source(self.path)


def prebuild_for_workers(jobs: list[Job], workers: int) -> None:
    """Build the project indexes the files will ask for before the worker processes start,
    once (with ``workers`` processes), instead of once in every worker."""
    paths_by_options: dict = {}
    for job in jobs:
        if job.path != "-":
            paths_by_options.setdefault(job.settings.options, []).append(job.path)
    for options, paths in paths_by_options.items():
        prebuild_project_indexes(paths, options, workers)


def releasing_indexes(worker: Callable[[Job], object], jobs: list[Job]) -> Callable[[Job], object]:
    """``worker``, which after the last file of a project (in ``jobs``' order, one process)
    frees that project's index: the peak memory of a run over many projects is then the
    largest project's, not all of them together."""
    last: dict = {}
    for position, job in enumerate(jobs):
        if job.path != "-":
            last[(find_root(job.path), job.settings.options)] = position
    finishing: dict[int, list] = {}
    for (root, options), position in last.items():
        finishing.setdefault(position, []).append((root, options))
    positions = {id(job): position for position, job in enumerate(jobs)}

    def run(job: Job):
        result = worker(job)
        for root, options in finishing.get(positions.get(id(job), -1), ()):
            release_index(root, options)
        return result

    return run


@dataclass
class CheckReport:
    path: str
    located: list[Located] = field(default_factory=list)
    source_error: SourceError | None = None
    errors: list[str] = field(default_factory=list)  # internal errors, one line each
    skipped: bool = False  # large, nothing to look for: not parsed
    notices: list[str] = field(default_factory=list)  # files the project index left out


def internal_error_line(display: str, error: BaseException) -> str:
    if os.environ.get("FLASKLEAK_STRICT"):
        raise error
    text = " ".join(str(error).split())[:300]
    return (
        f"{display}:1:1: {INTERNAL_ERROR_CODE} internal error: {type(error).__name__}: {text} "
        "(a bug in flake8-flaskleak, please report it)"
    )


def findings_of_text(
    text: str, size: int, job: Job
) -> tuple[list[Finding], list[Finding], bool]:
    """(reported findings, internal-error findings, skipped) for one file's text."""
    settings, path = job.settings, job.analysis_path
    rules = settings.rules_for(path)
    options = settings.options
    # A large file no rule can report on (and without a ``# noqa: FLK...`` to audit) is not
    # parsed: a generated data module would cost seconds and gigabytes for nothing. Smaller
    # files are parsed, so that a syntax error is reported as flake8 reports it.
    skipped = (
        size > LARGE_FILE_BYTES
        and not worth_parsing(text, path, options, rules)
        and not mentions_flk_noqa(text)
    )
    everything: list[Finding] = []
    if not skipped:
        tree = parse_text(text, path)
        everything = analyse(tree, text, path, options, rules, with_fixes=True)
    internal = [finding for finding in everything if finding.code == INTERNAL_ERROR_CODE]
    everything = [finding for finding in everything if finding.code != INTERNAL_ERROR_CODE]
    findings, _ = split_suppressed(everything, text)
    if settings.stale_noqa_for(path):
        checked = {rule.code for rule in rules}
        findings = sorted(findings + stale_noqa(text, everything, checked, RULES_BY_CODE))
    return findings, internal, skipped


def locate(display: str, text: str, findings: list[Finding], with_source: bool) -> list[Located]:
    lines = physical_lines(text)
    located = []
    for finding in findings:
        line = lines[finding.line - 1] if 1 <= finding.line <= len(lines) else ""
        located.append(Located(
            display, finding, char_column(lines, finding),
            line.rstrip("\r\n") if with_source else "",
        ))
    return located


def char_column(lines: list[str], finding: Finding) -> int:
    if 1 <= finding.line <= len(lines):
        line = lines[finding.line - 1]
        return len(line.encode("utf-8")[: finding.col].decode("utf-8", "replace")) + 1
    return finding.col + 1


def internal_lines(display: str, internal: list[Finding]) -> list[str]:
    return [f"{display}:{f.line}:{f.col + 1}: {f.code} {f.message}" for f in internal]


def check_job(job: Job, show_source: bool = False) -> CheckReport:
    with collected_notices() as notices:
        report = _check_job(job, show_source)
    report.notices = notices
    return report


def _check_job(job: Job, show_source: bool) -> CheckReport:
    report = CheckReport(job.display)
    try:
        data = job.read()
        text = decode_source(data)
        findings, internal, report.skipped = findings_of_text(text, len(data), job)
    except SourceError as error:
        report.source_error = error
        return report
    except Exception as error:
        report.errors.append(internal_error_line(job.display, error))
        return report
    report.errors.extend(internal_lines(job.display, internal))
    report.located = locate(job.display, text, findings, show_source)
    return report


@dataclass
class AddNoqaReport:
    path: str
    added: int = 0  # lines given or extended a ``# noqa`` comment
    left: list[Located] = field(default_factory=list)  # findings no comment could cover
    source_error: SourceError | None = None
    errors: list[str] = field(default_factory=list)


def add_noqa_job(job: Job) -> AddNoqaReport:
    """Give every current finding of one file a ``# noqa`` comment; atomic write."""
    report = AddNoqaReport(job.display)
    path, settings = job.analysis_path, job.settings
    try:
        source = read_source(job.path)
        text = decode_source(source)
        tree = parse_text(text, path)
        everything = analyse(tree, text, path, settings.options, settings.rules_for(path))
        internal = [finding for finding in everything if finding.code == INTERNAL_ERROR_CODE]
        report.errors.extend(internal_lines(job.display, internal))
        everything = [finding for finding in everything if finding not in internal]
        findings, _ = split_suppressed(everything, text)
        new_source, report.added = add_noqa_to_source(source, text, findings)
        new_text = decode_source(new_source)
        parse_text(new_text, path)
        left, _ = split_suppressed(findings, new_text)
        if report.added:
            write_atomically(os.path.realpath(job.path), new_source)
    except SourceError as error:
        report.source_error = error
        return report
    except NoqaWriteError as error:
        report.errors.append(f"{job.display}: cannot add noqa comments: {error}")
        return report
    except OSError as error:
        report.errors.append(f"{job.display}: could not write: {error.strerror or error}")
        return report
    except Exception as error:
        report.errors.append(internal_error_line(job.display, error))
        return report
    report.left = locate(job.display, new_text, left, False)
    return report
