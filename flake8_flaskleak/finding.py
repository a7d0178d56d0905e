"""The types every layer shares: what a finding is, and how safe its fix is."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FixSafety(enum.Enum):
    SAFE = "safe"  # applied by default: behaviour on the non-error path is unchanged
    UNSAFE = "unsafe"  # applied only with --unsafe-fixes: can change behaviour


@dataclass(frozen=True, order=True)
class Finding:
    line: int  # 1-based, as flake8 reports
    col: int  # 0-based, as flake8 reports (it prints col + 1)
    code: str
    message: str  # without the code
    fixable: bool = False

    def flake8_text(self) -> str:
        return f"{self.code} {self.message}"
