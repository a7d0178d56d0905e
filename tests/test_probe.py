"""`flaskleak probe` as a command: loading apps, bad input, network blocking, reports; and
its building blocks (seed file, trend, address checks). Measurements: test_probe_measures.py."""

from __future__ import annotations

import json
import sys

import pytest

from flake8_flaskleak.probe.errors import ProbeError
from flake8_flaskleak.probe.loader import module_and_root, parse_expression, split_spec
from flake8_flaskleak.probe.netblock import NetworkGuard, NetworkBlockedError, is_local
from flake8_flaskleak.probe.seed import parse_seed, vary, vary_json
from flake8_flaskleak.probe.trend import grows, slope
from probe_helpers import APPS, SMALL, probe_json, route, run_probe


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("flaskleak probe: ")
    return lines[0]


# --- the command --------------------------------------------------------------------------


def test_help_says_it_imports_and_runs_the_app():
    result = run_probe("--help")
    assert result.returncode == 0
    assert "IMPORTS AND RUNS YOUR\nAPPLICATION" in result.stdout
    assert "Outgoing network connections\nare blocked" in result.stdout


def test_an_app_that_cannot_be_imported():
    line = one_line_error(run_probe("--app-dir", str(APPS), "--app", "no_such_module:app"))
    assert "cannot import 'no_such_module': ModuleNotFoundError" in line
    line = one_line_error(run_probe("--app-dir", str(APPS), "--app", "broken_import"))
    assert "flask_extension_that_does_not_exist" in line


def test_a_factory_that_raises():
    line = one_line_error(run_probe("--app-dir", str(APPS), "--app", "broken_factory"))
    assert line.endswith("broken_factory:create_app() raised RuntimeError: DATABASE_URL is not set")
    result = run_probe("--app-dir", str(APPS), "--app", "broken_factory:create_app('testing')")
    assert result.returncode == 0, result.stderr  # an app without routes: nothing to probe
    assert "0 routes" in result.stdout


def test_no_app_and_bad_seed_files(tmp_path):
    assert "no app given" in one_line_error(run_probe(cwd=tmp_path))
    seed = tmp_path / "probe.toml"
    seed.write_text("[probe]\nrequests = 'many'\n")
    assert "[probe] requests must be a int" in one_line_error(run_probe("--seed", str(seed)))
    seed.write_text("[[route]\n")
    assert "not valid TOML" in one_line_error(run_probe("--seed", str(seed)))


def test_outgoing_connection_names_the_route_and_the_address():
    line = one_line_error(run_probe("--app-dir", str(APPS), "--app", "network_app:app",
                                    "--route", "/fetch", *SMALL))
    assert "GET /fetch tried to connect to example.com:443" in line
    assert "--allow-network" in line


def test_a_swallowed_connection_error_still_stops_the_probe():
    line = one_line_error(run_probe("--app-dir", str(APPS), "--app", "network_app:app",
                                    "--route", "/quiet", *SMALL))
    assert "GET /quiet tried to connect to api.example.com:443" in line


def test_loopback_stays_allowed():
    code, report, stderr = probe_json("network_app:app", "--route", "/local")
    assert code == 0, stderr
    assert route(report, "GET /local")["statuses"] == {"200": 170}


def test_a_failing_route_is_reported_with_its_status():
    code, report, _ = probe_json("failing_app:app")
    assert code == 0
    broken = route(report, "GET /broken")
    assert broken["failing"] and broken["statuses"] == {"500": 170}
    assert broken["errors"] == ["LookupError: no such report"]
    assert not route(report, "GET /fine")["failing"]
    text = run_probe("--app-dir", str(APPS), "--app", "failing_app:app", "--route", "/broken",
                     "--requests", "9", "--warmup", "3", "--batches", "3", "--threads", "1",
                     "--no-static").stdout
    assert "FAILING: LookupError: no such report" in text
    assert "failing routes: GET /broken" in text


def test_sarif_lists_confirmed_findings_with_their_growth():
    result = run_probe("--app-dir", str(APPS), "--app", "leak_growth:app", *SMALL,
                       "--route", "/remember/*", "--format", "sarif")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == "2.1.0"
    [finding] = document["runs"][0]["results"]
    assert finding["ruleId"] == "FLK301"
    assert finding["locations"][0]["physicalLocation"]["region"]["startLine"] == 10
    assert "Confirmed by measurement: GET /remember/<name>: " in finding["message"]["text"]
    assert "memory tests/fixtures/probe/leak_growth.py:10: +" in finding["message"]["text"]


def test_the_pytest_fixture(flaskleak_probe):
    sys.path.insert(0, str(APPS))
    try:
        from leak_growth import app
    finally:
        sys.path.remove(str(APPS))
    report = flaskleak_probe(app, ["/remember/*", "/ping"], requests=60, warmup=10, batches=3)
    assert [r.label for r in report.growing(20)] == ["GET /remember/<name>"]
    with pytest.raises(AssertionError, match="memory grows per 1,000 requests on GET /remember"):
        report.assert_no_growth(max_growth_kib=20)
    assert [f.code for f in report.confirmed()] == ["FLK301"]


# --- building blocks ----------------------------------------------------------------------


def test_app_specs_like_flask():
    assert split_spec("pkg.wsgi:create_app('testing')") == ("pkg.wsgi", "create_app('testing')")
    assert split_spec("pkg.wsgi") == ("pkg.wsgi", None)
    assert parse_expression("create_app('testing', debug=False)") == (
        "create_app", ("testing",), {"debug": False}, True)
    assert parse_expression("application") == ("application", (), {}, False)
    with pytest.raises(ProbeError, match="literal arguments"):
        parse_expression("create_app(os.environ)")
    with pytest.raises(ProbeError, match="neither an attribute nor a factory call"):
        parse_expression("apps[0]")


def test_a_path_becomes_a_module_and_its_root(tmp_path):
    package = tmp_path / "shop" / "web"
    package.mkdir(parents=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "wsgi.py").write_text("")
    assert module_and_root("shop/web/wsgi.py", str(tmp_path)) == ("shop.web.wsgi", str(tmp_path))
    assert module_and_root("shop.web", str(tmp_path)) == ("shop.web", str(tmp_path))
    with pytest.raises(ProbeError, match="cannot find the app module"):
        module_and_root("shop/missing.py", str(tmp_path))


def test_seed_values_change_per_request():
    seed = parse_seed({"route": [{"rule": "/x/<id>", "args": {"id": [1, 2]},
                                  "query": {"q": "v{n}"}, "json": {"tags": ["a", "{n}"]}}]})
    entry = seed.routes[0]
    assert [vary(entry.args["id"], n) for n in range(3)] == [1, 2, 1]
    assert vary(entry.query["q"], 7) == "v7"
    assert vary_json(entry.json, 3) == {"tags": ["a", "3"]}
    with pytest.raises(ProbeError, match="unknown key 'bodyy'"):
        parse_seed({"route": [{"rule": "/x", "bodyy": "?"}]})
    with pytest.raises(ProbeError, match="only one of json, data and body"):
        parse_seed({"route": [{"rule": "/x", "json": {}, "body": ""}]})


def test_growth_is_a_steady_trend():
    xs = [0, 100, 200, 300, 400]
    assert slope(xs, [0, 1, 2, 3, 4]) == pytest.approx(0.01)
    assert grows(xs, [0, 10, 20, 30, 40], floor_per_thousand=8)
    assert not grows(xs, [0, 30, 40, 40, 40], floor_per_thousand=8)  # filled up, then flat
    assert not grows(xs, [0, 20, 5, 25, 10], floor_per_thousand=8)  # sawtooth
    assert not grows(xs, [0, 1, 2, 3, 4], floor_per_thousand=20)  # below the floor


def test_network_guard_allows_only_local_addresses():
    assert is_local("127.0.0.1") and is_local("::1") and is_local("localhost")
    assert is_local(None) and not is_local("10.0.0.1") and not is_local("example.com")
    import socket

    with NetworkGuard() as guard:
        guard.where = "GET /x"
        with pytest.raises(NetworkBlockedError):
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        with pytest.raises(NetworkBlockedError):
            socket.getaddrinfo("example.org", 443)
    assert [(a.where, a.address) for a in guard.attempts] == [
        ("GET /x", "192.0.2.1:80"), ("GET /x", "example.org:443")]
    assert socket.create_connection.__module__ == "socket"  # restored


def test_config_object_is_applied_after_the_factory(tmp_path):
    (tmp_path / "configured.py").write_text(
        "from flask import Flask\n\n\n"
        "class ProbeConfig:\n    GREETING = 'hello'\n\n\n"
        "def create_app():\n    app = Flask(__name__)\n\n"
        "    @app.route('/greet')\n    def greet():\n"
        "        return app.config['GREETING']  # a KeyError (500) without the config object\n\n"
        "    return app\n"
    )
    arguments = ("--app-dir", str(tmp_path), "--app", "configured:create_app()",
                 "--requests", "6", "--warmup", "2", "--batches", "3", "--threads", "1",
                 "--no-static", "--format", "json")
    with_config = run_probe(*arguments, "--config-object", "configured.ProbeConfig")
    assert json.loads(with_config.stdout)["routes"][0]["statuses"] == {"200": 8}
    without = run_probe(*arguments)
    assert json.loads(without.stdout)["routes"][0]["errors"] == ["KeyError: 'GREETING'"]
    line = one_line_error(run_probe(*arguments, "--config-object", "configured.Missing"))
    assert "'configured' has no 'Missing'" in line
