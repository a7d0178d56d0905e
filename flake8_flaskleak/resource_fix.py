"""The FLK401/FLK402 fix: ``name = opener()`` and the statements using it become a ``with``.

::

    conn = engine.connect()                   with engine.connect() as conn:
    result = conn.execute(query)      ->          result = conn.execute(query)
    return jsonify(rows(result))                  return jsonify(rows(result))

Which bindings are rewritten, and how far the block reaches, is decided without libcst by
``model/with_rewrite.py`` (the same plans say, per finding, whether the fix is safe); this
module only carries out the plans of the findings the run may fix. The statement nodes are
moved, not re-printed, into the ``with`` block, so libcst re-indents them with the block's own
indentation (tabs, two spaces) and keeps their comments and the file's newlines. A trailing
``name.close()`` is removed (its comments are kept). Openers whose own ``with`` does not close
them (``sqlite3.connect``, ``raw_connection``) are wrapped in ``contextlib.closing``, importing
it when the module does not.

Imported only by the rules' ``fix()`` methods: it loads libcst.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from .fixes import FixContext
from .model.with_rewrite import with_plans


@dataclass(frozen=True)
class WithTarget:
    """One binding to rewrite, located by the ``ast`` lines of its first and last statement."""

    name: str
    first_line: int  # the line of ``name = opener()``
    last_line: int  # the first line of the last statement the ``with`` holds
    drop_last: bool  # the last statement is ``name.close()``: remove it
    needs_closing: bool  # wrap the opener in contextlib.closing(...)


def fix_bindings(rule, context: FixContext) -> cst.Module | None:
    """Rewrite each binding of ``rule`` (FLK401, FLK402) among ``context.findings`` into a
    ``with``, as its plan says."""
    plans = with_plans(rule)
    targets = []
    for finding in context.findings:
        plan = plans.get((finding.line, finding.col))
        if plan is None or plan.fix.safety is None:
            continue
        binding = plan.binding
        targets.append(
            WithTarget(
                name=binding.name,
                first_line=binding.statement.lineno,
                last_line=binding.block[plan.last].lineno,
                drop_last=plan.drop_last,
                needs_closing=binding.opener.needs_closing,
            )
        )
    return apply_with_fix(context, targets)


def apply_with_fix(context: FixContext, targets: Sequence[WithTarget]) -> cst.Module | None:
    if not targets:
        return None
    transformer = _WithTransformer(context, targets)
    module = context.module.visit(transformer)
    if not transformer.applied:
        return None
    if transformer.closing_used and transformer.closing_import:
        module = _add_import(module, transformer.closing_import)
    return module


class _WithTransformer(cst.CSTTransformer):
    def __init__(self, context: FixContext, targets: Sequence[WithTarget]):
        super().__init__()
        self.positions = context.positions
        self.by_line = {target.first_line: target for target in targets}
        self.closing_name, self.closing_import = _closing_spelling(context)
        self.closing_used = False
        self.applied = 0

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        found = []
        for index, statement in enumerate(original_node.body):
            target = self.by_line.get(self._line(statement))
            if target is not None and _binding_value(statement, target.name) is not None:
                last = self._last_index(original_node.body, index, target)
                if last is not None:
                    found.append((index, last, target))
        if not found:
            return updated_node
        # Items: (first original index, last original index, node); innermost targets first.
        items = [(i, i, node) for i, node in enumerate(updated_node.body)]
        for first, last, target in sorted(found, key=lambda f: -f[0]):
            start = next((p for p, item in enumerate(items) if item[0] == first), None)
            end = next((p for p, item in enumerate(items) if item[1] == last), None)
            if start is None or end is None or end <= start:
                continue
            nodes = [item[2] for item in items[start:end + 1]]
            with_node = self._build_with(nodes, target, updated_node.indent)
            if with_node is None:
                continue
            items[start:end + 1] = [(first, last, with_node)]
            self.applied += 1
        return updated_node.with_changes(body=[item[2] for item in items])

    def _line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line if node in self.positions else -1

    def _last_index(self, body: Sequence[cst.BaseStatement], first: int, target: WithTarget):
        last = None
        for index in range(first + 1, len(body)):
            if self._line(body[index]) <= target.last_line:
                last = index
        return last

    def _build_with(self, nodes: list, target: WithTarget, indent: str | None) -> cst.With | None:
        binding, moved = nodes[0], list(nodes[1:])
        opener = _binding_value(binding, target.name)
        if opener is None:
            return None
        footer: list[cst.EmptyLine] = []
        if target.drop_last:
            if not moved or not _is_close_of(moved[-1], target.name):
                return None
            footer = _comments_of(moved.pop())
        if not moved:
            return None
        if target.needs_closing:
            opener = cst.Call(func=cst.parse_expression(self.closing_name), args=[cst.Arg(opener)])
            self.closing_used = True
        body = cst.IndentedBlock(
            body=moved, header=binding.trailing_whitespace, indent=indent, footer=footer
        )
        item = cst.WithItem(item=opener, asname=cst.AsName(name=cst.Name(target.name)))
        return cst.With(items=[item], body=body, leading_lines=binding.leading_lines)


def _binding_value(statement: cst.CSTNode, name: str) -> cst.BaseExpression | None:
    """The value of ``name = value`` when the statement line is exactly that assignment."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    assign = statement.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if not isinstance(target, cst.Name) or target.value != name:
        return None
    return assign.value


def _is_close_of(statement: cst.CSTNode, name: str) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    expr = statement.body[0]
    if not isinstance(expr, cst.Expr) or not isinstance(expr.value, cst.Call):
        return False
    func = expr.value.func
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value in ("close", "aclose")
        and isinstance(func.value, cst.Name)
        and func.value.value == name
        and not expr.value.args
    )


def _comments_of(statement: cst.SimpleStatementLine) -> list[cst.EmptyLine]:
    """The comments of a removed statement, as comment lines for the block's footer."""
    lines = [line for line in statement.leading_lines if line.comment is not None]
    trailing = statement.trailing_whitespace.comment
    if trailing is not None:
        lines.append(cst.EmptyLine(indent=True, comment=trailing))
    return lines


def _closing_spelling(context: FixContext) -> tuple[str, str | None]:
    """How to write ``contextlib.closing`` here, and the import to add (None: already there)."""
    names = context.model.imports.names
    for local, qualified in names.items():
        if qualified == "contextlib.closing":
            return local, None
    for local, qualified in names.items():
        if qualified == "contextlib":
            return f"{local}.closing", None
    return "contextlib.closing", "import contextlib"


def _add_import(module: cst.Module, import_line: str) -> cst.Module:
    """Add ``import x`` in sorted place among the module's first run of plain imports.

    With no plain import at the top, it goes after the docstring and ``__future__`` imports.
    """
    new = cst.parse_statement(import_line + "\n")
    name = import_line.split()[-1]
    body = list(module.body)
    position = 1 if body and _is_docstring(body[0]) else 0
    while position < len(body) and _imports_from(body[position], "__future__"):
        position += 1
    run_start = position
    while position < len(body) and _plain_import(body[position]) is not None:
        if _plain_import(body[position]) > name:
            break
        position += 1
    if position == run_start and position < len(body):
        following = body[position]
        new = new.with_changes(leading_lines=following.leading_lines)
        body[position] = following.with_changes(leading_lines=())
    body.insert(position, new)
    return module.with_changes(body=body)


def _plain_import(statement: cst.CSTNode) -> str | None:
    """The module an ``import x`` line imports, None for any other statement."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Import):
            return cst.Module([]).code_for_node(small.names[0].name)
    return None


def _imports_from(statement: cst.CSTNode, module: str) -> bool:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name):
            return small.module.value == module
    return False


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
