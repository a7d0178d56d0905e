"""Running `flaskleak probe` on the fixture apps in tests/fixtures/probe, in a subprocess
(each probe imports an app, patches a few stdlib hooks and may leave threads behind)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "fixtures" / "probe"
# Small counts keep the suite fast; the trend still needs a few batches per phase.
SMALL = ("--requests", "75", "--warmup", "10", "--batches", "3", "--threads", "2")
# SQLite keeps a weak reference per cursor and prunes the list every 200 cursors: a window
# shorter than that sees a steady climb (the default of 500 requests sees the sawtooth).
SQLITE = ("--requests", "240")


def run_probe(*arguments: str, cwd: Path = ROOT, timeout: int = 240):
    environment = dict(os.environ, MPLBACKEND="Agg", FLASKLEAK_STRICT="1")
    return subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", "probe", *arguments],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
    )


def probe_arguments(app: str, *extra: str) -> list[str]:
    return ["--app-dir", str(APPS), "--app", app, *SMALL, "--format", "json", *extra]


_queued: list[tuple[str, ...]] = []
_started: dict[tuple[str, ...], subprocess.Popen] = {}
AT_ONCE = 2  # the machine has two cores


def start_probes(runs: list[tuple[str, ...]]) -> None:
    """Queue probe runs to go in the background, two at a time: ``probe_json`` then waits
    for its run (and starts the next queued one) instead of running it itself."""
    _queued.extend(run for run in runs if run not in _queued and run not in _started)
    _start_more()


def stop_probes() -> None:
    """End the runs no test waited for (a -k selection), and forget the queue."""
    _queued.clear()
    for process in _started.values():
        if process.poll() is None:
            process.kill()
        process.communicate()
    _started.clear()


def _start_more() -> None:
    while _queued and sum(p.poll() is None for p in _started.values()) < AT_ONCE:
        run = _queued.pop(0)
        _started[run] = subprocess.Popen(
            [sys.executable, "-m", "flake8_flaskleak", "probe", *probe_arguments(*run)],
            cwd=ROOT, env=dict(os.environ, MPLBACKEND="Agg", FLASKLEAK_STRICT="1"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )


@lru_cache(maxsize=None)
def probe_json(app: str, *extra: str) -> tuple[int, dict, str]:
    """(exit code, JSON report, stderr) of probing a fixture app, once per test session."""
    run = (app, *extra)
    if run in _queued:
        _queued.remove(run)
    started = _started.pop(run, None)
    if started is not None:
        stdout, stderr = started.communicate(timeout=300)
        returncode = started.returncode
        _start_more()
    else:
        result = run_probe(*probe_arguments(app, *extra))
        stdout, stderr, returncode = result.stdout, result.stderr, result.returncode
    assert "Traceback" not in stderr, stderr
    report = json.loads(stdout) if stdout.strip() else {}
    return returncode, report, stderr


def route(report: dict, label: str) -> dict:
    for item in report["routes"]:
        if item["route"] == label:
            return item
    raise AssertionError(f"no route {label!r} in {[r['route'] for r in report['routes']]}")


def kinds(route_report: dict) -> set[str]:
    """The kinds of measurement that found something: in findings' evidence or as leads."""
    found = {item["kind"] for finding in route_report["findings"] for item in finding["evidence"]}
    return found | {item["kind"] for item in route_report["leads"]}


def finding(route_report: dict, code: str, line: int) -> dict:
    for item in route_report["findings"]:
        if item["code"] == code and item["line"] == line:
            return item
    raise AssertionError(f"no {code} at line {line}: {route_report['findings']}")
