"""``flaskleak check --add-noqa`` (adopting on a legacy codebase) and stale ``# noqa`` (FLK000)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from markers import FIXTURES

from flake8_flaskleak.finding import Finding
from flake8_flaskleak.noqa import add_noqa_lines, add_noqa_to_source, stale_noqa

NOQA_FIXTURES = FIXTURES / "noqa"


def run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def flaskleak(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return run("-m", "flake8_flaskleak", *arguments, cwd=cwd)


def legacy_tree(tmp_path: Path) -> Path:
    """The legacy shop, with its views in CRLF line endings."""
    tree = tmp_path / "legacy_shop"
    shutil.copytree(NOQA_FIXTURES / "legacy_shop", tree)
    views = tree / "shop" / "views.py"
    views.write_bytes(views.read_bytes().replace(b"\n", b"\r\n"))
    return tree


def test_add_noqa_then_check_is_clean_and_flake8_agrees(tmp_path):
    tree = legacy_tree(tmp_path)
    before = flaskleak("check", ".", cwd=tree)
    assert before.returncode == 1 and len(before.stdout.splitlines()) == 7, before.stdout
    settings_before = (tree / "shop" / "settings.py").read_bytes()

    result = flaskleak("check", "--add-noqa", ".", cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "added noqa to 7 lines in 3 files" in result.stderr

    views = (tree / "shop" / "views.py").read_bytes()
    assert views.count(b"\n") == views.count(b"\r\n")  # line endings kept
    assert (
        b"    recent_searches.append(term)  # noqa: E501,FLK301 (kept short on purpose"
        in views
    )
    assert b"    template = open(\"templates/export_header.csv\")  # noqa: FLK402\r\n" in views
    # a finding on a line a multi-line string joins: the comment goes where flake8 reads it
    assert b'    recent_searches.append("""feedback:\r\n' in views
    assert b'%s""" % request.form.get("text", ""))  # noqa: FLK301\r\n' in views
    assert b"    recent_searches.extend(  # noqa: FLK301\r\n" in views
    assert b"getlist(\"note\")); return jsonify(ok=True)  # noqa: FLK301\r\n" in views
    settings = (tree / "shop" / "settings.py").read_bytes()
    assert settings == settings_before.replace(
        b"RECORD_QUERIES = True\n", b"RECORD_QUERIES = True  # noqa: FLK101\n"
    )
    assert b"Andr\xe9" in settings  # Latin-1, as it was

    assert flaskleak("check", ".", cwd=tree).returncode == 0
    flake8 = run("-m", "flake8", "--select", "FLK", ".", cwd=tree)
    assert (flake8.returncode, flake8.stdout) == (0, ""), flake8.stdout + flake8.stderr
    again = flaskleak("check", "--add-noqa", ".", cwd=tree)
    assert again.returncode == 0 and "added noqa to 0 lines in 0 files" in again.stderr
    assert (tree / "shop" / "views.py").read_bytes() == views


def test_fixing_a_leak_makes_its_noqa_stale(tmp_path):
    tree = legacy_tree(tmp_path)
    assert flaskleak("check", "--add-noqa", ".", cwd=tree).returncode == 0
    views = tree / "shop" / "views.py"
    fixed = views.read_bytes().replace(
        b"recent_searches = []", b"recent_searches = deque(maxlen=100)"
    ).replace(b"import csv\r\n", b"import csv\r\nfrom collections import deque\r\n")
    views.write_bytes(fixed)

    result = flaskleak("check", ".", cwd=tree)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    assert all(" FLK000 stale noqa: no FLK301 finding here" in line for line in lines)
    assert lines[0].startswith("shop/views.py:25:")  # the E501 beside it is not ours: kept
    assert flaskleak("check", "--ignore", "FLK000", ".", cwd=tree).returncode == 0
    assert flaskleak("check", "--select", "FLK4", ".", cwd=tree).returncode == 0


def test_stale_noqa_fixture():
    path = NOQA_FIXTURES / "stale_noqa.py"
    text = path.read_text(encoding="utf-8")
    expected = {
        number for number, line in enumerate(text.splitlines(), 1) if "expect FLK000" in line
    }
    result = flaskleak("check", "--include-tests", "--format", "json", str(path), cwd=NOQA_FIXTURES)
    import json

    items = json.loads(result.stdout)
    assert {item["line"] for item in items} == expected
    assert {item["code"] for item in items} == {"FLK000"}
    assert {item["name"] for item in items} == {"stale-noqa"}
    assert all(item["url"].endswith("FLK000-stale-noqa.md") for item in items)
    flake8 = run("-m", "flake8", "--select", "FLK", str(path), cwd=NOQA_FIXTURES)
    assert flake8.stdout == ""  # the plugin never reports FLK000: flake8 cannot know


def test_explain_stale_noqa():
    result = flaskleak("explain", "FLK000", cwd=NOQA_FIXTURES)
    assert result.returncode == 0 and result.stdout.startswith("# FLK000 stale-noqa\n")


def test_stale_noqa_only_judges_rules_that_ran():
    text = "x = 1  # noqa: FLK301\ny = 2  # noqa: FLK3\n"
    assert [f.line for f in stale_noqa(text, [], {"FLK301", "FLK302"}, {"FLK301", "FLK302"})] == [
        1, 2
    ]
    assert [f.line for f in stale_noqa(text, [], {"FLK301"}, {"FLK301", "FLK302"})] == [1]
    assert stale_noqa(text, [Finding(1, 0, "FLK301", "m"), Finding(2, 0, "FLK302", "m")],
                      {"FLK301", "FLK302"}, {"FLK301", "FLK302"}) == []


def test_add_noqa_merges_and_never_edits_strings():
    text = (
        'x = 1  # noqa:E501, W291 because\n'
        's = "# noqa: E501"\n'
        'y = 2\t\n'
    )
    edited = add_noqa_lines(
        text,
        [Finding(1, 0, "FLK201", "m"), Finding(1, 0, "FLK301", "m"),
         Finding(2, 0, "FLK301", "m"), Finding(3, 0, "FLK402", "m")],
    )
    assert edited == {
        1: "x = 1  # noqa:E501, W291, FLK201, FLK301 because\n",
        3: "y = 2  # noqa: FLK402\t\n",
    }  # line 2: flake8 would read the "# noqa" in the string first; no comment can help


def test_add_noqa_keeps_a_bom_and_every_other_byte():
    source = b"\xef\xbb\xbfx = 1\r\ny = 2\r\n"
    text = source.decode("utf-8-sig")
    new, count = add_noqa_to_source(source, text, [Finding(1, 0, "FLK301", "m")])
    assert (new, count) == (b"\xef\xbb\xbfx = 1  # noqa: FLK301\r\ny = 2\r\n", 1)
