"""How a function binds its own names: once, to a value we can see, or by ``with ... as``.

Read from the function's scan (``scan.py``), kept on the function node like the scan itself:

* ``only_value(function, name)``: the value of a name the function binds exactly once, by a
  plain ``name = value`` (``html_path = os.path.join(root, f"{key}.html.br")``). Every read of
  the name in the function sees that value. None when anything else binds the name too: a
  parameter, a second assignment, a loop or ``with`` target, an import, ``del``,
  ``global``/``nonlocal`` (also a nested function's ``nonlocal``).
* ``with_target(function, name)``: the ``with`` item whose ``as name`` is the name's only
  binding (``with engine.begin() as connection:``): whatever the name holds is the object the
  context manager closes when the block exits.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..astutil import FunctionNode
from ..scan import scan

_CACHE = "_flaskleak_bindings"


@dataclass
class Bindings:
    """How often each name is bound in one function, and the plain bindings we can read."""

    counts: dict[str, int] = field(default_factory=dict)
    values: dict[str, ast.expr] = field(default_factory=dict)  # ``name = value``
    with_items: dict[str, ast.withitem] = field(default_factory=dict)  # ``with ... as name``
    unknown: set[str] = field(default_factory=set)  # global, nonlocal: bound elsewhere too

    def bound_once(self, name: str) -> bool:
        return self.counts.get(name) == 1 and name not in self.unknown

    def add(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


def only_value(function: FunctionNode, name: str) -> ast.expr | None:
    """The value ``name`` is bound to, when ``name = value`` is its only binding in ``function``."""
    bindings = bindings_of(function)
    return bindings.values.get(name) if bindings.bound_once(name) else None


def with_target(function: FunctionNode, name: str) -> ast.withitem | None:
    """The ``with <expr> as name`` item, when it is the only binding of ``name`` in ``function``."""
    bindings = bindings_of(function)
    return bindings.with_items.get(name) if bindings.bound_once(name) else None


def bindings_of(function: FunctionNode) -> Bindings:
    cached = function.__dict__.get(_CACHE)
    if cached is None:
        cached = _collect(function)
        setattr(function, _CACHE, cached)
    return cached


def _collect(function: FunctionNode) -> Bindings:
    bindings = Bindings()
    arguments = function.args
    for argument in (
        *arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
        arguments.vararg, arguments.kwarg,
    ):
        if argument is not None:
            bindings.add(argument.arg)
    for node in scan(function).nodes:
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                bindings.add(node.id)  # assignment, loop/with target, walrus, del
        elif isinstance(node, ast.Assign):
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                bindings.values[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None and isinstance(node.target, ast.Name):
                bindings.values[node.target.id] = node.value
        elif isinstance(node, ast.withitem):
            if isinstance(node.optional_vars, ast.Name):
                bindings.with_items[node.optional_vars.id] = node
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bindings.unknown.update(node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bindings.add(node.name)
            bindings.unknown |= _rebound_from_inside(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bindings.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bindings.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bindings.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bindings.add(node.rest)
    return bindings


def _rebound_from_inside(definition: ast.AST) -> set[str]:
    """Names a nested function (at any depth) declares ``nonlocal``: it may rebind them."""
    names: set[str] = set()
    pending = [definition]
    while pending:
        found = scan(pending.pop())
        for statement in found.of(ast.Nonlocal):
            names.update(statement.names)
        pending.extend(found.definitions)
    return names
