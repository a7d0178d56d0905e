"""The plugin as users run it: the real flake8, in a subprocess, on files in a temporary tree.

This proves the wiring the in-process fixture harness cannot: the ``flake8.extension`` entry
point, option registration and config reading, ``noqa``, select/ignore, per-file-ignores,
flake8's own handling of bad input, and its multiprocessing.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from flake8_run import (
    assert_no_traceback,
    describe,
    expected_in_tree,
    parse_output,
    reported,
    run_flake8,
)
from markers import RULE_FIXTURES

from flake8_flaskleak.engine import RULES_BY_CODE

TEARDOWN_APP = textwrap.dedent(
    '''\
    """A tiny service with one teardown that can raise."""
    from flask import Flask

    from .db import db_session

    app = Flask(__name__)


    @app.teardown_appcontext
    def shutdown_session(exception=None):
        db_session.remove(){comment}
    '''
)
TEARDOWN_LINE, TEARDOWN_COL = 11, 4  # 1-based line, 0-based column of `db_session.remove()`

ALL_OPTIONS = (
    "--flaskleak-production-patterns=prod,live,release",
    "--flaskleak-development-patterns=dev,local,test",
    "--flaskleak-request-decorators=api_view,myapp.auth.login_required",
    "--flaskleak-gunicorn-configs=deploy/gunicorn_*.py,*web_settings.py",
    "--flaskleak-cache-maxsize=512",
    "--flaskleak-project-analysis=false",
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def teardown_file(tmp_path: Path, name: str = "service.py", comment: str = "") -> Path:
    return write(tmp_path / name, TEARDOWN_APP.format(comment=comment))


def codes(stdout: str) -> list[str]:
    return [code for _path, _line, _col, code, _text in parse_output(stdout)]


# -- the whole fixture tree, one run ----------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("flake8-tree")
    shutil.copytree(RULE_FIXTURES, root / "rules")
    return root


# Rule fixtures are judged one file at a time, as tests/test_rule_fixtures.py does.
TREE_RUN = ("--isolated", "--select", "FLK", "--flaskleak-project-analysis=false")


def test_fixture_tree_gives_exactly_the_markers(fixture_tree):
    result = run_flake8(*TREE_RUN, "-j", "1", "rules", cwd=fixture_tree)
    assert_no_traceback(result)
    actual = reported(result.stdout)
    expected = expected_in_tree(fixture_tree / "rules", "rules")
    missing, extra = expected - actual, actual - expected
    assert not missing and not extra, f"\nmissing:\n{describe(missing)}\nextra:\n{describe(extra)}"
    assert result.returncode == (1 if expected else 0)


def test_parallel_jobs_give_the_same_findings(fixture_tree):
    serial = run_flake8(*TREE_RUN, "-j", "1", "rules", cwd=fixture_tree)
    parallel = run_flake8(*TREE_RUN, "-j", "2", "rules", cwd=fixture_tree)
    assert_no_traceback(parallel)
    assert parallel.returncode == serial.returncode
    assert sorted(parse_output(parallel.stdout)) == sorted(parse_output(serial.stdout))


def test_parallel_jobs_read_the_plugin_options(tmp_path):
    teardown_file(tmp_path, "one.py")
    teardown_file(tmp_path, "two.py")
    result = run_flake8("--isolated", "--select", "FLK", "-j", "2", *ALL_OPTIONS, ".", cwd=tmp_path)
    assert_no_traceback(result)
    assert codes(result.stdout) == ["FLK201", "FLK201"]


# -- positions --------------------------------------------------------------------------------


def test_line_and_column_of_a_finding(tmp_path):
    teardown_file(tmp_path)
    result = run_flake8("--isolated", "--select", "FLK", "service.py", cwd=tmp_path)
    assert_no_traceback(result)
    [(path, line, col, code, text)] = parse_output(result.stdout)
    assert (path, line, col, code) == ("service.py", TEARDOWN_LINE, TEARDOWN_COL + 1, "FLK201")
    assert "shutdown_session" in text and "\n" not in text
    assert result.returncode == 1


# -- noqa, select, ignore, per-file-ignores ---------------------------------------------------


@pytest.mark.parametrize("comment", ["  # noqa: FLK201", "  # noqa:FLK201,E501", "  # noqa"])
def test_noqa_suppresses(tmp_path, comment):
    teardown_file(tmp_path, comment=comment)
    result = run_flake8("--isolated", "--select", "FLK", "service.py", cwd=tmp_path)
    assert_no_traceback(result)
    assert result.stdout == ""
    assert result.returncode == 0


def test_noqa_for_another_code_does_not_suppress(tmp_path):
    teardown_file(tmp_path, comment="  # noqa: FLK202")
    result = run_flake8("--isolated", "--select", "FLK", "service.py", cwd=tmp_path)
    assert codes(result.stdout) == ["FLK201"]


def test_disable_noqa_reports_anyway(tmp_path):
    teardown_file(tmp_path, comment="  # noqa: FLK201")
    result = run_flake8(
        "--isolated", "--select", "FLK", "--disable-noqa", "service.py", cwd=tmp_path
    )
    assert codes(result.stdout) == ["FLK201"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (("--select", "FLK201"), ["FLK201"]),
        (("--select", "FLK2"), ["FLK201"]),
        (("--select", "FLK202"), []),
        (("--select", "FLK", "--extend-ignore", "FLK2"), []),
        (("--select", "FLK", "--extend-ignore", "FLK201"), []),
        (("--select", "FLK", "--extend-ignore", "FLK3"), ["FLK201"]),
        (("--select", "E9", "--extend-select", "FLK201"), ["FLK201"]),
        (("--select", "E,W"), []),
    ],
)
def test_select_and_ignore(tmp_path, arguments, expected):
    teardown_file(tmp_path)
    result = run_flake8("--isolated", *arguments, "service.py", cwd=tmp_path)
    assert_no_traceback(result)
    assert [c for c in codes(result.stdout) if c.startswith("FLK")] == expected


def test_per_file_ignores_on_the_command_line(tmp_path):
    teardown_file(tmp_path, "ignored.py")
    teardown_file(tmp_path, "checked.py")
    result = run_flake8(
        "--isolated", "--select", "FLK", "--per-file-ignores=ignored.py:FLK201", ".", cwd=tmp_path
    )
    assert_no_traceback(result)
    assert {(path, code) for path, _l, _c, code, _t in parse_output(result.stdout)} == {
        ("checked.py", "FLK201")
    }


def test_per_file_ignores_in_the_config(tmp_path):
    teardown_file(tmp_path, "app/teardowns.py")
    teardown_file(tmp_path, "app/views.py")
    write(
        tmp_path / ".flake8",
        "[flake8]\nselect = FLK\nper-file-ignores =\n    app/teardowns.py: FLK2\n",
    )
    result = run_flake8("app", cwd=tmp_path)
    assert_no_traceback(result)
    assert reported(result.stdout) == {("app/views.py", TEARDOWN_LINE, "FLK201")}


# -- bad input --------------------------------------------------------------------------------


def test_syntax_error_is_flake8s_e999_and_the_run_goes_on(tmp_path):
    write(tmp_path / "broken.py", "from flask import Flask\n\ndef create_app(:\n    pass\n")
    teardown_file(tmp_path, "fine.py")
    result = run_flake8("--isolated", "--select", "FLK,E9", "-j", "1", ".", cwd=tmp_path)
    assert_no_traceback(result)
    found = {(path, code) for path, _line, _col, code, _text in parse_output(result.stdout)}
    assert found == {("broken.py", "E999"), ("fine.py", "FLK201")}
    assert result.returncode == 1


def test_empty_and_odd_files_do_not_crash(tmp_path):
    write(tmp_path / "empty.py", b"")
    write(tmp_path / "only_comment.py", b"# nothing here\n")
    write(tmp_path / "blank_lines.py", b"\n\n\r\n")
    write(tmp_path / "__init__.py", b"")
    latin = (
        '# -*- coding: latin-1 -*-\n"""Caf\xe9 service."""\n'
        "from flask import Flask\n\napp = Flask(__name__)\n"
    )
    write(tmp_path / "latin.py", latin.encode("latin-1"))
    tabs = "from flask import Flask\napp = Flask(__name__)\n\n@app.teardown_request\n"
    tabs += "def t(e):\n\tpass\n"
    write(tmp_path / "tabs.py", tabs)
    result = run_flake8("--isolated", "--select", "FLK", ".", cwd=tmp_path)
    assert_no_traceback(result)
    assert result.stdout == ""
    assert result.returncode == 0, result.stderr


def test_bom_and_crlf_file_is_checked_at_the_right_line(tmp_path):
    source = TEARDOWN_APP.format(comment="").replace("\n", "\r\n")
    write(tmp_path / "windows.py", b"\xef\xbb\xbf" + source.encode("utf-8"))
    result = run_flake8("--isolated", "--select", "FLK", "windows.py", cwd=tmp_path)
    assert_no_traceback(result)
    [(path, line, col, code, _text)] = parse_output(result.stdout)
    assert (line, col, code) == (TEARDOWN_LINE, TEARDOWN_COL + 1, "FLK201")


# -- plugin options ---------------------------------------------------------------------------


def test_plugin_options_are_accepted_on_the_command_line(tmp_path):
    teardown_file(tmp_path)
    result = run_flake8("--isolated", "--select", "FLK", *ALL_OPTIONS, "service.py", cwd=tmp_path)
    assert_no_traceback(result)
    assert "unrecognized" not in result.stderr, result.stderr
    assert codes(result.stdout) == ["FLK201"]


def test_plugin_options_are_listed_in_help(tmp_path):
    result = run_flake8("--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ALL_OPTIONS:
        assert option.split("=")[0] in result.stdout


CONFIG = """\
[flake8]
select = FLK
flaskleak-production-patterns = prod, live
flaskleak-development-patterns =
    dev
    local
flaskleak-request-decorators = api_view
flaskleak-gunicorn-configs = deploy/gunicorn_*.py
flaskleak-cache-maxsize = {maxsize}
flaskleak-project-analysis = false
"""


@pytest.mark.parametrize("config_name", [".flake8", "setup.cfg", "tox.ini"])
def test_plugin_options_are_read_from_the_flake8_config(tmp_path, config_name):
    teardown_file(tmp_path)
    write(tmp_path / config_name, CONFIG.format(maxsize=512))
    result = run_flake8("service.py", cwd=tmp_path)
    assert_no_traceback(result)
    assert codes(result.stdout) == ["FLK201"]
    assert result.returncode == 1


@pytest.mark.parametrize("config_name", [".flake8", "setup.cfg"])
def test_bad_option_in_the_config_is_reported_in_one_line(tmp_path, config_name):
    """A bad value proves the config is read: the plugin names the option and stops."""
    teardown_file(tmp_path)
    write(tmp_path / config_name, CONFIG.format(maxsize="lots"))
    result = run_flake8("service.py", cwd=tmp_path)
    assert result.returncode != 0
    assert "cache-maxsize" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_on_the_command_line(tmp_path):
    teardown_file(tmp_path)
    result = run_flake8(
        "--isolated", "--flaskleak-project-analysis=maybe", "service.py", cwd=tmp_path
    )
    assert result.returncode != 0
    assert "project-analysis" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_line_wins_over_the_config(tmp_path):
    teardown_file(tmp_path)
    write(tmp_path / "setup.cfg", CONFIG.format(maxsize="lots"))
    result = run_flake8("--flaskleak-cache-maxsize=64", "service.py", cwd=tmp_path)
    assert_no_traceback(result)
    assert codes(result.stdout) == ["FLK201"]


def requires_rule(code: str):
    return pytest.mark.skipif(code not in RULES_BY_CODE, reason=f"{code} is not implemented yet")


@requires_rule("FLK501")
def test_gunicorn_configs_option_takes_effect(tmp_path):
    write(tmp_path / "deploy" / "web_settings.py", 'bind = "0.0.0.0:8000"\nworkers = 4\n')
    plain = run_flake8("--isolated", "--select", "FLK", "deploy", cwd=tmp_path)
    assert plain.stdout == ""
    configured = run_flake8(
        "--isolated", "--select", "FLK", "--flaskleak-gunicorn-configs=*web_settings.py",
        "deploy", cwd=tmp_path,
    )
    assert_no_traceback(configured)
    assert codes(configured.stdout) == ["FLK501"]


@requires_rule("FLK305")
def test_request_decorators_option_takes_effect(tmp_path):
    write(
        tmp_path / "handlers.py",
        textwrap.dedent(
            """\
            import logging

            from myframework import api_view


            @api_view("/audit/<user>")
            def audit(user):
                logging.getLogger(f"audit.{user}").info("seen")
            """
        ),
    )
    plain = run_flake8("--isolated", "--select", "FLK", "handlers.py", cwd=tmp_path)
    assert plain.stdout == ""
    configured = run_flake8(
        "--isolated", "--select", "FLK", "--flaskleak-request-decorators=api_view",
        "handlers.py", cwd=tmp_path,
    )
    assert_no_traceback(configured)
    assert codes(configured.stdout) == ["FLK305"]
