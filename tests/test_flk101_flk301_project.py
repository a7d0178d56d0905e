"""FLK101 and FLK301 across modules: the parts the fixture projects' markers cannot show."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markers import FIXTURES

from flake8_flaskleak.model import project as project_module
from flake8_flaskleak.engine import analyse
from flake8_flaskleak.options import Options

PROJECTS = FIXTURES / "projects"


@pytest.fixture(autouse=True)
def fresh_indexes():
    project_module._indexes.clear()
    project_module._roots.clear()
    yield
    project_module._indexes.clear()
    project_module._roots.clear()


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target, ignore=shutil.ignore_patterns(".flaskleak_cache"))
    return target


def findings(path: Path, options: Options | None = None) -> list[tuple[int, str, str]]:
    text = path.read_text()
    return [
        (finding.line, finding.code, finding.message)
        for finding in analyse(ast.parse(text), text, str(path), options or Options())
    ]


def test_inherited_value_names_the_base_and_where_it_is_set(tmp_path):
    root = copy("config_split", tmp_path)
    [(line, code, message)] = findings(root / "ledger/config/production.py")
    assert (line, code) == (6, "FLK101")
    assert "inherits `SQLALCHEMY_RECORD_QUERIES = True` from `Config`" in message
    assert "(ledger/config/base.py:11)" in message


def test_without_project_analysis_the_base_is_judged_alone(tmp_path):
    root = copy("config_split", tmp_path)
    per_file = Options(project_analysis=False)
    assert [code for _, code, _ in findings(root / "ledger/config/base.py", per_file)] == [
        "FLK101"
    ]
    assert findings(root / "ledger/config/production.py", per_file) == []


def test_unsafe_fix_overrides_the_inherited_value_in_the_production_class(tmp_path):
    root = copy("config_split", tmp_path)
    command = [sys.executable, "-m", "flake8_flaskleak", "fix", "--unsafe-fixes", "."]
    subprocess.run(command, cwd=root, check=False, capture_output=True, timeout=300)
    production = (root / "ledger/config/production.py").read_text()
    assert production.count("SQLALCHEMY_RECORD_QUERIES = False") == 1
    check = [sys.executable, "-m", "flake8_flaskleak", "check", "--select", "FLK101", "."]
    result = subprocess.run(check, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout
    assert (root / "ledger/config/base.py").read_text() == (
        PROJECTS / "config_split/ledger/config/base.py"
    ).read_text()


def test_imported_container_message_names_its_module(tmp_path):
    root = copy("imported_state_list", tmp_path)
    messages = [message for _, _, message in findings(root / "metrics/views.py")]
    assert any(
        "module-level list `request_log` of `metrics.state` (metrics/state.py)" in m
        for m in messages
    )


def test_a_clear_in_another_modules_teardown_bounds_the_container(tmp_path):
    root = copy("imported_state_cleared", tmp_path)
    assert findings(root / "tracker/views.py") == []
    app = root / "tracker/app.py"
    app.write_text(app.read_text().replace("request_log.clear()", "pass"))
    project_module._indexes.clear()
    found = findings(root / "tracker/views.py")
    assert [(line, code) for line, code, _ in found] == [(14, "FLK301")]
