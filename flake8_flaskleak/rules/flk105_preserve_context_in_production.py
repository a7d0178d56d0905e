"""FLK105 preserve-context-in-production: ``PRESERVE_CONTEXT_ON_EXCEPTION`` on in production.

Flask 0.7 to 2.1 read the key when a request raises: truthy, the request context is not popped
(``RequestContext.auto_pop`` marks it preserved) and stays pushed, with everything bound to it
and to its app context, until the next request on the same thread pops it; the teardown
functions wait until then too. Flask 2.2 replaced the mechanism (it preserves contexts only for
the debugger and the test client) and no longer reads the key.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..astutil import short_source
from ..finding import Finding, FixSafety
from ..model.config_project import (
    InheritedValue,
    has_imported_base,
    inherited_across_modules,
    project_configs,
)
from ..model.configs import ProductionValue
from ..options import Options
from ..rule import Rule
from ._config_values import (
    class_label,
    fix_applicability,
    fix_plans,
    not_fixable,
    set_false,
    where,
)
from .flk101_record_queries_in_production import CONFIG_CLASS_WORDS

KEY = "PRESERVE_CONTEXT_ON_EXCEPTION"
# What the value does, phrased to follow "X, which" / "X":
WHY = (
    "makes Flask 0.7 to 2.1 keep the context of every request that raises pushed (its "
    "request, `g`, database session and traceback, its teardowns not run) until the next "
    "request on that thread"
)
INSTEAD = "Flask 2.2 and later ignore the key"


class PreserveContextInProduction(Rule):
    code = "FLK105"
    name = "preserve-context-in-production"
    summary = "PRESERVE_CONTEXT_ON_EXCEPTION switched on in a production config"
    triggers = (KEY,)
    fix_safety = FixSafety.UNSAFE
    fix_reason = (
        "a failed request's context is no longer kept for a debugger or a test to inspect"
    )

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        if KEY in text:
            return True
        # a config class whose base, in another module, may set it (project analysis only)
        return options.project_analysis and "class " in text and any(
            word in text for word in CONFIG_CLASS_WORDS
        )

    def check(self) -> Iterator[Finding]:
        if KEY not in self.model.text and not has_imported_base(self.model):
            return
        configs = project_configs(self.model)
        for value in configs.production_values(KEY):
            finding = self.finding(value.site, self.message(value))
            yield finding if value.from_object is None else not_fixable(finding)
        for inherited in inherited_across_modules(self.model, configs, KEY):
            yield self.finding(inherited.klass.node, self.inherited_message(inherited))

    def message(self, value: ProductionValue) -> str:
        setting = value.setting
        assignment = f"`{KEY} = {short_source(setting.value, 20)}`"
        line = setting.statement.lineno
        if value.from_object is not None:
            return (
                f"`from_object({value.config.name})` loads {assignment} (line {line}) outside "
                f"any development branch, which {WHY}: load a production subclass that sets "
                f"it to False ({INSTEAD})"
            )
        if value.inherited:
            return (
                f"{class_label(value.config)} inherits {assignment} from "
                f"`{setting.owner.name}` (line {line}), which {WHY}: override it with False "
                f"here ({INSTEAD})"
            )
        return (
            f"{assignment} {where(value, self.model.path)} {WHY}: set it to False or remove "
            f"it ({INSTEAD})"
        )

    def inherited_message(self, inherited: InheritedValue) -> str:
        return (
            f"{class_label(inherited.klass)} inherits `{KEY} = {inherited.value_source}` from "
            f"`{inherited.owner}` ({inherited.location}), which {WHY}: override it with False "
            f"here ({INSTEAD})"
        )

    def fix(self, context):
        """Set the value to ``False``, or override an inherited one in the production class."""
        return set_false(context, KEY, fix_plans(self.model, KEY))

    def fix_applicability(self, findings):
        return fix_applicability(fix_plans(self.model, KEY), findings, self.fix_reason)
