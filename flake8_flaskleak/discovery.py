"""Which files ``flaskleak`` reads: Python files under the paths given, minus the excluded ones.

A directory is walked (``*.py`` files; the usual tool and environment folders are skipped); a
file named on the command line is taken whatever its suffix. Exclusion uses each folder's own
configuration (``settings.py``). A named file is excluded when it matches a pattern itself, as
in flake8; with ``--force-exclude`` (or ``force-exclude = true``; on for the pre-commit hooks,
as in ruff's hook) also when a folder above it, up to its configuration's folder, does, so a
hook that is handed ``tests/test_app.py`` honours ``exclude = ["tests"]``.

Only regular files are taken: a FIFO or a device named ``*.py`` met while walking is skipped
and named; one named on the command line is an ``E902``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .settings import DEFAULT_EXCLUDES, SettingsResolver
from .source import file_kind

STDIN = "-"


@dataclass
class Collected:
    files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # named paths that cannot be read: exit 2
    notices: list[str] = field(default_factory=list)  # files skipped while walking


def collect_files(paths: Sequence[str], resolver: SettingsResolver) -> Collected:
    collected = Collected()
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            collected.files.append(os.path.normpath(path))

    for path in paths:
        if path == STDIN:
            collected.files.append(STDIN)
            continue
        try:
            status = os.stat(path)
        except OSError as error:
            if os.path.islink(path):
                message = "a symlink to nothing"
            else:
                message = f"{type(error).__name__}: {error.strerror or error}"
            collected.errors.append(f"{path}:1:1: E902 {message}")
            continue
        settings = resolver.for_file(path)
        if settings.excludes(path) or (
            resolver.force_exclude(settings) and _excluded_above(path, resolver)
        ):
            continue
        if stat.S_ISDIR(status.st_mode):
            _walk(path, resolver, add, collected)
        elif stat.S_ISREG(status.st_mode):
            add(path)
        else:
            collected.errors.append(
                f"{path}:1:1: E902 not a regular file ({file_kind(status.st_mode)})"
            )
    return collected


def _walk(root: str, resolver: SettingsResolver, add, collected: Collected) -> None:
    for directory, subdirectories, filenames in os.walk(root):
        settings = resolver.for_directory(os.path.abspath(directory))
        subdirectories[:] = sorted(
            name for name in subdirectories
            if name not in DEFAULT_EXCLUDES
            and not settings.excludes(os.path.join(directory, name))
        )
        for filename in sorted(filenames):
            if not filename.endswith(".py"):
                continue
            full = os.path.join(directory, filename)
            if settings.excludes(full):
                continue
            try:
                mode = os.stat(full).st_mode
            except OSError:
                continue  # a dangling symlink: nothing to read
            if stat.S_ISREG(mode):
                add(full)
            else:
                collected.notices.append(
                    f"{os.path.normpath(full)}: skipped: not a regular file ({file_kind(mode)})"
                )


def _excluded_above(path: str, resolver: SettingsResolver) -> bool:
    """Whether a folder above ``path`` is excluded by the configuration governing it, looking
    up to (not beyond) that configuration's folder, or the working directory."""
    absolute = os.path.abspath(path)
    directory = os.path.dirname(absolute)
    while True:
        settings = resolver.for_directory(directory)
        stop = settings.base if _inside(directory, settings.base) else resolver.cwd
        if not _inside(directory, stop) or directory == stop:
            return False
        if os.path.basename(directory) in DEFAULT_EXCLUDES or settings.excludes(directory):
            return True
        directory = os.path.dirname(directory)


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


def within(path: str, roots: Iterable[str]) -> bool:
    real = os.path.realpath(path)
    return any(_inside(real, root) for root in roots)


def writable_files(files: list[str], paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """Files whose real file lies under the given paths (a symlink named on the command line
    counts as given); the others are left alone with a note."""
    roots = [os.path.realpath(path) for path in paths if os.path.isdir(path)]
    named = {os.path.normpath(path) for path in paths if not os.path.isdir(path)}
    kept, skipped = [], []
    for path in files:
        if path == STDIN or path in named or within(path, roots):
            kept.append(path)
        else:
            skipped.append(
                f"{path}: not fixed: it links to {os.path.realpath(path)}, outside the paths given"
            )
    return kept, skipped
