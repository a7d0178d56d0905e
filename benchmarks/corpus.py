"""Run flake8-flaskleak over pinned releases of real Flask applications and extensions.

    python benchmarks/corpus.py [--cache DIR] [--only NAME ...] [--kind application|extension]
    python benchmarks/corpus.py --list-flask-files [--only NAME ...]
    python benchmarks/corpus.py --fix [--only NAME ...]

Downloads each release's wheel from PyPI (pure-Python, so nothing is built or run) into a cache
folder outside the repository (default ``~/.cache/flake8-flaskleak-corpus``), unpacks its ``.py``
files (less vendored third-party code, see ``EXCLUDED``), then runs ``flaskleak check --format
json`` and ``flake8 --select FLK`` over it. Prints, per package: kind, files, files that import
Flask, lines, time for each front end, findings per rule, and any crash (a traceback or an
internal-error line on stderr). The two front ends must agree; exit status 1 on any crash or
disagreement (and, with ``--fail-on-untriaged``, on any finding not in the triage file).

After the run, the findings are held against the triage file (``benchmarks/triage.tsv``, see
``triage.py``): precision overall and per rule, findings not yet triaged, and triaged findings
that are no longer reported (true positives lost, false positives fixed).

With ``--fix``, every fix is applied to a copy of each package instead, and the result checked
(``corpus_fix.py``): the counts promised are the counts applied, every changed file compiles, a
second run changes nothing, flake8's own findings do not get worse, and ``check`` no longer
reports what was fixed.
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import corpus_fix
import triage

APPLICATION = "application"
EXTENSION = "extension"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    kind: str  # APPLICATION: a Flask application that serves traffic; EXTENSION: a library


PACKAGES = [
    Package("flask-admin", "2.2.1", EXTENSION),
    Package("flask-appbuilder", "5.3.0", EXTENSION),
    Package("flask-sqlalchemy", "3.1.1", EXTENSION),
    Package("flask-security-too", "5.9.2", EXTENSION),
    Package("flask-restx", "1.3.2", EXTENSION),
    Package("flask-smorest", "0.47.0", EXTENSION),
    Package("ckan", "2.12.0", APPLICATION),
    Package("octoprint", "1.11.8", APPLICATION),
    Package("changedetection.io", "0.60.10", APPLICATION),
    Package("apache-superset", "6.1.0", APPLICATION),
    Package("pgadmin4", "9.18", APPLICATION),
    Package("indico", "3.2.9", APPLICATION),
    Package("mlflow", "3.18.0", APPLICATION),
    # The last Flask generation: Airflow 3 moved its API server to FastAPI.
    Package("apache-airflow", "2.10.5", APPLICATION),
    Package("locust", "2.47.0", APPLICATION),
    Package("calibreweb", "0.6.27", APPLICATION),
    Package("ihatemoney", "7.2.1", APPLICATION),
    Package("privacyidea", "3.14", APPLICATION),
    Package("fava", "1.30.16", APPLICATION),
    Package("zou", "1.0.97", APPLICATION),
    Package("alerta-server", "9.1.0", APPLICATION),
    Package("gramps-webapi", "3.24.0", APPLICATION),
    Package("archivy", "1.7.7", APPLICATION),
    Package("lektor", "3.3.14", APPLICATION),
    # pyload-ng publishes pre-releases only; this is the newest at the time of pinning.
    Package("pyload-ng", "0.5.0b3.dev101", APPLICATION),
]
# (name, version) pairs, the shape other scripts import.
CORPUS = [(package.name, package.version) for package in PACKAGES]
KINDS = {package.name: package.kind for package in PACKAGES}
# Folders of vendored third-party code inside a wheel, relative to the package root: not the
# application's own code, so findings there would be about someone else's library.
EXCLUDED = {
    # A copy of Django's mail package (not Flask code, not Indico's own).
    "indico": ("indico/vendor",),
}
DEFAULT_CACHE = Path.home() / ".cache" / "flake8-flaskleak-corpus"
DEFAULT_TRIAGE = Path(__file__).resolve().parent / "triage.tsv"
FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>FLK\d{3}) ")
ROOT_MARKER = "setup.cfg"


def fetch(name: str, version: str, cache: Path) -> Path:
    """The unpacked ``.py`` files of ``name==version``'s wheel, downloaded once into ``cache``."""
    target = cache / "src" / f"{name}-{version}"
    if target.is_dir():
        mark_root(target)
        remove_excluded(name, target)
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
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.endswith(".py")]
        archive.extractall(partial, members)
    mark_root(partial)
    remove_excluded(name, partial)
    partial.rename(target)
    return target


def mark_root(tree: Path) -> None:
    # A wheel carries no pyproject.toml: mark the unpacked tree as one project, as its
    # repository would be, so the whole-project analysis runs as it does for its developers.
    marker = tree / ROOT_MARKER
    if not marker.exists():
        marker.write_text("# project root marker written by benchmarks/corpus.py\n")


def remove_excluded(name: str, tree: Path) -> None:
    for folder in EXCLUDED.get(name, ()):
        shutil.rmtree(tree / folder, ignore_errors=True)


def imports_flask(source: str) -> bool:
    """Whether a module imports ``flask``, ``quart`` or a ``flask_*`` package (absolute imports)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".", 1)[0]
            if top in ("flask", "quart") or top.startswith("flask_"):
                return True
    return False


def flask_files(tree: Path) -> list[Path]:
    """The modules under ``tree`` that import Flask (see ``imports_flask``), sorted."""
    found = []
    for path in sorted(tree.rglob("*.py")):
        source = path.read_bytes().decode("utf-8", errors="replace")
        if "flask" in source or "quart" in source:  # cheap filter before parsing
            if imports_flask(source):
                found.append(path)
    return found


def count(tree: Path) -> tuple[int, int]:
    files = lines = 0
    for path in tree.rglob("*.py"):
        files += 1
        with open(path, "rb") as handle:
            lines += sum(1 for _ in handle)
    return files, lines


def crashed(stderr: str) -> bool:
    return "Traceback" in stderr or "internal error" in stderr


def relative(path: str, tree: Path) -> str:
    return Path(os.path.relpath(path, tree)).as_posix()


def run_check(tree: Path) -> tuple[float, dict[tuple[str, int, str], str], str]:
    """Time, findings ((path relative to tree, line, code) -> message), stderr."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", "check", "--format", "json", str(tree)],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - started
    try:
        items = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        return elapsed, {}, result.stderr + "\ninternal error: flaskleak printed no JSON\n"
    findings: dict[tuple[str, int, str], str] = {}
    for item in items:
        key = (relative(item["path"], tree), item["line"], item["code"])
        # Two findings on one line with one code (two objects) are one triage line.
        findings[key] = "; ".join(filter(None, (findings.get(key), item["message"])))
    return elapsed, findings, result.stderr


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
            keys.add((relative(match["path"], tree), int(match["line"]), match["code"]))
    return elapsed, keys, result.stderr


def selected(args: argparse.Namespace) -> list[Package]:
    chosen = [p for p in PACKAGES
              if (not args.only or p.name in args.only) and (not args.kind or p.kind == args.kind)]
    unknown = set(args.only or ()) - {p.name for p in PACKAGES}
    if unknown:
        raise SystemExit(f"not in the corpus: {', '.join(sorted(unknown))}")
    return chosen


def list_flask_files(packages: list[Package], cache: Path) -> int:
    for package in packages:
        for path in flask_files(fetch(package.name, package.version, cache)):
            print(path)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", nargs="*", default=None, help="package names to run")
    parser.add_argument("--kind", choices=(APPLICATION, EXTENSION), help="only this kind")
    parser.add_argument("--show", action="store_true", help="print every finding")
    parser.add_argument("--list-flask-files", action="store_true",
                        help="print the path of every module that imports flask, quart or a "
                             "flask_* package, and run nothing")
    parser.add_argument("--triage", type=Path, default=DEFAULT_TRIAGE,
                        help="triage file to hold the findings against (default: %(default)s)")
    parser.add_argument("--write-untriaged", type=Path, metavar="FILE",
                        help="append the findings not yet triaged to FILE as triage lines with an "
                             "empty verdict (FILE may be the triage file itself)")
    parser.add_argument("--fail-on-untriaged", action="store_true",
                        help="exit 1 when a finding is not triaged")
    parser.add_argument("--fail-on-recall-loss", action="store_true",
                        help="exit 1 when a finding triaged TP is no longer reported")
    parser.add_argument("--fix", action="store_true",
                        help="apply every fix to a copy of each package and check the result "
                             "(see corpus_fix.py) instead of triaging findings")
    args = parser.parse_args()
    packages = selected(args)
    if args.list_flask_files:
        return list_flask_files(packages, args.cache)
    if args.fix:
        return corpus_fix.run(packages, fetch, args.cache)
    try:
        verdicts = triage.read(args.triage)
    except triage.TriageError as error:
        print(error, file=sys.stderr)
        return 2

    failures = 0
    totals: collections.Counter[str] = collections.Counter()
    found: dict[triage.Key, str] = {}
    print("| package | version | kind | files | flask files | lines | check s | flake8 s "
          "| findings per rule | crashes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for package in packages:
        tree = fetch(package.name, package.version, args.cache)
        files, lines = count(tree)
        flask_count = len(flask_files(tree))
        check_time, findings, check_err = run_check(tree)
        flake8_time, flake8_keys, flake8_err = run_flake8(tree)
        crashes = [err for err in (check_err, flake8_err) if crashed(err)]
        agree = set(findings) == flake8_keys
        failures += bool(crashes) or not agree
        by_code = collections.Counter(code for _, _, code in findings)
        totals.update(by_code)
        rules = ", ".join(f"{code} {n}" for code, n in sorted(by_code.items())) or "none"
        note = "0" if not crashes else str(len(crashes))
        if not agree:
            note += " (front ends disagree)"
        print(f"| {package.name} | {package.version} | {package.kind} | {files} | {flask_count} "
              f"| {lines} | {check_time:.1f} | {flake8_time:.1f} | {rules} | {note} |", flush=True)
        for err in crashes:
            print(err, file=sys.stderr)
        for (path, line, code), message in sorted(findings.items()):
            found[triage.Key(package.name, package.version, path, line, code)] = message
            if args.show:
                print(f"    {path}:{line}: {code} {message}")
    print("total findings: " + (", ".join(f"{c} {n}" for c, n in sorted(totals.items())) or "none"))

    report = triage.compare(set(found), verdicts, {(p.name, p.version) for p in packages})
    triage.print_report(report, verdicts, found, triage.stale(verdicts, set(CORPUS)))
    if args.write_untriaged:
        write_untriaged(args.write_untriaged, args.triage, report.untriaged, verdicts)
    if args.fail_on_untriaged and report.untriaged:
        failures += 1
    if args.fail_on_recall_loss and report.lost_true_positives:
        failures += 1
    return 1 if failures else 0


def write_untriaged(target: Path, triage_file: Path, untriaged: list[triage.Key],
                    verdicts: dict[triage.Key, triage.Verdict]) -> None:
    # Lines already in the triage file with an empty verdict are not added to it a second time.
    same_file = target.resolve() == triage_file.resolve()
    keys = [key for key in untriaged if not (same_file and key in verdicts)]
    if keys:
        triage.append_untriaged(target, keys)
        print(f"added {len(keys)} untriaged findings to {target}: fill in their verdict and reason")


if __name__ == "__main__":
    sys.exit(main())
