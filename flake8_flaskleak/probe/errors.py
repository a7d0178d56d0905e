"""The errors that end a probe run: one line on stderr, exit 2, never a traceback."""

from __future__ import annotations


class ProbeError(Exception):
    """Something stops the probe (the app cannot be built, a bad seed file, a blocked
    connection): its message is the whole line shown to the user."""


def describe_exception(error: BaseException) -> str:
    """``TypeName: message`` on one line, the way a user reads an exception."""
    text = " ".join(str(error).split())
    name = type(error).__name__
    return f"{name}: {text}" if text else name
