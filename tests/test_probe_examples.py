"""`flaskleak probe` on the bundled examples, on SQLite with no other service: the leaky app's
static findings are confirmed by measurement, the clean app leaves nothing behind.

Small request counts keep this quick: the kinds checked here are exact counts (connections,
sessions, thread-local attributes, loggers, cache entries, container entries). Memory
flatness needs longer runs; the README shows the clean app at the default counts."""

from __future__ import annotations

import json

from probe_helpers import ROOT, run_probe

# One thread is enough for exact counts; no filling of bounded containers (memory only).
QUICK = ("--requests", "60", "--batches", "3", "--warmup", "20", "--threads", "1",
         "--fill-limit", "0", "--format", "json")
ROUTES = ("--route", "/api/*")


def probe_example(name: str) -> dict:
    result = run_probe("--seed", str(ROOT / "examples" / name / "probe.toml"), *ROUTES, *QUICK)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_leaky_example_confirms_its_findings():
    report = probe_example("leaky_app")
    confirmed = {(f["code"], f["path"].replace("\\", "/").rsplit("/", 1)[-1], f["line"])
                 for f in report["findings"] if f["status"] == "confirmed"}
    assert confirmed >= {
        ("FLK301", "api.py", 32),  # request_log grows
        ("FLK302", "api.py", 68),  # InventoryAPI.recently_viewed grows
        ("FLK304", "api.py", 22),  # shipping_zone's cache gains an entry per postcode
        ("FLK305", "api.py", 81),  # a logger per user
        ("FLK401", "api.py", 45),  # a pooled connection left checked out per request
        ("FLK202", "extensions.py", 24),  # read_session keeps its session
        ("FLK203", "glogger.py", 36),  # _local.trace_id stays on the thread
        ("FLK203", "glogger.py", 38),
    }
    for item in report["routes"]:
        assert not item["failing"], item


def test_clean_example_leaves_nothing_behind():
    report = probe_example("clean_app")
    assert report["findings"] == []
    for item in report["routes"]:
        assert not item["failing"], item
        left = {lead["kind"] for lead in item["leads"]} - {"memory"}
        assert left == set(), item
