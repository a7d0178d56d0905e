"""FLK302 class-attr-grows-in-request: a mutable class attribute that requests keep filling.

A class attribute is one object shared by the class and every instance, and the class lives
as long as its module. ``self.seen[key] = ...`` on a class-level ``seen = {}`` (with no
``self.seen = {}`` per instance) grows that one shared dict on every request, for the life of
the worker process.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..model.containers import CLASS, CONTAINER_TRIGGERS, mutable_state_for
from ..options import Options
from ..rule import Rule


class ClassAttrGrowsInRequest(Rule):
    code = "FLK302"
    name = "class-attr-grows-in-request"
    summary = "mutable class attribute grown by request-time code and never cleared"
    triggers = CONTAINER_TRIGGERS

    request_time_only = True

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        return "class " in text and super().applies_to(text, path, options)

    def check(self) -> Iterator[Finding]:
        state = mutable_state_for(self.model, reporting=True)
        for found in state.request_growths({CLASS}):
            _, class_name, name = found.growth.key
            kind = found.container.kind
            message = (
                f"class attribute `{class_name}.{name}` ({kind}, shared by every instance) "
                f"grows with {found.growth.operation} at request time ({found.reach.describe()}) "
                "and is never cleared or bounded: make it an instance attribute set in "
                "`__init__`, bound it, or keep it outside the process"
            )
            yield self.finding(found.growth.node, message)
