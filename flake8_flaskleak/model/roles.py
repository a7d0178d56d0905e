"""Which code runs only at start-up or from the command line, never in the serving process's
requests: what it opens or registers once does not accumulate.

Roots of each role, in one module:

* start-up: app factories (a function that returns an app it builds), ``init_app`` functions
  and methods, and the module's functions its import-time code calls;
* command line: click/typer commands and groups, Flask's ``@app.cli.command()`` /
  ``@bp.cli.command()``, Flask-Script's ``@manager.command``, and what the
  ``if __name__ == "__main__":`` block of a script calls;
* Airflow task: a function decorated with Airflow's ``@task`` (``airflow.decorators.task``,
  ``@task.virtualenv``, ``@task.branch``, ``python_task``: a qualified name from ``airflow.``
  with a part ending in ``task``) or handed to an Airflow operator as ``python_callable=``.
  Airflow runs each task instance in a process of its own (``airflow tasks run``, started by
  the executor's worker), so what the task leaves open ends with that process; the web server
  never runs it.

A function reached only from these roots (through the calls the model follows), and from no
request entry point or background job, has that role. The project index adds what other
modules' start-up and command-line code calls (``startup_elsewhere``), and who calls or imports
a module from test, migration or command-line code (``callers.py``).
"""

from __future__ import annotations

import ast
import re
from functools import cached_property

from ..astutil import dotted_name
from ..scan import statements
from .flask import DECORATOR_LINE
from .scopes import FunctionNode
from .text import Words

CLI_PACKAGES = ("click", "typer", "asyncclick", "flask_script", "flask.cli")
CLI_DECORATOR_ATTRIBUTES = {"command", "group", "option", "argument"}
STARTUP_FUNCTION_NAMES = {"init_app", "create_app", "make_app", "setup_app"}
APP_CONTEXT_METHODS = {"app_context", "test_request_context", "request_context"}
CALL_METHOD = re.compile(r"def[ \t]+__call__\b")
PYTHON_CALLABLE = Words(["python_callable"])
AIRFLOW_TASK_ROLE = "Airflow task (its own process)"


class Roles:
    def __init__(self, model):
        self.model = model
        self.flask = model.flask

    # -- roots ---------------------------------------------------------------------------------

    @cached_property
    def startup_roots(self) -> list[FunctionNode]:
        flask = self.flask
        roots = [flask.module_functions[name] for name in flask.factories if name in flask.module_functions]
        for function in flask.outer_functions():
            if function.name in STARTUP_FUNCTION_NAMES:
                roots.append(function)
        roots.extend(self._called_from(self._import_time_calls()))
        return roots

    @cached_property
    def cli_roots(self) -> list[FunctionNode]:
        roots = [f for f in self.flask.outer_functions() if self.is_cli_command(f)]
        roots.extend(self._called_from(self._main_block_calls()))
        return roots

    def is_cli_command(self, function: FunctionNode) -> bool:
        imports = self.model.imports
        for decorator in function.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            qualified = imports.qualified_name(target) or ""
            if qualified.split(".")[0] in CLI_PACKAGES or qualified.startswith("flask.cli"):
                return True
            name = dotted_name(target) or ""
            if name.endswith(".cli.command") or name.endswith(".cli.group"):
                return True  # @app.cli.command(), @bp.cli.command()
            last = name.rsplit(".", 1)[-1]
            if "." in name and last in CLI_DECORATOR_ATTRIBUTES and isinstance(decorator, ast.Call):
                # @cli.command(), @manager.option(...): a click group or a Flask-Script manager
                if last != "command" or not self.flask.is_flask_object(target.value):
                    return True
            if name in ("with_appcontext", "manager.command"):
                return True
        return False

    @cached_property
    def airflow_task_roots(self) -> list[FunctionNode]:
        model = self.model
        if "airflow" not in model.text:
            return []
        roots: list[FunctionNode] = []
        scopes = model.scopes
        for definition, lines in scopes.lines_by_scope(model.source.lines_matching(DECORATOR_LINE)).items():
            if isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                decorator.lineno in lines and self._is_airflow_task_decorator(decorator)
                for decorator in definition.decorator_list
            ):
                roots.append(definition)
        for scope, lines in scopes.lines_by_scope(model.source.lines_matching(PYTHON_CALLABLE)).items():
            for call in scopes.nodes_on_lines(scope, lines):
                if type(call) is not ast.Call:
                    continue
                if not (model.imports.qualified_name(call.func) or "").startswith("airflow."):
                    continue
                for keyword in call.keywords:
                    if keyword.arg == "python_callable":
                        roots.extend(self.flask._functions_referenced(keyword.value, scope))
        return roots

    def _is_airflow_task_decorator(self, decorator: ast.expr) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        qualified = self.model.imports.qualified_name(target) or ""
        parts = qualified.split(".")
        return parts[0] == "airflow" and any(part.endswith("task") for part in parts[1:])

    def _import_time_calls(self) -> list[tuple[ast.AST, ast.Call]]:
        """Calls that module-level code makes as the module is imported (not in the main block)."""
        tree = self.model.tree
        found = []
        main = self._main_block()
        for statement in statements(tree):
            if statement is main or (main is not None and _inside(statement, main)):
                continue
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for node in ast.walk(statement) if _is_simple(statement) else _header(statement):
                if isinstance(node, ast.Call):
                    found.append((tree, node))
        return found

    def _main_block_calls(self) -> list[tuple[ast.AST, ast.Call]]:
        main = self._main_block()
        if main is None:
            return []
        return [
            (self.model.tree, node)
            for statement in main.body
            for node in ast.walk(statement)
            if isinstance(node, ast.Call)
        ]

    @cached_property
    def _main_block_node(self) -> list[ast.If]:
        for statement in self.model.tree.body:
            if isinstance(statement, ast.If) and "__main__" in ast.dump(statement.test):
                return [statement]
        return []

    def _main_block(self) -> ast.If | None:
        found = self._main_block_node
        return found[0] if found else None

    def _called_from(self, calls: list[tuple[ast.AST, ast.Call]]) -> list[FunctionNode]:
        found: list[FunctionNode] = []
        for scope, call in calls:
            found.extend(self.flask._functions_referenced(call.func, scope))
            for argument in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(argument, (ast.Name, ast.Attribute)):
                    found.extend(self.flask._functions_referenced(argument, scope))
        return found

    # -- tasks ---------------------------------------------------------------------------------

    @cached_property
    def tasks_get_app_context(self) -> bool:
        """A Celery ``Task`` base whose ``__call__`` runs every task in an app context (here or
        anywhere in the project): its tasks get the app's teardowns, Flask-SQLAlchemy's
        ``session.remove()`` included."""
        if defines_context_task_base(self.model):
            return True
        project = self.model.project
        return project is not None and project.tasks_get_app_context

    # -- roles ---------------------------------------------------------------------------------

    @cached_property
    def startup(self) -> set[FunctionNode]:
        return self.flask.reachable_from(self.startup_roots)

    @cached_property
    def cli(self) -> set[FunctionNode]:
        return self.flask.reachable_from(self.cli_roots)

    @cached_property
    def airflow_tasks(self) -> set[FunctionNode]:
        if not self.airflow_task_roots:
            return set()
        tasks = self.flask.reachable_from(self.airflow_task_roots)
        # what a thread, executor job or Celery task of the serving process also runs stays serving
        others = [f for f in self.flask.background if f not in self.airflow_task_roots]
        return tasks - self.flask.reachable_from(others)

    @cached_property
    def _external_startup(self) -> set[str]:
        project = self.model.project
        if project is None:
            return set()
        return set(project.startup_elsewhere(self.model.path))

    def serving(self, function: FunctionNode | None) -> bool:
        """Whether ``function`` can run in the serving process past its start: per request, in
        a background job, or from a caller we cannot see."""
        if function is None:
            return False  # module level: import time
        return self.not_serving_role(function) is None

    def not_serving_role(self, function: FunctionNode) -> str | None:
        """"start-up", "command line", "Airflow task (its own process)", "test code" or
        "migrations" (or several of the last three, joined) when that is all ``function`` runs
        in; None otherwise."""
        flask = self.flask
        if function in flask.request_time:
            return None
        if function in self.airflow_tasks:
            return AIRFLOW_TASK_ROLE  # a task decorator also makes it background: it is not ours
        if function in flask.background:
            return None
        if function in self.cli:
            return "command line"
        if function in self.startup:
            return "start-up"
        qualname = flask.info(function).qualname
        if qualname in self._external_startup:
            return "start-up"
        project = self.model.project
        if project is None:
            return None
        role = project.callers_role(self.model.path, qualname)
        if role is None and not flask.entry_points:
            role = project.importers_role(self.model.path)  # a module registering views serves
        return role


def _is_simple(statement: ast.stmt) -> bool:
    return not any(getattr(statement, block, None) for block in ("body", "orelse", "finalbody", "handlers"))


def _header(statement: ast.stmt):
    for name, value in ast.iter_fields(statement):
        if name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        if isinstance(value, ast.AST):
            yield from ast.walk(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    yield from ast.walk(item)


def _inside(statement: ast.stmt, block: ast.If) -> bool:
    end = block.end_lineno or block.lineno
    return block.lineno <= statement.lineno <= end


def defines_context_task_base(model) -> bool:
    """A ``__call__`` (at any depth: Indico defines its Task class in a method) that pushes an
    app context: ``with app.app_context():`` or ``stack.enter_context(app.app_context())``."""
    if "app_context" not in model.text:
        return False
    for function in model.functions_mentioning(CALL_METHOD):
        if function.name == "__call__" and pushes_app_context(function):
            return True
    return False


def pushes_app_context(function: FunctionNode) -> bool:
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in APP_CONTEXT_METHODS
        ):
            return True
    return False
