"""The README stays true: its rule table lists every rule with its name and fix kind, and its
quick start holds exactly two commands, the second being the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from flake8_flaskleak.engine import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| (FLK\d{3}) \| ([a-z0-9-]+) \| .* \| (safe|unsafe|—) \|$", re.MULTILINE)


def section(title: str) -> str:
    pattern = rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)"
    match = re.search(pattern, README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_rule_table_matches_the_rules():
    table = {code: (name, fix) for code, name, fix in ROW.findall(section("Rules"))}
    rules = {
        rule.code: (rule.name, rule.fix_safety.value if rule.fix_safety else "—")
        for rule in ALL_RULES
    }
    assert table == rules


def test_quick_start_has_two_commands_and_ci_runs_the_test_one():
    blocks = re.findall(r"```sh\n(.*?)```", section("Quick start"), re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2, commands
    install_and_test = commands[1].split(" && ")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for part in install_and_test:
        assert any(part in line for line in ci_lines), f"{part!r} is not in .ci/run"


def test_flaskleak_command_section_exists():
    assert section("The flaskleak command").strip()
