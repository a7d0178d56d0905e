"""Running the real flake8 in a subprocess and reading its output, for the integration tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from markers import expected_findings

# flake8's default format: path:row:col: CODE text (col is 1-based).
OUTPUT_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.*)$"
)


def run_flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m flake8 ARGS`` in ``cwd``, with this interpreter (so with this plugin)."""
    return subprocess.run(
        [sys.executable, "-m", "flake8", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def parse_output(stdout: str) -> list[tuple[str, int, int, str, str]]:
    """(path as printed, line, 1-based col, code, message) for every line of flake8 output."""
    results = []
    for raw in stdout.splitlines():
        match = OUTPUT_LINE.match(raw)
        assert match, f"unexpected flake8 output line: {raw!r}"
        results.append(
            (
                Path(match["path"]).as_posix(),
                int(match["line"]),
                int(match["col"]),
                match["code"],
                match["text"],
            )
        )
    return results


def reported(stdout: str) -> set[tuple[str, int, str]]:
    return {(path, line, code) for path, line, _col, code, _text in parse_output(stdout)}


def expected_in_tree(root: Path, printed_prefix: str) -> set[tuple[str, int, str]]:
    """Every marker under ``root``, keyed by the path flake8 prints (``printed_prefix/rel``)."""
    expected = set()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for line, code in expected_findings(path):
            expected.add((f"{printed_prefix}/{relative}", line, code))
    return expected


def describe(found: set[tuple[str, int, str]]) -> str:
    return "\n".join(f"  {path}:{line} {code}" for path, line, code in sorted(found)) or "  (none)"


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
