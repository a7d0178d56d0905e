"""What a rule is: a small class that reads the per-file model and yields findings.

A rule is a small class in its own module under ``flake8_flaskleak/rules/``: its code, name,
one-line summary, the strings a file must contain for the rule to have anything to find
(``triggers``), and ``check()``, which yields findings. A rule that can rewrite what it finds
also sets ``fix_safety`` and implements ``fix()`` on a libcst tree; libcst is only ever loaded
for files that have such a finding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import ClassVar

from .finding import Finding, FixSafety
from .model.file import FileModel
from .options import Options


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, the doc page is rules/{code}-{name}.md
    summary: ClassVar[str]  # one line for `flaskleak rules`
    triggers: ClassVar[tuple[str, ...]]  # the file text must contain one for the rule to run
    fix_safety: ClassVar[FixSafety | None] = None
    # A rule that only reports what request-time code does is skipped, before the model is
    # built, on files that can hold none (``FileModel.request_code_possible``).
    request_time_only: ClassVar[bool] = False

    def __init__(self, model: FileModel):
        self.model = model

    def check(self) -> Iterator[Finding]:
        raise NotImplementedError

    def fix(self, context):  # context: fixes.FixContext
        """Rewrite this rule's findings in ``context.module``; return the new module or None."""
        return None

    def finding(self, node: ast.AST, message: str) -> Finding:
        return Finding(
            line=getattr(node, "lineno", 1),
            col=getattr(node, "col_offset", 0),
            code=self.code,
            message=message,
            fixable=self.fix_safety is not None,
        )

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        """The cheap test run before anything is walked: can this file hold a finding?"""
        return any(trigger in text for trigger in cls.triggers)
