"""FLK501 gunicorn-no-max-requests: a Gunicorn config that never recycles its workers.

Without ``max_requests`` a worker lives as long as the server: whatever any library leaks
grows until the worker is killed. Recycling after N requests is the safety net.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding, FixSafety
from ..model.gunicorn import (
    HOOKS,
    SETTINGS,
    append_settings,
    effective_assignments,
    is_gunicorn_config_module,
    may_be_gunicorn_config,
    module_assignments,
)
from ..model.star_imports import settings_fix_applicability
from ..options import Options
from ..rule import Rule

MAX_REQUESTS = 1000
JITTER = 50
# Comment lines stay within pycodestyle's 79 columns (E501).
COMMENT = [
    f"# Recycle each worker after {MAX_REQUESTS} requests (plus a random 0-{JITTER}): memory that",
    "# the app or any library leaks is given back, and workers do not all restart",
    "# at once.",
]
COMMENT_WITHOUT_JITTER = [
    f"# Recycle each worker after {MAX_REQUESTS} requests (a value of 0 turns recycling off):",
    "# memory that the app or any library leaks is given back.",
]


class GunicornNoMaxRequests(Rule):
    code = "FLK501"
    name = "gunicorn-no-max-requests"
    summary = "Gunicorn config does not set max_requests: workers are never recycled"
    triggers = ()
    fix_safety = FixSafety.UNSAFE
    fix_reason = (
        f"workers then restart every {MAX_REQUESTS} requests or so: what a worker builds at "
        "start-up or keeps in memory between requests is built again"
    )

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        return may_be_gunicorn_config(text, path, options)

    def check(self) -> Iterator[Finding]:
        tree = self.model.tree
        if not is_gunicorn_config_module(self.model):
            return
        statements, all_off = effective_assignments(tree, "max_requests")
        advice = (
            f"set `max_requests = {MAX_REQUESTS}` and `max_requests_jitter = {JITTER}` so "
            "each worker is restarted before leaked memory piles up"
        )
        names = set(module_assignments(tree))
        if not statements and names & HOOKS and not names & SETTINGS:
            return  # server hooks only: the settings are given on the command line
        if not statements:
            yield self.finding(
                tree,  # the module itself: line 1, column 0
                "this Gunicorn config does not set `max_requests`: workers are never recycled and "
                f"memory any dependency leaks grows until the worker is killed; {advice}",
            )
        elif all_off:
            yield self.finding(
                statements[0],
                "this Gunicorn config sets `max_requests` to 0, which turns worker recycling off: "
                f"memory any dependency leaks grows until the worker is killed; {advice}",
            )

    def _settings_added(self) -> list[str]:
        jitter, jitter_off = effective_assignments(self.model.tree, "max_requests_jitter")
        if jitter and not jitter_off:
            return ["max_requests"]
        return ["max_requests", "max_requests_jitter"]

    def fix_applicability(self, findings):
        return settings_fix_applicability(self, findings, self._settings_added())

    def fix(self, context):
        if not context.findings:
            return None
        lines = [f"max_requests = {MAX_REQUESTS}"]
        if self._settings_added() == ["max_requests"]:
            return append_settings(context.module, lines, COMMENT_WITHOUT_JITTER)
        lines.append(f"max_requests_jitter = {JITTER}")
        return append_settings(context.module, lines, COMMENT)
