"""Reading a file the way Python does: bytes, decoded by BOM or coding cookie, parsed by ``ast``.

The ``flaskleak`` command and the fixer read files through here; the flake8 plugin gets its
tree from flake8. Failures become a ``SourceError`` carrying the flake8-style code and message
(``E902`` cannot read or decode, ``E999`` does not parse), never a traceback.
"""

from __future__ import annotations

import ast
import io
import os
import stat
import tokenize
import warnings
from dataclasses import dataclass


@dataclass
class SourceError(Exception):
    code: str  # "E902" unreadable or undecodable, "E999" does not parse
    message: str  # "SyntaxError: invalid syntax"
    line: int = 1
    col: int = 1  # 1-based

    def __reduce__(self):  # picklable for worker processes despite the dataclass __init__
        return (SourceError, (self.code, self.message, self.line, self.col))

    def __str__(self) -> str:
        return f"{self.line}:{self.col}: {self.code} {self.message}"


def decode_source(data: bytes) -> str:
    """The text of a Python file: encoding from its BOM or coding cookie, BOM removed."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError) as error:  # a bad or unknown coding cookie
        raise SourceError("E902", f"{type(error).__name__}: {_first_line(error)}") from None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SourceError("E902", f"UnicodeDecodeError: {error.reason}", line) from None


def parse_text(text: str, path: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are not ours to report
            return ast.parse(text, filename=path)
    except SyntaxError as error:
        raise SourceError(
            "E999",
            f"{type(error).__name__}: {error.msg}",
            error.lineno or 1,
            max(error.offset or 1, 1),
        ) from None
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, absurd nesting
        raise SourceError("E999", f"{type(error).__name__}: {_first_line(error)}") from None


def read_source(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise SourceError("E902", f"{type(error).__name__}: {error.strerror or error}") from None


def read_regular_file(path: str, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file, never blocking: a FIFO, a device or a socket named
    ``*.py`` (or a symlink to one, such as ``/dev/zero``) is refused without being read, and
    so is a file over ``max_bytes``."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise SourceError("E902", f"{type(error).__name__}: {error.strerror or error}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError("E902", "OSError: not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            raise SourceError("E902", f"OSError: larger than {max_bytes} bytes")
        chunks = []
        remaining = info.st_size + 1  # one byte more: a file growing while read is cut there
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise SourceError("E902", f"{type(error).__name__}: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
