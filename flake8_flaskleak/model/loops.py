"""Loops that never end on their own: ``while True`` without a way out, or a loop that only a
stop signal (an event, a flag set from outside) ends.

A thread started per request whose target runs such a loop never ends (FLK404); a connection or
session opened before such a loop and used in it lives as long as the worker does, by design,
and is not a per-use leak (FLK401).
"""

from __future__ import annotations

import ast

from ..astutil import short_source


def forever_loop(loop: ast.While) -> str | None:
    """How ``loop`` runs forever (for a message), or None."""
    if _breaks(loop):
        return None
    test = loop.test
    if isinstance(test, ast.Constant) and bool(test.value):
        return "a `while True` loop"
    if _until_signalled(test):
        return f"a `while {short_source(test, 30)}` loop only a stop signal ends"
    return None


def _until_signalled(test: ast.expr) -> bool:
    """``while not stop.wait(1)``, ``while not stop.is_set()``, ``while self.running``."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = test.operand
        return (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr in ("wait", "is_set")
        )
    return isinstance(test, (ast.Name, ast.Attribute))


def _breaks(loop: ast.While) -> bool:
    """A ``break`` or ``return`` that leaves this loop (not one of an inner loop or function)."""
    stack = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Break, ast.Return)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            stack.extend(n for n in ast.walk(node) if isinstance(n, ast.Return))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False
