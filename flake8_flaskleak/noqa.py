"""``# noqa`` comments, read exactly as flake8 reads them, for the ``flaskleak`` command.

flake8 searches each line for ``# noqa`` (any case) optionally followed by ``:`` and a list of
codes or prefixes; a bare ``# noqa`` suppresses everything on the line, ``# noqa: FLK201,FLK3``
suppresses the codes starting with one of those. A token that spans several lines (a
triple-quoted string) makes them one line for this purpose. The plugin gets this from flake8
itself; this module gives ``flaskleak check`` and ``flaskleak fix`` the same answers.

It also writes them (``flaskleak check --add-noqa``: a new ``  # noqa: FLK201`` at the end of
the statement's last physical line, where flake8 reads it for a multi-line string too, or the
code merged into the ``# noqa`` list already there) and finds the stale ones: an ``FLK`` code in
a ``# noqa`` comment that suppresses no finding is reported as ``FLK000`` by ``flaskleak check``
(flake8 cannot know which codes a comment is for, so the plugin never reports it).
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from .finding import Finding

# The same expression as flake8.defaults.NOQA_INLINE_REGEXP (flake8 7).
NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
_CODE_SEPARATOR = re.compile(r"[,\s]")
_CODE = re.compile(r"[A-Za-z]+[0-9]+")
STALE_NOQA_CODE = "FLK000"  # reported by ``flaskleak check`` only; see rules/FLK000-stale-noqa.md
STALE_NOQA_NAME = "stale-noqa"
STALE_NOQA_SUMMARY = "a `# noqa` comment lists an FLK code that suppresses nothing"


class StaleNoqaRule:
    """FLK000 as the reports and ``explain`` see a rule: it has a page but no ``check()``."""

    code = STALE_NOQA_CODE
    name = STALE_NOQA_NAME
    summary = STALE_NOQA_SUMMARY
    fix_safety = None


def physical_lines(text: str) -> list[str]:
    """The lines as Python and flake8 count them (``\\n``, ``\\r\\n``, ``\\r``; not form feeds)."""
    return io.StringIO(text, newline="").readlines()


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
        self.lines = physical_lines(text)
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


# --- writing and auditing ``# noqa`` comments --------------------------------------------------


@dataclass(frozen=True)
class NoqaComment:
    """A ``# noqa: CODES`` inside a real comment token (not in a string)."""

    line: int
    column: int  # where ``# noqa`` starts in the line, in characters
    comment: str  # the comment token's text
    codes: tuple[tuple[str, int], ...]  # each listed code and its column in the line


def noqa_comments(text: str) -> list[NoqaComment]:
    """The ``# noqa`` comments listing codes; ``# noqa`` text inside strings is not one."""
    found: list[NoqaComment] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.COMMENT:
                continue
            match = NOQA_INLINE.search(token.string)
            if match is None or match.group("codes") is None:
                continue
            start = token.start[1]
            codes = tuple(
                (code.group(), start + match.start("codes") + code.start())
                for code in _CODE.finditer(match.group("codes"))
            )
            found.append(NoqaComment(token.start[0], start + match.start(), token.string, codes))
    except (tokenize.TokenError, SyntaxError):
        return []
    return found


FLK_NOQA = re.compile(r"noqa\s*:[^\n]*FLK", re.IGNORECASE)


def mentions_flk_noqa(text: str) -> bool:
    """A ``# noqa: ...FLK...`` anywhere: the cheap test before any tokenizing."""
    return "noqa" in text.lower() and FLK_NOQA.search(text) is not None


def stale_noqa(
    text: str, findings: Iterable[Finding], checked: Collection[str], known: Collection[str]
) -> list[Finding]:
    """``FLK000`` findings for the FLK codes of ``# noqa`` comments that suppress nothing.

    ``findings`` are all the findings of the rules that ran (suppressed or not), ``checked``
    their codes, ``known`` every rule code: a code covering a rule that did not run (``--select``)
    is not judged. The stale report obeys ``# noqa`` itself (``# noqa: FLK201,FLK000`` keeps it).
    """
    if not mentions_flk_noqa(text):
        return []
    comments = noqa_comments(text)
    if not comments:
        return []
    index = NoqaIndex(text)
    used: set[tuple[int, str]] = set()
    for finding in findings:
        directive = index.directive_for(finding.line)
        for code in (directive.codes or ()) if directive else ():
            if finding.code.startswith(code):
                used.add((directive.line, code))
    lines = index.lines
    stale: list[Finding] = []
    for comment in comments:
        for code, column in comment.codes:
            if not code.startswith("FLK") or (comment.line, code) in used:
                continue
            covered = [rule_code for rule_code in known if rule_code.startswith(code)]
            if any(rule_code not in checked for rule_code in covered):
                continue
            byte_column = len(lines[comment.line - 1][:column].encode("utf-8"))
            stale.append(Finding(comment.line, byte_column, STALE_NOQA_CODE,
                                 _stale_message(code, bool(covered))))
    kept, _ = split_suppressed(stale, text)
    return kept


def _stale_message(code: str, known: bool) -> str:
    if not known:
        return (
            f"stale noqa: `{code}` is not a flaskleak rule code and suppresses nothing: remove "
            "it from the `# noqa` comment (`flaskleak rules` lists the codes)"
        )
    return (
        f"stale noqa: no {code} finding here any more, so `{code}` suppresses nothing: remove "
        "it from the `# noqa` comment"
    )


def add_noqa_lines(text: str, findings: Sequence[Finding]) -> dict[int, str]:
    """New texts of the lines that need a ``# noqa`` for ``findings`` (line number -> line).

    A finding whose line already falls under a ``# noqa`` comment gets its code merged into
    that comment's list; otherwise ``  # noqa: CODES`` goes at the end of the last physical line
    of its token run (the line flake8 joins a multi-line string or a backslash continuation
    to). Nothing else on a line changes, its line ending included. A finding governed by
    ``# noqa`` text inside a string cannot be given a comment flake8 would read: it is skipped.
    """
    lines = physical_lines(text)
    ranges = _line_ranges(text, len(lines))
    index = NoqaIndex(text)
    comments = {comment.line: comment for comment in noqa_comments(text)}
    merges: dict[int, set[str]] = {}
    appends: dict[int, set[str]] = {}
    for finding in findings:
        if not 1 <= finding.line <= len(lines):
            continue
        directive = index.directive_for(finding.line)
        if directive is None:
            _, last = ranges.get(finding.line, (finding.line, finding.line))
            appends.setdefault(last, set()).add(finding.code)
            continue
        comment = comments.get(directive.line)
        first_match = NOQA_INLINE.search(lines[directive.line - 1])
        if comment is None or first_match is None or first_match.start() != comment.column:
            continue  # the governing "# noqa" is in a string, or is bare (nothing to add)
        merges.setdefault(directive.line, set()).add(finding.code)
    edited: dict[int, str] = {}
    for number, codes in merges.items():
        edited[number] = _merge_codes(lines[number - 1], comments[number], codes)
    for number, codes in appends.items():
        line = edited.get(number, lines[number - 1])
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        content = body.rstrip(" \t")
        comment = f"  # noqa: {','.join(sorted(codes))}"
        edited[number] = content + comment + body[len(content):] + ending
    return edited


def _merge_codes(line: str, comment: NoqaComment, codes: set[str]) -> str:
    listed = {code for code, _ in comment.codes}
    new = sorted(codes - listed)
    if not new:
        return line
    last_code, last_column = comment.codes[-1]
    insert_at = last_column + len(last_code)
    separator = ","
    if len(comment.codes) > 1:
        first_code, first_column = comment.codes[0]
        separator = line[first_column + len(first_code): comment.codes[1][1]] or ","
    return line[:insert_at] + "".join(separator + code for code in new) + line[insert_at:]


_BYTE_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class NoqaWriteError(ValueError):
    """The file's bytes cannot be edited line by line without changing other bytes."""


def add_noqa_to_source(source: bytes, text: str, findings: Sequence[Finding]) -> tuple[bytes, int]:
    """``source`` with the ``# noqa`` comments ``findings`` need, and how many lines changed.

    Only the edited lines are re-encoded, in the file's own encoding (cookie or BOM); every
    other byte is kept as it was.
    """
    edited = add_noqa_lines(text, findings)
    changed = {number: line for number, line in edited.items()
               if line != physical_lines(text)[number - 1]}
    if not changed:
        return source, 0
    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    bom = b""
    if encoding == "utf-8-sig":
        encoding, bom = "utf-8", b"\xef\xbb\xbf"
    byte_lines = _BYTE_LINE.findall(source[len(bom):] if source.startswith(bom) else source)
    text_lines = physical_lines(text)
    if len(byte_lines) != len(text_lines):
        raise NoqaWriteError("its line breaks do not match its decoded text")
    for number, line in changed.items():
        if text_lines[number - 1].encode(encoding) != byte_lines[number - 1]:
            raise NoqaWriteError(f"line {number} does not round-trip through {encoding}")
        byte_lines[number - 1] = line.encode(encoding)
    return (bom if source.startswith(bom) else b"") + b"".join(byte_lines), len(changed)
