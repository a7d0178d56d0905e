"""FLK301 global-mutable-grows-in-request: a module-level container that requests keep filling.

A module global lives as long as its module, and ``sys.modules`` keeps the module for the life
of the worker process. A list, dict or set there that request-time code appends to, and that
nothing clears or bounds, holds one more entry (and everything the entry references) after
every request until the worker is recycled or killed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..model.containers import (
    CONTAINER_TRIGGERS,
    GLOBAL,
    OBJECT,
    RequestGrowth,
    advice_for,
    mutable_state_for,
)
from ..options import Options
from ..rule import Rule

# A module that only grows a container another module defines says one of these.
GROWTH_TRIGGERS = (
    ".append(", ".extend(", ".insert(", ".add(", ".update(", ".setdefault(", ".appendleft(",
    "] =", "+=", "|=",
)


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

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        if super().applies_to(text, path, options):
            return True
        # growth of a container imported from another module (project analysis only)
        return (
            options.project_analysis
            and "import" in text
            and any(trigger in text for trigger in GROWTH_TRIGGERS)
        )

    def check(self) -> Iterator[Finding]:
        state = mutable_state_for(self.model, reporting=True)
        for found in state.request_growths({GLOBAL, OBJECT}):
            kind = found.container.kind
            _, class_name, name = found.growth.key
            if found.growth.key in state.origins:  # defined in another module of the project
                origin = state.origins[found.growth.key]
                holder = name.split(".")[0]
                if holder != name:
                    subject = (
                        f"{kind} `{name}` (held by the module-level object `{holder}` of "
                        f"`{class_name}`, {origin})"
                    )
                else:
                    subject = f"module-level {kind} `{name}` of `{class_name}` ({origin})"
            elif found.growth.key[0] == GLOBAL:
                subject = f"module-level {kind} `{name}`"
            else:
                subject = (
                    f"{kind} `{found.holder}.{name}` (held by the module-level "
                    f"`{class_name}` object `{found.holder}`)"
                )
            yield self.finding(found.growth.node, describe_growth(found, subject))
