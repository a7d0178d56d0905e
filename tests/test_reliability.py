"""Never hang, never go silently green (issue 12, items 1, 2, 4 and 11), through the real front
ends: ``flaskleak`` and ``flake8`` in subprocesses, each with a timeout, so a regression shows
as a failure rather than a stuck test run.

The poisoned project holds modules the project index meets while answering cross-module
questions about the clean ones: a FIFO named ``*.py`` (opening it blocks for ever), a ``*.py``
symlink to ``/dev/zero`` (reading it never ends) and a generated module with a 3,000-term
expression (``RecursionError`` at Python's default recursion limit), and a Python 2 module that
does not parse. Whatever the index does
with them, the clean modules' findings must be exactly those of the same project without them.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flake8_run import parse_output
from markers import FIXTURES, expected_findings

from flake8_flaskleak.engine import RULES_BY_CODE

TIMEOUT = 120  # seconds: far above what any of these runs needs; a hang fails the test

APP = '''\
import threading

from flask import Flask, request

from svc.helpers import remember

app = Flask(__name__)
state = threading.local()


@app.route("/")
def index():
    state.user = request.args.get("user")
    remember(request.path)
    return "ok"


@app.teardown_appcontext
def shutdown_session(exc):
    close_things()
'''
HELPERS = '''\
request_log = []


def remember(path):
    request_log.append(path)
'''


def generated_module(terms: int) -> str:
    """A generated module CPython accepts, deep enough to break a recursive walk at the
    default limit, that mentions what makes the project index parse it (a route, a
    thread-local) and holds a finding of its own."""
    return (
        "import threading\n\nfrom flask import Flask, request\n\n"
        "app = Flask(__name__)\nlocal = threading.local()\nseen = []\n"
        f"TABLE = {' + '.join(['1'] * terms)}\n\n\n"
        '@app.route("/generated")\ndef generated():\n    seen.append(request.path)\n'
        '    return "ok"\n'
    )


def clean_environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("FLASKLEAK_STRICT", None)  # as users run it: errors reported, not raised
    return environment


def run(*command: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *command], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
        env=kwargs.pop("env", clean_environment()), **kwargs,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def flaskleak(*arguments: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return run("-m", "flake8_flaskleak", *arguments, cwd=cwd, **kwargs)


def flake8(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return run("-m", "flake8", "--select", "FLK,E9", *arguments, cwd=cwd)


def findings(stdout: str) -> set[tuple[str, int, int, str]]:
    return {(path, line, col, code) for path, line, col, code, _ in parse_output(stdout)}


@pytest.fixture
def service(tmp_path: Path) -> Path:
    root = tmp_path / "service"
    (root / "svc").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "svc"\n')
    (root / "svc" / "__init__.py").write_text("")
    (root / "svc" / "app.py").write_text(APP)
    (root / "svc" / "helpers.py").write_text(HELPERS)
    return root


def poison(root: Path) -> list[str]:
    """Add the poisoned modules; returns their paths as the notices name them."""
    (root / "svc" / "generated.py").write_text(generated_module(3000))
    (root / "svc" / "legacy.py").write_text('@app.route("/old")\ndef old():\n    print "hi"\n')
    added = []
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "svc" / "pipe.py")
        added.append("pipe.py")
    if os.path.exists("/dev/zero"):
        (root / "svc" / "zeros.py").symlink_to("/dev/zero")
        added.append("zeros.py")
    return added


CHECKED = ("svc/app.py", "svc/helpers.py")


def test_a_poisoned_module_never_hangs_nor_changes_another_files_findings(service):
    clean_check = flaskleak("check", *CHECKED, cwd=service)
    clean_flake8 = flake8(*CHECKED, cwd=service)
    expected = findings(clean_check.stdout)
    assert {code for *_, code in expected} >= {"FLK201", "FLK203", "FLK301"}, clean_check.stdout
    assert findings(clean_flake8.stdout) == expected

    skipped = poison(service)
    for arguments in (CHECKED, ("--no-cache", *CHECKED), ("-j", "2", *CHECKED)):
        result = flaskleak("check", *arguments, cwd=service)
        assert result.returncode == 1, result.stderr
        assert findings(result.stdout) == expected, result.stderr
        for name in skipped:  # named once, as what it is
            notices = [line for line in result.stderr.splitlines() if name in line]
            assert len(notices) == 1 and "not a regular file" in notices[0], result.stderr
        [legacy] = [line for line in result.stderr.splitlines() if "legacy.py" in line]
        assert "left out of the project index: E999 SyntaxError" in legacy
        assert "internal error" not in result.stderr and "generated.py" not in result.stderr

    result = flake8(*CHECKED, cwd=service)
    assert result.returncode == 1
    assert findings(result.stdout) == expected, result.stdout + result.stderr
    assert "internal error" not in result.stderr and "FLK900" not in result.stdout

    result = flaskleak("fix", "--diff", "--unsafe-fixes", "svc/app.py", cwd=service)
    assert result.returncode == 1 and "+++ b/svc/app.py" in result.stdout, result.stderr


def test_walking_a_tree_with_a_fifo_and_a_device_skips_and_names_them(service):
    skipped = poison(service)
    result = flaskleak("check", ".", cwd=service)
    assert result.returncode == 2, result.stderr  # legacy.py: its own E999
    assert re.search(r"^svc/legacy\.py:3:\d+: E999 SyntaxError", result.stderr, re.M)
    for name in skipped:
        assert re.search(rf"svc/{name}: skipped: not a regular file", result.stderr), result.stderr
    result = flaskleak("check", *(f"svc/{name}" for name in skipped), cwd=service)
    assert result.returncode == 2
    for name in skipped:
        assert f"svc/{name}:1:1: E902 not a regular file" in result.stderr, result.stderr


def test_deep_generated_code_is_analysed(tmp_path):
    """A 3,000-term expression (and a 15,000-term one): parsed and walked, its finding found."""
    for terms in (3000, 15000):
        (tmp_path / "generated.py").write_text(generated_module(terms))
        result = flaskleak("check", "generated.py", cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert [code for *_, code in findings(result.stdout)] == ["FLK301"], result.stdout


def test_code_nested_beyond_any_stack_is_that_files_own_e999(tmp_path):
    (tmp_path / "app.py").write_text(APP.replace("from svc.helpers import remember\n", ""))
    (tmp_path / "abyss.py").write_text("x = " + "-" * 200_000 + "1\n")
    result = flaskleak("check", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert re.search(r"^abyss\.py:\d+:\d+: E999 ", result.stderr, re.M), result.stderr
    assert re.search(r"^app\.py:\d+:5: FLK201", result.stdout, re.M), result.stdout


# --- internal errors ----------------------------------------------------------------------------

CRASH = """\
import sys
from flake8_flaskleak.engine import RULES_BY_CODE

def crash(self):
    raise RecursionError("maximum recursion depth exceeded (injected)")

RULES_BY_CODE["FLK203"].check = crash
"""


def with_crashing_flk203(entry: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real entry point, with FLK203 replaced by one that raises: a stand-in for any bug."""
    program = CRASH + f"from {entry} import main\nsys.exit(main({list(arguments)!r}))\n"
    return subprocess.run(
        [sys.executable, "-c", program], cwd=cwd, capture_output=True, text=True,
        timeout=TIMEOUT, env=clean_environment(),
    )


def test_an_internal_error_fails_both_front_ends(service):
    assert "FLK203" in RULES_BY_CODE
    result = with_crashing_flk203("flake8_flaskleak.cli", "check", "svc/app.py", cwd=service)
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.search(
        r"^svc/app\.py:1:1: FLK900 internal error in FLK203: RecursionError: .*please report",
        result.stderr, re.M,
    ), result.stderr
    assert "FLK201" in result.stdout  # the other rules still ran
    assert "Traceback" not in result.stderr

    for arguments in (["fix", "--diff", "svc/app.py"], ["check", "--fix", "svc/app.py"]):
        result = with_crashing_flk203("flake8_flaskleak.cli", *arguments, cwd=service)
        assert result.returncode == 2 and "FLK900" in result.stderr, result.stderr

    result = with_crashing_flk203(
        "flake8.main.cli", "--select", "FLK", "svc/app.py", cwd=service
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(
        r"^svc/app\.py:1:1: FLK900 internal error in FLK203: RecursionError", result.stdout, re.M
    ), result.stdout
    assert "FLK201" in result.stdout


def test_the_internal_error_fixture_gets_exactly_its_marked_findings(tmp_path):
    """flake8 on a fixture tree, FLK203 broken: FLK900 on line 1 and the other rules' findings,
    as the fixture's markers say."""
    root = tmp_path / "internal_error"
    shutil.copytree(FIXTURES / "internal_error", root)
    result = with_crashing_flk203("flake8.main.cli", "--select", "FLK", "svc/app.py", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    found = {(line, code) for _, line, _, code, _ in parse_output(result.stdout)}
    assert found == expected_findings(root / "svc" / "app.py")


# --- resource bounds ----------------------------------------------------------------------------


def data_module(size: int) -> str:
    row = "    ({0}, 'sku-{0}', 'A product description that is not short', {0}.5),\n"
    parts, total, n = ["CATALOGUE = [\n"], 0, 0
    while total < size:
        parts.append(row.format(n))
        total += len(parts[-1])
        n += 1
    parts.append("]\n")
    return "".join(parts)


def _limit_memory() -> None:  # in the child: 1.5 GB of address space
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024, 1536 * 1024 * 1024))


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as a memory cap")
def test_a_large_data_module_is_gated_on_text_not_parsed(tmp_path):
    """22 MB of data and no Flask code: parsing it would need gigabytes; it is read, found to
    hold no trigger, and skipped, by both commands, in a process capped at 1.5 GB."""
    (tmp_path / "catalogue.py").write_text(data_module(22 * 1024 * 1024))
    (tmp_path / "app.py").write_text(APP.replace("from svc.helpers import remember\n", ""))
    for command in (["check", "."], ["fix", "--diff", "--unsafe-fixes", "."]):
        result = flaskleak(*command, cwd=tmp_path, preexec_fn=_limit_memory)
        assert result.returncode == 1, result.stderr
        assert "catalogue.py" not in result.stdout + result.stderr
        assert re.search(r"^(app\.py:\d+:5: FLK201|\+\+\+ b/app\.py)", result.stdout, re.M)


# --- syntax of a newer Python -------------------------------------------------------------------

NEWER_SYNTAX = [
    ("type Vector = list[float]\n", (3, 12)),
    ("def first[T](items: list[T]) -> T:\n    return items[0]\n", (3, 12)),
    ("class Box[T]:\n    pass\n", (3, 12)),
    ("names = ['a']\nx = f\"{', '.join(names)}\"\ny = f\"{\"nested\"}\"\n", (3, 12)),
    ("x = f\"{'\\n'.join([])}\"\n", (3, 12)),
    ("name = 'world'\ngreeting = t'hello {name}'\n", (3, 14)),
]


@pytest.mark.parametrize("source, needed", NEWER_SYNTAX)
def test_the_e999_of_newer_syntax_names_the_python_it_needs(tmp_path, source, needed):
    (tmp_path / "modern.py").write_text(source)
    result = flaskleak("check", "modern.py", cwd=tmp_path)
    if sys.version_info[:2] >= needed:  # this interpreter reads it: no error at all
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert re.search(
        rf"^modern\.py:\d+:\d+: E999 SyntaxError: .* \(this syntax needs Python "
        rf"{needed[0]}\.{needed[1]}; flaskleak is running on Python {re.escape(running)}\)$",
        result.stderr, re.M,
    ), result.stderr


def test_plain_syntax_errors_do_not_blame_the_python_version(tmp_path):
    (tmp_path / "broken.py").write_text("def broken(:\n    pass\nprint 'hello'\n")
    result = flaskleak("check", "broken.py", cwd=tmp_path)
    assert result.returncode == 2 and "E999 SyntaxError" in result.stderr
    assert "needs Python" not in result.stderr
