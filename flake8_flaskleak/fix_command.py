"""``flaskleak fix`` (and ``check --fix``): rewrite what can be rewritten, report what is left.

What is left is computed exactly as ``check`` computes it, on the fixed text (stale ``# noqa``
comments included), so ``fix`` and ``check`` never disagree about a file.
"""

from __future__ import annotations

import difflib
import os
from collections import Counter
from collections.abc import Sequence

from .check_command import (
    LARGE_FILE_BYTES,
    Job,
    findings_of_text,
    internal_error_line,
    char_column,
    internal_lines,
    locate,
)
from .engine import RULES_BY_CODE, worth_parsing
from .finding import FixSafety
from .fixer import FileReport, fix_source, write_atomically
from .noqa import physical_lines
from .source import SourceError, collected_notices, decode_source


def fix_job(job: Job, unsafe: bool, write: bool, show_source: bool = False) -> FileReport:
    """Read, fix and (when ``write``) atomically write one file; never raises for bad input."""
    with collected_notices() as notices:
        report = _fix_job(job, unsafe, write, show_source)
    report.notices = notices
    return report


def _fix_job(job: Job, unsafe: bool, write: bool, show_source: bool) -> FileReport:
    report = FileReport(path=job.display)
    settings, path = job.settings, job.analysis_path
    try:
        report.source = job.read()
        text = decode_source(report.source)
        rules = settings.rules_for(path)
        fixed = report.source
        if len(report.source) <= LARGE_FILE_BYTES or worth_parsing(
            text, path, settings.options, rules
        ):
            result = fix_source(report.source, path, settings.options, unsafe, rules=rules)
            fixed = result.fixed
            report.applied = result.applied
            report.errors = list(result.errors)
            report.unsafe_available = result.unsafe_available
            report.planned = result.planned
        report.fixed = fixed
        if write and report.changed and job.path != "-":
            try:
                write_atomically(os.path.realpath(job.path), fixed)
                report.written = True
            except OSError as error:
                report.errors.append(f"{job.display}: not fixed: could not write: "
                                     f"{error.strerror or error}")
                _unwritten(report)
        fixed_text = decode_source(report.fixed)
        findings, internal, _ = findings_of_text(fixed_text, len(report.fixed), job)
    except SourceError as error:
        report.source_error = error
        return report
    except Exception as error:
        report.errors.append(internal_error_line(job.display, error))
        return report
    report.errors.extend(internal_lines(job.display, internal))
    report.remaining = findings
    report.located = locate(job.display, fixed_text, findings, show_source)
    return report


def _unwritten(report: FileReport) -> None:
    """The file keeps its text: nothing was fixed, every finding is still there."""
    report.write_failed = True
    report.fixed = report.source
    report.applied = {}
    report.unsafe_available = 0


def describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(
        f"{code} x{count}" if count > 1 else code for code, count in sorted(counts.items())
    )


def fix_notes(report: FileReport, written: bool, unsafe: bool) -> list[str]:
    """One line per finding of the input whose rule has a fix: whether this run rewrites it
    (safe, or unsafe with ``--unsafe-fixes``), or why not. Positions are in the input."""
    if report.source_error is not None or not report.planned:
        return []
    lines = physical_lines(_display_text(report.source))
    notes = []
    for finding in report.planned:
        fix = finding.fix
        rule = RULES_BY_CODE.get(finding.code)
        if fix is None or rule is None or rule.fix_safety is None:
            continue
        if fix.allowed(unsafe):
            if report.write_failed:
                what = f"not fixed ({fix.label}): the file could not be written"
            else:
                what = f"{'fixed' if written else 'would fix'} ({fix.label}): {fix.reason}"
        elif fix.safety is FixSafety.UNSAFE:
            what = f"not fixed (unsafe, needs --unsafe-fixes): {fix.reason}"
        else:
            what = f"no fix: {fix.reason}"
        notes.append(f"{report.path}:{finding.line}:{char_column(lines, finding)}: "
                     f"{finding.code} {what}")
    return notes


def unified_diff(report: FileReport) -> str:
    """The change as a unified diff, split into lines as Python reads them (``\\n``, ``\\r\\n``,
    ``\\r``; not form feeds). CRLF lines stay CRLF (``git apply`` takes them); a line ended by
    a lone CR, which no diff tool splits on, is shown ended by ``\\n``."""
    before = physical_lines(_display_text(report.source))
    after = physical_lines(_display_text(report.fixed))
    lines = []
    for line in difflib.unified_diff(before, after, f"a/{report.path}", f"b/{report.path}"):
        if line.endswith("\r"):
            line = line[:-1] + "\n"
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


def uses_cr_line_endings(report: FileReport) -> bool:
    text = _display_text(report.source)
    return "\r" in text.replace("\r\n", "")


def _display_text(data: bytes) -> str:
    try:
        return decode_source(data)
    except SourceError:
        return data.decode("utf-8", "replace")


def fix_summary(reports: Sequence[FileReport], written: bool) -> str:
    """``fixed 3 findings in 2 files (FLK401 x2, FLK402); 1 finding left without a fix (1
    fixable with --unsafe-fixes)``: every count is what the files got (or would get)."""
    applied: Counter[str] = Counter()
    for report in reports:
        if report.changed:
            applied.update(report.applied)
    changed = sum(1 for report in reports if report.changed)
    left = sum(len(report.remaining) for report in reports)
    unsafe = sum(report.unsafe_available for report in reports)
    fixes = sum(applied.values())
    verb = "fixed" if written else "would fix"
    head = (
        f"{verb} {fixes} finding{'s' * (fixes != 1)} in {changed} file{'s' * (changed != 1)}"
        f" ({describe_counts(dict(applied))})"
        if changed
        else "nothing to fix"
    )
    tail = f"; {left} finding{'s' * (left != 1)} left without a fix"
    if unsafe:
        tail += f" ({unsafe} fixable with --unsafe-fixes)"
    unwritten = sum(1 for report in reports if report.write_failed)
    if unwritten:
        tail += f"; {unwritten} file{'s' * (unwritten != 1)} could not be written"
    return f"flaskleak: {head}{tail}"
