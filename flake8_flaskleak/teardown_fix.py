"""Adding a teardown function to a module: where it can be registered, and the libcst insertion.

Shared by the fixes that clean per-thread state up at the end of a request (FLK202 removes
scoped sessions, FLK203 deletes thread-local attributes). A teardown can be registered where an
app or blueprint is in reach:

* on a module-level app or blueprint (``app = Flask(__name__)``): a decorated function is added
  at module level after the app and the objects it cleans up are defined;
* inside an app factory, after the app is created (before its ``return app``);
* inside an ``init_app(app)``-style function, whose parameter is used as an app there.

The fixes only decide *what* the teardown does; this module decides *where* it goes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from .astutil import FunctionNode, dotted_name, walk
from .model.flask import BLUEPRINT_CLASSES, FLASK_ONLY_METHODS, FlaskModel
from .model.file import FileModel

LOGGER_NAMES = ("logger", "log", "LOGGER", "LOG", "_logger", "_log")


@dataclass(frozen=True)
class Placement:
    """A place a teardown can be registered: a receiver (app or blueprint) and a body to go in."""

    receiver: str  # the name the decorator is written on: ``app``, ``bp``
    is_blueprint: bool
    function: FunctionNode | None  # None: module level
    klass: ast.ClassDef | None  # the class ``function`` is a method of, if any
    anchor: ast.stmt | None  # insert after this statement of the body (None: see before)
    before: ast.stmt | None  # insert before this statement (a trailing ``return app``)

    def hook(self, app_hook: str) -> str:
        """Blueprints have no ``teardown_appcontext``/``teardown_request`` for the whole app."""
        return "teardown_app_request" if self.is_blueprint else app_hook


def find_placements(model: FileModel) -> list[Placement]:
    """Where a teardown could be registered in this module, best first."""
    flask = model.flask
    placements = _module_level(model) + _in_factories(flask) + _in_init_functions(flask)
    return placements


def _module_level(model: FileModel) -> list[Placement]:
    flask = model.flask
    apps: list[Placement] = []
    blueprints: list[Placement] = []
    for statement in model.tree.body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
            continue
        target = statement.targets[0]
        if not isinstance(target, ast.Name) or target.id not in flask.app_names:
            continue
        is_blueprint = _is_blueprint_value(flask, statement.value)
        placement = Placement(target.id, is_blueprint, None, None, statement, None)
        (blueprints if is_blueprint else apps).append(placement)
    return apps + blueprints


def _is_blueprint_value(flask: FlaskModel, value: ast.expr) -> bool:
    if not isinstance(value, ast.Call):
        return False
    return flask.imports.qualified_name(value.func) in BLUEPRINT_CLASSES


def _in_factories(flask: FlaskModel) -> list[Placement]:
    found = []
    for name in sorted(flask.factories):
        function = flask.module_functions.get(name)
        if function is None:
            continue
        for statement in function.body:
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id in flask.app_names
            ):
                receiver = statement.targets[0].id
                before = _trailing_return(function, receiver)
                is_blueprint = _is_blueprint_value(flask, statement.value)
                found.append(Placement(receiver, is_blueprint, function, None, statement, before))
                break
    return found


def _in_init_functions(flask: FlaskModel) -> list[Placement]:
    """``def init_app(app): app.before_request(...)``: a parameter used as an app."""
    found = []
    for function in flask.outer_functions():
        info = flask.info(function)
        parameters = [a.arg for a in function.args.posonlyargs + function.args.args]
        for parameter in parameters:
            if parameter in ("self", "cls") or not _used_as_app(function, parameter):
                continue
            before = _trailing_return(function, None)
            anchor = None if before is not None else function.body[-1]
            found.append(Placement(parameter, False, function, info.klass, anchor, before))
            break
    return found


def _used_as_app(function: FunctionNode, parameter: str) -> bool:
    if function.name == "init_app" and parameter == "app":
        return True
    for node in walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FLASK_ONLY_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == parameter
        ):
            return True
    return False


def _trailing_return(function: FunctionNode, name: str | None) -> ast.stmt | None:
    last = function.body[-1]
    if isinstance(last, ast.Return) and (name is None or dotted_name(last.value) == name):
        return last
    return None


def defined_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def free_name(base: str, taken: set[str]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


def module_logger(tree: ast.Module) -> str | None:
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name) and target.id in LOGGER_NAMES:
                    return target.id
    return None


# -- libcst --------------------------------------------------------------------------------------


def insert_function(module: cst.Module, positions, placement: Placement, code: str) -> cst.Module:
    """Insert the function ``code`` (module-level source, 4-space indents) at ``placement``."""
    definition = cst.parse_statement(code)
    if placement.function is None:
        return _insert_into_module(module, positions, placement, definition)
    target = _cst_function(module, positions, placement.function)
    if target is None or not isinstance(target.body, cst.IndentedBlock):
        return module
    body = list(target.body.body)
    index = _insert_index(body, positions, placement)
    if index is None:
        return module
    body = _with_blank_lines(body, index, definition, 1)
    new_target = target.with_changes(body=target.body.with_changes(body=body))
    return module.deep_replace(target, new_target)


def _insert_into_module(module, positions, placement, definition) -> cst.Module:
    body = list(module.body)
    index = _insert_index(body, positions, placement)
    if index is None:
        return module
    return module.with_changes(body=_with_blank_lines(body, index, definition, 2))


def _insert_index(body: list, positions, placement: Placement) -> int | None:
    if placement.before is not None:
        index = _statement_index(body, positions, placement.before)
        return index
    index = _statement_index(body, positions, placement.anchor)
    return None if index is None else index + 1


def _statement_index(body: list, positions, statement: ast.stmt | None) -> int | None:
    if statement is None:
        return None
    for index, node in enumerate(body):
        position = positions.get(node)
        if position is not None and position.start.line <= statement.lineno <= position.end.line:
            return index
    return None


def _blank_lines(count: int) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(indent=False) for _ in range(count)]


def _with_blank_lines(body: list, index: int, definition, blank: int) -> list:
    definition = definition.with_changes(leading_lines=_blank_lines(blank))
    if index < len(body):
        following = body[index]
        lines = list(following.leading_lines)
        empty = 0
        for line in lines:
            if line.comment is not None:
                break
            empty += 1
        if empty < blank:
            following = following.with_changes(
                leading_lines=_blank_lines(blank - empty) + lines
            )
        body[index] = following
    return body[:index] + [definition] + body[index:]


def _cst_function(module: cst.Module, positions, function: FunctionNode):
    for node, position in positions.items():
        if (
            isinstance(node, cst.FunctionDef)
            and node.name.value == function.name
            and position.start.line <= function.lineno <= position.end.line
            and position.end.line >= (function.end_lineno or function.lineno)
        ):
            return _innermost_function(node, positions, function)
    return None


def _innermost_function(candidate, positions, function: FunctionNode):
    """The matching ``def`` whose own header line is the function's line (not an outer one)."""
    best = candidate
    for node, position in positions.items():
        if (
            isinstance(node, cst.FunctionDef)
            and node.name.value == function.name
            and position.start.line <= function.lineno <= position.end.line
            and _span(position) < _span(positions[best])
        ):
            best = node
    return best


def _span(position) -> int:
    return position.end.line - position.start.line


def _with_name(names: list[cst.ImportAlias], name: str) -> list[cst.ImportAlias]:
    """Insert ``name`` where isort would (classes first, then names in alphabetical order)."""
    position = len(names)
    for index, alias in enumerate(names):
        existing = alias.name.value if isinstance(alias.name, cst.Name) else ""
        if existing[:1].islower() and existing.lower() > name.lower():
            position = index
            break
    last_comma = names[-1].comma
    separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if 0 < position < len(names) and isinstance(names[position - 1].comma, cst.Comma):
        separator = names[position - 1].comma  # the same layout as its neighbours
    result = list(names)
    result.insert(position, cst.ImportAlias(name=cst.Name(name), comma=separator))
    for index, alias in enumerate(result):
        if index == len(result) - 1:
            result[index] = alias.with_changes(comma=last_comma)
        elif not isinstance(alias.comma, cst.Comma):
            result[index] = alias.with_changes(comma=separator)
    return result


def add_flask_import(module: cst.Module, name: str) -> cst.Module:
    """Make ``name`` importable from flask: extend ``from flask import ...`` or add the line."""
    body = list(module.body)
    last_import = -1
    for index, statement in enumerate(body):
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)):
                last_import = index
            if (
                isinstance(small, cst.ImportFrom)
                and isinstance(small.module, cst.Name)
                and small.module.value == "flask"
                and not small.relative
                and isinstance(small.names, (list, tuple))
            ):
                names = list(small.names)
                if any(isinstance(a.name, cst.Name) and a.name.value == name for a in names):
                    return module
                new_small = small.with_changes(names=_with_name(names, name))
                new_line = statement.with_changes(
                    body=[new_small if s is small else s for s in statement.body]
                )
                body[index] = new_line
                return module.with_changes(body=body)
    line = cst.parse_statement(f"from flask import {name}\n")
    body.insert(last_import + 1, line)
    return module.with_changes(body=body)
