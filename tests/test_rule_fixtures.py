"""Every rule fixture, run through the engine: each marked finding is found, nothing else is."""

from __future__ import annotations

import ast

import pytest
from markers import RULE_FIXTURES, expected_findings, rule_fixture_files

from flake8_flaskleak.engine import analyse
from flake8_flaskleak.options import Options

# The fixtures live in this repository's tests/ folder, which is test code: analyse it anyway.
FIXTURE_OPTIONS = Options(include_tests=True)


def describe(found: set[tuple[int, str]], lines: list[str]) -> str:
    return "\n".join(f"  line {line} {code}: {lines[line - 1].strip()}" for line, code in sorted(found))


@pytest.mark.parametrize(
    "path", rule_fixture_files(), ids=lambda p: str(p.relative_to(RULE_FIXTURES))
)
def test_fixture_findings_match_markers(path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    findings = analyse(tree, text, str(path), FIXTURE_OPTIONS, project=None)  # one file at a time
    actual = {(finding.line, finding.code) for finding in findings}
    expected = expected_findings(path)
    lines = text.splitlines()
    missing = expected - actual
    extra = actual - expected
    messages = {(f.line, f.code): f.message for f in findings}
    assert not missing and not extra, (
        f"\nmissing:\n{describe(missing, lines)}\nextra:\n{describe(extra, lines)}\n"
        + "\n".join(f"  {k}: {v}" for k, v in sorted(messages.items()) if k in extra)
    )


def test_every_finding_message_is_one_line():
    for path in rule_fixture_files():
        text = path.read_text(encoding="utf-8")
        for finding in analyse(ast.parse(text), text, str(path), FIXTURE_OPTIONS, project=None):
            assert "\n" not in finding.message
            assert finding.message[0].islower() or finding.message[0] in "`'\"", finding.message
