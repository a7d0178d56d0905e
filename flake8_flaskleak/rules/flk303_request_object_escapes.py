"""FLK303 request-object-escapes: the request, or what holds it, stored where it outlives it.

A module global, a class attribute, a thread-local or a container held by one of those lives for
the process (a thread-local: for the worker thread). The request object references its WSGI
environ, input stream and uploaded files, and the environ references the request back; an
adapter or logger built from it holds all of that too. ``request``/``session``/``g`` themselves
are proxies: stored, they read whatever request is current later, or fail outside one.

Collecting what is stored where (``_Stores``) is separate from the report so a project index can
later supply thread-locals and teardowns from other modules.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from ..astutil import (
    FunctionNode,
    dotted_name,
    local_bindings,
    short_source,
    string_value,
    walk_local,
    walk,
)
from ..finding import Finding
from ..model.flask import REQUEST_GLOBALS
from ..model.text import words_pattern
from ..rule import Rule
from ..scan import scan, statements

# Attributes of the request object that are (or hold) the request's own data structures.
PINNING_ATTRIBUTES = {"environ", "files", "stream", "input_stream"}
CONTEXT_STACK_TOPS = {
    "flask._request_ctx_stack.top",
    "flask.globals._request_ctx_stack.top",
    "flask._app_ctx_stack.top",
    "flask.globals._app_ctx_stack.top",
}
CONTAINER_METHODS = {
    "append",
    "appendleft",
    "extend",
    "extendleft",
    "insert",
    "add",
    "update",
    "setdefault",
}
STORE_NODES = (ast.Assign, ast.AnnAssign, ast.Call)
CONTAINER_LITERALS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
CONTAINER_TYPES = {
    "list",
    "dict",
    "set",
    "deque",
    "defaultdict",
    "OrderedDict",
    "Counter",
    "ChainMap",
    "WeakSet",
    "WeakValueDictionary",
    "WeakKeyDictionary",
}
# Calls that build an object keeping what they are given: loggers and adapters (``bind``,
# ``LoggerAdapter``), partials, and any class instantiation (a CapWords callee).
BUILDER_NAMES = {"bind", "new", "LoggerAdapter", "partial"}
THREAD_LOCAL_CLASSES = {"threading.local", "_threading_local.local", "werkzeug.local.Local"}
STORE_HINTS = ("global ", "local", "cls.", "setattr", "__class__", "] =", "]=", ".append", ".add(")
STORE_HINTS += (".update", ".extend", ".insert", ".setdefault", "class ")

HOLDER_WORDS = {
    "thread-local": "thread-local",
    "class": "class attribute",
    "module": "module global",
    "app": "app attribute",
    "singleton": "module-level object attribute",
}
ADVICE = {
    "proxy": "a stored proxy reads whatever request is current later, or fails outside one; "
    "copy the values you need into locals or `g`",
    "object": "it keeps the request's environ, input stream and uploaded files alive; copy the "
    "values you need into locals or `g`",
    "built": "it keeps the request it was built from alive; bind plain values (request id, "
    "path) instead and keep per-request objects in `g`",
}


@dataclass(frozen=True)
class Escapee:
    """A value that is, or keeps, a request (or session/g) object."""

    kind: str  # "proxy", "object" (the request itself or its data) or "built" (made from one)
    node: ast.AST  # the stored expression
    origin: ast.AST  # the request-ish expression inside it, for "built from ..."

    @property
    def text(self) -> str:
        text = f"`{short_source(self.node, 50)}`"
        if self.kind == "built":
            text += f" built from `{short_source(self.origin, 40)}`"
        return text


@dataclass(frozen=True)
class Holder:
    """Something that outlives a request and can be stored into."""

    kind: str  # a HOLDER_WORDS key
    text: str  # its source, e.g. ``_local`` or ``Registry.items``


@dataclass(frozen=True)
class Store:
    node: ast.AST  # the statement or call that stores
    function: FunctionNode
    escapee: Escapee
    holder: Holder
    attribute: str | None  # ``holder.attribute = value``; None when stored into the holder
    cleared: bool  # a thread-local attribute reset in a teardown
    direct: bool = False  # ``global name; name = value``: the holder is the name itself


class RequestObjectEscapes(Rule):
    code = "FLK303"
    name = "request-object-escapes"
    summary = "request, session or g (or an object built from one) stored beyond the request"
    triggers = ("flask", "quart")
    request_time_only = True

    @classmethod
    def applies_to(cls, text, path, options) -> bool:
        return super().applies_to(text, path, options) and any(h in text for h in STORE_HINTS)

    def check(self) -> Iterator[Finding]:
        for store in self.stores():
            if store.cleared:
                continue
            yield self.finding(store.node, self.message(store))

    def message(self, store: Store) -> str:
        where = HOLDER_WORDS[store.holder.kind]
        if store.direct:
            where = f"{where} `{store.holder.text}`"
        elif store.attribute is not None:
            where = f"{where} `{store.holder.text}.{store.attribute}`"
        else:
            where = f"container in {where} `{store.holder.text}`"
        reach = self.model.flask.request_time.get(store.function)
        context = reach.describe() if reach else f"in `{store.function.name}`"
        return (
            f"{store.escapee.text} stored in {where} outlives the request ({context}): "
            f"{ADVICE[store.escapee.kind]}"
        )

    # -- collecting stores ---------------------------------------------------------------------

    def stores(self) -> Iterator[Store]:
        """Stores in the functions that name both the request (or what reaches it) and
        something that outlives it; only those can store one in the other."""
        request_lines = self.model.source.lines_matching(self.request_names)
        request_time = self.model.flask.request_time
        for function, lines in self.model.scopes.lines_by_scope(request_lines).items():
            if function not in request_time:
                continue  # only code that runs during a request has a request to keep
            text = self.model.source.segment(function.lineno, function.end_lineno or function.lineno)
            if not any(word in text for word in self.holder_names):
                continue  # nothing long-lived is named in it
            aliases, lines = self.aliases(function, lines)
            for node in self.model.scopes.nodes_on_lines(function, lines):
                if type(node) in STORE_NODES:
                    store = self.store_at(node, function, aliases)
                    if store is not None:
                        yield store

    def store_at(self, node: ast.AST, function: FunctionNode, aliases) -> Store | None:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            escapee = self.classify(node.value, aliases)
            if escapee is None:
                return None
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                store = self.store_into(target, node, function, escapee)
                if store is not None:
                    return store
            return None
        if isinstance(node, ast.Call):
            return self.store_by_call(node, function, aliases)
        return None

    def store_into(self, target, node, function, escapee: Escapee) -> Store | None:
        if isinstance(target, ast.Name):
            if target.id in self.declared_global(function):
                holder = Holder("module", target.id)
                return Store(node, function, escapee, holder, None, False, direct=True)
            return None
        if isinstance(target, ast.Attribute):
            holder = self.holder(target.value, function)
            if holder is None:
                return None
            cleared = holder.kind == "thread-local" and self.is_cleared(holder, target.attr)
            return Store(node, function, escapee, holder, target.attr, cleared)
        if isinstance(target, ast.Subscript):
            holder = self.container_holder(target.value, function, subscript=True)
            if holder is None:
                return None
            return Store(node, function, escapee, holder, None, self.container_cleared(holder))
        return None

    def store_by_call(self, call: ast.Call, function, aliases) -> Store | None:
        func = call.func
        if isinstance(func, ast.Name) and func.id == "setattr" and len(call.args) == 3:
            escapee = self.classify(call.args[2], aliases)
            attribute = string_value(call.args[1])
            holder = self.holder(call.args[0], function) if escapee and attribute else None
            if holder is None:
                return None
            cleared = holder.kind == "thread-local" and self.is_cleared(holder, attribute)
            return Store(call, function, escapee, holder, attribute, cleared)
        if not isinstance(func, ast.Attribute) or func.attr not in CONTAINER_METHODS:
            return None
        values = list(call.args) + [keyword.value for keyword in call.keywords]
        escapee = next(filter(None, (self.classify(value, aliases) for value in values)), None)
        if escapee is None:
            return None
        holder = self.container_holder(func.value, function)
        if holder is None:
            return None
        return Store(call, function, escapee, holder, None, self.container_cleared(holder))

    @cached_property
    def request_names(self) -> re.Pattern[str]:
        """Names through which a function can reach the request: only functions saying one of
        them can store it (the proxies under their local names, the context stacks)."""
        names = {"_get_current_object", "_request_ctx_stack", "_app_ctx_stack"}
        for local, qualified in self.model.imports.names.items():
            if qualified in REQUEST_GLOBALS or qualified.rsplit(".", 1)[-1] in names:
                names.add(local)
            elif qualified in ("flask", "quart", "flask.globals", "quart.globals"):
                names.add(local)  # ``import flask`` then ``flask.request``
        return words_pattern(names)

    @cached_property
    def holder_names(self) -> set[str]:
        """Names a store into something that outlives the request starts from: module-level
        names, classes, ``cls``/``type(self)``, the app, a thread-local, an imported module,
        and ``self`` of the classes whose instances outlive requests."""
        flask = self.model.flask
        names = {"global", "setattr", "cls", "__class__", "type"}
        names |= self.module_level_names | set(flask.classes)
        names |= {local for local in self.model.imports.names if local[:1].islower()}
        if self.singleton_classes or self.thread_local_attributes:
            names.add("self")
        return names

    # -- what is stored ------------------------------------------------------------------------

    def aliases(
        self, function: FunctionNode, lines: list[int]
    ) -> tuple[dict[str, Escapee], list[int]]:
        """Local names bound to a request-ish value (``req = request._get_current_object()``)
        on ``lines`` of ``function``, and those lines with the lines that use the aliases."""
        aliases: dict[str, Escapee] = {}
        declared = self.declared_global(function)
        for _ in range(2):  # a second pass picks up an alias of an alias
            for node in self.model.scopes.nodes_on_lines(function, lines):
                if (
                    type(node) is ast.Assign
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id not in declared
                ):
                    escapee = self.classify(node.value, aliases)
                    if escapee is not None:
                        aliases.setdefault(node.targets[0].id, escapee)
            if not aliases:
                break
            used = self.model.source.lines_matching(words_pattern(aliases))
            end = function.end_lineno or function.lineno
            lines = sorted(set(lines) | {line for line in used if function.lineno <= line <= end})
        return aliases, lines

    def classify(self, expr: ast.AST, aliases: dict[str, Escapee]) -> Escapee | None:
        flask = self.model.flask
        if isinstance(expr, ast.Name) and expr.id in aliases:
            return aliases[expr.id]
        if flask.request_global(expr):
            return Escapee("proxy", expr, expr)
        if isinstance(expr, ast.Attribute):
            if self.model.imports.qualified_name(expr) in CONTEXT_STACK_TOPS:
                return Escapee("object", expr, expr)
            if expr.attr in PINNING_ATTRIBUTES and flask.request_global(expr.value) == "request":
                return Escapee("object", expr, expr)
            return None
        if isinstance(expr, ast.Subscript) and self.is_request_files(expr.value):
            return Escapee("object", expr, expr)
        if isinstance(expr, ast.Call):
            return self.classify_call(expr, aliases)
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)):
            inner = self.first_escapee(expr.elts, aliases)
            return Escapee(inner.kind, expr, inner.origin) if inner else None
        if isinstance(expr, ast.Dict):
            inner = self.first_escapee(expr.values, aliases)
            return Escapee(inner.kind, expr, inner.origin) if inner else None
        return None

    def classify_call(self, call: ast.Call, aliases) -> Escapee | None:
        func = call.func
        if isinstance(func, ast.Attribute):
            proxy = self.model.flask.request_global(func.value)
            if func.attr == "_get_current_object" and proxy:
                return Escapee("object", call, call)
            if func.attr in ("get", "getlist") and self.is_request_files(func.value):
                return Escapee("object", call, call)
        callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if not (callee in BUILDER_NAMES or callee[:1].isupper()):
            return None
        arguments = list(call.args) + [keyword.value for keyword in call.keywords]
        arguments = [a.value if isinstance(a, ast.Starred) else a for a in arguments]
        inner = self.first_escapee(arguments, aliases)
        if inner is None:
            return None
        return Escapee("built", call, inner.origin)

    def first_escapee(self, values, aliases) -> Escapee | None:
        for value in values:
            if value is not None:
                escapee = self.classify(value, aliases)
                if escapee is not None:
                    return escapee
        return None

    def is_request_files(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "files"
            and self.model.flask.request_global(node.value) == "request"
        )

    # -- where it is stored --------------------------------------------------------------------

    def holder(self, expr: ast.AST, function: FunctionNode) -> Holder | None:
        """What ``expr`` is, when it lives longer than a request; ``None`` otherwise."""
        if isinstance(expr, ast.Name):
            return self.name_holder(expr, function)
        if isinstance(expr, ast.Subscript):
            return self.holder(expr.value, function)
        if isinstance(expr, ast.Call) and dotted_name(expr.func) == "type" and len(expr.args) == 1:
            klass = self.model.flask.info(function).klass
            return Holder("class", klass.name) if klass is not None else None
        if not isinstance(expr, ast.Attribute):
            return None
        owner = expr.value
        if expr.attr == "__class__":
            klass = self.model.flask.info(function).klass
            return Holder("class", klass.name) if klass is not None else None
        if isinstance(owner, ast.Name) and owner.id == self.first_parameter(function):
            return self.self_attribute_holder(expr, function)
        inner = self.holder(owner, function)
        if inner is None:
            return None
        return Holder(inner.kind, f"{inner.text}.{expr.attr}")

    def container_holder(
        self, expr: ast.AST, function: FunctionNode, subscript: bool = False
    ) -> Holder | None:
        """A long-lived container: a module-level list/dict/set/deque (or, for ``x[k] = v``, a
        name imported from the project), or one kept on a class, a thread-local or a
        module-level object's ``self``.

        Method calls on other long-lived objects (``db.session.add(...)``,
        ``metrics.update(...)``) are not container stores: the object decides what it keeps.
        """
        while isinstance(expr, ast.Subscript):
            expr = expr.value
        holder = self.holder(expr, function)
        if holder is None:
            return None
        if isinstance(expr, ast.Name):
            if expr.id in self.module_containers:
                return holder
            qualified = self.model.imports.qualified_name(expr)
            imports = self.model.imports
            if subscript and qualified and qualified not in imports.imported_modules:
                return holder if self.is_project_import(qualified) else None
            return None
        if isinstance(expr, ast.Attribute):
            return holder if holder.kind in ("thread-local", "class", "singleton") else None
        return None

    @cached_property
    def module_containers(self) -> set[str]:
        """Module-level names bound to a container literal or a container constructor."""
        names: set[str] = set()
        for statement in _module_statements(self.model.tree.body):
            value = getattr(statement, "value", None)
            if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or value is None:
                continue
            is_container = isinstance(value, CONTAINER_LITERALS) or (
                isinstance(value, ast.Call)
                and (dotted_name(value.func) or "").rsplit(".", 1)[-1] in CONTAINER_TYPES
            )
            if not is_container:
                continue
            if isinstance(statement, ast.Assign):
                names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
            elif isinstance(statement.target, ast.Name):
                names.add(statement.target.id)
        return names

    def name_holder(self, name: ast.Name, function: FunctionNode) -> Holder | None:
        flask = self.model.flask
        if name.id == self.first_parameter(function):
            klass = flask.info(function).klass
            if klass is not None and self.is_classmethod(function):
                return Holder("class", klass.name)
            if klass is not None and klass.name in self.singleton_classes:
                return Holder("singleton", self.singleton_classes[klass.name])
            return None
        if name.id in self.locals_of(function):
            return None
        if name.id in self.thread_local_names:
            return Holder("thread-local", name.id)
        if name.id in flask.classes:
            return Holder("class", name.id)
        qualified = self.model.imports.qualified_name(name)
        if qualified in ("flask.current_app", "quart.current_app"):
            return Holder("app", name.id)
        if name.id in self.module_level_names:
            return Holder("app" if name.id in flask.app_names else "module", name.id)
        if qualified and self.is_project_import(qualified):
            return Holder("module", name.id)  # a module, or a global of one of the project's
        return None

    def is_project_import(self, qualified: str) -> bool:
        imports = self.model.imports
        if qualified in imports.imported_modules:
            return qualified.split(".")[0] not in ("flask", "quart", "werkzeug")
        if qualified.startswith("."):
            return True
        package = imports.module_name.split(".")[0]
        return bool(package) and qualified.split(".")[0] == package

    def locals_of(self, function: FunctionNode) -> set[str]:
        if function not in self._locals:
            self._locals[function] = local_bindings(function)
        return self._locals[function]

    @cached_property
    def _locals(self) -> dict[FunctionNode, set[str]]:
        return {}

    def self_attribute_holder(self, expr: ast.Attribute, function) -> Holder | None:
        """``self.x`` as a holder: a thread-local the class keeps, or a singleton's attribute."""
        klass = self.model.flask.info(function).klass
        if klass is None:
            return None
        if self.is_classmethod(function):
            return Holder("class", f"{klass.name}.{expr.attr}")
        if expr.attr in self.thread_local_attributes.get(klass.name, ()):
            return Holder("thread-local", f"self.{expr.attr}")
        if klass.name in self.singleton_classes:
            return Holder("singleton", f"{self.singleton_classes[klass.name]}.{expr.attr}")
        return None

    def first_parameter(self, function: FunctionNode) -> str | None:
        info = self.model.flask.info(function)
        if info.klass is None or self.is_staticmethod(function):
            return None
        arguments = function.args.posonlyargs + function.args.args
        return arguments[0].arg if arguments else None

    @staticmethod
    def is_classmethod(function: FunctionNode) -> bool:
        return any(dotted_name(d) == "classmethod" for d in function.decorator_list)

    @staticmethod
    def is_staticmethod(function: FunctionNode) -> bool:
        return any(dotted_name(d) == "staticmethod" for d in function.decorator_list)

    @staticmethod
    def declared_global(function: FunctionNode) -> set[str]:
        names: set[str] = set()
        for node in statements(function):
            if isinstance(node, ast.Global):
                names.update(node.names)
        return names

    # -- module facts (separable: a project index can supply them) -----------------------------

    @cached_property
    def module_level_names(self) -> set[str]:
        names: set[str] = set()
        for statement in _module_statements(self.model.tree.body):
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    names.update(n.id for n in walk(target) if isinstance(n, ast.Name))
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                names.add(statement.target.id)
        return names

    def is_thread_local_call(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        if self.model.imports.qualified_name(node.func) in THREAD_LOCAL_CLASSES:
            return True
        return dotted_name(node.func) in self.thread_local_classes

    @cached_property
    def thread_local_classes(self) -> set[str]:
        """Classes defined here that subclass ``threading.local``."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, klass in self.model.flask.classes.items():
                if name in found:
                    continue
                for base in klass.bases:
                    qualified = self.model.imports.qualified_name(base)
                    if qualified in THREAD_LOCAL_CLASSES or dotted_name(base) in found:
                        found.add(name)
                        changed = True
        return found

    @cached_property
    def thread_local_names(self) -> set[str]:
        names: set[str] = set()
        for statement in _module_statements(self.model.tree.body):
            if isinstance(statement, ast.Assign) and self.is_thread_local_call(statement.value):
                names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        return names

    @cached_property
    def thread_local_attributes(self) -> dict[str, set[str]]:
        """Per class: attributes bound to a thread-local (class body or ``self.x = local()``)."""
        found: dict[str, set[str]] = {}
        if not self.thread_local_classes and "local" not in self.model.text.lower():
            return found
        for name, klass in self.model.flask.classes.items():
            scopes = [klass, *self.model.scopes.functions_in(klass)]
            for node in (n for scope in scopes for n in statements(scope)):
                if not isinstance(node, ast.Assign) or not self.is_thread_local_call(node.value):
                    continue
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(name, set()).add(target.id)
                    elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                        found.setdefault(name, set()).add(target.attr)
        return found

    @cached_property
    def singleton_classes(self) -> dict[str, str]:
        """Classes instantiated only at module level, mapped to the instance's name."""
        flask = self.model.flask
        instantiated_in_functions = {
            dotted_name(call.func)
            for scope, call in self.model.calls_to(set(flask.module_instances.values()))
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        return {
            class_name: instance
            for instance, class_name in flask.module_instances.items()
            if class_name not in instantiated_in_functions
        }

    @cached_property
    def teardown_resets(self) -> set[tuple[str, str]]:
        """``(holder last name, attribute)`` pairs a teardown deletes or resets; ``*``: all."""
        flask = self.model.flask
        resets: set[tuple[str, str]] = set()
        for function in flask.reach_from(flask.cleanup_hooks):
            for node in walk_local(function):
                resets.update(_resets_in(node))
        return resets

    def is_cleared(self, holder: Holder, attribute: str) -> bool:
        last = holder.text.rsplit(".", 1)[-1]
        return (last, attribute) in self.teardown_resets or (last, "*") in self.teardown_resets

    def container_cleared(self, holder: Holder) -> bool:
        if holder.kind != "thread-local" or "." not in holder.text:
            return False
        owner, attribute = holder.text.rsplit(".", 1)
        return self.is_cleared(Holder(holder.kind, owner), attribute)


def _resets_in(node: ast.AST) -> Iterator[tuple[str, str]]:
    def last(expr) -> str | None:
        name = dotted_name(expr)
        return name.rsplit(".", 1)[-1] if name else None

    if isinstance(node, ast.Delete):
        for target in node.targets:
            if isinstance(target, ast.Attribute) and last(target.value):
                yield last(target.value), target.attr
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Attribute) and last(target.value):
                yield last(target.value), target.attr
    elif isinstance(node, ast.Call):
        name = dotted_name(node.func) or ""
        if name in ("delattr", "setattr") and len(node.args) >= 2 and last(node.args[0]):
            attribute = string_value(node.args[1])
            if attribute:
                yield last(node.args[0]), attribute
        elif name.rsplit(".", 1)[-1] == "release_local" and node.args and last(node.args[0]):
            yield last(node.args[0]), "*"
        elif isinstance(node.func, ast.Attribute) and node.func.attr in ("clear", "pop"):
            receiver = node.func.value
            if isinstance(receiver, ast.Call) and dotted_name(receiver.func) == "vars":
                if receiver.args and last(receiver.args[0]):
                    yield last(receiver.args[0]), "*"
            elif isinstance(receiver, ast.Attribute) and receiver.attr == "__dict__":
                if last(receiver.value):
                    yield last(receiver.value), "*"
            elif isinstance(receiver, ast.Attribute) and last(receiver.value):
                yield last(receiver.value), receiver.attr


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, looking into if/try blocks (not into functions or classes)."""
    for statement in body:
        yield statement
        if isinstance(statement, (ast.If, ast.Try)) or type(statement).__name__ == "TryStar":
            for block in ("body", "orelse", "finalbody"):
                yield from _module_statements(getattr(statement, block, []) or [])
            for handler in getattr(statement, "handlers", []):
                yield from _module_statements(handler.body)
