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
    internal_lines,
    locate,
)
from .engine import worth_parsing
from .fixer import FileReport, fix_source, write_atomically
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
        report.fixed = fixed
        fixed_text = decode_source(fixed)
        findings, internal, _ = findings_of_text(fixed_text, len(fixed), job)
    except SourceError as error:
        report.source_error = error
        return report
    except Exception as error:
        report.errors.append(internal_error_line(job.display, error))
        return report
    report.errors.extend(internal_lines(job.display, internal))
    report.remaining = findings
    report.located = locate(job.display, fixed_text, findings, show_source)
    if write and report.changed and job.path != "-":
        try:
            write_atomically(os.path.realpath(job.path), fixed)
            report.written = True
        except OSError as error:
            report.errors.append(f"{job.display}: could not write: {error.strerror or error}")
    return report


def describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(
        f"{code} x{count}" if count > 1 else code for code, count in sorted(counts.items())
    )


def unified_diff(report: FileReport) -> str:
    before = _display_text(report.source).splitlines(keepends=True)
    after = _display_text(report.fixed).splitlines(keepends=True)
    lines = []
    for line in difflib.unified_diff(before, after, f"a/{report.path}", f"b/{report.path}"):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)


def _display_text(data: bytes) -> str:
    try:
        return decode_source(data)
    except SourceError:
        return data.decode("utf-8", "replace")


def fix_summary(reports: Sequence[FileReport], written: bool) -> str:
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
    return f"flaskleak: {head}{tail}"
