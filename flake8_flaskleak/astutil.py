"""Small helpers over the standard-library ``ast`` tree, shared by the model and the rules."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .scan import children as _children, scan

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, ``None`` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def call_name(node: ast.Call) -> str | None:
    """The dotted name of what a call calls (``engine.connect`` for ``engine.connect()``)."""
    return dotted_name(node.func)


def callee_name(call: ast.Call) -> str:
    """The last name of what a call calls: ``connect`` for ``engine.connect()`` and for
    ``get_engine().connect()``; ``""`` for anything else (a subscript, a lambda)."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def call_arguments(call: ast.Call) -> list[ast.expr]:
    """Positional and keyword argument values of a call, in order."""
    return list(call.args) + [keyword.value for keyword in call.keywords]


def last_part(name: str | None) -> str | None:
    return name.rsplit(".", 1)[-1] if name else None


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk``: every node below ``node``, nested scopes included (use sparingly: the
    model's scans answer most questions without a walk)."""
    return ast.walk(node)


def walk_local(node: ast.AST) -> Iterator[ast.AST]:
    """Walk a function or class body without entering nested functions, lambdas or classes.

    What a nested ``def`` does happens when it is called, not when its parent runs. For a
    module, class or function this is the scope's scan, computed once (``scan.py``).
    """
    return iter(scan(node).nodes)


def walk_executed(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node evaluated when a block of statements runs.

    Like ``walk_local`` it does not enter the bodies of nested functions and lambdas, but it
    does yield what a ``def``/``class`` statement evaluates where it stands: decorators,
    default values, class bases and keywords, and the class body itself.
    """
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            evaluated = list(arguments.defaults) + [d for d in arguments.kw_defaults if d]
            if not isinstance(node, ast.Lambda):
                evaluated = list(node.decorator_list) + evaluated
            stack.extend(reversed(evaluated))
        elif isinstance(node, ast.ClassDef):
            evaluated = node.decorator_list + node.bases + [k.value for k in node.keywords]
            stack.extend(reversed(evaluated + node.body))
        else:
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


def walk_statements_local(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for statement in body:
        yield statement
        if not isinstance(statement, SCOPE_NODES):
            yield from walk_local(statement)


def parent_map(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node's parent, for the rare question that needs to look upwards (build it lazily)."""
    cached = tree.__dict__.get("_flaskleak_parents") if isinstance(tree, ast.Module) else None
    if cached is not None:
        return cached
    parents: dict[ast.AST, ast.AST] = {}
    for node in walk(tree):
        for child in _children(node):
            parents[child] = node
    if isinstance(tree, ast.Module):
        tree._flaskleak_parents = parents
    return parents


def iter_functions(tree: ast.AST) -> Iterator[FunctionNode]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def constant_truthiness(node: ast.AST | None) -> bool | None:
    """``True``/``False`` for a literal whose truth is known, ``None`` when it is not a literal."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = constant_truthiness(node.operand)
        return None if inner is None else not inner
    return None


def keyword_value(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def string_value(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def assigned_names(target: ast.AST) -> Iterator[ast.Name]:
    """The plain names a (possibly unpacking) assignment target binds."""
    if isinstance(target, ast.Name):
        yield target
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from assigned_names(element)
    elif isinstance(target, ast.Starred):
        yield from assigned_names(target.value)


def local_bindings(function: FunctionNode) -> set[str]:
    """Names a function binds locally (parameters and assignments), minus its ``global`` names."""
    arguments = function.args
    names = {
        arg.arg
        for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs
    }
    if arguments.vararg:
        names.add(arguments.vararg.arg)
    if arguments.kwarg:
        names.add(arguments.kwarg.arg)
    declared_global: set[str] = set()
    for node in walk_local(function):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared_global.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names - declared_global


def binds_names_only(target: ast.expr) -> bool:
    """An assignment target made of plain names (``a``, ``a, b``, ``[a, *rest]``): it stores
    nothing on an object or in a container."""
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(binds_names_only(element) for element in target.elts)
    if isinstance(target, ast.Starred):
        return binds_names_only(target.value)
    return False


def short_source(node: ast.AST, limit: int = 60) -> str:
    """A short one-line rendering of a node's source, for messages."""
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast.parse makes
        text = "..."
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
