"""What one module tells the others: the facts the project index keeps per module.

Each group is computed from the module's ``FileModel`` and is plain JSON (the index caches it
on disk, keyed by the file's size, modification time and content hash):

* ``calls``: its request entry points (which are open to every user, and which blueprints its
  ``before_request`` hooks guard with a privilege check) and, per function, what it calls here
  and elsewhere;
* ``teardowns``: what its registered teardowns release and clear (``teardowns.py``);
* ``containers``: its module-level containers and the imported ones it shrinks;
* ``configs``: its config classes' imported bases, and which class bodies set which keys;
* ``setup``: the imported functions its app factories and ``init_app`` code call (``setup.py``).
"""

from __future__ import annotations

import re

from ..options import Options
from .flask import REQUEST_HOOKS, URL_ENTRY_KINDS

# Text that can register a request entry point: a module without any has none of its own.
ENTRY_SUBSTRINGS = tuple(sorted(REQUEST_HOOKS | {
    ".route(", ".endpoint(", "add_url_rule", "add_resource", "as_view", "register_error_handler",
    '.get("/', ".get('/", '.post("/', ".post('/",
    '.put("/', ".put('/", '.patch("/', ".patch('/", '.delete("/', ".delete('/",
}))
# Every entry substring contains one of these: a text with none of them needs no other test
# (most modules of a project have none, and 12 searches cost less than 33).
ENTRY_FRAGMENTS = (
    "_request", "teardown_appcontext", "errorhandler", "error_handler", "context_processor",
    "url_", ".route(", ".endpoint(", "add_resource", "as_view", '("/', "('/",
)
# Text that can define a class-based view (``FlaskModel._is_view_class``): a base resolving to
# ``flask.views.View``/``MethodView`` or a REST ``Resource`` needs one of these modules named in
# an import, or ``views.View`` (``from flask import views``, ``import flask as fl`` then
# ``fl.views.View``), or an alias of the views module (``views as``); a base named ``MethodView``
# or ``Resource`` is the whole name closing a base list or followed by another base (not
# ``ResourceWarning``, ``DataResource`` or ``Resource(...)``). Plain substrings "View" and
# "Resource" passed 726 modules of the corpus that no other signal passes; these pass about 80
# of them, and none of the others has an entry point. Each module that passes is parsed by the
# project index. (Substring tests first: an alternation regex costs more than all of them.)
VIEW_SUBSTRINGS = (
    "flask.views", "quart.views", "flask_restful", "flask_restx", "flask_restplus",
    "views.View", "views as",
)
VIEW_BASES = {name: re.compile(name + r"\s*[,)#\\]") for name in ("MethodView", "Resource")}
# A route the substrings miss: a space or a line continuation before a parenthesis or a dot
# (``@app.route ('/')``, ``app.route ("/")(index)``), or a shortcut decorator whose rule is not
# a literal starting with "/" (``@app.get(ROOT)``, ``@bp.post(f"/{prefix}")``). Tried last: over
# the 8,500 of the corpus's 9,124 modules that reach them, both cost 0.11 s together and pass 11
# modules the other tests reject (``@mock.patch(...)``, FastAPI routers), none with an entry point.
_GAP = r"(?:\s|\\)*"
ROUTE_DECORATOR = re.compile(
    rf"@{_GAP}\w[\w.]*{_GAP}\.{_GAP}(?:route|endpoint|get|post|put|patch|delete){_GAP}\("
)
ROUTE_CALL = re.compile(rf"\.{_GAP}(?:route|endpoint){_GAP}\(")  # only where the word is


def may_define_view_class(text: str) -> bool:
    if any(signal in text for signal in VIEW_SUBSTRINGS):
        return True
    for name, base in VIEW_BASES.items():
        if name in text:
            for match in base.finditer(text):
                before = text[match.start() - 1] if match.start() else " "
                if not (before.isalnum() or before == "_"):
                    return True
    return False


CLEANUP_SIGNALS = ("teardown_", "after_request", "after_app_request")
# Text of a module that can hold start-up or command-line roots (``roles.py``).
STARTUP_SUBSTRINGS = (
    "create_app", "make_app", "init_app", "setup_app", "click", "typer", ".cli.", "command(",
    "__main__", "manager.",
)


def has_entry_signals(text: str, options: Options) -> bool:
    if any(fragment in text for fragment in ENTRY_FRAGMENTS) and any(
        signal in text for signal in ENTRY_SUBSTRINGS
    ):
        return True
    if may_define_view_class(text):
        return True
    if any(name.rsplit(".", 1)[-1] in text for name in options.request_decorators):
        return True
    if ROUTE_DECORATOR.search(text):
        return True
    return ("route" in text or "endpoint" in text) and ROUTE_CALL.search(text) is not None


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
    # Per entry point open to every user, the blueprint or app it is registered on ("" when it
    # is not a route of one, or the name cannot be qualified): a guard in another module may
    # still make it privileged (``ProjectIndex.open_request_time``).
    open_entries: dict[str, list[str]] = {}
    for entry in flask.entry_points:
        qualname = flask.info(entry.function).qualname
        entries.setdefault(qualname, f"{entry.description} `{entry.function.name}`")
        if not flask.privileged(entry):
            on = entry.registered_on if entry.kind in URL_ENTRY_KINDS else None
            open_entries.setdefault(qualname, []).append((on and flask.imports.qualify(on)) or "")
    guards = {flask.imports.qualify(name) for name in flask.privileged_blueprints}
    return {
        "functions": [flask.info(function).qualname for function in functions],
        "entries": entries,
        "calls": calls,
        "open_on": open_entries,
        "guards": sorted(name for name in guards if name),
    }


def has_startup_signals(text: str) -> bool:
    return any(signal in text for signal in STARTUP_SUBSTRINGS)


def startup_facts(model) -> dict:
    """The functions that run at start-up or from the command line here (``roles.py``)."""
    roles = model.roles
    roots = {model.flask.info(f).qualname for f in [*roles.startup_roots, *roles.cli_roots]}
    return {"roots": sorted(roots)}
