"""Run flake8-flaskleak over pinned releases of real Flask applications and extensions.

    python benchmarks/corpus.py [--cache DIR] [--only NAME ...]

Downloads each release's wheel from PyPI (pure-Python, so nothing is built or run) into a cache
folder outside the repository (default ``~/.cache/flake8-flaskleak-corpus``), unpacks it, then
runs ``flaskleak check --format json`` and ``flake8 --select FLK`` over it. Prints, per package:
files, lines, time for each front end, findings per rule, and any crash (a traceback or an
internal-error line on stderr). The two front ends must agree; exit status 1 on any crash or
disagreement.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

CORPUS = [
    ("flask-admin", "2.2.1"),
    ("flask-appbuilder", "5.3.0"),
    ("flask-sqlalchemy", "3.1.1"),
    ("flask-security-too", "5.9.2"),
    ("flask-restx", "1.3.2"),
    ("flask-smorest", "0.47.0"),
    ("ckan", "2.12.0"),
    ("octoprint", "1.11.8"),
    ("changedetection.io", "0.60.10"),
    ("apache-superset", "6.1.0"),
]
DEFAULT_CACHE = Path.home() / ".cache" / "flake8-flaskleak-corpus"
FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>FLK\d{3}) ")


def fetch(name: str, version: str, cache: Path) -> Path:
    target = cache / "src" / f"{name}-{version}"
    if target.is_dir():
        marker = target / "setup.cfg"
        if not marker.exists():
            marker.write_text("# project root marker written by benchmarks/corpus.py\n")
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(wheels), f"{name}=={version}"],
        check=True,
    )
    normalized = re.sub(r"[-_.]+", "_", name).lower()
    wheel = next(
        path for path in wheels.glob("*.whl")
        if path.name.lower().startswith(f"{normalized}-{version}".lower())
    )
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.endswith(".py")]
        archive.extractall(partial, members)
    # A wheel carries no pyproject.toml: mark the unpacked tree as one project, as its
    # repository would be, so the whole-project analysis runs as it does for its developers.
    (partial / "setup.cfg").write_text("# project root marker written by benchmarks/corpus.py\n")
    partial.rename(target)
    return target


def count(tree: Path) -> tuple[int, int]:
    files = lines = 0
    for path in tree.rglob("*.py"):
        files += 1
        with open(path, "rb") as handle:
            lines += sum(1 for _ in handle)
    return files, lines


def crashed(stderr: str) -> bool:
    return "Traceback" in stderr or "internal error" in stderr


def run_check(tree: Path) -> tuple[float, collections.Counter, set, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", "check", "--format", "json", str(tree)],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    findings = json.loads(result.stdout or "[]")
    keys = {(f["path"], f["line"], f["code"]) for f in findings}
    return elapsed, collections.Counter(f["code"] for f in findings), keys, result.stderr


def run_flake8(tree: Path) -> tuple[float, set, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "FLK", "--jobs", "1", str(tree)],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    keys = set()
    for line in result.stdout.splitlines():
        match = FLAKE8_LINE.match(line)
        if match:
            keys.add((match["path"], int(match["line"]), match["code"]))
    return elapsed, keys, result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", nargs="*", default=None, help="package names to run")
    parser.add_argument("--show", action="store_true", help="print every finding")
    args = parser.parse_args()
    failures = 0
    totals: collections.Counter[str] = collections.Counter()
    print("| package | version | files | lines | check s | flake8 s | findings per rule | crashes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, version in CORPUS:
        if args.only and name not in args.only:
            continue
        tree = fetch(name, version, args.cache)
        files, lines = count(tree)
        check_time, by_code, check_keys, check_err = run_check(tree)
        flake8_time, flake8_keys, flake8_err = run_flake8(tree)
        crashes = [err for err in (check_err, flake8_err) if crashed(err)]
        agree = {(os.path.normpath(p), l, c) for p, l, c in check_keys} == {
            (os.path.normpath(p), l, c) for p, l, c in flake8_keys
        }
        failures += bool(crashes) or not agree
        totals.update(by_code)
        rules = ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())) or "none"
        note = "0" if not crashes else str(len(crashes))
        if not agree:
            note += " (front ends disagree)"
        print(f"| {name} | {version} | {files} | {lines} | {check_time:.1f} | {flake8_time:.1f} "
              f"| {rules} | {note} |")
        for err in crashes:
            print(err, file=sys.stderr)
        if args.show:
            for path, line, code in sorted(check_keys):
                print(f"    {path}:{line}: {code}")
    print("total findings: " + (", ".join(f"{c} {n}" for c, n in sorted(totals.items())) or "none"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
