"""Multi-module fixture projects, run through the real flake8 and ``flaskleak check``.

Each folder under ``tests/fixtures/projects/`` is one project (it has its own
``pyproject.toml``, so it is its own project root) whose files mark every expected finding
with a trailing ``# FLKnnn`` comment. The whole-project analysis must find exactly those, the
same way in both front ends, in one process and with ``-j 2``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markers import FIXTURES, expected_findings

PROJECTS = sorted(p for p in (FIXTURES / "projects").iterdir() if (p / "pyproject.toml").exists())
FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):\d+: (?P<code>FLK\d{3}) ")


def expected_for(project: Path) -> set[tuple[str, int, str]]:
    return {
        (path.relative_to(project).as_posix(), line, code)
        for path in project.rglob("*.py")
        for line, code in expected_findings(path)
    }


@pytest.fixture(params=PROJECTS, ids=lambda p: p.name)
def project(request, tmp_path) -> Path:
    target = tmp_path / request.param.name
    shutil.copytree(request.param, target, ignore=shutil.ignore_patterns(".flaskleak_cache"))
    return target


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_flake8_finds_exactly_the_marked_findings(project, jobs):
    result = run([sys.executable, "-m", "flake8", "--select", "FLK", "-j", jobs, "."], project)
    found = set()
    for line in result.stdout.splitlines():
        match = FLAKE8_LINE.match(line)
        assert match, line
        path = Path(match["path"]).as_posix().removeprefix("./")
        found.add((path, int(match["line"]), match["code"]))
    assert found == expected_for(project)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_flaskleak_check_finds_exactly_the_marked_findings(project, jobs):
    result = run(
        [sys.executable, "-m", "flake8_flaskleak", "check", "--format", "json", "-j", jobs, "."],
        project,
    )
    found = {
        (Path(item["path"]).as_posix().removeprefix("./"), item["line"], item["code"])
        for item in json.loads(result.stdout)
    }
    assert found == expected_for(project)
