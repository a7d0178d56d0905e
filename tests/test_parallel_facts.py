"""The project index built with worker processes (``-j N``) knows exactly what it knows alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flake8_flaskleak.model import project as project_module
from flake8_flaskleak.model.parallel_facts import compute_reach_facts, modules_the_reach_needs
from flake8_flaskleak.options import Options

PROJECTS = Path(__file__).parent / "fixtures" / "projects"
# Projects whose request-time code crosses modules: entries, helpers, decorators, packages.
REACHING = ["split_logger", "blueprint_package", "teardown_helpers", "keys_across_modules"]


@pytest.fixture(autouse=True)
def fresh_indexes(monkeypatch):
    monkeypatch.setenv("FLASKLEAK_NO_CACHE", "1")
    project_module._indexes.clear()
    yield
    project_module._indexes.clear()


@pytest.mark.parametrize("name", REACHING)
def test_the_reach_built_with_workers_is_the_reach_built_alone(tmp_path, name):
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root, ignore=shutil.ignore_patterns(".flaskleak_cache"))
    alone = project_module.ProjectIndex(str(root), Options())
    expected = alone.request_time
    assert expected, "the fixture project must reach across modules"

    together = project_module.ProjectIndex(str(root), Options())
    project_module._indexes[(str(root), Options())] = together  # what the workers find too
    assert modules_the_reach_needs(together)  # nothing is known before the workers run
    compute_reach_facts([together], jobs=2)
    assert modules_the_reach_needs(together) == []
    computed = {relative for relative in together.files if together.cached_facts(relative, "calls")}
    assert computed == {relative for relative in alone.files if alone.cached_facts(relative, "calls")}
    assert together.request_time == expected


def test_a_module_that_does_not_parse_is_left_to_the_main_process(tmp_path):
    root = tmp_path / "split_logger"
    shutil.copytree(PROJECTS / "split_logger", root, ignore=shutil.ignore_patterns(".flaskleak_cache"))
    broken = root / "svc" / "broken_views.py"
    broken.write_text("from flask import Blueprint\nbp = Blueprint('b', __name__)\n@bp.route('/x'\n")
    index = project_module.ProjectIndex(str(root), Options())
    project_module._indexes[(str(root), Options())] = index
    compute_reach_facts([index], jobs=2)  # no traceback, no endless retry
    assert index.cached_facts("svc/broken_views.py", "calls") is None


def test_flake8_with_two_jobs_reports_what_one_job_reports(tmp_path):
    root = tmp_path / "split_logger"
    shutil.copytree(PROJECTS / "split_logger", root, ignore=shutil.ignore_patterns(".flaskleak_cache"))
    outputs = []
    for jobs in ("1", "2"):
        shutil.rmtree(root / ".flaskleak_cache", ignore_errors=True)
        result = subprocess.run(
            [sys.executable, "-m", "flake8", "--select", "FLK", f"-j{jobs}", "."],
            cwd=root, capture_output=True, text=True, check=False,
        )
        assert "Traceback" not in result.stderr
        outputs.append(sorted(result.stdout.splitlines()))
    assert outputs[0] == outputs[1]
    assert outputs[0], "the project has findings that need the other modules"


def test_one_pool_builds_several_projects_as_each_alone(tmp_path):
    """One pool of workers for every project: each index gets the facts and the reach it
    gets alone, the files' cache entries included (made by the workers)."""
    expected, together = {}, []
    for name in REACHING:
        root = tmp_path / name
        shutil.copytree(PROJECTS / name, root, ignore=shutil.ignore_patterns(".flaskleak_cache"))
        expected[name] = project_module.ProjectIndex(str(root), Options()).request_time
        index = project_module.ProjectIndex(str(root), Options())
        project_module._indexes[(str(root), Options())] = index
        together.append(index)
    compute_reach_facts(together, jobs=2)
    for name, index in zip(REACHING, together):
        assert not index.unlisted_files()  # every file has its cache entry
        assert modules_the_reach_needs(index) == []
        assert index.request_time == expected[name]
