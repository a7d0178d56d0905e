"""Who calls a function, and who imports its module, by the text of the project's modules: the
test for code that only the test suite, database migrations or the command line run.

A helper such as ``delete_all_tables(db)`` or ``get_version_for_migration(op)`` opens a
connection and does not close it on every path; that is harmless when only the test suite, an
Alembic migration or a command-line tool ever calls it (a short-lived process), and a leak when
a view does.

Two answers, each by text over the project's files (``ProjectIndex.files_mentioning``):

* by callers (``callers_role``), for a module-level function: its name is searched for. A use
  outside an import line in a production module means it may serve traffic; calls only from
  test modules, migration scripts or command-line modules mean it does not.
* by importers (``importers_role``), for every function and method of a module: the modules
  that import it are searched for. When every one is command-line or migration code (test
  modules may be among them), the module's code runs only there. A module nothing imports
  stays unknown: it may be an entry point (``wsgi.py``, a plugin loaded by name). A module only
  test modules import stays unknown too: a library's public modules (a Flask extension) are
  imported in their own project by nothing but their tests, while the applications that use
  them import them from outside. Nor does a command that starts a web server count as
  command-line code here (``python -m app`` serving with waitress, ``flask run``-like
  commands): what it imports may run per request. A module that starts a server itself, or
  handles WSGI calls (``start_response``), is not given a role by its importers.

Roles by path (relative to the project root; test modules are the ones the listing leaves out,
``model.file.is_test_path``):

* migrations: a module under a ``migrations``, ``migration`` or ``alembic`` folder;
* command line: a module under a folder named ``cli`` (``airflow/cli/commands/...``,
  ``octoprint/cli/client.py``) or under Django's ``management/commands``; a file named
  ``cli.py`` or ``__main__.py`` (``python -m pkg``); a ``manage.py`` that is a script outside
  any package (inside a package it can be a controller: Indico's ``controllers/manage.py``). A
  folder named ``commands`` alone is not enough: Superset's ``superset/commands/`` holds the
  command objects its API runs per request.

Conservative on purpose: an import this text reading cannot resolve (a relative import from a
module outside any package, a line that does not parse) counts as a production importer when
it names the module, and so does a production module naming the module's dotted path outside
an import (``import_module("pkg.tasks")``, ``"pkg.wsgi:app"``).
"""

from __future__ import annotations

import ast
import os
import re

MIGRATION_FOLDERS = {"migrations", "alembic", "migration"}
CLI_FOLDERS = {"cli"}
CLI_FILES = {"cli.py", "__main__.py"}
SCRIPT_FILES = {"manage.py"}  # command line only as a script outside any package
TEST_ROLE, MIGRATION_ROLE, CLI_ROLE = "test code", "migrations", "command line"

# A module that starts a web server, or hands requests to WSGI code: what runs there serves.
SERVES = re.compile(
    r"\b(?:run_simple|serve_forever|make_server|WSGIServer|serve)\s*\("
    r"|\b(?:gunicorn|uvicorn|hypercorn|waitress|cheroot)\b"
    r"|\bapp\.run\s*\(|\.run\([^)\n]*\b(?:host|port)\s*="
    r"|\bstart_response\b"
)
IMPORT_START = re.compile(r"^[ \t]*(?:from[ \t]+\.*[\w.]*[ \t]+import\b|import[ \t]+\w)", re.MULTILINE)


def path_role(project, relative: str) -> str | None:
    """``MIGRATION_ROLE`` or ``CLI_ROLE`` for a project module that is such code by its place;
    None for any other module (production code)."""
    parts = relative.split(os.sep)
    folders, name = parts[:-1], parts[-1]
    if any(part in MIGRATION_FOLDERS for part in folders):
        return MIGRATION_ROLE
    if any(part in CLI_FOLDERS for part in folders) or name in CLI_FILES:
        return CLI_ROLE
    if any(folders[i:i + 2] == ["management", "commands"] for i in range(len(folders) - 1)):
        return CLI_ROLE
    if name in SCRIPT_FILES and os.path.join(*folders, "__init__.py") not in project.files:
        return CLI_ROLE
    return None


def _joined(roles: set[str]) -> str:
    return " and ".join(sorted(roles))


# -- by callers --------------------------------------------------------------------------------


def callers_role(project, relative: str, qualname: str) -> str | None:
    """The role(s) of the only modules that call ``qualname`` (a module-level function of
    ``relative``): "test code", "migrations", "command line", or several joined with "and";
    None when the function is used anywhere else, or called from nowhere we can see."""
    if "." in qualname:
        return None  # a method: who calls it is not a matter of its name
    own = project.text(relative) or ""
    if own.count(f"{qualname}(") > 1 or _used_outside_imports(own, qualname, defining=True):
        return None  # its own module calls it or hands it on
    roles = set()
    for other in project.files_mentioning(qualname):
        if other == relative:
            continue
        text = project.text(other) or ""
        role = path_role(project, other)
        if role is None:
            if _used_outside_imports(text, qualname):
                return None  # production code uses it
        elif f"{qualname}(" in text:
            roles.add(role)
    for test in project.files_mentioning(qualname, tests=True):
        if f"{qualname}(" in (project.text(test) or ""):
            roles.add(TEST_ROLE)
    return _joined(roles) if roles else None


def _used_outside_imports(text: str, name: str, defining: bool = False) -> bool:
    """Whether a line other than an import (or, in its own module, the ``def``) names it, as a
    name or as an attribute (``settings.validate_session()``)."""
    pattern = re.compile(rf"(?<!\w){re.escape(name)}\b")
    in_import = False  # inside ``from x import (`` ... ``)``
    for line in text.splitlines():
        stripped = line.strip()
        starts_import = stripped.startswith(("from ", "import "))
        importing = in_import or starts_import
        if starts_import and "(" in stripped and ")" not in stripped:
            in_import = True
        elif in_import and ")" in stripped:
            in_import = False
        if importing or stripped.startswith("#") or not pattern.search(line):
            continue
        if defining and stripped.startswith(("def ", "async def ")):
            continue
        return True
    return False


# -- by importers ------------------------------------------------------------------------------


def importers_role(project, relative: str) -> str | None:
    """The role(s) of the only modules that import the module ``relative`` when they are
    command-line or migration code (with or without test modules); None when a production
    module imports it, nothing does, or only test modules do."""
    module = project.module_names.get(relative)
    if not module:
        return None  # not importable by a dotted name: a script, an entry point
    if SERVES.search(project.text(relative) or ""):
        return None  # it starts a server or is WSGI code itself
    last = module.rsplit(".", 1)[-1]
    candidates = set(project.files_mentioning(last))
    if os.path.basename(relative) == "__init__.py":
        # ``from . import x`` below the package imports it without naming it
        prefix = os.path.dirname(relative) + os.sep
        candidates.update(other for other in project.files if other.startswith(prefix))
    roles = set()
    for other in sorted(candidates):
        if other == relative:
            continue
        text = project.text(other) or ""
        role = path_role(project, other)
        if role is None:
            if _names_module(text, module) or _imports(text, project.module_names.get(other), other, module):
                return None  # a production importer
        elif _imports(text, project.module_names.get(other), other, module):
            if SERVES.search(text):
                return None  # ``myapp run``: a command that starts the server it imports
            roles.add(role)
    if not roles:
        return None  # no importer, or only test modules (below)
    for test in project.files_mentioning(last, tests=True):
        if _imports(project.text(test) or "", None, test, module):
            roles.add(TEST_ROLE)
    return _joined(roles)


def _names_module(text: str, module: str) -> bool:
    """The dotted path (``pkg.tasks``, at least one dot) outside an import: a string for
    ``import_module``, a ``"pkg.wsgi:app"`` setting, ``pkg.tasks.run()`` after ``import pkg``."""
    return "." in module and _used_outside_imports(text, module)


def _imports(text: str, importer: str | None, path: str, module: str) -> bool:
    """Whether an import statement of ``text`` (the module ``importer``, at ``path``) imports
    ``module`` or something below it; one it cannot read counts when it names the module."""
    names = re.compile(rf"(?<!\w){re.escape(module.rsplit('.', 1)[-1])}\b")
    for statement in _import_statements(text):
        names_it = names.search(statement) is not None
        if not names_it and not statement.startswith("from ."):
            continue  # ``from . import x`` may load a package without naming it
        try:
            node = ast.parse(statement).body[0]
        except (SyntaxError, IndexError, ValueError):
            if names_it:
                return True
            continue
        for target in _targets(node, importer, path):
            if target is None and names_it:
                return True  # cannot resolve it, but it names the module
            if target is not None and (target == module or target.startswith(module + ".")):
                return True
    return False


def _targets(node: ast.stmt, importer: str | None, path: str):
    """The dotted modules an import statement may load; None for one it cannot resolve."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if not isinstance(node, ast.ImportFrom):
        return
    base = node.module or ""
    if node.level:
        if not importer:
            yield None
            return
        package = importer.split(".")
        if os.path.basename(path) != "__init__.py":
            package = package[:-1]
        if node.level - 1 >= len(package):
            yield None  # above the top package: not a module of this project
            return
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    yield base
    for alias in node.names:
        if alias.name != "*":
            yield f"{base}.{alias.name}" if base else alias.name


def _import_statements(text: str) -> list[str]:
    """The import statements of a module's text (at any indentation), each as one dedented
    line: a parenthesised name list or a backslash continuation is joined."""
    found = []
    for match in IMPORT_START.finditer(text):
        start = match.start()
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        statement = text[start:end]
        if "(" in statement and ")" not in statement:
            close = text.find(")", end)
            end = len(text) if close < 0 else close + 1
        while text[start:end].rstrip().endswith("\\"):
            following = text.find("\n", end + 1)
            end = len(text) if following < 0 else following
        lines = (line.split("#", 1)[0].strip().rstrip("\\") for line in text[start:end].splitlines())
        found.append(" ".join(line for line in lines if line))
    return found
