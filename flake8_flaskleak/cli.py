"""The ``flaskleak`` command: ``check``, ``fix``, ``rules`` and ``explain``.

This module holds the command line and the top of each command; the work is elsewhere:
``settings.py`` (each file's configuration), ``discovery.py`` (which files), ``runner.py``
(processes and progress), ``check_command.py`` and ``fix_command.py`` (one file), and
``output.py``/``report.py`` (what is printed).

Exit codes: 0 clean; 1 findings (``check``), changes to make (``--check``/``--diff``) or
findings left (``fix``); 2 a usage error, a bad option, a file that could not be read or
parsed, or an internal error (each reported on stderr; the run goes on, and 2 wins over 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial

from . import __version__
from .check_command import (
    AddNoqaReport,
    CheckReport,
    Job,
    add_noqa_job,
    check_job,
    prebuild_for_workers,
    releasing_indexes,
)
from .discovery import STDIN, collect_files, writable_files
from .engine import ALL_RULES, RULES_BY_CODE
from .fix_command import (
    describe_counts,
    fix_job,
    fix_notes,
    fix_summary,
    unified_diff,
    uses_cr_line_endings,
)
from .fixer import FileReport
from .noqa import StaleNoqaRule
from .options import OPTION_SPECS, split_list
from .output import flake8_order, render_findings, summary_line
from .pages import rule_page
from .report import FORMATS, PSEUDO_RULES, Located, fix_kind
from .runner import run_over_files
from .settings import CommandLine, SettingsResolver, UsageError
from .source import SourceError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
AUTO_JOBS_FILES = 200  # more files than this: one process per CPU unless -j says otherwise


# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flaskleak",
        description="Find and fix the code that makes long-running Flask services leak.",
    )
    parser.add_argument("--version", action="version", version=f"flaskleak {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options()

    check = commands.add_parser("check", parents=[common], help="report findings")
    check.add_argument("--format", "--output-format", dest="format", choices=FORMATS,
                       default="text", help="output format (default: text, as flake8 prints)")
    check.add_argument("-o", "--output-file", metavar="FILE", help="write the report here")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    check.add_argument("--add-noqa", action="store_true",
                       help="append `# noqa: FLKnnn` to the line of every current finding "
                            "(adopting flaskleak on a legacy codebase)")
    check.add_argument("--fix", action="store_true",
                       help="apply the fixes (as `flaskleak fix`), then report what is left")
    check.add_argument("--unsafe-fixes", action="store_true",
                       help="with --fix or --diff, also apply fixes that can change behaviour")
    check.add_argument("--diff", action="store_true",
                       help="print the fixes as a unified diff, write nothing")
    check.add_argument("--statistics", action="store_true",
                       help="after the findings, count them per code (text format)")
    check.add_argument("--show-source", action="store_true",
                       help="print each finding's line and a caret under its column (text format)")
    check.add_argument("--show-fixes", action="store_true",
                       help="mark findings `fix` rewrites: [*] safe, [*unsafe] with "
                            "--unsafe-fixes; with --fix, list what was fixed")

    fix = commands.add_parser("fix", parents=[common], help="rewrite what can be fixed")
    fix.add_argument("--unsafe-fixes", action="store_true",
                     help="also apply fixes that can change behaviour")
    fix.add_argument("--show-fixes", action="store_true",
                     help="list what was fixed in each file")
    mode = fix.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if anything would change")

    commands.add_parser("rules", help="list the rules: code, name, fix kind")
    explain = commands.add_parser("explain", help="print a rule's documentation page")
    explain.add_argument("code", metavar="RULE", help="a rule code or name, e.g. FLK201 or "
                                                      "teardown-can-raise")
    from .probe.command import add_parser as add_probe_parser  # imports nothing of the app

    add_probe_parser(commands)
    return parser


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("paths", nargs="*", metavar="PATH",
                        help="files and directories (default: .); - reads standard input")
    common.add_argument("--select", action="append", metavar="CODES",
                        help="only these codes or prefixes (comma separated, e.g. FLK2,FLK401)")
    common.add_argument("--extend-select", action="append", metavar="CODES",
                        help="add these codes or prefixes to the selection")
    common.add_argument("--ignore", action="append", metavar="CODES",
                        help="skip these codes or prefixes (comma separated)")
    common.add_argument("--exclude", action="append", metavar="GLOBS",
                        help="skip files and directories matching these globs (comma separated)")
    common.add_argument("--force-exclude", default=None, action=argparse.BooleanOptionalAction,
                        help="apply the exclusions to files named on the command line too "
                             "(on in the pre-commit hooks)")
    common.add_argument("--config", metavar="FILE",
                        help="read the configuration from this file only: a pyproject.toml "
                             "([tool.flaskleak]) or a setup.cfg, tox.ini or .flake8 ([flake8])")
    common.add_argument("--stdin-filename", metavar="PATH",
                        help="the name of the file read from standard input (-)")
    common.add_argument("-j", "--jobs", default=None, metavar="N",
                        help="files processed in parallel processes ('auto': one per CPU; "
                             f"the default is 'auto' for more than {AUTO_JOBS_FILES} files, "
                             "else 1)")
    common.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the project index cache (.flaskleak_cache)")
    verbosity = common.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="print findings and errors only: no summary, no notes")
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="also name each file and the configuration it uses")
    for spec in OPTION_SPECS:
        if spec.kind == "bool":
            common.add_argument(f"--{spec.flag}", dest=spec.name, default=None,
                                action=argparse.BooleanOptionalAction, help=spec.help)
        else:
            common.add_argument(f"--{spec.flag}", dest=spec.name, default=None,
                                metavar="VALUE", help=spec.help)
    return common


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # odd file names or consoles must not crash a run
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "check":
            return run_check(arguments)
        if arguments.command == "fix":
            return run_fix(arguments)
        if arguments.command == "rules":
            return run_rules()
        if arguments.command == "explain":
            return run_explain(arguments.code)
        if arguments.command == "probe":
            from .probe.command import run as run_probe

            return run_probe(arguments)
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    except UsageError as error:
        print(f"flaskleak: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("flaskleak: interrupted", file=sys.stderr)
        return 130


# --- what to run on -----------------------------------------------------------------------------


def resolver_from(arguments: argparse.Namespace) -> SettingsResolver:
    def given(flag: str) -> tuple[str, ...]:
        return tuple(item for value in getattr(arguments, flag) or () for item in split_list(value))

    command_line = CommandLine(
        select=given("select"),
        extend_select=given("extend_select"),
        ignore=given("ignore"),
        exclude=given("exclude"),
        options={
            spec.name: getattr(arguments, spec.name)
            for spec in OPTION_SPECS if getattr(arguments, spec.name) is not None
        },
        config=arguments.config,
        force_exclude=arguments.force_exclude,
    )
    return SettingsResolver(command_line)


def jobs_from(arguments: argparse.Namespace, resolver: SettingsResolver) -> tuple[list[Job], bool]:
    """The files to process, and whether a path given could not be read (exit 2)."""
    paths = arguments.paths or ["."]
    if paths.count(STDIN) > 1:
        raise UsageError("- (standard input) can be given once")
    if arguments.stdin_filename and STDIN not in paths:
        raise UsageError("--stdin-filename names the file read from -: give - as the path")
    collected = collect_files(paths, resolver)
    for message in collected.errors:
        print(message, file=sys.stderr)
    if not arguments.quiet:
        for message in collected.notices:
            print(f"flaskleak: {message}", file=sys.stderr)
    jobs = []
    for path in collected.files:
        if path == STDIN:
            display = arguments.stdin_filename or STDIN
            name = arguments.stdin_filename or os.path.join(resolver.cwd, STDIN)
            settings = resolver.for_file(name)
            jobs.append(Job(STDIN, display, settings, sys.stdin.buffer.read()))
        else:
            jobs.append(Job(path, path, resolver.for_file(path)))
    if arguments.verbose:
        for job in jobs:
            sources = ", ".join(job.settings.sources) or "defaults (no configuration file)"
            print(f"flaskleak: {job.display}: configuration from {sources}", file=sys.stderr)
    if arguments.no_cache:
        os.environ["FLASKLEAK_NO_CACHE"] = "1"  # read by the project index, in workers too
    return jobs, bool(collected.errors)


def parse_jobs(value: str | None, files: int) -> int:
    """``-j``: a number, or 'auto' (one process per CPU); unset, 'auto' only for runs long
    enough to repay starting the processes."""
    if value is None:
        value = "auto" if files > AUTO_JOBS_FILES else "1"
    if value == "auto":
        return os.cpu_count() or 1
    try:
        jobs = int(value)
    except ValueError:
        raise UsageError(f"-j/--jobs: expected a number or 'auto', got {value!r}") from None
    if jobs < 1:
        raise UsageError(f"-j/--jobs: expected a positive number, got {value!r}")
    return jobs


def described_rules(jobs: Sequence[Job]) -> tuple[type, ...]:
    """The rules any file ran, FLK000 first: what SARIF describes."""
    codes = set()
    stale = False
    for job in jobs:
        codes |= {rule.code for rule in job.settings.rules_for(job.analysis_path)}
        stale = stale or job.settings.stale_noqa_for(job.analysis_path)
    return ((StaleNoqaRule,) if stale else ()) + tuple(r for r in ALL_RULES if r.code in codes)


def print_notices(arguments: argparse.Namespace, reports: Sequence) -> None:
    """What the workers noticed (files the project index left out), each line once."""
    seen: set[str] = set()
    for report in reports:
        for line in report.notices:
            if line not in seen:
                seen.add(line)
                print(line, file=sys.stderr)


def note(arguments: argparse.Namespace, message: str) -> None:
    if not arguments.quiet:
        print(message, file=sys.stderr)


# --- check ------------------------------------------------------------------------------------


def run_check(arguments: argparse.Namespace) -> int:
    if (arguments.statistics or arguments.show_source) and arguments.format != "text":
        raise UsageError("--statistics and --show-source go with --format text")
    if arguments.add_noqa and (arguments.fix or arguments.diff):
        raise UsageError("--add-noqa cannot be combined with --fix or --diff")
    resolver = resolver_from(arguments)
    jobs, path_errors = jobs_from(arguments, resolver)
    workers = parse_jobs(arguments.jobs, len(jobs))
    if workers > 1:
        prebuild_for_workers(jobs, workers)
    if arguments.add_noqa:
        return run_add_noqa(arguments, jobs, path_errors, workers)
    if arguments.fix or arguments.diff:
        return run_fixes(arguments, jobs, path_errors, workers, check_output=True)
    worker = partial(check_job, show_source=arguments.show_source)
    if workers == 1:
        worker = releasing_indexes(worker, jobs)
    reports: list[CheckReport] = run_over_files(worker, jobs, workers, "checking")
    failed = path_errors
    located: list[Located] = []
    source_errors: list[tuple[str, SourceError]] = []
    print_notices(arguments, reports)
    for report in reports:
        if report.source_error is not None:
            source_errors.append((report.path, report.source_error))
            print(f"{report.path}:{report.source_error}", file=sys.stderr)
        for message in report.errors:
            print(message, file=sys.stderr)
        failed = failed or bool(report.source_error or report.errors)
        located.extend(report.located)
    return finish_check(arguments, jobs, located, source_errors, failed)


def finish_check(
    arguments: argparse.Namespace,
    jobs: Sequence[Job],
    located: list[Located],
    source_errors: list[tuple[str, SourceError]],
    failed: bool,
) -> int:
    located = flake8_order(located)
    output = render_findings(
        located, arguments.format, described_rules(jobs), source_errors,
        show_source=arguments.show_source, show_fixes=arguments.show_fixes,
        statistics=arguments.statistics,
    )
    write_output(output, arguments.output_file)
    note(arguments, summary_line(located, len(jobs), arguments.unsafe_fixes))
    if failed:
        return EXIT_ERROR
    return EXIT_FINDINGS if located and not arguments.exit_zero else EXIT_CLEAN


def run_add_noqa(
    arguments: argparse.Namespace, jobs: list[Job], path_errors: bool, workers: int
) -> int:
    if any(job.path == STDIN for job in jobs):
        raise UsageError("--add-noqa writes files: it cannot read standard input")
    kept, notes = writable_files([job.path for job in jobs], arguments.paths or ["."])
    jobs = [job for job in jobs if job.path in set(kept)]
    reports: list[AddNoqaReport] = run_over_files(add_noqa_job, jobs, workers, "adding noqa")
    failed = path_errors
    for message in notes:
        print(message, file=sys.stderr)
    left: list[Located] = []
    source_errors: list[tuple[str, SourceError]] = []
    for report in reports:
        if report.source_error is not None:
            failed = True
            source_errors.append((report.path, report.source_error))
            print(f"{report.path}:{report.source_error}", file=sys.stderr)
        for message in report.errors:
            failed = True
            print(message, file=sys.stderr)
        left.extend(report.left)
    left = flake8_order(left)
    write_output(
        render_findings(left, arguments.format, described_rules(jobs), source_errors),
        arguments.output_file,
    )
    added = sum(report.added for report in reports)
    changed = sum(1 for report in reports if report.added)
    note(arguments, (
        f"flaskleak: added noqa to {added} line{'s' * (added != 1)} in {changed} "
        f"file{'s' * (changed != 1)}"
        + (f"; {len(left)} finding{'s' * (len(left) != 1)} could not be given one" if left else "")
    ))
    if failed:
        return EXIT_ERROR
    return EXIT_FINDINGS if left else EXIT_CLEAN


def write_output(output: str, output_file: str | None) -> None:
    if output_file:
        try:
            with open(output_file, "w", encoding="utf-8") as handle:
                handle.write(output)
        except OSError as error:
            raise UsageError(f"{output_file}: cannot write: {error.strerror or error}") from None
    else:
        sys.stdout.write(output)


# --- fix --------------------------------------------------------------------------------------


def run_fix(arguments: argparse.Namespace) -> int:
    resolver = resolver_from(arguments)
    jobs, path_errors = jobs_from(arguments, resolver)
    workers = parse_jobs(arguments.jobs, len(jobs))
    if workers > 1:
        prebuild_for_workers(jobs, workers)
    return run_fixes(arguments, jobs, path_errors, workers, check_output=False)


def run_fixes(
    arguments: argparse.Namespace,
    jobs: list[Job],
    path_errors: bool,
    workers: int,
    check_output: bool,
) -> int:
    """``fix`` and ``check --fix``/``--diff``: the same fixing; ``check_output`` reports what
    is left in check's format (and its summary) instead of fix's."""
    only_show = arguments.diff or getattr(arguments, "check", False)
    write = not only_show
    # Files outside the paths given (a symlink's target) are never written, so they are not
    # offered by --check or --diff either.
    kept, notes = writable_files([job.path for job in jobs], arguments.paths or ["."])
    jobs = [job for job in jobs if job.path in set(kept)]
    worker = partial(
        fix_job, unsafe=arguments.unsafe_fixes, write=write,
        show_source=getattr(arguments, "show_source", False),
    )
    reports: list[FileReport] = run_over_files(worker, jobs, workers, "fixing")
    for message in notes:
        print(message, file=sys.stderr)
    print_notices(arguments, reports)
    failed = path_errors
    stdin_job = next((job for job in jobs if job.path == STDIN), None)
    located: list[Located] = []
    source_errors: list[tuple[str, SourceError]] = []
    explain = only_show or arguments.show_fixes
    for report in reports:
        if report.source_error is not None:
            failed = True
            source_errors.append((report.path, report.source_error))
            print(f"{report.path}:{report.source_error}", file=sys.stderr)
        for message in report.errors:
            print(message, file=sys.stderr)
        failed = failed or report.write_failed
        failed = failed or any("internal error" in message for message in report.errors)
        located.extend(report.located)
        if report.changed and arguments.diff:
            sys.stdout.write(unified_diff(report))
            if uses_cr_line_endings(report):
                print(f"{report.path}: its lines end with CR alone; the diff shows them ended "
                      "by LF", file=sys.stderr)
        elif report.changed and only_show:
            print(f"would fix {report.path}: {describe_counts(report.applied)}")
        elif report.changed and arguments.show_fixes:
            print(f"fixed {report.path}: {describe_counts(report.applied)}",
                  file=sys.stderr if check_output else sys.stdout)
        if explain:
            for line in fix_notes(report, written=report.written, unsafe=arguments.unsafe_fixes):
                print(line, file=sys.stderr)
        if stdin_job is not None and report.path == stdin_job.display and write:
            sys.stdout.buffer.write(report.fixed)  # standard input comes back fixed
            sys.stdout.flush()
    changed = any(report.changed for report in reports)
    if check_output and not arguments.diff:
        if stdin_job is not None:
            # the fixed text is on stdout: what is left goes to stderr, as ruff does
            print(render_findings(flake8_order(located), "text", (), ()), end="", file=sys.stderr)
            note(arguments, summary_line(located, len(jobs), arguments.unsafe_fixes))
            return EXIT_ERROR if failed else (EXIT_FINDINGS if located else EXIT_CLEAN)
        return finish_check(arguments, jobs, located, source_errors, failed)
    if write and not arguments.diff:
        output = render_findings(flake8_order(located), "text", (), ())
        (sys.stderr if stdin_job is not None else sys.stdout).write(output)
    note(arguments, fix_summary(reports, write))
    if failed:
        return EXIT_ERROR
    if only_show:
        return EXIT_FINDINGS if changed else EXIT_CLEAN
    return EXIT_FINDINGS if located else EXIT_CLEAN


# --- rules and explain ------------------------------------------------------------------------


def all_rules_and_pseudo_rules() -> list[type]:
    return sorted([*ALL_RULES, *PSEUDO_RULES.values()], key=lambda rule: rule.code)


def run_rules() -> int:
    rows = [
        (rule.code, rule.name, fix_kind(rule) or "—", rule.summary)
        for rule in all_rules_and_pseudo_rules()
    ]
    name_width = max([len("NAME")] + [len(row[1]) for row in rows])
    print(f"{'CODE':<8}{'NAME':<{name_width + 2}}{'FIX':<8}SUMMARY")
    for code, name, kind, summary in rows:
        print(f"{code:<8}{name:<{name_width + 2}}{kind:<8}{summary}")
    return EXIT_CLEAN


def run_explain(wanted: str) -> int:
    key = wanted.strip()
    rule = RULES_BY_CODE.get(key.upper()) or PSEUDO_RULES.get(key.upper())
    if rule is None:
        rule = next(
            (r for r in all_rules_and_pseudo_rules() if r.name == key.lower().replace("_", "-")),
            None,
        )
    if rule is None:
        raise UsageError(f"unknown rule {wanted!r}; `flaskleak rules` lists the codes and names")
    page = rule_page(rule)
    if page is None:
        print(f"flaskleak: the page of {rule.code} is missing from this install", file=sys.stderr)
        page = f"# {rule.code} {rule.name}\n\n{rule.summary}\n"
    sys.stdout.write(page if page.endswith("\n") else page + "\n")
    return EXIT_CLEAN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
