"""What a rule is: a small class that reads the per-file model and yields findings.

A rule is a small class in its own module under ``flake8_flaskleak/rules/``: its code, name,
one-line summary, the strings a file must contain for the rule to have anything to find
(``triggers``), and ``check()``, which yields findings. A rule that can rewrite what it finds
also sets ``fix_safety`` (the most its fix can be) and implements ``fix()`` on a libcst tree;
libcst is only ever loaded for files that have such a finding. ``fix_applicability()`` says,
per finding, whether the fix can rewrite it and how safely, with the reason: the ``flaskleak``
command shows it and ``fix`` applies exactly what it promises (a rule's ``fix()`` is only ever
given the findings it may rewrite).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import ClassVar

from .finding import Finding, FixApplicability, FixSafety, no_fix
from .model.file import FileModel
from .options import Options


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, the doc page is rules/{code}-{name}.md
    summary: ClassVar[str]  # one line for `flaskleak rules`
    triggers: ClassVar[tuple[str, ...]]  # the file text must contain one for the rule to run
    fix_safety: ClassVar[FixSafety | None] = None
    # Why the fix has that safety, for findings the rule does not judge one by one.
    fix_reason: ClassVar[str] = ""
    # A rule that only reports what request-time code does is skipped, before the model is
    # built, on files that can hold none (``FileModel.request_code_possible``).
    request_time_only: ClassVar[bool] = False

    def __init__(self, model: FileModel):
        self.model = model

    def check(self) -> Iterator[Finding]:
        raise NotImplementedError

    def fix(self, context):  # context: fixes.FixContext
        """Rewrite this rule's findings in ``context.module``; return the new module or None.

        ``context.findings`` holds only the findings this run may rewrite (their ``fix`` is
        allowed); every one of them must be rewritten, the others left alone.
        """
        return None

    def fix_applicability(self, findings: list[Finding]) -> dict[Finding, FixApplicability]:
        """What the fix would do with each of this rule's findings in this file (no libcst).

        The default: the rule's ``fix_safety`` and ``fix_reason`` for the findings its check
        marked ``fixable``. A rule whose fix must prove something per finding overrides this.
        """
        result = {}
        for finding in findings:
            if self.fix_safety is None:
                result[finding] = no_fix(f"{self.code} has no automatic fix")
            elif finding.fixable:
                result[finding] = FixApplicability(self.fix_safety, self.fix_reason)
            else:
                result[finding] = no_fix(self.not_fixable_reason(finding))
        return result

    def not_fixable_reason(self, finding: Finding) -> str:
        return "the fix does not handle this case: the message says what to do"

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
