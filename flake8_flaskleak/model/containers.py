"""Long-lived mutable containers in one module, where code grows them and where it shrinks them.

The facts FLK301 (module globals, and attributes of module-level objects) and FLK302 (class
attributes) report from. A container is named by a key:

* ``("global", "", "request_log")`` — a module-level ``request_log = []``;
* ``("class", "Registry", "_seen")`` — a class attribute ``_seen = {}`` of ``Registry``;
* ``("object", "MemoryStorage", "events")`` — ``self.events = []`` set in the ``__init__`` of
  ``MemoryStorage``, which matters when a module-level ``storage = MemoryStorage()`` holds it.

Collection (what is defined, what grows, what shrinks, which growth is length-checked) is kept
apart from reporting (``request_growths``), so a project index can later add facts from other
modules: a list defined in ``state.py`` and grown in ``views.py``, a cleanup job elsewhere.
"""

from __future__ import annotations

import ast
import os
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from ..astutil import (
    FunctionNode,
    dotted_name,
    local_bindings,
    short_source,
    walk_local,
    walk_statements_local,
    walk,
)
from ..scan import header_end
from .dead_branches import is_dead
from .flask import FlaskModel, Reach
from .text import words_pattern

ContainerKey = tuple[str, str, str]  # (scope, owner class or "", name)
GLOBAL, CLASS, OBJECT = "global", "class", "object"

FACTORIES = {
    "collections.defaultdict": "defaultdict",
    "collections.Counter": "Counter",
    "collections.OrderedDict": "OrderedDict",
    "collections.deque": "deque",
}
BUILTIN_FACTORIES = {"list": "list", "dict": "dict", "set": "set"}
MAPPING_KINDS = {"dict", "defaultdict", "Counter", "OrderedDict"}
COUNTING_KINDS = {"defaultdict", "Counter"}  # ``x[k] += 1`` inserts a missing key
GROW_METHODS = {
    "append",
    "extend",
    "insert",
    "add",
    "update",
    "setdefault",
    "appendleft",
    "extendleft",
}
KEYED_GROW_METHODS = {"add", "setdefault"}  # bounded when the key is a constant
SHRINK_METHODS = {
    "clear",
    "pop",
    "popitem",
    "popleft",
    "remove",
    "discard",
    "difference_update",
    "intersection_update",
}
# Key names whose values come from a short configured list, not from traffic: a dict keyed by
# locale holds one entry per supported locale at most.
CLOSED_DOMAIN_WORDS = {
    "locale",
    "lang",
    "language",
    "region",
    "country",
    "currency",
    "timezone",
    "theme",
    "dialect",
}
THREAD_LOCAL_BASES = {"threading.local", "_threading_local.local", "werkzeug.local.Local"}
# Bases whose subclasses keep plain class attributes shared (unlike pydantic/attrs models,
# which copy an annotated default per instance).
PLAIN_BASES = {
    "object",
    "ABC",
    "abc.ABC",
    "typing.Generic",
    "flask.views.MethodView",
    "flask.views.View",
    "flask_restful.Resource",
    "flask_restx.Resource",
}


@dataclass(frozen=True)
class Container:
    key: ContainerKey
    kind: str  # list, dict, set, defaultdict, Counter, OrderedDict, deque
    node: ast.AST  # where it is defined


@dataclass(frozen=True)
class ExternalContainer:
    """A module-level container of another project module (from the project index)."""

    module: str  # qualified module name: ``shop.state``
    name: str  # ``request_log``, or ``storage.events`` for a module-level object's attribute
    kind: str
    path: str  # its file, relative to the project root


@dataclass(frozen=True)
class Growth:
    key: ContainerKey
    node: ast.AST  # the growing call or statement: where a finding is reported
    operation: str  # "`request_log.append(...)`", "`_cache[...] = ...`", "`seen |= ...`"
    function: FunctionNode
    holder: str | None  # the module-level object reached through (``storage.events``)


@dataclass(frozen=True)
class RequestGrowth:
    growth: Growth
    container: Container
    reach: Reach
    holder: str | None  # for object containers: the module-level instance holding it


def classify(value: ast.expr | None, flask: FlaskModel) -> str | None:
    """The kind of an unbounded mutable container an expression builds, ``None`` otherwise."""
    if isinstance(value, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(value, (ast.Set, ast.SetComp)):
        return "set"
    if not isinstance(value, ast.Call):
        return None
    kind = FACTORIES.get(flask.imports.qualified_name(value.func) or "")
    if kind == "deque":
        return None if deque_is_bounded(value) else kind
    if kind:
        return kind
    name = dotted_name(value.func)
    if name in BUILTIN_FACTORIES and not _shadowed_at_module(name, flask):
        return BUILTIN_FACTORIES[name]
    if name == "dict.fromkeys":
        return "dict"
    return None


def deque_is_bounded(call: ast.Call) -> bool:
    maxlen = next((k.value for k in call.keywords if k.arg == "maxlen"), None)
    if maxlen is None and len(call.args) >= 2:
        maxlen = call.args[1]
    if any(k.arg is None for k in call.keywords):
        return True  # deque(**options): may carry a maxlen we cannot see
    return maxlen is not None and not (isinstance(maxlen, ast.Constant) and maxlen.value is None)


def _shadowed_at_module(name: str, flask: FlaskModel) -> bool:
    return (
        flask.imports.is_imported(name)
        or name in flask.module_functions
        or name in flask.classes
    )


def is_constant_key(node: ast.expr | None) -> bool:
    """A key that cannot pile up: fixed in the source (``"last"``, ``("a", 1)``, ``CURRENT``),
    or named for a small closed set of values (``locale``, ``g.language``, ``country_code``)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple):
        return all(is_constant_key(element) for element in node.elts)
    name = node.id if isinstance(node, ast.Name) else None
    if isinstance(node, ast.Attribute):
        name = node.attr
    if name is None:
        return False
    return name.isupper() or bool(CLOSED_DOMAIN_WORDS & set(name.lower().split("_")))


def _module_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module statements, looking into if/try/with blocks but not into defs or classes."""
    for statement in body:
        yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for block in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(statement, block, None) or []
            for child in children:
                if isinstance(child, ast.ExceptHandler):
                    yield from _module_level_statements(child.body)
                elif isinstance(child, ast.stmt):
                    yield from _module_level_statements([child])


def _assignment_pairs(statement: ast.AST) -> list[tuple[ast.expr, ast.expr]]:
    """``(target, value)`` of an assignment; a bare annotation (``x: list``) assigns nothing."""
    if isinstance(statement, ast.Assign):
        return [(target, statement.value) for target in statement.targets]
    if isinstance(statement, ast.AnnAssign) and statement.value is not None:
        return [(statement.target, statement.value)]
    return []


class MutableState:
    """Containers, growth sites and shrink sites of one module (see the module docstring)."""

    def __init__(
        self, model, elsewhere: ProjectContainers | None = None, walk_functions: bool = True
    ):
        """``model``: the file's ``FileModel``; ``elsewhere``: the containers other project
        modules define and shrink (None: the file alone); ``walk_functions``: False when no
        growth can matter (no request-time code), to skip looking for growth and shrink sites."""
        self.model = model
        self.flask = model.flask
        self.elsewhere = elsewhere
        self.containers: dict[ContainerKey, Container] = {}
        self.origins: dict[ContainerKey, str] = {}  # imported container -> its defining file
        self._imported_heads: set[str] = (
            elsewhere.imported_heads(model) if elsewhere and walk_functions else set()
        )
        self.growths: list[Growth] = []
        self.shrunk: set[ContainerKey] = set()
        # (function, container) where the function returns early once the container is long
        self.length_checked: set[tuple[FunctionNode, ContainerKey]] = set()
        self._guarded: dict[ContainerKey, set[ast.AST]] = {}  # nodes under a length check
        self._locals: dict[FunctionNode, set[str]] = {}
        self._globals: dict[FunctionNode, set[str]] = {}
        self._receivers: dict[FunctionNode, tuple[str, str, str] | None] = {}
        self._attribute_containers = False
        self._heads: set[str] = set()
        self._class_body_names: dict[str, set[str]] = {}
        self._instance_assigned: set[tuple[str, str]] = set()  # (class, attr) set via self
        self._subclasses: dict[str, set[str]] = {}
        self._collect_module_containers()
        self._collect_class_containers()
        self._collect_object_containers()
        if not walk_functions or (not self.containers and not self._imported_heads):
            return  # nothing long-lived to grow (or no code that could matter): skip the walk
        self._attribute_containers = any(key[0] != GLOBAL for key in self.containers)
        self._heads = self._names_reaching_containers()
        attributes = {name for scope, _, name in self.containers if scope != GLOBAL}
        if any(key[0] == CLASS for key in self.containers):
            # the text index's word search: a regex alternation of many names costs more to
            # compile than the search saves (a class with a hundred attributes)
            names = words_pattern(sorted(attributes | {"setattr"}))
            for function in self.model.functions_mentioning(names):
                self._collect_instance_assignments(function)
        # Only functions that spell a name which can reach a container (a container global, a
        # class or object holding one, one of their attributes) are scanned for its uses.
        spelled = self._heads | {name.split(".")[0] for name in attributes}
        lines = self.model.source.lines_matching(words_pattern(spelled))
        for scope, scope_lines in self.model.scopes.lines_by_scope(lines).items():
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._collect_uses(scope, scope_lines)

    def _names_reaching_containers(self) -> set[str]:
        """Module-level names an expression reaching a container can start with."""
        heads = {name for scope, _, name in self.containers if scope == GLOBAL}
        owners = {owner for scope, owner, _ in self.containers if scope != GLOBAL}
        holding = {name for name in self.flask.classes if owners & set(self.local_mro(name))}
        heads |= holding
        heads |= {name for name, cls in self.flask.module_instances.items() if cls in holding}
        heads |= self._imported_heads
        if self._attribute_containers:
            heads.add("type")  # type(self).x
        return heads

    # -- what is defined -----------------------------------------------------------------------

    def _collect_module_containers(self) -> None:
        found: dict[str, Container] = {}
        other_bindings: set[str] = set()
        for statement in _module_level_statements(self.flask.tree.body):
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                other_bindings.add(statement.name)
            elif isinstance(statement, (ast.Import, ast.ImportFrom)):
                other_bindings.update((a.asname or a.name).split(".")[0] for a in statement.names)
            for target, value in _assignment_pairs(statement):
                if not isinstance(target, ast.Name):
                    continue
                kind = classify(value, self.flask)
                if kind is None:
                    other_bindings.add(target.id)
                    continue
                found.setdefault(target.id, Container((GLOBAL, "", target.id), kind, statement))
        for name, container in found.items():
            if name not in other_bindings:  # rebound to something else at import: unclear
                self.containers[container.key] = container

    def _collect_class_containers(self) -> None:
        for class_name, klass in self.flask.classes.items():
            for base in klass.bases:
                base_name = dotted_name(base)
                if base_name in self.flask.classes:
                    self._subclasses.setdefault(base_name, set()).add(class_name)
            names = self._class_body_names.setdefault(class_name, set())
            if self._is_thread_local(klass, set()):
                continue
            plain = self._is_plain_class(klass)
            for statement in _module_level_statements(klass.body):
                for target, value in _assignment_pairs(statement):
                    if not isinstance(target, ast.Name):
                        continue
                    names.add(target.id)
                    if isinstance(statement, ast.AnnAssign) and not (
                        plain or "ClassVar" in ast.dump(statement.annotation)
                    ):
                        continue
                    kind = classify(value, self.flask)
                    key = (CLASS, class_name, target.id)
                    if kind is not None and key not in self.containers:
                        self.containers[key] = Container(key, kind, statement)

    def _collect_object_containers(self) -> None:
        for klass in self.flask.classes.values():
            function = self.flask.methods.get(klass.name, {}).get("__init__")
            if function is None:
                continue
            if self._is_thread_local(klass, set()):
                continue
            receiver = _first_parameter(function)
            if receiver is None:
                continue
            kinds: dict[str, list[tuple[str | None, ast.AST]]] = {}
            for node in walk_local(function):
                for target, value in _assignment_pairs(node):
                    if _is_attribute_of(target, receiver):
                        kind = classify(value, self.flask)
                        kinds.setdefault(target.attr, []).append((kind, node))
            for attr, assignments in kinds.items():
                kind, node = assignments[0]
                if kind is not None and all(other is not None for other, _ in assignments):
                    key = (OBJECT, klass.name, attr)
                    self.containers[key] = Container(key, kind, node)

    def _is_thread_local(self, klass: ast.ClassDef, seen: set[str]) -> bool:
        seen.add(klass.name)
        for base in klass.bases:
            qualified = self.flask.imports.qualified_name(base) or ""
            if qualified in THREAD_LOCAL_BASES:
                return True
            name = dotted_name(base)
            if name in self.flask.classes and name not in seen:
                if self._is_thread_local(self.flask.classes[name], seen):
                    return True
        return False

    def _is_plain_class(self, klass: ast.ClassDef) -> bool:
        """No decorators and no foreign bases: an annotated default stays a shared attribute."""
        if klass.decorator_list or klass.keywords:
            return False
        for base in klass.bases:
            name = dotted_name(base) or ""
            qualified = self.flask.imports.qualified_name(base) or name
            if name not in self.flask.classes and qualified not in PLAIN_BASES:
                return False
        return True

    # -- classes defined here ------------------------------------------------------------------

    def local_mro(self, class_name: str) -> list[str]:
        order: list[str] = []
        pending = [class_name]
        while pending:
            name = pending.pop(0)
            if name in order or name not in self.flask.classes:
                continue
            order.append(name)
            pending.extend(dotted_name(b) or "" for b in self.flask.classes[name].bases)
        return order

    def _family(self, class_name: str) -> set[str]:
        family = set(self.local_mro(class_name))
        pending = [class_name]
        while pending:
            for sub in self._subclasses.get(pending.pop(), ()):
                if sub not in family:
                    family.add(sub)
                    pending.append(sub)
        return family

    def class_attr_owner(self, class_name: str, attr: str) -> str | None:
        """The class here whose mutable class attribute ``attr`` ``class_name.attr`` finds."""
        for name in self.local_mro(class_name):
            if (CLASS, name, attr) in self.containers:
                return name
            if attr in self._class_body_names.get(name, ()):
                return None  # defined as something else first in the lookup order
        return None

    def object_owner(self, class_name: str, attr: str) -> str | None:
        for name in self.local_mro(class_name):
            if (OBJECT, name, attr) in self.containers:
                return name
        return None

    # -- names in functions --------------------------------------------------------------------

    def _local_names(self, function: FunctionNode) -> set[str]:
        if function not in self._locals:
            self._locals[function] = local_bindings(function)
        return self._locals[function]

    def _global_names(self, function: FunctionNode) -> set[str]:
        if function not in self._globals:
            self._globals[function] = {
                name
                for node in walk_local(function)
                if isinstance(node, ast.Global)
                for name in node.names
            }
        return self._globals[function]

    def refers_to_module_name(self, name: str, function: FunctionNode | None) -> bool:
        """Whether ``name`` used in ``function`` is the module's (not a local or closure one)."""
        while function is not None:
            if name in self._global_names(function):
                return True
            if name in self._local_names(function):
                return False
            function = self.flask.info(function).parent
        return True

    def _receiver(self, function: FunctionNode) -> tuple[str, str, str] | None:
        """``(name, "instance" | "class", class name)`` of ``self``/``cls`` seen in ``function``."""
        if function not in self._receivers:
            self._receivers[function] = self._find_receiver(function)
        return self._receivers[function]

    def _find_receiver(self, function: FunctionNode) -> tuple[str, str, str] | None:
        current: FunctionNode | None = function
        inner: list[FunctionNode] = []
        while current is not None and self.flask.info(current).klass is None:
            inner.append(current)
            current = self.flask.info(current).parent
        if current is None:
            return None
        klass = self.flask.info(current).klass
        if klass is None or self.flask.classes.get(klass.name) is not klass:
            return None
        decorators = {dotted_name(d) for d in current.decorator_list}
        name = _first_parameter(current)
        if name is None or "staticmethod" in decorators:
            return None
        if any(name in self._local_names(f) for f in inner):
            return None  # a nested function's own parameter of the same name
        return name, "class" if "classmethod" in decorators else "instance", klass.name

    def resolve(
        self, expr: ast.expr, function: FunctionNode, growing: bool
    ) -> list[tuple[ContainerKey, str | None]]:
        """The containers an expression names, each with the module-level object it goes through.

        ``growing`` asks for the one container a growth lands in; otherwise every container the
        expression may name is returned (a shrink through ``self.x`` counts for all of them).
        """
        if self._imported_heads and _head(expr) in self._imported_heads:
            imported = self._resolve_imported(expr, function)
            if imported is not None:
                return imported
        if isinstance(expr, ast.Name):
            key = (GLOBAL, "", expr.id)
            if key in self.containers and self.refers_to_module_name(expr.id, function):
                return [(key, None)]
            return []
        if not isinstance(expr, ast.Attribute):
            return []
        attr, owner = expr.attr, expr.value
        receiver = self._receiver(function)
        if receiver and _is_class_of(owner, receiver[0]) and receiver[1] == "instance":
            return self._class_keys(receiver[2], attr)
        if not isinstance(owner, ast.Name):
            return []
        if receiver and owner.id == receiver[0]:
            if receiver[1] == "class":
                return self._class_keys(receiver[2], attr)
            return self._instance_keys(receiver[2], attr, None, growing)
        if not self.refers_to_module_name(owner.id, function):
            return []
        if owner.id in self.flask.classes:
            return self._class_keys(owner.id, attr)
        class_name = self.flask.module_instances.get(owner.id)
        if class_name and (GLOBAL, "", owner.id) not in self.containers:
            return self._instance_keys(class_name, attr, owner.id, growing)
        return []

    def _resolve_imported(self, expr: ast.expr, function: FunctionNode):
        if not isinstance(expr, (ast.Name, ast.Attribute)):
            return None
        head = _head(expr)
        if head is None or not self.refers_to_module_name(head, function):
            return None
        qualified = self.flask.imports.qualified_name(expr)
        external = self.elsewhere.defined(qualified) if qualified else None
        if external is None:
            return None
        key = (GLOBAL, external.module, external.name)
        if key not in self.containers:
            self.containers[key] = Container(key, external.kind, ast.Pass())
            self.origins[key] = external.path
        return [(key, None)]

    def qualified(self, key: ContainerKey, holder: str | None = None) -> str:
        """The project-wide name of a container: ``shop.state.request_log``."""
        scope, owner, name = key
        if scope == GLOBAL and owner:
            return f"{owner}.{name}"
        module = self.flask.imports.module_name
        prefix = f"{module}." if module else ""
        if scope == GLOBAL:
            return f"{prefix}{name}"
        if scope == OBJECT:
            return f"{prefix}{holder}.{name}" if holder else f"{prefix}{owner}().{name}"
        return f"{prefix}{owner}.{name}"

    def _class_keys(self, class_name: str, attr: str) -> list[tuple[ContainerKey, str | None]]:
        owner = self.class_attr_owner(class_name, attr)
        return [((CLASS, owner, attr), None)] if owner else []

    def _instance_keys(
        self, class_name: str, attr: str, holder: str | None, growing: bool
    ) -> list[tuple[ContainerKey, str | None]]:
        keys: list[tuple[ContainerKey, str | None]] = []
        object_owner = self.object_owner(class_name, attr)
        if object_owner:
            keys.append(((OBJECT, object_owner, attr), holder))
            if growing:
                return keys
        rebound = any((name, attr) in self._instance_assigned for name in self._family(class_name))
        if growing and rebound:
            return []  # ``self.x`` is (sometimes) the instance's own: not the shared attribute
        keys.extend(self._class_keys(class_name, attr))
        return keys

    # -- what grows and what shrinks -----------------------------------------------------------

    def _collect_instance_assignments(self, function: FunctionNode) -> None:
        """``self.x = ...`` anywhere in a class: then ``self.x`` may be the instance's own."""
        receiver = self._receiver(function)
        if receiver is None or receiver[1] != "instance":
            return
        name, _, class_name = receiver
        for node in walk_local(function):
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target, _ in _assignment_pairs(node):
                    if _is_attribute_of(target, name):
                        self._instance_assigned.add((class_name, target.attr))
            elif (
                isinstance(node, ast.Call)
                and dotted_name(node.func) == "setattr"
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == name
                and isinstance(node.args[1], ast.Constant)
            ):
                self._instance_assigned.add((class_name, str(node.args[1].value)))

    def _collect_uses(self, function: FunctionNode, lines: list[int]) -> None:
        """Growth, shrink and length-check sites of the containers in the statements of
        ``function`` on ``lines`` (those that spell a name reaching a container).

        Only expressions starting at a name that can reach a container (a container global, a
        class or module-level object holding one, ``self``/``cls``) are resolved.
        """
        receiver = self._receiver(function) if self._attribute_containers else None
        holds = receiver is not None and receiver[2] in self._heads
        heads = self._heads | ({receiver[0]} if holds else set())
        body_lines = lines[bisect_right(lines, header_end(function)):]
        # in statement order: an ``if`` comes before the statements it guards
        for node in self.model.scopes.nodes_on_lines(function, body_lines):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute) and _head(func.value) in heads:
                    self._visit_call(node, function)
                elif dotted_name(func) == "setattr" and node.args and _head(node.args[0]) in heads:
                    self._visit_setattr(node, function)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target, value in _assignment_pairs(node):
                    if _head(target) in heads:
                        self._visit_store(node, target, value, function)
            elif isinstance(node, ast.AugAssign):
                if _head(node.target) in heads:
                    self._visit_augmented(node, function)
            elif isinstance(node, ast.Delete):
                for target in node.targets:
                    if _head(target) in heads:
                        inner = target.value if isinstance(target, ast.Subscript) else target
                        self._shrink(inner, function)
            elif isinstance(node, (ast.If, ast.While)):
                self._visit_length_guard(node, function, heads)

    def _grow(self, expr, node, operation, function, mapping_only=False, counting_only=False):
        """Record a growth of whatever ``expr`` names; ``operation`` has ``{}`` for ``expr``."""
        operation = "`" + operation.format(short_source(expr, 40)) + "`"
        for key, holder in self.resolve(expr, function, growing=True):
            kind = self.containers[key].kind
            if mapping_only and kind not in MAPPING_KINDS:
                continue
            if counting_only and kind not in COUNTING_KINDS:
                continue
            if node in self._guarded.get(key, ()):
                continue  # inside an ``if len(x) ...`` that checks this very container
            self.growths.append(Growth(key, node, operation, function, holder))

    def _shrink(self, expr: ast.expr, function: FunctionNode) -> None:
        if is_dead(self.model, function, expr):
            return  # ``if False: cache.clear()`` bounds nothing
        while isinstance(expr, ast.Subscript):  # buckets[user].clear() bounds buckets too
            expr = expr.value
        for key, _ in self.resolve(expr, function, growing=False):
            self.shrunk.add(key)

    def _visit_call(self, call: ast.Call, function: FunctionNode) -> None:
        if not isinstance(call.func, ast.Attribute):
            return
        method, receiver = call.func.attr, call.func.value
        if method in SHRINK_METHODS:
            self._shrink(receiver, function)
        elif method in GROW_METHODS and not self._adds_bounded_keys(method, call, function):
            self._grow(receiver, call, f"{{}}.{method}(...)", function)
            if isinstance(receiver, ast.Subscript):  # buckets[user].append(x) on a defaultdict
                self._grow_nested(receiver, call, f"{{}}[...].{method}(...)", function, False)

    def _bounded_key(self, key: ast.expr, function: FunctionNode) -> bool:
        """A key that cannot pile up per request: fixed in the source, or not derived from the
        request (configuration, a constant passed down, the current user's id)."""
        return is_constant_key(key) or not self.model.taint.tainted(key, function)

    def _adds_bounded_keys(self, method: str, call: ast.Call, function: FunctionNode) -> bool:
        """``seen.add(CONST)``, ``registry.setdefault(name, ...)`` with a name not from the
        request, ``mapping.update(config_mapping)``: entries bounded by their source."""
        if _adds_fixed_keys(method, call):
            return True
        if method in KEYED_GROW_METHODS:
            return bool(call.args) and self._bounded_key(call.args[0], function)
        if method == "update":
            values = list(call.args) + [keyword.value for keyword in call.keywords if keyword.arg]
            keyed = all(keyword.arg for keyword in call.keywords)
            return keyed and not any(self.model.taint.tainted(v, function) for v in call.args) and (
                bool(values)
            )
        return False

    def _visit_setattr(self, call: ast.Call, function: FunctionNode) -> None:
        if len(call.args) < 2:
            return
        attr = call.args[1]
        if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            fake = ast.Attribute(value=call.args[0], attr=attr.value, ctx=ast.Store())
            self._visit_store(call, fake, call.args[2] if len(call.args) > 2 else None, function)

    def _grow_nested(self, outer: ast.Subscript, node, operation, function, inner_fixed) -> None:
        """Growth of ``x[k]``'s own container: ``x[k].append(v)``, ``x[k][j] = v``.

        On a ``defaultdict`` a new ``k`` adds a key and the inner container grows too (unless
        its factory is bounded); on a dict literal ``{"errors": []}`` the inner list grows.
        """
        fixed = self._bounded_key(outer.slice, function)
        if fixed and inner_fixed:
            return
        text = "`" + operation.format(short_source(outer.value, 40)) + "`"
        for key, holder in self.resolve(outer.value, function, growing=True):
            container = self.containers[key]
            value = getattr(container.node, "value", None)
            if container.kind == "defaultdict":
                if fixed and _factory_is_bounded(value, self.flask):
                    continue
            elif not (fixed and _literal_item_is_container(value, outer.slice, self.flask)):
                continue
            if node not in self._guarded.get(key, ()):
                self.growths.append(Growth(key, node, text, function, holder))

    def _visit_store(self, node, target: ast.expr, value, function: FunctionNode) -> None:
        if isinstance(target, ast.Subscript):
            if isinstance(target.slice, ast.Slice):
                self._shrink(target.value, function)  # x[:] = ... replaces the contents
                return
            if not self._bounded_key(target.slice, function):
                self._grow(target.value, node, "{}[...] = ...", function, mapping_only=True)
            if isinstance(target.value, ast.Subscript):  # groups[key][item] = v
                inner_fixed = self._bounded_key(target.slice, function)
                self._grow_nested(target.value, node, "{}[...][...] = ...", function, inner_fixed)
            return
        if not isinstance(target, (ast.Name, ast.Attribute)):
            return
        if isinstance(target, ast.Name) and target.id not in self._global_names(function):
            return  # a local assignment; rebinding the global needs ``global``
        if _grows_itself(target, value):  # x = x + [item]
            self._grow(target, node, "{0} = {0} + ...", function)
            return
        receiver = self._receiver(function)
        on_instance = (
            receiver is not None
            and receiver[1] == "instance"
            and _is_attribute_of(target, receiver[0])
        )
        if on_instance and function.name == "__init__":
            return  # the definition of a per-instance container
        for key, _ in self.resolve(target, function, growing=False):
            if key[0] == OBJECT or not on_instance:  # self.x = [] does not reset Class.x
                self.shrunk.add(key)  # rebinding to a fresh (or trimmed) container

    def _visit_augmented(self, node: ast.AugAssign, function: FunctionNode) -> None:
        target = node.target
        growing = isinstance(node.op, (ast.Add, ast.BitOr))
        operator = "+=" if isinstance(node.op, ast.Add) else "|="
        if isinstance(target, ast.Subscript):
            if growing and isinstance(target.value, ast.Subscript):  # totals[day][path] += 1
                nested = f"{{}}[...][...] {operator} ..."
                inner_fixed = self._bounded_key(target.slice, function)
                self._grow_nested(target.value, node, nested, function, inner_fixed)
            elif growing and not self._bounded_key(target.slice, function):
                keyed = f"{{}}[...] {operator} ..."
                self._grow(target.value, node, keyed, function, counting_only=True)
            return
        if growing:
            self._grow(target, node, f"{{}} {operator} ...", function)
        else:  # -=, &=: trims the container
            self._shrink(target, function)

    def _visit_length_guard(self, node: ast.If | ast.While, function, heads: set[str]) -> None:
        """``if len(x) < N: x.append(v)`` and ``if len(x) >= N: return`` bound what they guard.

        A length check that only logs (``if len(x) > N: logger.warning(...)``) bounds nothing.
        """
        keys = self._length_checked_keys(node.test, function, heads)
        if not keys:
            return
        exits = any(
            isinstance(child, (ast.Return, ast.Raise, ast.Break, ast.Continue))
            for child in walk_statements_local(node.body)
        )
        guarded = set(walk_statements_local(node.body + node.orelse))
        for key in keys:
            if exits:
                self.length_checked.add((function, key))
            self._guarded.setdefault(key, set()).update(guarded)

    def _length_checked_keys(self, test: ast.expr, function, heads: set[str]) -> list[ContainerKey]:
        keys = []
        for node in walk(test):
            if (
                isinstance(node, ast.Call)
                and dotted_name(node.func) == "len"
                and len(node.args) == 1
                and _head(node.args[0]) in heads
            ):
                keys.extend(key for key, _ in self.resolve(node.args[0], function, growing=False))
        return keys

    # -- request time --------------------------------------------------------------------------

    @cached_property
    def reach(self) -> dict[FunctionNode, Reach]:
        """The model's request-time functions, plus methods called on instances made per request.

        ``trail = AuditTrail(); trail.record(entry)`` in a view runs ``AuditTrail.record`` per
        request; the shared model only follows ``self.m()`` and module-level instances.
        """
        reached = dict(self.flask.request_time)
        queue = deque(reached)
        while queue:
            function = queue.popleft()
            reach = reached[function]
            callees = list(self._local_instance_methods(function))
            if function not in self.flask.request_time:
                callees.extend(self.flask.callees(function))
            for callee in callees:
                if callee not in reached:
                    reached[callee] = Reach(reach.entry, reach.path + (callee.name,))
                    queue.append(callee)
        return reached

    def _local_instance_methods(self, function: FunctionNode) -> Iterator[FunctionNode]:
        local_classes: dict[str, str] = {}
        for node in walk_local(function):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                class_name = dotted_name(node.value.func)
                if class_name in self.flask.classes:
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            local_classes[target.id] = class_name
        for node in walk_local(function):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            class_name = None
            if isinstance(owner, ast.Name):
                class_name = local_classes.get(owner.id)
            elif isinstance(owner, ast.Call):  # AuditTrail().record(entry)
                class_name = dotted_name(owner.func)
            if class_name in self.flask.classes:
                method = self.flask.all_methods(class_name).get(node.func.attr)
                if method is not None:
                    yield method

    @cached_property
    def holders(self) -> dict[FunctionNode, str]:
        """Methods run at request time on a module-level instance, with that instance's name."""
        holders: dict[FunctionNode, str] = {}
        queue: deque[tuple[FunctionNode, str, str]] = deque()
        for function in self.reach:
            for node in walk_local(function):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                owner = node.func.value
                if not isinstance(owner, ast.Name) or owner.id not in self.flask.module_instances:
                    continue
                if not self.refers_to_module_name(owner.id, function):
                    continue
                class_name = self.flask.module_instances[owner.id]
                method = self.flask.all_methods(class_name).get(node.func.attr)
                if method is not None and method not in holders:
                    holders[method] = owner.id
                    queue.append((method, owner.id, class_name))
        while queue:
            function, holder, class_name = queue.popleft()
            mro = set(self.local_mro(class_name))
            for callee in self.flask.callees(function):
                info = self.flask.info(callee)
                in_class = info.klass is not None and info.klass.name in mro
                if (in_class or info.parent is function) and callee not in holders:
                    holders[callee] = holder
                    queue.append((callee, holder, class_name))
        return holders

    # -- reporting -----------------------------------------------------------------------------

    def request_growths(self, scopes: set[str]) -> Iterator[RequestGrowth]:
        """Growths in request-time code of containers nothing shrinks or bounds."""
        for growth in self.growths:
            if growth.key[0] not in scopes or growth.key in self.shrunk:
                continue
            if (growth.function, growth.key) in self.length_checked:
                continue
            reach = self.reach.get(growth.function)
            if reach is None:
                continue
            holder = growth.holder
            if growth.key[0] == OBJECT and holder is None:
                holder = self.holders.get(growth.function)
                if holder is None:
                    continue  # an instance made per request: it goes away with the request
            if self.elsewhere is not None and self.elsewhere.shrunk(self.qualified(growth.key, holder)):
                continue  # another module of the project clears or trims it
            # name a route open to every user when one reaches it (``privilege.py``)
            reach = self.flask.open_request_time.get(growth.function, reach)
            yield RequestGrowth(growth, self.containers[growth.key], reach, holder)


def _factory_is_bounded(value: ast.AST | None, flask: FlaskModel) -> bool:
    """``defaultdict(lambda: deque(maxlen=10))``: each inner container is bounded."""
    if not isinstance(value, ast.Call) or not value.args:
        return False
    factory = value.args[0]
    if isinstance(factory, ast.Lambda):
        factory = factory.body
    if not isinstance(factory, ast.Call):
        return False
    if (dotted_name(factory.func) or "").endswith("partial") and factory.args:
        maker, rest = factory.args[0], factory.args[1:]  # partial(deque, maxlen=10)
    else:
        maker, rest = factory.func, factory.args
    if flask.imports.qualified_name(maker) != "collections.deque":
        return False
    return deque_is_bounded(ast.Call(func=maker, args=list(rest), keywords=factory.keywords))


def _literal_item_is_container(value: ast.AST | None, key: ast.expr, flask: FlaskModel) -> bool:
    """``{"errors": [], ...}["errors"]``: the literal's item under a fixed key is a container."""
    if not isinstance(value, ast.Dict) or not isinstance(key, ast.Constant):
        return False
    for item_key, item_value in zip(value.keys, value.values):
        if isinstance(item_key, ast.Constant) and item_key.value == key.value:
            return classify(item_value, flask) is not None
    return False


def _head(expr: ast.AST) -> str | None:
    """The name an expression starts from: ``self`` for ``self.cache[key].items``."""
    while True:
        if isinstance(expr, (ast.Attribute, ast.Subscript)):
            expr = expr.value
        elif isinstance(expr, ast.Call):
            expr = expr.func
        elif isinstance(expr, ast.Name):
            return expr.id
        else:
            return None


def _first_parameter(function: FunctionNode) -> str | None:
    positional = function.args.posonlyargs + function.args.args
    return positional[0].arg if positional else None


def _is_attribute_of(node: ast.AST, name: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
    )


def _is_class_of(node: ast.expr, receiver: str) -> bool:
    """``type(self)`` or ``self.__class__``."""
    if _is_attribute_of(node, receiver) and node.attr == "__class__":  # type: ignore[union-attr]
        return True
    return (
        isinstance(node, ast.Call)
        and dotted_name(node.func) == "type"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == receiver
    )


def _grows_itself(target: ast.expr, value: ast.expr | None) -> bool:
    if not isinstance(value, ast.BinOp) or not isinstance(value.op, (ast.Add, ast.BitOr)):
        return False
    spelled = ast.dump(target, annotate_fields=False).replace("Store()", "Load()")
    return any(
        ast.dump(side, annotate_fields=False) == spelled for side in (value.left, value.right)
    )


def _adds_fixed_keys(method: str, call: ast.Call) -> bool:
    """``state.setdefault("k", v)``, ``seen.add(CONST)``, ``stats.update(last=now)``."""
    if method in KEYED_GROW_METHODS:
        return bool(call.args) and is_constant_key(call.args[0])
    if method == "update":
        if any(k.arg is None for k in call.keywords):
            return False
        if not call.args:
            return bool(call.keywords)
        if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
            return all(key is not None and is_constant_key(key) for key in call.args[0].keys)
    return False


# -- shared by the FLK301/FLK302 reports -------------------------------------------------------

# Strings a module-level container can be built with.
CONTAINER_TRIGGERS = (
    "= [",
    "=[",
    "= {",
    "={",
    "list(",
    "dict(",
    "set(",
    "defaultdict",
    "Counter",
    "OrderedDict",
    "deque",
    "fromkeys",
)

ADVICE = {
    "list": "bound it (`deque(maxlen=N)`) or keep it outside the process",
    "deque": "give it a `maxlen` or keep it outside the process",
    "set": "bound it or keep it outside the process (Redis)",
    "Counter": "cap its keys or export the counts (Prometheus, statsd) instead",
}
MAPPING_ADVICE = "evict entries (a bounded LRU/TTL cache) or keep it outside the process (Redis)"


def advice_for(kind: str) -> str:
    return ADVICE.get(kind, MAPPING_ADVICE)


def mutable_state_for(model, reporting: bool = False) -> MutableState:
    """The one ``MutableState`` of a file's model, shared by FLK301 and FLK302.

    With the project index, containers other modules define (and this one imports) count too,
    and a container any other module shrinks is not reported. ``reporting``: only the growths
    request-time code can make are wanted (the rules), so a module without request-time code
    is not walked; the facts other modules read need the full state.
    """
    def build() -> MutableState:
        project = model.project
        elsewhere = ProjectContainers(project, project.relative(model.path)) if project else None
        walk = not reporting or bool(model.flask.request_time)
        return MutableState(model, elsewhere, walk_functions=walk)

    return model.shared(("mutable state", reporting), build)


class ProjectContainers:
    """Containers other project modules define, looked up when this module's code names one,
    and whether any module of the project shrinks one (its name leads the text search)."""

    def __init__(self, project, here: str):
        self.project = project
        self.here = here
        self._shrunk: dict[str, bool] = {}

    def imported_heads(self, model) -> set[str]:
        """Local names bound to an import from another module of the project."""
        return {
            local
            for local, target in model.imports.names.items()
            if not target.startswith(".")
            and self.project.module_file(target) not in (None, self.here)
        }

    def defined(self, qualified: str) -> ExternalContainer | None:
        """The container ``pkg.state.log`` (or ``pkg.state.storage.events``), if another
        module of the project defines it at module level and nothing in the project shrinks it."""
        relative = self.project.module_file(qualified)
        if relative is None or relative == self.here:
            return None
        facts = self.project.facts(relative, "containers")
        if not facts:
            return None
        module = facts["module"]
        if not qualified.startswith(module + "."):
            return None
        name = qualified[len(module) + 1:]
        kind = facts["containers"].get(name)
        if kind is None or self.shrunk(qualified):
            return None
        return ExternalContainer(module, name, str(kind), relative.replace(os.sep, "/"))

    def shrunk(self, qualified: str) -> bool:
        """Whether any module of the project clears, pops, trims or rebinds ``qualified``."""
        if qualified not in self._shrunk:
            word = qualified.rsplit(".", 1)[-1]
            self._shrunk[qualified] = any(
                qualified in (self.project.facts(relative, "containers") or {}).get("shrinks", ())
                for relative in self.project.files_mentioning(word)
            )
        return self._shrunk[qualified]


def container_facts(model) -> dict | None:
    """What one module tells the others: its module-level containers that it does not shrink
    itself (``request_log``, ``storage.events`` on a module-level object), and the imported
    names it shrinks (``shop.state.request_log`` cleared in a teardown here)."""
    state = mutable_state_for(model)
    containers: dict[str, str] = {}
    for key, container in state.containers.items():
        scope, owner, name = key
        if scope == GLOBAL and not owner and key not in state.shrunk:
            containers[name] = container.kind
    for holder, class_name in state.flask.module_instances.items():
        for attr_owner in state.local_mro(class_name):
            for key, container in state.containers.items():
                if key[0] == OBJECT and key[1] == attr_owner and key not in state.shrunk:
                    containers.setdefault(f"{holder}.{key[2]}", container.kind)
    shrinks = sorted(imported_shrinks(model))
    if not containers and not shrinks:
        return None
    return {"module": model.module[0], "containers": containers, "shrinks": shrinks}


SHRINK_SIGNALS = re.compile(
    r"\.(?:" + "|".join(sorted(SHRINK_METHODS)) + r")\s*\(|\bdel\b|\[:\]|-=|&=|\.\w+\s*=[^=]"
)


def imported_shrinks(model) -> set[str]:
    """Qualified names of imported containers this module clears, pops, trims or rebinds."""
    imports = model.imports
    if not imports.names:
        return set()
    found: set[str] = set()

    def add(expr: ast.AST) -> None:
        while isinstance(expr, ast.Subscript):
            expr = expr.value
        if isinstance(expr, (ast.Name, ast.Attribute)):
            qualified = imports.qualified_name(expr)
            if qualified and "." in qualified:
                found.add(qualified)

    nodes = (node for scope in model.scopes_mentioning(SHRINK_SIGNALS) for node in walk_local(scope))
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in SHRINK_METHODS:
                add(node.func.value)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Subscript):
                    add(target.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Sub, ast.BitAnd)):
            add(node.target)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice):
                    add(target.value)  # log[:] = log[-100:]
                elif isinstance(target, ast.Attribute):
                    add(target)  # state.request_log = []
    return found


__all__ = [
    "CONTAINER_TRIGGERS",
    "CLASS",
    "GLOBAL",
    "OBJECT",
    "Container",
    "ExternalContainer",
    "ProjectContainers",
    "Growth",
    "MutableState",
    "RequestGrowth",
    "advice_for",
    "mutable_state_for",
]
