"""Config classes across modules (FLK101 with the project index).

Real services split their configuration: ``config/base.py`` holds ``class Config`` with the
shared defaults, ``config/production.py`` has ``class ProductionConfig(Config)``. One file alone
gets both halves wrong: ``Config`` looks like a config used on its own, and
``ProductionConfig`` seems to set nothing. Two project questions fix that:

* which classes of this module other modules extend (project facts: every module's top-level
  classes with the qualified names of their imported bases) — those are judged through their
  subclasses, like a base class with subclasses in the same file;
* what a class inherits from a base defined in another project module: astroid gives the
  method resolution order, asked only for classes with such a base, lazily. Any failure
  answers nothing, and the per-file result stands.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

from ..astutil import dotted_name, short_source
from .configs import (
    CONFIG_NAME_WORDS,
    ENV_BACKED_BASES,
    PRODUCTION,
    UNKNOWN,
    ConfigClass,
    ConfigModel,
    environment_of_words,
    words,
)

# Keys whose value a production config may inherit from a base in another module.
CONFIG_KEYS = ("SQLALCHEMY_RECORD_QUERIES", "PRESERVE_CONTEXT_ON_EXCEPTION")


@dataclass(frozen=True)
class InheritedValue:
    """A production config class of this module that inherits a value from another module."""

    klass: ConfigClass
    owner: str  # the base class that sets the value: ``BaseConfig``
    location: str  # where: ``config/base.py:12``
    value_source: str  # ``True``


def class_bases_facts(model, keys: tuple[str, ...] = CONFIG_KEYS) -> dict | None:
    """``{"module": ..., "classes": {name: [qualified imported bases]}, "sets": {key:
    [names of classes whose body sets it]}}`` of one module."""
    module = model.module[0]
    if not module:
        return None
    classes: dict[str, list[str]] = {}
    sets: dict[str, list[str]] = {}
    for statement in model.tree.body:
        if isinstance(statement, ast.ClassDef):
            bases = [model.imports.qualified_name(base) for base in statement.bases]
            imported = [base for base in bases if base and "." in base]
            if imported:
                classes[statement.name] = imported
            assigned = {
                target.id
                for child in statement.body
                if isinstance(child, (ast.Assign, ast.AnnAssign))
                for target in (child.targets if isinstance(child, ast.Assign) else [child.target])
                if isinstance(target, ast.Name)
            }
            for key in keys:
                if key in assigned:
                    sets.setdefault(key, []).append(statement.name)
    if not classes and not sets:
        return None
    return {"module": module, "classes": classes, "sets": sets}


def _set_elsewhere(model, project, key: str) -> bool:
    """Does a class body in any other project module set ``key``? (else astroid is not asked)"""
    here = project.relative(model.path)
    for relative in project.files_mentioning(key):
        if relative == here:
            continue
        facts = project.facts(relative, "configs") or {}
        sets = facts.get("sets")
        if isinstance(sets, dict) and sets.get(key):
            return True
    return False


def has_imported_base(model) -> bool:
    """Cheap test before the model is built: a top-level class named like a config (by its
    name, a base's or the module's) with a base imported from another project module."""
    module_words = set(words(os.path.splitext(os.path.basename(model.path))[0]))
    config_module = bool(module_words & CONFIG_NAME_WORDS)
    project = None
    for statement in model.tree.body:
        if not isinstance(statement, ast.ClassDef) or not statement.bases:
            continue
        names = [dotted_name(base) or "" for base in statement.bases]
        named = set(words(statement.name)).union(*(words(n.rsplit(".", 1)[-1]) for n in names))
        if not config_module and not named & CONFIG_NAME_WORDS:
            continue
        project = project or model.project
        if project is None:
            return False
        if _has_project_base(model, project, statement):
            return True
    return False


def project_configs(model) -> ConfigModel:
    """The module's config model, with the classes other modules extend marked as bases."""
    configs = model.configs
    if not getattr(configs, "_project_checked", False):
        configs._project_checked = True
        extended = _extended_elsewhere(model, configs)
        if extended:
            configs.mark_extended_elsewhere(extended)
    return configs


def _extended_elsewhere(model, configs: ConfigModel) -> set[str]:
    candidates = [
        klass for klass in configs.classes.values()
        if (klass.environment == UNKNOWN or klass.environment_from_context)
        and not klass.looks_like_base
    ]
    module = model.module[0]
    if not candidates or not module:
        return set()
    project = model.project
    if project is None:
        return set()
    bases: set[str] = set()
    here = project.relative(model.path)
    others = {
        relative
        for klass in candidates
        for relative in project.files_mentioning(klass.name)
        if relative != here
    }
    for relative in sorted(others):
        facts = project.facts(relative, "configs") or {}
        classes = facts.get("classes")
        if isinstance(classes, dict):
            for names in classes.values():
                if isinstance(names, list):
                    bases.update(name for name in names if isinstance(name, str))
    found = set()
    for klass in candidates:
        own = f"{module}.{klass.name}"
        for base in bases:
            base_module, _, base_name = base.rpartition(".")
            # ``from .config import Config`` may name a re-export of ``config/base.py``'s class
            if base == own or (base_name == klass.name and own.startswith(base_module + ".")):
                found.add(klass.name)
                break
    return found


def inherited_across_modules(model, configs: ConfigModel, key: str) -> list[InheritedValue]:
    """Production classes here that end up with ``key`` truthy, set by a base in another
    project module (the nearest setting in the method resolution order wins)."""
    candidates = [
        klass for klass in configs.classes.values()
        if not klass.reads_environment
        and configs.is_production_class(klass)
        and klass.lookup(key) is None  # what the file itself says stands
    ]
    if not candidates:
        return []
    project = model.project
    if project is None or not _set_elsewhere(model, project, key):
        return []
    found = []
    for klass in candidates:
        if not _has_project_base(model, project, klass.node):
            continue
        try:
            inherited = _inherited_value(model, project, klass, key)
        except Exception:
            if os.environ.get("FLASKLEAK_STRICT"):
                raise
            inherited = None
        if inherited is not None:
            found.append(inherited)
    return found


def _has_project_base(model, project, node: ast.ClassDef) -> bool:
    here = os.path.relpath(os.path.abspath(model.path), project.root)
    for base in node.bases:
        qualified = model.imports.qualified_name(base)
        if qualified:
            where = project.module_file(qualified)
            if where is not None and where != here:
                return True
    return False


def _import_root(path: str, module: str, is_package: bool) -> str:
    """The directory the top-level package of ``module`` sits in (what ``sys.path`` needs)."""
    directory = os.path.dirname(os.path.abspath(path))
    levels = len(module.split(".")) - (0 if is_package else 1)
    for _ in range(levels):
        directory = os.path.dirname(directory)
    return directory


def _inherited_value(model, project, klass: ConfigClass, key: str) -> InheritedValue | None:
    from . import inference

    module, is_package = model.module
    order = inference.ancestors(_import_root(model.path, module, is_package),
                                f"{module}.{klass.name}")
    if not order or not _same_file(order[0], model.path):
        return None  # not found, or astroid holds another file under this module name
    if any(ancestor.name in ENV_BACKED_BASES for ancestor in order):
        return None  # pydantic settings: values come from the environment
    for position, ancestor in enumerate(order[1:], 1):
        assigned = list(inference.class_assignments(ancestor, key))
        if not assigned:
            continue
        if any(
            environment_of_words(words(between.name), model.options) == PRODUCTION
            for between in order[1 : position + 1]
        ):
            return None  # reported where that production base is defined
        if _same_file(ancestor, model.path):
            return None  # the per-file analysis judges values set in this file
        truth, source = _truthiness(assigned[-1])
        if truth is not True:
            return None
        location = f"{inference.relative_path(project.root, ancestor)}:{assigned[-1].lineno}"
        return InheritedValue(klass, ancestor.name, location, source)
    return None


def _same_file(node, path: str) -> bool:
    try:
        return os.path.realpath(node.root().file) == os.path.realpath(path)
    except Exception:
        return False


def _truthiness(assigned) -> tuple[bool | None, str]:
    """A literal value, or a name bound to one (``RECORD = True``); anything else: unknown."""
    import astroid

    value = getattr(assigned.parent, "value", None)
    if not isinstance(assigned.parent, (astroid.nodes.Assign, astroid.nodes.AnnAssign)) or value is None:
        return None, ""
    source = short_source_of(value)
    if isinstance(value, astroid.nodes.Const):
        return bool(value.value), source
    if isinstance(value, astroid.nodes.Name):
        inferred = list(value.infer())
        if len(inferred) == 1 and isinstance(inferred[0], astroid.nodes.Const):
            return bool(inferred[0].value), source
    return None, source


def short_source_of(value) -> str:
    text = value.as_string()
    try:
        return short_source(ast.parse(text, mode="eval").body, 30)
    except (SyntaxError, ValueError):
        return text[:30]
