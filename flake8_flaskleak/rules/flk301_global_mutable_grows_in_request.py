"""FLK301 global-mutable-grows-in-request: a module-level container that requests keep filling.

A module global lives as long as its module, and ``sys.modules`` keeps the module for the life
of the worker process. A list, dict or set there that request-time code appends to, and that
nothing clears or bounds, holds one more entry (and everything the entry references) after
every request until the worker is recycled or killed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..mutable_state import (
    CONTAINER_TRIGGERS,
    GLOBAL,
    OBJECT,
    RequestGrowth,
    advice_for,
    mutable_state_for,
)
from ..rule import Rule


def describe_growth(found: RequestGrowth, subject: str) -> str:
    growth = found.growth
    return (
        f"{subject} grows with {growth.operation} at request time ({found.reach.describe()}) "
        f"and is never cleared or bounded: {advice_for(found.container.kind)}"
    )


class GlobalMutableGrowsInRequest(Rule):
    code = "FLK301"
    name = "global-mutable-grows-in-request"
    summary = "module-level container grown by request-time code and never cleared"
    triggers = CONTAINER_TRIGGERS

    request_time_only = True

    def check(self) -> Iterator[Finding]:
        state = mutable_state_for(self.analysis)
        for found in state.request_growths({GLOBAL, OBJECT}):
            kind = found.container.kind
            _, class_name, name = found.growth.key
            if found.growth.key[0] == GLOBAL:
                subject = f"module-level {kind} `{name}`"
            else:
                subject = (
                    f"{kind} `{found.holder}.{name}` (held by the module-level "
                    f"`{class_name}` object `{found.holder}`)"
                )
            yield self.finding(found.growth.node, describe_growth(found, subject))
