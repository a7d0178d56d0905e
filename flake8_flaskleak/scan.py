"""The one traversal: what each scope (module, class body, function) evaluates, by node type.

A scope is scanned once, the first time anything asks about it, and the result is kept on the
scope node itself (a private attribute, invisible to ``ast`` and to other flake8 plugins). The
scan does not enter nested functions, lambdas or classes (what a nested ``def`` does happens
when it is called); it records them as the scope's definitions, to be scanned in their turn
when a question reaches them. Every other layer reads these scans instead of walking the tree:
a node is visited once per file, however many rules ask about it.
"""

from __future__ import annotations

import ast

SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_SCOPE_TYPE_SET = frozenset(SCOPE_TYPES)
_CACHE = "_flaskleak_scan"


class Scan:
    """The nodes one scope evaluates, in pre-order, and the same nodes grouped by type."""

    __slots__ = ("nodes", "by_type")

    def __init__(self, nodes: list[ast.AST], by_type: dict[type, list[ast.AST]]):
        self.nodes = nodes
        self.by_type = by_type

    def of(self, kind: type) -> list:
        """The nodes of one exact type (``ast.Call``, ``ast.Assign``...), in pre-order."""
        return self.by_type.get(kind, _EMPTY)

    def of_any(self, *kinds: type) -> list:
        """The nodes of several types, in source order (an enclosing node first)."""
        found = [node for kind in kinds for node in self.by_type.get(kind, _EMPTY)]
        if len(kinds) > 1:
            found.sort(key=_position)
        return found

    @property
    def definitions(self) -> list:
        """Functions, lambdas and classes defined directly in this scope."""
        found = []
        for kind in SCOPE_TYPES:
            found.extend(self.by_type.get(kind, _EMPTY))
        return found


_EMPTY: list = []


def _position(node: ast.AST) -> tuple[int, int, int, int]:
    return (
        getattr(node, "lineno", 0),
        getattr(node, "col_offset", 0),
        -(getattr(node, "end_lineno", 0) or 0),
        -(getattr(node, "end_col_offset", 0) or 0),
    )


def children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes`` as a list, without the generator overhead."""
    found = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            found.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    found.append(item)
    return found


def scan(scope: ast.AST) -> Scan:
    """The scan of ``scope`` (a module, class, function or lambda), computed once."""
    cached = scope.__dict__.get(_CACHE)
    if cached is not None:
        return cached
    nodes: list[ast.AST] = []
    by_type: dict[type, list[ast.AST]] = {}
    stack = children(scope)
    stack.reverse()
    append = nodes.append
    pop = stack.pop
    extend = stack.extend
    while stack:
        node = pop()
        append(node)
        kind = type(node)
        bucket = by_type.get(kind)
        if bucket is None:
            by_type[kind] = [node]
        else:
            bucket.append(node)
        if kind in _SCOPE_TYPE_SET:
            continue
        below = children(node)
        if below:
            below.reverse()
            extend(below)
    result = Scan(nodes, by_type)
    setattr(scope, _CACHE, result)
    return result


def is_scanned(scope: ast.AST) -> bool:
    return _CACHE in scope.__dict__


_STATEMENT_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
_STATEMENTS_CACHE = "_flaskleak_statements"


def statements(scope: ast.AST) -> list[ast.stmt]:
    """The statements a scope holds, at any depth of its blocks (``if``, ``try``, ``with``,
    loops, ``match``), without entering nested functions or classes: a walk of statements only,
    a small part of a full scan, enough to find definitions and imports."""
    cached = scope.__dict__.get(_STATEMENTS_CACHE)
    if cached is not None:
        return cached
    found: list[ast.stmt] = []
    stack = list(reversed(getattr(scope, "body", [])))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.ExceptHandler, ast.match_case)):
            stack.extend(reversed(node.body))
            continue
        found.append(node)
        if isinstance(node, _SCOPE_TYPE_SET_STATEMENTS):
            continue
        for block in _STATEMENT_BLOCKS:
            inner = getattr(node, block, None)
            if inner:
                stack.extend(reversed(inner))
    setattr(scope, _STATEMENTS_CACHE, found)
    return found


_SCOPE_TYPE_SET_STATEMENTS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def own_nodes(statement: ast.stmt) -> list[ast.AST]:
    """The nodes of one statement outside its blocks and nested scopes: the header of an
    ``if``/``for``/``with``/``def`` (decorators and defaults included), all of a simple one."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = []
    for name in statement._fields:
        if name in _STATEMENT_BLOCKS:
            continue
        value = getattr(statement, name, None)
        if isinstance(value, ast.AST):
            stack.append(value)
        elif isinstance(value, list):
            stack.extend(item for item in value if isinstance(item, ast.AST))
    stack.reverse()
    while stack:
        node = stack.pop()
        found.append(node)
        if type(node) in _SCOPE_TYPE_SET:
            continue
        below = children(node)
        if below:
            below.reverse()
            stack.extend(below)
    return found


def header_end(statement: ast.stmt) -> int:
    """The last line of a statement's own nodes (its header, for a compound statement)."""
    for name in _STATEMENT_BLOCKS:
        block = getattr(statement, name, None)
        if block:
            first = block[0]
            if isinstance(first, ast.match_case):  # no position of its own: its pattern's
                first = first.pattern
            return max(first.lineno - 1, statement.lineno)
    return statement.end_lineno or statement.lineno
