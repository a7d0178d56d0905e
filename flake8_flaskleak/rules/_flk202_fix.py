"""The FLK202 fix: a ``teardown_appcontext`` that removes each reported scoped session.

``plan_sessions`` decides without libcst, per reported session, where the teardown goes (the
app or registered blueprint whose requests use the session, right after the app is made, ahead
of the teardowns that use the session: ``model/teardown_placement.py``) or why it cannot, so
``flaskleak check`` can say what the fix would do. ``apply_session_fix`` writes the code.

The fix is unsafe: the session each request leaves on its thread is removed, so code that
relied on finding it (objects loaded in one request, read in the next) loads them again.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..finding import Finding, FixApplicability, no_fix, unsafe_fix
from ..model.file import FileModel
from ..model.teardown_placement import APPCONTEXT, Placement, Placements
from ..model.text import words_pattern

FIX_REASON = (
    "objects the session loaded are no longer there for the next request on the thread, and a "
    "transaction left open is rolled back"
)
BACKGROUND = no_fix(
    "it runs outside a request, where no teardown runs: call `remove()` in its `finally`"
)


@dataclass
class SessionPlan:
    """Where the teardown removing one session goes, and how it names the session there."""

    definition: object  # flk202's SessionDefinition
    placements: list[tuple[Placement, str]]  # (where, the expression for the session there)


def plan_sessions(facts, model: FileModel) -> dict[tuple[int, int], SessionPlan | str]:
    """By the position of each reported definition: its plan, or why it has none.

    The sessions that go on one site share one teardown, placed after every statement any of
    them needs and before every teardown that uses one of them.
    """
    plans: dict[tuple[int, int], SessionPlan | str] = {}
    placements = Placements(model)
    wanted: dict = {}  # site -> [(position, definition, expression, required, preferred, users)]
    for definition in facts.definitions:
        position = (definition.call.lineno, definition.call.col_offset)
        if definition.per_call is not None:
            plans[position] = ("it is made on every request: a teardown cannot remove what "
                               "the next request makes anew; create it once at import time")
            continue
        found = _sites_for(definition, model, placements)
        if isinstance(found, str):
            plans[position] = found
            continue
        plans[position] = SessionPlan(definition, [])
        for site, expression, required, preferred, users in found:
            wanted.setdefault(site, []).append(
                (position, expression, required, preferred, users)
            )
    for site, items in wanted.items():
        users = set().union(*(item[4] for item in items))
        placement = placements.placement(
            site, APPCONTEXT, lambda function: function in users,
            [s for item in items for s in item[2]], [s for item in items for s in item[3]],
        )
        for position, expression, *_ in items:
            plan = plans[position]
            if isinstance(plan, str):
                continue
            if isinstance(placement, str):
                plans[position] = placement
            else:
                plan.placements.append((placement, expression))
    return plans


def _sites_for(definition, model: FileModel, placements: Placements):
    """[(site, expression, required, preferred, functions using it)] or why there is none."""
    what = f"`{definition.display()}`"
    functions = set(model.functions_mentioning(words_pattern([definition.name])))
    users = [f for f in functions if f in model.flask.request_time]
    sites = placements.choose(users, what)
    if isinstance(sites, str):
        return sites
    found = []
    for site in sites:
        probe = Placement(site, APPCONTEXT, None, None)
        expression = _expression_at(model, definition, probe)
        if expression is None:
            if definition.kind == "local":
                return (f"{what} is a local of `{definition.function.name}`, made on each call: "
                        "a teardown cannot reach it")
            return (f"the {site.describe()} cannot reach {what} (it is made in another function "
                    "or object): register the teardown where both are in reach")
        required, preferred = _definition_statements(model, definition, site)
        if required is False:
            return (f"{what} is made inside a block of `{site.function.name}`: register the "
                    "teardown by hand where it always exists")
        found.append((site, expression, required, preferred, functions))
    return found


def _definition_statements(model, definition, site):
    """(statements the teardown must follow, statements it had better follow); False when a
    local session is not made by a top-level statement of the site's function."""
    if definition.kind == "local" and definition.function is site.function:
        statement = definition.statement
        return ([statement], []) if statement in site.body else (False, [])
    line = definition.statement.lineno
    for statement in site.body:  # module level, or ``self.session = ...`` in init_app
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno) and isinstance(
            statement, (ast.Assign, ast.AnnAssign, ast.ClassDef)
        ):
            return [], [statement]
    return [], []


def _expression_at(model: FileModel, definition, placement: Placement) -> str | None:
    """How the teardown at ``placement`` can reach the session, or None if it cannot."""
    if definition.kind == "name":
        return definition.name
    if definition.kind == "local" and definition.function is placement.function:
        return definition.name
    if definition.kind == "attr" and definition.klass is not None:
        if definition.function is None:
            return f"{definition.klass.name}.{definition.name}"
        if placement.klass is definition.klass:
            return f"self.{definition.name}"
    instances = model.flask.module_instances
    for alias in sorted(definition.aliases):
        head = alias.split(".")[0]
        if head in instances:
            return alias
        if head == "<app>" and not placement.is_blueprint:
            return placement.receiver + alias[len("<app>"):]
    return None


def session_fix_applicability(rule, findings: list[Finding]) -> dict[Finding, FixApplicability]:
    facts = rule.facts()
    plans = plan_sessions(facts, rule.model)
    result = {}
    for finding in findings:
        plan = plans.get((finding.line, finding.col))
        if plan is None:
            result[finding] = BACKGROUND
        elif isinstance(plan, str):
            result[finding] = no_fix(plan)
        else:
            where = " and ".join(
                f"`{placement.receiver}.{placement.hook_name}`" for placement, _ in plan.placements
            )
            result[finding] = unsafe_fix(
                f"a teardown on {where} removes it at the end of each request: {FIX_REASON}"
            )
    return result


def apply_session_fix(rule, context):
    """Insert the planned teardowns for the findings in ``context``."""
    from .. import teardown_fix  # imports libcst: only when fixing

    model = context.model
    plans = plan_sessions(rule.facts(), model)
    groups: dict[Placement, list[str]] = {}
    for finding in context.findings:
        plan = plans.get((finding.line, finding.col))
        if isinstance(plan, SessionPlan):
            for placement, expression in plan.placements:
                groups.setdefault(placement, []).append(expression)
    if not groups:
        return None
    module = context.module
    taken = teardown_fix.defined_names(model.tree)
    needs_current_app = False
    for placement, expressions in sorted(groups.items(), key=lambda item: -item[0].line()):
        logger = teardown_fix.teardown_logger(model.tree, placement)
        needs_current_app = needs_current_app or logger.startswith("current_app.")
        code = _teardown_code(placement, list(dict.fromkeys(expressions)), logger, taken)
        module = teardown_fix.insert_function(module, context.positions, placement, code)
    if needs_current_app:
        module = teardown_fix.import_current_app(module, model.imports)
    return module


def _teardown_code(placement: Placement, expressions: list[str], logger: str, taken) -> str:
    from ..teardown_fix import free_name, log_exception  # imports libcst: only when fixing

    name = "remove_scoped_session" if len(expressions) == 1 else "remove_scoped_sessions"
    name = free_name(name, taken)
    lines = [
        f"@{placement.receiver}.{placement.hook_name}",
        f"def {name}(exception=None):",
    ]
    if len(expressions) == 1:
        lines += [
            '    """Remove the scoped session: the worker thread is reused."""',
            "    try:",
            f"        {expressions[0]}.remove()",
            "    except Exception:",
            *log_exception(
                " " * 8, logger, f'"could not remove scoped session %s", "{expressions[0]}"',
                placement.column,
            ),
        ]
    else:
        lines += [
            '    """Remove the scoped sessions: the worker thread is reused."""',
            f"    for scoped in ({', '.join(expressions)}):",
            "        try:",
            "            scoped.remove()",
            "        except Exception:",
            *log_exception(" " * 12, logger, '"could not remove scoped session %r", scoped',
                           placement.column),
        ]
    return "\n".join(lines) + "\n"
