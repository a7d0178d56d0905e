"""Who closes a resource: connections, sessions and files bound to a local name.

Shared by FLK401 (connections, sessions) and FLK402 (files). A rule says which calls open a
resource (an ``opener_of`` callable returning an ``Opener``); this module says, for each local
``name = <opener>``, whether the function closes it (``with``, ``close()`` in ``finally``),
hands it on (returns, yields, stores it, gives it to a closure, an ``ExitStack`` or a
constructor), closes it only on the path where nothing raises, or drops it. It also finds
openers created inline and dropped (``has_table(engine.connect(), "users")``).

The facts are collected per function (``BindingFacts``) and judged separately (``judge``), so
a whole-project index can later add what other modules do with the resource.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..astutil import (
    SCOPE_NODES,
    FunctionNode,
    call_arguments,
    callee_name,
    dotted_name,
    short_source,
    walk_local,
)
from .pins import Requirement

# Calls on a resource whose result still uses it (a lazy result, a cursor, a query, the
# resource itself): a name bound to one is followed like the resource.
LAZY_METHODS = frozenset({
    "execute", "exec_driver_sql", "execution_options", "scalars", "stream", "stream_scalars",
    "query", "cursor", "begin", "begin_nested", "connection", "filter", "filter_by", "order_by",
    "group_by", "join", "outerjoin", "options", "limit", "offset", "where", "yield_per",
    "mappings", "partitions", "columns", "select_from", "with_entities", "distinct", "having",
    "__enter__", "__iter__", "iter_lines", "iter_content",
})
LAZY_ATTRIBUTES = frozenset(
    {"connection", "dbapi_connection", "driver_connection", "buffer", "raw"}
)
# Calls that use up what they are given before returning (the argument does not escape).
CONSUMERS = frozenset({
    "list", "tuple", "set", "frozenset", "dict", "sorted", "len", "sum", "min", "max", "any",
    "all", "str", "bytes", "repr", "bool", "int", "float", "join", "dumps", "jsonify",
    "render_template", "render_template_string", "print",
})
# Calls that take over what they are given: it lives on with (or is closed by) the callee.
OWNERSHIP_TAKERS = frozenset({
    "enter_context", "enter_async_context", "push", "callback", "push_async_callback",
    "closing", "aclosing", "append", "appendleft", "add", "extend", "insert", "put",
    "put_nowait", "setdefault", "update", "register", "setattr", "partial", "call_on_close",
    "after_this_request", "finalize", "submit", "apply_async", "delay", "send_file",
})
# Classes that wrap what they are given for local use (the wrapper is followed like the
# resource; it does not become its owner the way a `Thread(...)` or `Response(...)` does).
WRAPPERS = frozenset({
    "DictReader", "DictWriter", "TextIOWrapper", "BufferedReader", "BufferedWriter",
    "BufferedRandom", "StreamReader", "StreamWriter", "ZipFile", "TarFile", "GzipFile",
})
CLOSE_METHODS = frozenset({"close", "aclose"})
# Calls that do not raise in practice, so they do not put a later close() at risk.
SAFE_CALLS = frozenset({
    "print", "len", "isinstance", "hasattr", "id", "repr", "str", "bool", "callable",
    "debug", "info", "warning", "warn", "error", "exception", "critical", "log",
})


@dataclass(frozen=True)
class Opener:
    """A call that opens a resource, as the rule describes it."""

    call: ast.Call
    kind: str  # "connection", "session", "HTTP session", "file"
    needs_closing: bool = False  # its own ``with`` does not close it: use contextlib.closing
    fixable: bool = True  # a ``with`` rewrite can keep behaviour (``with_rewrite.py`` proves it)
    unfixable_reason: str = ""  # why not, when ``fixable`` is False
    requires: Requirement | None = None  # the library version whose type is a context manager


class Verdict(enum.Enum):
    MANAGED = "managed"  # with, close() in finally, an explicit `del`
    HANDED_ON = "handed on"  # returned, yielded, stored, given to a closure or a new owner
    CLOSED = "closed"  # close() on the same path, nothing before it can raise
    CLOSED_LATE = "closed late"  # close() on the same path, but something before it can raise
    CLOSED_SOMETIMES = "closed sometimes"  # close() only on another path, not in finally
    LEAKS = "leaks"  # never closed


@dataclass
class Binding:
    """``name = <opener>`` as a statement of a function."""

    name: str
    statement: ast.Assign | ast.AnnAssign
    opener: Opener
    function: FunctionNode
    block: list[ast.stmt]  # the statement list that holds ``statement``
    index: int  # its position in ``block``


@dataclass
class BindingFacts:
    """What a function does with a bound resource (collected, not judged)."""

    binding: Binding
    followed: set[str] = field(default_factory=set)  # the name, aliases and lazy results
    aliases: set[str] = field(default_factory=set)  # the name and plain copies of it
    managed: bool = False
    handed_on: ast.AST | None = None
    closes: list[ast.Call] = field(default_factory=list)  # close() calls outside finally


@dataclass
class Outcome:
    verdict: Verdict
    close: ast.Call | None = None  # the close() call, for the CLOSED_* verdicts
    risky: ast.AST | None = None  # what can raise (or return) before the close


# -- openers ----------------------------------------------------------------------------------


OpenerOf = Callable[[ast.Call], "Opener | None"]


def bindings_in(function: FunctionNode, opener_of: OpenerOf) -> Iterator[Binding]:
    """Every ``name = <opener>`` statement directly in ``function`` (not in nested defs)."""
    for block in blocks_of(function):
        for index, statement in enumerate(block):
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
            elif isinstance(statement, ast.AnnAssign):
                target = statement.target
            else:
                continue
            if not isinstance(target, ast.Name) or not isinstance(statement.value, ast.Call):
                continue
            opener = opener_of(statement.value)
            if opener is not None:
                yield Binding(target.id, statement, opener, function, block, index)


def closed_locals(function: FunctionNode) -> dict[ast.Call, str]:
    """``name = <call>`` statements of ``function`` whose name the function itself closes
    (``name.close()``) somewhere: call -> name. Whatever made the
    object (a project helper, a library), the code treats it as a resource it must close."""
    closed = {
        node.func.value.id
        for node in walk_local(function)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOSE_METHODS
        and isinstance(node.func.value, ast.Name)
    }
    if not closed:
        return {}
    found: dict[ast.Call, str] = {}
    for node in walk_local(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name) and target.id in closed and isinstance(node.value, ast.Call):
            found[node.value] = target.id
    return found


def blocks_of(function: FunctionNode) -> Iterator[list[ast.stmt]]:
    """The statement lists of a function: its body and every nested block, not nested defs."""
    stack: list[list[ast.stmt]] = [function.body]
    while stack:
        block = stack.pop()
        yield block
        for statement in block:
            if isinstance(statement, SCOPE_NODES):
                continue
            for child in _child_blocks(statement):
                stack.append(child)


def _child_blocks(statement: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(statement, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
    for handler in getattr(statement, "handlers", None) or []:
        yield handler.body
    for case in getattr(statement, "cases", None) or []:
        yield case.body


# -- what a value carries ---------------------------------------------------------------------


def mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def carries(expr: ast.AST | None, names: set[str]) -> bool:
    """Whether the value of ``expr`` is, holds or still uses one of the followed resources."""
    if expr is None:
        return False
    if isinstance(expr, ast.Name):
        return expr.id in names
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return any(carries(element, names) for element in expr.elts)
    if isinstance(expr, ast.Dict):
        return any(carries(part, names) for part in expr.keys + expr.values if part is not None)
    if isinstance(expr, (ast.Starred, ast.NamedExpr, ast.Await)):
        return carries(expr.value, names)
    if isinstance(expr, ast.IfExp):
        return carries(expr.body, names) or carries(expr.orelse, names)
    if isinstance(expr, ast.BoolOp):
        return any(carries(value, names) for value in expr.values)
    if isinstance(expr, (ast.GeneratorExp, ast.Lambda)):
        return mentions(expr, names)  # runs later, when the resource may be gone
    if isinstance(expr, (ast.ListComp, ast.SetComp)):
        return carries(expr.elt, names)
    if isinstance(expr, ast.DictComp):
        return carries(expr.key, names) or carries(expr.value, names)
    if isinstance(expr, ast.Subscript):
        return carries(expr.value, names)
    if isinstance(expr, ast.Attribute):
        return expr.attr in LAZY_ATTRIBUTES and carries(expr.value, names)
    if isinstance(expr, ast.Call):
        return _call_carries(expr, names)
    return False


def _call_carries(call: ast.Call, names: set[str]) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and carries(func.value, names):
        return func.attr in LAZY_METHODS
    callee = callee_name(call)
    if callee in CONSUMERS:
        return False
    return any(carries(argument, names) for argument in call_arguments(call))


def takes_ownership(call: ast.Call) -> bool:
    """A call that keeps what it is given: a constructor (``Thread(...)``) or a known taker."""
    callee = callee_name(call)
    return callee in OWNERSHIP_TAKERS or (callee[:1].isupper() and callee not in WRAPPERS)


# -- collecting -------------------------------------------------------------------------------


def collect(binding: Binding) -> BindingFacts:
    facts = BindingFacts(binding, followed={binding.name}, aliases={binding.name})
    function = binding.function
    _follow_names(facts, function)
    followed = facts.followed
    declared_global = {
        name for node in walk_local(function) if isinstance(node, (ast.Global, ast.Nonlocal))
        for name in node.names
    }
    if followed & declared_global:
        facts.handed_on = binding.statement
        return facts
    in_finally = _nodes_in_finally(function)
    called = {node.func for node in walk_local(function) if isinstance(node, ast.Call)}
    for node in walk_local(function):
        if isinstance(node, SCOPE_NODES):
            if mentions(node, followed) and node is not function:
                facts.handed_on = facts.handed_on or node  # a closure may outlive the call
            continue
        if isinstance(node, (ast.With, ast.AsyncWith)):
            if any(_manages(item.context_expr, facts.aliases) for item in node.items):
                facts.managed = True
        elif isinstance(node, ast.Delete):
            if any(_is_alias(target, facts.aliases) for target in node.targets):
                facts.managed = True  # `del conn`: the author manages its lifetime by hand
        elif isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)):
            if carries(node.value, followed):
                facts.handed_on = facts.handed_on or node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            stored = any(not isinstance(target, ast.Name) for target in targets)
            if stored and carries(node.value, followed):
                facts.handed_on = facts.handed_on or node
        elif isinstance(node, ast.Call):
            _collect_call(facts, node, in_finally)
        elif isinstance(node, ast.Attribute) and node.attr in CLOSE_METHODS:
            if _is_alias(node.value, facts.aliases) and node not in called:
                facts.handed_on = facts.handed_on or node  # `stack.callback(conn.close)`
    return facts


def _follow_names(facts: BindingFacts, function: FunctionNode) -> None:
    """Add aliases and names bound to lazy results of the resource, until nothing changes."""
    assignments = [
        node for node in walk_local(function)
        if isinstance(node, ast.Assign) and node is not facts.binding.statement
    ]
    changed = True
    while changed:
        changed = False
        for node in assignments:
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if not names:
                continue
            if _is_alias(node.value, facts.aliases):
                new_aliases = set(names) - facts.aliases
                facts.aliases |= new_aliases
                changed |= bool(new_aliases)
            if carries(node.value, facts.followed):
                new_names = set(names) - facts.followed
                facts.followed |= new_names
                changed |= bool(new_names)


def _collect_call(facts: BindingFacts, call: ast.Call, in_finally: set[ast.AST]) -> None:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in CLOSE_METHODS:
        if _is_alias(func.value, facts.aliases):
            if call in in_finally:
                facts.managed = True
            else:
                facts.closes.append(call)
            return
    if takes_ownership(call) and any(carries(arg, facts.followed) for arg in call_arguments(call)):
        facts.handed_on = facts.handed_on or call


def _manages(expr: ast.expr, aliases: set[str]) -> bool:
    """``with conn:``, ``with closing(conn):``."""
    if _is_alias(expr, aliases):
        return True
    if isinstance(expr, ast.Call) and callee_name(expr) in ("closing", "aclosing"):
        return any(_is_alias(argument, aliases) for argument in expr.args)
    return False


def _is_alias(expr: ast.AST | None, aliases: set[str]) -> bool:
    return isinstance(expr, ast.Name) and expr.id in aliases


def _nodes_in_finally(function: FunctionNode) -> set[ast.AST]:
    found: set[ast.AST] = set()
    for node in walk_local(function):
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            for statement in node.finalbody:
                found.add(statement)
                if not isinstance(statement, SCOPE_NODES):
                    found.update(walk_local(statement))
    return found


# -- judging ----------------------------------------------------------------------------------


def judge(facts: BindingFacts) -> Outcome:
    if facts.managed:
        return Outcome(Verdict.MANAGED)
    if facts.handed_on is not None:
        return Outcome(Verdict.HANDED_ON)
    if not facts.closes:
        return Outcome(Verdict.LEAKS)
    binding = facts.binding
    later = binding.block[binding.index + 1:]
    for position, statement in enumerate(later):
        close = next((c for c in facts.closes if closes_on_main_path(statement, c)), None)
        if close is None:
            continue
        for between in later[:position]:
            risky = first_risky(between, facts.aliases)
            if risky is not None:
                return Outcome(Verdict.CLOSED_LATE, close, risky)
        return Outcome(Verdict.CLOSED, close)
    return Outcome(Verdict.CLOSED_SOMETIMES, facts.closes[0])


def closes_on_main_path(statement: ast.stmt, close: ast.Call) -> bool:
    """Whether ``statement`` runs ``close`` when nothing goes wrong: not in an ``except``."""
    if isinstance(statement, ast.If):
        blocks = [statement.body, statement.orelse]  # `if conn is not None: conn.close()`
    elif isinstance(statement, (ast.Try, ast.With, ast.AsyncWith)) or (
        type(statement).__name__ == "TryStar"
    ):
        blocks = [statement.body, getattr(statement, "orelse", [])]
    elif isinstance(statement, (ast.For, ast.AsyncFor, ast.While, ast.Match)) or isinstance(
        statement, SCOPE_NODES
    ):
        return False
    else:
        return contains(statement, close)
    return any(closes_on_main_path(inner, close) for block in blocks for inner in block)


def contains(statement: ast.stmt, node: ast.AST) -> bool:
    return any(child is node for child in ast.walk(statement))


def first_risky(statement: ast.stmt, aliases: set[str]) -> ast.AST | None:
    """The first thing in a statement that can raise or leave the block before a close()."""
    if isinstance(statement, SCOPE_NODES):
        return None
    if isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
        parts: list[ast.stmt] = []
        if not any(_catches_everything(handler) for handler in statement.handlers):
            parts += statement.body
        for handler in statement.handlers:
            if not any(_closes(s, aliases) for s in handler.body):
                parts += handler.body
        for part in parts + statement.orelse + statement.finalbody:
            risky = first_risky(part, aliases)
            if risky is not None:
                return risky
        return None
    for node in _walk_in_order(statement):
        if isinstance(node, ast.Call) and callee_name(node) not in SAFE_CALLS:
            return node
        if isinstance(node, (ast.Raise, ast.Return, ast.Await, ast.Assert)):
            return node
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            return node
        if isinstance(node, (ast.Break, ast.Continue)) and not _inside_loop(statement, node):
            return node
    return None


def _walk_in_order(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes in source order (depth first), not entering nested functions."""
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, SCOPE_NODES):
            continue
        yield from _walk_in_order(child)


def _inside_loop(statement: ast.stmt, node: ast.AST) -> bool:
    for loop in ast.walk(statement):
        if isinstance(loop, (ast.For, ast.AsyncFor, ast.While)):
            if any(contains(inner, node) for inner in loop.body + loop.orelse):
                return True
    return False


def _closes(statement: ast.stmt, aliases: set[str]) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOSE_METHODS
        and _is_alias(node.func.value, aliases)
        for node in ast.walk(statement)
    )


def _catches_everything(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(dotted_name(t) in ("Exception", "BaseException") for t in types)


# -- inline openers ---------------------------------------------------------------------------


def dropped_inline(call: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether an opener call's result is used in passing and dropped, never closed."""
    parent = parents.get(call)
    if isinstance(parent, ast.Expr):
        return True  # a bare `engine.connect()` statement
    if isinstance(parent, ast.Attribute) and parent.value is call:
        if parent.attr in CLOSE_METHODS or parent.attr == "__enter__":
            return False
        holder = parents.get(parent)
        if parent.attr == "execution_options" and isinstance(holder, ast.Call):
            return dropped_inline(holder, parents)  # returns the connection itself
        return True  # `engine.connect().execute(...)`
    if isinstance(parent, ast.keyword):
        parent = parents.get(parent)
    if isinstance(parent, ast.Call) and parent.func is not call:
        if takes_ownership(parent):
            return False
        holder = parents.get(parent)
        # Used by a helper whose result is not passed on: `has_table(engine.connect(), t)`.
        return not isinstance(
            holder, (ast.Return, ast.Yield, ast.YieldFrom, ast.withitem, ast.Call, ast.keyword)
        ) and not _stored(holder)
    return False


def _stored(node: ast.AST | None) -> bool:
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(not isinstance(target, ast.Name) for target in targets)
    return False


# -- messages, shared by the rules ----------------------------------------------------------


def summary(node: ast.AST, limit: int = 45) -> str:
    """A call as the reader will recognise it: whole when short, else ``conn.execute(...)``."""
    text = short_source(node, 200)
    if len(text) <= limit:
        return text
    return _compact(node)


def _compact(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return _compact(node.func) + ("(...)" if node.args or node.keywords else "()")
    if isinstance(node, ast.Attribute):
        receiver = _compact(node.value)
        if not isinstance(node.value, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
            receiver = f"({receiver})"
        return f"{receiver}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return _compact(node.value) + "[...]"
    return short_source(node, 25)


def with_header(opener: Opener, name: str) -> str:
    source = summary(opener.call)
    if opener.needs_closing:
        source = f"closing({source})"
    return f"{source} as {name}"


def leak_message(
    binding: Binding, outcome: Outcome, where: str, consequences: dict[str, str]
) -> str | None:
    """The one-line message for a bound resource, or None when it is closed or handed on."""
    opener = binding.opener
    subject = f"{opener.kind} `{binding.name}` from `{summary(opener.call)}`"
    use_with = f"use `with {with_header(opener, binding.name)}:`"
    if outcome.verdict is Verdict.LEAKS:
        return f"{subject} is never closed ({where}): {consequences[opener.kind]}; {use_with}"
    if outcome.verdict is Verdict.CLOSED_LATE:
        assert outcome.close is not None and outcome.risky is not None
        verb = "return" if isinstance(outcome.risky, ast.Return) else "raise"
        return (
            f"{subject} is closed on line {outcome.close.lineno}, but "
            f"`{summary(outcome.risky, 40)}` before it can {verb} and skip the close "
            f"({where}): {use_with} or close it in `finally`"
        )
    if outcome.verdict is Verdict.CLOSED_SOMETIMES:
        assert outcome.close is not None
        return (
            f"{subject} is closed only on some paths (line {outcome.close.lineno}) and not in "
            f"`finally` ({where}): {use_with}"
        )
    return None
