"""The types every layer shares: what a finding is, and how safe its fix is."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class FixSafety(enum.Enum):
    # Applied by default: the program's behaviour is unchanged on every path, the error path
    # included (ruff's definition: a fix that might change behaviour is unsafe).
    SAFE = "safe"
    UNSAFE = "unsafe"  # applied only with --unsafe-fixes: can change behaviour


@dataclass(frozen=True)
class FixApplicability:
    """Whether one finding's fix is applied, and why: ruff's ``fix.applicability``.

    ``safety`` None: this finding has no automatic fix (the rule has none, or its fix cannot
    rewrite this occurrence, or cannot prove what it needs to); ``reason`` says which.
    """

    safety: FixSafety | None
    reason: str

    @property
    def label(self) -> str:
        """``safe``, ``unsafe`` or ``none``, as the JSON output and ``--diff`` notes print it."""
        return self.safety.value if self.safety is not None else "none"

    def allowed(self, unsafe_fixes: bool) -> bool:
        """Whether ``flaskleak fix`` (``--unsafe-fixes`` when asked) applies this fix."""
        if self.safety is FixSafety.SAFE:
            return True
        return unsafe_fixes and self.safety is FixSafety.UNSAFE


def safe_fix(reason: str) -> FixApplicability:
    return FixApplicability(FixSafety.SAFE, reason)


def unsafe_fix(reason: str) -> FixApplicability:
    return FixApplicability(FixSafety.UNSAFE, reason)


def no_fix(reason: str) -> FixApplicability:
    return FixApplicability(None, reason)


@dataclass(frozen=True, order=True)
class Finding:
    line: int  # 1-based, as flake8 reports
    col: int  # 0-based, as flake8 reports (it prints col + 1)
    code: str
    message: str  # without the code
    fixable: bool = False  # the rule's check says its fix handles this kind of finding
    # Set by ``engine.analyse(..., with_fixes=True)`` (the ``flaskleak`` command), never on
    # the flake8 path: what the fix would do with this finding, and why.
    fix: FixApplicability | None = field(default=None, compare=False)

    def flake8_text(self) -> str:
        return f"{self.code} {self.message}"
