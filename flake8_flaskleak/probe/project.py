"""Which files are the project's: the folder the app was imported from, minus installed
packages and this probe itself. Measurements are attributed to the innermost project line."""

from __future__ import annotations

import os
import sys
import sysconfig
from functools import lru_cache

PROBE_DIR = os.path.dirname(os.path.abspath(__file__))
INSTALLED_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
STANDARD_LIBRARY = tuple({
    os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep,
    os.path.dirname(os.__file__) + os.sep,
})


@lru_cache(maxsize=4096)
def is_standard_library(filename: str) -> bool:
    return (filename.startswith(STANDARD_LIBRARY) or filename.startswith("<frozen")) and not any(
        marker in filename for marker in INSTALLED_MARKERS
    )


class Project:
    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self._is_project = lru_cache(maxsize=4096)(self._decide)

    def _decide(self, filename: str) -> bool:
        if not filename or filename.startswith("<"):
            return False
        path = os.path.realpath(filename)
        if path.startswith(PROBE_DIR + os.sep) or any(m in path for m in INSTALLED_MARKERS):
            return False
        return path.startswith(self.root + os.sep)

    def contains(self, filename: str) -> bool:
        return self._is_project(filename)

    def relative(self, filename: str) -> str:
        path = os.path.realpath(filename)
        try:
            return os.path.relpath(path, self.root)
        except ValueError:
            return path

    def caller_line(self, skip: int = 1) -> tuple[str, int] | None:
        """The innermost project frame of the running code: where it was called from."""
        frame = sys._getframe(skip + 1)
        while frame is not None:
            if self.contains(frame.f_code.co_filename):
                return frame.f_code.co_filename, frame.f_lineno
            frame = frame.f_back
        return None

    def traceback_line(self, traceback: object) -> tuple[str, int] | None:
        """The innermost project frame of a ``tracemalloc.Traceback`` (oldest frame first)."""
        for frame in reversed(traceback):  # type: ignore[call-overload]
            if self.contains(frame.filename):
                return frame.filename, frame.lineno
        return None

    def modules(self) -> list[tuple[str, object]]:
        """The imported modules whose file is in the project."""
        found = []
        for name, module in list(sys.modules.items()):
            filename = getattr(module, "__file__", None)
            if filename and self.contains(filename):
                found.append((name, module))
        return sorted(found, key=lambda item: item[0])
