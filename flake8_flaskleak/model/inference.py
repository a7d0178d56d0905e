"""astroid, for the questions one file cannot answer: classes and their bases across modules.

Only asked when a rule meets a name imported from another module of the project (a config's
base class, a ``threading.local`` subclass defined elsewhere), and cached per process.
astroid reads source; it never imports or runs the project's code, and it is set here never
to load compiled extension modules. Any failure of inference answers ``None``, and the rule
falls back to what the file alone says.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from functools import lru_cache

_configured = False


def _manager():
    global _configured
    import astroid

    manager = astroid.MANAGER
    if not _configured:
        manager.always_load_extensions = False
        manager.extension_package_whitelist = set()
        _configured = True
    return manager


class _project_on_path:
    """Let astroid find the project's own modules by name, for the duration of one question."""

    def __init__(self, root: str):
        self.root = root

    def __enter__(self):
        sys.path.insert(0, self.root)

    def __exit__(self, *exc_info):
        try:
            sys.path.remove(self.root)
        except ValueError:
            pass


@lru_cache(maxsize=256)
def _module(root: str, qualified_module: str):
    with _project_on_path(root):
        return _manager().ast_from_module_name(qualified_module)


def find_class(root: str, qualified_name: str):
    """The astroid ``ClassDef`` for ``pkg.mod.Class`` in the project at ``root``, or None."""
    import astroid

    module_name, _, class_name = qualified_name.rpartition(".")
    if not module_name:
        return None
    try:
        module = _module(root, module_name)
        for node in module.getattr(class_name):
            if isinstance(node, astroid.nodes.ClassDef):
                return node
            inferred = next(node.infer(), None)  # a re-export: ``from .base import Base``
            if isinstance(inferred, astroid.nodes.ClassDef):
                return inferred
    except Exception:  # astroid raises many kinds of errors on code it cannot follow
        return None
    return None


def ancestors(root: str, qualified_name: str) -> list | None:
    """The class and its ancestors in method resolution order, or None if it cannot be told."""
    klass = find_class(root, qualified_name)
    if klass is None:
        return None
    try:
        with _project_on_path(root):
            return [klass, *klass.mro()[1:]]
    except Exception:
        try:
            with _project_on_path(root):
                return [klass, *klass.ancestors()]
        except Exception:
            return None


def ancestor_names(root: str, qualified_name: str) -> list[str] | None:
    found = ancestors(root, qualified_name)
    return None if found is None else [klass.qname() for klass in found]


def is_subclass_of(root: str, qualified_name: str, bases: tuple[str, ...]) -> bool | None:
    """Whether a project class derives from one of ``bases`` (``"_thread._local"``...)."""
    names = ancestor_names(root, qualified_name)
    if names is None:
        return None
    return any(name in bases for name in names)


def class_assignments(klass, key: str) -> Iterator:
    """Assignments of ``key`` in a class body (astroid ``AssignName`` nodes)."""
    try:
        yield from klass.locals.get(key, [])
    except Exception:
        return


def relative_path(root: str, node) -> str:
    """Where an astroid node's module lives, relative to the project root."""
    try:
        return os.path.relpath(node.root().file, root).replace(os.sep, "/")
    except Exception:
        return "?"
