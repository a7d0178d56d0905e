"""Which files FLK501/FLK502 treat as Gunicorn config modules, and what they find in odd ones."""

from __future__ import annotations

import ast

import pytest

from flake8_flaskleak.engine import analyse
from flake8_flaskleak.model.gunicorn import is_gunicorn_config
from flake8_flaskleak.options import Options

SETTINGS = "bind = '0.0.0.0:8000'\nworkers = 4\n"


@pytest.mark.parametrize(
    "path, options, expected",
    [
        ("deploy/gunicorn.conf.py", Options(), True),
        ("gunicorn_conf.py", Options(), True),
        ("config/gunicorn_prod.py", Options(), True),
        ("app/views.py", Options(), False),
        ("test_gunicorn.py", Options(), False),
        ("deploy/web.py", Options(gunicorn_configs=("web.py",)), True),
        ("deploy/web_prod.py", Options(gunicorn_configs=("web_*.py",)), True),
        ("deploy/server/settings.py", Options(gunicorn_configs=("deploy/server/*.py",)), True),
        ("deploy/server/settings.py", Options(gunicorn_configs=("server/settings.py",)), True),
        ("other/settings.py", Options(gunicorn_configs=("server/settings.py",)), False),
    ],
)
def test_config_paths(path, options, expected):
    assert is_gunicorn_config(path, options, ast.parse(SETTINGS)) is expected


def test_loose_name_needs_a_setting():
    helper = "from gunicorn.app.base import BaseApplication\n"
    assert not is_gunicorn_config("gunicorn_app.py", Options(), ast.parse(helper))
    assert is_gunicorn_config("gunicorn_app.py", Options(), ast.parse(SETTINGS))


def codes(text: str, path: str, options: Options | None = None) -> list[tuple[int, str]]:
    findings = analyse(ast.parse(text), text, path, options, project=None)
    return [(f.line, f.code) for f in findings]


def test_empty_default_config_is_reported_at_line_one():
    assert codes("", "gunicorn.conf.py") == [(1, "FLK501")]


def test_option_config_is_checked():
    assert codes(SETTINGS, "deploy/web.py") == []
    assert codes(SETTINGS, "deploy/web.py", Options(gunicorn_configs=("web.py",))) == [
        (1, "FLK501")
    ]


def test_settings_inside_functions_do_not_count():
    text = SETTINGS + "def on_starting(server):\n    max_requests = 10\n"
    assert codes(text, "gunicorn.conf.py") == [(1, "FLK501")]


def test_jitter_from_literal_limit():
    findings = analyse(ast.parse("max_requests = 400\n"), "max_requests = 400\n",
                       "gunicorn.conf.py", project=None)
    assert [f.code for f in findings] == ["FLK502"]
    assert "max_requests_jitter = 20" in findings[0].message
