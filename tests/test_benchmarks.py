"""The pure parts of benchmarks/bench_flake8.py: which files it lints, the sample, what a round
runs and the tables it prints. Nothing here runs a benchmark, creates an environment or
downloads anything."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_flake8  # noqa: E402
import bench_report  # noqa: E402
import bench_tree  # noqa: E402
from bench_report import FileCost, Measurements  # noqa: E402


@pytest.mark.parametrize("source", [
    "import flask\n",
    "from flask import Flask\n",
    "import flask.views as views\n",
    "from flask_login import login_required\n",
    "import os, flask_sqlalchemy\n",
    "from quart import Quart\n",
    "def make_app():\n    from flask import Flask\n    return Flask(__name__)\n",
    # Python 2 does not parse: its import lines decide.
    'print "starting"\nfrom flask import Flask\n',
])
def test_modules_that_import_flask(source):
    assert bench_tree.imports_flask(source.encode())


@pytest.mark.parametrize("source", [
    "import os\n",
    "from .flask import helpers\n",  # the project's own module named flask
    "import flasky\nfrom flask_ import x\n",
    "from werkzeug import Request  # flask uses this\n",
    '"""How to use it:\n\nimport flask\n"""\n',
    'print "no flask here"\n',
])
def test_modules_that_do_not(source):
    assert not bench_tree.imports_flask(source.encode())


def test_flask_files_lists_only_the_importers(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "views.py").write_text("from flask import Blueprint\n")
    (tmp_path / "pkg" / "models.py").write_text("import sqlalchemy\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "stale.py").write_text("import flask\n")
    assert bench_tree.flask_files(tmp_path) == [tmp_path / "pkg" / "views.py"]


def test_sample_is_every_ninth_file_of_the_sorted_list():
    files = [f"pkg/m{number:02d}.py" for number in range(20)]
    chosen = bench_tree.sample(list(reversed(files)))
    assert chosen == ["pkg/m00.py", "pkg/m09.py", "pkg/m18.py"]
    assert bench_tree.sample(files) == chosen


def test_project_roots_are_the_nearest_marked_directories(tmp_path):
    for project in ("one", "two"):
        (tmp_path / project / "pkg").mkdir(parents=True)
        (tmp_path / project / "setup.cfg").write_text("")
        (tmp_path / project / "pkg" / "app.py").write_text("")
    paths = [tmp_path / "one" / "pkg" / "app.py", tmp_path / "two" / "pkg" / "app.py"]
    assert bench_tree.project_roots(paths) == ((tmp_path / "one").resolve(),
                                               (tmp_path / "two").resolve())


def test_generated_module_is_valid_python_of_the_size_asked():
    data = bench_tree.data_module(2_000, flask_tail=False)
    with_flask = bench_tree.data_module(2_000, flask_tail=True)
    assert len(data) >= 2_000
    ast.parse(data)
    ast.parse(with_flask)
    assert not bench_tree.imports_flask(data.encode())
    assert bench_tree.imports_flask(with_flask.encode())


def test_a_round_runs_warm_right_after_cold_and_rotates():
    units = bench_report.plan([1, 2])
    keys = [[run.key for run in unit] for unit in units]
    assert ["plugin-cold-j1", "plugin-warm-j1"] in keys
    assert ["plugin-cold-j2", "plugin-warm-j2"] in keys
    assert {"alone-j1", "alone-j2", "bugbear-j1", "check-j1", "check-j2"} <= {
        key for unit in keys for key in unit
    }
    assert all(run.cold == (run.key.startswith(("plugin-cold", "check"))) for unit in units
               for run in unit)
    assert bench_report.rotated(units, 1)[0] == units[1]
    assert bench_report.rotated(units, len(units)) == units


def measurements(cpu, wall=1.0, peak_kb=1024):
    return Measurements(cpu=[cpu, cpu + 1, cpu - 1], wall=[wall] * 3, peak_kb=[peak_kb] * 3)


def test_summary_rows_set_each_ratio_beside_its_goal():
    results = {
        "alone-j1": measurements(10.0, peak_kb=200 * 1024),
        "plugin-warm-j1": measurements(10.4),
        "plugin-cold-j1": measurements(12.0),
        "bugbear-j1": measurements(13.0),
        "check-j1": measurements(0.5, wall=4.0, peak_kb=100 * 1024),
        "check-j2": measurements(0.6, wall=2.0),
    }
    rows = {row.figure: row for row in bench_report.summary_rows(results, [1])}
    warm = rows["plugin / flake8 CPU, warm, -j1"]
    assert (warm.measured, warm.goal, warm.met) == ("1.04 (10.40 s / 10.00 s)", "≤ 1.05", "yes")
    assert rows["plugin / flake8 CPU, cold, -j1"].met == "no"
    assert rows["flake8-bugbear / flake8 CPU, -j1 (reference)"].met == ""
    check = rows["flake8 -j1 CPU / `flaskleak check -j 1` CPU, cold"]
    assert check.measured.startswith("20.00 ") and check.met == "yes"
    assert rows["`flaskleak check` wall time, -j 1 / -j 2"].measured.startswith("2.00 ")
    memory = rows["peak memory, `flaskleak check -j 1` / flake8 alone -j1"]
    assert (memory.measured, memory.met) == ("0.50 (100 MB / 200 MB)", "yes")


def test_render_table_is_markdown_and_escapes_pipes():
    table = bench_report.render_table(("a", "b"), [("x|y", "1")])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |"]


def test_per_file_report_lists_the_files_over_flake8_and_the_generated_ones():
    costs = [
        FileCost("a.py", 10, flake8=0.010, plugin=0.001),
        FileCost("b.py", 10, flake8=0.010, plugin=0.030),
        FileCost("big.py", 9_000, flake8=2.0, plugin=0.1),
    ]
    report = bench_report.per_file_report(costs, always=["big.py"], limit=1, at_least=1)
    assert "1 files where the plugin costs more than flake8" in report
    rows = [line for line in report.splitlines() if line.startswith("| ") and "file" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| b.py", "| big.py"]


def test_quick_means_the_sample_in_three_rounds():
    arguments = bench_flake8.settings(["--quick"])
    assert (arguments.sample, arguments.rounds, arguments.jobs) == (True, 3, [1, 2])
    assert bench_flake8.settings(["--jobs", "2,1,2"]).jobs == [2, 1]
    with pytest.raises(SystemExit):
        bench_flake8.settings(["--jobs", "0"])


def test_timed_run_counts_output_and_stops_on_a_crash(tmp_path):
    cpu, wall, peak_kb, lines = bench_flake8.timed_run(
        [sys.executable, "-c", "print('a.py:1:1: F401'); print('b.py:2:1: E501')"],
        tmp_path, tmp_path / "out.txt",
    )
    assert lines == 2 and cpu >= 0 and wall > 0 and peak_kb > 0
    crash = f"print({bench_flake8.FLAKE8_CRASH!r}); raise SystemExit(1)"
    with pytest.raises(SystemExit, match="failed"):
        bench_flake8.timed_run([sys.executable, "-c", crash], tmp_path, tmp_path / "out.txt")


def test_medians_table_has_a_row_per_run():
    runs = [run for unit in bench_report.plan([1]) for run in unit]
    results = {run.key: measurements(2.0, wall=3.0, peak_kb=2048) for run in runs}
    table = bench_report.medians_table(runs, results).splitlines()
    assert len(table) == 2 + len(runs)
    assert table[2] == "| flake8 alone, -j1 | 2.00 | 3.00 | 2 | 0 |"


def test_a_file_the_plugin_never_runs_on_costs_nothing():
    assert FileCost("skipped.py", 3, flake8=0.0, plugin=0.0).ratio == 0.0
    assert FileCost("tiny.py", 3, flake8=0.0, plugin=0.001).ratio == float("inf")


def test_modules_the_index_parsed_are_the_cache_entries_holding_facts(tmp_path):
    cache = tmp_path / "shop" / bench_tree.CACHE_DIRECTORY
    cache.mkdir(parents=True)
    (cache / "index-1.0-abc.json").write_text(json.dumps({
        "shop/views.py": {"size": 10, "mtime": 1, "hash": "h", "facts": {"calls": {}}},
        "shop/models.py": {"size": 10, "mtime": 1, "hash": "h", "facts": {}},
        "__reach__": {"listing": "x", "reached": []},
    }))
    (cache / "index-1.0-old.json").write_text("{ not json")
    parsed = bench_tree.modules_the_index_parsed([tmp_path / "shop"])
    assert parsed == [tmp_path / "shop" / "shop" / "views.py"]


def test_floor_rows_put_the_parse_cost_beside_flake8():
    results = {"alone-j1": measurements(10.0)}
    floor = bench_report.ParseFloor(
        parsed=120, unchecked=100, unchecked_seconds=2.5, everything=140, everything_seconds=4.0
    )
    cold, check = bench_report.floor_rows(floor, results, [1])
    assert cold.measured == "1.25 (12.50 s / 10.00 s)" and "100 other modules" in cold.figure
    assert check.measured == "2.50 (10.00 s / 4.00 s)" and "140 modules" in check.figure
    assert cold.goal == check.goal == ""


def test_parse_floor_probe_times_the_modules_that_parse(tmp_path):
    good, broken, deep = tmp_path / "good.py", tmp_path / "broken.py", tmp_path / "deep.py"
    good.write_text("def view():\n    return 'ok'\n")
    broken.write_text("def view(:\n")
    deep.write_text("total = " + " + ".join(["1"] * 3000) + "\n")  # the plugin parses it too
    probe = Path(__file__).resolve().parent.parent / "benchmarks" / "parse_floor_probe.py"
    result = subprocess.run(
        [sys.executable, str(probe), "--repeats", "2"], input=f"{good}\n{broken}\n{deep}\n",
        capture_output=True, text=True, check=True,
    )
    record = json.loads(result.stdout)
    assert record["modules"] == 2 and record["seconds"] >= 0
