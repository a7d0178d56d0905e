"""benchmarks/corpus_fix.py (``corpus.py --fix``) on a tiny package instead of the real corpus:
what it parses from the command's output and the checks it makes after fixing."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import corpus_fix  # noqa: E402

TEARDOWN_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.teardown_appcontext
def close_things(exception):
    print("closing")
    app.extensions["cache"].close()
'''
FILES_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.route("/motd")
def motd():
    handle = open("motd.txt")
    return {"size": len(handle.read())}
'''


def test_the_summary_line_and_its_counts():
    summary = corpus_fix.SUMMARY.search(
        "flaskleak: fixed 3 findings in 2 files (FLK402 x2, FLK201); 1 finding left without a "
        "fix (1 fixable with --unsafe-fixes)")
    assert summary["fixed"] == "3"
    assert corpus_fix.counts(summary["codes"]) == collections.Counter(FLK402=2, FLK201=1)
    assert corpus_fix.SUMMARY.search("flaskleak: nothing to fix")["codes"] is None


@pytest.fixture
def package(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_fix, "WORK", tmp_path / "work")
    tree = tmp_path / "src" / "shop-1.0"
    (tree / "shop").mkdir(parents=True)
    (tree / "setup.cfg").write_text("")
    (tree / "shop" / "__init__.py").write_text("")
    (tree / "shop" / "app.py").write_text(TEARDOWN_APP)
    (tree / "shop" / "files.py").write_text(FILES_APP)
    return tree


def test_a_package_whose_fixes_keep_their_promises(package, tmp_path):
    outcome = corpus_fix.run_package("shop", "1.0", package, tmp_path / "cache")
    assert outcome.failures == []
    assert outcome.promised["safe"] == collections.Counter(FLK402=1)
    assert outcome.promised["unsafe"] == collections.Counter(FLK201=1)
    assert outcome.fixed == {"fix": collections.Counter(FLK402=1),
                             "fix --unsafe-fixes": collections.Counter(FLK201=1)}
    assert outcome.changed == ["shop/app.py", "shop/files.py"]
    assert (package / "shop" / "app.py").read_text() == TEARDOWN_APP  # the copy was fixed


def test_a_new_flake8_finding_fails_the_check(package, tmp_path):
    copy = tmp_path / "copy"
    (copy / "shop").mkdir(parents=True)
    (copy / "shop" / "files.py").write_text("import os\n" + FILES_APP)  # an unused import
    outcome = corpus_fix.Outcome("shop-1.0")
    corpus_fix.flake8_not_worse(package, copy, ["shop/files.py"], outcome)
    assert outcome.flake8_delta == {"F401": 1}
    assert outcome.failures == ["flake8 F401: 1 more on the changed files"]


def test_long_lines_a_fix_may_and_may_not_leave():
    comment = "  # " + "the generated table of contents, kept beside the code that reads it"
    original = {"app.py": {'index = open("toc.json")' + comment, "return index.read()"}}
    before = [("app.py", 'index = open("toc.json")' + comment)]
    rewritten = [("app.py", 'with open("toc.json") as index:' + comment)]
    outcome = corpus_fix.Outcome("shop-1.0")
    corpus_fix.long_lines_not_worse(before, rewritten, original, outcome)
    assert outcome.failures == []  # stands for the long line it rewrote

    moved = [("app.py", 'index = open("toc.json")' + comment)]
    corpus_fix.long_lines_not_worse([], moved, original, outcome)
    assert outcome.failures == []  # re-indented into a block

    written = [("app.py", '"""Remove the scoped session: a reused worker thread must not keep it."""')]
    corpus_fix.long_lines_not_worse([], written, original, outcome)
    assert len(outcome.failures) == 1 and "a new long line the fix wrote" in outcome.failures[0]
