"""Slots a request acquires and keeps on ``g`` for its teardown to release.

A common way to bound concurrent work per process (zou's media slots) acquires a semaphore in a
``before_request`` hook and releases it in a teardown:

    if not slots.acquire(timeout=timeout):      # before_request
        return busy_response()
    g.media_slot = slots

    slot = g.pop("media_slot", None)             # teardown
    if slot is not None:
        slot.release()

``release()`` raises only when it is called more often than ``acquire()`` (``ValueError`` from a
``BoundedSemaphore``, ``RuntimeError`` from a ``Lock``). Here it cannot: ``g`` holds the slot
only after an acquire succeeded, and ``g.pop`` hands it to one release at most.
"""

from __future__ import annotations

import ast
import re

from ..astutil import dotted_name
from .scopes import FunctionNode

G_STORE = re.compile(r"\bg\.\w+\s*=[^=]")


def keys_acquired_on_g(model) -> set[str]:
    """Names ``K`` of ``g.K = lock`` stores that follow a successful ``lock.acquire(...)`` in
    the same block: a bare ``lock.acquire()`` or ``if not lock.acquire(...): return``."""
    return model.shared("keys_acquired_on_g", lambda: _find_keys(model))


def _find_keys(model) -> set[str]:
    if "acquire(" not in model.text:
        return set()
    keys: set[str] = set()
    for function in model.functions_mentioning(G_STORE):
        for block in _blocks(function):
            acquired: set[str] = set()
            for statement in block:
                lock = _acquired_lock(statement)
                if lock is not None:
                    acquired.add(lock)
                key = _g_store_of(statement, acquired, model)
                if key is not None:
                    keys.add(key)
    return keys


def releases_acquired_slot(model, statement: ast.stmt, test: ast.expr) -> bool:
    """``slot.release()`` under ``if slot is not None:`` (or ``if slot:``), where the teardown
    took ``slot`` with ``g.pop("K", None)`` and ``g.K`` holds only acquired locks."""
    name = _not_none_name(test)
    if name is None or not isinstance(statement, ast.Expr):
        return False
    call = statement.value
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "release"
        and not call.args
        and _is_name(call.func.value, name)
    ):
        return False
    function = model.flask.enclosing_function(statement)
    if function is None:
        return False
    key = _popped_from_g(function, name, model)
    return key is not None and key in keys_acquired_on_g(model)


def _acquired_lock(statement: ast.stmt) -> str | None:
    if isinstance(statement, ast.Expr) and _is_acquire(statement.value):
        return dotted_name(statement.value.func.value)
    if (
        isinstance(statement, ast.If)
        and isinstance(statement.test, ast.UnaryOp)
        and isinstance(statement.test.op, ast.Not)
        and _is_acquire(statement.test.operand)
        and statement.body
        and isinstance(statement.body[-1], (ast.Return, ast.Raise))
    ):
        return dotted_name(statement.test.operand.func.value)
    return None


def _is_acquire(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "acquire"
        and dotted_name(node.func.value) is not None
    )


def _g_store_of(statement: ast.stmt, acquired: set[str], model) -> str | None:
    if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
        return None
    target = statement.targets[0]
    if (
        isinstance(target, ast.Attribute)
        and model.flask.request_global(target.value) == "g"
        and dotted_name(statement.value) in acquired
    ):
        return target.attr
    return None


def _popped_from_g(function: FunctionNode, name: str, model) -> str | None:
    """``K`` when ``function`` binds ``name`` only once, to ``g.pop("K", None)``."""
    keys = []
    for node in ast.walk(function):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With, ast.NamedExpr)):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.With):
                targets = [item.optional_vars for item in node.items]
            else:
                targets = [node.target]
            if not any(isinstance(t, ast.Name) and t.id == name for t in targets if t is not None):
                continue
            value = getattr(node, "value", None)
            keys.append(_g_pop_key(value, model))
    return keys[0] if len(keys) == 1 else None


def _g_pop_key(value: ast.AST | None, model) -> str | None:
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "pop"
        and model.flask.request_global(value.func.value) == "g"
        and len(value.args) == 2
        and isinstance(value.args[0], ast.Constant)
        and isinstance(value.args[0].value, str)
    ):
        return value.args[0].value
    return None


def _not_none_name(test: ast.expr) -> str | None:
    if isinstance(test, ast.Name):
        return test.id
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.left, ast.Name)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        return test.left.id
    return None


def _blocks(function: FunctionNode):
    """The statement blocks of ``function``, nested ones included (not nested functions)."""
    stack = [function.body]
    while stack:
        block = stack.pop()
        yield block
        for statement in block:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(statement, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    stack.append(inner)
            for handler in getattr(statement, "handlers", None) or []:
                stack.append(handler.body)


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name
