"""Gunicorn config modules: which files are one, and which settings they assign.

A Gunicorn config file is plain Python whose module-level names are the settings. A file is
taken to be one by its name: ``gunicorn.conf.py`` (Gunicorn's default), ``gunicorn_conf.py``,
or a name given by the ``gunicorn_configs`` option (names or glob patterns, matched against the
file name and the path); ``gunicorn*.py`` (``gunicorn_prod.py``) also counts when the module
assigns at least one Gunicorn setting or defines a server hook, so a helper module such as
``gunicorn_app.py`` (a custom ``BaseApplication``) is left alone.

Assignments count wherever they run at import: in ``if``/``else``, ``try``/``except`` and
``with`` blocks, not inside functions or classes. Their values are never evaluated.
"""

from __future__ import annotations

import ast
import fnmatch
import os
from collections.abc import Iterator

from ..options import Options

DEFAULT_NAMES = ("gunicorn.conf.py", "gunicorn_conf.py")
# Settings and hooks that only a Gunicorn config module defines at module level.
KNOWN_SETTINGS = frozenset({
    "bind", "workers", "worker_class", "threads", "worker_connections", "timeout",
    "graceful_timeout", "keepalive", "max_requests", "max_requests_jitter", "preload_app",
    "accesslog", "errorlog", "loglevel", "access_log_format", "wsgi_app", "backlog",
    "worker_tmp_dir", "forwarded_allow_ips", "proxy_protocol", "reload", "daemon", "pidfile",
    "limit_request_line", "limit_request_fields", "statsd_host", "logconfig_dict", "raw_env",
    "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
    "worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit",
    "worker_exit", "nworkers_changed", "on_exit",
})


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
    """A literal that turns a counting setting off: ``0``, ``None``, ``False``."""
    return isinstance(value, ast.Constant) and value.value in (0, None, False)


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
