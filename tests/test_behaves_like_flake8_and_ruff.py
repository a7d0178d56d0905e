"""``flaskleak`` behaves like the tools users already know (issue 12, items 5 to 8), run as a
user runs it: ``flaskleak`` and ``flake8`` in subprocesses, on trees in a temp dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flake8_run import parse_output

TEARDOWN_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.teardown_appcontext
def shutdown_session(exc):
    close_things()
'''
GROWING_APP = '''\
from flask import Flask, request

app = Flask(__name__)
request_log = []


@app.route("/log")
def log():
    request_log.append(request.path)
    return "ok"
'''


def run(*command: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    environment.pop("FLASKLEAK_STRICT", None)
    result = subprocess.run(
        [sys.executable, *command], cwd=cwd, capture_output=True, text=True, timeout=120,
        input=stdin, env=environment,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def flaskleak(*arguments: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run("-m", "flake8_flaskleak", *arguments, cwd=cwd, stdin=stdin)


def flake8(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return run("-m", "flake8", "--select", "FLK", *arguments, cwd=cwd)


def reported(stdout: str) -> list[tuple[str, int, str]]:
    return [(path, line, code) for path, line, _, code, _ in parse_output(stdout)]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# --- 5. exclusion and per-file ignores ----------------------------------------------------------


def test_force_exclude_applies_the_exclusions_to_named_files(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[tool.flaskleak]\nexclude = ["legacy"]\n',
        "legacy/old_app.py": TEARDOWN_APP,
        "app.py": TEARDOWN_APP,
    })
    assert reported(flaskleak("check", ".", cwd=tmp_path).stdout) == [("app.py", 8, "FLK201")]
    # named on the command line: checked, as ruff and flake8 do (the user asked for it) ...
    result = flaskleak("check", "legacy/old_app.py", "app.py", cwd=tmp_path)
    assert [path for path, *_ in reported(result.stdout)] == ["app.py", "legacy/old_app.py"]
    # ... unless --force-exclude, as the pre-commit hooks pass it (they name every staged file)
    for arguments in (["--force-exclude"], []):
        if not arguments:
            (tmp_path / "pyproject.toml").write_text(
                '[tool.flaskleak]\nexclude = ["legacy"]\nforce-exclude = true\n'
            )
        result = flaskleak("check", *arguments, "legacy/old_app.py", "app.py", cwd=tmp_path)
        assert reported(result.stdout) == [("app.py", 8, "FLK201")], result.stdout
        result = flaskleak("fix", *arguments, "legacy/old_app.py", cwd=tmp_path)
        assert result.returncode == 0
        assert (tmp_path / "legacy/old_app.py").read_text() == TEARDOWN_APP


FLAKE8_SETTINGS_TREE = {
    "setup.cfg": (
        "[flake8]\n"
        "extend-ignore = E501,FLK305\n"
        "exclude = vendored\n"
        "per-file-ignores =\n"
        "    scripts/*: FLK201\n"
        "    manage.py: FLK301,E402\n"
    ),
    "app.py": TEARDOWN_APP + GROWING_APP.replace("from flask import Flask, request\n\n", "")
    .replace("app = Flask(__name__)\n", "from flask import request\n"),
    "manage.py": GROWING_APP + "\n\n" + TEARDOWN_APP.split("\n\n\n")[1],
    "scripts/cron.py": TEARDOWN_APP,
    "vendored/lib.py": TEARDOWN_APP,
    "logs.py": (
        "import logging\n\nfrom flask import Flask, request\n\napp = Flask(__name__)\n\n\n"
        '@app.route("/")\ndef index():\n    logging.getLogger(request.path).info("hit")\n'
        '    return "ok"\n'
    ),
}


def test_flaskleak_honours_flake8s_exclude_ignore_and_per_file_ignores(tmp_path):
    write(tmp_path, FLAKE8_SETTINGS_TREE)
    expected = reported(flake8(".", cwd=tmp_path).stdout)
    assert ("manage.py", 15, "FLK201") in expected and ("app.py", 8, "FLK201") in expected
    assert not any(path.startswith(("vendored", "scripts")) for path, *_ in expected)
    assert not any(code in ("FLK305", "FLK301") and path != "app.py" for path, _, code in expected)
    assert reported(flaskleak("check", ".", cwd=tmp_path).stdout) == expected


def test_per_file_ignores_in_tool_flaskleak(tmp_path):
    write(tmp_path, {
        "pyproject.toml": (
            '[tool.flaskleak.per-file-ignores]\n"scripts/*" = ["FLK201"]\n'
            '"manage.py" = "FLK3"\n'
        ),
        "scripts/cron.py": TEARDOWN_APP,
        "manage.py": GROWING_APP,
        "app.py": TEARDOWN_APP,
    })
    result = flaskleak("check", ".", cwd=tmp_path)
    assert reported(result.stdout) == [("app.py", 8, "FLK201")], result.stdout + result.stderr


# --- 6. configuration per file ------------------------------------------------------------------


def test_each_file_uses_its_nearest_configuration_however_it_is_called(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[tool.flaskleak]\nignore = ["FLK201"]\n',
        "app.py": TEARDOWN_APP,
        "services/api/pyproject.toml": '[tool.flaskleak]\nignore = ["FLK301"]\n',
        "services/api/app.py": TEARDOWN_APP + "\n\n" + GROWING_APP,
    })
    expected = [("services/api/app.py", 8, "FLK201")]
    for arguments in (["."], ["services"], ["services/api/app.py"], ["app.py", "services/api"]):
        result = flaskleak("check", *arguments, cwd=tmp_path)
        assert reported(result.stdout) == expected, (arguments, result.stdout)
    result = flaskleak("check", "app.py", cwd=tmp_path / "services" / "api")
    assert reported(result.stdout) == [("app.py", 8, "FLK201")]


def test_a_config_inside_a_package_does_not_split_the_project(tmp_path):
    """A tool's ``pyproject.toml`` inside a package is not a project root: the teardown in
    ``shop/app.py`` still removes the session ``shop/db/session.py`` creates (no FLK202)."""
    write(tmp_path, {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/db/__init__.py": "",
        "shop/db/pyproject.toml": "[tool.black]\nline-length = 100\n",
        "shop/db/session.py": (
            "from sqlalchemy.orm import scoped_session, sessionmaker\n\n"
            "db_session = scoped_session(sessionmaker())\n"
        ),
        "shop/app.py": (
            "from flask import Flask\n\nfrom shop.db.session import db_session\n\n"
            "app = Flask(__name__)\n\n\n@app.teardown_appcontext\ndef remove_session(exc):\n"
            "    try:\n        db_session.remove()\n    except Exception:\n"
            '        app.logger.exception("teardown failed")\n'
        ),
    })
    for cwd, path in ((tmp_path, "shop/db/session.py"), (tmp_path / "shop" / "db", "session.py")):
        assert flaskleak("check", path, cwd=cwd).stdout == ""
        assert flake8(path, cwd=cwd).stdout == ""


# --- 7. wrong input is an error, not silence ----------------------------------------------------


@pytest.mark.parametrize(
    "arguments, config, named",
    [
        (["--select", "XYZ"], None, "'XYZ' is not a flaskleak code"),
        (["--select", "FLK3O1"], None, "'FLK3O1' is not a flaskleak code"),
        (["--ignore", "FLK999"], None, "'FLK999' is not a flaskleak code"),
        (["--extend-select", "FLK7"], None, "'FLK7' is not a flaskleak code"),
        ([], '[tool.flaskleak]\nselect = ["FLK999"]\n', "select: 'FLK999'"),
        ([], '[tool.flaskleak]\nrequest-decorators = ["a", 1]\n', "request-decorators"),
        ([], "[tool.flaskleak]\ncache-maxsize = true\n", "cache-maxsize"),
        ([], "[tool.flaskleak]\ncache-maxsize = 2.5\n", "cache-maxsize"),
        ([], "[tool.flaskleak]\nproject-analysis = 1\n", "project-analysis"),
        ([], '[tool.flaskleak]\nper-file-ignores = ["x"]\n', "per-file-ignores"),
        ([], '[tool.flaskleak.per-file-ignores]\n"a.py" = ["FLK2O1"]\n', "'FLK2O1'"),
        (["--config", "setup.cfg"], None, "no such file"),
    ],
)
def test_wrong_input_is_one_line_and_exit_2(tmp_path, arguments, config, named):
    (tmp_path / "app.py").write_text(TEARDOWN_APP)
    if config:
        (tmp_path / "pyproject.toml").write_text(config)
    result = flaskleak("check", *arguments, "app.py", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_the_flake8_plugin_refuses_the_same_bad_values(tmp_path):
    (tmp_path / "app.py").write_text(TEARDOWN_APP)
    for config in ("cache-maxsize = true\n", 'request-decorators = ["a", 1]\n'):
        (tmp_path / "pyproject.toml").write_text("[tool.flaskleak]\n" + config)
        result = flake8("app.py", cwd=tmp_path)
        assert result.returncode != 0 and config.split(" ")[0] in result.stderr, result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize(
    "header", ["[ tool.flaskleak ]", '[tool."flaskleak"]', "[ tool . flaskleak ]"]
)
def test_any_spelling_of_the_table_is_read(tmp_path, header):
    (tmp_path / "app.py").write_text(TEARDOWN_APP)
    (tmp_path / "pyproject.toml").write_text(f'{header}\nignore = ["FLK201"]\n')
    result = flaskleak("check", "app.py", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


def test_config_names_a_flake8_file_or_a_pyproject(tmp_path):
    (tmp_path / "app.py").write_text(TEARDOWN_APP)
    (tmp_path / "ci.cfg").write_text("[flake8]\nextend-ignore = FLK201\n")
    (tmp_path / "ci.toml").write_text('[tool.flaskleak]\nignore = ["FLK2"]\n')
    (tmp_path / "other.cfg").write_text("[metadata]\nname = x\n")
    (tmp_path / "setup.cfg").write_text("[flake8]\nflaskleak-cache-maxsize = 8\n")
    assert flaskleak("check", "app.py", cwd=tmp_path).returncode == 1
    for config in ("ci.cfg", "ci.toml"):
        result = flaskleak("check", "--config", config, "app.py", cwd=tmp_path)
        assert (result.returncode, result.stdout) == (0, ""), result.stderr
    result = flaskleak("check", "--config", "other.cfg", "app.py", cwd=tmp_path)
    assert result.returncode == 2 and "has no [flake8] section" in result.stderr


def test_select_narrows_the_rules_not_the_stale_noqa_report(tmp_path):
    (tmp_path / "app.py").write_text(
        TEARDOWN_APP.replace("close_things()", "try:\n        close_things()\n    except "
                             "Exception:\n        pass  # noqa: FLK201")
    )
    for arguments in ([], ["--select", "FLK2"], ["--select", "FLK201"]):
        result = flaskleak("check", *arguments, "app.py", cwd=tmp_path)
        assert [code for *_, code in reported(result.stdout)] == ["FLK000"], arguments
    for arguments in (["--ignore", "FLK000"], ["--select", "FLK3"]):
        assert flaskleak("check", *arguments, "app.py", cwd=tmp_path).stdout == ""


# --- 8. the summary and the options users reach for ----------------------------------------------


@pytest.fixture
def two_apps(tmp_path: Path) -> Path:
    return write(tmp_path, {
        "teardown.py": TEARDOWN_APP,
        "views/growing.py": GROWING_APP,
        "views_extra.py": TEARDOWN_APP,
        "gunicorn.conf.py": "workers = 4\n",
    })


def test_summary_line(two_apps):
    result = flaskleak("check", ".", cwd=two_apps)
    assert result.stderr.splitlines()[-1] == (
        "flaskleak: 4 findings in 4 files (3 with --unsafe-fixes)"
    )
    result = flaskleak("check", "--unsafe-fixes", ".", cwd=two_apps)
    assert result.stderr.splitlines()[-1].endswith(
        "(3 fixable with `flaskleak fix --unsafe-fixes`)"
    )
    assert flaskleak("check", "-q", ".", cwd=two_apps).stderr == ""


def test_output_is_in_flake8s_order(two_apps):
    named = ("views_extra.py", "views", "teardown.py", "gunicorn.conf.py")
    result = flaskleak("check", *named, cwd=two_apps)
    flake8_result = flake8(*named, cwd=two_apps)
    assert [path for path, *_ in reported(result.stdout)] == [
        "gunicorn.conf.py", "teardown.py", "views/growing.py", "views_extra.py",
    ]
    assert reported(result.stdout) == reported(flake8_result.stdout)


def test_statistics_show_source_and_show_fixes(two_apps):
    result = flaskleak("check", "--statistics", "--show-source", "--show-fixes",
                       "teardown.py", "views/growing.py", cwd=two_apps)
    assert result.stdout.splitlines() == [
        "teardown.py:8:5: FLK201 " + result.stdout.split("FLK201 ")[1].split("\n")[0],
        "    close_things()",
        "    ^",
        "views/growing.py:9:5: FLK301 " + result.stdout.split("FLK301 ")[1].split("\n")[0],
        "    request_log.append(request.path)",
        "    ^",
        "1     FLK201 teardown-can-raise",
        "1     FLK301 global-mutable-grows-in-request",
    ]
    assert result.stdout.splitlines()[0].endswith(" [*unsafe]")
    assert not result.stdout.splitlines()[3].endswith("]")
    result = flaskleak("check", "--statistics", "--format", "json", ".", cwd=two_apps)
    assert result.returncode == 2 and "--format text" in result.stderr


def test_check_fix_diff_and_unsafe_fixes(two_apps):
    before = (two_apps / "teardown.py").read_text()
    result = flaskleak("check", "--diff", "teardown.py", cwd=two_apps)
    assert (result.returncode, result.stdout) == (0, "")  # the FLK201 fix is unsafe: no diff
    result = flaskleak("check", "--diff", "--unsafe-fixes", "teardown.py", cwd=two_apps)
    assert result.returncode == 1 and "+++ b/teardown.py" in result.stdout
    assert (two_apps / "teardown.py").read_text() == before
    result = flaskleak("check", "--fix", "--show-fixes", "teardown.py", "gunicorn.conf.py",
                       cwd=two_apps)
    assert result.returncode == 1  # both fixes are unsafe: left
    assert [code for *_, code in reported(result.stdout)] == ["FLK501", "FLK201"]
    assert (two_apps / "teardown.py").read_text() == before
    result = flaskleak("check", "--fix", "--unsafe-fixes", "--show-fixes", "teardown.py",
                       "gunicorn.conf.py", cwd=two_apps)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert "fixed teardown.py: FLK201" in result.stderr
    assert "try:" in (two_apps / "teardown.py").read_text()
    assert "max_requests" in (two_apps / "gunicorn.conf.py").read_text()


def test_extend_select_and_output_format(two_apps):
    (two_apps / "pyproject.toml").write_text('[tool.flaskleak]\nselect = ["FLK3"]\n')
    assert [c for *_, c in reported(flaskleak("check", ".", cwd=two_apps).stdout)] == ["FLK301"]
    result = flaskleak("check", "--extend-select", "FLK5", "--output-format", "json", ".",
                       cwd=two_apps)
    assert sorted(item["code"] for item in json.loads(result.stdout)) == ["FLK301", "FLK501"]


def test_verbose_and_no_cache(two_apps):
    (two_apps / "pyproject.toml").write_text('[project]\nname = "svc"\n')
    result = flaskleak("check", "-v", "--no-cache", "teardown.py", cwd=two_apps)
    assert "teardown.py: configuration from defaults" in result.stderr, result.stderr
    assert not (two_apps / ".flaskleak_cache").exists()
    flaskleak("check", "teardown.py", cwd=two_apps)
    assert (two_apps / ".flaskleak_cache").exists()


def test_standard_input_for_editors(two_apps):
    source = (two_apps / "gunicorn.conf.py").read_text()
    result = flaskleak("check", "--stdin-filename", "deploy/gunicorn.conf.py", "-",
                       cwd=two_apps, stdin=source)
    assert reported(result.stdout) == [("deploy/gunicorn.conf.py", 1, "FLK501")], result.stderr
    result = flaskleak("check", "-", cwd=two_apps, stdin=source)  # no name: not a Gunicorn config
    assert (result.returncode, result.stdout) == (0, "")
    result = flaskleak("fix", "--unsafe-fixes", "--stdin-filename", "teardown.py", "-",
                       cwd=two_apps, stdin=TEARDOWN_APP)
    assert result.returncode == 0 and "    try:\n        close_things()\n" in result.stdout
    assert (two_apps / "teardown.py").read_text() == TEARDOWN_APP  # stdin is not the file


def test_explain_by_name_and_add_noqa_honours_the_format(two_apps):
    by_code = flaskleak("explain", "FLK201", cwd=two_apps).stdout
    assert flaskleak("explain", "teardown-can-raise", cwd=two_apps).stdout == by_code
    result = flaskleak("explain", "no-such-rule", cwd=two_apps)
    assert result.returncode == 2 and "flaskleak rules" in result.stderr
    (two_apps / "teardown.py").write_text('x = """\n# noqa\n""" ; y = 1\n' + TEARDOWN_APP)
    result = flaskleak("check", "--add-noqa", "--format", "json", "-o", "left.json", ".",
                       cwd=two_apps)
    assert result.stdout == ""
    assert isinstance(json.loads((two_apps / "left.json").read_text()), list)


def test_fix_and_check_agree_on_stale_noqa(tmp_path):
    stale = GROWING_APP.replace('return "ok"', 'return "ok"  # noqa: FLK402')
    (tmp_path / "app.py").write_text(stale)
    check = flaskleak("check", "app.py", cwd=tmp_path)
    fix = flaskleak("fix", "app.py", cwd=tmp_path)
    assert reported(check.stdout) == reported(fix.stdout)
    assert {code for *_, code in reported(check.stdout)} == {"FLK000", "FLK301"}
    assert re.search(r"app\.py:10:\d+: FLK000", check.stdout)
