"""What a rule is, and the per-file analysis every rule reads from.

A rule is a small class in its own module under ``flake8_flaskleak/rules/``: its code, name,
one-line summary, the strings a file must contain for the rule to have anything to find
(``triggers``), and ``check()``, which yields findings. A rule that can rewrite what it finds
also sets ``fix_safety`` and implements ``fix()`` on a libcst tree; libcst is only ever loaded
for files that have such a finding.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from functools import cached_property
from typing import ClassVar

from .finding import Finding, FixSafety
from .flask_model import REQUEST_SIGNALS, FlaskModel
from .imports import ImportResolver
from .options import Options
from .project import ProjectIndex, project_for


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


class Analysis:
    """Everything known about one file, computed lazily and shared by every rule that runs."""

    def __init__(
        self,
        tree: ast.Module,
        text: str,
        path: str,
        options: Options | None = None,
        project: ProjectIndex | None | bool = True,
    ):
        self.tree = tree
        self.text = text
        self.path = path
        self.options = options or Options()
        self._project = project  # True: look it up when first asked; None: per-file only

    @cached_property
    def project(self) -> ProjectIndex | None:
        """The whole-project index, or None (option off, no project root, not a real file)."""
        if self._project is True:
            return project_for(self.path, self.options)
        return self._project or None

    @cached_property
    def module(self) -> tuple[str, bool]:
        return module_name_for(self.path)

    @cached_property
    def imports(self) -> ImportResolver:
        name, is_package = self.module
        return ImportResolver(self.tree, name, is_package)

    @cached_property
    def is_test_module(self) -> bool:
        """A pytest/unittest module by its file name: ``test_*.py``, ``*_test.py``, ``conftest.py``."""
        name = os.path.basename(self.path)
        return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"

    @cached_property
    def request_code_possible(self) -> bool:
        """Can this file hold request-time code? It registers some (a cheap text test), or the
        project index says request code in another module calls into it."""
        if self.options.request_decorators or any(s in self.text for s in REQUEST_SIGNALS):
            return True
        try:
            return self.project is not None and bool(self.project.reached_from_elsewhere(self.path))
        except Exception:  # the project index is an extra: never fail the file on it
            if os.environ.get("FLASKLEAK_STRICT"):
                raise
            return False

    @cached_property
    def flask(self) -> FlaskModel:
        model = FlaskModel(self.tree, self.imports, self.path, self.options)
        if self.project is not None and model.functions:
            model.add_external_reach(self.project.reached_from_elsewhere(self.path))
        return model


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, the doc page is rules/{code}-{name}.md
    summary: ClassVar[str]  # one line for `flaskleak rules`
    triggers: ClassVar[tuple[str, ...]]  # the file text must contain one for the rule to run
    fix_safety: ClassVar[FixSafety | None] = None
    # A rule that needs facts from other modules names the strings a module must contain to
    # hold such facts, and returns them (JSON-serialisable) from ``project_facts``.
    project_fact_triggers: ClassVar[tuple[str, ...]] = ()
    # A rule that only reports what request-time code does is skipped, before the model is
    # built, on files that can hold none (``Analysis.request_code_possible``).
    request_time_only: ClassVar[bool] = False

    def __init__(self, analysis: Analysis):
        self.analysis = analysis

    def check(self) -> Iterator[Finding]:
        raise NotImplementedError

    def project_facts(self) -> dict | None:
        """What this module tells the rule about itself when another module is checked."""
        return None

    def fix(self, context):  # context: fixes.FixContext
        """Rewrite this rule's findings in ``context.module``; return the new module or None."""
        return None

    def finding(self, node: ast.AST, message: str) -> Finding:
        return Finding(
            line=getattr(node, "lineno", 1),
            col=getattr(node, "col_offset", 0),
            code=self.code,
            message=message,
            fixable=self.fix_safety is not None,
        )

    @classmethod
    def applies_to(cls, text: str, path: str, options: Options) -> bool:
        """The cheap test run before anything is walked: can this file hold a finding?"""
        return any(trigger in text for trigger in cls.triggers)
