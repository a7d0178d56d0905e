"""The ``flaskleak`` command: ``check``, ``fix``, ``rules`` and ``explain``.

It runs the same engine as the flake8 plugin (``engine.analyse``) on trees it parses itself.
Exit codes: 0 clean; 1 findings (``check``), changes to make (``fix --check``/``--diff``) or
findings left (``fix``); 2 a usage error, a bad option, or a file that could not be read or
parsed (each reported on stderr; the run goes on, and 2 wins over 1).
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from . import __version__
from .pages import rule_page
from .engine import ALL_RULES, RULES_BY_CODE, analyse, code_selected
from .finding import Finding
from .fixer import FileReport, fix_file, write_atomically
from .noqa import (
    STALE_NOQA_CODE,
    NoqaWriteError,
    StaleNoqaRule,
    add_noqa_to_source,
    physical_lines,
    split_suppressed,
    stale_noqa,
)
from .rule import Rule
from .option_sources import (
    COMMAND_KEYS,
    ConfigError,
    find_flake8_config,
    flake8_section,
    merge,
    pyproject_section,
)
from .options import OPTION_SPECS, OptionError, Options, options_from_mapping, split_list
from .report import (
    FORMATS,
    PSEUDO_RULES,
    Located,
    fix_kind,
    render_github,
    render_json,
    render_sarif,
    render_text,
)
from .source import SourceError, decode_source, parse_text, read_source

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
SKIP_DIRECTORIES = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "build", "dist", "node_modules",
    ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".flaskleak_cache",
})
PROGRESS_DELAY = 1.0  # seconds before a progress bar appears: short runs stay quiet


class UsageError(Exception):
    """A bad command line, option or configuration: one line on stderr, exit 2."""


# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flaskleak",
        description="Find and fix the code that makes long-running Flask services leak.",
    )
    parser.add_argument("--version", action="version", version=f"flaskleak {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("paths", nargs="*", metavar="PATH",
                        help="files and directories (default: .)")
    common.add_argument("--select", action="append", metavar="CODES",
                        help="only these codes or prefixes (comma separated, e.g. FLK2,FLK401)")
    common.add_argument("--ignore", action="append", metavar="CODES",
                        help="skip these codes or prefixes (comma separated)")
    common.add_argument("--exclude", action="append", metavar="GLOBS",
                        help="skip files and directories matching these globs (comma separated)")
    common.add_argument("--config", metavar="PYPROJECT",
                        help="read [tool.flaskleak] from this file instead of the nearest "
                             "pyproject.toml above the paths")
    common.add_argument("-j", "--jobs", default="1", metavar="N",
                        help="files processed in parallel processes ('auto': one per CPU)")
    for spec in OPTION_SPECS:
        if spec.kind == "bool":
            common.add_argument(f"--{spec.flag}", dest=spec.name, default=None,
                                action=argparse.BooleanOptionalAction, help=spec.help)
        else:
            common.add_argument(f"--{spec.flag}", dest=spec.name, default=None,
                                metavar="VALUE", help=spec.help)

    check = commands.add_parser("check", parents=[common], help="report findings")
    check.add_argument("--format", choices=FORMATS, default="text", help="output format")
    check.add_argument("-o", "--output-file", metavar="FILE", help="write the report here")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    check.add_argument("--add-noqa", action="store_true",
                       help="append `# noqa: FLKnnn` to the line of every current finding "
                            "(adopting flaskleak on a legacy codebase)")

    fix = commands.add_parser("fix", parents=[common], help="rewrite what can be fixed")
    fix.add_argument("--unsafe-fixes", action="store_true",
                     help="also apply fixes that can change behaviour")
    mode = fix.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if anything would change")

    commands.add_parser("rules", help="list the rules: code, name, fix kind")
    explain = commands.add_parser("explain", help="print a rule's documentation page")
    explain.add_argument("code", metavar="CODE", help="a rule code, e.g. FLK201")
    from .probe.command import add_parser as add_probe_parser  # imports nothing of the app

    add_probe_parser(commands)
    return parser


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


# --- settings ---------------------------------------------------------------------------------


@dataclass
class Settings:
    paths: list[str]
    options: Options
    rules: tuple[type[Rule], ...]  # the rules --select/--ignore leave on
    exclude: tuple[str, ...]
    jobs: int
    stale_noqa: bool = True  # FLK000 (not a rule class) is selected


def settings_from(arguments: argparse.Namespace) -> Settings:
    paths = arguments.paths or ["."]
    section, config_path = read_config(paths, arguments.config)
    where = f"{config_path}: [tool.flaskleak]"
    command_values = {key: section.pop(key) for key in COMMAND_KEYS if key in section}
    flags = {spec.name: getattr(arguments, spec.name) for spec in OPTION_SPECS}
    overridden = frozenset(name for name, value in flags.items() if value is not None)
    flake8_path = find_flake8_config(start_directory(paths))
    try:
        flake8_values = flake8_section(flake8_path) if flake8_path else {}
        merged = merge(section, config_path, flake8_values, flake8_path, overridden)
        options = options_from_mapping(merged)
    except (ConfigError, OptionError) as error:
        raise UsageError(str(error)) from None
    try:
        options = options_from_mapping({k: v for k, v in flags.items() if v is not None}, options)
    except OptionError as error:
        raise UsageError(f"--{error}") from None

    def configured(key: str) -> tuple[str, ...]:
        value = command_values.get(key)
        if value is not None and not (
            isinstance(value, str)
            or isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise UsageError(f"{where} {key}: expected a list of strings, got {value!r}")
        return split_list(value)

    def given(flag: str) -> tuple[str, ...]:
        return tuple(item for value in getattr(arguments, flag) or () for item in split_list(value))

    layers = [  # the configuration first, then the command line, which wins
        (codes(configured("select")), codes(configured("ignore"))),
        (codes(given("select")), codes(given("ignore"))),
    ]
    exclude = configured("exclude") + given("exclude")
    return Settings(
        paths, options, choose_rules(layers), exclude, parse_jobs(arguments.jobs),
        code_chosen(STALE_NOQA_CODE, layers),
    )


def codes(values: tuple[str, ...]) -> tuple[str, ...]:
    result = tuple(value.upper() for value in values)
    for code in result:
        if not code.isalnum() or not code[0].isalpha():
            raise UsageError(f"not a code or code prefix: {code!r}")
    return result


Layer = tuple[tuple[str, ...], tuple[str, ...]]  # (select, ignore)


def choose_rules(layers: Sequence[Layer]) -> tuple[type[Rule], ...]:
    """Apply select/ignore layers in order: a layer's ``select`` replaces the selection so far
    (so ``--select FLK201`` turns on a rule the configuration ignores); its ``ignore`` narrows."""
    chosen = list(ALL_RULES)
    for select, ignore in layers:
        if select:
            chosen = [rule for rule in ALL_RULES if code_selected(rule.code, select, ignore)]
        elif ignore:
            chosen = [rule for rule in chosen if code_selected(rule.code, (), ignore)]
    return tuple(chosen)


def code_chosen(code: str, layers: Sequence[Layer]) -> bool:
    """Whether ``choose_rules`` would keep a rule with this code."""
    chosen = True
    for select, ignore in layers:
        if select:
            chosen = code_selected(code, select, ignore)
        elif ignore:
            chosen = chosen and code_selected(code, (), ignore)
    return chosen


def parse_jobs(value: str) -> int:
    if value == "auto":
        return os.cpu_count() or 1
    try:
        jobs = int(value)
    except ValueError:
        raise UsageError(f"-j/--jobs: expected a number or 'auto', got {value!r}") from None
    if jobs < 1:
        raise UsageError(f"-j/--jobs: expected a positive number, got {value!r}")
    return jobs


def read_config(paths: Sequence[str], explicit: str | None) -> tuple[dict, str | None]:
    """``[tool.flaskleak]`` of the given or the nearest ``pyproject.toml`` that has one."""
    if explicit:
        return _config_section(explicit, required=True), explicit
    directory = start_directory(paths)
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            section = _config_section(candidate, required=False)
            if section is not None:
                return section, candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return {}, None
        directory = parent


def start_directory(paths: Sequence[str]) -> str:
    """The directory the configuration is looked for from: the paths' common directory."""
    try:
        start = os.path.commonpath([os.path.abspath(path) for path in paths])
    except ValueError:  # paths on different drives
        start = os.getcwd()
    return start if os.path.isdir(start) else os.path.dirname(start)


def _config_section(path: str, required: bool) -> dict | None:
    try:
        return pyproject_section(path, required)
    except ConfigError as error:
        raise UsageError(str(error)) from None


# --- files ------------------------------------------------------------------------------------


def is_excluded(path: str, patterns: Iterable[str]) -> bool:
    """flake8-style: a glob matches the base name, the path as given or the absolute path."""
    name = os.path.basename(os.path.normpath(path))
    absolute = os.path.abspath(path)
    for pattern in patterns:
        if fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(os.path.normpath(path), pattern):
            return True
        if fnmatch.fnmatch(absolute, pattern) or fnmatch.fnmatch(
            absolute, os.path.abspath(pattern)
        ):
            return True
    return False


def collect_files(paths: Sequence[str], exclude: Sequence[str]) -> tuple[list[str], list[str]]:
    """Python files under the paths (a named file is taken whatever its suffix), and errors."""
    files: list[str] = []
    errors: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(os.path.normpath(path))

    for path in paths:
        if is_excluded(path, exclude):
            continue
        if os.path.isdir(path):
            for directory, subdirectories, filenames in os.walk(path):
                subdirectories[:] = sorted(
                    name for name in subdirectories
                    if name not in SKIP_DIRECTORIES
                    and not is_excluded(os.path.join(directory, name), exclude)
                )
                for filename in sorted(filenames):
                    full = os.path.join(directory, filename)
                    if filename.endswith(".py") and not is_excluded(full, exclude):
                        if os.path.isfile(full):  # skips dangling symlinks
                            add(full)
        elif os.path.isfile(path):
            add(path)
        else:
            errors.append(f"{path}:1:1: E902 FileNotFoundError: no such file or directory")
    return files, errors


def within(path: str, roots: Iterable[str]) -> bool:
    real = os.path.realpath(path)
    for root in roots:
        try:
            if os.path.commonpath([real, root]) == root:
                return True
        except ValueError:
            continue
    return False


# --- running over files -----------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr, for runs longer than a second on a terminal."""

    def __init__(self, total: int, label: str):
        self.total, self.label = total, label
        self.enabled = total > 1 and sys.stderr.isatty()
        self.started = time.monotonic()
        self.drawn_at = 0.0
        self.shown = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.started < PROGRESS_DELAY or now - self.drawn_at < 0.1:
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


def run_over_files(function: Callable, files: Sequence[str], jobs: int, label: str) -> list:
    """``function(path)`` for each file, in order; in worker processes when ``jobs > 1``."""
    progress = Progress(len(files), label)
    results = []
    try:
        if jobs > 1 and len(files) > 1:
            workers = min(jobs, len(files))
            chunk = max(1, min(16, len(files) // (workers * 4)))
            with ProcessPoolExecutor(max_workers=workers) as executor:
                for result in executor.map(function, files, chunksize=chunk):
                    results.append(result)
                    progress.update(len(results))
        else:
            for path in files:
                results.append(function(path))
                progress.update(len(results))
    finally:
        progress.finish()
    return results


def _internal_error(path: str, error: Exception) -> str:
    if os.environ.get("FLASKLEAK_STRICT"):
        raise error
    return (
        f"{path}: internal error: {type(error).__name__}: {error} "
        "(a bug in flake8-flaskleak, please report it)"
    )


# --- check ------------------------------------------------------------------------------------


@dataclass
class CheckReport:
    path: str
    located: list[Located] = field(default_factory=list)
    source_error: SourceError | None = None
    errors: list[str] = field(default_factory=list)


def check_file(
    path: str, options: Options, rules: tuple[type, ...], stale: bool = False
) -> CheckReport:
    """The findings of one file; with ``stale``, also its ``# noqa`` codes that suppress nothing."""
    report = CheckReport(path)
    try:
        text = decode_source(read_source(path))
        tree = parse_text(text, path)
        everything = analyse(tree, text, path, options, rules)
        findings, _ = split_suppressed(everything, text)
        if stale:
            checked = {rule.code for rule in rules}
            findings = sorted(findings + stale_noqa(text, everything, checked, RULES_BY_CODE))
    except SourceError as error:
        report.source_error = error
        return report
    except Exception as error:
        report.errors.append(_internal_error(path, error))
        return report
    lines = physical_lines(text)
    report.located = [Located(path, f, char_column(lines, f)) for f in findings]
    return report


@dataclass
class AddNoqaReport:
    path: str
    added: int = 0  # lines given or extended a ``# noqa`` comment
    left: list[Located] = field(default_factory=list)  # findings no comment could cover
    source_error: SourceError | None = None
    errors: list[str] = field(default_factory=list)


def add_noqa_file(path: str, options: Options, rules: tuple[type, ...]) -> AddNoqaReport:
    """Give every current finding of one file a ``# noqa`` comment; atomic write."""
    report = AddNoqaReport(path)
    try:
        source = read_source(path)
        text = decode_source(source)
        tree = parse_text(text, path)
        findings, _ = split_suppressed(analyse(tree, text, path, options, rules), text)
        new_source, report.added = add_noqa_to_source(source, text, findings)
        new_text = decode_source(new_source)
        parse_text(new_text, path)
        left, _ = split_suppressed(findings, new_text)
        if report.added:
            write_atomically(os.path.realpath(path), new_source)
    except SourceError as error:
        report.source_error = error
        return report
    except NoqaWriteError as error:
        report.errors.append(f"{path}: cannot add noqa comments: {error}")
        return report
    except OSError as error:
        report.errors.append(f"{path}: could not write: {error.strerror or error}")
        return report
    except Exception as error:
        report.errors.append(_internal_error(path, error))
        return report
    lines = physical_lines(new_text)
    report.left = [Located(path, f, char_column(lines, f)) for f in left]
    return report


def run_add_noqa(settings: Settings, files: list[str], path_errors: list[str]) -> int:
    files, notes = writable_files(files, settings.paths)
    worker = partial(add_noqa_file, options=settings.options, rules=settings.rules)
    reports: list[AddNoqaReport] = run_over_files(worker, files, settings.jobs, "adding noqa")
    failed = bool(path_errors)
    for message in path_errors + notes:
        print(message, file=sys.stderr)
    left: list[Located] = []
    for report in reports:
        if report.source_error is not None:
            failed = True
            print(f"{report.path}:{report.source_error}", file=sys.stderr)
        for message in report.errors:
            failed = True
            print(message, file=sys.stderr)
        left.extend(report.left)
    sys.stdout.write(render_text(left))
    added = sum(report.added for report in reports)
    changed = sum(1 for report in reports if report.added)
    print(
        f"flaskleak: added noqa to {added} line{'s' * (added != 1)} in {changed} "
        f"file{'s' * (changed != 1)}"
        + (f"; {len(left)} finding{'s' * (len(left) != 1)} could not be given one" if left else ""),
        file=sys.stderr,
    )
    if failed:
        return EXIT_ERROR
    return EXIT_FINDINGS if left else EXIT_CLEAN


def char_column(lines: Sequence[str], finding: Finding) -> int:
    if 1 <= finding.line <= len(lines):
        line = lines[finding.line - 1]
        return len(line.encode("utf-8")[: finding.col].decode("utf-8", "replace")) + 1
    return finding.col + 1


def run_check(arguments: argparse.Namespace) -> int:
    settings = settings_from(arguments)
    files, path_errors = collect_files(settings.paths, settings.exclude)
    rules = settings.rules
    if arguments.add_noqa:
        return run_add_noqa(settings, files, path_errors)
    worker = partial(check_file, options=settings.options, rules=rules, stale=settings.stale_noqa)
    reports: list[CheckReport] = run_over_files(worker, files, settings.jobs, "checking")
    for message in path_errors:
        print(message, file=sys.stderr)
    located: list[Located] = []
    source_errors: list[tuple[str, SourceError]] = []
    for report in reports:
        if report.source_error is not None:
            source_errors.append((report.path, report.source_error))
            print(f"{report.path}:{report.source_error}", file=sys.stderr)
        for message in report.errors:
            print(message, file=sys.stderr)
        located.extend(report.located)
    if arguments.format == "json":
        output = render_json(located)
    elif arguments.format == "sarif":
        described = ((StaleNoqaRule,) if settings.stale_noqa else ()) + tuple(rules)
        output = render_sarif(located, described, source_errors)
    elif arguments.format == "github":
        output = render_github(located, source_errors)
    else:
        output = render_text(located)
    write_output(output, arguments.output_file)
    if path_errors or source_errors or any(report.errors for report in reports):
        return EXIT_ERROR
    return EXIT_FINDINGS if located and not arguments.exit_zero else EXIT_CLEAN


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


def safe_fix_file(path: str, **kwargs) -> FileReport:
    try:
        return fix_file(path, **kwargs)
    except Exception as error:
        return FileReport(path=path, errors=[_internal_error(path, error)])


def run_fix(arguments: argparse.Namespace) -> int:
    settings = settings_from(arguments)
    files, path_errors = collect_files(settings.paths, settings.exclude)
    write = not (arguments.diff or arguments.check)
    notes: list[str] = []
    if write:
        files, notes = writable_files(files, settings.paths)
    worker = partial(
        safe_fix_file, options=settings.options, unsafe=arguments.unsafe_fixes,
        select=(), ignore=(), write=write, rules=settings.rules,
    )
    reports: list[FileReport] = run_over_files(worker, files, settings.jobs, "fixing")
    for message in path_errors + notes:
        print(message, file=sys.stderr)
    failed = bool(path_errors)
    for report in reports:
        if report.source_error is not None:
            failed = True
            print(f"{report.path}:{report.source_error}", file=sys.stderr)
        for message in report.errors:
            print(message, file=sys.stderr)
        failed = failed or any("internal error" in message for message in report.errors)
        if report.changed and arguments.diff:
            sys.stdout.write(unified_diff(report))
        elif report.changed and arguments.check:
            print(f"would fix {report.path}: {describe_counts(report.applied)}")
        elif write:
            sys.stdout.write(render_text([Located(report.path, f, 0) for f in report.remaining]))
    print(fix_summary(reports, write), file=sys.stderr)
    if failed:
        return EXIT_ERROR
    if arguments.diff or arguments.check:
        return EXIT_FINDINGS if any(report.changed for report in reports) else EXIT_CLEAN
    return EXIT_FINDINGS if any(report.remaining for report in reports) else EXIT_CLEAN


def writable_files(files: list[str], paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Files whose real file lies under the given paths (a symlink named on the command line
    counts as given); the others are left alone with a note."""
    roots = [os.path.realpath(path) for path in paths if os.path.isdir(path)]
    named = {os.path.normpath(path) for path in paths if not os.path.isdir(path)}
    kept, skipped = [], []
    for path in files:
        if path in named or within(path, roots):
            kept.append(path)
        else:
            skipped.append(
                f"{path}: not fixed: it links to {os.path.realpath(path)}, outside the paths given"
            )
    return kept, skipped


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


# --- rules and explain ------------------------------------------------------------------------


def run_rules() -> int:
    rows = [(rule.code, rule.name, fix_kind(rule) or "—", rule.summary) for rule in ALL_RULES]
    name_width = max([len("NAME")] + [len(row[1]) for row in rows])
    print(f"{'CODE':<8}{'NAME':<{name_width + 2}}{'FIX':<8}SUMMARY")
    for code, name, kind, summary in rows:
        print(f"{code:<8}{name:<{name_width + 2}}{kind:<8}{summary}")
    return EXIT_CLEAN


def run_explain(code: str) -> int:
    rule = RULES_BY_CODE.get(code.strip().upper()) or PSEUDO_RULES.get(code.strip().upper())
    if rule is None:
        raise UsageError(f"unknown rule {code!r}; `flaskleak rules` lists them")
    page = rule_page(rule)
    if page is None:
        print(f"flaskleak: the page of {rule.code} is missing from this install", file=sys.stderr)
        page = f"# {rule.code} {rule.name}\n\n{rule.summary}\n"
    sys.stdout.write(page if page.endswith("\n") else page + "\n")
    return EXIT_CLEAN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
