"""When ``name = opener()`` can become ``with opener() as name:`` and keep the behaviour.

The FLK401/FLK402 fix (``resource_fix.py``) moves the statements that use a resource into a
``with`` block, dropping a trailing ``name.close()``. The resource is then closed when the
block is left, on every path. That keeps what the program does only when:

* nothing uses the resource, an alias of it or a lazy result of it (a cursor, a ``Result``)
  after the block, on any path: a ``close()`` in one branch must not become the close of
  every path (``ResourceClosedError`` on the others);
* nothing hands it to code that runs later (a background task, an executor, a coroutine
  scheduled with ``create_task``, a streamed response): that code would find it closed;
* for a session, no object loaded through it is returned, stored or used after the block:
  once the session closes, an attribute not yet loaded cannot load (``DetachedInstanceError``)
  — offered as unsafe, since it depends on what the caller touches;
* the name is not bound again in between, and the opener is not a ``scoped_session`` registry
  (``Session = scoped_session(...)`` shadowing the imported class): closing the registry's
  session closes the one the whole thread shares;
* the type is a context manager in the library version the project pins (``pins.py``):
  ``Session`` only from SQLAlchemy 1.4. Not pinned: unsafe; pinned below: refused.

Each reported binding gets a ``WithPlan``: the statements to hold and the fix's
applicability, with the reason a reviewer reads in ``fix --diff`` and the JSON output.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property

from ..astutil import (
    SCOPE_NODES,
    call_arguments,
    callee_name,
    dotted_name,
    short_source,
    walk,
    walk_local,
)
from ..finding import FixApplicability, no_fix, safe_fix, unsafe_fix
from .file import FileModel
from .pins import Support, supports, version_text
from .project import find_root
from .resources import (
    CONSUMERS,
    OWNERSHIP_TAKERS,
    Binding,
    BindingFacts,
    Outcome,
    Verdict,
    closes_on_main_path,
    contains,
    mentions,
)

SCOPED_SESSION = {"sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session"}
# Calls that run what they are given later, on another thread or task, or after the response:
# a resource handed to one must outlive the function, which a ``with`` would not let it do.
DEFERRED_CALLEES = frozenset({
    "start_background_task", "create_task", "ensure_future", "run_in_executor",
    "run_coroutine_threadsafe", "call_soon", "call_soon_threadsafe", "call_later", "call_at",
    "add_done_callback", "spawn", "spawn_later", "spawn_n", "submit", "map", "apply_async",
    "delay", "send_task", "enqueue", "enqueue_call", "schedule", "add_job", "Thread", "Timer",
    "Process", "after_this_request", "call_on_close", "stream_with_context", "Response",
    "StreamingResponse", "response_class", "make_response", "copy_current_request_context",
})
LOOPS = (ast.For, ast.AsyncFor, ast.While)


@dataclass(frozen=True)
class WithPlan:
    """The ``with`` rewrite of one binding: what it would hold, and whether it keeps behaviour."""

    binding: Binding
    fix: FixApplicability
    last: int = 0  # index in ``binding.block`` of the last statement the ``with`` holds
    drop_last: bool = False  # that statement is ``name.close()``: it goes


class RewriteFacts:
    """What one module tells every binding's plan: registries, the project's pins, the text."""

    def __init__(self, model: FileModel):
        self.model = model

    @cached_property
    def registries(self) -> dict[str, int]:
        """Dotted names bound to a ``scoped_session(...)`` here, with the line that binds them."""
        found: dict[str, int] = {}
        if "scoped_session" not in self.model.text:
            return found
        for scope, call in self.model.calls_of(SCOPED_SESSION):
            parent = self.model.parents(scope).get(call)
            if isinstance(parent, (ast.Assign, ast.AnnAssign)):
                targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
                for target in targets:
                    name = dotted_name(target)
                    if name:
                        found.setdefault(name, parent.lineno)
        return found

    @cached_property
    def root(self) -> str | None:
        project = self.model.project
        return project.root if project is not None else find_root(self.model.path)

    def on_its_own_line(self, statement: ast.stmt) -> bool:
        """Whether only indentation comes before ``statement`` on its first line."""
        line = self.model.source.segment(statement.lineno, statement.lineno)
        return not line.encode("utf-8")[: statement.col_offset].strip()


def plan_rewrite(binding: Binding, facts: BindingFacts, outcome: Outcome,
                 module: RewriteFacts) -> WithPlan:
    refused = _refusal(binding, facts, outcome, module)
    if isinstance(refused, WithPlan):
        return refused
    last, drop_last = refused
    reason = (
        _scoped_registry(binding, module)
        or _outside_uses(binding, facts, last)
        or _handed_to_later_code(binding, facts, last)
    )
    if reason is not None:
        return WithPlan(binding, no_fix(reason), last, drop_last)
    doubts = [
        _loaded_objects_escape(binding, facts, last),
        _async_function(binding),
    ]
    support = _library_support(binding, module)
    if isinstance(support, str):
        return WithPlan(binding, no_fix(support), last, drop_last)
    doubt = next((d for d in doubts + [support[1]] if d is not None), None)
    closes = f"closes `{binding.name}` on every path"
    if doubt is not None:
        return WithPlan(binding, unsafe_fix(f"the `with` {closes}, but {doubt}"), last, drop_last)
    proof = f"nothing uses `{binding.name}` after the block{support[0]}"
    return WithPlan(binding, safe_fix(f"the `with` {closes}: {proof}"), last, drop_last)


# -- the shape of the code ---------------------------------------------------------------------


def _refusal(binding, facts, outcome, module) -> WithPlan | tuple[int, bool]:
    """A refused plan, or ``(last, drop_last)``: the span the ``with`` would hold."""
    def refuse(reason: str) -> WithPlan:
        return WithPlan(binding, no_fix(reason))

    opener = binding.opener
    if not opener.fixable:
        return refuse(opener.unfixable_reason or "closing it early could change what the code does")
    if outcome.verdict is Verdict.CLOSED_SOMETIMES:
        line = outcome.close.lineno if outcome.close is not None else binding.statement.lineno
        return refuse(f"it is closed on some paths only (line {line}): a `with` would also "
                      "close it on the paths that keep it open")
    if outcome.verdict not in (Verdict.LEAKS, Verdict.CLOSED_LATE):
        return refuse("it is closed or handed on already")
    statement = binding.statement
    if not isinstance(statement, ast.Assign):
        return refuse(f"`{binding.name}` has a type annotation, which `with ... as` cannot keep")
    if not module.on_its_own_line(statement) or _shares_line(binding.block, statement):
        return refuse("its line holds other statements: move them to lines of their own first")
    rebound = _rebinding(binding, facts)
    if rebound is not None:
        return refuse(f"`{dotted_name(rebound) or binding.name}` is bound again on line "
                      f"{rebound.lineno}: the `with` would close the first object only")
    span = _span(binding, facts, outcome)
    if isinstance(span, str):
        return refuse(span)
    last, drop_last = span
    block = binding.block
    if last + 1 < len(block) and _shares_line(block[last + 1:last + 2], block[last]):
        return refuse("the last statement it uses shares its line with the next one")
    return last, drop_last


def _shares_line(block: list[ast.stmt], statement: ast.stmt) -> bool:
    end = statement.end_lineno or statement.lineno
    return any(
        other is not statement
        and other.lineno <= end
        and (other.end_lineno or 0) >= statement.lineno
        for other in block
    )


def _rebinding(binding: Binding, facts: BindingFacts) -> ast.AST | None:
    """A later store to the name or an alias of it (``conn = other``, ``for conn in ...``)."""
    for node in walk_local(binding.function):
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, (ast.Store, ast.Del))
            and node.id in facts.aliases
            and not contains(binding.statement, node)
            and not _is_alias_binding(node, facts, binding)
        ):
            return node
    return None


def _is_alias_binding(node: ast.Name, facts: BindingFacts, binding: Binding) -> bool:
    """``other = conn``: the store that makes ``other`` an alias is not a rebinding."""
    for statement in walk_local(binding.function):
        if isinstance(statement, ast.Assign) and any(t is node for t in statement.targets):
            return isinstance(statement.value, ast.Name) and statement.value.id in facts.aliases
    return False


def _span(binding: Binding, facts: BindingFacts, outcome: Outcome) -> tuple[int, bool] | str:
    """The index of the last statement the ``with`` holds, and whether it is the close to drop.

    With a ``close()`` on the main path, up to the LAST such statement of the block (a close
    in an earlier branch stays where it is: closing twice is harmless); otherwise up to the
    last statement using the resource or anything computed from it, and for a session to the
    end of the block (its objects may load lazily anywhere after).
    """
    block, index = binding.block, binding.index
    if outcome.verdict is Verdict.CLOSED_LATE:
        closing = [
            position for position in range(index + 1, len(block))
            if any(closes_on_main_path(block[position], close) for close in facts.closes)
        ]
        if not closing:
            return "its close is not in the same block as its binding"
        last = closing[-1]
        return last, _is_plain_close(block[last], binding.name)
    derived = derived_names(facts)
    last = index
    for position in range(index + 1, len(block)):
        if mentions(block[position], derived):
            last = position
    if binding.opener.kind == "session":
        last = len(block) - 1
    if last == index:
        return "nothing uses it after it is bound: there is nothing for a `with` to hold"
    return last, False


def _is_plain_close(statement: ast.stmt, name: str) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Attribute)
        and statement.value.func.attr in ("close", "aclose")
        and isinstance(statement.value.func.value, ast.Name)
        and statement.value.func.value.id == name
        and not statement.value.args
        and not statement.value.keywords
    )


# -- what the block would change --------------------------------------------------------------


def _inside(binding: Binding, last: int) -> set[int]:
    held = binding.block[binding.index:last + 1]
    return {id(node) for statement in held for node in ast.walk(statement)}


def _loop_around(binding: Binding) -> bool:
    """Whether a loop of the function holds the binding (a use above it can run after it)."""
    return any(
        isinstance(node, LOOPS)
        and any(contains(s, binding.statement) for s in node.body + node.orelse)
        for node in walk_local(binding.function)
    )


def _outside_uses(binding: Binding, facts: BindingFacts, last: int) -> str | None:
    """A use of the resource (or a lazy result of it) that the ``with`` would not hold."""
    inside = _inside(binding, last)
    looped = _loop_around(binding)
    for node in sorted(walk(binding.function), key=_position):
        if not (isinstance(node, ast.Name) and node.id in facts.followed) or id(node) in inside:
            continue
        if _position(node) < _position(binding.statement) and not looped:
            continue  # before the binding and no loop back to it: another object
        if isinstance(node.ctx, ast.Store):
            continue
        end = binding.block[last]
        what = (f"`{node.id}`" if node.id in facts.aliases
                else f"`{node.id}`, computed from `{binding.name}`,")
        return (f"{what} is used on line {node.lineno}, after the `with` would have closed "
                f"`{binding.name}` (the block would end at line {end.end_lineno or end.lineno})")
    return None


def _handed_to_later_code(binding: Binding, facts: BindingFacts, last: int) -> str | None:
    for statement in binding.block[binding.index + 1:last + 1]:
        for node in walk(statement):
            if not isinstance(node, ast.Call):
                continue
            callee = callee_name(node)
            if callee in DEFERRED_CALLEES and any(
                mentions(argument, facts.followed) for argument in call_arguments(node)
            ):
                return (f"`{binding.name}` is handed to `{short_source(node.func, 40)}(...)` on "
                        f"line {node.lineno}, which runs after the `with` has closed it")
    return None


def _loaded_objects_escape(binding: Binding, facts: BindingFacts, last: int) -> str | None:
    """For a session: an object loaded through it that is returned, yielded or stored."""
    if binding.opener.kind != "session":
        return None
    loaded = derived_names(facts)  # the session itself: ``g.user = session.get(User, 1)``
    for statement in binding.block[binding.index + 1:last + 1]:
        for node in walk(statement):
            value = None
            if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)):
                value = node.value
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(not isinstance(target, ast.Name) for target in targets):
                    value = node.value
            elif isinstance(node, ast.Call) and callee_name(node) in OWNERSHIP_TAKERS:
                value = ast.Tuple(elts=call_arguments(node), ctx=ast.Load())
            escaping = _escaping_names(value, loaded)
            if escaping:
                returned = isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom))
                verb = "returned" if returned else "stored"
                what = (
                    f"an object loaded through `{binding.name}`" if escaping[0] in facts.followed
                    else f"`{escaping[0]}`, loaded through `{binding.name}`,"
                )
                return (f"{what} is {verb} on line {node.lineno}: attributes not loaded before "
                        "the session closes cannot load after it (DetachedInstanceError)")
    return None


def _escaping_names(value: ast.AST | None, names: set[str]) -> list[str]:
    """Names of ``names`` the value holds after it is computed: not those only read inside a
    call that turns them into plain data first (``jsonify``, ``render_template``, ``len``)."""
    if value is None:
        return []
    found: list[str] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) and callee_name(node) in CONSUMERS:
            continue
        if isinstance(node, SCOPE_NODES):
            continue
        if isinstance(node, ast.Name) and node.id in names:
            found.append(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _async_function(binding: Binding) -> str | None:
    requirement = binding.opener.requires
    if (
        isinstance(binding.function, ast.AsyncFunctionDef)
        and requirement is not None
        and requirement.package == "SQLAlchemy"
    ):
        opener = dotted_name(binding.opener.call.func)
        return (f"`{binding.function.name}` is async: what `{opener}` "
                "returns may be an asyncio object that needs `async with`")
    return None


def _scoped_registry(binding: Binding, module: RewriteFacts) -> str | None:
    callee = dotted_name(binding.opener.call.func)
    line = module.registries.get(callee or "")
    if line is None:
        return None
    return (f"`{callee}` is a scoped_session registry here (line {line}): the session it returns "
            "is the one the whole thread shares, and closing it would end the caller's work")


def _library_support(binding: Binding, module: RewriteFacts) -> tuple[str, str | None] | str:
    """(proof text, doubt) when usable; the refusal text when the pinned version lacks it."""
    requirement = binding.opener.requires
    if requirement is None:
        return "", None
    answer = supports(module.root, requirement.package, requirement.since)
    since = version_text(requirement.since)
    if answer.support is Support.YES:
        return f", and {answer.evidence} makes {requirement.what} a context manager", None
    if answer.support is Support.NO:
        return (f"{requirement.what} is a context manager from {requirement.package} {since} "
                f"on, and the project pins {answer.evidence}: `with` would raise TypeError")
    pins = (
        f"the project's pins ({answer.evidence}) allow older versions" if answer.evidence
        else f"the project pins no {requirement.package} version (pyproject.toml, setup.cfg, "
             "requirements*.txt, lock files)"
    )
    return "", (f"{requirement.what} is a context manager only from {requirement.package} "
                f"{since} on and {pins}")


# -- names ------------------------------------------------------------------------------------


def derived_names(facts: BindingFacts) -> set[str]:
    """The resource's names and every local computed from them (ORM objects of a session)."""
    names = set(facts.followed)
    sources: list[tuple[ast.AST, list[ast.AST]]] = []
    for node in walk_local(facts.binding.function):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node is not facts.binding.statement and node.value is not None:
                sources.append((node.value, targets))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            sources.append((node.iter, [node.target]))
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            sources.append((node.context_expr, [node.optional_vars]))
    changed = True
    while changed:
        changed = False
        for value, targets in sources:
            if not mentions(value, names):
                continue
            for name in _bound_names(targets):
                if name not in names:
                    names.add(name)
                    changed = True
    return names


def _bound_names(targets: list[ast.AST]) -> list[str]:
    """The local names an assignment binds (not ``g`` in ``g.user = ...``)."""
    found = []
    stack = list(targets)
    while stack:
        target = stack.pop()
        if isinstance(target, ast.Name):
            found.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            stack.extend(target.elts)
        elif isinstance(target, ast.Starred):
            stack.append(target.value)
    return found


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


# -- per rule ---------------------------------------------------------------------------------

# The verdicts a rule reports on a binding (the others are managed, closed or handed on).
REPORTED = (Verdict.LEAKS, Verdict.CLOSED_LATE, Verdict.CLOSED_SOMETIMES)
INLINE = no_fix(
    "it is created inside an expression and dropped: bind it with `with ... as name:` by hand"
)


def with_plans(rule) -> dict[tuple[int, int], WithPlan]:
    """The plan of each binding ``rule`` (FLK401, FLK402) reports, by its statement's position."""
    module = RewriteFacts(rule.model)
    plans = {}
    for binding, outcome, facts in rule.judged_bindings():
        if outcome.verdict in REPORTED:
            statement = binding.statement
            plans[(statement.lineno, statement.col_offset)] = plan_rewrite(
                binding, facts, outcome, module
            )
    return plans


def with_fix_applicability(rule, findings) -> dict:
    plans = with_plans(rule)
    result = {}
    for finding in findings:
        plan = plans.get((finding.line, finding.col))
        result[finding] = plan.fix if plan is not None else INLINE
    return result
