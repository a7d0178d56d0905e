"""FLK203 thread-local-never-cleared: request data stored on a thread-local and never deleted.

A ``threading.local`` attribute lives as long as the thread that set it. Gunicorn's gthread
workers, uWSGI threads and the executor threads of any server reuse their threads for request
after request, so what a request stores there (a logger bound to the request, a user, a trace
id) stays alive until the next request on that thread overwrites it, and containers on it
grow with every request.

Collection (thread-locals, request-time writes, teardown clears) is kept apart from reporting.
With the whole-project analysis, clears made by teardowns registered in other modules count
too (``teardown_facts`` of the project index), as do ``threading.local`` subclasses defined in another project module.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..astutil import FunctionNode, dotted_name, local_bindings, string_value, walk, walk_local
from ..finding import Finding, FixSafety
from ..model.flask import Reach
from ..model.file import FileModel
from ..rule import Rule
from ..scan import statements
from ._flk203_fix import FIX_REASON, apply_local_fix, local_fix_applicability
from ..model.teardowns import (
    EVERYTHING,
    THREAD_LOCAL_CLASSES,
    WERKZEUG_LOCAL_CLASSES,
    ProjectNames,
    clear_sites,
    constant_key,
    flatten_targets,
)

GROW_METHODS = {
    "append", "extend", "insert", "add", "update", "setdefault", "appendleft", "extendleft",
}
# What astroid calls the thread-local bases a project class may derive from.
LOCAL_BASES = (
    "_threading_local.local", "_thread._local", "threading.local", "werkzeug.local.Local",
)
# ``state = RequestState()`` with ``RequestState`` imported: maybe a project thread-local class.
INSTANTIATION = re.compile(r"=[ \t]*([A-Z]\w*)\(")
IMPORT_STATEMENT = re.compile(r"^[ \t]*(?:from[ \t]+\S+[ \t]+)?import[ \t]+(\([^)]*\)|.*)$", re.M)


@dataclass
class ThreadLocal:
    """A thread-local object that outlives requests, and how code refers to it."""

    node: ast.AST  # the constructor call
    kind: str  # "name" (module level), "classattr" (class body), "selfattr" (self.x = in a method)
    name: str
    statement: ast.stmt
    klass: ast.ClassDef | None  # owner of a class/self attribute
    werkzeug: bool
    instance_of: str | None = None  # subclass defined here that a module-level name instantiates
    imported_class: str | None = None  # project class defined elsewhere, not yet confirmed a local

    def expression(self) -> str:
        """How code in its class writes it: ``_local``, ``State.cache``, ``self.registry``."""
        if self.kind == "classattr":
            return f"{self.klass.name}.{self.name}"
        if self.kind == "selfattr":
            return f"self.{self.name}"
        return self.name

    def display(self) -> str:
        if self.kind == "classattr":
            return f"{self.klass.name}.{self.name}"
        if self.kind == "selfattr":  # shown inside backticks: `self.registry` of `Tracker`
            return f"self.{self.name}` of `{self.klass.name}"
        return self.name


@dataclass
class Write:
    local: ThreadLocal
    attribute: str  # EVERYTHING for setattr(local, name, ...) with a computed name
    node: ast.AST
    function: FunctionNode
    growth: bool  # appends to a container held by the attribute
    lazy: bool  # set only when missing (``if not hasattr(local, "x"): local.x = ...``)


@dataclass
class ThreadLocalFacts:
    locals: list[ThreadLocal] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    cleared: dict[int, set[str]] = field(default_factory=dict)  # id(local) -> attributes

    def is_cleared(self, local: ThreadLocal, attribute: str) -> bool:
        cleared = self.cleared.get(id(local), set())
        return EVERYTHING in cleared or attribute in cleared


class Collector:
    def __init__(self, model: FileModel):
        self.model = model
        self.flask = model.flask
        self.imports = model.imports
        self.subclasses = self._local_subclasses()
        self._bindings: dict[FunctionNode, set[str]] = {}

    def collect(self) -> ThreadLocalFacts:
        facts = ThreadLocalFacts(locals=self._thread_locals())
        if not facts.locals:
            return facts
        for function, _ in self.flask.request_time.items():
            facts.writes.extend(self._writes_in(function, facts.locals))
        if any(local.imported_class for local in facts.locals):
            self._confirm_imported_locals(facts)
        for local in facts.locals:
            facts.cleared[id(local)] = set()
        for scope in self._teardown_scopes():
            for local in facts.locals:
                facts.cleared[id(local)] |= self._clears_in(scope, local)
        if self.model.project is not None and any(
            not facts.is_cleared(write.local, write.attribute) for write in facts.writes
        ):
            ProjectClears(self).add_to(facts)
        return facts

    def _confirm_imported_locals(self, facts: ThreadLocalFacts) -> None:
        """Keep an instance of a class imported from the project only if request code writes on
        it and astroid says the class derives from a thread-local (asked only then)."""
        from ..model import inference  # astroid: only for files that need it

        written = {id(write.local) for write in facts.writes}
        kept = []
        for local in facts.locals:
            if local.imported_class is None:
                kept.append(local)
                continue
            if id(local) not in written:
                continue
            root = self.model.project.root
            if inference.is_subclass_of(root, local.imported_class, LOCAL_BASES):
                local.werkzeug = bool(
                    inference.is_subclass_of(root, local.imported_class, ("werkzeug.local.Local",))
                )
                kept.append(local)
        kept_ids = {id(local) for local in kept}
        facts.locals = kept
        facts.writes = [write for write in facts.writes if id(write.local) in kept_ids]

    # -- thread-locals -------------------------------------------------------------------------

    def _local_subclasses(self) -> dict[str, bool]:
        """Classes defined here that derive from ``threading.local`` (value: werkzeug's Local)."""
        found: dict[str, bool] = {}
        changed = True
        while changed:
            changed = False
            for name, klass in self.flask.classes.items():
                if name in found:
                    continue
                for base in klass.bases:
                    kind = self._local_kind(base, found)
                    if kind is not None:
                        found[name] = kind
                        changed = True
                        break
        return found

    def _local_kind(self, func: ast.expr, subclasses: dict[str, bool] | None = None) -> bool | None:
        """None: not a thread-local class; False: threading.local; True: werkzeug Local."""
        qualified = self.imports.qualified_name(func)
        if qualified in THREAD_LOCAL_CLASSES:
            return False
        if qualified in WERKZEUG_LOCAL_CLASSES:
            return True
        subclasses = self.subclasses if subclasses is None else subclasses
        return subclasses.get(dotted_name(func) or "")

    def _thread_locals(self) -> list[ThreadLocal]:
        found = []
        for statement, owner in self._constructions():
            value = statement.value
            werkzeug = self._local_kind(value.func)
            imported_class = None
            if werkzeug is None:
                imported_class = self._project_class(value.func)
                if imported_class is None:
                    continue
                werkzeug = False  # told by astroid once a request writes on it
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            class_name = dotted_name(value.func)
            instance_of = class_name if class_name in self.subclasses else None
            for target in targets:
                local = self._bind(target, statement, owner, value, werkzeug)
                if local is not None:
                    local.instance_of = instance_of
                    local.imported_class = imported_class
                    found.append(local)
        return found

    def _constructions(self) -> Iterator[tuple[ast.stmt, ast.AST]]:
        """Assignments of a call to a class that may be a thread-local, with the module, class
        or function whose body holds them: the classes' names lead the text index there."""
        names = {"local", "Local"} | set(self.subclasses)
        for local, qualified in self.imports.names.items():
            if qualified in THREAD_LOCAL_CLASSES or qualified in WERKZEUG_LOCAL_CLASSES:
                names.add(local)
        if self.model.project is not None:  # instances of project classes (told by astroid)
            names |= set(INSTANTIATION.findall(self.model.text))
        seen = set()
        assignments: dict[ast.AST, dict[ast.AST, ast.stmt]] = {}  # scope -> {value: statement}
        for scope, call in self.model.calls_to(names):
            if scope not in assignments:  # the scope's statements, not a map of all its nodes
                assignments[scope] = {
                    statement.value: statement
                    for statement in statements(scope)
                    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value
                }
            statement = assignments[scope].get(call)
            if statement is not None and statement not in seen:
                seen.add(statement)
                yield statement, scope

    def _project_class(self, func: ast.expr) -> str | None:
        """``RequestState`` imported from a module of this project: its defining name."""
        project = self.model.project
        if project is None or not isinstance(func, (ast.Name, ast.Attribute)):
            return None
        qualified = self.imports.qualified_name(func)
        if not qualified or qualified.startswith("."):
            return None
        resolved = ProjectNames(project).resolve(qualified)
        if resolved is None or project.module_source(resolved.rpartition(".")[0]) is None:
            return None  # not defined in the project (a library, or re-exported from one)
        return resolved

    def qualified_names(self, local: ThreadLocal) -> set[str]:
        """How other modules name ``local``: ``pkg.mod._local``, ``pkg.mod.state.cache``..."""
        module = self.model.module[0]
        if not module:
            return set()
        if local.kind == "name":
            return {f"{module}.{local.name}"}
        names = {
            f"{module}.{instance}.{local.name}"
            for instance, class_name in self.flask.module_instances.items()
            if class_name == local.klass.name
        }
        if local.kind == "classattr":
            names.add(f"{module}.{local.klass.name}.{local.name}")
        return names

    def _bind(self, target, statement, owner, call, werkzeug) -> ThreadLocal | None:
        if isinstance(owner, ast.Module) and isinstance(target, ast.Name):
            return ThreadLocal(call, "name", target.id, statement, None, werkzeug)
        if isinstance(owner, ast.ClassDef) and isinstance(target, ast.Name):
            return ThreadLocal(call, "classattr", target.id, statement, owner, werkzeug)
        if (
            isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef))
            and isinstance(target, ast.Attribute)
            and dotted_name(target.value) == "self"
            and owner not in self.flask.request_time  # a per-request object dies with it
        ):
            klass = self.flask.info(owner).klass
            if klass is not None:
                return ThreadLocal(call, "selfattr", target.attr, statement, klass, werkzeug)
        return None

    # -- references ------------------------------------------------------------------------------

    def refers_to(self, node: ast.AST, local: ThreadLocal, function: FunctionNode | None) -> bool:
        """Whether ``node`` (in ``function``) is the thread-local ``local``, strictly."""
        if local.kind == "name":
            if isinstance(node, ast.Name) and node.id == local.name:
                if function is None:
                    return True
                if function not in self._bindings:
                    self._bindings[function] = local_bindings(function)
                return node.id not in self._bindings[function]
            return False
        if not (isinstance(node, ast.Attribute) and node.attr == local.name):
            return False
        owner = dotted_name(node.value)
        if owner in ("self", "cls") and function is not None:
            klass = self.flask.info(function).klass
            if klass is None:
                return False
            return klass is local.klass or self._inherits(klass, local.klass)
        if owner == local.klass.name:
            return True
        return self.flask.module_instances.get(owner or "") == local.klass.name

    def _inherits(self, klass: ast.ClassDef, base: ast.ClassDef) -> bool:
        return base.name in {dotted_name(b) for b in klass.bases}

    def _self_is_local(self, function: FunctionNode, local: ThreadLocal) -> bool:
        """``self`` in a method of a thread-local subclass that ``local`` instantiates."""
        info = self.flask.info(function)
        return (
            local.instance_of is not None
            and info.klass is not None
            and info.klass.name == local.instance_of
            and function.name != "__init__"  # runs once per thread, on first use
        )

    def _is_local_ref(self, node: ast.AST, local: ThreadLocal, function: FunctionNode) -> bool:
        if self.refers_to(node, local, function):
            return True
        is_self = isinstance(node, ast.Name) and node.id == "self"
        return is_self and self._self_is_local(function, local)

    # -- request-time writes -------------------------------------------------------------------

    def _writes_in(self, function: FunctionNode, locals_: list[ThreadLocal]) -> Iterator[Write]:
        parents = None
        for node in walk_local(function):
            for local in locals_:
                for attribute, target, growth in self._write_targets(node, local, function):
                    if parents is None:
                        parents = _local_parents(function)
                    lazy = _set_only_when_missing(target, parents)
                    yield Write(local, attribute, target, function, growth, lazy)

    def _write_targets(self, node, local, function) -> Iterator[tuple[str, ast.AST, bool]]:
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in flatten_targets(targets):
                if isinstance(target, ast.Attribute):
                    if self._is_local_ref(target.value, local, function):
                        yield target.attr, target, False
                elif isinstance(target, ast.Subscript):
                    container = target.value
                    if isinstance(container, ast.Attribute) and self._is_local_ref(
                        container.value, local, function
                    ):
                        if container.attr == "__dict__":
                            yield constant_key(target) or EVERYTHING, target, False
                        else:
                            yield container.attr, target, True
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) == 3:
                if self._is_local_ref(node.args[0], local, function):
                    yield string_value(node.args[1]) or EVERYTHING, node, False
            elif isinstance(func, ast.Attribute) and func.attr in GROW_METHODS:
                container = func.value
                if isinstance(container, ast.Attribute) and self._is_local_ref(
                    container.value, local, function
                ):
                    if container.attr == "__dict__":
                        yield EVERYTHING, node, False
                    else:
                        yield container.attr, node, True

    # -- teardown clears -----------------------------------------------------------------------

    def _teardown_scopes(self) -> list[ast.AST]:
        teardowns = [entry.function for entry in self.flask.cleanup_hooks]
        scopes: list[ast.AST] = list(self.flask.reachable_from(teardowns))
        scopes.extend(self.flask.teardown_lambdas)
        return scopes

    def is_local_class_call(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and self._local_kind(node.func) is not None

    def _clears_in(self, scope: ast.AST, local: ThreadLocal) -> set[str]:
        """Attributes of ``local`` that ``scope`` deletes or resets (leniently matched)."""
        cleared = {
            attribute
            for owner, attribute in clear_sites(scope, self.is_local_class_call)
            if self._loosely(owner, local, scope)
        }
        if local.kind == "name":
            for node in walk(scope):
                if isinstance(node, ast.Assign) and any(
                    isinstance(target, ast.Name) and target.id == local.name
                    for target in flatten_targets(node.targets)
                ):
                    cleared.add(EVERYTHING)  # the global is rebound to a fresh local()
        if local.imported_class is not None:
            for node in walk(scope):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and self._loosely(node.func.value, local, scope)
                ):
                    cleared |= self._method_clears(local.imported_class, node.func.attr)
        return cleared

    def _method_of(self, scope: ast.AST, class_name: str) -> bool:
        if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        klass = self.flask.info(scope).klass
        if klass is None:
            return False
        base = self.flask.classes.get(class_name)
        return klass.name == class_name or (base is not None and self._inherits(klass, base))

    def _method_clears(self, class_name: str, method: str) -> set[str]:
        """``state.reset()`` where the imported class's ``reset`` clears ``self``."""
        module, _, name = class_name.rpartition(".")
        source = self.model.project.module_source(module)
        if source is None:
            return set()
        try:
            tree = ast.parse(source[1])
        except (SyntaxError, ValueError):
            return set()
        for klass in tree.body:
            if isinstance(klass, ast.ClassDef) and klass.name == name:
                for function in klass.body:
                    if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        function.name == method
                    ):
                        return {
                            attribute
                            for owner, attribute in clear_sites(function, lambda _: False)
                            if isinstance(owner, ast.Name) and owner.id == "self"
                        }
        return set()

    def _loosely(self, node: ast.AST, local: ThreadLocal, scope: ast.AST) -> bool:
        """Clears match leniently: ``glogger._local`` clears ``_local`` (precision over recall);
        ``self`` clears only in a method of the thread-local's own class."""
        if isinstance(node, ast.Name):
            if node.id == "self":
                return local.instance_of is not None and self._method_of(scope, local.instance_of)
            return node.id == local.name
        if isinstance(node, ast.Attribute):
            return node.attr == local.name
        return False


class ProjectClears:
    """Clears made by teardowns registered in other modules of the project."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.model = collector.model
        self.names = ProjectNames(self.model.project)

    def add_to(self, facts: ThreadLocalFacts) -> None:
        others = self.model.project.teardown_facts(exclude_path=self.model.path)
        runs = [name for _, module_facts in others for name in module_facts.get("runs", [])]
        run_here = self.names.functions_run(self.model, runs)
        scopes = list(self.collector.flask.reachable_from(run_here))
        for local in facts.locals:
            cleared = facts.cleared[id(local)]
            for scope in scopes:  # this module's functions that another module's teardown runs
                cleared |= self.collector._clears_in(scope, local)
            qualified_names = self.collector.qualified_names(local)
            for _, module_facts in others:
                for written, qualified, attribute in module_facts.get("cleared", []):
                    if self._same_object(written, qualified, local, qualified_names):
                        cleared.add(attribute)

    def _same_object(self, written: str, qualified, local: ThreadLocal, names: set[str]) -> bool:
        """By qualified name where it resolves in the project; else by the last name, as the
        per-file rule matches (precision over recall: a clear we cannot place still counts)."""
        resolved = self.names.resolve(qualified)
        if resolved is not None:
            return resolved in names
        return written.rsplit(".", 1)[-1] == local.name


def _local_parents(function: FunctionNode) -> dict[ast.AST, ast.AST]:
    parents: dict[ast.AST, ast.AST] = {}
    for node in [function, *walk_local(function)]:
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _set_only_when_missing(target: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``if not hasattr(local, "x")`` / ``if getattr(local, "x", None) is None``."""
    node = target
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.If) and node in parent.body:
            for call in walk(parent.test):
                if isinstance(call, ast.Call) and dotted_name(call.func) in ("hasattr", "getattr"):
                    return True
        node = parent
    return False


@dataclass
class Report:
    local: ThreadLocal
    attribute: str
    write: Write
    reach: Reach


def reports(model: FileModel, facts: ThreadLocalFacts) -> list[Report]:
    """One report per (thread-local, attribute): at the first request-time write."""
    by_key: dict[tuple[int, str], list[Write]] = {}
    for write in facts.writes:
        by_key.setdefault((id(write.local), write.attribute), []).append(write)
    found = []
    for writes in by_key.values():
        local, attribute = writes[0].local, writes[0].attribute
        if facts.is_cleared(local, attribute):
            continue
        resets = [w for w in writes if not w.growth and not w.lazy]
        growths = [w for w in writes if w.growth]
        if not resets and not growths:
            continue  # a per-thread cache made once (``if not hasattr(...)``): bounded
        chosen = growths if growths and not resets else resets
        first = min(chosen, key=lambda w: (w.node.lineno, w.node.col_offset))
        found.append(Report(local, attribute, first, model.flask.request_time[first.function]))
    return found


class ThreadLocalNeverCleared(Rule):
    code = "FLK203"
    name = "thread-local-never-cleared"
    summary = "attribute set on a thread-local per request and never deleted in a teardown"
    # ``threading.local()``, ``Local()``, ``class State(local)``, ``local as tl``
    triggers = ("local(", "Local(", "local)", "local,", "local as")
    request_time_only = True
    fix_safety = FixSafety.UNSAFE
    fix_reason = FIX_REASON

    @classmethod
    def applies_to(cls, text, path, options) -> bool:
        if any(trigger in text for trigger in cls.triggers) and (
            "threading" in text or "werkzeug" in text
        ):
            return True
        # ``state = RequestState()`` of a class imported from another project module: the
        # project analysis tells (lazily) whether it is a thread-local.
        return options.project_analysis and _instantiates_imported_class(text)

    def facts(self) -> ThreadLocalFacts:
        return Collector(self.model).collect()

    def check(self) -> Iterator[Finding]:
        for report in reports(self.model, self.facts()):
            yield self.finding(report.write.node, self._message(report))

    def _message(self, report: Report) -> str:
        local = report.local.display()
        where = report.reach.describe()
        if report.write.growth:
            return (
                f"container `{report.attribute}` on thread-local `{local}` grows on every request "
                f"({where}) and is never cleared: it lives as long as the worker thread; clear or "
                "delete it in a teardown_request"
            )
        if report.attribute == EVERYTHING:
            return (
                f"attributes set with `setattr` on thread-local `{local}` per request ({where}) "
                "are never deleted: the reused worker thread keeps them alive; clear "
                f"`{report.local.expression()}.__dict__` in a teardown_request"
            )
        return (
            f"attribute `{report.attribute}` of thread-local `{local}` is set per request "
            f"({where}) and never deleted: the reused worker thread keeps it (and what it "
            "references) alive between requests; delete it in a teardown_request"
        )

    def fix_applicability(self, findings):
        return local_fix_applicability(self.model, reports(self.model, self.facts()), findings)

    def fix(self, context):
        model = context.model
        return apply_local_fix(model, reports(model, Collector(model).collect()), context)


def _instantiates_imported_class(text: str) -> bool:
    """Cheap text test: a CamelCase class that an import line names is instantiated."""
    if "import" not in text:
        return False
    imported = " ".join(IMPORT_STATEMENT.findall(text))
    return any(
        re.search(rf"\b{name}\b", imported) for name in set(INSTANTIATION.findall(text))
    )
