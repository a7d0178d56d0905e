"""Linting an untrusted repository runs none of its code (SPEC: "What bad input gets").

Every module of the repository below would, if imported or executed, write a marker file and
kill the process with ``os._exit(3)``: the project files tools like to import (``conftest.py``,
``setup.py``, ``gunicorn.conf.py``, package ``__init__.py`` files, a config module) and the
modules whole-project analysis and astroid are asked about (a config class whose base is in
another module, a ``threading.local`` subclass defined elsewhere).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flake8_run import assert_no_traceback

PAYLOAD = """\
import os as _os
import pathlib as _pathlib
_pathlib.Path({marker!r}).write_text(__name__)
_os._exit(3)
"""

MODULES = {
    "conftest.py": "import pytest\n",
    "setup.py": "from setuptools import setup\nsetup(name='svc')\n",
    "gunicorn.conf.py": "bind = '0.0.0.0:8000'\nworkers = 4\nmax_requests = 1000\n",
    "svc/__init__.py": "from .app import app\n",
    "svc/base_config.py": (
        "class BaseConfig:\n"
        "    SQLALCHEMY_RECORD_QUERIES = True\n"
        "    SQLALCHEMY_COMMIT_ON_TEARDOWN = True\n"
    ),
    "svc/config.py": (
        "from svc.base_config import BaseConfig\n\n\n"
        "class ProductionConfig(BaseConfig):\n"
        "    DEBUG = False\n"
    ),
    "svc/state.py": (
        "import threading\n\n\n"
        "class RequestState(threading.local):\n"
        "    user = None\n"
    ),
    "svc/helpers.py": (
        "request_log = []\n\n\n"
        "def remember(path):\n"
        "    request_log.append(path)\n"
    ),
    "svc/app.py": (
        "from flask import Flask, request\n\n"
        "from svc.config import ProductionConfig\n"
        "from svc.helpers import remember\n"
        "from svc.state import RequestState\n\n"
        "app = Flask(__name__)\n"
        "app.config.from_object(ProductionConfig)\n"
        "state = RequestState()\n\n\n"
        "@app.route('/items')\n"
        "def items():\n"
        "    state.user = request.args.get('user')\n"
        "    remember(request.path)\n"
        "    handle = open('/tmp/items.txt')\n"
        "    return handle.read()\n\n\n"
        "@app.teardown_appcontext\n"
        "def shutdown(exc):\n"
        "    close_things()\n"
    ),
    "svc/plugins/__init__.py": "",
    "svc/plugins/extra.py": "from svc.state import RequestState\n",
}


@pytest.fixture
def untrusted_repository(tmp_path: Path) -> tuple[Path, Path]:
    repository = tmp_path / "repo"
    marker = tmp_path / "EXECUTED"
    payload = PAYLOAD.format(marker=str(marker))
    for name, body in MODULES.items():
        path = repository / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(payload + body)
    (repository / "pyproject.toml").write_text('[project]\nname = "svc"\n\n[tool.flaskleak]\n')
    return repository, marker


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert_no_traceback(result)
    return result


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "flake8", "--select", "FLK", "."],
        ["-m", "flake8_flaskleak", "check", "."],
        ["-m", "flake8_flaskleak", "fix", "--diff", "--unsafe-fixes", "."],
    ],
    ids=["flake8", "check", "fix-diff"],
)
def test_no_code_of_the_repository_runs(untrusted_repository, command):
    repository, marker = untrusted_repository
    result = run([sys.executable, *command], repository)
    assert not marker.exists(), f"{marker.read_text()} was executed"
    assert result.returncode == 1, result.stdout + result.stderr  # findings, not a crash (3)
    assert "FLK" in result.stdout or "+++ b/" in result.stdout
    if command[1] == "flake8_flaskleak" and command[2] == "check":
        # the cross-module questions were asked (astroid: the thread-local subclass and the
        # config's base class), so the modules were read, just not run
        assert "svc/app.py:18:5: FLK203" in result.stdout, result.stdout
        assert "svc/config.py:8:1: FLK101" in result.stdout, result.stdout
