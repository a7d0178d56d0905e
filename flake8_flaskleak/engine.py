"""The one analysis path both front ends use: pick the rules a file's text can trigger, run them.

Nothing here parses: the flake8 plugin hands over the tree flake8 already built, and the
``flaskleak`` command parses with ``ast`` once per file before calling ``analyse``.
"""

from __future__ import annotations

import ast
import dataclasses
import os
from collections.abc import Iterable

from .finding import Finding, no_fix
from .model.file import FileModel, is_test_path
from .model.module_facts import has_entry_signals
from .model.parallel_facts import compute_reach_facts
from .model.project import ProjectIndex, find_root, indexes_for, prebuild, project_for
from .options import Options
from .rule import Rule
from .rules import discover
from .source import retry_with_deep_stack

ALL_RULES: list[type[Rule]] = discover()
RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}
INTERNAL_ERROR_CODE = "FLK900"  # a bug in a rule: reported as a finding so no run goes green
INTERNAL_ERROR_NAME = "internal-error"


def internal_error_finding(rule_code: str, error: BaseException) -> Finding:
    """What a rule that crashed on a file reports instead of its findings: a finding on line 1
    of that file, so flake8 fails and ``flaskleak`` exits 2 (set ``FLASKLEAK_STRICT=1`` to get
    the traceback instead)."""
    text = " ".join(str(error).split())[:300]
    detail = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return Finding(
        1, 0, INTERNAL_ERROR_CODE,
        f"internal error in {rule_code}: {detail} (a bug in flake8-flaskleak, please report it)",
    )


def code_selected(code: str, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> bool:
    """``--select``/``--ignore`` by code or prefix; the longer matching prefix wins, as in flake8."""
    select = tuple(select) or ("FLK",)
    selected = max((len(p) for p in select if code.startswith(p)), default=-1)
    ignored = max((len(p) for p in ignore if code.startswith(p)), default=-1)
    return selected > ignored


def rules_for(
    text: str, path: str, options: Options, rules: Iterable[type[Rule]] = ALL_RULES
) -> list[type[Rule]]:
    """The rules whose text test this file passes. A request-time rule's own test is only run
    when the text can register request code or may be reached from another module (the project
    is asked later, once the model exists)."""
    entries = None
    active = []
    for rule in rules:
        if rule.request_time_only:
            if entries is None:
                entries = has_entry_signals(text, options)
            if not entries and not options.project_analysis:
                continue
        if rule.applies_to(text, path, options):
            active.append(rule)
    return active


def worth_parsing(
    text: str, path: str, options: Options, rules: Iterable[type[Rule]] = ALL_RULES
) -> bool:
    """Whether any rule could find something in this text: the gate a very large file must
    pass before it is parsed (a data module would cost seconds and gigabytes for nothing)."""
    request_code = has_entry_signals(text, options)
    return any(
        request_code or not rule.request_time_only
        for rule in rules_for(text, path, options, rules)
    )


def needs_project_index(path: str, options: Options) -> bool:
    """Whether checking this file (or any file under this folder) may ask the project index
    where request-time code is: the test run before building the index for worker processes."""
    if os.path.isdir(path):
        return options.project_analysis
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return False
    return options.project_analysis and any(
        rule.request_time_only for rule in rules_for(text, path, options)
    )


def prebuild_project_indexes(paths: Iterable[str], options: Options, jobs: int = 1) -> None:
    """Build, before worker processes start, the project index the files will ask for, so that
    N workers share one build (forked) or the disk cache (spawned) instead of making N; the
    modules' facts it needs are computed by ``jobs`` processes."""
    wanted = [path for path in paths if needs_project_index(path, options)]
    if jobs > 1:
        try:
            compute_reach_facts(indexes_for(wanted, options), jobs)
        except Exception:  # a pool that cannot start: the build below does it alone
            if os.environ.get("FLASKLEAK_STRICT"):
                raise
    prebuild(wanted, options)


def analyse(
    tree: ast.Module,
    text: str,
    path: str,
    options: Options | None = None,
    rules: Iterable[type[Rule]] = ALL_RULES,
    project: ProjectIndex | None | bool = True,
    with_fixes: bool = False,
) -> list[Finding]:
    """All findings for one parsed file, sorted by position.

    ``project``: True looks up the whole-project index for the file (when the option is on and
    the file is in a project); None analyses the file alone. ``with_fixes``: also say, per
    finding, what its fix would do (``Finding.fix``); the ``flaskleak`` command asks for it,
    the flake8 plugin never pays for it.
    """
    options = options or Options()
    active = rules_for(text, path, options, rules)
    if not active:
        return []
    project = resolve_project(path, options, project)
    if not options.include_tests and is_test_path(path, project.root if project else find_root(path)):
        return []  # test code builds apps, sessions and threads per test, on purpose
    model = FileModel(tree, text, path, options, project)
    findings: set[Finding] = set()
    for rule in active:
        if rule.request_time_only and not model.request_code_possible:
            continue  # the rule reports request-time code, and this file has none
        try:
            # deep but valid code (generated modules) gets a second try with a larger stack
            findings.update(retry_with_deep_stack(_run_rule, rule, model, with_fixes))
        except Exception as error:  # a bug in a rule: the other rules still run on the file
            if os.environ.get("FLASKLEAK_STRICT"):
                raise
            findings.add(internal_error_finding(rule.code, error))
    return sorted(findings)


def resolve_project(path: str, options: Options, project) -> ProjectIndex | None:
    """``project``: True looks up the file's project index, None (or False) means none."""
    if project is not True:
        return project or None
    try:
        return project_for(path, options)
    except Exception:  # the project index is an extra: never fail the file on it
        if os.environ.get("FLASKLEAK_STRICT"):
            raise
        return None


def _run_rule(rule: type[Rule], model: FileModel, with_fixes: bool = False) -> list[Finding]:
    instance = rule(model)
    findings = list(instance.check())
    if not with_fixes or not findings:
        return findings
    try:
        plans = instance.fix_applicability(findings)
    except Exception as error:  # a bug in planning a fix must not cost the findings
        if os.environ.get("FLASKLEAK_STRICT"):
            raise
        reason = no_fix(
            f"internal error while planning the {rule.code} fix: {type(error).__name__} "
            "(a bug in flake8-flaskleak, please report it)"
        )
        plans = {finding: reason for finding in findings}
    fallback = no_fix(f"{rule.code} has no automatic fix")
    return [dataclasses.replace(f, fix=plans.get(f, fallback)) for f in findings]
