"""FLK301/FLK302 with the whole-project index: a helper module grown by another module's route."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from flake8_flaskleak.model import project as project_module
from flake8_flaskleak.engine import analyse
from flake8_flaskleak.options import Options

HELPERS = '''\
events = []
_seen = {}


class Registry:
    handlers = []

    @classmethod
    def add(cls, handler):
        cls.handlers.append(handler)


def log_event(name):
    events.append(name)


def remember(key, value):
    _seen[key] = value


def forget_all():
    _seen.clear()
'''
VIEWS = '''\
from flask import Blueprint, request

from .helpers import Registry, log_event, remember

bp = Blueprint("shop", __name__)


@bp.route("/buy")
def buy():
    log_event(request.path)
    remember(request.path, request.args.to_dict())
    Registry.add(request.args["hook"])
    return "ok"
'''


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "views.py").write_text(VIEWS)
    project_module._indexes.clear()
    project_module._roots.clear()
    yield package
    project_module._indexes.clear()
    project_module._roots.clear()


def findings(path: Path, options: Options | None = None) -> list[tuple[int, str, str]]:
    text = path.read_text()
    return [
        (finding.line, finding.code, finding.message)
        for finding in analyse(ast.parse(text), text, str(path), options or Options())
    ]


def test_growth_in_a_helper_reached_from_another_modules_route(shop: Path):
    found = findings(shop / "helpers.py")
    assert [(line, code) for line, code, _ in found] == [(10, "FLK302"), (14, "FLK301")]
    message = found[1][2]
    assert "`events`" in message and "route '/buy' `buy` in shop/views.py" in message


def test_without_project_analysis_the_helper_module_is_not_reported(shop: Path):
    assert findings(shop / "helpers.py", Options(project_analysis=False)) == []
