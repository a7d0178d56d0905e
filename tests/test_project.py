"""Whole-project analysis: request-time code followed across modules, cached on disk."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from flake8_flaskleak.model import project as project_module
from flake8_flaskleak.options import Options
from flake8_flaskleak.model.file import FileModel

PROJECTS = Path(__file__).parent / "fixtures" / "projects"


@pytest.fixture
def split_logger(tmp_path):
    target = tmp_path / "split_logger"
    shutil.copytree(
        PROJECTS / "split_logger", target, ignore=shutil.ignore_patterns(".flaskleak_cache")
    )
    project_module._indexes.clear()
    project_module._roots.clear()
    yield target
    project_module._indexes.clear()
    project_module._roots.clear()


@pytest.fixture
def parsed_modules(monkeypatch) -> list[str]:
    """The file names of the modules the project index parses from now on, in order."""
    parsed: list[str] = []
    original = project_module.ProjectIndex._model

    def counting(self, relative):
        parsed.append(Path(relative).name)
        return original(self, relative)

    monkeypatch.setattr(project_module.ProjectIndex, "_model", counting)
    return parsed


def request_time_of(path: Path, options: Options | None = None) -> dict[str, str]:
    text = path.read_text()
    options = options or Options()
    project = project_module.project_for(str(path), options)
    analysis = FileModel(ast.parse(text), text, str(path), options, project)
    return {fn.name: reach.describe() for fn, reach in analysis.flask.request_time.items()}


def test_functions_called_from_another_modules_route_are_request_time(split_logger):
    reached = request_time_of(split_logger / "svc" / "logctx.py")
    assert reached == {
        "bind_logger": "route '/orders' `list_orders` in svc/api.py via `bind_logger`"
    }
    assert set(request_time_of(split_logger / "svc" / "audit.py")) == {"record", "_write"}


def test_imported_decorator_wrappers_run_per_request(split_logger):
    assert set(request_time_of(split_logger / "svc" / "decorators.py")) == {"wrapper"}


def test_project_analysis_can_be_switched_off(split_logger):
    off = Options(project_analysis=False)
    assert request_time_of(split_logger / "svc" / "logctx.py", off) == {}


def test_index_is_cached_on_disk_by_content(split_logger, request):
    request_time_of(split_logger / "svc" / "logctx.py")
    cache_files = list((split_logger / ".flaskleak_cache").glob("index-*.json"))
    assert len(cache_files) == 1
    project_module._indexes.clear()
    collected = request.getfixturevalue("parsed_modules")  # counted from here on
    request_time_of(split_logger / "svc" / "logctx.py")
    assert collected == []  # nothing changed: every module's facts come from the cache
    (split_logger / "svc" / "audit.py").write_text("def record(event):\n    pass\n")
    project_module._indexes.clear()
    request_time_of(split_logger / "svc" / "logctx.py")
    assert collected == ["audit.py"]  # only the changed file is analysed again


def test_the_walk_is_read_back_while_no_file_changes(split_logger, monkeypatch):
    first = request_time_of(split_logger / "svc" / "logctx.py")
    walks = []
    original = project_module.ProjectIndex._walk_reach

    def counting(self):
        walks.append(self.root)
        return original(self)

    monkeypatch.setattr(project_module.ProjectIndex, "_walk_reach", counting)
    project_module._indexes.clear()
    assert request_time_of(split_logger / "svc" / "logctx.py") == first
    assert walks == []  # the same listing: the stored walk answers
    (split_logger / "svc" / "audit.py").write_text("def record(event):\n    pass\n")
    project_module._indexes.clear()
    request_time_of(split_logger / "svc" / "logctx.py")
    assert len(walks) == 1  # a file changed: walked again


def test_a_damaged_stored_walk_is_walked_again(split_logger):
    first = request_time_of(split_logger / "svc" / "logctx.py")
    (cache_file,) = (split_logger / ".flaskleak_cache").glob("index-*.json")
    data = json.loads(cache_file.read_text())
    data["<reach>"]["reached"][0][0] = ["not", "a", "path"]
    cache_file.write_text(json.dumps(data))
    project_module._indexes.clear()
    assert request_time_of(split_logger / "svc" / "logctx.py") == first


def test_the_index_parses_only_modules_that_can_matter(split_logger, parsed_modules):
    """A module whose text can register no entry point and define nothing the walk follows
    is never parsed: ``ResourceWarning`` or ``ModelView`` in a module is not a view class,
    and a constant passed to a call is not a function to follow."""
    svc = split_logger / "svc"
    (svc / "settings.py").write_text(
        '"""Resource limits. A ResourceWarning here is not a view."""\n\nPAGE_SIZE = 50\n'
    )
    (svc / "admin_text.py").write_text(
        "from flask_admin.contrib.sqla import ModelView\n\n\n"
        "class OrderAdmin(ModelView):\n    column_list = ('id',)\n"
    )
    api = svc / "api.py"
    api.write_text(
        api.read_text()
        .replace("from . import audit\n", "from . import audit\nfrom .settings import PAGE_SIZE\n")
        .replace('audit.record("list_orders")', 'audit.record("list_orders", PAGE_SIZE)')
    )
    parsed = parsed_modules
    reached = request_time_of(svc / "logctx.py")
    assert reached == {"bind_logger": "route '/orders' `list_orders` in svc/api.py via `bind_logger`"}
    assert "settings.py" not in parsed and "admin_text.py" not in parsed
    assert {"api.py", "logctx.py", "audit.py"} <= set(parsed)


def test_no_project_root_means_per_file(tmp_path):
    lone = tmp_path / "lone.py"
    lone.write_text("def helper():\n    pass\n")
    project_module._roots.clear()
    assert project_module.find_root(str(lone)) in (None, project_module.find_root(str(tmp_path / "x")))


def test_check_frees_each_projects_index_after_its_last_file(tmp_path, monkeypatch):
    """``flaskleak check`` over two projects, one process: each project's index is saved and
    dropped once its last file is checked, so the run's memory is one project's, not the sum."""
    from flake8_flaskleak import cli

    first, second = tmp_path / "first", tmp_path / "second"
    for target in (first, second):
        shutil.copytree(
            PROJECTS / "split_logger", target, ignore=shutil.ignore_patterns(".flaskleak_cache")
        )
    project_module._indexes.clear()
    project_module._roots.clear()
    released = []
    original = project_module.ProjectIndex.close

    def recording(self):
        released.append((Path(self.root).name, len(project_module._indexes)))
        return original(self)

    monkeypatch.setattr(project_module.ProjectIndex, "close", recording)
    monkeypatch.chdir(tmp_path)
    status = cli.main(["check", "-j", "1", "--format", "json", "first", "second"])
    assert status == 1  # split_logger has findings: the check itself ran
    # first is closed before second's index exists (the count is taken after the pop)
    assert released == [("first", 0), ("second", 0)]
    assert project_module._indexes == {}
    for target in (first, second):
        assert list((target / ".flaskleak_cache").glob("index-*.json"))


def test_blueprints_guarded_from_another_module_are_not_open(tmp_path):
    """privacyIDEA's layout: every admin blueprint's ``before_request`` guard lives in one
    hooks module. Its routes, and what only they call in other modules, are privileged."""
    target = tmp_path / "admin_api_split"
    shutil.copytree(PROJECTS / "admin_api_split", target)
    project_module._indexes.clear()
    project_module._roots.clear()
    index = project_module.project_for(str(target / "ops" / "channels.py"), Options())
    assert index.guarded_blueprints == {"ops.api.gateway.gateway_blueprint"}
    reached = index.reached_from_elsewhere(str(target / "ops" / "channels.py"))
    assert set(reached) == {"channel_logger", "tenant_logger"}
    openly = index.open_reached_from_elsewhere(str(target / "ops" / "channels.py"))
    assert set(openly) == {"tenant_logger"}
    assert "`export` in ops/api/reports.py" in openly["tenant_logger"]
    project_module._indexes.clear()
    project_module._roots.clear()


def test_every_entry_signal_holds_one_of_the_fragments_tested_first():
    from flake8_flaskleak.model.module_facts import ENTRY_FRAGMENTS, ENTRY_SUBSTRINGS

    assert all(any(fragment in signal for fragment in ENTRY_FRAGMENTS) for signal in ENTRY_SUBSTRINGS)


@pytest.mark.parametrize(
    "source",
    [
        "import flask as fl\n\n\nclass Report(fl.views.View):\n",
        "from flask import(views)\n\n\nclass Report(views.View):\n",
        "from flask import (  # the app (and views)\n    Flask,\n    views,\n)\n\n\nclass Report(views.View):\n",
        "from flask import Flask, \\\r\n    views\r\n\r\n\r\nclass Report(views.View):\r\n",
        "from flask import views as flask_views\n\n\nclass Report(flask_views.View):\n",
        "from .compat import Resource\n\n\nclass Report(Resource \\\n):\n",
        "from .compat import MethodView\n\n\nclass Report(\n    MethodView  # the base\n):\n",
    ],
)
def test_every_spelling_of_a_view_base_passes_the_entry_signal(source):
    from flake8_flaskleak.model.module_facts import has_entry_signals

    text = source + "    def get(self):\n        return 'report'\n"
    model = FileModel(ast.parse(text), text, "report.py", Options(project_analysis=False), None)
    assert model.flask.entry_points  # the model sees a view here ...
    assert has_entry_signals(text, Options())  # ... so the text test must let it through


@pytest.mark.parametrize(
    "decorator",
    [
        "@app.route ('/')",
        "@app . route('/')",
        "@app.get(ROOT)",
        "@app.post(f'/{ROOT}')",
        "@app.endpoint ('index')",
        "@app.route \\\n    ('/')",
        "@app \\\n    .route('/')",
    ],
)
def test_every_spelling_of_a_route_decorator_passes_the_entry_signal(decorator):
    from flake8_flaskleak.model.module_facts import has_entry_signals

    text = (
        "from flask import Flask\n\napp = Flask(__name__)\nROOT = '/'\n\n\n"
        f"{decorator}\ndef index():\n    return 'index'\n"
    )
    model = FileModel(ast.parse(text), text, "site.py", Options(project_analysis=False), None)
    assert model.flask.entry_points  # the model sees a route here ...
    assert has_entry_signals(text, Options())  # ... so the text test must let it through


def test_a_route_registered_by_calling_the_decorator_passes_the_entry_signal():
    from flake8_flaskleak.model.module_facts import has_entry_signals

    text = (
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
        "def index():\n    return 'index'\n\n\napp.route ('/')(index)\n"
    )
    model = FileModel(ast.parse(text), text, "site.py", Options(project_analysis=False), None)
    assert model.flask.entry_points
    assert has_entry_signals(text, Options())


def test_may_define_finds_names_after_words_ending_in_def_or_class(split_logger):
    helpers = split_logger / "svc" / "helpers.py"
    helpers.write_text(
        "import dataclasses\n\n\n"
        "def column(column_def):\n    return column_def\n\n\n"
        "def work():\n    pass\n\n\n"
        "def \\\n        continued():\n    pass\n\n\n"
        "def \ufb01nd():\n    pass\n\n\n"
        "@dataclasses.dataclass\nclass Audit:\n    def __init__(self):\n        self.log = []\n"
    )
    index = project_module.project_for(str(helpers), Options())
    relative = index.relative(str(helpers))
    for name in ("work", "continued", "find", "Audit"):
        assert index.may_define(relative, name), name
    assert not index.may_define(relative, "TIMEOUT")
