"""What the fixes read to decide whether a rewrite keeps behaviour: the project's pins, star
imports, and where a blueprint is registered."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flake8_flaskleak.model.pins import Support, project_mentions, supports

SESSION = (1, 4)


def pins(tmp_path: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    project_mentions.cache_clear()
    return str(tmp_path)


@pytest.mark.parametrize(
    "files, support",
    [
        ({"requirements.txt": "SQLAlchemy==1.4.52\n"}, Support.YES),
        ({"requirements.txt": "sqlalchemy>=2.0,<2.1  # the ORM\n"}, Support.YES),
        ({"requirements.txt": "SQLAlchemy==1.3.24 \\\n    --hash=sha256:00\n"}, Support.NO),
        ({"requirements.txt": "sqlalchemy<1.4\n"}, Support.NO),
        ({"requirements.txt": "sqlalchemy>=1.3\n"}, Support.UNKNOWN),
        ({"requirements.txt": "sqlalchemy\n"}, Support.UNKNOWN),
        ({"requirements.txt": "flask\n"}, Support.UNKNOWN),
        ({"requirements/base.txt": "SQLAlchemy~=1.4.0\n"}, Support.YES),
        ({"requirements-dev.in": "sqlalchemy[asyncio]==2.0.1 ; python_version>'3.8'\n"},
         Support.YES),
        ({"pyproject.toml": '[project]\ndependencies = ["SQLAlchemy>=1.4"]\n'}, Support.YES),
        ({"pyproject.toml": '[project.optional-dependencies]\ndb = ["sqlalchemy==1.3.1"]\n'},
         Support.NO),
        ({"pyproject.toml": '[tool.poetry.dependencies]\nsqlalchemy = "^1.4"\n'}, Support.YES),
        ({"pyproject.toml": '[tool.poetry.dependencies]\nsqlalchemy = {version = "1.3.0"}\n'},
         Support.NO),
        ({"setup.cfg": "[options]\ninstall_requires =\n    flask\n    SQLAlchemy>=1.4.2\n"},
         Support.YES),
        ({"setup.py": "from setuptools import setup\nsetup(install_requires=['sqlalchemy<1.4'])\n"},
         Support.NO),
        ({"Pipfile": '[packages]\nsqlalchemy = "==2.0.1"\n'}, Support.YES),
        ({"Pipfile.lock": json.dumps({"default": {"sqlalchemy": {"version": "==1.3.5"}}})},
         Support.NO),
        ({"poetry.lock": '[[package]]\nname = "SQLAlchemy"\nversion = "2.0.30"\n'}, Support.YES),
        ({"uv.lock": '[[package]]\nname = "sqlalchemy"\nversion = "1.3.24"\n',
          "requirements.txt": "sqlalchemy>=1.4\n"}, Support.NO),  # the lock decides
        ({"requirements.txt": "sqlalchemy==2.0.1\n", "requirements-old.txt": "sqlalchemy==1.3\n"},
         Support.UNKNOWN),  # pinned both ways
        ({"requirements.txt": "Flask-SQLAlchemy==3.0.5\n"}, Support.YES),  # needs 1.4.18
        ({"requirements.txt": "git+https://example.org/sqlalchemy.git#egg=sqlalchemy\n"},
         Support.UNKNOWN),
        ({"pyproject.toml": "[project\nbroken"}, Support.UNKNOWN),
    ],
)
def test_what_the_pins_say(tmp_path, files, support):
    assert supports(pins(tmp_path, files), "SQLAlchemy", SESSION).support is support


def test_no_project_folder_is_unknown():
    assert supports(None, "SQLAlchemy", SESSION).support is Support.UNKNOWN


def test_the_evidence_names_the_file(tmp_path):
    answer = supports(pins(tmp_path, {"requirements.txt": "SQLAlchemy==1.3.24\n"}), "sqlalchemy",
                      SESSION)
    assert answer.evidence == "SQLAlchemy==1.3.24 (requirements.txt)"


# --- through the command, with the whole-project analysis ------------------------------------


def flaskleak(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8_flaskleak", *arguments], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))


BLUEPRINT = '''\
    from flask import Blueprint, jsonify
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import scoped_session, sessionmaker

    reports = Blueprint("reports", __name__)
    warehouse = scoped_session(sessionmaker(bind=create_engine("sqlite://")))


    @reports.route("/daily")
    def daily():
        return jsonify(warehouse.execute(text("SELECT 1")).scalar())
    '''


def test_a_blueprint_registered_in_another_module_gets_the_teardown(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": '''\
            from flask import Flask


            def create_app():
                app = Flask(__name__)
                from .reports import reports
                app.register_blueprint(reports)
                return app
            ''',
        "shop/reports.py": BLUEPRINT,
    })
    result = flaskleak("fix", "--diff", "--unsafe-fixes", "shop/reports.py", cwd=tmp_path)
    assert "+@reports.teardown_app_request\n" in result.stdout, result.stdout + result.stderr
    assert "FLK202 would fix (unsafe): a teardown on `reports.teardown_app_request`" \
        in result.stderr


def test_a_blueprint_nothing_registers_gets_no_teardown(tmp_path):
    write(tmp_path, {"pyproject.toml": '[project]\nname = "shop"\n', "shop/__init__.py": "",
                     "shop/reports.py": BLUEPRINT})
    result = flaskleak("fix", "--diff", "--unsafe-fixes", "shop/reports.py", cwd=tmp_path)
    assert result.stdout == ""
    assert "is registered on no app this project shows" in result.stderr


def test_a_star_import_read_through_the_project(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[project]\nname = "deploy"\n',
        "deploy/__init__.py": "",
        "deploy/defaults.py": "timeout = 30\n",
        "deploy/gunicorn_conf.py": "from .defaults import *  # noqa: F403\n\nworkers = 2\n",
    })
    result = flaskleak("fix", "--diff", "--unsafe-fixes", "deploy/gunicorn_conf.py", cwd=tmp_path)
    assert "+max_requests = 1000\n" in result.stdout, result.stderr  # defaults sets neither
    (tmp_path / "deploy" / "defaults.py").write_text("timeout = 30\nmax_requests = 400\n")
    result = flaskleak("fix", "--diff", "--unsafe-fixes", "deploy/gunicorn_conf.py", cwd=tmp_path)
    assert result.stdout == ""
    assert "`from .defaults import *` (line 1) sets `max_requests`" in result.stderr


def test_a_refusal_names_the_value_computed_from_the_resource(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[project]\nname = "shop"\ndependencies = ["SQLAlchemy>=2.0"]\n',
        "views.py": '''\
            from flask import Flask
            from sqlalchemy import create_engine, text

            app = Flask(__name__)
            engine = create_engine("sqlite://")


            @app.route("/report")
            def report():
                conn = engine.connect()
                rows = conn.execute(text("SELECT 1"))
                if rows is None:
                    conn.close()
                return {"rows": [list(row) for row in rows]}
            ''',
    })
    result = flaskleak("fix", "--diff", "views.py", cwd=tmp_path)
    assert result.stdout == ""
    assert ("views.py:10:5: FLK401 no fix: `rows`, computed from `conn`, is used on line 14, "
            "after the `with` would have closed `conn` (the block would end at line 13)"
            ) in result.stderr, result.stderr
