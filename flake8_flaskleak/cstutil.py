"""Small libcst helpers for fixes: docstrings, the module's import block, adding imports.

Imported only from ``fix()`` methods (libcst is never loaded on the check path).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import libcst as cst

STDLIB = frozenset(sys.stdlib_module_names)


def is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def import_roots(statement: cst.BaseStatement) -> list[tuple[str, bool]] | None:
    """``[(top-level module, is a from-import)]`` for an import line, ``None`` for anything else."""
    if not isinstance(statement, cst.SimpleStatementLine) or not statement.body:
        return None
    roots: list[tuple[str, bool]] = []
    for small in statement.body:
        if isinstance(small, cst.Import):
            for alias in small.names:
                roots.append((_dotted(alias.name).split(".")[0], False))
        elif isinstance(small, cst.ImportFrom):
            if small.relative or small.module is None:
                roots.append((".", True))
            else:
                roots.append((_dotted(small.module).split(".")[0], True))
        else:
            return None
    return roots


def import_block(body: Sequence[cst.BaseStatement]) -> tuple[int, int]:
    """``(start, end)``: the import lines at the top of a module, after its docstring."""
    start = 1 if body and is_docstring(body[0]) else 0
    end = start
    while end < len(body) and import_roots(body[end]) is not None:
        end += 1
    return start, end


def add_stdlib_import(
    body: Sequence[cst.BaseStatement], module_name: str, alias: str | None = None
) -> tuple[list[cst.BaseStatement], int]:
    """Insert ``import module_name`` (``as alias``) where isort would put it in the top import
    block.

    Returns the new body and the index of the inserted statement.
    """
    body = list(body)
    start, end = import_block(body)
    asname = cst.AsName(name=cst.Name(alias)) if alias else None
    new_import = cst.SimpleStatementLine(
        body=[cst.Import(names=[cst.ImportAlias(name=cst.Name(module_name), asname=asname)])]
    )
    position, new_section = end, False
    for index in range(start, end):
        roots = import_roots(body[index]) or []
        root, is_from = roots[0]
        if root == "__future__":
            continue
        if root not in STDLIB:
            position, new_section = index, True
            break
        if is_from or root > module_name:
            position = index
            break
    if position < end:
        target = body[position]
        blanks, rest = split_blank_prefix(target.leading_lines)
        if new_section:  # a stdlib section before the first third-party import
            new_import = new_import.with_changes(leading_lines=blanks)
            body[position] = target.with_changes(leading_lines=[cst.EmptyLine(), *rest])
        else:  # inside the stdlib section: the new line takes over the section's header
            new_import = new_import.with_changes(leading_lines=target.leading_lines)
            body[position] = target.with_changes(leading_lines=[])
    elif position > 0 and not _has_plain_import(body[start:end]):
        # after the docstring or the ``__future__`` imports: a section of its own
        new_import = new_import.with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(position, new_import)
    return body, position


def split_blank_prefix(
    lines: Sequence[cst.EmptyLine],
) -> tuple[list[cst.EmptyLine], list[cst.EmptyLine]]:
    """Leading blank lines, and the rest (starting at the first comment)."""
    lines = list(lines)
    for index, line in enumerate(lines):
        if line.comment is not None:
            return lines[:index], lines[index:]
    return lines, []


def _has_plain_import(statements: Sequence[cst.BaseStatement]) -> bool:
    return any(
        root != "__future__"
        for statement in statements
        for root, _ in (import_roots(statement) or [])
    )


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""
