"""Tests of the triage file and the Flask-file listing of corpus.py (no download, no analysis).

    python -m pytest tests/test_triage.py
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import corpus  # noqa: E402
import triage  # noqa: E402

HEADER = "\t".join(triage.COLUMNS) + "\n"


def key(line, package="app", code="FLK404"):
    return triage.Key(package, "1.0", "app/views.py", line, code)


def write(tmp_path, *lines):
    path = tmp_path / "triage.tsv"
    path.write_text("# comment\n" + HEADER + "".join(line + "\n" for line in lines))
    return path


def test_read_keeps_verdicts_and_treats_an_empty_verdict_as_untriaged(tmp_path):
    path = write(tmp_path,
                 "app\t1.0\tapp/views.py\t10\tFLK404\tTP\tthread loops forever",
                 "app\t1.0\tapp/views.py\t20\tFLK404\tFP\tguarded by is_alive()",
                 "app\t1.0\tapp/views.py\t30\tFLK404\t")
    verdicts = triage.read(path)
    assert verdicts[key(10)].verdict == "TP"
    assert verdicts[key(20)].reason == "guarded by is_alive()"
    report = triage.compare({key(10), key(20), key(30), key(40)}, verdicts, {("app", "1.0")})
    assert report.true_positives == [key(10)]
    assert report.false_positives == [key(20)]
    assert report.untriaged == [key(30), key(40)]


def test_lost_true_positives_and_gone_false_positives_only_for_packages_run(tmp_path):
    path = write(tmp_path,
                 "app\t1.0\tapp/views.py\t10\tFLK404\tTP\treal",
                 "app\t1.0\tapp/views.py\t20\tFLK404\tFP\tsingleton",
                 "other\t1.0\tapp/views.py\t10\tFLK404\tTP\tnot run this time")
    report = triage.compare(set(), triage.read(path), {("app", "1.0")})
    assert report.lost_true_positives == [key(10)]
    assert report.gone_false_positives == [key(20)]


def test_precision_by_code():
    report = triage.Report([key(1), key(2), key(3, code="FLK401")], [key(4)], [], [], [])
    assert report.precision_by_code() == {"FLK401": (1, 0), "FLK404": (2, 1)}
    assert triage.ratio(2, 1) == "67%"
    assert triage.ratio(0, 0) == "n/a"


@pytest.mark.parametrize("line, problem", [
    ("app\t1.0\tapp/views.py\tten\tFLK404\tTP\tx", "not a number"),
    ("app\t1.0\tapp/views.py\t10\tFLK404\tmaybe\tx", "not TP, FP or empty"),
    ("app\t1.0\tapp/views.py\t10\tFLK404\tFP\t", "needs a reason"),
    ("app\t1.0\tapp/views.py", "tab-separated fields"),
])
def test_bad_lines_are_reported_with_their_line_number(tmp_path, line, problem):
    path = write(tmp_path, line)
    with pytest.raises(triage.TriageError, match=f"triage.tsv:3: .*{problem}"):
        triage.read(path)


def test_duplicates_are_refused(tmp_path):
    line = "app\t1.0\tapp/views.py\t10\tFLK404\tFP\tsingleton"
    with pytest.raises(triage.TriageError, match="duplicate of line 3"):
        triage.read(write(tmp_path, line, line))


def test_append_untriaged_writes_a_header_once_and_lines_that_read_back(tmp_path):
    path = tmp_path / "new.tsv"
    triage.append_untriaged(path, [key(20), key(10)])
    triage.append_untriaged(path, [key(30)])
    text = path.read_text()
    assert text.count(HEADER) == 1
    assert text.splitlines()[1] == "app\t1.0\tapp/views.py\t10\tFLK404\t\t"
    assert set(triage.read(path)) == {key(10), key(20), key(30)}


def test_stale_lines_name_versions_not_in_the_corpus(tmp_path):
    path = write(tmp_path, "app\t0.9\tapp/views.py\t10\tFLK404\tFP\told pin")
    assert [k.version for k in triage.stale(triage.read(path), {("app", "1.0")})] == ["0.9"]


def test_the_committed_triage_file_reads():
    verdicts = triage.read(Path(__file__).resolve().parent / "triage.tsv")
    assert all(v.verdict in triage.VERDICTS for v in verdicts.values())
    assert not triage.stale(verdicts, set(corpus.CORPUS))


def test_flask_files_lists_modules_that_import_flask_quart_or_an_extension(tmp_path):
    sources = {
        "views.py": "from flask import Flask\n",
        "api.py": "import quart.app\n",
        "ext.py": "from flask_sqlalchemy import SQLAlchemy\n",
        "lazy.py": "def f():\n    import flask\n",
        "mention.py": "# flask is mentioned here, not imported\nimport os\n",
        "relative.py": "from .flask import thing\n",
        "other.py": "import flasky\n",
        "broken.py": "from flask import (\n",
    }
    for name, source in sources.items():
        (tmp_path / name).write_text(source)
    found = {path.name for path in corpus.flask_files(tmp_path)}
    assert found == {"views.py", "api.py", "ext.py", "lazy.py"}
