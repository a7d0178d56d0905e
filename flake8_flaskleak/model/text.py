"""The file's text as an index: which lines say something, before any tree is walked.

Most questions a rule asks can only be answered "yes" on the few lines whose text names what
the rule looks for (``scoped_session``, ``.push(``, ``Thread(``). A regular expression over the
whole text runs in C and costs a tiny fraction of one walk of the tree, so the model asks the
text first and scans only the functions that hold those lines.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cached_property, lru_cache

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

    def segment(self, first_line: int, last_line: int) -> str:
        """The text of lines ``first_line`` to ``last_line`` (1-based, inclusive)."""
        starts = self.line_starts
        end = starts[last_line] if last_line < len(starts) else len(self.text)
        return self.text[starts[first_line - 1]:end]

    def line_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset)

    def lines_matching(self, pattern: re.Pattern[str] | Words) -> list[int]:
        """Sorted line numbers (1-based) on which ``pattern`` matches."""
        if isinstance(pattern, Words):
            return self._lines_with_words(pattern)
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

    def _lines_with_words(self, query: Words) -> list[int]:
        text = self.text
        find = text.find
        length = len(text)
        follow = query.follow
        whole = query.whole
        offsets: list[int] = []
        for word in query.words:
            size = len(word)
            position = find(word)
            while position != -1:
                end = position + size
                if (
                    (not whole or position == 0 or not _word_char(text[position - 1]))
                    and (not whole or end == length or not _word_char(text[end]))
                    and (follow is None or follow.match(text, end))
                ):
                    offsets.append(position)
                position = find(word, end)
        if not offsets:
            return []
        starts = self.line_starts
        return sorted({bisect_right(starts, offset) for offset in offsets})

    def mentions(self, pattern: re.Pattern[str] | Words) -> bool:
        if isinstance(pattern, Words):
            return bool(self._lines_with_words(pattern))
        return pattern.search(self.text) is not None


class Words:
    """A text query for whole words (``Thread``, ``db.session``), optionally followed by a
    pattern (``\\s*\\(`` for a call): answered with ``str.find``, which beats a regular
    expression with many alternatives when the words are rare, as they are."""

    __slots__ = ("words", "follow", "whole")

    def __init__(self, words, follow: str = "", whole: bool = True):
        self.words = tuple(sorted({word for word in words if word}))
        self.follow = _compiled(follow) if follow else None
        self.whole = whole  # False: also inside a longer word (``@``, ``teardown_``)


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def words_pattern(words, follow: str = "", whole: bool = True) -> Words:
    """The query for ``words`` as whole words, each followed by ``follow`` if given."""
    return Words(words, follow, whole)


def _word_char(character: str) -> bool:
    return character.isalnum() or character == "_"
