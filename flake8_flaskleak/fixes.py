"""What a rule's fix receives: the libcst tree of one file, with node positions.

Imported only when a file has a fixable finding: parsing with libcst costs about ten times
``ast.parse``. A rule's ``fix(context)`` returns the rewritten ``libcst.Module`` (built from
``context.module``, whose nodes ``context.positions`` knows), or ``None`` when none of its
findings could be fixed.

Findings carry ``ast`` positions: 1-based lines, and columns counted in UTF-8 bytes as flake8
reports them. ``node_at`` converts to libcst's character columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .finding import Finding
from .model.file import FileModel


class FixContext:
    def __init__(self, source: bytes, model: FileModel, findings: list[Finding], options=None):
        self.model = model  # the ast view of the same text
        self.findings = findings  # this rule's findings in this file, noqa'd ones removed
        self.options = model.options if options is None else options
        self._wrapper = MetadataWrapper(parse_for_fixing(source), unsafe_skip_copy=True)
        self.lines = model.text.splitlines(keepends=True)

    @property
    def module(self) -> cst.Module:
        return self._wrapper.module

    @cached_property
    def positions(self):
        return self._wrapper.resolve(PositionProvider)

    def char_column(self, line: int, byte_col: int) -> int:
        if 1 <= line <= len(self.lines):
            return len(self.lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace"))
        return byte_col

    def nodes_starting_at(self, line: int, node_type: type | tuple = cst.CSTNode) -> Iterator[cst.CSTNode]:
        for node, position in self.positions.items():
            if position.start.line == line and isinstance(node, node_type):
                yield node

    def node_at(self, finding: Finding, node_type: type | tuple = cst.CSTNode) -> cst.CSTNode | None:
        """The outermost node of ``node_type`` that starts exactly where the finding points."""
        column = self.char_column(finding.line, finding.col)
        best = None
        for node in self.nodes_starting_at(finding.line, node_type):
            position = self.positions[node]
            if position.start.column != column:
                continue
            if best is None or _contains(position, self.positions[best]):
                best = node
        return best


class UnfixableSource(Exception):
    """libcst parses the file but would not give back its bytes: it is not fixed."""


def parse_for_fixing(source: bytes) -> cst.Module:
    """The libcst tree of ``source``; ``UnfixableSource`` when fixing it could not keep the
    bytes outside the edited spans or would write code that does not parse.

    libcst does not round-trip form feeds in indentation (it drops or repeats them), and when
    the first indented line starts with one, blocks a fix creates would be indented
    ``"\\f    \\f    "``, which Python reads as four columns, not eight.
    """
    module = cst.parse_module(source)
    if b"\f" in source and ("\f" in module.default_indent or module.bytes != source):
        raise UnfixableSource("form feeds in its indentation, which libcst does not keep")
    return module


def keep_final_line_break(source: bytes, fixed: bytes) -> bytes:
    """libcst drops the last line break of a file whose lines end with CR alone (it parses
    ``b"x = 1\\r"`` as a module without a trailing newline): put it back."""
    if source.endswith(b"\r") and not fixed.endswith((b"\r", b"\n")):
        return fixed + b"\r"
    return fixed


def _contains(outer, inner) -> bool:
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        outer.end.line,
        outer.end.column,
    ) >= (inner.end.line, inner.end.column)
