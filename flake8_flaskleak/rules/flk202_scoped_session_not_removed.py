"""FLK202 scoped-session-not-removed: a scoped session that nothing removes at the end of a request.

``scoped_session`` keeps one ``Session`` per worker thread in a thread-local registry. Without
``remove()`` in a teardown, the session of the last request on each thread stays bound to it:
its identity map (every object that request loaded) and its connection or open transaction.
Code run outside a request (threads, executor jobs, Celery tasks) has no teardown at all, so it
must remove the session in its own ``finally``.

Collection (what sessions exist, what is removed where) is kept apart from reporting. With the
whole-project analysis, removals made by teardowns registered in other modules count too
(``teardown_facts`` of the project index): the session ``extensions.py`` creates and ``app.py``'s teardown removes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from ..astutil import FunctionNode, dotted_name, keyword_value, walk, walk_local
from ..model.text import words_pattern
from ..scan import scan
from ..finding import Finding, FixSafety
from ..model.flask import Reach
from ..model.file import FileModel
from ..model.local_bindings import only_value, with_target
from ..rule import Rule
from ._flk202_fix import FIX_REASON, apply_session_fix, session_fix_applicability
from ..model.teardowns import (
    RELEASE_METHODS,
    ProjectNames,
    normalise,
    released_names,
)

SCOPED_SESSION = {"sqlalchemy.orm.scoped_session", "sqlalchemy.orm.scoping.scoped_session"}
FLASK_SQLALCHEMY = {"flask_sqlalchemy.SQLAlchemy", "flask_sqlalchemy.extension.SQLAlchemy"}
# Flask-SQLAlchemy 2.x builds extra scoped sessions (one per bind) with this method.
SESSION_FACTORY_METHODS = {"create_scoped_session"}
APP_CONTEXT_METHODS = {"app_context", "test_request_context", "request_context"}
SESSIONMAKER = {"sqlalchemy.orm.sessionmaker", "sqlalchemy.orm.session.sessionmaker"}
# ``with engine.begin() as connection``: the block closes the connection when it exits.
CONNECTION_CONTEXTS = {"begin", "connect"}
# Names under which projects import their scoped session (the Flask "SQLAlchemy" pattern).
IMPORTED_SESSION_NAMES = {"db_session", "Session", "ScopedSession", "DBSession", "DbSession"}
# Without one of these, no function in the file can be a thread target, job or task.
BACKGROUND_WORDS = ("Thread(", "Timer(", "submit(", "map(", "apply_async", "task", "job", "actor")
LIBRARY_ROOTS = {
    "sqlalchemy", "flask", "requests", "httpx", "aiohttp", "werkzeug", "quart", "boto3",
}


@dataclass
class SessionDefinition:
    """One ``scoped_session(...)`` call and the names code uses to reach what it returns."""

    call: ast.Call
    kind: str  # "name" (module level), "local" (in a function), "attr" (self.x / class attr)
    name: str  # the bound name or attribute
    statement: ast.stmt  # the statement that binds it
    function: FunctionNode | None  # where it is created (None: module level or class body)
    klass: ast.ClassDef | None  # the class owning an "attr" session
    aliases: set[str] = field(default_factory=set)  # other dotted names holding it (app.db.session)
    per_call: Reach | None = None  # set when it is created on every request

    def display(self) -> str:
        if self.kind == "attr" and self.function is not None:
            return f"self.{self.name}"
        if self.kind == "attr" and self.klass is not None:
            return f"{self.klass.name}.{self.name}"
        return self.name


class SessionFacts:
    """What this module defines and removes; the rule reports from these facts."""

    def __init__(self, model: FileModel):
        self.model = model
        self.flask = model.flask
        self.imports = model.imports
        self.definitions = self._definitions()

    @cached_property
    def removed(self) -> set[str]:
        return self._removed_in_teardowns() if self.definitions else set()

    # -- definitions ---------------------------------------------------------------------------

    def is_scoped_session_call(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        if self.imports.qualified_name(node.func) in SCOPED_SESSION:
            return True
        return isinstance(node.func, ast.Attribute) and node.func.attr in SESSION_FACTORY_METHODS

    def _definitions(self) -> list[SessionDefinition]:
        found: list[SessionDefinition] = []
        if "scoped_session" not in self.model.text:
            return found
        calls = self.model.calls_of(SCOPED_SESSION)
        calls += [
            (scope, call) for scope, call in self.model.calls_to(SESSION_FACTORY_METHODS)
            if isinstance(call.func, ast.Attribute)
        ]
        for scope, node in sorted(calls, key=lambda item: (item[1].lineno, item[1].col_offset)):
            definition = self._bind(node, self.model.parents(scope))
            if definition is not None:
                found.append(definition)
        for definition in found:
            definition.aliases = self._aliases(definition)
            if definition.function is not None:
                definition.per_call = self.flask.request_time.get(definition.function)
        return found

    def _bind(self, call: ast.Call, parents: dict) -> SessionDefinition | None:
        statement = parents.get(call)
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is not call:
            function = self.flask.enclosing_function(call)
            if function is not None and function in self.flask.request_time:
                # made per request and used inline: nothing can remove it
                reach = self.flask.request_time[function]
                return SessionDefinition(
                    call, "local", "scoped_session(...)", statement, function, None, per_call=reach
                )
            return None  # handed on (returned, passed): its owner is not visible here
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        target = targets[0]
        function = self.flask.enclosing_function(call)
        owner = parents.get(statement)
        if isinstance(target, ast.Name):
            if function is not None and not _declared_global(function, target.id):
                return SessionDefinition(call, "local", target.id, statement, function, None)
            if isinstance(owner, ast.ClassDef):
                return SessionDefinition(call, "attr", target.id, statement, None, owner)
            return SessionDefinition(call, "name", target.id, statement, None, None)
        if isinstance(target, ast.Attribute):
            klass = self.flask.info(function).klass if function is not None else None
            definition = SessionDefinition(call, "attr", target.attr, statement, function, klass)
            owner_name = dotted_name(target.value)
            if owner_name and owner_name not in ("self", "cls"):
                definition.aliases.add(normalise(dotted_name(target) or ""))
            return definition
        return None

    def _aliases(self, definition: SessionDefinition) -> set[str]:
        """Dotted names the session is stored under: ``app.db = Handle(session=write_session)``."""
        aliases = set(definition.aliases)
        if definition.kind == "attr" and definition.klass is not None:
            return aliases | self._instance_aliases(definition)
        mentions = words_pattern([definition.name])
        for node in self._assignments_in(self.model.scopes_mentioning(mentions)):
            if len(node.targets) != 1:
                continue
            target = dotted_name(node.targets[0])
            if target is None:
                continue
            if isinstance(node.value, ast.Name) and node.value.id == definition.name:
                aliases.add(normalise(target))
            elif isinstance(node.value, ast.Call):
                for attribute in self._constructor_attributes(node.value, definition.name):
                    aliases.add(normalise(f"{target}.{attribute}"))
        return aliases

    def _instance_aliases(self, definition: SessionDefinition) -> set[str]:
        """``db = Database()`` makes ``self.session`` of ``Database`` known as ``db.session``."""
        aliases = set()
        constructions = self.model.scopes_mentioning(words_pattern([definition.klass.name]))
        for node in self._assignments_in(constructions):
            if (
                isinstance(node.value, ast.Call)
                and dotted_name(node.value.func) == definition.klass.name
            ):
                for target in node.targets:
                    if dotted_name(target):
                        aliases.add(normalise(f"{dotted_name(target)}.{definition.name}"))
        return aliases

    @staticmethod
    def _assignments_in(scopes) -> Iterator[ast.Assign]:
        for scope in scopes:
            yield from scan(scope).of(ast.Assign)

    def _constructor_attributes(self, call: ast.Call, name: str) -> Iterator[str]:
        """``Handle(engine, session)`` whose ``__init__`` stores ``self.session = session``."""
        for keyword in call.keywords:
            if isinstance(keyword.value, ast.Name) and keyword.value.id == name and keyword.arg:
                yield from self._stored_as(call, keyword.arg) or [keyword.arg]
        for index, argument in enumerate(call.args):
            if isinstance(argument, ast.Name) and argument.id == name:
                init = self._init_of(call)
                if init is not None:
                    parameters = [a.arg for a in init.args.posonlyargs + init.args.args][1:]
                    if index < len(parameters):
                        yield from self._stored_as(call, parameters[index])

    def _init_of(self, call: ast.Call) -> FunctionNode | None:
        class_name = dotted_name(call.func)
        if class_name not in self.flask.classes:
            return None
        return self.flask.methods.get(class_name, {}).get("__init__")

    def _stored_as(self, call: ast.Call, parameter: str) -> list[str]:
        init = self._init_of(call)
        if init is None:
            return []
        return [
            target.attr
            for node in walk_local(init)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id == parameter
            for target in node.targets
            if isinstance(target, ast.Attribute) and dotted_name(target.value) == "self"
        ]

    # -- removals ------------------------------------------------------------------------------

    def _removed_in_teardowns(self) -> set[str]:
        """Normalised dotted names on which a teardown (or what it calls) calls ``remove()``."""
        functions = self.flask.reachable_from([entry.function for entry in self.flask.cleanup_hooks])
        removed: set[str] = set()
        for function in functions:
            removed |= released_names(function)
        for lambda_node in self.flask.teardown_lambdas:
            removed |= released_names(lambda_node)
        return removed

    def is_removed(self, definition: SessionDefinition) -> bool:
        if any(matches(definition, name) for name in self.removed):
            return True
        return self.model.project is not None and self.elsewhere.removes(definition)

    @cached_property
    def elsewhere(self) -> ProjectRemovals:
        return ProjectRemovals(self)

    def is_stored(self, definition: SessionDefinition) -> bool:
        """Whether a registry made in a function outlives the call: kept on an object
        (``app.db = Handle(session)``, ``app.extensions["db"] = session``) or handed to a call."""
        if definition.aliases:
            return True
        function = definition.function
        if function is None or definition.kind != "local":
            return False
        parents = self.model.parents(function)
        for node in walk_local(function):
            if not (isinstance(node, ast.Name) and node.id == definition.name):
                continue
            if not isinstance(node.ctx, ast.Load):
                continue
            parent = parents.get(node)
            if isinstance(parent, ast.Call) and parent.func is node:
                continue  # Session(): a session from it, not the registry
            if isinstance(parent, ast.Attribute):
                continue  # Session.configure(...), Session.remove()
            if isinstance(parent, ast.Return):
                continue  # judged by is_returned
            return True
        return False

    def bound_to_closed_connection(self, definition: SessionDefinition) -> bool:
        """Every session of a local registry runs on a connection a ``with engine.begin() as
        connection:`` block of the same function closes: ``scoped_session(sessionmaker(
        bind=connection))``, ``Registry.configure(bind=connection)``, or a factory made with
        ``sessionmaker(bind=connection)`` and passed in. Bound to an engine, it is not."""
        function = definition.function
        if function is None or definition.kind != "local":
            return False
        binds = self._binds(definition)
        return bool(binds) and all(self._closed_connection(function, bind) for bind in binds)

    def _binds(self, definition: SessionDefinition) -> list[ast.expr | None]:
        """What the registry's sessions are bound to (None: something we cannot see)."""
        binds: list[ast.expr | None] = []
        call = definition.call
        factory = call.args[0] if call.args else keyword_value(call, "session_factory")
        factory_names = {definition.name}
        if isinstance(factory, ast.Name):
            factory_names.add(factory.id)
            factory = only_value(definition.function, factory.id)
        if isinstance(factory, ast.Call):
            if self.imports.qualified_name(factory.func) in SESSIONMAKER:
                binds.extend(_bind_arguments(factory))
        for node in walk_local(definition.function):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            configures = (
                isinstance(func, ast.Attribute)
                and func.attr == "configure"
                and isinstance(func.value, ast.Name)
                and func.value.id in factory_names
            )
            if configures or (isinstance(func, ast.Name) and func.id == definition.name):
                binds.extend(_bind_arguments(node, positional=False))  # keywords only
        return binds

    @staticmethod
    def _closed_connection(function: FunctionNode, bind: ast.expr | None) -> bool:
        if not isinstance(bind, ast.Name):
            return False
        item = with_target(function, bind.id)
        return (
            item is not None
            and isinstance(item.context_expr, ast.Call)
            and isinstance(item.context_expr.func, ast.Attribute)
            and item.context_expr.func.attr in CONNECTION_CONTEXTS
        )

    @staticmethod
    def is_returned(definition: SessionDefinition) -> bool:
        """The registry, or a session it makes (``return Session()``), is returned."""
        if definition.function is None:
            return False
        for node in walk_local(definition.function):
            if not isinstance(node, ast.Return) or node.value is None:
                continue
            value = node.value.func if isinstance(node.value, ast.Call) else node.value
            if isinstance(value, ast.Name) and value.id == definition.name:
                return True
        return False

    def released_in_function(self, definition: SessionDefinition) -> bool:
        """``Session.remove()``, or ``close()`` of the registry or of the attribute its session
        is kept in (``self.session = Session()`` closed by a method of the same class)."""
        function = definition.function
        if function is None:
            return False
        names = {definition.name}
        kept: set[str] = set()
        for node in walk_local(function):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if isinstance(node.value.func, ast.Name) and node.value.func.id == definition.name:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            names.add(target.id)
                        elif isinstance(target, ast.Attribute) and dotted_name(target.value) == "self":
                            kept.add(target.attr)
        if names & released_names(function):
            return True
        klass = self.flask.info(function).klass
        if kept and klass is not None:
            for method in self.flask.all_methods(klass.name).values():
                if {f"self.{attr}" for attr in kept} & released_names(method):
                    return True
        return False


def _bind_arguments(call: ast.Call, positional: bool = True) -> list[ast.expr | None]:
    """The ``bind`` a ``sessionmaker(...)``/``configure(...)``/``Registry(...)`` call gives
    (``sessionmaker(connection)`` too); None for ``**options`` that may carry one."""
    found: list[ast.expr | None] = []
    for keyword in call.keywords:
        if keyword.arg is None:
            found.append(None)
        elif keyword.arg == "bind":
            found.append(keyword.value)
    if positional and call.args:
        found.append(call.args[0])
    return found


def _declared_global(function: ast.AST, name: str) -> bool:
    """``global Session`` in the function: the assignment binds the module-level name."""
    return any(isinstance(node, ast.Global) and name in node.names for node in walk_local(function))


def matches(definition: SessionDefinition, released: str) -> bool:
    if released in definition.aliases:
        return True
    if definition.kind == "attr":
        return released.rsplit(".", 1)[-1] == definition.name
    return released == definition.name or released.endswith("." + definition.name)


class ProjectRemovals:
    """Removals made by teardowns registered in other modules of the project."""

    def __init__(self, facts: SessionFacts):
        self.facts = facts
        self.model = facts.model
        self.names = ProjectNames(self.model.project)
        others = self.model.project.teardown_facts(exclude_path=self.model.path)
        self.removals = [
            (written, qualified) for _, module_facts in others
            for written, qualified in module_facts.get("removed", [])
        ]
        runs = [name for _, module_facts in others for name in module_facts.get("runs", [])]
        # this module's functions that another module's teardown runs (``shutdown_session``)
        self.removed_here: set[str] = set()
        run_here = self.names.functions_run(self.model, runs)
        for function in self.model.flask.reachable_from(run_here):
            self.removed_here |= released_names(function)

    def removes(self, definition: SessionDefinition) -> bool:
        if any(matches(definition, name) for name in self.removed_here):
            return True
        qualified_names = self.qualified_names(definition)
        return any(
            self._same_session(definition, qualified_names, written, qualified)
            for written, qualified in self.removals
        )

    def _same_session(self, definition, qualified_names: set[str], written: str, qualified) -> bool:
        """By qualified name where it resolves in the project (re-exports followed); else, and
        for attributes, by name as the per-file rule matches (a removal we cannot place counts)."""
        resolved = self.names.resolve(qualified)
        if resolved is None or definition.kind == "attr":
            return matches(definition, written)
        return resolved in qualified_names

    def qualified_names(self, definition: SessionDefinition) -> set[str]:
        module = self.model.module[0]
        if not module:
            return set()
        names = {f"{module}.{alias}" for alias in definition.aliases if not alias.startswith("<")}
        if definition.kind == "name":
            names.add(f"{module}.{definition.name}")
        return names


class BackgroundUses:
    """Scoped sessions used by functions that run outside a request, without a removal."""

    def __init__(self, facts: SessionFacts):
        self.facts = facts
        self.flask = facts.flask
        self.imports = facts.imports

    @cached_property
    def db_names(self) -> set[str]:
        return self._flask_sqlalchemy_names()

    @cached_property
    def tasks_get_app_context(self) -> bool:
        return self.facts.model.roles.tasks_get_app_context

    def _flask_sqlalchemy_names(self) -> set[str]:
        names = set()
        for scope, call in self.facts.model.calls_of(FLASK_SQLALCHEMY):
            for node in scan(scope).of(ast.Assign):
                if node.value is call:
                    names.update(dotted_name(t) for t in node.targets if dotted_name(t))
        for local, qualified in self.imports.names.items():
            library = qualified.split(".")[0] in LIBRARY_ROOTS
            if qualified.rsplit(".", 1)[-1] == "db" and not library:
                names.add(local)
        return names

    def session_use(self, node: ast.AST) -> str | None:
        """The scoped session an expression uses, as written (``db.session``), if any."""
        if isinstance(node, ast.Attribute) and node.attr == "session":
            owner = dotted_name(node.value)
            if owner in self.db_names:
                return f"{owner}.session"
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            for definition in self.facts.definitions:
                if definition.kind == "name" and definition.name == node.id:
                    return node.id
            qualified = self.imports.qualified_name(node)
            if (
                qualified
                and node.id in IMPORTED_SESSION_NAMES
                and qualified.split(".")[0] not in LIBRARY_ROOTS
            ):
                return node.id
        if isinstance(node, ast.Attribute):
            name = dotted_name(node)
            for definition in self.facts.definitions:
                if name and normalise(name) in definition.aliases:
                    return name
        return None

    def findings(self) -> Iterator[tuple[ast.AST, FunctionNode, str, str]]:
        """(use node, background function, why it runs outside a request, session as written)."""
        if not self.flask.background:
            return
        for function, reason in self.flask.background.items():
            if reason.startswith("task") and self.tasks_get_app_context:
                continue
            if _decorated_with_app_context(function):
                continue
            released = set()
            for node in walk_local(function):
                if isinstance(node, ast.Try):
                    for statement in node.finalbody:
                        released |= released_names(statement)
            reported = set()
            for use in self._uses(function, set()):
                session = use[1]
                if session in reported or normalise(session) in released:
                    continue
                reported.add(session)
                yield use[0], function, reason, session

    def _uses(self, function: FunctionNode, seen: set) -> Iterator[tuple[ast.AST, str]]:
        if function in seen:
            return
        seen.add(function)
        shielded = _inside_app_context(function) | _release_receivers(function)
        nodes = sorted(
            (n for n in walk_local(function) if hasattr(n, "lineno") and n not in shielded),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for node in nodes:
            session = self.session_use(node)
            if session is not None:
                yield node, session
            if isinstance(node, ast.Call):
                for callee in self.flask._functions_referenced(node.func, function):
                    yield from self._uses(callee, seen)


def _decorated_with_app_context(function: FunctionNode) -> bool:
    """``@with_appcontext``, ``@app_context_required``: the decorator pushes an app context."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = (dotted_name(target) or "").lower().replace("_", "")
        if "appcontext" in name:
            return True
    return False


def _release_receivers(function: FunctionNode) -> set[ast.AST]:
    """``x`` in ``x.remove()``: releasing a session is not using it."""
    receivers: set[ast.AST] = set()
    for node in walk_local(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RELEASE_METHODS
        ):
            receivers.add(node.func.value)
            receivers.update(walk(node.func.value))
    return receivers


def _inside_app_context(function: FunctionNode) -> set[ast.AST]:
    """Nodes inside ``with app.app_context():`` blocks: popping it runs the app's teardowns."""
    inside: set[ast.AST] = set()
    for node in walk_local(function):
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(
            isinstance(item.context_expr, ast.Call)
            and isinstance(item.context_expr.func, ast.Attribute)
            and item.context_expr.func.attr in APP_CONTEXT_METHODS
            for item in node.items
        ):
            for statement in node.body:
                inside.add(statement)
                inside.update(walk_local(statement))
    return inside


class ScopedSessionNotRemoved(Rule):
    code = "FLK202"
    name = "scoped-session-not-removed"
    summary = "scoped session never removed in a teardown: its session stays bound to the thread"
    triggers = ("scoped_session", "db.session", "db_session", "Session.")
    fix_safety = FixSafety.UNSAFE
    fix_reason = FIX_REASON

    @classmethod
    def applies_to(cls, text, path, options) -> bool:
        if "scoped_session" in text:
            return True
        return any(t in text for t in cls.triggers) and any(w in text for w in BACKGROUND_WORDS)

    def facts(self) -> SessionFacts:
        return SessionFacts(self.model)

    def check(self) -> Iterator[Finding]:
        facts = self.facts()
        for definition in facts.definitions:
            message = self._definition_message(facts, definition)
            if message is not None:
                yield self.finding(definition.call, message)
        for node, function, reason, session in BackgroundUses(facts).findings():
            yield self.finding(
                node,
                f"{reason} uses scoped session `{session}` outside a request and never removes "
                f"it: the session and every object it loaded stay bound to the worker thread; "
                f"call `{session}.remove()` in a finally block",
            )

    def _definition_message(self, facts: SessionFacts, definition: SessionDefinition) -> str | None:
        if definition.kind == "local" and not facts.is_stored(definition):
            if not self.model.roles.serving(definition.function):
                return None  # made at start-up or in a command, dropped there: once
            if facts.is_returned(definition) or facts.released_in_function(definition):
                return None  # handed to the caller, or removed/closed before the call ends
            if facts.bound_to_closed_connection(definition):
                return None  # its session runs on a connection the `with` block closes
        if definition.per_call is not None:
            return (
                "`scoped_session(...)` is created on every request "
                f"({definition.per_call.describe()})"
                ": each call makes a new thread-local registry whose session nothing removes; "
                "create it once at import time and call `.remove()` in a teardown_appcontext"
            )
        if facts.is_removed(definition):
            return None
        if self.model.is_test_module:
            return None  # test code builds its sessions per test, on purpose
        if definition.kind == "local" and facts.is_returned(definition):
            return None  # the caller owns it
        if definition.kind == "local" and not facts.is_stored(definition):
            return (
                f"`scoped_session(...)` is created on every call of `{definition.function.name}` "
                f"and `{definition.name}` is never removed: each call makes a new thread-local "
                "registry whose session keeps its connection; create it once at import time, or "
                "use a plain `Session()` in a `with` block"
            )
        return (
            f"scoped session `{definition.display()}` is never removed in a teardown: its session, "
            "identity map and connection stay bound to each worker thread between requests; "
            f"call `{definition.display()}.remove()` in a teardown_appcontext"
        )

    def fix_applicability(self, findings):
        return session_fix_applicability(self, findings)

    def fix(self, context):
        return apply_session_fix(self, context)
