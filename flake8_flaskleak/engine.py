"""The one analysis path both front ends use: pick the rules a file's text can trigger, run them.

Nothing here parses: the flake8 plugin hands over the tree flake8 already built, and the
``flaskleak`` command parses with ``ast`` once per file before calling ``analyse``.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable

from .finding import Finding
from .model.file import FileModel
from .model.project import ProjectIndex, project_for
from .options import Options
from .rule import Rule
from .rules import discover

ALL_RULES: list[type[Rule]] = discover()
RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in ALL_RULES}


def code_selected(code: str, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> bool:
    """``--select``/``--ignore`` by code or prefix; the longer matching prefix wins, as in flake8."""
    select = tuple(select) or ("FLK",)
    selected = max((len(p) for p in select if code.startswith(p)), default=-1)
    ignored = max((len(p) for p in ignore if code.startswith(p)), default=-1)
    return selected > ignored


def rules_for(
    text: str, path: str, options: Options, rules: Iterable[type[Rule]] = ALL_RULES
) -> list[type[Rule]]:
    return [rule for rule in rules if rule.applies_to(text, path, options)]


def analyse(
    tree: ast.Module,
    text: str,
    path: str,
    options: Options | None = None,
    rules: Iterable[type[Rule]] = ALL_RULES,
    project: ProjectIndex | None | bool = True,
) -> list[Finding]:
    """All findings for one parsed file, sorted by position.

    ``project``: True looks up the whole-project index for the file (when the option is on and
    the file is in a project); None analyses the file alone.
    """
    options = options or Options()
    active = rules_for(text, path, options, rules)
    if not active:
        return []
    model = FileModel(tree, text, path, options, resolve_project(path, options, project))
    findings: set[Finding] = set()
    for rule in active:
        if rule.request_time_only and not model.request_code_possible:
            continue
        try:
            findings.update(rule(model).check())
        except Exception as error:  # a bug in a rule must not take the user's lint run down
            if os.environ.get("FLASKLEAK_STRICT"):
                raise
            print(
                f"flake8-flaskleak: internal error in {rule.code} on {path}: "
                f"{type(error).__name__}: {error} (please report this)",
                file=sys.stderr,
            )
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
