"""What one module tells the others: the facts the project index keeps per module.

Each group is computed from the module's ``FileModel`` and is plain JSON (the index caches it
on disk, keyed by the file's size, modification time and content hash):

* ``calls``: its request entry points and, per function, what it calls here and elsewhere;
* ``teardowns``: what its registered teardowns release and clear (``teardowns.py``);
* ``containers``: its module-level containers and the imported ones it shrinks;
* ``configs``: its config classes' imported bases, and which class bodies set which keys.
"""

from __future__ import annotations

import re

from ..options import Options
from .flask import REQUEST_HOOKS, ROUTE_METHODS

# Text that can register a request entry point. A module without it has none of its own.
ENTRY_SIGNALS = re.compile(
    r"\.(?:" + "|".join(sorted(REQUEST_HOOKS | ROUTE_METHODS | {
        "add_url_rule", "add_resource", "as_view", "register_error_handler",
    })) + r")\b"
    r"|@[\w.]+\.(?:get|post|put|patch|delete)\("
    r"|\b(?:MethodView|Resource|View)\b"
)
TEARDOWN_SIGNALS = re.compile(r"teardown_")


def has_entry_signals(text: str, options: Options) -> bool:
    if ENTRY_SIGNALS.search(text):
        return True
    return any(name.rsplit(".", 1)[-1] in text for name in options.request_decorators)


def call_facts(model) -> dict:
    """Entry points (qualname -> how it is registered) and call edges of every function."""
    flask = model.flask
    entries: dict[str, str] = {}
    calls: dict[str, dict[str, list[str]]] = {}
    functions = model.scopes.all_functions()
    for function in functions:
        local = sorted({flask.info(callee).qualname for callee in flask.callees(function)})
        imported = sorted(set(flask.imported_calls(function)))
        if local or imported:
            calls[flask.info(function).qualname] = {"local": local, "imported": imported}
    for entry in flask.entry_points:
        qualname = flask.info(entry.function).qualname
        entries.setdefault(qualname, f"{entry.description} `{entry.function.name}`")
    return {
        "functions": [flask.info(function).qualname for function in functions],
        "entries": entries,
        "calls": calls,
    }
