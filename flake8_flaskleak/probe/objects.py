"""The project's long-lived objects: module globals, and the attributes of module-level
objects and classes (``db.session``, ``InventoryAPI.recently_viewed``), one level deep."""

from __future__ import annotations

import types
from collections import deque

SKIPPED_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType)


def project_objects(project) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    seen: set[int] = set()

    def add(name: str, value: object) -> None:
        # type(), never isinstance(): a proxy such as flask's current_app raises outside a
        # context when asked for its __class__.
        if type(value).__name__ == "LocalProxy":
            return
        if id(value) not in seen:
            seen.add(id(value))
            found.append((name, value))

    for module_name, module in project.modules():
        for name, value in list(vars(module).items()):
            if name.startswith("__") or isinstance(value, SKIPPED_TYPES):
                continue
            add(f"{module_name}.{name}", value)
            if type(value).__name__ == "LocalProxy":
                continue
            is_class = issubclass(type(value), type)
            if is_class and getattr(value, "__module__", None) != module_name:
                continue  # an imported class is the other module's
            try:
                attributes = vars(value)
            except Exception:  # no __dict__, or a property that raises
                continue
            for attribute, inner in list(attributes.items()):
                if not attribute.startswith("__") and not isinstance(inner, SKIPPED_TYPES):
                    add(f"{module_name}.{name}.{attribute}", inner)
    return found


def instances_of(project, cls: type) -> list[tuple[str, object]]:
    return [(name, value) for name, value in project_objects(project)
            if issubclass(type(value), cls)]


def bounded_containers(project) -> list[tuple[str, object, int]]:
    """The project's bounded containers and caches, with their bound: ``deque(maxlen=N)``,
    ``lru_cache(maxsize=N)``, cachetools-style caches. They legitimately fill up to their
    bound; the probe fills them before measuring, so that filling is not taken for growth."""
    found = []
    for name, value in project_objects(project):
        bound = None
        if issubclass(type(value), deque) and value.maxlen is not None:
            bound = value.maxlen
        elif callable(getattr(value, "cache_info", None)):
            try:
                bound = value.cache_info().maxsize
            except Exception:
                bound = None
        elif isinstance(getattr(type(value), "maxsize", None), property) or (
            isinstance(getattr(value, "maxsize", None), int)
            and hasattr(value, "currsize")
        ):
            bound = getattr(value, "maxsize", None)
        if isinstance(bound, int) and bound > 0:
            found.append((name, value, bound))
    return found


def container_state(value: object) -> tuple:
    """Changes when a request adds to the container, even when it is full and rotating."""
    try:
        if callable(getattr(value, "cache_info", None)):
            info = value.cache_info()
            return (info.currsize, info.misses)
        if issubclass(type(value), deque):
            return (len(value), id(value[-1]) if value else None)
        return (getattr(value, "currsize", None), len(value))  # type: ignore[arg-type]
    except Exception:
        return ()
