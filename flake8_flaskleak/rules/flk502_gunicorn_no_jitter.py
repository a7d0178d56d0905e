"""FLK502 gunicorn-no-jitter: ``max_requests`` without ``max_requests_jitter``.

Workers started together serve about the same number of requests, so without jitter they
reach ``max_requests`` together and all restart at the same moment.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding, FixSafety
from ..model.gunicorn import (
    append_settings,
    assigned_value,
    effective_assignments,
    is_gunicorn_config_module,
    may_be_gunicorn_config,
    is_zero,
    literal_int,
)
from ..model.star_imports import settings_fix_applicability
from ..options import Options
from ..rule import Rule

DEFAULT_JITTER = 50


class GunicornNoJitter(Rule):
    code = "FLK502"
    name = "gunicorn-no-jitter"
    summary = "Gunicorn config sets max_requests without max_requests_jitter"
    triggers = ("max_requests",)
    fix_safety = FixSafety.UNSAFE
    fix_reason = (
        "workers then restart after different numbers of requests, no longer at the count "
        "`max_requests` says"
    )

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        return "max_requests" in text and may_be_gunicorn_config(text, path, options)

    def _setting(self):
        """The first assignment that turns ``max_requests`` on, when jitter is missing."""
        tree = self.model.tree
        if not is_gunicorn_config_module(self.model):
            return None
        statements, all_off = effective_assignments(tree, "max_requests")
        jitter, jitter_off = effective_assignments(tree, "max_requests_jitter")
        if not statements or all_off or (jitter and not jitter_off):
            return None
        return next(s for s in statements if not is_zero(assigned_value(s, "max_requests")))

    def check(self) -> Iterator[Finding]:
        statement = self._setting()
        if statement is None:
            return
        jitter = self.jitter_for(statement)
        yield self.finding(
            statement,
            "`max_requests` is set without `max_requests_jitter`: workers started together "
            "reach the limit together and all restart at once, dropping capacity; add "
            f"`max_requests_jitter = {jitter}`",
        )

    @staticmethod
    def jitter_for(statement) -> int:
        limit = literal_int(statement, "max_requests")
        return max(1, limit // 20) if limit and limit > 0 else DEFAULT_JITTER

    def fix_applicability(self, findings):
        return settings_fix_applicability(self, findings, ["max_requests_jitter"])

    def fix(self, context):
        statement = self._setting()
        if statement is None or not context.findings:
            return None
        jitter = self.jitter_for(statement)
        comment = [
            f"# Each worker restarts after max_requests plus a random 0-{jitter} requests, so",
            "# workers started together do not all restart at the same moment.",
        ]
        return append_settings(context.module, [f"max_requests_jitter = {jitter}"], comment)
