"""``# noqa`` comments, read exactly as flake8 reads them, for the ``flaskleak`` command.

flake8 searches each line for ``# noqa`` (any case) optionally followed by ``:`` and a list of
codes or prefixes; a bare ``# noqa`` suppresses everything on the line, ``# noqa: FLK201,FLK3``
suppresses the codes starting with one of those. A token that spans several lines (a
triple-quoted string) makes them one line for this purpose. The plugin gets this from flake8
itself; this module gives ``flaskleak check`` and ``flaskleak fix`` the same answers.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

from .finding import Finding

# The same expression as flake8.defaults.NOQA_INLINE_REGEXP (flake8 7).
NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
_CODE_SEPARATOR = re.compile(r"[,\s]")


@dataclass(frozen=True)
class Noqa:
    """One ``# noqa`` comment: the line it is written on and the codes it lists."""

    line: int  # the physical line holding the comment (1-based)
    codes: tuple[str, ...] | None  # None for a bare ``# noqa``: everything is suppressed

    def suppresses(self, code: str) -> bool:
        if self.codes is None:
            return True
        return code in self.codes or code.startswith(self.codes)


def parse_noqa(line_text: str, line: int) -> Noqa | None:
    match = NOQA_INLINE.search(line_text)
    if match is None:
        return None
    codes_text = match.group("codes")
    if codes_text is None:
        return Noqa(line, None)
    codes = tuple(code.strip() for code in _CODE_SEPARATOR.split(codes_text) if code.strip())
    return Noqa(line, codes)


class NoqaIndex:
    """The ``# noqa`` that applies to each line of one file's text."""

    def __init__(self, text: str):
        self.lines = text.splitlines(keepends=True)
        self._ranges = _line_ranges(text, len(self.lines))
        self._cache: dict[int, Noqa | None] = {}

    def directive_for(self, line: int) -> Noqa | None:
        if line not in self._cache:
            self._cache[line] = self._find(line)
        return self._cache[line]

    def _find(self, line: int) -> Noqa | None:
        first, last = self._ranges.get(line, (line, line))
        for number in range(first, last + 1):
            if 1 <= number <= len(self.lines):
                directive = parse_noqa(self.lines[number - 1], number)
                if directive is not None:
                    return directive
        return None

    def suppresses(self, finding: Finding) -> bool:
        directive = self.directive_for(finding.line)
        return directive is not None and directive.suppresses(finding.code)


def split_suppressed(
    findings: Iterable[Finding], text: str
) -> tuple[list[Finding], list[Finding]]:
    """``(kept, suppressed)``: the findings a ``# noqa`` on their line does not / does cover."""
    findings = list(findings)
    if not findings or "noqa" not in text.lower():
        return findings, []
    index = NoqaIndex(text)
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in findings:
        (suppressed if index.suppresses(finding) else kept).append(finding)
    return kept, suppressed


def _line_ranges(text: str, line_count: int) -> dict[int, tuple[int, int]]:
    """Lines joined by a multi-line token, as flake8's ``_noqa_line_mapping`` joins them."""
    ranges: dict[int, tuple[int, int]] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return ranges  # every line stands alone, as flake8 falls back to
    first, last = line_count + 2, -1
    for token in tokens:
        if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        first, last = min(first, token.start[0]), max(last, token.end[0])
        if token.type in (tokenize.NL, tokenize.NEWLINE):
            if last > first:
                for number in range(first, last + 1):
                    ranges[number] = (first, last)
            first, last = line_count + 2, -1
    return ranges
