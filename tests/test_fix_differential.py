"""Fixes proven by running the code: each case's app before and after the fix, compared.

Every folder under ``tests/fixtures/differential/`` is a tiny Flask app (SQLite in its own
folder, Flask's test client, no network) or a Gunicorn config, with a ``scenario.json`` that
says what to run (``differential_runner.py``) and which fixes the case exercises. For each
case:

* the safe fixes are applied (``flaskleak fix``) and the app run again: its responses, the
  rows of its databases, its log records, the files it wrote and its Gunicorn settings must
  all be what they were. A safe fix that changes any of them fails here;
* the unsafe fixes too (``--unsafe-fixes``): the case says what they keep and what they change
  (a teardown that raised now logs; a thread-local is reset per request);
* ``forced``: the fixes the rule refuses are applied anyway, to show what the refusal
  prevents (a connection closed under a background task, a shared session rolled back).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from markers import FIXTURES

from flake8_flaskleak.finding import unsafe_fix
from flake8_flaskleak.fixer import fix_source
from flake8_flaskleak.model import with_rewrite
from flake8_flaskleak.options import Options

CASES = sorted(p for p in (FIXTURES / "differential").iterdir() if (p / "scenario.json").exists())
RUNNER = Path(__file__).parent / "differential_runner.py"
OPTIONS = Options(include_tests=True)


def scenario_of(case: Path) -> dict:
    return json.loads((case / "scenario.json").read_text())


def fixed_copy(case: Path, destination: Path, unsafe: bool) -> Counter:
    """Copy the case and fix every module of the copy; what was applied, by code."""
    shutil.copytree(case, destination)
    applied: Counter = Counter()
    for path in sorted(destination.glob("*.py")):
        result = fix_source(path.read_bytes(), str(path), OPTIONS, unsafe=unsafe, project=None)
        assert not result.errors, result.errors
        path.write_bytes(result.fixed)
        applied.update(result.applied)
    return applied


def run(directory: Path) -> dict:
    directory = directory.resolve()
    result = subprocess.run(
        [sys.executable, str(RUNNER), str(directory)],
        capture_output=True, text=True, timeout=120, cwd=directory,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check(expectation: dict, before: dict, after: dict, label: str) -> None:
    for key in expectation.get("same", []):
        assert after.get(key) == before.get(key), f"{label}: {key} changed: {after.get(key)!r}"
    for key in expectation.get("differ", []):
        assert after.get(key) != before.get(key), f"{label}: {key} did not change"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_safe_fixes_keep_behaviour_and_unsafe_ones_do_what_they_say(case, tmp_path):
    scenario = scenario_of(case)
    before = run(shutil.copytree(case, tmp_path / "before"))
    assert before.get("import", "ok") == "ok", before

    applied = fixed_copy(case, tmp_path / "safe", unsafe=False)
    assert dict(applied) == scenario["fixes"]["safe"]
    safe = run(tmp_path / "safe") if applied else before
    assert safe == before, "a safe fix changed what the app does"

    applied = fixed_copy(case, tmp_path / "unsafe", unsafe=True)
    assert dict(applied) == scenario["fixes"]["unsafe"]
    unsafe = run(tmp_path / "unsafe") if applied else before
    check(scenario.get("unsafe", {"same": list(before)}), before, unsafe, "unsafe fixes")
    for text in scenario.get("unsafe_body_contains", []):
        assert any(text in body for _, body in unsafe["responses"]), (text, unsafe["responses"])


FORCED = [case for case in CASES if "forced" in scenario_of(case)]


@pytest.mark.parametrize("case", FORCED, ids=lambda p: p.name)
def test_what_a_refused_with_rewrite_would_break(case, tmp_path, monkeypatch):
    """The FLK401 rewrites the fix refuses, applied anyway: the refusal was needed."""
    monkeypatch.setattr(with_rewrite, "no_fix", unsafe_fix)
    before = run(shutil.copytree(case, tmp_path / "before"))
    applied = fixed_copy(case, tmp_path / "forced", unsafe=True)
    assert applied["FLK401"] > scenario_of(case)["fixes"]["unsafe"].get("FLK401", 0)
    check(scenario_of(case)["forced"], before, run(tmp_path / "forced"), "forced rewrite")
