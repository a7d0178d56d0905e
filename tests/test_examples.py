"""The example applications, through the real flake8: every marked leak is found, the clean twin
gives nothing.

``examples/leaky_app`` carries a ``# FLKnnn`` marker on each line a finding is expected at, as the
rule fixtures do; ``examples/clean_app`` has the same features written correctly.
"""

from __future__ import annotations

from pathlib import Path

from flake8_run import (
    assert_no_traceback,
    describe,
    expected_in_tree,
    parse_output,
    reported,
    run_flake8,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_leaky_app_findings_match_markers():
    result = run_flake8("--isolated", "--select", "FLK", "examples/leaky_app", cwd=ROOT)
    assert_no_traceback(result)
    actual = reported(result.stdout)
    expected = expected_in_tree(EXAMPLES / "leaky_app", "examples/leaky_app")
    assert expected, "the leaky example carries no markers"
    missing, extra = expected - actual, actual - expected
    assert not missing and not extra, (
        f"\nmissing:\n{describe(missing)}\nextra:\n{describe(extra)}\noutput:\n{result.stdout}"
    )
    assert result.returncode == 1


def test_leaky_app_covers_every_module():
    """Each module of the leaky example demonstrates at least one leak (none is filler)."""
    expected = expected_in_tree(EXAMPLES / "leaky_app", "examples/leaky_app")
    marked_files = {path for path, _line, _code in expected}
    sources = {
        f"examples/leaky_app/{p.relative_to(EXAMPLES / 'leaky_app').as_posix()}"
        for p in (EXAMPLES / "leaky_app").rglob("*.py")
        if p.name not in ("models.py", "probe_setup.py")  # probe_setup.py: `flaskleak probe`
    }
    assert sources - marked_files == set()


def test_clean_app_gives_no_findings():
    result = run_flake8("--isolated", "--select", "FLK", "examples/clean_app", cwd=ROOT)
    assert_no_traceback(result)
    assert parse_output(result.stdout) == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_clean_app_has_no_markers():
    assert expected_in_tree(EXAMPLES / "clean_app", "examples/clean_app") == set()
