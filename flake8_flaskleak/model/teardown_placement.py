"""Where a new teardown must be registered to run for the requests that need it.

The FLK202 fix (remove a scoped session) and the FLK203 fix (reset a thread-local) add a
teardown function. It does what it promises only when it is registered:

* on the app whose requests use the object, or on a blueprint that is registered on an app (a
  blueprint's ``teardown_app_request`` runs for every request of its app; the teardown of a
  blueprint nothing registers never runs). A module with two apps gets the teardown on the one
  (or each one) whose routes and hooks reach the code using the object;
* on every path that builds the app: in an app factory right after the app is made, so no
  ``return`` can come first; in an ``init_app(app)``-style function at its start;
* before the existing teardowns that read the object: Flask runs a list of teardown functions
  in reverse registration order, and every ``teardown_request`` one before any
  ``teardown_appcontext`` one. The new teardown is registered ahead of those readers, in the
  list they are in.

Nothing here needs libcst: the fixes' ``fix_applicability`` asks it on the check path.
``teardown_fix.py`` inserts the code where a ``Placement`` says.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from ..astutil import FunctionNode, dotted_name, walk, walk_executed
from .file import FileModel
from .flask import APP_CLASSES, FLASK_ONLY_METHODS, EntryPoint
from .teardowns import ProjectNames
from .text import words_pattern

# The classes whose objects take ``teardown_app_request`` (a Flask-RESTX Namespace does not).
BLUEPRINTS = {
    "flask.Blueprint", "flask.blueprints.Blueprint", "quart.Blueprint",
    "quart.blueprints.Blueprint", "flask_smorest.Blueprint", "apiflask.APIBlueprint",
}
APPCONTEXT = "teardown_appcontext"
REQUEST = "teardown_request"
APP_REQUEST = "teardown_app_request"


@dataclass(frozen=True)
class Site:
    """An app or blueprint in reach of new code: its name and the body it is made in."""

    receiver: str  # the name a decorator is written on: ``app``, ``bp``
    is_blueprint: bool
    function: FunctionNode | None  # the factory or init function; None: module level
    klass: ast.ClassDef | None  # the class ``function`` is a method of
    made: ast.stmt | None  # the statement that makes it (None: a parameter)
    body: tuple[ast.stmt, ...]  # the module's or the function's statements

    def describe(self) -> str:
        kind = "blueprint" if self.is_blueprint else "app"
        where = f" in `{self.function.name}`" if self.function is not None else ""
        return f"{kind} `{self.receiver}`{where}"


@dataclass(frozen=True)
class Placement:
    """Where to insert a teardown and which hook registers it."""

    site: Site
    hook_name: str  # teardown_request, teardown_appcontext, teardown_app_request
    anchor: ast.stmt | None  # insert after this statement of ``site.body``
    before: ast.stmt | None  # or before this one (when set, it wins)

    @property
    def receiver(self) -> str:
        return self.site.receiver

    @property
    def is_blueprint(self) -> bool:
        return self.site.is_blueprint

    @property
    def function(self) -> FunctionNode | None:
        return self.site.function

    @property
    def klass(self) -> ast.ClassDef | None:
        return self.site.klass

    @property
    def column(self) -> int:
        """Where the teardown's ``def`` starts: 0 at module level, else the body's column."""
        if self.function is None or not self.site.body:
            return 0
        return self.site.body[0].col_offset

    def line(self) -> int:
        statement = self.before or self.anchor
        return statement.lineno if statement is not None else 0


class Placements:
    """The app and blueprint sites of one module, and where a teardown for an object goes."""

    def __init__(self, model: FileModel):
        self.model = model
        self.flask = model.flask

    # -- sites ---------------------------------------------------------------------------------

    @cached_property
    def sites(self) -> list[Site]:
        return self._module_sites() + self._factory_sites() + self._init_sites()

    def _kind(self, value: ast.expr | None) -> str | None:
        """"app", "blueprint" or None for what an assignment's value makes."""
        if not isinstance(value, ast.Call):
            return None
        qualified = self.model.imports.qualified_name(value.func)
        if qualified in BLUEPRINTS:
            return "blueprint"
        if qualified in APP_CLASSES:
            return "app"
        name = dotted_name(value.func)
        if name in self.flask.factories:
            return "app"
        klass = self.flask.classes.get(name or "")
        if klass is not None and self.flask._constructed_kind(value) == "flask":
            return "app"  # a subclass of Flask defined here
        return None

    def _made_in(self, body: list[ast.stmt], function, klass) -> list[Site]:
        found = []
        for statement in body:
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
                continue
            target = statement.targets[0]
            kind = self._kind(statement.value)
            if isinstance(target, ast.Name) and target.id in self.flask.app_names and kind:
                found.append(Site(target.id, kind == "blueprint", function, klass, statement,
                                  tuple(body)))
        return found

    def _module_sites(self) -> list[Site]:
        return self._made_in(self.model.tree.body, None, None)

    def _factory_sites(self) -> list[Site]:
        found = []
        for name in sorted(self.flask.factories):
            function = self.flask.module_functions.get(name)
            if function is not None:
                found += self._made_in(function.body, function, None)[:1]
        return found

    def _init_sites(self) -> list[Site]:
        """``def init_app(app)``: a parameter used as an app (only the functions whose text
        names ``init_app`` or a method only an app has are looked at)."""
        found = []
        outer = set(self.flask.outer_functions())
        words = words_pattern(FLASK_ONLY_METHODS | {"init_app"})
        mentioning = set()
        for function in self.model.functions_mentioning(words):
            while self.flask.info(function).parent is not None:  # a hook nested in it
                function = self.flask.info(function).parent
            if function in outer:
                mentioning.add(function)
        for function in sorted(mentioning, key=lambda f: f.lineno):
            parameters = [a.arg for a in function.args.posonlyargs + function.args.args]
            for parameter in parameters:
                if parameter not in ("self", "cls") and _used_as_app(function, parameter):
                    klass = self.flask.info(function).klass
                    body = tuple(function.body)
                    found.append(Site(parameter, False, function, klass, None, body))
                    break
        return found

    # -- blueprints registered on an app -------------------------------------------------------

    @cached_property
    def registered_blueprints(self) -> set[str]:
        """Module-level blueprints of this module that a ``register_blueprint`` call registers,
        here or (with the project index) in another module."""
        blueprints = {site.receiver for site in self.sites if site.is_blueprint}
        if not blueprints:
            return set()
        found = set()
        for _, call in self.model.calls_to({"register_blueprint"}):
            if call.args and dotted_name(call.args[0]) in blueprints:
                found.add(dotted_name(call.args[0]))
        project, module = self.model.project, self.model.module[0]
        if project is None or not module or found == blueprints:
            return found
        wanted = {f"{module}.{name}": name for name in blueprints - found}
        names = ProjectNames(project)
        here = project.relative(self.model.path)
        for relative in project.files_mentioning("register_blueprint"):
            if relative == here:
                continue
            for qualified in _registered_elsewhere(project, relative):
                resolved = names.resolve(qualified) or qualified
                if resolved in wanted:
                    found.add(wanted[resolved])
        return found

    def usable(self, site: Site) -> bool:
        return not site.is_blueprint or site.receiver in self.registered_blueprints

    # -- which site serves which code ----------------------------------------------------------

    def site_of(self, entry: EntryPoint) -> Site | None:
        """The site an entry point is registered on (by the receiver's name and where the
        entry's function is defined: a hook nested in a factory is the factory's)."""
        receiver = entry.registered_on
        candidates = [site for site in self.sites if site.receiver == receiver]
        if not candidates:
            return None
        holders = set()
        info = self.flask.info(entry.function)
        while info.parent is not None:
            holders.add(info.parent)
            info = self.flask.info(info.parent)
        for site in candidates:
            if site.function is not None and site.function in holders:
                return site
        module_level = [site for site in candidates if site.function is None]
        if module_level:
            return module_level[0]
        return candidates[0] if len(candidates) == 1 else None

    def entries_of(self, site: Site) -> list[EntryPoint]:
        return [entry for entry in self.flask.entry_points if self.site_of(entry) is site]

    def serving(self, users: Iterable[FunctionNode]) -> list[Site]:
        """The sites whose entry points reach one of ``users``."""
        users = set(users)
        found = []
        for site in self.sites:
            reached = self.flask.reach_from(self.entries_of(site))
            if users & set(reached):
                found.append(site)
        return found

    # -- choosing ------------------------------------------------------------------------------

    def choose(self, users: Iterable[FunctionNode], what: str) -> list[Site] | str:
        """The sites a teardown for the object ``what`` (as the reason names it) goes on, or
        the reason none can be chosen."""
        serving = self.serving(users)
        usable = [site for site in serving if self.usable(site)]
        if usable:
            return usable
        if serving:
            names = ", ".join(f"`{site.receiver}`" for site in serving)
            return (f"the blueprint {names} whose routes use {what} is registered on no app this "
                    "project shows: a teardown on it would never run")
        candidates = [site for site in self.sites if self.usable(site)]
        if len(candidates) == 1:
            return candidates
        unregistered = [site.receiver for site in self.sites if not self.usable(site)]
        if not candidates and unregistered:
            names = ", ".join(f"`{name}`" for name in unregistered)
            return (f"blueprint {names} is registered on no app this project shows: a teardown "
                    "on it would never run; register one on the app that serves it")
        if not candidates:
            return ("no app or blueprint is made in this module: register the teardown on the "
                    "app that uses it")
        names = ", ".join(site.describe() for site in candidates)
        return (f"this module has {names}, and no route or hook here uses {what}: register the "
                "teardown on the app that serves it")

    def placement(
        self,
        site: Site,
        hook: str,
        reads: Callable[[FunctionNode], bool],
        required_after: Iterable[ast.stmt] = (),
        preferred_after: Iterable[ast.stmt] = (),
    ) -> Placement | str:
        """Where on ``site`` a teardown using ``hook`` goes: after the statements it needs
        (``required_after``: in the site's body; ``preferred_after``: for readability), before
        the teardowns that ``reads`` says read the object; or the reason it cannot."""
        readers = self.readers(site, reads)
        if any(kind == APPCONTEXT for kind, _ in readers):
            if site.is_blueprint:
                return ("a teardown_appcontext reads it, and a blueprint's teardown runs before "
                        "every teardown_appcontext: register the new one on the app")
            hook = APPCONTEXT
        if site.is_blueprint:
            hook = APP_REQUEST
        same_list = [s for kind, s in readers if _same_list(kind, hook)]
        before = min(same_list, key=lambda s: s.lineno) if same_list else None
        body = list(site.body)
        anchor = site.made
        if anchor is None and site.function is not None and _is_docstring(body[0]):
            anchor = body[0]  # an init function: at its start, after its docstring
        required = [s for s in required_after if s in body]
        for statement in required:
            if anchor is None or statement.lineno > anchor.lineno:
                anchor = statement
        if before is not None and anchor is not None and before.lineno <= anchor.lineno:
            return (f"it must be registered after line {anchor.lineno} and before the teardown "
                    f"on line {before.lineno} that reads it: register it by hand")
        early = self._early_return(site, anchor)
        if early is not None:
            return (f"`{site.function.name}` can return on line {early.lineno}, before the "
                    "teardown would be registered")
        preferred = [s for s in preferred_after if s in body]
        if preferred:  # after the objects it names, when nothing that matters comes between
            candidate = max(preferred, key=lambda s: s.lineno)
            if (
                (anchor is None or candidate.lineno > anchor.lineno)
                and (before is None or candidate.lineno < before.lineno)
                and self._early_return(site, candidate) is None
            ):
                anchor = candidate
        if anchor is None and before is None:
            before = body[0]  # an init function: at its start
        return Placement(site, hook, anchor, before)

    def readers(
        self, site: Site, reads: Callable[[FunctionNode], bool]
    ) -> list[tuple[str, ast.stmt]]:
        """(hook kind, registering statement of ``site.body``) of each teardown on ``site``
        that reads the object."""
        found = []
        for entry in self.entries_of(site):
            if not entry.kind.startswith("teardown_"):
                continue
            if not any(reads(function) for function in self.flask.reachable_from([entry.function])):
                continue
            statement = _registration(site, entry.function)
            if statement is not None:
                found.append((entry.kind, statement))
        return found

    def _early_return(self, site: Site, anchor: ast.stmt | None) -> ast.Return | None:
        if site.function is None or anchor is None:
            return None
        for statement in site.body:
            if statement.lineno > anchor.lineno:
                break
            if site.made is not None and statement.lineno < site.made.lineno:
                continue
            for node in walk_executed([statement]):
                if isinstance(node, ast.Return):
                    return node
        return None


def _same_list(kind: str, hook: str) -> bool:
    """Whether two teardown hooks add to the same list (and so run in reverse order)."""
    return (kind == APPCONTEXT) == (hook == APPCONTEXT)


def _registration(site: Site, function: FunctionNode) -> ast.stmt | None:
    """The statement of ``site.body`` that registers ``function`` as a teardown."""
    for statement in site.body:
        if statement is function:
            if any(_is_teardown_registration(d, site.receiver) for d in function.decorator_list):
                return statement
            continue
        for node in walk_executed([statement]):
            if (
                isinstance(node, ast.Call)
                and _is_teardown_registration(node.func, site.receiver, call=True)
                and node.args
                and dotted_name(node.args[-1]) in (function.name, f"self.{function.name}")
            ):
                return statement
    return None


def _is_teardown_registration(node: ast.expr, receiver: str, call: bool = False) -> bool:
    target = node if call else (node.func if isinstance(node, ast.Call) else node)
    return (
        isinstance(target, ast.Attribute)
        and target.attr.startswith("teardown_")
        and dotted_name(target.value) == receiver
    )


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _used_as_app(function: FunctionNode, parameter: str) -> bool:
    if function.name == "init_app" and parameter == "app":
        return True
    for node in walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FLASK_ONLY_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == parameter
        ):
            return True
    return False


def _registered_elsewhere(project, relative: str) -> list[str]:
    """Qualified names of what ``register_blueprint(...)`` calls of one project file register
    (the file's shared model: parsed once, its imports resolved once)."""
    model = project.file_model(relative)
    if model is None:
        return []
    found = []
    for _, call in model.calls_to({"register_blueprint"}):
        if isinstance(call.func, ast.Attribute) and call.args:
            qualified = model.imports.qualified_name(call.args[0])
            if qualified:
                found.append(qualified)
    return found
