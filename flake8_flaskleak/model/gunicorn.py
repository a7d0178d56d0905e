"""Gunicorn config modules: which files are one, and which settings they assign.

A Gunicorn config file is plain Python whose module-level names are the settings. A file is
taken to be one by its name: ``gunicorn.conf.py`` (Gunicorn's default), ``gunicorn_conf.py``,
or a name given by the ``gunicorn_configs`` option (names or glob patterns, matched against the
file name and the path); ``gunicorn*.py`` (``gunicorn_prod.py``) also counts when the module
assigns at least one Gunicorn setting or defines a server hook, so a helper module such as
``gunicorn_app.py`` (a custom ``BaseApplication``) is left alone.

Or by its content, whatever its name (``deploy/web_conf.py``, passed with ``gunicorn -c``): a
module of at most 16,000 characters whose import-time code only imports, assigns and defines
functions, that assigns at least three Gunicorn settings (``workers`` or ``bind`` among them,
and ``timeout``, ``threads``...), at least as many settings as other names, and imports
nothing from the application (no relative import, no
module of the project; without the project index, nothing outside the standard library). A
Hypercorn or Uvicorn config, which shares many of the names, is not one.

Assignments count wherever they run at import: in ``if``/``else``, ``try``/``except`` and
``with`` blocks, not inside functions or classes. Their values are never evaluated.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import sys
from collections.abc import Iterator

from ..astutil import binds_names_only
from ..options import Options

DEFAULT_NAMES = ("gunicorn.conf.py", "gunicorn_conf.py")
# Gunicorn's settings, as a config module assigns them.
SETTINGS = frozenset({
    "bind", "workers", "worker_class", "threads", "worker_connections", "timeout",
    "graceful_timeout", "keepalive", "max_requests", "max_requests_jitter", "preload_app",
    "accesslog", "errorlog", "loglevel", "access_log_format", "wsgi_app", "backlog",
    "worker_tmp_dir", "forwarded_allow_ips", "proxy_protocol", "reload", "daemon", "pidfile",
    "limit_request_line", "limit_request_fields", "limit_request_field_size", "statsd_host",
    "statsd_prefix", "logconfig", "logconfig_dict", "raw_env", "proc_name", "chdir", "user",
    "group", "umask", "capture_output", "logger_class", "syslog", "reload_engine",
    "reload_extra_files", "tmp_upload_dir", "secure_scheme_headers", "certfile", "keyfile",
    "ca_certs", "sendfile", "reuse_port", "pythonpath", "spew", "check_config",
})
# Server hooks: functions a config module defines.
HOOKS = frozenset({
    "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
    "worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit",
    "worker_exit", "nworkers_changed", "on_exit",
})
# Settings and hooks that only a Gunicorn config module defines at module level.
KNOWN_SETTINGS = SETTINGS | HOOKS
# Recognised by content: at least this many settings assigned, in a module this short (a
# Gunicorn config is a page of settings; Gunicorn's annotated example is about 7 KB).
CONTENT_SETTINGS_MINIMUM = 3
CONTENT_MAXIMUM_LENGTH = 16_000
_SETTING_AT_LINE_START = re.compile(
    r"^[ \t]*(" + "|".join(sorted(SETTINGS)) + r")[ \t]*(?::[^=\n]*)?=(?!=)", re.MULTILINE
)
# Other servers whose Python config files use many of the same names.
OTHER_SERVERS = ("hypercorn", "uvicorn")


def is_gunicorn_config(path: str, options: Options, tree: ast.Module | None = None) -> bool:
    """Whether ``path`` names a Gunicorn config (``tree``: check the loose ``gunicorn*.py``)."""
    if not path or not path.endswith(".py"):
        return False
    filename = os.path.basename(path)
    normalized = path.replace(os.sep, "/")
    for pattern in options.gunicorn_configs:
        if fnmatch.fnmatch(filename, pattern) or fnmatch.fnmatch(normalized, pattern):
            return True
        if "/" in pattern and normalized.endswith("/" + pattern.lstrip("./")):
            return True
    if filename in DEFAULT_NAMES:
        return True
    if not fnmatch.fnmatch(filename, "gunicorn*.py"):
        return False
    return tree is None or bool(set(module_assignments(tree)) & KNOWN_SETTINGS)


def may_be_gunicorn_config(text: str, path: str, options: Options) -> bool:
    """The test rules run before any tree is walked: by name, or three settings in the text."""
    return is_gunicorn_config(path, options) or may_be_config_by_content(text)


def is_gunicorn_config_module(model) -> bool:
    """Whether the module of a ``FileModel`` is a Gunicorn config, by its name or content."""
    return is_gunicorn_config(model.path, model.options, model.tree) or is_config_by_content(
        model
    )


def may_be_config_by_content(text: str) -> bool:
    """The cheap text test: three Gunicorn settings assigned at the start of a line, in a
    short module that sets ``workers`` or ``bind`` (two substring tests, run on every file,
    before the regular expression)."""
    if len(text) > CONTENT_MAXIMUM_LENGTH or not ("workers" in text or "bind" in text):
        return False
    found: set[str] = set()
    for match in _SETTING_AT_LINE_START.finditer(text):
        found.add(match.group(1))
        if len(found) >= CONTENT_SETTINGS_MINIMUM:
            return not any(server in text for server in OTHER_SERVERS)
    return False


def is_config_by_content(model) -> bool:
    """Whether a module (its ``FileModel``) is a Gunicorn config by what it holds (above)."""
    if not may_be_config_by_content(model.text) or model.is_test_module:
        return False
    statements = list(_import_time_statements(model.tree.body))
    if not all(_plain_config_statement(statement, index) for index, statement in enumerate(
        statements
    )):
        return False
    names = {name for statement in statements for name in _names_bound(statement)}
    names -= HOOKS
    settings = names & SETTINGS
    if len(settings) < CONTENT_SETTINGS_MINIMUM or len(settings) < len(names - settings):
        return False
    return not any(_imports_application(model, s) for s in statements)


def _plain_config_statement(statement: ast.stmt, index: int) -> bool:
    """Statements a config module is made of: imports, assignments to names, functions, and
    the blocks that hold them; a docstring. No class, no call run for its effect."""
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    if isinstance(statement, (ast.If, ast.Try, ast.With, ast.Pass)):
        return True  # their statements are checked one by one
    if type(statement).__name__ == "TryStar":
        return True
    if isinstance(statement, ast.Assign):
        return all(binds_names_only(target) for target in statement.targets)
    if isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
        return isinstance(statement.target, ast.Name)
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return isinstance(statement.value.value, str)  # a docstring or a string note
    return False



def _imports_application(model, statement: ast.stmt) -> bool:
    if isinstance(statement, ast.ImportFrom):
        if statement.level:
            return True
        modules = [statement.module or ""]
    elif isinstance(statement, ast.Import):
        modules = [alias.name for alias in statement.names]
    else:
        return False
    project = model.project
    for module in modules:
        if project is not None:
            if project.module_file(module) is not None:
                return True
        elif module.split(".")[0] not in sys.stdlib_module_names:
            return True  # without the project, only the standard library is surely not the app
    return False


def module_assignments(tree: ast.Module) -> dict[str, list[ast.stmt]]:
    """Module-level names to the statements that assign (or define) them, in source order."""
    found: dict[str, list[ast.stmt]] = {}
    for statement in _import_time_statements(tree.body):
        for name in _names_bound(statement):
            found.setdefault(name, []).append(statement)
    return found


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for statement in body:
        yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for block_name in ("body", "orelse", "finalbody"):
            block = getattr(statement, block_name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield from _import_time_statements(block)
        for handler in getattr(statement, "handlers", None) or []:
            yield from _import_time_statements(handler.body)


def _names_bound(statement: ast.stmt) -> Iterator[str]:
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            yield from _target_names(target)
    elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
        yield from _target_names(statement.target)
    elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield statement.name


def _target_names(target: ast.AST) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)


def assigned_value(statement: ast.stmt, name: str) -> ast.expr | None:
    """The value a single-name assignment gives ``name`` (None for unpacking, ``+=``, defs)."""
    if isinstance(statement, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in statement.targets
    ):
        return statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.value
    return None


def is_zero(value: ast.expr | None) -> bool:
    """A literal that turns a counting setting off, the same as leaving it unset: ``0``,
    ``None``, ``False``, or a string Gunicorn reads as 0 (``"0"``: it parses strings with
    ``int(value, 0)``)."""
    if not isinstance(value, ast.Constant):
        return False
    if isinstance(value.value, str):
        try:
            return int(value.value.strip(), 0) == 0
        except ValueError:
            return False
    return value.value in (0, None, False)


def effective_assignments(tree: ast.Module, name: str) -> tuple[list[ast.stmt], bool]:
    """The statements assigning ``name``, and whether every one of them turns it off."""
    statements = module_assignments(tree).get(name, [])
    all_off = bool(statements) and all(is_zero(assigned_value(s, name)) for s in statements)
    return statements, all_off


def literal_int(statement: ast.stmt, name: str) -> int | None:
    value = assigned_value(statement, name)
    if isinstance(value, ast.Constant) and type(value.value) is int:
        return value.value
    return None


def append_settings(module, lines: list[str], comment: list[str]):
    """Append ``lines`` (with ``comment`` lines above) at the end of a libcst module, after two
    blank lines when the module ends with a ``def`` or ``class`` (pycodestyle's E305)."""
    import libcst as cst

    statements = []
    last = module.body[-1] if module.body else None
    blank = 2 if isinstance(last, (cst.FunctionDef, cst.ClassDef)) else 1
    for index, line in enumerate(lines):
        statement = cst.parse_statement(line + "\n")
        if index == 0:
            leading = [cst.EmptyLine(indent=False)] * blank if module.body else []
            leading += [cst.EmptyLine(indent=False, comment=cst.Comment(c)) for c in comment]
            statement = statement.with_changes(leading_lines=leading)
        statements.append(statement)
    return module.with_changes(body=list(module.body) + statements)
