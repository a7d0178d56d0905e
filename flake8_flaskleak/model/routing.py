"""Werkzeug routing objects: which calls build a ``Map``, and which maps live for the process.

A ``Map`` compiles every ``Rule`` it is given (regular expressions and generated builder code)
and each rule points back at its map; the application's ``url_map`` lives as long as the app.
FLK308 asks both questions of request-time code: is a map built here on every call, and is a
rule added to a map that outlives the request?
"""

from __future__ import annotations

import ast

from ..astutil import dotted_name
from ..scan import statements

MAP_CLASSES = {"werkzeug.routing.Map", "werkzeug.routing.map.Map"}
RULE_CLASSES = {"werkzeug.routing.Rule", "werkzeug.routing.rules.Rule"}
# Decorators that make a function build its result once (per key) instead of on every call.
CACHE_DECORATORS = {
    "functools.cache", "functools.lru_cache", "functools.cached_property", "cachetools.cached",
}


def map_constructions(model) -> list[tuple[ast.AST, ast.Call]]:
    """(scope, call) for every ``Map(...)`` of werkzeug's routing, under any import alias."""
    return model.calls_of(MAP_CLASSES)


def is_rule(model, expr: ast.expr) -> bool:
    """``Rule(...)`` of werkzeug's routing (under any alias)."""
    return isinstance(expr, ast.Call) and model.imports.qualified_name(expr.func) in RULE_CLASSES


def module_maps(model) -> set[str]:
    """Module-level names bound to a werkzeug ``Map(...)``: they live for the process."""
    found = set()
    for statement in statements(model.tree):
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
            if model.imports.qualified_name(statement.value.func) in MAP_CLASSES:
                found.update(t.id for t in statement.targets if isinstance(t, ast.Name))
    return found


def long_lived_map(model, expr: ast.expr) -> str | None:
    """How a map that outlives the request is written (``app.url_map``), or None."""
    if isinstance(expr, ast.Attribute) and expr.attr == "url_map":
        if model.flask.is_flask_object(expr.value):
            return dotted_name(expr) or "url_map"
    if isinstance(expr, ast.Name) and expr.id in module_maps(model):
        return expr.id
    return None


def built_once(model, call: ast.Call, function) -> bool:
    """A map built by a cached function, or stored beyond the call (a lazily built singleton):
    not one per request."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        qualified = model.imports.qualified_name(target) or dotted_name(target) or ""
        if qualified in CACHE_DECORATORS or qualified.rsplit(".", 1)[-1] in ("cache", "lru_cache"):
            return True
    parent = model.parents(function).get(call)
    if isinstance(parent, (ast.Assign, ast.AnnAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        declared = _declared_global(function)
        for target in targets:
            if not isinstance(target, ast.Name) or target.id in declared:
                return True
    return False


def _declared_global(function) -> set[str]:
    return {
        name
        for statement in statements(function)
        if isinstance(statement, (ast.Global, ast.Nonlocal))
        for name in statement.names
    }
