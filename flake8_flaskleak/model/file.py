"""The per-file model: everything known about one file, computed lazily, shared by every rule.

Built on the ``ast`` tree flake8 already parsed (the ``flaskleak`` command parses with ``ast``
too). Each part is computed the first time a rule asks for it, from the scans of the scopes
that matter (``scan.py``), never by walking the whole tree again.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator
from functools import cached_property

from ..options import Options
from .configs import ConfigModel
from .flask import FlaskModel
from .module_facts import has_entry_signals
from .imports import ImportResolver
from ..scan import children, scan, statements
from .roles import Roles
from .scopes import Scopes
from .taint import Taint
from .text import SourceText, Words, words_pattern

# An import statement that is not at the start of a line: in a function, or a module-level block.
IMPORT_WORD = Words(["import"])
CONFIG_MENTION = Words(["config"])
TEST_FILE_NAMES = ("conftest.py",)


TEST_FOLDERS = {"tests", "test", "testing"}


def is_test_path(path: str, root: str | None = None) -> bool:
    """Test code by its place: a ``tests``/``test``/``testing`` folder (below the project root
    when it is known), ``test_*.py``, ``*_test.py``, ``conftest.py``."""
    if is_test_file_name(os.path.basename(path)):
        return True
    directory = os.path.dirname(os.path.abspath(path))
    if root:
        directory = os.path.relpath(directory, root)
        if directory.startswith(os.pardir):
            directory = os.path.dirname(os.path.abspath(path))
    return any(part in TEST_FOLDERS for part in directory.split(os.sep))


def is_test_file_name(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name in TEST_FILE_NAMES


def module_name_for(path: str) -> tuple[str, bool]:
    """The dotted module name of a file, from the packages (``__init__.py``) above it."""
    if not path or path in ("-", "stdin") or not path.endswith(".py"):
        return "", False
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    stem = filename[:-3]
    is_package = stem == "__init__"
    parts = [] if is_package else [stem]
    for _ in range(50):  # deeper than any real package tree
        if not os.path.isfile(os.path.join(directory, "__init__.py")):
            break
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts), is_package


class FileModel:
    """Everything known about one file, computed lazily and shared by every rule that runs."""

    def __init__(
        self,
        tree: ast.Module,
        text: str,
        path: str,
        options: Options | None = None,
        project=None,
    ):
        self.tree = tree
        self.text = text
        self.path = path
        self.options = options or Options()
        self.project = project  # the whole-project index (``project.py``), or None
        self._shared: dict = {}
        self.source = SourceText(text)
        self.scopes = Scopes(tree)

    @cached_property
    def module(self) -> tuple[str, bool]:
        return module_name_for(self.path)

    @cached_property
    def imports(self) -> ImportResolver:
        name, is_package = self.module
        return ImportResolver(self.import_statements(), name, is_package)

    def import_statements(self) -> list[ast.Import | ast.ImportFrom]:
        """Every import statement of the file: module level first, then the others by line."""
        imports = (ast.Import, ast.ImportFrom)
        found = [node for node in statements(self.tree) if isinstance(node, imports)]
        lines = self.source.lines_matching(IMPORT_WORD)
        for scope in self.scopes.scopes_at(lines):
            if scope is not self.tree:
                found.extend(node for node in statements(scope) if isinstance(node, imports))
        return found

    # -- what the text points at ---------------------------------------------------------------

    def scopes_mentioning(self, pattern: re.Pattern[str]) -> list[ast.AST]:
        """The innermost scopes (module, class body, function) holding a line ``pattern`` matches."""
        return self.scopes.scopes_at(self.source.lines_matching(pattern))

    def functions_mentioning(self, pattern: re.Pattern[str]) -> list[ast.AST]:
        return [
            scope
            for scope in self.scopes_mentioning(pattern)
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]

    def calls_to(self, names: Iterable[str]) -> list[tuple[ast.AST, ast.Call]]:
        """(scope, call) for every call whose callee ends in one of ``names`` (``Thread(...)``,
        ``engine.connect(...)``): the text index finds the lines, only their scopes are scanned."""
        names = set(names)
        if not names:
            return []
        found = []
        lines = self.source.lines_matching(words_pattern(names, r"\s*\("))
        for scope, scope_lines in self.scopes.lines_by_scope(lines).items():
            for call in self.scopes.nodes_on_lines(scope, scope_lines):
                if type(call) is not ast.Call:
                    continue
                func = call.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in names:
                    found.append((scope, call))
        return found

    def calls_of(self, qualified: Iterable[str]) -> list[tuple[ast.AST, ast.Call]]:
        """(scope, call) for every call of one of the ``qualified`` names (``sqlalchemy.orm.
        scoped_session``), under any local alias the imports give it."""
        qualified = set(qualified)
        names = {name.rsplit(".", 1)[-1] for name in qualified}
        names |= {local for local, target in self.imports.names.items() if target in qualified}
        return [
            (scope, call)
            for scope, call in self.calls_to(names)
            if self.imports.qualified_name(call.func) in qualified
        ]

    def parents(self, scope: ast.AST) -> dict[ast.AST, ast.AST]:
        """Each node of ``scope``'s scan mapped to its parent (built from the scan, once)."""
        found = self._parents.get(scope)
        if found is None:
            found = {}
            for node in (scope, *scan(scope).nodes):
                for child in children(node):
                    found[child] = node
            self._parents[scope] = found
        return found

    @cached_property
    def _parents(self) -> dict[ast.AST, dict[ast.AST, ast.AST]]:
        return {}

    def ancestors(self, node: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
        """(child, parent) pairs from ``node`` up to the module, across the scopes it is in."""
        scope = self.scopes.scope_at(node.lineno) if hasattr(node, "lineno") else self.tree
        child = node
        while True:
            parents = self.parents(scope)
            parent = parents.get(child)
            while parent is not None:
                yield child, parent
                child, parent = parent, parents.get(parent)
            if scope is self.tree:
                return
            child, scope = scope, self.scopes.parent_scope(scope)

    @cached_property
    def is_test_module(self) -> bool:
        """A pytest/unittest module by its file name: ``test_*.py``, ``*_test.py``, ``conftest.py``."""
        name = os.path.basename(self.path)
        return name.startswith("test_") or name.endswith("_test.py") or name in TEST_FILE_NAMES

    @cached_property
    def reached_from_elsewhere(self) -> dict[str, str]:
        """Qualnames of this file that request-time code in other project modules runs."""
        if self.project is None:
            return {}
        return self.project.reached_from_elsewhere(self.path)

    def shared(self, key, build):
        """A derived fact several rules read (``MutableState`` for FLK301 and FLK302): built
        once per file by ``build()`` and kept with the model, so it goes when the model goes."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]

    @cached_property
    def request_code_possible(self) -> bool:
        """Can this file hold request-time code? It registers some (a cheap text test), or the
        project index says request code in another module calls into it."""
        if has_entry_signals(self.text, self.options):
            return True
        return bool(self.reached_from_elsewhere)

    @cached_property
    def flask(self) -> FlaskModel:
        model = FlaskModel(self.tree, self.imports, self.scopes, self.source, self.path, self.options)
        model.add_external_reach(self.reached_from_elsewhere)
        if self.project is not None:
            # every function another module calls, also those this module's own routes reach
            model.called_from_elsewhere = self.project.called_from_elsewhere(self.path)
            model.use_privilege_elsewhere(ProjectPrivilege(self.project, self.path))
        return model

    @cached_property
    def configs(self) -> ConfigModel:
        """Config classes and config writes of this module (``configs.py``)."""
        lines = self.source.lines_matching(CONFIG_MENTION)
        return ConfigModel(self.tree, self.path, self.options, self.flask.is_app_config, lines)

    @cached_property
    def taint(self) -> Taint:
        """Which values come from the request (``taint.py``)."""
        return Taint(self)

    @cached_property
    def roles(self) -> Roles:
        """Start-up and command-line code (``roles.py``)."""
        return Roles(self)


class ProjectPrivilege:
    """What the project index says about privileged routes, for one file's Flask model (the
    ``flask.PrivilegeElsewhere`` it asks)."""

    def __init__(self, project, path: str):
        self.project = project
        self.path = path

    def open_reach(self) -> dict[str, str]:
        return self.project.open_reached_from_elsewhere(self.path)

    def guarded(self) -> frozenset[str]:
        return self.project.guarded_blueprints
