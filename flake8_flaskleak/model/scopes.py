"""Where each function and class is, found lazily: the module's definitions, and the lines each
one spans, so that a line the text index points at leads to the scope that holds it.

Module-level definitions (including those inside module-level ``if``/``try`` blocks) and the
methods of module-level classes are known as soon as the module's own scan is; a function's
nested definitions are known once that function is scanned, which happens only when some
question needs it.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from dataclasses import dataclass

from ..scan import scan

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
DefinitionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_DEFINITION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class FunctionInfo:
    node: FunctionNode
    qualname: str
    klass: ast.ClassDef | None  # the class it is a method of, if any
    parent: FunctionNode | None  # the function it is nested in, if any


def first_line(node: DefinitionNode) -> int:
    """The line a definition starts on, its decorators included."""
    line = node.lineno
    for decorator in node.decorator_list:
        if decorator.lineno < line:
            line = decorator.lineno
    return line


class Scopes:
    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.parent_of: dict[ast.AST, ast.AST] = {}  # definition -> the scope that defines it
        self._children: dict[ast.AST, tuple[list[int], list[DefinitionNode]]] = {}
        self._info: dict[FunctionNode, FunctionInfo] = {}
        self._complete = False

    # -- definitions of one scope -------------------------------------------------------------

    def definitions(self, scope: ast.AST) -> list[DefinitionNode]:
        """Functions and classes defined directly in ``scope``, in source order."""
        return self._index(scope)[1]

    def _index(self, scope: ast.AST) -> tuple[list[int], list[DefinitionNode]]:
        found = self._children.get(scope)
        if found is None:
            scanned = scan(scope)
            nodes = [
                node
                for kind in _DEFINITION_TYPES
                for node in scanned.of(kind)
            ]
            nodes.sort(key=first_line)
            for node in nodes:
                self.parent_of[node] = scope
            found = ([first_line(node) for node in nodes], nodes)
            self._children[scope] = found
        return found

    def functions_in(self, scope: ast.AST) -> list[FunctionNode]:
        return [d for d in self.definitions(scope) if not isinstance(d, ast.ClassDef)]

    def classes_in(self, scope: ast.AST) -> list[ast.ClassDef]:
        return [d for d in self.definitions(scope) if isinstance(d, ast.ClassDef)]

    # -- from a line to its scope -------------------------------------------------------------

    def scope_at(self, line: int) -> ast.AST:
        """The innermost module, class or function whose code is on ``line``."""
        scope: ast.AST = self.tree
        while True:
            starts, nodes = self._index(scope)
            inner = _containing(starts, nodes, line)
            if inner is None:
                return scope
            if line <= inner.lineno:
                return inner  # its decorators or its ``def`` line: nothing nested starts there
            scope = inner

    def scopes_at(self, lines) -> list[ast.AST]:
        """The innermost scopes of several lines, each once, in order of first appearance."""
        seen: dict[ast.AST, None] = {}
        for line in lines:
            seen.setdefault(self.scope_at(line), None)
        return list(seen)

    def function_at(self, line: int) -> FunctionNode | None:
        scope = self.scope_at(line)
        return scope if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    # -- functions -----------------------------------------------------------------------------

    def parent_scope(self, node: DefinitionNode) -> ast.AST:
        parent = self.parent_of.get(node)
        if parent is None:
            self._locate(node)
            parent = self.parent_of.get(node, self.tree)
        return parent

    def _locate(self, node: DefinitionNode) -> None:
        """Index the scopes down to ``node`` (its parent gets recorded on the way)."""
        scope: ast.AST = self.tree
        line = node.lineno
        while scope is not node:
            starts, nodes = self._index(scope)
            if node in nodes:
                return
            inner = _containing(starts, nodes, line)
            if inner is None:
                return
            scope = inner

    def info(self, function: FunctionNode) -> FunctionInfo:
        found = self._info.get(function)
        if found is None:
            parent = self.parent_scope(function)
            klass = parent if isinstance(parent, ast.ClassDef) else None
            outer = parent if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
            found = FunctionInfo(function, self.qualname(function), klass, outer)
            self._info[function] = found
        return found

    def qualname(self, node: DefinitionNode) -> str:
        parts = [node.name]
        parent = self.parent_scope(node)
        while not isinstance(parent, ast.Module):
            if isinstance(parent, ast.ClassDef):
                parts.append(parent.name)
            else:
                parts.append(parent.name + ".<locals>")
            parent = self.parent_scope(parent)
        return ".".join(reversed(parts))

    def nested_functions(self, function: FunctionNode) -> list[FunctionNode]:
        return self.functions_in(function)

    def all_functions(self) -> list[FunctionNode]:
        """Every function of the module, nested ones included (scans every function: costly,
        for the few questions that are about all of them)."""
        found: list[FunctionNode] = []
        stack: list[ast.AST] = [self.tree]
        while stack:
            scope = stack.pop()
            for definition in self.definitions(scope):
                if not isinstance(definition, ast.ClassDef):
                    found.append(definition)
                stack.append(definition)
        self._complete = True
        return found


def _containing(starts: list[int], nodes: list[DefinitionNode], line: int) -> DefinitionNode | None:
    """The definition (siblings never share lines) whose lines include ``line``."""
    position = bisect_right(starts, line) - 1
    if position < 0:
        return None
    candidate = nodes[position]
    return candidate if line <= (candidate.end_lineno or candidate.lineno) else None
