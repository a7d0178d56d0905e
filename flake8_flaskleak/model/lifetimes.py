"""What becomes of an object that a call makes in a function: released, handed on, or dropped.

FLK405 (a pooled client) and FLK406 (a pyplot figure) ask the same question of the call that
makes one: does the function release it (``with``, a release in ``finally``, a release on
every path), hand it on (return it, store it beyond the call, give it to a new owner, capture
it in a closure), release it only on the path where nothing raises, or drop it? What counts
as a release is the caller's: ``releases(call, names)`` says whether a call releases the object
bound to ``names`` (``client.close()``; ``plt.close(fig)``, and ``plt.close()`` whatever the
names). A function of this module that releases what it is given counts as a release where it
is called (``save_png(fig)`` whose body calls ``plt.close(fig)``).

Only the function's own statements are read (its scan); the callers of a function that returns
the object are the rule's to follow (``callers_fates``).
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..astutil import (
    SCOPE_NODES,
    FunctionNode,
    binds_names_only,
    call_arguments,
    callee_name,
    dotted_name,
    walk_local,
)
from .resources import carries, first_risky, mentions, takes_ownership

Releases = Callable[[ast.Call, frozenset], bool]
# Expressions an object passes through unchanged on its way to a name or a return.
TRANSPARENT = (ast.IfExp, ast.BoolOp, ast.Await, ast.Tuple, ast.List, ast.Starred)
CLOSING_WRAPPERS = {"closing", "aclosing"}
EXIT_STACK_METHODS = {"enter_context", "enter_async_context"}
MAX_CALLER_DEPTH = 3


class Fate(enum.Enum):
    RELEASED = "released"  # with, a release in finally, or on every path
    RETURNED = "returned"  # returned or yielded to the caller
    KEPT = "kept"  # stored beyond the call, given to a new owner, captured by a closure
    RELEASED_LATE = "released late"  # released on the normal path; something before can raise
    RELEASED_SOMETIMES = "released sometimes"  # released on some paths only
    DROPPED = "dropped"  # never released


@dataclass
class Outcome:
    fate: Fate
    names: frozenset = frozenset()  # the names bound to the object in the function
    node: ast.AST | None = None  # the release, the return or the store
    risky: ast.AST | None = None  # for RELEASED_LATE: what can raise or return before it
    stored_on: str | None = None  # for KEPT by a store: ``self.client``, ``g.s3``


@dataclass
class _Facts:
    names: set[str]
    managed: bool = False
    returned: ast.AST | None = None
    kept: ast.AST | None = None
    stored_on: str | None = None
    releases: list[ast.Call] = field(default_factory=list)  # outside finally


def fate(model, function: FunctionNode, call: ast.Call, releases: Releases,
         owners_keep: bool = True) -> Outcome:
    """The outcome of the object ``call`` makes, in ``function`` (which evaluates the call).

    ``owners_keep``: a constructor given the object (``Thread(target=..., args=(c,))``)
    keeps it alive, so it is handed on; not for a figure, which pyplot holds whoever else does.
    """
    parents = model.parents(function)
    node, parent = call, parents.get(call)
    while isinstance(parent, TRANSPARENT):
        node, parent = parent, parents.get(parent)
    if parent is None:
        return Outcome(Fate.KEPT)  # in a nested scope: not this function's to judge
    if isinstance(parent, ast.withitem) and parent.context_expr is node:
        return Outcome(Fate.RELEASED, node=parent)
    if isinstance(parent, ast.Call) and node is not parent.func:
        holder = parents.get(parent)
        name = callee_name(parent)
        if name in CLOSING_WRAPPERS and isinstance(holder, ast.withitem):
            return Outcome(Fate.RELEASED, node=holder)
        if name in EXIT_STACK_METHODS:
            return Outcome(Fate.RELEASED, node=parent)
        if owners_keep and takes_ownership(parent):
            return Outcome(Fate.KEPT, node=parent)
        return _judge(model, function, _Facts(set()), parents, parent, releases)
    if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom)):
        return Outcome(Fate.RETURNED, node=parent)
    if isinstance(parent, ast.Attribute):
        holder = parents.get(parent)
        if isinstance(holder, ast.Call) and holder.func is parent and releases(
            holder, frozenset()
        ):
            return Outcome(Fate.RELEASED, node=holder)  # `make().close()`
        return _judge(model, function, _Facts(set()), parents, parent, releases)
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        stored = [t for t in targets if not binds_names_only(t)]
        if stored:
            return Outcome(Fate.KEPT, node=parent, stored_on=dotted_name(stored[0]) or "")
        names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return _bound(model, function, names, parents, parent, releases, owners_keep)
    if isinstance(parent, ast.Expr):
        return _judge(model, function, _Facts(set()), parents, parent, releases)
    return Outcome(Fate.KEPT)  # used in a way not followed here: not reported


def released_by(model, function: FunctionNode, parameter: str, releases: Releases,
                depth: int = 0) -> bool:
    """Whether ``function`` releases what it is given as ``parameter`` (in ``finally``, or on
    its normal path: the call site is then judged as a release)."""
    parents = model.parents(function)
    facts = _collect(model, function, {parameter}, releases, owners_keep=False, depth=depth)
    if facts.managed:
        return True
    if not facts.releases or not function.body:
        return False
    start = function.body[0]
    outcome = _after(function, parents, start, facts, include_start=True)
    return outcome.fate in (Fate.RELEASED, Fate.RELEASED_LATE)  # on its normal path


def callers_fates(model, function: FunctionNode, releases: Releases, owners_keep: bool = True,
                  depth: int = 0) -> Iterator[tuple[FunctionNode, ast.Call, Outcome]]:
    """For a function that returns the object: how each request-time caller in this module
    treats what it gets (following callers that return it in turn, a few levels)."""
    flask = model.flask
    for caller in flask.request_time:
        if function not in flask.callees(caller):
            continue
        for call in walk_local(caller):
            if not isinstance(call, ast.Call) or function not in flask.functions_called(
                call.func, call
            ):
                continue
            outcome = fate(model, caller, call, releases, owners_keep)
            if outcome.fate is Fate.RETURNED and depth < MAX_CALLER_DEPTH:
                yield from callers_fates(model, caller, releases, owners_keep, depth + 1)
            else:
                yield caller, call, outcome


# -- a name bound to the object -----------------------------------------------------------------


def _bound(model, function, names: set[str], parents, statement, releases, owners_keep) -> Outcome:
    facts = _collect(model, function, names, releases, owners_keep)
    frozen = frozenset(facts.names)
    if facts.managed:
        return Outcome(Fate.RELEASED, frozen)
    return _judge(model, function, facts, parents, statement, releases)


def _collect(model, function, names: set[str], releases: Releases, owners_keep: bool,
             depth: int = 0) -> _Facts:
    """What the function does with the names bound to the object (and plain copies of them)."""
    facts = _Facts(set(names))
    nodes = list(walk_local(function))
    _follow_copies(facts, nodes)
    frozen = frozenset(facts.names)
    declared = {n for node in nodes if isinstance(node, (ast.Global, ast.Nonlocal)) for n in node.names}
    if facts.names & declared:
        facts.kept = function
        facts.stored_on = sorted(facts.names & declared)[0]
    for node in nodes:
        if isinstance(node, SCOPE_NODES):
            if node is not function and mentions(node, facts.names):
                facts.kept = facts.kept or node  # a closure may outlive the call
            continue
        if isinstance(node, (ast.With, ast.AsyncWith)):
            if any(_manages(item.context_expr, facts.names) for item in node.items):
                facts.managed = True
        elif isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)):
            if carries(node.value, facts.names):
                facts.returned = facts.returned or node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            stored = [t for t in targets if not isinstance(t, ast.Name)]
            if stored and carries(node.value, facts.names):
                facts.kept = facts.kept or node
                facts.stored_on = facts.stored_on or dotted_name(stored[0]) or ""
        elif isinstance(node, ast.Call):
            if releases(node, frozen) or _released_by_helper(model, node, frozen, releases, depth):
                facts.releases.append(node)  # one in `finally` is judged by where its try is
            elif callee_name(node) in EXIT_STACK_METHODS and any(
                carries(argument, facts.names) for argument in node.args
            ):
                facts.managed = True
            elif owners_keep and takes_ownership(node) and any(
                carries(argument, facts.names) for argument in call_arguments(node)
            ):
                facts.kept = facts.kept or node
    return facts


def _follow_copies(facts: _Facts, nodes: list[ast.AST]) -> None:
    changed = True
    while changed:
        changed = False
        for node in nodes:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
                if node.value.id in facts.names:
                    new = {t.id for t in node.targets if isinstance(t, ast.Name)} - facts.names
                    if new:
                        facts.names |= new
                        changed = True


def _judge(model, function, facts: _Facts, parents, statement_node, releases) -> Outcome:
    frozen = frozenset(facts.names)
    if not facts.names:  # not bound: only a release that names nothing can reach it
        for node in walk_local(function):
            if isinstance(node, ast.Call) and releases(node, frozen):
                facts.releases.append(node)
    if facts.managed:
        return Outcome(Fate.RELEASED, frozen)
    if facts.kept is not None:  # kept beyond the call: a caller it is returned to shares it
        return Outcome(Fate.KEPT, frozen, facts.kept, stored_on=facts.stored_on)
    if facts.returned is not None:
        return Outcome(Fate.RETURNED, frozen, facts.returned)
    if not facts.releases:
        return Outcome(Fate.DROPPED, frozen)
    statement = _statement_of(parents, statement_node, function)
    if statement is None:
        return Outcome(Fate.RELEASED_SOMETIMES, frozen, facts.releases[0])
    return _after(function, parents, statement, facts)


def _after(function, parents, statement: ast.stmt, facts: _Facts, include_start=False) -> Outcome:
    """Walk the statements that run after ``statement`` on the normal path, block by block
    outwards, to the first that releases: RELEASED if nothing before it can raise or return,
    RELEASED_LATE if something can; RELEASED_SOMETIMES if no statement on that path does.

    What can raise in an inner block is still pending when the walk leaves the block, unless
    the block is the body of a ``try`` whose handler catches everything."""
    frozen = frozenset(facts.names)
    releases = facts.releases
    current: ast.AST = statement
    first = include_start
    pending: ast.AST | None = None
    while current is not function:
        block, index = _position(parents, current, function)
        if block is None:
            break
        following = block[index:] if first else block[index + 1:]
        first = False
        for position, later in enumerate(following):
            release = next((r for r in releases if _on_main_path(later, r)), None)
            if release is None:
                continue
            risky = pending
            for between in following[:position]:
                risky = risky or first_risky(between, facts.names)
            if risky is not None:
                return Outcome(Fate.RELEASED_LATE, frozen, release, risky)
            return Outcome(Fate.RELEASED, frozen, release)
        for later in following:
            risky = first_risky(later, facts.names)
            if isinstance(risky, (ast.Return, ast.Raise)):  # leaves before any release
                return Outcome(Fate.RELEASED_LATE, frozen, releases[0], risky)
            pending = pending or risky
        holder = parents.get(current)
        while holder is not None and not isinstance(holder, ast.stmt) and holder is not function:
            holder = parents.get(holder)  # an except handler: up to its try
        if holder is None or holder is function:
            break
        if _is_try(holder) and current not in holder.finalbody:
            release = next((r for r in releases if _within(holder.finalbody, r)), None)
            if release is not None:
                return Outcome(Fate.RELEASED, frozen, release)  # its `finally` releases
        if _catches_all_around(holder, current):
            pending = None
        current = holder
    return Outcome(Fate.RELEASED_SOMETIMES, frozen, releases[0])


def _catches_all_around(holder: ast.stmt, statement: ast.AST) -> bool:
    """``statement`` is in the body of a ``try`` that catches every exception."""
    if not _is_try(holder) or statement not in holder.body:
        return False
    for handler in holder.handlers:
        if handler.type is None:
            return True
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(dotted_name(t) in ("Exception", "BaseException") for t in types):
            return True
    return False


def _position(parents, statement: ast.AST, function) -> tuple[list | None, int]:
    holder = parents.get(statement)
    if holder is None:
        holder = function if statement in function.body else None
    if holder is None:
        return None, 0
    if isinstance(holder, ast.ExceptHandler) or type(holder).__name__ == "match_case":
        blocks = [holder.body]
    else:
        blocks = [getattr(holder, name, None) for name in ("body", "orelse", "finalbody")]
    for block in blocks:
        if isinstance(block, list) and statement in block:
            return block, block.index(statement)
    return None, 0


def _on_main_path(statement: ast.stmt, release: ast.Call) -> bool:
    """Whether ``statement`` runs ``release`` when nothing goes wrong (not in an ``except``,
    not in a loop that may not run)."""
    if isinstance(statement, ast.If):
        in_body = any(_on_main_path(inner, release) for inner in statement.body)
        in_orelse = any(_on_main_path(inner, release) for inner in statement.orelse)
        # `if fig is not None: plt.close(fig)` tests the object itself: the close runs whenever
        # there is something to close
        return (in_body or in_orelse) and (
            (in_body and in_orelse) or mentions(statement.test, _names_released(release))
        )
    elif _is_try(statement):
        if _within(statement.finalbody, release):
            return True  # `finally` runs however the try ends
        blocks = [statement.body, statement.orelse]
    elif isinstance(statement, (ast.With, ast.AsyncWith)):
        blocks = [statement.body]
    elif isinstance(statement, (ast.For, ast.AsyncFor, ast.While)) or isinstance(
        statement, SCOPE_NODES
    ) or type(statement).__name__ == "Match":
        return False
    else:
        return any(node is release for node in ast.walk(statement))
    return any(_on_main_path(inner, release) for block in blocks for inner in block)


def _names_released(release: ast.Call) -> set[str]:
    """The plain names a release call uses (``client`` in ``client.close()``, ``fig`` in
    ``plt.close(fig)``): an ``if`` that tests one of them guards the object itself."""
    parts = [release.func.value] if isinstance(release.func, ast.Attribute) else []
    parts += list(release.args)
    return {node.id for part in parts for node in ast.walk(part) if isinstance(node, ast.Name)}


def _statement_of(parents, node: ast.AST, function) -> ast.stmt | None:
    while node is not None and node is not function:
        if isinstance(node, ast.stmt):
            return node
        node = parents.get(node)
    return None


def _is_try(statement: ast.AST) -> bool:
    return isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar"


def _within(block: list[ast.stmt], node: ast.AST) -> bool:
    return any(child is node for statement in block for child in ast.walk(statement))


def _released_by_helper(model, call: ast.Call, names: frozenset, releases: Releases,
                        depth: int) -> bool:
    """``save_png(fig)``: a function of this module that releases the argument it is given."""
    if not names or depth >= MAX_CALLER_DEPTH:
        return False
    positions = [i for i, argument in enumerate(call.args) if _is_name_in(argument, names)]
    keywords = [k.arg for k in call.keywords if k.arg and _is_name_in(k.value, names)]
    if not positions and not keywords:
        return False
    flask = model.flask
    for helper in flask.functions_called(call.func, call):
        parameters = [a.arg for a in helper.args.posonlyargs + helper.args.args]
        if flask.info(helper).klass is not None and isinstance(call.func, ast.Attribute):
            parameters = parameters[1:]  # self.helper(fig): fig is the second parameter
        wanted = [parameters[i] for i in positions if i < len(parameters)] + keywords
        if any(
            released_by(model, helper, parameter, releases, depth + 1) for parameter in wanted
        ):
            return True
    return False


def _is_name_in(node: ast.AST, names) -> bool:
    return isinstance(node, ast.Name) and node.id in names


def _manages(expr: ast.expr, names: set[str]) -> bool:
    if _is_name_in(expr, names):
        return True
    if isinstance(expr, ast.Call) and callee_name(expr) in CLOSING_WRAPPERS:
        return any(_is_name_in(argument, names) for argument in expr.args)
    return False


