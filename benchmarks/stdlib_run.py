"""Run the analysis over every module of the running Python's standard library: zero crashes.

    python benchmarks/stdlib_run.py [--fix] [PATH ...]

Parses each file with ``ast`` the way the ``flaskleak`` command does, runs every rule with
``FLASKLEAK_STRICT=1`` (so a rule bug raises instead of being reported and skipped), and, with
``--fix``, also runs the fixer on every file that has a finding (in memory, nothing is written)
and checks that the output parses and that a second fix changes nothing. Prints files, lines,
time, findings per rule, and every crash with its file. Exit status 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import ast
import collections
import io
import os
import sys
import sysconfig
import time
import tokenize
import traceback
from pathlib import Path

os.environ["FLASKLEAK_STRICT"] = "1"

from flake8_flaskleak.engine import analyse  # noqa: E402
from flake8_flaskleak.options import Options  # noqa: E402


def python_files(roots: list[Path]):
    """``.py`` files under the roots; installed third-party code (site-packages) is not walked."""
    for root in roots:
        if root.is_file():
            yield root
            continue
        for directory, subdirectories, names in os.walk(root):  # errors (races) are skipped
            subdirectories[:] = sorted(d for d in subdirectories if d != "site-packages")
            for name in sorted(names):
                path = Path(directory, name)
                if name.endswith(".py") and path.is_file():
                    yield path


def decode(data: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument(
        "--fix", action="store_true", help="also run the fixer on files with findings"
    )
    parser.add_argument("--show", action="store_true", help="print every finding")
    args = parser.parse_args()
    roots = args.paths or [Path(sysconfig.get_paths()["stdlib"])]
    options = Options()
    files = lines = unparsable = 0
    findings_by_code: collections.Counter[str] = collections.Counter()
    crashes: list[tuple[Path, str]] = []
    fixed_files = 0
    started = time.perf_counter()
    for path in python_files(roots):
        try:
            data = path.read_bytes()
            text = decode(data)
            tree = ast.parse(text, filename=str(path))
        except (SyntaxError, ValueError, UnicodeDecodeError, OSError):
            unparsable += 1
            continue
        files += 1
        lines += text.count("\n")
        try:
            findings = analyse(tree, text, str(path), options)
        except Exception:
            crashes.append((path, traceback.format_exc(limit=3)))
            continue
        findings_by_code.update(finding.code for finding in findings)
        if args.show:
            for finding in findings:
                print(f"{path}:{finding.line}:{finding.col + 1}: {finding.code} {finding.message}")
        if args.fix and findings:
            try:
                fixed_files += check_fix(data, path, options)
            except Exception:
                crashes.append((path, "fix: " + traceback.format_exc(limit=3)))
    elapsed = time.perf_counter() - started
    print(f"roots: {', '.join(map(str, roots))}")
    print(f"files: {files} ({unparsable} not parsable by this Python, skipped), lines: {lines}")
    print(f"time: {elapsed:.1f} s")
    counts = ", ".join(f"{code} {n}" for code, n in sorted(findings_by_code.items()))
    print(f"findings: {counts or 'none'}")
    if args.fix:
        print(f"files changed by fix (in memory): {fixed_files}")
    print(f"crashes: {len(crashes)}")
    for path, trace in crashes:
        print(f"--- {path}\n{trace}")
    return 1 if crashes else 0


def check_fix(data: bytes, path: Path, options: Options) -> int:
    """Fix in memory (unsafe fixes on); the output must parse and a second fix change nothing."""
    from flake8_flaskleak.fixer import fix_source

    first = fix_source(data, str(path), options, unsafe=True)
    bugs = [error for error in first.errors if "libcst cannot parse" not in error]
    if bugs:  # a fix that raised or wrote code that does not parse (not: libcst's own limits)
        raise AssertionError("fix reported errors: " + "; ".join(bugs))
    if not first.changed:
        return 0
    ast.parse(decode(first.fixed), filename=str(path))
    second = fix_source(first.fixed, str(path), options, unsafe=True)
    if second.changed or second.applied:
        raise AssertionError(f"fix is not idempotent: a second run applied {second.applied}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
