"""A light import resolver: turns the names a module uses into qualified names.

``import flask as f`` makes ``f.Flask`` resolve to ``flask.Flask``; ``from threading import
local as L`` makes ``L`` resolve to ``threading.local``. Relative imports resolve against the
module's own dotted name when it is known (``from .extensions import db`` in ``app/views.py``
gives ``app.extensions.db``). Imports anywhere in the file count, including inside functions:
Flask code often imports ``current_app`` inside the function that uses it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ..astutil import dotted_name


class ImportResolver:
    def __init__(
        self,
        statements: Iterable[ast.Import | ast.ImportFrom],
        module_name: str = "",
        is_package: bool = False,
    ):
        self.module_name = module_name
        self.is_package = is_package
        self.names: dict[str, str] = {}
        self.imported_modules: set[str] = set()
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.imported_modules.add(alias.name)
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.names[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute_module(node.module or "", node.level)
                self.imported_modules.add(base)
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    qualified = f"{base}.{alias.name}" if base else alias.name
                    self.names[alias.asname or alias.name] = qualified

    def _absolute_module(self, module: str, level: int) -> str:
        if level == 0:
            return module
        package_parts = self.module_name.split(".") if self.module_name else []
        if not self.is_package and package_parts:
            package_parts = package_parts[:-1]
        if level > 1:
            package_parts = package_parts[: len(package_parts) - (level - 1)]
        prefix = ".".join(package_parts)
        if not prefix:
            return "." * level + module  # unknown package: keep the relative form
        return f"{prefix}.{module}" if module else prefix

    def qualified_name(self, node: ast.AST) -> str | None:
        """The qualified name of an imported name or attribute chain, ``None`` if not imported."""
        dotted = dotted_name(node)
        return None if dotted is None else self._imported(dotted)

    def qualify(self, dotted: str) -> str | None:
        """A dotted name as written here (``api.bp``), qualified: through an import, or as a name
        this module defines (``pkg.views.bp``); None when the module's own name is unknown.
        Whatever is not imported is taken as this module's (``self.bp`` gives ``pkg.views.self.bp``,
        which matches nothing)."""
        imported = self._imported(dotted)
        if imported is not None or not self.module_name:
            return imported
        return f"{self.module_name}.{dotted}"

    def _imported(self, dotted: str) -> str | None:
        head, _, rest = dotted.partition(".")
        target = self.names.get(head)
        if target is None:
            return None
        return f"{target}.{rest}" if rest else target

    def is_imported(self, name: str) -> bool:
        return name in self.names

    def imports_any(self, *prefixes: str) -> bool:
        """Whether the module imports any module starting with one of ``prefixes``."""
        return any(
            module == prefix or module.startswith(prefix + ".")
            for module in self.imported_modules
            for prefix in prefixes
        )

    def matches(self, node: ast.AST, *qualified: str) -> bool:
        """Whether ``node`` resolves to one of the ``qualified`` names."""
        return self.qualified_name(node) in qualified
