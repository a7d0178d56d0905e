"""The file's text as an index: which lines say something, before any tree is walked.

Most questions a rule asks can only be answered "yes" on the few lines whose text names what
the rule looks for (``scoped_session``, ``.push(``, ``Thread(``). A regular expression over the
whole text runs in C and costs a tiny fraction of one walk of the tree, so the model asks the
text first and scans only the functions that hold those lines.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cached_property

_NEWLINE = re.compile(r"\r\n?|\n")


class SourceText:
    def __init__(self, text: str):
        self.text = text

    @cached_property
    def line_starts(self) -> list[int]:
        """Offset of the first character of each line (index 0 is line 1)."""
        text = self.text
        if "\r" in text:  # the parser counts a lone CR as a line break too
            return [0] + [match.end() for match in _NEWLINE.finditer(text)]
        starts = [0]
        find = text.find
        position = find("\n")
        while position != -1:
            starts.append(position + 1)
            position = find("\n", position + 1)
        return starts

    def line_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset)

    def lines_matching(self, pattern: re.Pattern[str]) -> list[int]:
        """Sorted line numbers (1-based) on which ``pattern`` matches."""
        lines: list[int] = []
        last = 0
        starts = None
        for match in pattern.finditer(self.text):
            if starts is None:
                starts = self.line_starts
            line = bisect_right(starts, match.start())
            if line != last:
                lines.append(line)
                last = line
        return lines

    def mentions(self, pattern: re.Pattern[str]) -> bool:
        return pattern.search(self.text) is not None


def words_pattern(words, suffix: str = "") -> re.Pattern[str]:
    """``\\b(?:a|b|c)`` + suffix, longest first, for a set of plain words."""
    ordered = sorted(set(words), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(word) for word in ordered) + ")" + suffix)
