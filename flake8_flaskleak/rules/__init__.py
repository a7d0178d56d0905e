"""One module per rule (``flkNNN_rule_name.py``), each defining one ``Rule`` subclass.

Rules are found by their module names, so adding a rule means adding one module here, one page
in ``rules/`` at the project root, and one fixture in ``tests/fixtures/``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from ..rule import Rule

_RULE_MODULE = re.compile(r"^flk\d{3}_\w+$")


def discover() -> list[type[Rule]]:
    found: list[type[Rule]] = []
    for info in pkgutil.iter_modules(__path__):
        if not _RULE_MODULE.match(info.name):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return sorted(found, key=lambda rule: rule.code)
