"""Branches that never run: an ``if`` (or ``x if c else y``) whose test has one known outcome.

Two shapes, both common in real code and both certain:

* a constant test: ``if False:``, ``if 0:``, ``if not True:`` (the body is dead; for a true
  constant, the ``else``);
* a string test on a name whose ending or start is visible: ``name.endswith(C)`` or
  ``name.startswith(C)`` (``C`` a string or a tuple of strings, ``not`` allowed in front),
  where ``name`` is bound exactly once in the function (``local_bindings.only_value``) to a
  string constant, an f-string whose last (first) piece is a constant, ``a + "const"``
  (``"const" + a``), or ``os.path.join(..., <one of those>)`` (its last argument gives the
  ending)::

      html_path = os.path.join(watch.data_dir, f"{snapshot}.html.br")
      if html_path.endswith(".br"):
          ...
      else:
          data = f.read()  # never runs

A rule asks ``is_dead(model, function, node)`` before reporting ``node``: what a dead branch
would do never happens. The answer is computed once per function and kept with the model.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..astutil import FunctionNode, constant_truthiness
from ..scan import scan
from .local_bindings import only_value

STRING_TESTS = {"endswith", "startswith"}
PATH_JOINS = {"os.path.join", "posixpath.join", "ntpath.join"}


@dataclass(frozen=True)
class KnownText:
    """What we know of a string's value: how it starts and how it ends ("" when unknown)."""

    prefix: str
    suffix: str
    whole: bool = False  # the whole value is known (prefix == suffix == the value)


def is_dead(model, function: FunctionNode | None, node: ast.AST) -> bool:
    """Whether ``node`` (an expression or statement of ``function``) sits in a dead branch."""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False  # module level and class bodies: not analysed
    return node in dead_nodes(model, function)


def dead_nodes(model, function: FunctionNode) -> frozenset[ast.AST]:
    """Every node of ``function`` in a branch that never runs (kept with the model)."""
    return model.shared(("dead-branches", function), lambda: _dead_nodes(model, function))


def branch_outcome(model, function: FunctionNode, test: ast.expr) -> bool | None:
    """``True``/``False`` when ``test`` always has that outcome in ``function``, else None."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = branch_outcome(model, function, test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Constant):
        return constant_truthiness(test)
    if not _is_string_test(test):
        return None
    value = only_value(function, test.func.value.id)
    known = known_text(model, value) if value is not None else None
    if known is None:
        return None
    argument = test.args[0]
    options = argument.elts if isinstance(argument, ast.Tuple) else [argument]
    outcomes = [_affix_outcome(known, test.func.attr, option.value) for option in options]
    if any(outcome is True for outcome in outcomes):
        return True
    if all(outcome is False for outcome in outcomes):
        return False
    return None


def known_text(model, expr: ast.expr) -> KnownText | None:
    """How the string ``expr`` evaluates to starts and ends, when either is visible."""
    known = _known_text(model, expr)
    if known is None or not (known.prefix or known.suffix or known.whole):
        return None
    return known


def _known_text(model, expr: ast.expr) -> KnownText | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return KnownText(expr.value, expr.value, whole=True)
    if isinstance(expr, ast.JoinedStr) and expr.values:
        first, last = expr.values[0], expr.values[-1]
        return KnownText(
            first.value if _is_text(first) else "",
            last.value if _is_text(last) else "",
        )
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        left, right = _known_text(model, expr.left), _known_text(model, expr.right)
        if left is None and right is None:
            return None
        if left is not None and right is not None and left.whole and right.whole:
            return KnownText(left.prefix + right.prefix, left.prefix + right.prefix, whole=True)
        prefix = left.prefix if left is not None else ""
        if left is not None and left.whole and right is not None:
            prefix = left.prefix + right.prefix
        suffix = right.suffix if right is not None else ""
        if right is not None and right.whole and left is not None:
            suffix = left.suffix + right.suffix
        return KnownText(prefix, suffix)
    if isinstance(expr, ast.Call) and expr.args and not expr.keywords:
        last = expr.args[-1]
        if isinstance(last, ast.Starred):
            return None
        if model.imports.qualified_name(expr.func) in PATH_JOINS:
            known = _known_text(model, last)
            # a later absolute part restarts the path: only the ending is certain
            return KnownText("", known.suffix) if known is not None else None
    return None


def _affix_outcome(known: KnownText, method: str, option: str) -> bool | None:
    """Whether a string ``known`` describes ends (starts) with ``option``; None when unsure."""
    if known.whole:
        value = known.prefix
        return value.endswith(option) if method == "endswith" else value.startswith(option)
    if method == "endswith":
        seen = known.suffix
        if seen.endswith(option):
            return True
        return None if option.endswith(seen) else False
    seen = known.prefix
    if seen.startswith(option):
        return True
    return None if option.startswith(seen) else False


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_string_test(test: ast.expr) -> bool:
    """``name.endswith("x")``, ``name.startswith(("a", "b"))``: one constant argument."""
    if not (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Attribute)
        and test.func.attr in STRING_TESTS
        and isinstance(test.func.value, ast.Name)
        and len(test.args) == 1
        and not test.keywords
    ):
        return False
    argument = test.args[0]
    options = argument.elts if isinstance(argument, ast.Tuple) else [argument]
    return bool(options) and all(_is_text(option) for option in options)


def _dead_nodes(model, function: FunctionNode) -> frozenset[ast.AST]:
    found = scan(function)
    dead: set[ast.AST] = set()
    for branch in (*found.of(ast.If), *found.of(ast.IfExp)):
        if branch in dead:
            continue
        outcome = branch_outcome(model, function, branch.test)
        if outcome is None:
            continue
        block = branch.orelse if outcome else branch.body
        for part in block if isinstance(block, list) else [block]:
            dead.update(ast.walk(part))
    return frozenset(dead)
