"""What the config rules (FLK101, FLK105) share: where a value is, and the "set it False" fix.

Both report a key that ends up truthy in a production config (``model/configs.py`` judges,
``model/config_project.py`` follows bases in other modules); they differ only in the key and
in why it matters. The fix is the same for both: the literal becomes ``False``, or, for an
inherited value, the production class gets ``KEY = False`` of its own (the base is shared
with the development configs, which keep theirs).
"""

from __future__ import annotations

import ast
import dataclasses
import os

from ..finding import Finding
from ..model.config_project import inherited_across_modules, project_configs
from ..model.configs import CLASS_ATTRIBUTE, MODULE_CONSTANT, PRODUCTION, SUBSCRIPT, ConfigClass
from ..model.configs import ProductionValue


def class_label(klass: ConfigClass) -> str:
    if klass.environment == PRODUCTION:
        return f"production config `{klass.name}`"
    return f"config `{klass.name}` (not marked development or testing)"


def where(value: ProductionValue, path: str) -> str:
    """Where a value set in place is: ``in production config `P```, ``set with `...```."""
    setting = value.setting
    if setting.form == CLASS_ATTRIBUTE:
        return f"in {class_label(value.config)}"
    if setting.form == MODULE_CONSTANT:
        module = os.path.basename(path) or "this module"
        if setting.environment == PRODUCTION:
            return f"in production config module `{module}`"
        return f"in config module `{module}` (not marked development or testing)"
    form = setting.form.replace("config.", "app.config.", 1) if setting.form != SUBSCRIPT else (
        setting.form
    )
    if setting.environment == PRODUCTION:
        return f"set with `{form}` for production"
    return f"set with `{form}` outside any development or testing branch"


def not_fixable(finding: Finding) -> Finding:
    return dataclasses.replace(finding, fixable=False)


# -- the fix ----------------------------------------------------------------------------------


def set_false(context, key: str):
    """Set the reported value of ``key`` to ``False``; for an inherited one, override it in
    the class. Only findings still fixable are touched (not ``from_object`` of a base)."""
    wanted = {(f.line, f.col) for f in context.findings if f.fixable}
    values: list[ast.expr] = []
    classes: list[ast.ClassDef] = []
    configs = project_configs(context.model)
    for inherited in inherited_across_modules(context.model, configs, key):
        if (inherited.klass.node.lineno, inherited.klass.node.col_offset) in wanted:
            classes.append(inherited.klass.node)
    for value in configs.production_values(key):
        site = (getattr(value.site, "lineno", 0), getattr(value.site, "col_offset", 0))
        if value.from_object is not None or site not in wanted:
            continue
        if value.inherited:
            classes.append(value.config.node)
        else:
            values.append(value.setting.value)
    if not values and not classes:
        return None
    return _apply(context, key, values, classes)


def _apply(context, key: str, values: list[ast.expr], classes: list[ast.ClassDef]):
    import libcst as cst  # only when fixing: libcst costs ten times ast to parse with

    value_spans = {_char_span(context, node) for node in values}
    class_lines = {node.lineno: node.name for node in classes}
    targets: set[cst.CSTNode] = set()
    for node, position in context.positions.items():
        start, end = position.start, position.end
        span = (start.line, start.column, end.line, end.column)
        if isinstance(node, cst.BaseExpression) and span in value_spans:
            targets.add(node)
        elif isinstance(node, cst.ClassDef) and class_lines.get(start.line) == node.name.value:
            targets.add(node)

    class SetFalse(cst.CSTTransformer):
        def on_leave(self, original_node, updated_node):
            if original_node not in targets:
                return updated_node
            if isinstance(updated_node, cst.ClassDef):
                return _with_override(cst, updated_node, key)
            return cst.Name("False", lpar=updated_node.lpar, rpar=updated_node.rpar)

    if not targets:
        return None
    return context.module.visit(SetFalse())


def _char_span(context, node: ast.expr) -> tuple[int, int, int, int]:
    return (
        node.lineno,
        context.char_column(node.lineno, node.col_offset),
        node.end_lineno,
        context.char_column(node.end_lineno, node.end_col_offset),
    )


def _with_override(cst, klass, key: str):
    """``klass`` with ``KEY = False`` after its leading assignments."""
    override = cst.parse_statement(f"{key} = False\n")
    body = klass.body
    if isinstance(body, cst.SimpleStatementSuite):  # class P(Base): pass
        kept = [s for s in body.body if not _is_placeholder(cst, s)]
        lines = [cst.SimpleStatementLine(body=[statement]) for statement in kept]
        block = cst.IndentedBlock(body=lines + [override], header=body.trailing_whitespace)
        return klass.with_changes(body=block)
    statements = [s for s in body.body if not _is_bare_placeholder_line(cst, s)]
    index = 0
    while index < len(statements) and isinstance(statements[index], cst.SimpleStatementLine):
        index += 1
    statements.insert(index, override)
    return klass.with_changes(body=body.with_changes(body=statements))


def _is_placeholder(cst, small) -> bool:
    if isinstance(small, cst.Pass):
        return True
    return isinstance(small, cst.Expr) and isinstance(small.value, cst.Ellipsis)


def _is_bare_placeholder_line(cst, statement) -> bool:
    """A ``pass`` / ``...`` line with no comment on or above it: the override replaces it."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    if statement.trailing_whitespace.comment is not None:
        return False
    if any(line.comment is not None for line in statement.leading_lines):
        return False
    return all(_is_placeholder(cst, small) for small in statement.body)
