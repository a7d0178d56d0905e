"""FLK406 figure-not-closed: a pyplot figure made per request and not closed on every path.

``matplotlib.pyplot`` registers every figure it makes in a process-wide registry and keeps it
(canvas, axes, artists, data) until ``plt.close``: a view that draws a chart with
``plt.subplots()`` and never closes it adds one figure per request, for good.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import partial

from ..astutil import FunctionNode, short_source
from ..finding import Finding
from ..model.figures import FIGURE_MAKERS, closes_figure, makes_figure
from ..model.flask import Reach
from ..model.lifetimes import Fate, Outcome, callers_fates, fate
from ..model.resources import summary
from ..rule import Rule

REGISTRY = (
    "pyplot keeps every open figure (canvas, axes and data) in its process-wide registry until "
    "`plt.close`"
)
ADVICE = "close it in `finally`, or draw on a `matplotlib.figure.Figure()`, which pyplot does not keep"


class FigureNotClosed(Rule):
    code = "FLK406"
    name = "figure-not-closed"
    summary = "pyplot figure made per request and not closed on every path"
    triggers = ("pyplot", "pylab")
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        if not flask.request_time:
            return
        releases = partial(closes_figure, self.model)
        for _, call in self.model.calls_of(FIGURE_MAKERS):
            function = flask.executing_function(call)
            reach = flask.per_request(function, call)  # None behind a once-guard
            if reach is None or not makes_figure(self.model, call):
                continue
            outcome = fate(self.model, function, call, releases, owners_keep=False)
            message = self.message(call, function, outcome, reach, releases)
            if message is not None:
                yield self.finding(call, message)

    def message(self, call: ast.Call, function: FunctionNode, outcome: Outcome, reach: Reach,
                releases) -> str | None:
        subject = f"figure from `{summary(call)}`"
        where = reach.describe()
        if outcome.fate is Fate.RETURNED:
            for caller, site, caller_outcome in callers_fates(
                self.model, function, releases, owners_keep=False
            ):
                text = self.leak_text(caller_outcome)
                if text is not None:
                    return (
                        f"{subject}, returned by `{function.name}` to `{caller.name}` (line "
                        f"{site.lineno}), {text} ({where}): {REGISTRY}; {ADVICE}"
                    )
            return None  # its callers close it, or none here: not judged
        if outcome.fate is Fate.KEPT and outcome.stored_on is None:
            return None  # given to a closure (a generator that may close it): not judged
        text = self.leak_text(outcome)
        if text is None:
            return None
        return f"{subject} {text} ({where}): {REGISTRY}; {ADVICE}"

    @staticmethod
    def leak_text(outcome: Outcome) -> str | None:
        if outcome.fate is Fate.DROPPED:
            return "is never closed"
        if outcome.fate is Fate.KEPT:
            return f"is kept in `{outcome.stored_on}` but never closed"
        if outcome.fate is Fate.RELEASED_LATE:
            verb = "return" if isinstance(outcome.risky, ast.Return) else "raise"
            return (
                f"is closed on line {outcome.node.lineno}, but `{short_source(outcome.risky, 40)}`"
                f" before it can {verb} and skip the close"
            )
        if outcome.fate is Fate.RELEASED_SOMETIMES:
            return f"is closed only on some paths (line {outcome.node.lineno})"
        return None
