"""``corpus.py --fix``: every fix applied to a copy of each pinned application, then checked.

For each package, a fresh copy of its cached tree goes to ``benchmarks/.work/fix/NAME-VERSION/``
with the package's declared requirements (its wheel's ``Requires-Dist``) written as
``requirements.txt``, as its repository declares them, so the fixes read the project's pins.
Then, with the ``flaskleak`` of this working tree:

1. ``check --format json``: what each finding's fix is (safe, unsafe, none): the promise;
2. ``fix``: must fix exactly the safe findings, and its summary must promise exactly the
   unsafe ones ("N fixable with --unsafe-fixes");
3. ``fix --unsafe-fixes``: must fix exactly the promised unsafe ones;
4. every changed file parses and compiles;
5. a second ``fix --unsafe-fixes --check`` changes nothing;
6. flake8's own findings (``--isolated --select E,W,F``) on the changed files do not get
   worse: no code more often than before, except E501 on a line that only moved (re-indented
   into a ``with`` or ``try`` block) or that stands for a long line the fix rewrote;
7. ``check`` no longer reports a finding with a fix.

Prints a table per package (fixes by code and kind, files changed, checks), the totals, and
each failed check; exit status 1 on any.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work" / "fix"
SUMMARY = re.compile(
    r"flaskleak: (?:(?:fixed|would fix) (?P<fixed>\d+) findings? in \d+ files? "
    r"\((?P<codes>[^)]*)\)|nothing to fix)"
)
PROMISED = re.compile(r"\((?P<count>\d+) fixable with --unsafe-fixes\)")
FLAKE8_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):\d+: (?P<code>[A-Z]+\d+) ")
FIX_BUGS = ("internal error", "was to rewrite", "does not parse", "Traceback")
KINDS = ("safe", "unsafe", "none")


@dataclass
class Outcome:
    package: str
    promised: dict[str, collections.Counter] = field(default_factory=dict)  # kind -> by code
    fixed: dict[str, collections.Counter] = field(default_factory=dict)  # run -> by code
    changed: list[str] = field(default_factory=list)  # relative paths
    flake8_delta: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def flaskleak(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", *arguments],
        cwd=cwd, capture_output=True, text=True,
    )


def requirements_of(name: str, version: str, cache: Path) -> list[str]:
    """The ``Requires-Dist`` lines of the package's wheel (empty when it is not cached)."""
    normalized = re.sub(r"[-_.]+", "_", name).lower()
    for wheel in (cache / "wheels").glob("*.whl"):
        if wheel.name.lower().startswith(f"{normalized}-{version}".lower()):
            with zipfile.ZipFile(wheel) as archive:
                metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
                text = archive.read(metadata).decode("utf-8", "replace")
            return [line.split(":", 1)[1].strip() for line in text.splitlines()
                    if line.startswith("Requires-Dist:")]
    return []


def prepare(name: str, version: str, tree: Path, cache: Path) -> Path:
    copy = WORK / tree.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns(".flaskleak_cache"))
    requirements = requirements_of(name, version, cache)
    (copy / "requirements.txt").write_text(
        "# Requires-Dist of the wheel, written by benchmarks/corpus_fix.py\n"
        + "".join(line + "\n" for line in requirements)
    )
    return copy


def promised(copy: Path, outcome: Outcome) -> list[dict]:
    result = flaskleak("check", "--format", "json", ".", cwd=copy)
    items = json.loads(result.stdout or "[]")
    for kind in KINDS:
        outcome.promised[kind] = collections.Counter(
            item["code"] for item in items if item["fix"]["applicability"] == kind
        )
    bugs(result.stderr, "check", outcome)
    return items


def counts(text: str) -> collections.Counter:
    found: collections.Counter = collections.Counter()
    for part in filter(None, (p.strip() for p in text.split(","))):
        code, _, times = part.partition(" x")
        found[code] += int(times or 1)
    return found


def fix_run(copy: Path, outcome: Outcome, label: str, *options: str) -> str:
    result = flaskleak("fix", *options, ".", cwd=copy)
    bugs(result.stderr, label, outcome)
    summary = SUMMARY.search(result.stderr)
    if summary is None:
        outcome.failures.append(f"{label}: no summary line: {result.stderr[-300:]!r}")
        return result.stderr
    outcome.fixed[label] = counts(summary["codes"] or "")
    return result.stderr


def bugs(stderr: str, label: str, outcome: Outcome) -> None:
    for line in stderr.splitlines():
        if any(marker in line for marker in FIX_BUGS):
            outcome.failures.append(f"{label}: {line[:300]}")


def changed_files(tree: Path, copy: Path) -> list[str]:
    changed = []
    for path in sorted(copy.rglob("*.py")):
        relative = path.relative_to(copy)
        original = tree / relative
        if original.exists() and original.read_bytes() != path.read_bytes():
            changed.append(relative.as_posix())
    return changed


def compiles(copy: Path, changed: list[str], outcome: Outcome) -> None:
    for relative in changed:
        source = (copy / relative).read_bytes()
        try:
            compile(source, relative, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            outcome.failures.append(f"{relative}: does not compile after fixing: {error}")


def flake8_findings(root: Path, files: list[str]) -> dict[str, list[tuple[str, str]]]:
    """code -> [(path, line text stripped)] for flake8's own checks on ``files``."""
    found: dict[str, list] = collections.defaultdict(list)
    if not files:
        return found
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "E,W,F",
         "--extend-ignore", "FLK", "--jobs", "1", *files],
        cwd=root, capture_output=True, text=True,
    )
    lines_of: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        match = FLAKE8_LINE.match(line)
        if not match:
            continue
        path = match["path"]
        if path not in lines_of:
            lines_of[path] = (root / path).read_text(errors="replace").splitlines()
        number = int(match["line"])
        text = lines_of[path][number - 1] if number <= len(lines_of[path]) else ""
        found[match["code"]].append((path, text.strip()))
    return found


def flake8_not_worse(tree: Path, copy: Path, changed: list[str], outcome: Outcome) -> None:
    before = flake8_findings(tree, changed)
    after = flake8_findings(copy, changed)
    original_lines = {
        relative: {
            line.strip() for line in (tree / relative).read_text(errors="replace").splitlines()
        }
        for relative in changed
    }
    for code in sorted(set(before) | set(after)):
        delta = len(after.get(code, [])) - len(before.get(code, []))
        if delta:
            outcome.flake8_delta[code] = delta
        if delta <= 0:
            continue
        if code == "E501":
            long_lines_not_worse(before.get(code, []), after[code], original_lines, outcome)
            continue
        outcome.failures.append(f"flake8 {code}: {delta} more on the changed files")


def long_lines_not_worse(before, after, original_lines, outcome: Outcome) -> None:
    """E501 on a changed file is fine on a line that only moved (re-indented into a block),
    or in place of a long line the fix rewrote (``x = open(...)  # long comment`` becoming a
    ``with`` header); any other new long line is a failure."""
    fixed_lines = {path: {text for p, text in after if p == path} for path, _ in after}
    replaced = collections.Counter(
        path for path, text in before if text not in fixed_lines.get(path, set())
    )
    remaining = collections.Counter(before)
    for path, text in after:
        if remaining[(path, text)]:
            remaining[(path, text)] -= 1
        elif text in original_lines.get(path, set()):
            continue  # re-indented
        elif replaced[path]:
            replaced[path] -= 1
        else:
            outcome.failures.append(f"{path}: a new long line the fix wrote: {text[:80]}")


def run_package(name: str, version: str, tree: Path, cache: Path) -> Outcome:
    outcome = Outcome(f"{name}-{version}")
    started = time.perf_counter()
    copy = prepare(name, version, tree, cache)
    promised(copy, outcome)
    safe, unsafe = outcome.promised["safe"], outcome.promised["unsafe"]

    stderr = fix_run(copy, outcome, "fix")
    if outcome.fixed.get("fix", collections.Counter()) != safe:
        outcome.failures.append(f"fix fixed {dict(outcome.fixed.get('fix', {}))}, "
                                f"promised safe {dict(safe)}")
    match = PROMISED.search(stderr)
    offered = int(match["count"]) if match else 0
    if offered != sum(unsafe.values()):
        outcome.failures.append(f"fix promised {offered} with --unsafe-fixes, check said "
                                f"{sum(unsafe.values())}")

    fix_run(copy, outcome, "fix --unsafe-fixes", "--unsafe-fixes")
    if outcome.fixed.get("fix --unsafe-fixes", collections.Counter()) != unsafe:
        outcome.failures.append(f"fix --unsafe-fixes fixed "
                                f"{dict(outcome.fixed.get('fix --unsafe-fixes', {}))}, "
                                f"promised {dict(unsafe)}")

    outcome.changed = changed_files(tree, copy)
    compiles(copy, outcome.changed, outcome)
    again = flaskleak("fix", "--unsafe-fixes", "--check", ".", cwd=copy)
    if "would fix" in again.stdout:
        outcome.failures.append("a second run would change more: " + again.stdout[:300])
    flake8_not_worse(tree, copy, outcome.changed, outcome)
    left = json.loads(flaskleak("check", "--format", "json", ".", cwd=copy).stdout or "[]")
    for item in left:
        if item["fix"]["applicability"] != "none":
            outcome.failures.append(
                f"{item['path']}:{item['line']}: {item['code']} still reported with a "
                f"{item['fix']['applicability']} fix after fixing"
            )
    outcome.seconds = time.perf_counter() - started
    return outcome


def describe(counter: collections.Counter) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(counter.items()) if n) or "—"


def run(packages, fetch, cache: Path) -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    print("| package | safe fixes | unsafe fixes | no fix | files changed | flake8 on them | "
          "checks | s |")
    print("|---|---|---|---|---|---|---|---|")
    totals = {kind: collections.Counter() for kind in KINDS}
    changed_total = 0
    failures: list[str] = []
    for package in packages:
        tree = fetch(package.name, package.version, cache)
        outcome = run_package(package.name, package.version, tree, cache)
        for kind in KINDS:
            totals[kind].update(outcome.promised.get(kind, {}))
        changed_total += len(outcome.changed)
        delta = ", ".join(f"{code} {n:+d}" for code, n in sorted(outcome.flake8_delta.items()))
        checks = "ok" if not outcome.failures else f"{len(outcome.failures)} failed"
        print(f"| {outcome.package} | {describe(outcome.promised['safe'])} | "
              f"{describe(outcome.promised['unsafe'])} | {describe(outcome.promised['none'])} | "
              f"{len(outcome.changed)} | {delta or 'same'} | {checks} | {outcome.seconds:.0f} |",
              flush=True)
        failures += [f"{outcome.package}: {failure}" for failure in outcome.failures]
    print()
    print(f"fixes applied: safe {describe(totals['safe'])}; unsafe {describe(totals['unsafe'])}")
    print(f"findings with no fix: {describe(totals['none'])}")
    print(f"files changed: {changed_total}; failed checks: {len(failures)}")
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0
