"""Adding a teardown function to a module: the libcst insertion.

Shared by the fixes that clean per-thread state up at the end of a request (FLK202 removes
scoped sessions, FLK203 resets thread-local attributes). Where the function goes — which app or
blueprint, which hook, after and before which statements — is decided without libcst by
``model/teardown_placement.py``; the fixes decide what the teardown does. This module inserts
the code where a ``Placement`` says, with the blank lines pycodestyle expects around it.
"""

from __future__ import annotations

import ast

import libcst as cst

from .astutil import FunctionNode, walk
from .model.teardown_placement import Placement

LOGGER_NAMES = ("logger", "log", "LOGGER", "LOG", "_logger", "_log")
# pycodestyle's line length: a teardown the fix writes adds no E501 where it can avoid it.
MAX_LINE = 79


def log_exception(indent: str, logger: str, arguments: str, column: int = 0) -> list[str]:
    """``logger.exception(arguments)``, split over lines when it would be too long once the
    code is indented to ``column`` (where the teardown goes)."""
    line = f"{indent}{logger}.exception({arguments})"
    if column + len(line) <= MAX_LINE:
        return [line]
    return [f"{indent}{logger}.exception(", f"{indent}    {arguments}", f"{indent})"]


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


def teardown_logger(tree: ast.Module, placement: Placement) -> str:
    """What a teardown the fix adds logs with: the module's logger, else the app's logger
    (``current_app``'s in a blueprint, where no app object is in scope)."""
    logger = module_logger(tree)
    if logger is not None:
        return logger
    return "current_app.logger" if placement.is_blueprint else f"{placement.receiver}.logger"


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


def import_current_app(module: cst.Module, imports) -> cst.Module:
    """``current_app`` made importable from flask, unless the module already imports it."""
    if imports.names.get("current_app") in ("flask.current_app", "quart.current_app"):
        return module
    return add_flask_import(module, "current_app")


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
