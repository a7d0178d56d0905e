"""What installing flake8-flaskleak adds to a flake8 run, beside what flake8-bugbear adds.

flake8 runs every installed plugin whatever ``--select`` says, so a plugin's cost is the same
flake8 command timed in an environment with the plugin and in one without it. This script builds
(once, cached under ``benchmarks/.work/``) three virtual environments:

* ``alone``:   flake8 only;
* ``plugin``:  flake8 + this project (editable install, so it always measures the working tree);
* ``bugbear``: flake8 + flake8-bugbear (pinned), the reference point for "a plugin users accept";

copies a fixed tree of real Python (a subset of the running interpreter's standard library,
at least 20k lines, or ``--tree PATH``), and times ``flake8 --select E,W,F -j 1`` on it in each
environment, alternating the environments round by round so drift in machine load hits all of
them alike. It prints the median wall and CPU time per environment and the ratios to ``alone``.

    python benchmarks/bench_flake8.py                 # 5 rounds on the stdlib subset
    python benchmarks/bench_flake8.py --rounds 9 --tree ~/src/my-flask-service
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"
FLAKE8 = "flake8==7.5.0"
BUGBEAR = "flake8-bugbear==26.10.27"
# Packages of the standard library copied as the tree to lint: real, varied, ~46k lines.
STDLIB_PACKAGES = ("email", "json", "http", "logging", "asyncio", "concurrent", "xml")
MIN_LINES = 20_000
ENVIRONMENTS = ("alone", "plugin", "bugbear")
# What is timed: the same command in each environment, plus the plugin with its whole-project
# analysis switched off, which splits the plugin's cost into per-file rules and project index.
RUNS = {
    "alone": ("alone", ()),
    "plugin": ("plugin", ()),
    "plugin-per-file": ("plugin", ("--flaskleak-project-analysis=false",)),
    "bugbear": ("bugbear", ()),
}
# The plugin looks for the project root (as flaskleak/project.py does) and caches whole-project
# facts under it; "cold" deletes that cache before every run (a fresh CI checkout), "warm"
# keeps it (an editor or pre-commit run after the first).
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
CACHE_DIRECTORY = ".flaskleak_cache"


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    output_lines: int = 0
    plugin_lines: int = 0  # FLK lines: `--select F` also selects FLK, as it selects any F prefix


def requirements(name: str) -> list[str]:
    if name == "alone":
        return [FLAKE8]
    if name == "plugin":
        return [FLAKE8, "-e", str(REPO)]
    return [FLAKE8, BUGBEAR]


def environment_python(name: str) -> Path:
    return WORK / f"venv-{name}" / "bin" / "python"


def ensure_environment(name: str, rebuild: bool) -> Path:
    """The venv's python, creating the venv when it is missing or was built for other pins."""
    directory = WORK / f"venv-{name}"
    stamp = directory / "flaskleak-bench.json"
    wanted = {"requirements": requirements(name), "python": sys.version}
    if not rebuild and stamp.is_file():
        try:
            if json.loads(stamp.read_text()) == wanted:
                return environment_python(name)
        except ValueError:
            pass
    if directory.exists():
        shutil.rmtree(directory)
    pins = " ".join(requirements(name))
    print(f"creating {directory.relative_to(REPO)} ({pins}) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(directory)
    python = environment_python(name)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *requirements(name)], check=True
    )
    stamp.write_text(json.dumps(wanted))
    return python


def count_lines(tree: Path) -> tuple[int, int]:
    files = lines = 0
    for path in tree.rglob("*.py"):
        files += 1
        with open(path, "rb") as handle:
            lines += sum(1 for _ in handle)
    return files, lines


def stdlib_tree() -> Path:
    """A copy of the fixed stdlib subset (copied once per Python version)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    target = WORK / f"tree-stdlib-{version}"
    if not target.is_dir():
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        staging = WORK / f"tree-stdlib-{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        for package in STDLIB_PACKAGES:
            shutil.copytree(
                stdlib / package,
                staging / package,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "test", "tests"),
            )
        # Its own project root, so the plugin's project analysis covers this tree, not the repo.
        (staging / "pyproject.toml").write_text('[project]\nname = "bench-tree"\nversion = "0"\n')
        staging.rename(target)
    return target


def project_root(tree: Path) -> Path | None:
    for directory in (tree, *tree.parents):
        if any((directory / marker).exists() for marker in ROOT_MARKERS):
            return directory
    return None


def clear_plugin_cache(tree: Path) -> None:
    root = project_root(tree)
    if root is not None:
        shutil.rmtree(root / CACHE_DIRECTORY, ignore_errors=True)


def flake8_command(python: Path, tree: Path, jobs: int, extra: tuple[str, ...]) -> list[str]:
    return [
        str(python), "-m", "flake8", "--isolated", "--select", "E,W,F", "-j", str(jobs), *extra,
        str(tree),
    ]


def timed_run(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode not in (0, 1) or "Traceback" in result.stderr:
        raise SystemExit(f"flake8 failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return wall, cpu, result


def measure(
    pythons: dict[str, Path], tree: Path, rounds: int, warmup: int, jobs: int, cold: bool
):
    timings = {name: Timings() for name in RUNS}
    total = warmup + rounds
    for round_number in range(total):
        measured = round_number >= warmup
        # Rotate the order each round so no environment always runs first after a pause.
        names = list(RUNS)
        shift = round_number % len(names)
        order = names[shift:] + names[:shift]
        for name in order:
            if cold:
                clear_plugin_cache(tree)
            environment, extra = RUNS[name]
            command = flake8_command(pythons[environment], tree, jobs, extra)
            wall, cpu, result = timed_run(command, WORK)
            if measured:
                timings[name].wall.append(wall)
                timings[name].cpu.append(cpu)
            lines = result.stdout.splitlines()
            timings[name].output_lines = len(lines)
            timings[name].plugin_lines = sum(": FLK" in line for line in lines)
        label = "warm-up" if not measured else f"round {round_number - warmup + 1}/{rounds}"
        summary = "  ".join(
            f"{name} {timings[name].wall[-1]:.1f}s ({timings[name].cpu[-1]:.1f}s CPU)"
            for name in order
            if measured
        )
        print(f"  {label} done {summary}", flush=True)
    return timings


def report(timings: dict[str, Timings]) -> None:
    medians = {
        name: (statistics.median(t.wall), statistics.median(t.cpu)) for name, t in timings.items()
    }
    print()
    print(f"{'run':<16} {'median wall':>12} {'median CPU':>12} {'wall ratio':>11} "
          f"{'CPU ratio':>10} {'output lines':>13}")
    base_wall, base_cpu = medians["alone"]
    for name, (wall, cpu) in medians.items():
        print(
            f"{name:<16} {wall:>11.2f}s {cpu:>11.2f}s {wall / base_wall:>11.3f} "
            f"{cpu / base_cpu:>10.3f} {timings[name].output_lines:>13}"
        )
    print()
    for name in ("plugin", "plugin-per-file", "bugbear"):
        wall, cpu = medians[name]
        print(
            f"{name}/alone: wall {wall / base_wall:.3f} ({(wall / base_wall - 1) * 100:+.1f}%), "
            f"CPU {cpu / base_cpu:.3f} ({(cpu / base_cpu - 1) * 100:+.1f}%)"
        )
    if timings["plugin"].plugin_lines:
        print(
            f"(the plugin environment also printed {timings['plugin'].plugin_lines} FLK lines: "
            "flake8's `--select F` selects every code starting with F)"
        )


# -- whole-project case: first run, warm cache, one file touched --------------------------------

# Real Flask code from benchmarks/corpus.py's cache (fetched when missing): over 100k lines.
PROJECT_CORPUS = (("changedetection.io", "0.60.10"), ("flask-admin", "2.2.1"))
# What is timed per round, each a ratio to flake8 alone: the plugin with no project cache
# (a fresh checkout), again with the cache it left (an editor, pre-commit), after appending a
# comment to one module (the usual edit), and with the project analysis switched off.
PROJECT_RUNS = ("alone", "plugin-first", "plugin-warm", "plugin-touched", "plugin-per-file")


def project_tree() -> Path:
    """A work copy of the corpus projects (each keeps its own root marker, ``setup.cfg``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import corpus

    target = WORK / "tree-project"
    if not target.is_dir():
        staging = WORK / "tree-project.partial"
        shutil.rmtree(staging, ignore_errors=True)
        for name, version in PROJECT_CORPUS:
            source = corpus.fetch(name, version, corpus.DEFAULT_CACHE)
            shutil.copytree(source, staging / source.name,
                            ignore=shutil.ignore_patterns(CACHE_DIRECTORY, "__pycache__"))
        staging.rename(target)
    return target


def touched_module(tree: Path) -> Path:
    """The module an edit lands in: the first one (sorted) that registers routes."""
    for path in sorted(tree.rglob("*.py")):
        if "route(" in path.read_text(encoding="utf-8", errors="replace"):
            return path
    return sorted(tree.rglob("*.py"))[0]


def clear_project_caches(tree: Path) -> None:
    for cache in tree.rglob(CACHE_DIRECTORY):
        shutil.rmtree(cache, ignore_errors=True)


def measure_project(pythons: dict[str, Path], tree: Path, rounds: int, warmup: int, jobs: int):
    """Rounds of: flake8 alone, the plugin chain (first run, warm, touched) and the plugin
    per file; the three units rotate each round, the chain keeps its order (it needs it)."""
    timings = {name: Timings() for name in PROJECT_RUNS}
    edited = touched_module(tree)
    print(f"touched module: {edited.relative_to(tree)}")
    units = [("alone",), ("plugin-first", "plugin-warm", "plugin-touched"), ("plugin-per-file",)]
    for round_number in range(warmup + rounds):
        measured = round_number >= warmup
        shift = round_number % len(units)
        for unit in units[shift:] + units[:shift]:
            for name in unit:
                if name == "plugin-first":
                    clear_project_caches(tree)
                elif name == "plugin-touched":
                    with open(edited, "a", encoding="utf-8") as handle:
                        handle.write(f"# edited by bench_flake8.py, round {round_number}\n")
                environment = "alone" if name == "alone" else "plugin"
                extra = ("--flaskleak-project-analysis=false",) if name == "plugin-per-file" else ()
                wall, cpu, result = timed_run(
                    flake8_command(pythons[environment], tree, jobs, extra), WORK
                )
                if measured:
                    timings[name].wall.append(wall)
                    timings[name].cpu.append(cpu)
                lines = result.stdout.splitlines()
                timings[name].output_lines = len(lines)
                timings[name].plugin_lines = sum(": FLK" in line for line in lines)
        label = "warm-up" if not measured else f"round {round_number - warmup + 1}/{rounds}"
        summary = "  ".join(
            f"{name} {timings[name].cpu[-1]:.1f}s CPU" for name in PROJECT_RUNS if measured
        )
        print(f"  {label} done {summary}", flush=True)
    return timings


def report_project(timings: dict[str, Timings]) -> None:
    medians = {
        name: (statistics.median(t.wall), statistics.median(t.cpu)) for name, t in timings.items()
    }
    base_wall, base_cpu = medians["alone"]
    print()
    print(f"{'run':<16} {'median wall':>12} {'median CPU':>12} {'wall ratio':>11} "
          f"{'CPU ratio':>10} {'FLK lines':>10}")
    for name, (wall, cpu) in medians.items():
        print(
            f"{name:<16} {wall:>11.2f}s {cpu:>11.2f}s {wall / base_wall:>11.3f} "
            f"{cpu / base_cpu:>10.3f} {timings[name].plugin_lines:>10}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (default 1)")
    parser.add_argument("--tree", type=Path, help="lint this tree instead of the stdlib subset")
    parser.add_argument("--jobs", type=int, default=1, help="flake8 -j (default 1)")
    parser.add_argument("--rebuild", action="store_true", help="recreate the three venvs")
    parser.add_argument(
        "--cache",
        choices=("cold", "warm"),
        default="cold",
        help="cold: delete the plugin's project cache before each run (default); warm: keep it",
    )
    parser.add_argument(
        "--project",
        action="store_true",
        help="whole-project case on the real Flask corpus (100k+ lines): first run, warm "
        "cache and one touched file, as ratios to flake8 alone",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    WORK.mkdir(parents=True, exist_ok=True)
    if args.project:
        tree = project_tree()
        files, lines = count_lines(tree)
        print(f"tree: {tree} ({files} files, {lines} lines of Python)")
        pythons = {name: ensure_environment(name, args.rebuild) for name in ("alone", "plugin")}
        print(f"command: flake8 --isolated --select E,W,F -j {args.jobs} TREE "
              f"({args.warmup} warm-up + {args.rounds} rounds, alternating)")
        report_project(measure_project(pythons, tree, args.rounds, args.warmup, args.jobs))
        return 0
    tree = args.tree.resolve() if args.tree else stdlib_tree()
    if not tree.is_dir():
        parser.error(f"--tree {tree}: not a directory")
    files, lines = count_lines(tree)
    print(f"tree: {tree} ({files} files, {lines} lines of Python)")
    if not args.tree and lines < MIN_LINES:
        raise SystemExit(f"the stdlib subset has only {lines} lines; expected >= {MIN_LINES}")

    pythons = {name: ensure_environment(name, args.rebuild) for name in ENVIRONMENTS}
    versions = subprocess.run(
        [str(pythons["plugin"]), "-m", "flake8", "--version"], capture_output=True, text=True
    ).stdout.strip()
    print(f"flake8 in the plugin environment: {versions}")
    print(f"command: flake8 --isolated --select E,W,F -j {args.jobs} TREE "
          f"({args.warmup} warm-up + {args.rounds} rounds, environments alternating, "
          f"{args.cache} plugin cache)")
    report(measure(pythons, tree, args.rounds, args.warmup, args.jobs, args.cache == "cold"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
