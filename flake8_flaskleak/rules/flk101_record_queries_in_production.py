"""FLK101 record-queries-in-production: Flask-SQLAlchemy query recording on in a production config.

With recording on, Flask-SQLAlchemy appends a record of every query (statement, parameters,
timing, caller) to a list on the app context. The list lives as long as the context: for a
context that is never popped (a CLI or worker ``app.app_context().push()``, seed 004) it grows
for the life of the process. With Flask-SQLAlchemy 2.x, ``DEBUG = True`` switches recording on
whatever ``SQLALCHEMY_RECORD_QUERIES`` says.
"""

from __future__ import annotations

import ast
import dataclasses
import os
from collections.abc import Iterator

from ..astutil import short_source
from ..model.config_project import (
    InheritedValue,
    has_imported_base,
    inherited_across_modules,
    project_configs,
)
from ..model.configs import (
    CLASS_ATTRIBUTE,
    MODULE_CONSTANT,
    PRODUCTION,
    SUBSCRIPT,
    ConfigModel,
    ProductionValue,
)
from ..finding import Finding, FixSafety, no_fix, unsafe_fix
from ..scan import scan
from ..options import Options
from ..rule import Rule

RECORD_KEY = "SQLALCHEMY_RECORD_QUERIES"
DEBUG_KEY = "DEBUG"
# Only Flask-SQLAlchemy 3.x has these: recording no longer follows DEBUG there.
FLASK_SQLALCHEMY_3_MARKERS = ("get_recorded_queries", "SQLALCHEMY_ENGINES", "record_queries")
# What recording does, phrased to follow "X, which" / "X":
WHY = "keeps every query and its parameters on the app context for as long as it lives"
INSTEAD = "time slow queries with SQLAlchemy cursor events instead"


# A module that defines or extends a config class says one of these.
CONFIG_CLASS_WORDS = ("Config", "Settings", "config", "settings")


class RecordQueriesInProduction(Rule):
    code = "FLK101"
    name = "record-queries-in-production"
    summary = "Flask-SQLAlchemy query recording switched on in a production config"
    triggers = ("RECORD_QUERIES", "DEBUG")
    fix_safety = FixSafety.UNSAFE
    fix_reason = (
        "with recording off, code that reads the recorded queries (`get_recorded_queries()`, "
        "a debug toolbar, slow-query logging) gets none"
    )

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        if cls._sets_a_key(text):
            return True
        # a config class whose base, in another module, may set it (project analysis only)
        return options.project_analysis and "class " in text and any(
            trigger in text for trigger in CONFIG_CLASS_WORDS
        )

    @staticmethod
    def _sets_a_key(text: str) -> bool:
        if RECORD_KEY in text:
            return True
        return DEBUG_KEY in text and ("SQLALCHEMY_" in text or "flask_sqlalchemy" in text)

    def check(self) -> Iterator[Finding]:
        if not self._sets_a_key(self.model.text) and not has_imported_base(self.model):
            return
        configs = project_configs(self.model)
        for value in configs.production_values(RECORD_KEY):
            finding = self.finding(value.site, self._record_message(value))
            yield finding if value.from_object is None else _not_fixable(finding)
        for inherited in inherited_across_modules(self.model, configs, RECORD_KEY):
            yield self.finding(inherited.klass.node, self._cross_module_message(inherited))
        if not self._may_be_flask_sqlalchemy_2():
            return
        for value in configs.production_values(DEBUG_KEY):
            if self._uses_flask_sqlalchemy(configs, value):
                yield _not_fixable(self.finding(value.site, self._debug_message(value)))

    # -- conditions ----------------------------------------------------------------------------

    def _may_be_flask_sqlalchemy_2(self) -> bool:
        text = self.model.text
        return not any(marker in text for marker in FLASK_SQLALCHEMY_3_MARKERS)

    def _uses_flask_sqlalchemy(self, configs: ConfigModel, value: ProductionValue) -> bool:
        """``DEBUG`` only records queries where Flask-SQLAlchemy is in use: an import or a key."""
        if self.model.imports.imports_any("flask_sqlalchemy"):
            return True
        if value.config is not None:
            keys = value.config.keys()
        else:
            keys = {setting.key for setting in configs.settings}
        return any(key.startswith("SQLALCHEMY_") for key in keys)

    # -- messages ------------------------------------------------------------------------------

    def _record_message(self, value: ProductionValue) -> str:
        setting = value.setting
        assignment = f"`{setting.key} = {short_source(setting.value, 30)}`"
        if value.from_object is not None:
            return (
                f"`from_object({value.config.name})` loads {assignment} (line "
                f"{setting.statement.lineno}) outside any development branch, which {WHY}: "
                "load a production subclass that sets it to False"
            )
        if value.inherited:
            return (
                f"{_config_label(value)} inherits {assignment} from `{setting.owner.name}` "
                f"(line {setting.statement.lineno}), which {WHY}: override it with False here "
                f"and {INSTEAD}"
            )
        return f"{assignment} {self._where(value)} {WHY}: set it to False and {INSTEAD}"

    def _cross_module_message(self, inherited: InheritedValue) -> str:
        klass = inherited.klass
        label = (
            f"production config `{klass.name}`" if klass.environment == PRODUCTION
            else f"config `{klass.name}` (not marked development or testing)"
        )
        return (
            f"{label} inherits `{RECORD_KEY} = {inherited.value_source}` from "
            f"`{inherited.owner}` ({inherited.location}), which {WHY}: override it with False "
            f"here and {INSTEAD}"
        )

    def _debug_message(self, value: ProductionValue) -> str:
        setting = value.setting
        assignment = f"`{setting.key} = {short_source(setting.value, 30)}`"
        if value.from_object is not None:
            subject = (
                f"`from_object({value.config.name})` loads {assignment} (line "
                f"{setting.statement.lineno}) outside any development branch, which"
            )
        elif value.inherited:
            subject = (
                f"{_config_label(value)} inherits {assignment} from `{setting.owner.name}` "
                f"(line {setting.statement.lineno}), which"
            )
        else:
            subject = f"{assignment} {self._where(value)}"
        return (
            f"{subject} makes Flask-SQLAlchemy 2.x record every query and its parameters on "
            f"the app context whatever {RECORD_KEY} says: read DEBUG from the environment or "
            "set it to False"
        )

    def _where(self, value: ProductionValue) -> str:
        setting = value.setting
        if setting.form == CLASS_ATTRIBUTE:
            return f"in {_config_label(value)}"
        if setting.form == MODULE_CONSTANT:
            module = os.path.basename(self.model.path) or "this module"
            if setting.environment == PRODUCTION:
                return f"in production config module `{module}`"
            return f"in config module `{module}` (not marked development or testing)"
        form = setting.form.replace("config.", "app.config.", 1) if setting.form != SUBSCRIPT else (
            setting.form
        )
        if setting.environment == PRODUCTION:
            return f"set with `{form}` for production"
        return f"set with `{form}` outside any development or testing branch"

    # -- fix -----------------------------------------------------------------------------------

    def fix_applicability(self, findings):
        plans = self._fix_plans()
        result = {}
        for finding in findings:
            plan = plans.get((finding.line, finding.col), "the fix does not handle this case")
            if isinstance(plan, str):
                result[finding] = no_fix(plan)
            else:
                result[finding] = unsafe_fix(self.fix_reason)
        return result

    def _fix_plans(self) -> dict[tuple[int, int], ast.AST | str]:
        """Where each fixable finding's fix writes ``False``: the value, or the class that
        inherits it (an override); a text when it cannot."""
        plans: dict[tuple[int, int], ast.AST | str] = {}
        configs = project_configs(self.model)
        for inherited in inherited_across_modules(self.model, configs, RECORD_KEY):
            plans[_position(inherited.klass.node)] = inherited.klass.node
        for value in configs.production_values(DEBUG_KEY):
            plans[_position(value.site)] = (
                "DEBUG does more than record queries: read it from the environment instead"
            )
        for value in configs.production_values(RECORD_KEY):
            if value.from_object is not None:
                plans[_position(value.site)] = (
                    f"`{value.config.name}` is loaded whole, and other configs may share it: set "
                    "the value to False in a production subclass and load that"
                )
                continue
            if value.inherited:
                plans[_position(value.site)] = value.config.node
                continue
            assignment = _assignment_of(self.model, value.setting.value)
            if assignment is not None and len(assignment.targets) > 1 and not _starts_its_line(
                self.model, assignment
            ):
                plans[_position(value.site)] = (
                    "the chained assignment shares its line with other code: split it first"
                )
            else:
                plans[_position(value.site)] = value.setting.value
        return plans

    def fix(self, context):
        """Set the recorded value to ``False``; for an inherited one, override it in the class.

        In a chained assignment (``SQLALCHEMY_RECORD_QUERIES = SQLALCHEMY_ECHO = True``) the
        recording target leaves the chain for a line of its own, so the others keep the value.
        Only the findings the run may fix are touched (``from_object`` of a base class and
        ``DEBUG`` are never: the value is shared with development configs, or DEBUG does more
        than recording).
        """
        plans = self._fix_plans()
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
        return _apply_fix(context, values, classes)


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


def _config_label(value: ProductionValue) -> str:
    klass = value.config
    if klass.environment == PRODUCTION:
        return f"production config `{klass.name}`"
    return f"config `{klass.name}` (not marked development or testing)"


def _not_fixable(finding: Finding) -> Finding:
    return dataclasses.replace(finding, fixable=False)


def _apply_fix(context, values: list[ast.expr], classes: list[ast.ClassDef]):
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
                return _split_chain(cst, original_node, targets)
            if original_node not in targets:
                return updated_node
            if isinstance(updated_node, cst.ClassDef):
                return _with_override(cst, updated_node)
            return cst.Name("False", lpar=updated_node.lpar, rpar=updated_node.rpar)

    if not targets:
        return None
    return context.module.visit(SetFalse())


def _split_chain(cst, line, values):
    """``A = SQLALCHEMY_RECORD_QUERIES = True`` -> ``A = True`` and, on the next line,
    ``SQLALCHEMY_RECORD_QUERIES = False``: the other names keep their value."""
    code = cst.Module([]).code_for_node
    body, moved = [], []
    for small in line.body:
        if isinstance(small, cst.Assign) and len(small.targets) > 1 and small.value in values:
            recording = [t for t in small.targets if RECORD_KEY in code(t.target)]
            kept = [t for t in small.targets if t not in recording]
            if not kept:
                recording, kept = recording[:1], recording[1:]
            moved += [target.target for target in recording]
            small = small.with_changes(targets=kept)
        body.append(small)
    new_lines = [
        cst.SimpleStatementLine(body=[cst.Assign(
            targets=[cst.AssignTarget(target=target)], value=cst.Name("False"),
        )])
        for target in moved
    ]
    return cst.FlattenSentinel([line.with_changes(body=body), *new_lines])


def _char_span(context, node: ast.expr) -> tuple[int, int, int, int]:
    return (
        node.lineno,
        context.char_column(node.lineno, node.col_offset),
        node.end_lineno,
        context.char_column(node.end_lineno, node.end_col_offset),
    )


def _with_override(cst, klass):
    """``klass`` with ``SQLALCHEMY_RECORD_QUERIES = False`` after its leading assignments."""
    override = cst.parse_statement(f"{RECORD_KEY} = False\n")
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
