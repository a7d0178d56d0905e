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

from ..finding import Finding, no_fix, unsafe_fix
from ..model.config_project import inherited_across_modules, project_configs
from ..model.configs import CLASS_ATTRIBUTE, MODULE_CONSTANT, PRODUCTION, SUBSCRIPT, ConfigClass
from ..model.configs import ProductionValue
from ..scan import scan


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

FROM_OBJECT_REFUSAL = (
    "`{name}` is loaded whole, and other configs may share it: set the value to False in a "
    "production subclass and load that"
)
SHARED_LINE_REFUSAL = "the chained assignment shares its line with other code: split it first"


def fix_plans(model, key: str, refused: dict[str, str] | None = None) -> dict:
    """Where the fix of each finding on ``key`` writes ``False``, by the finding's position:
    the value, or the class that inherits it (an override); a text saying why not when it
    cannot. ``refused``: other keys the rule reports but never fixes, with the reason."""
    plans: dict[tuple[int, int], ast.AST | str] = {}
    configs = project_configs(model)
    for inherited in inherited_across_modules(model, configs, key):
        plans[_position(inherited.klass.node)] = inherited.klass.node
    for other, reason in (refused or {}).items():
        for value in configs.production_values(other):
            plans[_position(value.site)] = reason
    for value in configs.production_values(key):
        position = _position(value.site)
        if value.from_object is not None:
            plans[position] = FROM_OBJECT_REFUSAL.format(name=value.config.name)
        elif value.inherited:
            plans[position] = value.config.node
        else:
            assignment = _assignment_of(model, value.setting.value)
            chained = assignment is not None and len(assignment.targets) > 1
            if chained and not _starts_its_line(model, assignment):
                plans[position] = SHARED_LINE_REFUSAL
            else:
                plans[position] = value.setting.value
    return plans


def fix_applicability(plans: dict, findings, reason: str) -> dict:
    """Each finding: unsafe with ``reason`` when its plan is a rewrite, else no fix and why."""
    result = {}
    for finding in findings:
        plan = plans.get((finding.line, finding.col), "the fix does not handle this case")
        result[finding] = no_fix(plan) if isinstance(plan, str) else unsafe_fix(reason)
    return result


def set_false(context, key: str, plans: dict):
    """Set the reported value of ``key`` to ``False``; for an inherited one, override it in
    the class. In a chained assignment (``SQLALCHEMY_RECORD_QUERIES = SQLALCHEMY_ECHO = True``)
    the reported target leaves the chain for a line of its own, so the others keep the value.
    Only the findings the run may fix are touched."""
    values: list[ast.expr] = []
    classes: list[ast.ClassDef] = []
    for finding in context.findings:
        plan = plans.get((finding.line, finding.col))
        if isinstance(plan, ast.ClassDef):
            classes.append(plan)
        elif isinstance(plan, ast.expr):
            values.append(plan)
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
    chained = {
        node for node in context.positions
        if isinstance(node, cst.SimpleStatementLine)
        and any(
            isinstance(small, cst.Assign) and len(small.targets) > 1 and small.value in targets
            for small in node.body
        )
    }

    class SetFalse(cst.CSTTransformer):
        def on_leave(self, original_node, updated_node):
            if original_node in chained:
                return _split_chain(cst, original_node, targets, key)
            if original_node not in targets:
                return updated_node
            if isinstance(updated_node, cst.ClassDef):
                return _with_override(cst, updated_node, key)
            return cst.Name("False", lpar=updated_node.lpar, rpar=updated_node.rpar)

    if not targets:
        return None
    return context.module.visit(SetFalse())


def _split_chain(cst, line, values, key: str):
    """``A = KEY = True`` -> ``A = True`` and, on the next line, ``KEY = False``: the other
    names keep their value."""
    code = cst.Module([]).code_for_node
    body, moved = [], []
    for small in line.body:
        if isinstance(small, cst.Assign) and len(small.targets) > 1 and small.value in values:
            reported = [t for t in small.targets if key in code(t.target)]
            kept = [t for t in small.targets if t not in reported]
            if not kept:
                reported, kept = reported[:1], reported[1:]
            moved += [target.target for target in reported]
            small = small.with_changes(targets=kept)
        body.append(small)
    new_lines = [
        cst.SimpleStatementLine(body=[cst.Assign(
            targets=[cst.AssignTarget(target=target)], value=cst.Name("False"),
        )])
        for target in moved
    ]
    return cst.FlattenSentinel([line.with_changes(body=body), *new_lines])


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _assignment_of(model, value: ast.expr) -> ast.Assign | None:
    """The ``=`` statement whose value ``value`` is, if it is one."""
    scope = model.scopes.scope_at(value.lineno)
    for node in scan(scope).of(ast.Assign):
        if node.value is value:
            return node
    return None


def _starts_its_line(model, statement: ast.stmt) -> bool:
    line = model.source.segment(statement.lineno, statement.lineno)
    return not line.encode("utf-8")[: statement.col_offset].strip() and not any(
        isinstance(other, ast.stmt) and other is not statement
        and other.lineno <= statement.lineno <= (other.end_lineno or other.lineno)
        and not isinstance(other, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        for other in scan(model.scopes.scope_at(statement.lineno)).nodes
    )


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
