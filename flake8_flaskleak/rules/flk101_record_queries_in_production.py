"""FLK101 record-queries-in-production: Flask-SQLAlchemy query recording on in a production config.

With recording on, Flask-SQLAlchemy appends a record of every query (statement, parameters,
timing, caller) to a list on the app context. The list lives as long as the context: for a
context that is never popped (a CLI or worker ``app.app_context().push()``, as in the reports
behind Flask PR #1822) it grows for the life of the process. With Flask-SQLAlchemy 2.x, ``DEBUG = True`` switches recording on
whatever ``SQLALCHEMY_RECORD_QUERIES`` says.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..astutil import short_source
from ..model.config_project import (
    InheritedValue,
    has_imported_base,
    inherited_across_modules,
    project_configs,
)
from ..model.configs import ConfigModel, ProductionValue
from ..finding import Finding, FixSafety
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

RECORD_KEY = "SQLALCHEMY_RECORD_QUERIES"
DEBUG_KEY = "DEBUG"
# Only Flask-SQLAlchemy 3.x has these: recording no longer follows DEBUG there.
FLASK_SQLALCHEMY_3_MARKERS = ("get_recorded_queries", "SQLALCHEMY_ENGINES", "record_queries")
# What recording does, phrased to follow "X, which" / "X":
WHY = "keeps every query and its parameters on the app context for as long as it lives"
DEBUG_REFUSAL = "DEBUG does more than record queries: read it from the environment instead"
INSTEAD = "time slow queries with SQLAlchemy cursor events instead"


# A module that defines or extends a config class says one of these.
CONFIG_CLASS_WORDS = ("Config", "Settings", "config", "settings")


class RecordQueriesInProduction(Rule):
    code = "FLK101"
    name = "record-queries-in-production"
    summary = "Flask-SQLAlchemy query recording switched on in a production config"
    triggers = ("RECORD_QUERIES", "DEBUG")
    fix_safety = FixSafety.UNSAFE
    fix_reason = (
        "with recording off, code that reads the recorded queries (`get_recorded_queries()`, "
        "a debug toolbar, slow-query logging) gets none"
    )

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        if cls._sets_a_key(text):
            return True
        # a config class whose base, in another module, may set it (project analysis only)
        return options.project_analysis and "class " in text and any(
            trigger in text for trigger in CONFIG_CLASS_WORDS
        )

    @staticmethod
    def _sets_a_key(text: str) -> bool:
        if RECORD_KEY in text:
            return True
        return DEBUG_KEY in text and ("SQLALCHEMY_" in text or "flask_sqlalchemy" in text)

    def check(self) -> Iterator[Finding]:
        if not self._sets_a_key(self.model.text) and not has_imported_base(self.model):
            return
        configs = project_configs(self.model)
        for value in configs.production_values(RECORD_KEY):
            finding = self.finding(value.site, self._record_message(value))
            yield finding if value.from_object is None else not_fixable(finding)
        for inherited in inherited_across_modules(self.model, configs, RECORD_KEY):
            yield self.finding(inherited.klass.node, self._cross_module_message(inherited))
        if not self._may_be_flask_sqlalchemy_2():
            return
        for value in configs.production_values(DEBUG_KEY):
            if self._uses_flask_sqlalchemy(configs, value):
                yield not_fixable(self.finding(value.site, self._debug_message(value)))

    # -- conditions ----------------------------------------------------------------------------

    def _may_be_flask_sqlalchemy_2(self) -> bool:
        text = self.model.text
        return not any(marker in text for marker in FLASK_SQLALCHEMY_3_MARKERS)

    def _uses_flask_sqlalchemy(self, configs: ConfigModel, value: ProductionValue) -> bool:
        """``DEBUG`` only records queries where Flask-SQLAlchemy is in use: an import or a key."""
        if self.model.imports.imports_any("flask_sqlalchemy"):
            return True
        if value.config is not None:
            keys = value.config.keys()
        else:
            keys = {setting.key for setting in configs.settings}
        return any(key.startswith("SQLALCHEMY_") for key in keys)

    # -- messages ------------------------------------------------------------------------------

    def _record_message(self, value: ProductionValue) -> str:
        setting = value.setting
        assignment = f"`{setting.key} = {short_source(setting.value, 30)}`"
        if value.from_object is not None:
            return (
                f"`from_object({value.config.name})` loads {assignment} (line "
                f"{setting.statement.lineno}) outside any development branch, which {WHY}: "
                "load a production subclass that sets it to False"
            )
        if value.inherited:
            return (
                f"{class_label(value.config)} inherits {assignment} from `{setting.owner.name}` "
                f"(line {setting.statement.lineno}), which {WHY}: override it with False here "
                f"and {INSTEAD}"
            )
        return f"{assignment} {self._where(value)} {WHY}: set it to False and {INSTEAD}"

    def _cross_module_message(self, inherited: InheritedValue) -> str:
        label = class_label(inherited.klass)
        return (
            f"{label} inherits `{RECORD_KEY} = {inherited.value_source}` from "
            f"`{inherited.owner}` ({inherited.location}), which {WHY}: override it with False "
            f"here and {INSTEAD}"
        )

    def _debug_message(self, value: ProductionValue) -> str:
        setting = value.setting
        assignment = f"`{setting.key} = {short_source(setting.value, 30)}`"
        if value.from_object is not None:
            subject = (
                f"`from_object({value.config.name})` loads {assignment} (line "
                f"{setting.statement.lineno}) outside any development branch, which"
            )
        elif value.inherited:
            subject = (
                f"{class_label(value.config)} inherits {assignment} from `{setting.owner.name}` "
                f"(line {setting.statement.lineno}), which"
            )
        else:
            subject = f"{assignment} {self._where(value)}"
        return (
            f"{subject} makes Flask-SQLAlchemy 2.x record every query and its parameters on "
            f"the app context whatever {RECORD_KEY} says: read DEBUG from the environment or "
            "set it to False"
        )

    def _where(self, value: ProductionValue) -> str:
        return where(value, self.model.path)

    # -- fix -----------------------------------------------------------------------------------

    def fix_applicability(self, findings):
        return fix_applicability(self._fix_plans(), findings, self.fix_reason)

    def _fix_plans(self) -> dict:
        return fix_plans(self.model, RECORD_KEY, {DEBUG_KEY: DEBUG_REFUSAL})

    def fix(self, context):
        """Set the recorded value to ``False``; for an inherited one, override it in the class.

        ``from_object`` of a base class and ``DEBUG`` are never touched: the value is shared
        with development configs, or DEBUG does more than recording.
        """
        return set_false(context, RECORD_KEY, self._fix_plans())
