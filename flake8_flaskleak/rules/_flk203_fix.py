"""The FLK203 fix: a teardown that puts each reported thread-local attribute back.

``plan_locals`` decides without libcst, per reported attribute, where the teardown goes (the
app or registered blueprint whose requests write it, ahead of the teardowns that read the
thread-local: ``model/teardown_placement.py``) and what it does (``model/local_resets.py``):
an attribute the class's ``__init__`` sets is reset to that value (or the thread's attributes
are emptied and ``__init__`` runs again), any other one is deleted. ``apply_local_fix`` writes
the code, which never raises out of the teardown (FLK201).

The fix is unsafe: what a request leaves on the thread-local is gone for the next request on
the same thread, and code that read it there (by design or by accident) sees the default.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..finding import Finding, FixApplicability, no_fix, unsafe_fix
from ..model.file import FileModel
from ..model.local_resets import InitDefaults, init_defaults
from ..model.teardown_placement import REQUEST, Placement, Placements
from ..model.teardowns import EVERYTHING
from ..model.text import words_pattern

FIX_REASON = "the next request on the same thread no longer sees what this one stored there"


@dataclass
class LocalPlan:
    """The teardown lines for one thread-local at one placement."""

    placement: Placement | str  # a text: why it cannot be placed
    expression: str  # how the teardown names the thread-local
    werkzeug: bool
    rerun_init: bool = False
    order: list[str] = field(default_factory=list)  # the attributes, in the order written
    resets: dict[str, str] = field(default_factory=dict)  # attribute -> value source
    deletes: set[str] = field(default_factory=set)


def plan_locals(model: FileModel, reports) -> dict[tuple[int, int], list[LocalPlan] | str]:
    """By the position of each report: the plans it takes part in, or why it has none.

    The thread-locals reset on one site share one teardown, placed after the statements that
    make them and before every teardown that reads one of them.
    """
    placements = Placements(model)
    by_local: dict[int, list] = {}
    for report in reports:
        by_local.setdefault(id(report.local), []).append(report)
    result: dict[tuple[int, int], list[LocalPlan] | str] = {}
    by_site: dict = {}  # site -> [(plan without placement, preferred statements, readers)]
    chosen: dict[int, dict] = {}
    for key, group in by_local.items():
        plans = _plans_for(model, placements, group[0].local, group)
        chosen[key] = plans
        if isinstance(plans, dict):
            for plan, preferred, readers in plans["plans"]:
                by_site.setdefault(plan.placement.site, []).append((plan, preferred, readers))
    for site, items in by_site.items():
        readers = set().union(*(item[2] for item in items))
        placement = placements.placement(
            site, REQUEST, lambda function: function in readers, [],
            [statement for item in items for statement in item[1]],
        )
        for plan, _, _ in items:
            plan.placement = placement  # a text when it cannot be placed
    for key, group in by_local.items():
        plans = chosen[key]
        local = group[0].local
        for report in group:
            position = _position(report)
            if report.attribute == EVERYTHING:
                result[position] = (f"its attributes are set with `setattr` under names known only "
                                    f"at run time: clear `{local.display()}` by hand")
            elif isinstance(plans, str):
                result[position] = plans
            elif report.attribute in plans["refused"]:
                result[position] = plans["refused"][report.attribute]
            else:
                failed = next((p.placement for p, _, _ in plans["plans"]
                               if isinstance(p.placement, str)), None)
                result[position] = failed or [p for p, _, _ in plans["plans"]]
    return result


def _plans_for(model, placements: Placements, local, group) -> dict | str:
    """{"plans": [(plan, preferred statements, readers)], "refused": {attribute: reason}}, or
    why the thread-local cannot be reset at all. The plans' placements are set by the caller."""
    what = f"`{local.display()}`"
    defaults = init_defaults(model, local.node, local.imported_class)
    if isinstance(defaults, str):
        return f"{defaults}: the fix cannot tell what its `__init__` sets up per thread"
    written = sorted(group, key=lambda r: (r.write.node.lineno, r.write.node.col_offset))
    attributes = list(dict.fromkeys(r.attribute for r in written if r.attribute != EVERYTHING))
    refused = {}
    if defaults is not None:
        for attribute in attributes:
            if not defaults.sets(attribute) or attribute in defaults.literal:
                continue
            if local.werkzeug:
                refused[attribute] = (
                    f"`{defaults.class_name}.__init__` sets `{attribute}` once for every thread "
                    "(a werkzeug Local is not re-initialised per thread): deleting it breaks every "
                    "later request, and the fix cannot rebuild it"
                )
            elif not defaults.rerunnable:
                refused[attribute] = (
                    f"`{defaults.class_name}.__init__` sets `{attribute}` and takes arguments: "
                    "deleting it breaks the next request on the thread, and the fix cannot run "
                    "`__init__` again to rebuild it"
                )
    fixable = [a for a in attributes if a not in refused]
    if not fixable:
        return {"plans": [], "refused": refused}
    users = {report.write.function for report in group}
    sites = placements.choose(users, what)
    if isinstance(sites, str):
        return sites
    readers = set(model.functions_mentioning(words_pattern([local.name])))
    plans = []
    for site in sites:
        probe = Placement(site, REQUEST, None, None)
        expression = _expression_at(model, local, probe)
        if expression is None:
            return (f"the {site.describe()} cannot reach {what}: register the teardown where "
                    "both are in reach")
        plan = _lines(probe, expression, local, fixable, defaults)
        plans.append((plan, _definition_statement(model, local, site), readers))
    return {"plans": plans, "refused": refused}


def _lines(placement, expression, local, attributes, defaults: InitDefaults | None) -> LocalPlan:
    plan = LocalPlan(placement, expression, local.werkzeug, order=list(attributes))
    for attribute in attributes:
        if defaults is not None and attribute in defaults.literal:
            plan.resets[attribute] = ast.unparse(defaults.literal[attribute])
        elif defaults is not None and defaults.sets(attribute):
            plan.rerun_init = True
        else:
            plan.deletes.add(attribute)
    return plan


def _definition_statement(model, local, site) -> list[ast.stmt]:
    line = local.statement.lineno
    for statement in site.body:
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno) and isinstance(
            statement, (ast.Assign, ast.AnnAssign, ast.ClassDef)
        ):
            return [statement]
    return []


def _expression_at(model: FileModel, local, placement: Placement) -> str | None:
    if local.kind == "name":
        return local.name
    if local.kind == "classattr":
        return f"{local.klass.name}.{local.name}"
    if placement.klass is local.klass:
        return f"self.{local.name}"
    for instance, class_name in model.flask.module_instances.items():
        if class_name == local.klass.name:
            return f"{instance}.{local.name}"
    return None


def local_fix_applicability(
    model, reports, findings: list[Finding]
) -> dict[Finding, FixApplicability]:
    plans = plan_locals(model, reports)
    result = {}
    for finding in findings:
        plan = plans.get((finding.line, finding.col), "the fix does not handle this case")
        if isinstance(plan, str):
            result[finding] = no_fix(plan)
            continue
        where = " and ".join(
            f"`{p.placement.receiver}.{p.placement.hook_name}`" for p in plan
        )
        how = (" (emptying its attributes and running `__init__` again, as a new thread would)"
               if any(p.rerun_init for p in plan) else "")
        result[finding] = unsafe_fix(
            f"a teardown on {where} resets it at the end of each request{how}: {FIX_REASON}"
        )
    return result


def apply_local_fix(model, reports, context):
    from .. import teardown_fix  # imports libcst: only when fixing

    plans = plan_locals(model, reports)
    wanted: dict[Placement, dict[str, LocalPlan]] = {}
    attributes: dict[tuple[Placement, str], set[str]] = {}
    for finding in context.findings:
        plan = plans.get((finding.line, finding.col))
        if isinstance(plan, str) or plan is None:
            continue
        position = (finding.line, finding.col)
        attribute = next(r.attribute for r in reports if _position(r) == position)
        for local_plan in plan:
            wanted.setdefault(local_plan.placement, {})[local_plan.expression] = local_plan
            key = (local_plan.placement, local_plan.expression)
            attributes.setdefault(key, set()).add(attribute)
    if not wanted:
        return None
    module = context.module
    taken = teardown_fix.defined_names(model.tree)
    needs_current_app = False
    for placement, by_expression in sorted(wanted.items(), key=lambda item: -item[0].line()):
        logger = teardown_fix.teardown_logger(model.tree, placement)
        logs = any(p.rerun_init for p in by_expression.values())  # only a re-run __init__ logs
        needs_current_app = needs_current_app or (logs and logger.startswith("current_app."))
        code = _teardown_code(placement, by_expression, attributes, taken, logger)
        module = teardown_fix.insert_function(module, context.positions, placement, code)
    if needs_current_app:
        module = teardown_fix.import_current_app(module, model.imports)
    return module


def _teardown_code(placement: Placement, by_expression: dict[str, LocalPlan], attributes,
                   taken, logger: str) -> str:
    from ..teardown_fix import free_name, log_exception  # imports libcst: only when fixing

    name = free_name("clear_thread_locals", taken)
    lines = [
        f"@{placement.receiver}.{placement.hook_name}",
        f"def {name}(exception=None):",
        '    """Reset what this request left on thread-locals."""',
    ]
    for expression, plan in by_expression.items():
        wanted = attributes[(placement, expression)]
        if plan.rerun_init and any(a not in plan.resets and a not in plan.deletes for a in wanted):
            lines += [  # the thread's attributes as a new thread sees them
                "    try:",
                f"        {expression}.__dict__.clear()",
                f"        {expression}.__init__()",
                "    except Exception:",
                *log_exception(
                    " " * 8, logger, f'"could not reset thread-local %s", "{expression}"',
                    placement.column,
                ),
            ]
            continue
        for attribute in plan.order:
            if attribute not in wanted or (
                attribute not in plan.resets and attribute not in plan.deletes
            ):
                continue
            if attribute in plan.resets:
                lines.append(f"    {expression}.{attribute} = {plan.resets[attribute]}")
            elif plan.werkzeug:
                lines += [
                    "    try:",
                    f"        del {expression}.{attribute}",
                    "    except AttributeError:",
                    "        pass",
                ]
            else:
                lines.append(f'    {expression}.__dict__.pop("{attribute}", None)')
    return "\n".join(lines) + "\n"


def _position(report) -> tuple[int, int]:
    return report.write.node.lineno, report.write.node.col_offset
