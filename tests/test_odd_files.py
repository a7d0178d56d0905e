"""Odd files through ``flaskleak check``, ``flaskleak fix`` and the real flake8, in subprocesses.

tests/test_cli.py already covers, one tool at a time: a syntax error and undecodable bytes
(check), an empty file, null bytes, Python 2 and BOM/CRLF files (check), the bytes a fix keeps
(CRLF, BOM, latin-1, tabs, file mode) and symlinks fixed in their target. Here the same kinds
of file (and form feeds, a directory named ``x.py``, an unreadable file, a 5 MB generated file,
files outside the paths given) go through all three front ends in one tree, so one odd file
cannot take the run down or hide the findings of the others.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flake8_run import assert_no_traceback, parse_output, run_flake8

TEARDOWN_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.teardown_appcontext
def shutdown_session(exc):
    close_things()
'''
FIXED_BODY = "try:"


def flaskleak(*arguments: str, cwd: Path, preexec_fn=None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec_fn,
    )
    assert_no_traceback(result)
    return result


def flake8(*arguments: str, cwd: Path, preexec_fn=None) -> subprocess.CompletedProcess:
    if preexec_fn is None:
        result = run_flake8(*arguments, cwd=cwd)
    else:
        result = subprocess.run(
            [sys.executable, "-m", "flake8", *arguments],
            cwd=cwd, capture_output=True, text=True, timeout=300, preexec_fn=preexec_fn,
        )
    assert_no_traceback(result)
    return result


def findings(stdout: str, code: str = "FLK201") -> set[tuple[str, int, int]]:
    parsed = parse_output(stdout)
    return {(path, line, col) for path, line, col, found, _ in parsed if found == code}


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.is_symlink() and ".flaskleak_cache" not in path.parts
    }


# --- one tree of odd files ------------------------------------------------------------------

# file -> where FLK201 is reported (1-based column, as flake8 prints it)
EXPECTED = {
    "bom.py": (8, 5),
    "latin1.py": (9, 5),  # the coding cookie is line 1
    "crlf.py": (8, 5),
    "page_breaks.py": (8, 5),
    "formfeed_indent.py": (8, 6),  # the form feed is a character of the line
    "tabs.py": (8, 2),
    "x.py/inner.py": (8, 5),
}


@pytest.fixture
def odd_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "src"
    tree.mkdir()
    (tree / "bom.py").write_bytes(b"\xef\xbb\xbf" + TEARDOWN_APP.encode())
    (tree / "latin1.py").write_bytes(
        ("# -*- coding: latin-1 -*-\n" + TEARDOWN_APP + "# d\u00e9j\u00e0 vu\n").encode("latin-1")
    )
    (tree / "crlf.py").write_bytes(TEARDOWN_APP.replace("\n", "\r\n").encode())
    # page breaks on their own lines, as Emacs users write them
    (tree / "page_breaks.py").write_bytes(
        TEARDOWN_APP.replace("\n\n\n@", "\n\f\n\f\n@").encode()
    )
    # a form feed before indented code: Python ignores it, libcst cannot keep it
    (tree / "formfeed_indent.py").write_bytes(
        TEARDOWN_APP.replace("    close_things", "\f    close_things").encode()
    )
    (tree / "tabs.py").write_bytes(TEARDOWN_APP.replace("    ", "\t").encode())
    (tree / "empty.py").write_bytes(b"")
    (tree / "nulls.py").write_bytes(b"from flask import Flask\nx = 1\x00\n")
    (tree / "x.py").mkdir()  # a directory whose name ends in .py is walked, not read
    (tree / "x.py" / "inner.py").write_text(TEARDOWN_APP)
    (tree / "real").mkdir()
    (tree / "real" / "target.py").write_text(TEARDOWN_APP.replace("close_things", "close_other"))
    if hasattr(os, "symlink"):
        (tree / "link.py").symlink_to(tree / "real" / "target.py")
    return tree


def test_odd_files_are_checked_alike_by_flaskleak_and_flake8(odd_tree):
    expected = {(f"src/{name}", line, col) for name, (line, col) in EXPECTED.items()}
    linked = {("src/link.py", 8, 5), ("src/real/target.py", 8, 5)}

    result = flaskleak("check", "src", cwd=odd_tree.parent)
    assert result.returncode == 2, result.stderr  # nulls.py does not parse; the run goes on
    assert "src/nulls.py:" in result.stderr and "E999" in result.stderr
    reported = findings(result.stdout)
    assert reported - linked == expected
    assert len(reported & linked) == 1  # the link and its target are one file, reported once

    result = flake8("--select", "FLK,E9", "src", cwd=odd_tree.parent)
    assert result.returncode == 1
    assert findings(result.stdout) - linked == expected
    assert findings(result.stdout) & linked  # flake8 reports through the link itself
    assert ("src/nulls.py", 1) in {(p, line) for p, line, _, code, _ in parse_output(
        result.stdout) if code == "E999"}
    assert "src/empty.py" not in result.stdout


def test_odd_files_fixed_byte_for_byte_and_only_once(odd_tree):
    before = snapshot(odd_tree)
    result = flaskleak("fix", "--diff", "--unsafe-fixes", "src", cwd=odd_tree.parent)
    assert result.returncode == 2, result.stderr
    assert snapshot(odd_tree) == before
    assert "src/formfeed_indent.py: libcst cannot parse this file" in result.stderr
    for name in ("bom.py", "latin1.py", "crlf.py", "page_breaks.py", "tabs.py", "x.py/inner.py"):
        assert f"+++ b/src/{name}\n" in result.stdout, name

    result = flaskleak("fix", "--unsafe-fixes", "src", cwd=odd_tree.parent)
    assert result.returncode == 2, result.stderr
    after = snapshot(odd_tree)
    for name in ("bom.py", "latin1.py", "crlf.py", "page_breaks.py", "tabs.py", "x.py/inner.py",
                 "real/target.py"):
        assert after[name][0] != before[name][0], name
    for name in ("formfeed_indent.py", "empty.py", "nulls.py"):
        assert after[name] == before[name], name
    assert after["bom.py"][0].startswith(b"\xef\xbb\xbf") and b"\r" not in after["bom.py"][0]
    assert after["latin1.py"][0].endswith(b"d\xe9j\xe0 vu\n")
    assert after["crlf.py"][0].count(b"\n") == after["crlf.py"][0].count(b"\r\n")
    assert after["page_breaks.py"][0].count(b"\f\n") == 2
    assert b"\ttry:\n\t\tclose_things()" in after["tabs.py"][0]
    if hasattr(os, "symlink"):
        assert (odd_tree / "link.py").is_symlink()
    assert sorted(p.name for p in odd_tree.iterdir() if p.name.startswith(".")) == []

    # a second run changes nothing; what is left is what could not be fixed
    assert flaskleak("fix", "--unsafe-fixes", "src", cwd=odd_tree.parent).returncode == 2
    assert snapshot(odd_tree) == after
    result = flake8("--select", "FLK", "src", cwd=odd_tree.parent)
    assert findings(result.stdout) == {("src/formfeed_indent.py", 8, 6)}
    result = flaskleak("check", "src", cwd=odd_tree.parent)
    assert findings(result.stdout) == {("src/formfeed_indent.py", 8, 6)}


# --- a file nobody can read ----------------------------------------------------------------


def _drop_read_override() -> None:
    """In the child: give up root's power to read any file (CAP_DAC_OVERRIDE/READ_SEARCH)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def unreadable_runner(path: Path):
    """How to run a child process that cannot read ``path`` (mode 000), or skip the test.

    Root reads a mode-000 file anyway; on Linux the child can drop that capability, which
    makes the file as unreadable for it as for any user. Where that is impossible the test is
    skipped rather than asserting something that did not happen.
    """
    preexec = _drop_read_override if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    probe = [sys.executable, "-c", f"open({str(path)!r}, 'rb').read()"]
    try:
        readable = subprocess.run(probe, capture_output=True, preexec_fn=preexec).returncode == 0
    except (OSError, subprocess.SubprocessError):
        readable = True
    if readable:
        pytest.skip("cannot make a file unreadable here (root without a way to drop "
                    "CAP_DAC_OVERRIDE): chmod 000 does not stop root from reading")
    return preexec


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unreadable_file_is_named_and_the_run_goes_on(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "svc"\n')  # project analysis on
    (tmp_path / "app.py").write_text(TEARDOWN_APP)
    secret = tmp_path / "secret.py"
    secret.write_text(TEARDOWN_APP)
    secret.chmod(0o000)
    try:
        preexec = unreadable_runner(secret)

        result = flaskleak("check", ".", cwd=tmp_path, preexec_fn=preexec)
        assert result.returncode == 2
        assert "secret.py:1:1: E902 PermissionError" in result.stderr, result.stderr
        assert findings(result.stdout) == {("app.py", 8, 5)}

        result = flake8("--select", "FLK,E902", ".", cwd=tmp_path, preexec_fn=preexec)
        assert re.search(r"secret\.py:\d+:\d+: E902 PermissionError", result.stdout), result.stdout
        assert findings(result.stdout) == {("app.py", 8, 5)}

        result = flaskleak("fix", "--unsafe-fixes", ".", cwd=tmp_path, preexec_fn=preexec)
        assert result.returncode == 2
        assert "secret.py:1:1: E902 PermissionError" in result.stderr
        assert FIXED_BODY in (tmp_path / "app.py").read_text()
    finally:
        secret.chmod(0o644)
    assert secret.read_text() == TEARDOWN_APP


# --- a 5 MB generated file -------------------------------------------------------------------

GENERATED_ROUTE = '''
@app.route("/items/{n}")
def item_{n}():
    """Generated handler {n}."""
    value = request.args.get("q", "{n}")
    total = sum(int(part) for part in value.split(",") if part.isdigit())
    return {{"item": {n}, "total": total}}

'''
GENERATED_TAIL = '''
@app.route("/log")
def log():
    request_log.append(request.path)
    return "ok"


@app.teardown_appcontext
def shutdown_session(exc):
    close_things()
'''


def generated_module(size: int) -> bytes:
    parts = ["from flask import Flask, request\n\napp = Flask(__name__)\nrequest_log = []\n\n"]
    total, n = len(parts[0]), 0
    while total < size:
        parts.append(GENERATED_ROUTE.format(n=n))
        total += len(parts[-1])
        n += 1
    parts.append(GENERATED_TAIL)
    return "".join(parts).encode()


def test_a_5_mb_generated_file(tmp_path):
    """Analysed completely; too large to rewrite, so ``fix`` says so and leaves it alone
    (libcst would need minutes). ``fix`` prints what is left, so one run shows both; real
    flake8 gets a 1 MB cut, as on 5 MB its own checks (pycodestyle) take a minute or more.
    About 30 s on one quiet core, mostly ``ast.parse`` and the Flask model."""
    path = tmp_path / "generated.py"
    path.write_bytes(generated_module(5 * 1024 * 1024))
    lines = path.read_bytes().count(b"\n")
    before = path.read_bytes()
    result = flaskleak("fix", "--unsafe-fixes", "generated.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # findings left
    assert "generated.py: not fixed: larger than 2 MB" in result.stderr
    assert path.read_bytes() == before
    assert {(p, line, col, code) for p, line, col, code, _ in parse_output(result.stdout)} == {
        ("generated.py", lines - 6, 5, "FLK301"),
        ("generated.py", lines, 5, "FLK201"),
    }

    path.write_bytes(generated_module(1024 * 1024))
    lines = path.read_bytes().count(b"\n")
    result = flake8("--select", "FLK", "generated.py", cwd=tmp_path)
    assert {(p, line, col, code) for p, line, col, code, _ in parse_output(result.stdout)} == {
        ("generated.py", lines - 6, 5, "FLK301"),
        ("generated.py", lines, 5, "FLK201"),
    }


# --- files outside the paths given -----------------------------------------------------------


def test_files_outside_the_paths_given_are_never_written(tmp_path):
    """Whole-project analysis reads the other modules; fixing one file writes only that file."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "svc"\n')
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "__init__.py").write_text("")
    (tmp_path / "svc" / "app.py").write_text(TEARDOWN_APP)
    (tmp_path / "svc" / "helpers.py").write_text(TEARDOWN_APP)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "jobs.py").write_text(TEARDOWN_APP)
    if hasattr(os, "symlink"):  # a directory link inside the tree that leads out of it
        (tmp_path / "svc" / "vendored").symlink_to(tmp_path / "other", target_is_directory=True)
    before = snapshot(tmp_path)

    result = flaskleak("fix", "--unsafe-fixes", "svc/app.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = snapshot(tmp_path)
    assert FIXED_BODY in (tmp_path / "svc" / "app.py").read_text()
    assert {name for name in after if after[name] != before.get(name)} == {"svc/app.py"}

    result = flaskleak("fix", "--unsafe-fixes", "svc", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "other" / "jobs.py").read_text() == TEARDOWN_APP
    assert FIXED_BODY in (tmp_path / "svc" / "helpers.py").read_text()
