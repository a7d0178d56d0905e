"""Applying rules' fixes to one file: the loop, the checks on its output, and atomic writes.

Every finding carries what its fix would do (``Finding.fix``: safe, unsafe or none, and why),
decided by its rule without libcst. For each rule with findings left (in code order) whose fix
this run may apply (safe ones; unsafe ones too with ``--unsafe-fixes``), the rule's ``fix()``
rewrites exactly those findings in one pass on a libcst tree; the result must parse with both
``ast`` and libcst or it is thrown away and reported as a bug in that rule, and a fix that
rewrites fewer findings than it promised is reported too. The file is then re-analysed with
``ast`` (positions moved) before the next rule. Passes repeat until nothing changes, so a fix
that makes work for a lower-numbered rule (a new teardown) is finished in the same run.

libcst is imported here, lazily, and never on the ``check`` path.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .engine import ALL_RULES, analyse, code_selected, resolve_project
from .finding import Finding, FixSafety, no_fix
from .noqa import split_suppressed
from .options import Options
from .model.project import ProjectIndex
from .model.file import FileModel
from .rule import Rule
from .source import SourceError, decode_source, parse_text

MAX_PASSES = 3
# libcst takes tens of seconds per megabyte to parse, position and print a file, and files
# this large are generated: they are checked, never rewritten.
MAX_FIX_BYTES = 2_000_000


@dataclass
class FixResult:
    source: bytes  # the input
    fixed: bytes  # the output; equal to ``source`` when nothing changed
    applied: dict[str, int] = field(default_factory=dict)  # fixed findings by code
    remaining: list[Finding] = field(default_factory=list)  # findings still reported after
    errors: list[str] = field(default_factory=list)  # bugs in fixes, one line each
    unsafe_available: int = 0  # remaining findings an ``--unsafe-fixes`` run would fix
    # The findings of the input (positions in it), each with what its fix does: what
    # ``--diff`` and ``--show-fixes`` explain.
    planned: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.source


def fix_allowed(rule: type[Rule], unsafe: bool) -> bool:
    """Whether a run may apply any of this rule's fixes (each finding is still judged)."""
    if rule.fix_safety is FixSafety.SAFE:
        return True
    return unsafe and rule.fix_safety is FixSafety.UNSAFE


def allowed_findings(findings: Iterable[Finding], unsafe: bool) -> list[Finding]:
    return [f for f in findings if f.fix is not None and f.fix.allowed(unsafe)]


def fix_source(
    source: bytes,
    path: str,
    options: Options | None = None,
    unsafe: bool = False,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    *,
    rules: Iterable[type[Rule]] | None = None,
    project: ProjectIndex | None | bool = True,
) -> FixResult:
    """Fix one file's bytes. Raises ``SourceError`` when the input itself cannot be read.

    ``rules`` replaces the installed rules (tests); ``project`` is passed to ``analyse`` (None:
    the file alone, without the whole-project index).
    """
    options = options or Options()
    select, ignore = tuple(select), tuple(ignore)
    active = [rule for rule in (ALL_RULES if rules is None else rules)
              if code_selected(rule.code, select, ignore)]
    fixers = [rule for rule in active if fix_allowed(rule, unsafe)]
    state = _FileState(source, path, options, active, project)
    result = FixResult(source=source, fixed=source)
    if len(source) > MAX_FIX_BYTES and any(state.findings_of(rule.code) for rule in fixers):
        result.errors.append(
            f"{path}: not fixed: larger than {MAX_FIX_BYTES // 1_000_000} MB (generated?); "
            "its findings are reported"
        )
        fixers = []
        state.withdraw_fixes(f"not fixed: larger than {MAX_FIX_BYTES // 1_000_000} MB")
    applied: Counter[str] = Counter()
    broken: set[str] = set()
    result.planned = list(state.findings)
    for _ in range(MAX_PASSES):
        changed = False
        for rule in fixers:
            if state.unfixable:
                break
            wanted = allowed_findings(state.findings_of(rule.code), unsafe)
            if rule.code in broken or not wanted:
                continue
            outcome = _apply_rule(rule, state, wanted, result.errors)
            if outcome is None and not state.unfixable:
                outcome = 0  # the fix changed nothing, though it was to rewrite ``wanted``
            if outcome is None:
                continue
            if isinstance(outcome, str):
                broken.add(rule.code)
                result.errors.append(f"{path}: {outcome}")
                continue
            applied[rule.code] += outcome
            if outcome < len(wanted):
                broken.add(rule.code)
                result.errors.append(
                    f"{path}: the {rule.code} fix was to rewrite {len(wanted)} finding"
                    f"{'s' * (len(wanted) != 1)} and rewrote {outcome} (a bug in "
                    "flake8-flaskleak, please report it)"
                )
            changed = changed or outcome > 0
        if not changed:
            break
    if state.unfixable:
        state.withdraw_fixes("not fixed: libcst cannot parse this file")
        result.planned = list(state.findings) if not applied else result.planned
    result.fixed = state.source
    result.applied = {code: count for code, count in sorted(applied.items()) if count}
    result.remaining = state.findings
    if not unsafe:
        result.unsafe_available = sum(
            1 for finding in state.findings
            if finding.fix is not None and finding.fix.safety is FixSafety.UNSAFE
        )
    return result


class _FileState:
    """The current text of the file being fixed, its ``ast`` tree and its unsuppressed findings."""

    def __init__(self, source: bytes, path: str, options: Options, rules: list, project):
        self.path = path
        self.options = options
        self.rules = rules
        self.project = project
        self.unfixable = False  # libcst cannot parse it
        self.update(source, decode_source(source))

    def update(self, source: bytes, text: str) -> None:
        tree = parse_text(text, self.path)
        findings = analyse(
            tree, text, self.path, self.options, self.rules, self.project, with_fixes=True
        )
        self.source, self.text, self.tree = source, text, tree
        self.findings, _ = split_suppressed(findings, text)

    def withdraw_fixes(self, reason: str) -> None:
        """No fix will run on this file: no finding may promise one."""
        self.findings = [
            replace(finding, fix=no_fix(reason)) if finding.fix is not None else finding
            for finding in self.findings
        ]

    def findings_of(self, code: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.code == code]


def _apply_rule(
    rule: type[Rule], state: _FileState, wanted: list[Finding], errors: list[str]
) -> int | str | None:
    """Run one rule's fix on the findings it may rewrite: how many it fixed, an error text, or
    None (no change)."""
    import libcst as cst

    from .fixes import FixContext, UnfixableSource, keep_final_line_break

    before = len(state.findings_of(rule.code))
    project = resolve_project(state.path, state.options, state.project)
    model = FileModel(state.tree, state.text, state.path, state.options, project)
    try:
        context = FixContext(state.source, model, wanted, state.options)
    except (cst.ParserSyntaxError, UnfixableSource) as error:
        errors.append(f"{state.path}: libcst cannot parse this file, not fixed: {_one_line(error)}")
        state.unfixable = True
        return None
    try:
        module = rule(model).fix(context)
        if module is None:
            return None
        if not isinstance(module, cst.Module):
            raise TypeError(f"fix() returned {type(module).__name__}, not a libcst Module")
        new_source = keep_final_line_break(state.source, module.bytes)
    except Exception as error:
        if os.environ.get("FLASKLEAK_STRICT"):
            raise
        return f"internal error in the {rule.code} fix: {type(error).__name__}: {_one_line(error)}"
    if new_source == state.source:
        return None
    try:
        cst.parse_module(new_source)
        new_text = decode_source(new_source)
        state.update(new_source, new_text)
    except (SourceError, cst.ParserSyntaxError) as error:
        return (
            f"the {rule.code} fix produced code that does not parse ({_one_line(error)}); "
            "its changes were not applied (a bug in flake8-flaskleak, please report it)"
        )
    return max(0, before - len(state.findings_of(rule.code)))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:200] if text else type(error).__name__


# --- files ----------------------------------------------------------------------------------


@dataclass
class FileReport:
    """What happened to one file; picklable, so worker processes can return it."""

    path: str
    source: bytes = b""
    fixed: bytes = b""
    applied: dict[str, int] = field(default_factory=dict)
    remaining: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # bugs and write failures
    source_error: SourceError | None = None  # the file could not be read or parsed
    unsafe_available: int = 0
    planned: list[Finding] = field(default_factory=list)  # the input's findings, with ``fix``
    written: bool = False
    write_failed: bool = False  # the fixed text could not be written: nothing was fixed
    located: list = field(default_factory=list)  # report.Located of ``remaining``, for output
    notices: list[str] = field(default_factory=list)  # files the project index left out

    @property
    def changed(self) -> bool:
        return self.source_error is None and self.fixed != self.source


def write_atomically(target: str, data: bytes) -> None:
    """Replace ``target`` with ``data`` in one rename: a temp file in its directory, mode kept.

    ``target`` is the real file (a symlink's target), so the link itself stays a link. A file
    nobody may write (mode 0444), or that this user may not write, is left alone: the rename
    would replace it all the same (it needs only the directory), so it is refused here with
    ``PermissionError``, like any file that cannot be written.
    """
    mode = stat.S_IMODE(os.stat(target).st_mode)
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "read-only file", target)
    directory, name = os.path.split(target)
    handle, temp_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".flaskleak", dir=directory)
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.chmod(temp_path, mode)
        os.replace(temp_path, target)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise
