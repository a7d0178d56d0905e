"""What a ``from x import *`` may bring into a module: read, never imported.

A fix that appends a setting to a Gunicorn config (``max_requests = 1000``) overrides any value
the module took from a star import (``from base_conf import *``). Before adding a name, the fix
asks whether a star import of the module can bind it: the imported module is looked up in the
project index, then beside the file (Gunicorn puts the config's folder on ``sys.path``), parsed
with ``ast``, and its module-level assignments read, following its own star imports.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

from ..finding import no_fix, unsafe_fix
from .file import FileModel
from .gunicorn import module_assignments

MAX_DEPTH = 4


@dataclass(frozen=True)
class StarBinding:
    """What one star import says about a name."""

    statement: ast.ImportFrom
    module: str  # as written, with its leading dots
    where: str | None  # the file that binds the name (relative to the project or the folder)
    line: int | None  # its line there
    unknown: bool  # the module could not be read: it may bind anything

    def describe(self, name: str) -> str:
        star = f"`from {self.module} import *` (line {self.statement.lineno})"
        if self.unknown:
            return f"{star} may set `{name}` (the module cannot be read here)"
        return f"{star} sets `{name}` ({self.where} line {self.line})"


def star_binding(model: FileModel, name: str) -> StarBinding | None:
    """The first import-time star import of ``model`` that binds (or may bind) ``name``."""
    for statement in _import_time_stars(model.tree.body):
        module = "." * statement.level + (statement.module or "")
        found = _binds(model, statement, name, MAX_DEPTH, set())
        if found is not None:
            where, line, unknown = found
            return StarBinding(statement, module, where, line, unknown)
    return None


def _import_time_stars(body: list[ast.stmt]):
    for statement in body:
        if isinstance(statement, ast.ImportFrom) and any(a.name == "*" for a in statement.names):
            yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for block in ("body", "orelse", "finalbody"):
            inner = getattr(statement, block, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from _import_time_stars(inner)
        for handler in getattr(statement, "handlers", None) or []:
            yield from _import_time_stars(handler.body)


def _binds(model: FileModel, statement: ast.ImportFrom, name: str, depth: int,
           seen: set[str]) -> tuple[str | None, int | None, bool] | None:
    """(file, line, unknown) when the starred module binds ``name``; None when it does not."""
    located = _source_of(model, statement)
    if located is None or depth == 0:
        return None, None, True
    where, text = located
    if where in seen:
        return None
    seen.add(where)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None, None, True
    assigned = module_assignments(tree).get(name)
    if assigned:
        return where, assigned[0].lineno, False
    if "__getattr__" in module_assignments(tree):
        return where, None, True
    inner_model = _Located(where, model)
    for inner in _import_time_stars(tree.body):
        found = _binds(inner_model, inner, name, depth - 1, seen)
        if found is not None:
            return found
    return None


class _Located:
    """Enough of a ``FileModel`` to resolve the star imports of a module found by path."""

    def __init__(self, where: str, origin):
        self.project = origin.project
        base = origin.project.root if origin.project is not None else os.path.dirname(origin.path)
        self.path = os.path.join(base, where)
        self.module = (os.path.splitext(where)[0].replace(os.sep, ".").replace("/", "."), False)


def _source_of(model, statement: ast.ImportFrom) -> tuple[str, str] | None:
    """(where, text) of the module a star import names, from the project or beside the file."""
    dotted = _absolute(model, statement)
    project = model.project
    if project is not None and dotted:
        found = project.module_source(dotted)
        if found is not None:
            return found
    folder = os.path.dirname(os.path.abspath(model.path))
    for _ in range(max(statement.level - 1, 0)):
        folder = os.path.dirname(folder)
    relative = (statement.module or "").replace(".", os.sep)
    for candidate in (relative + ".py", os.path.join(relative, "__init__.py")):
        path = os.path.join(folder, candidate)
        if relative and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    return candidate, handle.read()
            except OSError:
                return None
    return None


def _absolute(model, statement: ast.ImportFrom) -> str | None:
    if statement.level == 0:
        return statement.module
    package, is_package = model.module
    parts = package.split(".") if package else []
    if not is_package:
        parts = parts[:-1]
    if statement.level - 1 > len(parts):
        return None
    parts = parts[: len(parts) - (statement.level - 1)]
    if statement.module:
        parts.append(statement.module)
    return ".".join(parts) or None


def settings_fix_applicability(rule, findings, names: list[str]) -> dict:
    """The FLK501/FLK502 fix appends ``names``: refused when a star import may set one of them
    (the appended line would override the value the config takes from it)."""
    for name in names:
        binding = star_binding(rule.model, name)
        if binding is not None:
            reason = no_fix(f"{binding.describe(name)}: an appended `{name}` would override it")
            return {finding: reason for finding in findings}
    return {finding: unsafe_fix(rule.fix_reason) for finding in findings}
