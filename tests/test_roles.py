"""Roles of code that is not the serving process: Airflow tasks, command-line callers and
importers (the multi-module fixtures under tests/fixtures/projects/ run them end to end)."""

from __future__ import annotations

import ast
import os
import textwrap

import pytest

from flake8_flaskleak.model import project as project_module
from flake8_flaskleak.model.callers import CLI_ROLE, MIGRATION_ROLE, path_role
from flake8_flaskleak.model.file import FileModel
from flake8_flaskleak.model.roles import AIRFLOW_TASK_ROLE
from flake8_flaskleak.options import Options


def roles_of(source: str, path: str = "dags/report.py") -> dict[str, str | None]:
    text = textwrap.dedent(source)
    model = FileModel(ast.parse(text), text, path, Options(), project=None)
    functions = model.scopes.all_functions()
    return {function.name: model.roles.not_serving_role(function) for function in functions}


def test_airflow_task_decorators_and_python_callables_are_their_own_process():
    roles = roles_of(
        """
        from airflow.decorators import task, python_task as ptask
        from airflow.operators.python import PythonOperator
        from airflow.models.dag import DAG


        def export_orders(**context):
            return _rows(context["ds"])


        def _rows(day):
            return []


        def build(dag_id):  # a DAG factory nothing here calls at import time
            with DAG(dag_id) as dag:
                PythonOperator(task_id="export", python_callable=export_orders)

                @task
                def analyze():
                    pass

                @task.virtualenv(requirements=["duckdb"])
                def summarise():
                    pass

                @ptask()
                def publish():
                    pass
            return dag
        """
    )
    for name in ("export_orders", "_rows", "analyze", "summarise", "publish"):
        assert roles[name] == AIRFLOW_TASK_ROLE, name
    assert roles["build"] is None


def test_other_tasks_and_what_a_thread_also_runs_keep_serving():
    roles = roles_of(
        """
        import threading

        from airflow.decorators import task
        from celery import shared_task
        from myproject.decorators import task as retrying_task


        def load():
            return 1


        @task
        def airflow_job():
            return load()


        @shared_task
        def celery_job():
            pass


        @retrying_task
        def own_decorator_job():
            pass


        def start_loader():
            threading.Thread(target=load).start()
        """,
        path="webapp/jobs.py",
    )
    assert roles["airflow_job"] == AIRFLOW_TASK_ROLE
    assert roles["celery_job"] is None
    assert roles["own_decorator_job"] is None
    assert roles["load"] is None  # also a thread target of the serving process


class Listing:
    def __init__(self, files):
        self.files = dict.fromkeys(files, (0, 0))


@pytest.mark.parametrize(
    ("relative", "role"),
    [
        ("airflow/cli/commands/celery_command.py", CLI_ROLE),
        ("octoprint/cli/client.py", CLI_ROLE),
        ("shop/management/commands/rebuild.py", CLI_ROLE),
        ("shop/cli.py", CLI_ROLE),
        ("shop/__main__.py", CLI_ROLE),
        ("manage.py", CLI_ROLE),
        ("indico/modules/events/controllers/manage.py", None),  # a package's controller
        ("superset/commands/dashboard/create.py", None),  # command objects the API runs
        ("shop/views.py", None),
        ("migrations/versions/0002_orders.py", MIGRATION_ROLE),
    ],
)
def test_command_line_and_migration_modules_by_path(relative, role):
    listing = Listing(["indico/modules/events/controllers/__init__.py", relative])
    assert path_role(listing, relative.replace("/", os.sep)) == role


@pytest.fixture
def inventory(tmp_path):
    project = tmp_path / "inventory"
    files = {
        "pyproject.toml": '[project]\nname = "inventory"\n',
        "inventory/__init__.py": "",
        "inventory/report.py": "class Report:\n    def rows(self):\n        return []\n",
        "inventory/reindex.py": "def run():\n    pass\n",
        "inventory/cli/__init__.py": "",
        "inventory/cli/report.py": "from ..report import Report  # noqa\nfrom .. import reindex\n",
        "inventory/loader.py": 'import importlib\nMODULE = importlib.import_module("inventory.reindex")\n',
    }
    for relative, text in files.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text)
    project_module._indexes.clear()
    project_module._roots.clear()
    yield project
    project_module._indexes.clear()
    project_module._roots.clear()


def test_a_module_only_command_line_code_imports_is_command_line(inventory):
    index = project_module.project_for(str(inventory / "inventory/report.py"), Options())
    assert index.importers_role(str(inventory / "inventory/report.py")) == CLI_ROLE
    # named by its dotted path in a production module (a dynamic import): serving
    assert index.importers_role(str(inventory / "inventory/reindex.py")) is None
    # nothing imports it: it may be an entry point
    assert index.importers_role(str(inventory / "inventory/loader.py")) is None
