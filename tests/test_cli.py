"""The ``flaskleak`` command, run as a user runs it: in a subprocess, on files in a temp dir."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markers import FIXTURES

from flake8_flaskleak import cli, runner
from flake8_flaskleak.engine import ALL_RULES
from flake8_flaskleak.pages import PAGE_DIRECTORIES, RULES_BASE_URL, page_name
from flake8_flaskleak.report import github_line

ROOT = Path(__file__).resolve().parent.parent
FLK201_FIXES = FIXTURES / "fixes" / "FLK201"

TEARDOWN_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.teardown_appcontext
def shutdown_session(exc):
    close_things()
'''
CLEAN_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "ok"
'''


def flaskleak(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(TEARDOWN_APP)
    (tmp_path / "clean.py").write_text(CLEAN_APP)
    for skipped in (".venv/lib", "build", "node_modules/pkg", "__pycache__", ".git", "dist"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "vendored.py").write_text(TEARDOWN_APP)
    return tmp_path


# --- check ------------------------------------------------------------------------------------


def test_check_text_format_and_skipped_directories(project):
    result = flaskleak("check", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "app.py:8:5: FLK201 teardown `shutdown_session` can raise at `close_things()`: the "
        "exception skips the teardown_appcontext functions Flask runs after it (those registered "
        "before it, such as Flask-SQLAlchemy's `session.remove()` when the extension was set up "
        "first) and turns the request into a 500; wrap its body in try/except Exception that "
        "calls logger.exception"
    ]
    assert result.stderr == "flaskleak: 1 finding in 1 file (1 fixable with `flaskleak fix`)\n"


def test_check_clean_exits_0(project):
    result = flaskleak("check", "clean.py", cwd=project)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "flaskleak: no findings (1 file checked)\n"
    result = flaskleak("check", "-q", "clean.py", cwd=project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_json(project):
    result = flaskleak("check", "--format", "json", ".", cwd=project)
    assert result.returncode == 1
    [item] = json.loads(result.stdout)
    assert item["path"] == "app.py" and item["line"] == 8 and item["column"] == 5
    assert item["code"] == "FLK201" and item["name"] == "teardown-can-raise"
    assert item["fix"] == "safe" and item["url"].startswith(RULES_BASE_URL)
    assert "shutdown_session" in item["message"]


def test_check_sarif_is_what_code_scanning_accepts(project):
    (project / "src").mkdir()
    (project / "src" / "my app.py").write_text(TEARDOWN_APP)
    result = flaskleak("check", "--format", "sarif", ".", cwd=project)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-2.1.0.json")
    [run] = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "flaskleak" and driver["version"] and driver["informationUri"]
    codes = [rule["id"] for rule in driver["rules"]]
    assert codes == sorted(codes) and "FLK201" in codes
    for rule in driver["rules"]:
        assert rule["name"] and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["helpUri"] == RULES_BASE_URL + f"{rule['id']}-{rule['name']}.md"
        assert isinstance(rule["properties"], dict)
    uris = []
    for item in run["results"]:
        assert item["ruleId"] == "FLK201" and item["level"] == "warning"
        assert driver["rules"][item["ruleIndex"]]["id"] == item["ruleId"]
        assert item["message"]["text"]
        [location] = item["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        region = location["physicalLocation"]["region"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert (region["startLine"], region["startColumn"]) == (8, 5)
        uris.append(artifact["uri"])
    assert sorted(uris) == ["app.py", "src/my%20app.py"]


def test_check_github_annotations(project):
    result = flaskleak("check", "--format", "github", "app.py", cwd=project)
    assert result.returncode == 1
    assert re.fullmatch(
        r"::warning file=app\.py,line=8,col=5,title=FLK201::teardown `shutdown_session` .*\n",
        result.stdout,
    )


def test_github_escaping():
    line = github_line("warning", "a,b:c.py", 1, 2, "FLK201", "50% done\nnext, line: x")
    assert line == (
        "::warning file=a%2Cb%3Ac.py,line=1,col=2,title=FLK201::50%25 done%0Anext, line: x\n"
    )


def test_check_syntax_error_is_named_and_the_run_goes_on(project):
    (project / "broken.py").write_text("def broken(:\n    pass\n")
    (project / "latin.py").write_bytes(b"x = '\xe9'\n")  # not UTF-8, no cookie
    result = flaskleak("check", ".", cwd=project)
    assert result.returncode == 2
    assert re.search(r"^broken\.py:1:\d+: E999 SyntaxError: ", result.stderr, re.M), result.stderr
    assert re.search(r"^latin\.py:1:1: E902 .*encoding", result.stderr, re.M), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("app.py:8:5: FLK201")


def test_check_odd_files_do_not_crash(project):
    (project / "empty.py").write_bytes(b"")
    (project / "nulls.py").write_bytes(b"x = 1\x00\n")
    (project / "py2.py").write_text("print 'hello'\n")
    (project / "bom.py").write_bytes(b"\xef\xbb\xbf" + TEARDOWN_APP.encode())
    (project / "crlf.py").write_bytes(TEARDOWN_APP.replace("\n", "\r\n").encode())
    result = flaskleak("check", ".", cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "nulls.py:" in result.stderr and "py2.py:1:" in result.stderr
    for name in ("app.py", "bom.py", "crlf.py"):
        assert f"{name}:8:5: FLK201" in result.stdout


def test_select_ignore_and_exclude(project):
    assert flaskleak("check", "--ignore", "FLK2", ".", cwd=project).returncode == 0
    assert flaskleak("check", "--select", "FLK3,FLK4", ".", cwd=project).returncode == 0
    result = flaskleak("check", "--ignore", "FLK2", "--select", "FLK201", ".", cwd=project)
    assert result.returncode == 1  # the longer prefix wins, as in flake8
    assert flaskleak("check", "--exclude", "app.py", ".", cwd=project).returncode == 0
    assert flaskleak("check", "--exclude", "*.py", "app.py", cwd=project).returncode == 0


def test_noqa_suppresses_report_and_fix(project):
    source = TEARDOWN_APP.replace("close_things()", "close_things()  # noqa: FLK201")
    (project / "app.py").write_text(source)
    assert flaskleak("check", ".", cwd=project).returncode == 0
    assert flaskleak("fix", ".", cwd=project).returncode == 0
    assert (project / "app.py").read_text() == source
    (project / "app.py").write_text(source.replace("FLK201", "FLK3"))
    assert flaskleak("check", ".", cwd=project).returncode == 1


# --- usage errors and configuration ---------------------------------------------------------


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["check", "missing.py"], "missing.py"),
        (["check", "--cache-maxsize", "0", "."], "cache-maxsize"),
        (["check", "--select", "FLK-2", "."], "FLK-2"),
        (["check", "-j", "many", "."], "--jobs"),
        (["nonsense"], "invalid choice"),
        (["check", "--format", "xml", "."], "invalid choice"),
        (["explain", "FLK999"], "FLK999"),
        ([], "usage"),
    ],
)
def test_usage_errors_exit_2(project, arguments, message):
    result = flaskleak(*arguments, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "config, key",
    [
        ('[tool.flaskleak]\nno-such-option = 1\n', "no-such-option"),
        ('[tool.flaskleak]\ncache-maxsize = "lots"\n', "cache-maxsize"),
        ('[tool.flaskleak]\nproduction-patterns = 3\n', "production-patterns"),
        ('[tool.flaskleak]\nselect = 3\n', "select"),
        ('[tool.flaskleak\n', "invalid TOML"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_key(project, config, key):
    (project / "pyproject.toml").write_text(config)
    result = flaskleak("check", ".", cwd=project)
    assert result.returncode == 2
    assert key in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_configuration_is_read_from_the_nearest_pyproject(project):
    (project / "pyproject.toml").write_text('[tool.flaskleak]\nignore = ["FLK201"]\n')
    (project / "pkg").mkdir()
    shutil.copy(project / "app.py", project / "pkg" / "app.py")
    assert flaskleak("check", "pkg", cwd=project).returncode == 0
    assert flaskleak("check", "--select", "FLK201", ".", cwd=project).returncode == 1
    (project / "pkg" / "pyproject.toml").write_text('[project]\nname = "pkg"\n')  # not ours
    assert flaskleak("check", "pkg", cwd=project).returncode == 0
    (project / "pkg" / "pyproject.toml").write_text("[tool.flaskleak]\n")
    assert flaskleak("check", "pkg", cwd=project).returncode == 1


def test_options_from_pyproject_and_flags(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flaskleak]\ncache-maxsize = 64\nproduction_patterns = ["prod", "eu-live"]\n'
    )
    parser = cli.build_parser()
    resolver = cli.resolver_from(parser.parse_args(["check", str(tmp_path)]))
    settings = resolver.for_directory(str(tmp_path))
    assert settings.options.cache_maxsize == 64
    assert settings.options.production_patterns == ("prod", "eu-live")
    resolver = cli.resolver_from(
        parser.parse_args(["check", "--cache-maxsize", "8", "--no-project-analysis", str(tmp_path)])
    )
    settings = resolver.for_directory(str(tmp_path))
    assert settings.options.cache_maxsize == 8 and settings.options.project_analysis is False


# --- fix ----------------------------------------------------------------------------------------


def copy_fix_fixtures(destination: Path) -> dict[str, bytes]:
    """The FLK201 fix inputs copied to ``destination``; returns name -> expected bytes."""
    expected = {}
    for path in sorted(FLK201_FIXES.glob("*.py")):
        if path.name.endswith(".expected.py"):
            continue
        shutil.copy(path, destination / path.name)
        expected[path.name] = path.with_name(path.stem + ".expected.py").read_bytes()
    return expected


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_fix_diff_writes_nothing(tmp_path):
    copy_fix_fixtures(tmp_path)
    before = snapshot(tmp_path)
    result = flaskleak("fix", "--diff", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert snapshot(tmp_path) == before
    assert "--- a/seed_004_bare_teardown.py\n+++ b/seed_004_bare_teardown.py\n" in result.stdout
    assert "+    try:\n" in result.stdout and "+import logging\n" in result.stdout
    assert "would fix" in result.stderr


def test_fix_check_writes_nothing_then_fix_writes_the_expected_bytes(tmp_path):
    expected = copy_fix_fixtures(tmp_path)
    before = snapshot(tmp_path)
    result = flaskleak("fix", "--check", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert snapshot(tmp_path) == before
    assert "would fix seed_004_bare_teardown.py: FLK201" in result.stdout

    result = flaskleak("fix", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for name, data in expected.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert re.search(r"fixed 9 findings in 5 files \(FLK201 x9\)", result.stderr), result.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(expected)  # no temp files left behind

    after = snapshot(tmp_path)
    assert flaskleak("fix", "--check", ".", cwd=tmp_path).returncode == 0
    assert flaskleak("fix", ".", cwd=tmp_path).returncode == 0
    assert snapshot(tmp_path) == after


def test_fix_in_parallel_matches(tmp_path):
    expected = copy_fix_fixtures(tmp_path)
    serial = flaskleak("check", ".", cwd=tmp_path)
    parallel = flaskleak("check", "-j", "2", ".", cwd=tmp_path)
    assert parallel.stdout == serial.stdout and parallel.returncode == serial.returncode == 1
    result = flaskleak("fix", "-j", "2", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name, data in expected.items():
        assert (tmp_path / name).read_bytes() == data, name


def test_fix_keeps_encoding_line_endings_tabs_and_mode(tmp_path):
    crlf = tmp_path / "crlf.py"
    crlf.write_bytes(TEARDOWN_APP.replace("\n", "\r\n").encode())
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + TEARDOWN_APP.encode())
    latin = tmp_path / "latin.py"
    latin.write_bytes(
        ("# -*- coding: latin-1 -*-\n" + TEARDOWN_APP + "# caf\u00e9\n").encode("latin-1")
    )
    tabs = tmp_path / "tabs.py"
    tabs.write_bytes(TEARDOWN_APP.replace("    ", "\t").encode())
    script = tmp_path / "script.py"
    script.write_bytes(TEARDOWN_APP.encode())
    script.chmod(0o750)

    result = flaskleak("fix", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    data = crlf.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") and b"try:\r\n" in data
    data = bom.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfimport logging\n") and b"try:" in data
    data = latin.read_bytes()
    assert data.endswith(b"# caf\xe9\n") and b"try:" in data
    assert "\ttry:\n\t\tclose_things()\n\texcept Exception:\n" in tabs.read_text()
    assert (script.stat().st_mode & 0o777) == 0o750 and b"try:" in script.read_bytes()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_are_fixed_in_their_target_and_stay_links(tmp_path):
    tree = tmp_path / "tree"
    (tree / "real").mkdir(parents=True)
    target = tree / "real" / "app.py"
    target.write_text(TEARDOWN_APP)
    link = tree / "link.py"
    link.symlink_to(target)
    outside = tmp_path / "outside.py"
    outside.write_text(TEARDOWN_APP)
    (tree / "escape.py").symlink_to(outside)

    result = flaskleak("fix", "tree", cwd=tmp_path)
    assert link.is_symlink() and link.resolve() == target
    assert "try:" in target.read_text()
    assert outside.read_text() == TEARDOWN_APP  # outside the paths given: never written
    assert "escape.py: not fixed" in result.stderr
    assert result.returncode == 0, result.stderr

    (tree / "escape.py").unlink()
    named = tmp_path / "named.py"
    named.symlink_to(outside)
    result = flaskleak("fix", "named.py", cwd=tmp_path)  # the link itself was named
    assert result.returncode == 0, result.stderr
    assert named.is_symlink() and "try:" in outside.read_text()


def test_fix_reports_what_is_left(tmp_path):
    (tmp_path / "app.py").write_text(TEARDOWN_APP.replace("close_things()", "close_things()  # noqa"))
    (tmp_path / "broken.py").write_text("def (\n")
    result = flaskleak("fix", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert "broken.py:1:" in result.stderr and "nothing to fix" in result.stderr


# --- rules and explain --------------------------------------------------------------------------


def test_rules_table():
    result = flaskleak("rules", cwd=ROOT)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "FIX", "SUMMARY"]
    row = r"^FLK201\s+teardown-can-raise\s+safe\s+teardown function"
    assert re.search(row, result.stdout, re.M)
    assert re.search(r"^FLK000\s+stale-noqa\s+—\s+", result.stdout, re.M)
    assert re.search(r"^FLK900\s+internal-error\s+—\s+", result.stdout, re.M)
    assert len(lines) == len(ALL_RULES) + 3  # the header, FLK000 and FLK900


def test_explain_prints_the_rule_page(tmp_path):
    result = flaskleak("explain", "flk201", cwd=tmp_path)
    assert result.returncode == 0
    page = (ROOT / "rules" / "FLK201-teardown-can-raise.md").read_text(encoding="utf-8")
    assert result.stdout == page


def test_every_rule_has_a_page_where_helpuri_points():
    for rule in ALL_RULES:
        assert (PAGE_DIRECTORIES[0] / page_name(rule)).is_file(), rule.code


def test_every_package_is_listed_for_setuptools():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "flake8_flaskleak").rglob("__init__.py")
    }
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert config["package-dir"]["flake8_flaskleak.docs"] == "rules"


def test_progress_bar_only_on_a_terminal(monkeypatch):
    import io
    import time

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def slow(path):
        time.sleep(0.11)
        return path

    monkeypatch.setattr(runner, "PROGRESS_DELAY", 0.0)
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        assert runner.run_over_files(slow, ["a", "b", "c"], 1, "checking") == ["a", "b", "c"]
        assert ("checking [" in stream.getvalue()) is shown
        assert stream.getvalue().endswith("\r\033[K") is shown
