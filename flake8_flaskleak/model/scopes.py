"""Where each function and class is, found lazily: the module's definitions, and the lines each
one spans, so that a line the text index points at leads to the scope that holds it.

Module-level definitions (including those inside module-level ``if``/``try`` blocks) and the
methods of module-level classes are known as soon as the module's own scan is; a function's
nested definitions are known once that function is scanned, which happens only when some
question needs it.
"""

from __future__ import annotations

import ast
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from ..scan import header_end, own_nodes, statements

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
            nodes = [node for node in statements(scope) if isinstance(node, _DEFINITION_TYPES)]
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
        """The innermost scopes of several lines, each once, in source order."""
        return list(self.lines_by_scope(lines))

    def lines_by_scope(self, lines) -> dict[ast.AST, list[int]]:
        """The innermost scope of each line, with the lines it holds, in source order.

        The lines are dealt out to the definitions of each scope in one pass over both sorted
        lists, so many lines cost about as much as the definitions they fall in. A line of a
        definition's decorators or ``def`` line belongs to that definition (its header)."""
        found: dict[ast.AST, list[int]] = {}
        pending: list[tuple[ast.AST, list[int]]] = [(self.tree, sorted(set(lines)))]
        while pending:
            scope, scope_lines = pending.pop()
            starts, nodes = self._index(scope)
            index = 0
            inner: list[int] = []
            current = None
            for line in scope_lines:
                while index < len(nodes) and (nodes[index].end_lineno or nodes[index].lineno) < line:
                    index += 1
                candidate = nodes[index] if index < len(nodes) else None
                if candidate is None or line < starts[index]:
                    found.setdefault(scope, []).append(line)
                    continue
                if line <= candidate.lineno:  # its decorators or its ``def`` line
                    found.setdefault(candidate, []).append(line)
                    continue
                if candidate is not current:
                    if current is not None:
                        pending.append((current, inner))
                    current, inner = candidate, []
                inner.append(line)
            if current is not None:
                pending.append((current, inner))
        ordered = sorted(found, key=lambda scope: getattr(scope, "lineno", 0))
        return {scope: sorted(found[scope]) for scope in ordered}

    def function_at(self, line: int) -> FunctionNode | None:
        scope = self.scope_at(line)
        return scope if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    def nodes_on_lines(self, scope: ast.AST, lines: list[int]) -> list[ast.AST]:
        """The nodes of ``scope`` in the statements written on ``lines`` (sorted): a few
        statements' worth of nodes, not the whole scope's. For a definition, lines of its
        decorators and ``def`` line give its header's nodes."""
        found: list[ast.AST] = []
        if not lines:
            return found
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if lines[0] <= header_end(scope):
                found.extend(own_nodes(scope))
            if lines[-1] <= scope.lineno:
                return found
        for statement in statements(scope):
            start = statement.lineno
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # a nested definition is a scope of its own
            position = bisect_left(lines, start)
            if position < len(lines) and lines[position] <= header_end(statement):
                found.append(statement)
                found.extend(own_nodes(statement))
        return found

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
