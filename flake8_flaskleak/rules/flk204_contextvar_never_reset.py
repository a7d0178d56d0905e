"""FLK204 contextvar-never-reset: ``ContextVar.set()`` in request-time code, token never reset.

A worker thread's ``contextvars`` context outlives the request: whatever request code ``set()``
stays referenced by it until someone resets the variable with the token ``set()`` returned.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..astutil import FunctionNode, dotted_name, string_value, walk, walk_executed
from ..finding import Finding
from ..model.flask import Reach
from ..rule import Rule

CONTEXTVAR_CLASSES = {"contextvars.ContextVar"}
LOGGING_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}


def is_contextvar_call(model, node: ast.AST | None) -> bool:
    return isinstance(node, ast.Call) and model.imports.qualified_name(node.func) in (
        CONTEXTVAR_CLASSES
    )


def _assignments(body: list[ast.stmt]) -> Iterator[tuple[ast.expr, ast.expr]]:
    for statement in body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                yield target, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            yield statement.target, statement.value


def module_contextvars(model) -> set[str]:
    """Dotted names of the ContextVars this module defines: ``name`` and ``Class.attr``.

    Kept apart from the reporting so a project index can add the ones other modules define.
    """
    found: set[str] = set()
    for target, value in _assignments(model.tree.body):
        if isinstance(target, ast.Name) and is_contextvar_call(model, value):
            found.add(target.id)
    for class_name, klass in model.flask.classes.items():
        for target, value in _assignments(klass.body):
            if isinstance(target, ast.Name) and is_contextvar_call(model, value):
                found.add(f"{class_name}.{target.id}")
    return found


def is_logging_call(call: ast.Call) -> bool:
    """``logger.debug("...", token)``: mentioning a token in a log line does not hand it on."""
    name = dotted_name(call.func) or ""
    return name == "print" or name.rsplit(".", 1)[-1] in LOGGING_METHODS


class ContextVarNeverReset(Rule):
    code = "FLK204"
    name = "contextvar-never-reset"
    summary = "ContextVar set in request code without resetting it with its token"
    triggers = ("ContextVar",)
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        self.variables = module_contextvars(self.model)
        self.parents: dict[ast.AST, ast.AST] | None = None
        flask = self.model.flask
        for scope, node in self.model.calls_to({"set"}):
            if not (isinstance(node.func, ast.Attribute) and len(node.args) == 1):
                continue
            self.scope = scope
            reach = flask.request_reach(node)
            function = flask.executing_function(node)
            if reach is None or self.runs_in_own_thread(function):
                continue
            variable = self.contextvar_name(node.func.value, function)
            if variable is None:
                continue
            problem = self.unreset_token(node, function)
            if problem is not None:
                yield self.finding(node, self.message(variable, problem, reach))

    def runs_in_own_thread(self, function: FunctionNode) -> bool:
        """A thread target runs in a new thread whose context dies with it."""
        reason = self.model.flask.background.get(function, "")
        return reason.startswith("thread target")

    # -- which variable ------------------------------------------------------------------------

    def contextvar_name(self, receiver: ast.expr, function: FunctionNode) -> str | None:
        name = dotted_name(receiver)
        if name is None:
            return None
        if name in self.variables:
            return name
        head, _, attr = name.partition(".")
        if head in ("self", "cls") and attr and "." not in attr:
            klass = self.model.flask.info(function).klass
            if klass is not None and any(
                f"{class_name}.{attr}" in self.variables for class_name in self.lineage(klass)
            ):
                return name
        if "." not in name and any(
            isinstance(target, ast.Name)
            and target.id == name
            and is_contextvar_call(self.model, value)
            for target, value in self.local_assignments(function)
        ):
            return name  # a ContextVar made per call: every one is a new key in the context
        return None

    def lineage(self, klass: ast.ClassDef) -> Iterator[str]:
        seen: set[str] = set()
        pending = [klass.name]
        while pending:
            name = pending.pop()
            if name in seen or name not in self.model.flask.classes:
                continue
            seen.add(name)
            yield name
            pending.extend(dotted_name(b) or "" for b in self.model.flask.classes[name].bases)

    @staticmethod
    def local_assignments(function: FunctionNode) -> Iterator[tuple[ast.expr, ast.expr]]:
        for node in walk_executed(function.body):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    yield target, node.value

    # -- what happens to the token -------------------------------------------------------------

    def parent(self, node: ast.AST) -> ast.AST | None:
        """The parent of a node of the scope being checked (``self.scope``)."""
        return self.model.parents(self.scope).get(node)

    def unreset_token(self, call: ast.Call, function: FunctionNode) -> str | None:
        """Why the token of ``call`` is never reset, or ``None`` when it is (or is handed on)."""
        parent = self.parent(call)
        if isinstance(parent, ast.Expr):
            return "drops its token"
        if isinstance(parent, (ast.Assign, ast.AnnAssign)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if len(targets) != 1:
                return None
            return self.stored_token_problem(targets[0], function)
        if isinstance(parent, ast.Call) and dotted_name(parent.func) == "setattr":
            key = string_value(parent.args[1]) if len(parent.args) == 3 else None
            if key is not None and not self.reset_mentions(key, self.model.tree):
                return f"stores its token as `{key}` but nothing resets the variable with it"
        # returned, yielded, used as a `with` item or passed to a call: whoever receives it
        # owns the reset
        return None

    def stored_token_problem(self, target: ast.expr, function: FunctionNode) -> str | None:
        if isinstance(target, ast.Name):
            token = target.id
            if self.reset_with_name(token, function):
                return None
            key = self.token_handed_on(token, function)
            if key is None:
                return None
            if key and self.reset_mentions(key, self.model.tree):
                return None
            return f"keeps its token in `{token}` but never passes it to `reset()`"
        key = target.attr if isinstance(target, ast.Attribute) else None
        if isinstance(target, ast.Subscript):
            key = string_value(target.slice)
        if key is None or self.reset_mentions(key, self.model.tree):
            return None
        stored = dotted_name(target) or key
        return f"stores its token in `{stored}` but nothing resets the variable with it"

    @staticmethod
    def reset_calls(area: ast.AST) -> Iterator[ast.Call]:
        for node in walk(area):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "reset"
                and node.args
            ):
                yield node

    def reset_with_name(self, token: str, function: FunctionNode) -> bool:
        return any(
            isinstance(argument, ast.Name) and argument.id == token
            for call in self.reset_calls(function)
            for argument in call.args
        )

    def reset_mentions(self, key: str, area: ast.AST) -> bool:
        """A ``reset(g.key)``, ``reset(g.pop("key"))`` or ``reset(getattr(g, "key"))``, also
        through a local (``token = g.pop("key", None)`` then ``reset(token)``); ``area`` is a
        function, or the module for anywhere in it."""
        if isinstance(area, ast.Module):
            calls = [call for _, call in self.model.calls_to({"reset"})]
        else:
            calls = list(self.reset_calls(area))
        for call in calls:
            if not (isinstance(call.func, ast.Attribute) and call.func.attr == "reset" and call.args):
                continue
            for expression in self.token_sources(call):
                for node in walk(expression):
                    if isinstance(node, ast.Attribute) and node.attr == key:
                        return True
                    if string_value(node) == key:
                        return True
        return False

    def token_sources(self, call: ast.Call) -> list[ast.expr]:
        """The expression a reset gets its token from, and what a local token was assigned."""
        argument = call.args[0]
        sources = [argument]
        function = self.model.flask.executing_function(call)
        if isinstance(argument, ast.Name) and function is not None:
            sources.extend(
                value
                for target, value in self.local_assignments(function)
                if isinstance(target, ast.Name) and target.id == argument.id
            )
        return sources

    def token_handed_on(self, token: str, function: FunctionNode) -> str | None:
        """Where a local token goes: ``""`` nowhere, the attribute or key it is stored under,
        or ``None`` when it is returned or passed to a call (the receiver resets it)."""
        key = ""
        for node in walk(function):
            is_use = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
            if not (is_use and node.id == token):
                continue
            parent = self.parent(node)
            if isinstance(parent, (ast.Assign, ast.AnnAssign)):
                targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
                for target in targets:
                    if isinstance(target, ast.Attribute):
                        key = target.attr
                    elif isinstance(target, ast.Subscript):
                        key = string_value(target.slice) or key
                    else:
                        return None
            elif isinstance(parent, ast.keyword) or (
                isinstance(parent, ast.Call) and not is_logging_call(parent)
            ):
                return None
            elif isinstance(parent, (ast.Return, ast.Yield)):
                return None
            elif isinstance(parent, (ast.List, ast.Tuple, ast.Dict, ast.Set)):
                return None
        return key

    @staticmethod
    def message(variable: str, problem: str, reach: Reach) -> str:
        return (
            f"`{variable}.set(...)` in request-time code ({reach.describe()}) {problem}: the "
            "worker thread's context keeps the value alive after the request (and the next "
            f"request on that thread sees it); call `{variable}.reset(token)` in a `finally` or a "
            "teardown"
        )
