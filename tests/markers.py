"""Expected findings written on the fixture lines themselves: a trailing ``# FLK201`` comment.

A line may expect several codes (``# FLK103 FLK201``); text after the codes is a note for the
reader. ``# noqa: ...`` comments are not markers.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

MARKER = re.compile(r"^#\s*(FLK\d{3}(?:[ ,]+FLK\d{3})*)")
FIXTURES = Path(__file__).parent / "fixtures"
RULE_FIXTURES = FIXTURES / "rules"


def expected_findings(path: Path) -> set[tuple[int, str]]:
    expected = set()
    with open(path, "rb") as handle:
        tokens = tokenize.tokenize(io.BytesIO(handle.read()).readline)
        for token in tokens:
            if token.type == tokenize.COMMENT:
                match = MARKER.match(token.string)
                if match:
                    for code in re.split(r"[ ,]+", match.group(1)):
                        expected.add((token.start[0], code))
    return expected


def rule_fixture_files() -> list[Path]:
    return sorted(RULE_FIXTURES.rglob("*.py"))
