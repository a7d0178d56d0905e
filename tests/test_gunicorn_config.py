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


CONTENT = (
    '"""Server settings."""\n'
    "import multiprocessing\n"
    "bind = '0.0.0.0:8000'\n"
    "workers = multiprocessing.cpu_count() * 2 + 1\n"
    "timeout = 30\n"
)


def test_config_recognised_by_content_whatever_its_name():
    assert codes(CONTENT, "deploy/web.py") == [(1, "FLK501")]
    assert codes(CONTENT + "max_requests = 500\n", "deploy/web.py") == [(6, "FLK502")]


@pytest.mark.parametrize(
    "extra",
    [
        "from .defaults import PORT\n",  # imports from the application
        "import billing.defaults\n",  # outside the standard library, no project to tell
        "class Worker:\n    pass\n",  # a class: a module of its own, not settings
        "print(bind)\n",  # runs something at import
        "a = b = c = d = 1\n",  # more other names than settings
        "keep_alive_timeout = 5  # hypercorn\n",  # another server's config
    ],
)
def test_content_that_is_not_a_gunicorn_config(extra):
    assert codes(CONTENT + extra, "deploy/web.py") == []


def test_two_settings_are_not_enough():
    assert codes("bind = 'x'\nworkers = 2\n", "deploy/web.py") == []


@pytest.mark.parametrize("value", ["0", "'0'", "None", "False", "0.0"])
def test_max_requests_zero_is_the_same_as_unset(value):
    text = f"bind = 'x'\nmax_requests = {value}\nmax_requests_jitter = 50\n"
    assert codes(text, "gunicorn.conf.py") == [(2, "FLK501")]
