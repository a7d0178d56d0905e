"""Reading a file the way Python does: bytes, decoded by BOM or coding cookie, parsed by ``ast``.

The ``flaskleak`` command, the fixer and the project index read files through here; the flake8
plugin gets its tree from flake8. Failures become a ``SourceError`` carrying the flake8-style
code and message (``E902`` cannot read or decode, ``E999`` does not parse), never a traceback.

Three things a linter meets in the wild are handled here once, for every caller:

- only regular files are read (``read_regular_file``): a FIFO named ``*.py`` would block
  ``open()``/``read()`` forever and ``/dev/zero`` never ends, so the descriptor is opened
  non-blocking, checked with ``fstat`` and read with a bound;
- deeply nested code that CPython accepts (a generated module with a 3,000-term expression) is
  parsed and walked with a bigger stack (``call_with_deep_stack``) instead of failing with
  ``RecursionError`` at the default limit;
- syntax from a newer Python than the running one is named as such in the ``E999`` message.
"""

from __future__ import annotations

import ast
import io
import os
import re
import stat
import sys
import threading
import tokenize
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Generous limits for the second try on deep code: the thread's C stack is reserved address
# space, committed only as deep as the recursion actually goes.
DEEP_STACK_BYTES = 512 * 1024 * 1024
# Code nested deeper than PARSE_DEPTH_LIMIT is not parsed (an E999): what is parsed can then be
# walked by rules, which take two or three frames per level, within DEEP_RECURSION_LIMIT.
PARSE_DEPTH_LIMIT = 20_000
DEEP_RECURSION_LIMIT = 80_000


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


# --- reading ----------------------------------------------------------------------------------


def read_regular_file(path: str, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file (a symlink is followed) of at most
    ``max_bytes``; a ``SourceError`` (E902) otherwise. Never blocks on a FIFO or a device."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise SourceError("E902", f"{type(error).__name__}: {error.strerror or error}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise SourceError("E902", f"not a regular file ({file_kind(status.st_mode)})")
        if max_bytes is not None and status.st_size > max_bytes:
            raise SourceError("E902", f"larger than {describe_size(max_bytes)}")
        chunks = []
        remaining = max_bytes + 1 if max_bytes is not None else None
        while True:  # the size can change under us: never trust st_size for the bound
            chunk = os.read(descriptor, 1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    raise SourceError("E902", f"larger than {describe_size(max_bytes)}")
        return b"".join(chunks)
    except OSError as error:
        raise SourceError("E902", f"{type(error).__name__}: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


def read_source(path: str) -> bytes:
    """A Python file the user asked for: any size, but only a regular file."""
    return read_regular_file(path)


def file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def describe_size(size: int) -> str:
    return f"{size / 1_000_000:g} MB" if size >= 1_000_000 else f"{size} bytes"


_noticed: set[str] = set()
_collecting: list[list[str]] = []  # set by ``collected_notices``: hand notices back, not print


def notice_once(path: str, message: str) -> None:
    """``flaskleak: PATH: MESSAGE`` on stderr, the first time this process has to say it (a
    file the project index skips is met once per checked file; the user hears of it once)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        relative = path
    shown = path if relative.startswith(os.pardir) else relative
    line = f"flaskleak: {shown}: {message}"
    if line in _noticed:
        return
    _noticed.add(line)
    if _collecting:
        _collecting[-1].append(line)
    else:
        print(line, file=sys.stderr)


@contextmanager
def collected_notices() -> Iterator[list[str]]:
    """Notices given inside the block are returned in the list instead of printed: worker
    processes hand them to the main process, which prints each once."""
    notices: list[str] = []
    _collecting.append(notices)
    try:
        yield notices
    finally:
        _collecting.pop()


# --- decoding and parsing ---------------------------------------------------------------------


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
    """``ast.parse``, with a deep stack when the code nests deeper than the default limit."""
    try:
        try:
            return _parse(text, path)
        except RecursionError:
            return call_with_deep_stack(_parse, text, path, recursion_limit=PARSE_DEPTH_LIMIT)
    except SyntaxError as error:
        message = f"{type(error).__name__}: {error.msg}"
        needed = newer_python_needed(error, text)
        if needed:
            message += (
                f" (this syntax needs Python {needed[0]}.{needed[1]}; "
                f"flaskleak is running on Python {sys.version_info[0]}.{sys.version_info[1]})"
            )
        raise SourceError("E999", message, error.lineno or 1, max(error.offset or 1, 1)) from None
    except RecursionError:
        raise SourceError(
            "E999", "RecursionError: nested too deeply to parse, even with a larger stack"
        ) from None
    except (ValueError, MemoryError) as error:  # null bytes, memory
        raise SourceError("E999", f"{type(error).__name__}: {_first_line(error)}") from None


def _parse(text: str, path: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes etc. are not ours to report
        return ast.parse(text, filename=path)


_deep_lock = threading.Lock()


def call_with_deep_stack(
    function: Callable[..., T], *arguments: object, recursion_limit: int = DEEP_RECURSION_LIMIT
) -> T:
    """``function(*arguments)`` in a thread with a large stack and a raised recursion limit.

    For code CPython accepts but that nests deeper than the default limit of 1,000 frames
    allows a recursive walk to follow. The recursion limit is process-wide, so calls are
    serialised and the limit is put back afterwards. A ``RecursionError`` that still happens
    (or a thread that cannot be started) propagates as ``RecursionError``.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*arguments)
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    with _deep_lock:
        old_limit = sys.getrecursionlimit()
        try:
            old_size = threading.stack_size(DEEP_STACK_BYTES)
        except (ValueError, RuntimeError):
            raise RecursionError("nested too deeply, and no larger stack is available") from None
        try:
            sys.setrecursionlimit(max(old_limit, recursion_limit))
            thread = threading.Thread(target=target, name="flaskleak-deep-stack", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                raise RecursionError("nested too deeply, and no thread could be started") from None
            thread.join()
        finally:
            threading.stack_size(old_size)
            sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def retry_with_deep_stack(function: Callable[..., T], *arguments: object) -> T:
    """``function(*arguments)``; once more with a deep stack if it hits the recursion limit."""
    try:
        return function(*arguments)
    except RecursionError:
        return call_with_deep_stack(function, *arguments)


# --- syntax from a newer Python ---------------------------------------------------------------

# (pattern on the line of the error, the Python version that accepts it); the first match wins.
# Only syntax newer than the oldest supported Python (3.11) can be met: `match` (3.10) and
# `except*` (3.11) always parse.
_NEWER_SYNTAX = (
    (re.compile(r"^\s*type\s+[A-Za-z_]\w*\s*(\[.*\])?\s*="), (3, 12)),  # PEP 695 alias
    (re.compile(r"^\s*(async\s+)?def\s+[A-Za-z_]\w*\s*\["), (3, 12)),  # PEP 695 generic function
    (re.compile(r"^\s*class\s+[A-Za-z_]\w*\s*\["), (3, 12)),  # PEP 695 generic class
    (re.compile(r"(?<![\w.'\"])([tT][rR]?|[rR][tT])['\"]"), (3, 14)),  # PEP 750 t-strings
)
# Messages of the f-string tokenizer before PEP 701 (3.12) made f-strings ordinary grammar.
_OLD_FSTRING_MESSAGES = ("f-string: expecting '}'", "f-string expression part cannot include")


def newer_python_needed(error: SyntaxError, text: str) -> tuple[int, int] | None:
    """The Python version whose grammar accepts the code where ``error`` is, when it is newer
    than the running one and the code is recognisably that version's syntax."""
    needed: tuple[int, int] | None = None
    if any(error.msg.startswith(message) for message in _OLD_FSTRING_MESSAGES):
        needed = (3, 12)
    else:
        lines = text.splitlines()
        line = lines[error.lineno - 1] if error.lineno and error.lineno <= len(lines) else ""
        for pattern, version in _NEWER_SYNTAX:
            if pattern.search(line):
                needed = version
                break
    if needed is None or sys.version_info[:2] >= needed:
        return None
    return needed


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
