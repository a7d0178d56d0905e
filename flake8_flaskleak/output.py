"""What ``flaskleak check`` prints around the findings: flake8's order, ``--show-source``,
``--show-fixes``, ``--statistics`` and the summary line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .engine import RULES_BY_CODE
from .finding import FixSafety
from .report import (
    PSEUDO_RULES,
    Located,
    applicability,
    render_github,
    render_json,
    render_sarif,
    render_text,
)
from .source import SourceError


def flake8_order(located: Sequence[Located]) -> list[Located]:
    """As flake8 prints: files by path, then each file's findings by line and column."""
    return sorted(located, key=lambda item: (
        item.path, item.finding.line, item.finding.col, item.finding.code, item.finding.message,
    ))


def fix_safety(item: Located) -> FixSafety | None:
    """What ``fix`` does with this finding: safe, unsafe (with --unsafe-fixes) or None."""
    return applicability(item.finding).safety


def render_findings(
    located: Sequence[Located],
    output_format: str,
    described_rules: Sequence[type],
    source_errors: Sequence[tuple[str, SourceError]],
    *,
    show_source: bool = False,
    show_fixes: bool = False,
    statistics: bool = False,
) -> str:
    if output_format == "json":
        return render_json(located)
    if output_format == "sarif":
        return render_sarif(located, described_rules, source_errors)
    if output_format == "github":
        return render_github(located, source_errors)
    lines = []
    for item in located:
        text = render_text([item]).rstrip("\n")
        if show_fixes:
            safety = fix_safety(item)
            if safety is FixSafety.SAFE:
                text += " [*]"
            elif safety is FixSafety.UNSAFE:
                text += " [*unsafe]"
        lines.append(text + "\n")
        if show_source and item.source_line:
            lines.append(item.source_line + "\n")
            lines.append(_caret(item.source_line, item.char_column) + "\n")
    if statistics:
        lines.append(render_statistics(located))
    return "".join(lines)


def _caret(line: str, column: int) -> str:
    """flake8's pointer line: the line's own tabs kept, so the caret lines up."""
    indent = "".join(char if char.isspace() else " " for char in line[: column - 1])
    return indent + "^"


def render_statistics(located: Sequence[Located]) -> str:
    """flake8's ``--statistics``: a count per code, with the rule's name."""
    counts = Counter(item.finding.code for item in located)
    lines = []
    for code in sorted(counts):
        rule = RULES_BY_CODE.get(code) or PSEUDO_RULES.get(code)
        lines.append(f"{counts[code]:<5} {code} {rule.name if rule else ''}".rstrip() + "\n")
    return "".join(lines)


def summary_line(located: Sequence[Located], files_checked: int, unsafe_fixes: bool) -> str:
    """``3 findings in 2 files (1 fixable; 2 more with --unsafe-fixes)``."""
    files = len({item.path for item in located})
    if not located:
        return f"flaskleak: no findings ({files_checked} file{'s' * (files_checked != 1)} checked)"
    safe = sum(1 for item in located if fix_safety(item) is FixSafety.SAFE)
    unsafe = sum(1 for item in located if fix_safety(item) is FixSafety.UNSAFE)
    fixable = safe + unsafe if unsafe_fixes else safe
    details = []
    if fixable:
        details.append(f"{fixable} fixable with `flaskleak fix{' --unsafe-fixes' * unsafe_fixes}`")
    if unsafe and not unsafe_fixes:
        details.append(f"{unsafe} {'more ' * bool(fixable)}with --unsafe-fixes")
    count = len(located)
    return (
        f"flaskleak: {count} finding{'s' * (count != 1)} in {files} file{'s' * (files != 1)}"
        + (f" ({'; '.join(details)})" if details else "")
    )
