"""The flake8 front end: flake8 parses, we walk its tree."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from typing import Any

from . import __version__
from .engine import analyse, prebuild_project_indexes
from .option_sources import ConfigError, options_for_flake8
from .options import OPTION_SPECS, OptionError, Options


class FlaskLeakChecker:
    name = "flake8-flaskleak"
    version = __version__
    options = Options()

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]):
        self.tree = tree
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        for spec in OPTION_SPECS:
            option_manager.add_option(
                f"--flaskleak-{spec.flag}",
                default=None,
                parse_from_config=True,
                help=f"flake8-flaskleak: {spec.help}",
            )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        """Options from ``[tool.flaskleak]``, flake8's config and its command line; a bad key
        or value stops flake8 with one line naming it (exit 1), never a traceback."""
        try:
            cls.options = options_for_flake8(options)
        except (ConfigError, OptionError) as error:
            raise SystemExit(f"flake8-flaskleak: {error}") from None
        workers = _workers(options)
        if workers > 1:
            filenames = getattr(options, "filenames", None) or ["."]
            prebuild_project_indexes(filenames, cls.options, workers)

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        if not isinstance(self.tree, ast.Module):
            return
        text = "".join(self.lines)
        for finding in analyse(self.tree, text, self.filename, self.options):
            yield finding.line, finding.col, finding.flake8_text(), type(self)


def _workers(options: Any) -> int:
    """How many processes flake8 will check files in (``-j``, ``auto`` by default; 1 for one
    file or standard input): with more than one, the project index is built here, once,
    before the workers fork, with as many processes, instead of once in each worker."""
    jobs = getattr(options, "jobs", None)
    filenames = getattr(options, "filenames", None) or ["."]
    if jobs is None or "-" in filenames or (len(filenames) == 1 and os.path.isfile(filenames[0])):
        return 1
    if getattr(jobs, "is_auto", False):
        return os.cpu_count() or 1
    return max(1, getattr(jobs, "n_jobs", 1))
