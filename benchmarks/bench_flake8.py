"""What flake8-flaskleak costs inside flake8, and what `flaskleak check` costs, on real Flask code.

flake8 runs every installed plugin whatever ``--select`` says, so a plugin's cost is the same
flake8 command timed in an environment with the plugin and in one without it. This script
builds (once, under ``benchmarks/.work/``) three virtual environments: ``alone`` (flake8),
``plugin`` (flake8 + this project, installed editable: it measures the working tree) and
``bugbear`` (flake8 + flake8-bugbear, a plugin users accept), and times, on the files of the
pinned corpus applications that import Flask (``bench_tree.py``):

* flake8 alone, flake8 + plugin cold (no ``.flaskleak_cache/``) then warm, for each ``--jobs``;
  flake8 + bugbear; ``flaskleak check`` cold with ``-j 1`` and each larger ``--jobs``;
* as CPU time of the child processes, peak memory of the largest one, and wall time,
  in alternating rounds (the order rotates every round, a warm-up round first), and prints the
  medians and one summary table of ratios, each beside its goal;
* and, once, the parse floor: ``ast.parse`` alone timed on the modules a cold index parsed
  (``parse_floor_probe.py``), the least any cold run analysing them can cost.

``--per-file`` instead times each file alone: flake8's cost on it against the plugin's
(``per_file_probe.py``), two generated 5 MB modules included.

    python benchmarks/bench_flake8.py --quick          # 1-in-9 sample, 3 rounds
    python benchmarks/bench_flake8.py                  # every file, 5 rounds
    python benchmarks/bench_flake8.py --per-file --sample
    python benchmarks/bench_flake8.py --tree ~/src/my-flask-service
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import bench_report  # noqa: E402
import bench_tree  # noqa: E402
from bench_report import FileCost, Measurements, Run  # noqa: E402
from bench_tree import BenchTree  # noqa: E402
from corpus import CORPUS, DEFAULT_CACHE, fetch  # noqa: E402

REPO = BENCHMARKS.parent
WORK = BENCHMARKS / ".work"
FLAKE8 = "flake8==7.5.0"
BUGBEAR = "flake8-bugbear==26.10.27"
GENERATED_SIZE = 5_000_000
FLAKE8_CRASH = "There was a critical error during execution of Flake8"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- environments -------------------------------------------------------------------------------


def requirements(name: str) -> list[str]:
    if name == "alone":
        return [FLAKE8]
    if name == "plugin":
        return [FLAKE8, "-e", str(REPO)]
    return [FLAKE8, BUGBEAR]


def environment_stamp(name: str) -> dict:
    """What an environment was built from; a change rebuilds it (the plugin's own dependencies
    are read from pyproject.toml, so the stamp holds its hash)."""
    stamp = {"requirements": requirements(name), "python": sys.version}
    if name == "plugin":
        stamp["pyproject"] = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    return stamp


def ensure_environment(name: str, rebuild: bool) -> Path:
    """The venv's python, creating the venv when it is missing or was built from other pins."""
    directory = WORK / f"venv-{name}"
    python = directory / "bin" / "python"
    stamp_file = directory / "flaskleak-bench.json"
    wanted = environment_stamp(name)
    if not rebuild and stamp_file.is_file() and python.exists():
        try:
            if json.loads(stamp_file.read_text()) == wanted:
                return python
        except ValueError:
            pass
    shutil.rmtree(directory, ignore_errors=True)
    say(f"creating {directory.relative_to(REPO)} ({' '.join(requirements(name))}) ...")
    venv.EnvBuilder(with_pip=True, clear=True).create(directory)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *requirements(name)],
                   check=True)
    stamp_file.write_text(json.dumps(wanted))
    return python


def child_environment() -> dict[str, str]:
    """The environment of every timed command: as a user's shell has it. Bytecode is written
    (a user's installed packages have theirs; without it every run would compile the plugin
    from source again) and no ``PYTHONPATH`` reaches the environments."""
    environment = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONHOME"):
        environment.pop(name, None)
    return environment


def flake8_versions(python: Path) -> str:
    result = subprocess.run([str(python.parent / "flake8"), "--version"], cwd=WORK,
                            capture_output=True, text=True, check=True, env=child_environment())
    return " ".join(result.stdout.split())


def repository_state() -> str:
    """The commit measured, and whether the measured code (the package and its
    dependencies) differs from it."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--", "flake8_flaskleak", "pyproject.toml"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return commit + (" + uncommitted changes" if dirty else "")


# -- one timed run ------------------------------------------------------------------------------


def command_for(run: Run, python: Path, files: tuple[str, ...]) -> list[str]:
    """The console scripts, as users run them (``python -m`` would also put the working
    directory on ``sys.path``, where an ``*.egg-info`` can register the plugin)."""
    scripts = python.parent
    if run.tool == "check":
        return [str(scripts / "flaskleak"), "check", "-j", str(run.jobs), *files]
    # --isolated: no configuration file of the tree or the user changes what is measured.
    return [str(scripts / "flake8"), "--isolated", "-j", str(run.jobs), *files]


def timed_run(command: list[str], cwd: Path, output: Path) -> tuple[float, float, int, int]:
    """CPU seconds (user + system of the child and the workers it waited for), wall seconds,
    peak RSS in KiB (of the largest of those processes), and lines printed.

    ``os.wait4`` gives the usage of this one child; ``getrusage(RUSAGE_CHILDREN)`` would report
    the largest RSS of every child so far."""
    errors = output.with_suffix(".stderr")
    with open(output, "wb") as stdout, open(errors, "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=stdout, stderr=stderr,
                                   stdin=subprocess.DEVNULL, env=child_environment())
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    problem = errors.read_text(errors="replace")
    printed = output.read_text(errors="replace")
    # flake8 reports a plugin that raised on stdout, with exit status 1 as for findings.
    if code not in (0, 1) or "Traceback" in problem or FLAKE8_CRASH in printed:
        raise SystemExit(f"{' '.join(command[:6])} ... failed (exit {code}):\n"
                         f"{(problem or printed)[-3000:]}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss, printed.count("\n")


def measure(
    pythons: dict[str, Path], tree: BenchTree, jobs: list[int], rounds: int, warmup: int
) -> tuple[list[Run], dict[str, Measurements]]:
    units = bench_report.plan(jobs)
    runs = [run for unit in units for run in unit]
    results = {run.key: Measurements() for run in runs}
    outputs = WORK / "output"
    outputs.mkdir(parents=True, exist_ok=True)
    for round_number in range(warmup + rounds):
        measured = round_number >= warmup
        label = f"round {round_number - warmup + 1}/{rounds}" if measured else "warm-up"
        say(f"{label}:")
        for unit in bench_report.rotated(units, round_number):
            for run in unit:
                if run.cold:
                    bench_tree.clear_plugin_caches(tree.roots)
                command = command_for(run, pythons[run.environment], tree.files)
                cpu, wall, peak_kb, lines = timed_run(command, tree.cwd, outputs / f"{run.key}.txt")
                results[run.key].output_lines = lines
                if measured:
                    results[run.key].cpu.append(cpu)
                    results[run.key].wall.append(wall)
                    results[run.key].peak_kb.append(peak_kb)
                say(f"  {run.label:<36} {cpu:7.2f} s CPU {wall:7.2f} s wall "
                    f"{peak_kb / 1024:6.0f} MB  {lines} lines")
    return runs, results


# -- per-file worst case ------------------------------------------------------------------------


def per_file(python: Path, trees: list[BenchTree], repeats: int) -> list[FileCost]:
    paths, names = [], {}
    for tree in trees:
        bench_tree.clear_plugin_caches(tree.roots)
        for file in tree.files:
            path = str(tree.cwd / file)
            paths.append(path)
            names[path] = f"{tree.cwd.name}/{file}"
    say(f"per-file: {len(paths)} files, {repeats} repeats each (flake8 alone, then the plugin)")
    result = subprocess.run(
        [str(python), str(BENCHMARKS / "per_file_probe.py"), "--repeats", str(repeats)],
        input="\n".join(paths) + "\n", stdout=subprocess.PIPE, text=True, cwd=WORK,
        env=child_environment(),
    )
    if result.returncode != 0:
        raise SystemExit(f"per_file_probe.py failed (exit {result.returncode})")
    costs = []
    for line in result.stdout.splitlines():
        record = json.loads(line)
        costs.append(FileCost(names[record["path"]], record["lines"], record["flake8"],
                              record["plugin"]))
    return costs


# -- the parse floor -----------------------------------------------------------------------------


def parse_floor(python: Path, tree: BenchTree) -> bench_report.ParseFloor:
    """One more cold ``flaskleak check -j 1``, then ``ast.parse`` timed alone (in the plugin's
    Python, ``parse_floor_probe.py``) on the modules its index parsed that flake8 is not given,
    and on those with the checked files."""
    say("parse floor: a cold `flaskleak check -j 1`, then `ast.parse` of what its index parsed")
    bench_tree.clear_plugin_caches(tree.roots)
    check = bench_report.Run("floor", "", "plugin", "check", 1, True)
    timed_run(command_for(check, python, tree.files), tree.cwd, WORK / "output" / "floor.txt")
    parsed = bench_tree.modules_the_index_parsed(tree.roots)
    checked = {(tree.cwd / file).resolve() for file in tree.files}
    unchecked = [path for path in parsed if path.resolve() not in checked]
    everything = sorted({path.resolve() for path in parsed} | checked)
    unchecked_count, unchecked_seconds = parse_seconds(python, unchecked)
    everything_count, everything_seconds = parse_seconds(python, everything)
    return bench_report.ParseFloor(
        len(parsed), unchecked_count, unchecked_seconds, everything_count, everything_seconds
    )


def parse_seconds(python: Path, paths: list[Path]) -> tuple[int, float]:
    result = subprocess.run(
        [str(python), str(BENCHMARKS / "parse_floor_probe.py")],
        input="\n".join(str(path) for path in paths) + "\n", stdout=subprocess.PIPE,
        text=True, cwd=WORK, env=child_environment(),
    )
    if result.returncode != 0:
        raise SystemExit(f"parse_floor_probe.py failed (exit {result.returncode})")
    record = json.loads(result.stdout)
    return record["modules"], record["seconds"]


# -- command line -------------------------------------------------------------------------------


def parse_jobs(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {value!r}")
    if not counts or any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {value!r}")
    return list(dict.fromkeys(counts))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None,
                        help="measured rounds (default 5; 3 with --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first (default 1)")
    parser.add_argument("--jobs", type=parse_jobs, default=[1, 2], metavar="N[,N...]",
                        help="flake8 -j values to measure (default 1,2)")
    parser.add_argument("--only", action="extend", nargs="+", default=[], metavar="PACKAGE",
                        help="only these corpus packages (names as in corpus.py)")
    parser.add_argument("--sample", action="store_true",
                        help=f"every {bench_tree.SAMPLE_STEP}th file of the sorted list")
    parser.add_argument("--quick", action="store_true", help="--sample with 3 rounds")
    parser.add_argument("--tree", type=Path,
                        help="every .py file of this tree instead of the corpus")
    parser.add_argument("--per-file", action="store_true",
                        help="time each file alone: flake8's cost against the plugin's")
    parser.add_argument("--repeats", type=int, default=3,
                        help="--per-file: repeats per file, the minimum is kept (default 3)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"corpus download cache (default {DEFAULT_CACHE})")
    parser.add_argument("--rebuild", action="store_true", help="recreate the three venvs")
    return parser


def settings(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.sample = True
    if arguments.rounds is None:
        arguments.rounds = 3 if arguments.quick else 5
    if arguments.rounds < 1 or arguments.warmup < 0 or arguments.repeats < 1:
        parser.error("--rounds and --repeats must be at least 1, --warmup at least 0")
    if arguments.tree is not None:
        if arguments.only:
            parser.error("--only selects corpus packages; it cannot go with --tree")
        if not arguments.tree.is_dir():
            parser.error(f"--tree {arguments.tree}: not a directory")
    return arguments


def bench_tree_for(arguments: argparse.Namespace) -> BenchTree:
    if arguments.tree is not None:
        tree = bench_tree.user_tree(arguments.tree)
    else:
        say("corpus (files that import flask, quart or a flask_* package):")
        tree = bench_tree.corpus_tree(CORPUS, fetch, arguments.cache, WORK, arguments.only, say)
    if arguments.sample:
        tree = bench_tree.sampled(tree)
    if not tree.files:
        raise SystemExit("no file to lint")
    return tree


def caption(tree: BenchTree, lines: int, versions: str, arguments: argparse.Namespace) -> str:
    if arguments.per_file:
        method = f"per file, minimum of {arguments.repeats} repeats"
    else:
        method = f"{arguments.warmup} warm-up + {arguments.rounds} measured rounds, alternating"
    return (
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {len(tree.files)} files, {lines:,} lines "
        f"({tree.description}); {versions}; flake8-flaskleak at {repository_state()}; {method}"
    )


def main(argv: list[str] | None = None) -> int:
    arguments = settings(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    tree = bench_tree_for(arguments)
    lines = bench_tree.count_lines(tree.cwd / file for file in tree.files)
    say(f"tree: {len(tree.files)} files, {lines:,} lines ({tree.description}) in {tree.cwd}")
    needed = ("plugin",) if arguments.per_file else ("alone", "plugin", "bugbear")
    pythons = {name: ensure_environment(name, arguments.rebuild) for name in needed}
    for name, python in pythons.items():
        say(f"{name}: {flake8_versions(python)}")
    versions = ", ".join(pin.replace("==", " ") for pin in
                         ((FLAKE8,) if arguments.per_file else (FLAKE8, BUGBEAR)))

    if arguments.per_file:
        generated = bench_tree.generated_tree(WORK, GENERATED_SIZE)
        costs = per_file(pythons["plugin"], [tree, generated], arguments.repeats)
        always = [f"{generated.cwd.name}/{file}" for file in generated.files]
        print(caption(tree, lines, versions, arguments) + f"; plus {generated.description}")
        print()
        print(bench_report.per_file_report(costs, always))
        return 0

    runs, results = measure(pythons, tree, arguments.jobs, arguments.rounds, arguments.warmup)
    floor = parse_floor(pythons["plugin"], tree)
    rows = bench_report.summary_rows(results, arguments.jobs)
    rows += bench_report.floor_rows(floor, results, arguments.jobs)
    print(caption(tree, lines, versions, arguments))
    print()
    print(bench_report.medians_table(runs, results))
    print()
    print(bench_report.summary_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
