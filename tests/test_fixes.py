"""The fix driver and every fix fixture: ``tests/fixtures/fixes/FLKnnn/<case>.py`` is fixed (with
unsafe fixes on) and must equal ``<case>.expected.py`` byte for byte, parse, stay the same when
fixed again, and no longer report what was fixed.

A finding's line may end with ``# fix: safe``, ``# fix: unsafe`` or ``# fix: none``: what the
fix must say it does with that finding. Every fixture also holds the counts to what the flags
do: a plain run fixes exactly the safe findings and promises exactly the unsafe ones, which
``--unsafe-fixes`` then fixes. The fixtures folder is one project (its ``pyproject.toml`` pins
the libraries); ``FLK401/sqlalchemy13`` and ``FLK401/unpinned`` are projects of their own."""

from __future__ import annotations

import ast
import difflib
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest
from markers import FIXTURES

from flake8_flaskleak import fixer
from flake8_flaskleak.engine import analyse
from flake8_flaskleak.finding import Finding, FixSafety
from flake8_flaskleak.fixer import fix_source
from flake8_flaskleak.noqa import NoqaIndex, split_suppressed
from flake8_flaskleak.options import Options
from flake8_flaskleak.rule import Rule
from flake8_flaskleak.source import decode_source

# The fixtures live in this repository's tests/ folder, which is test code: analyse it anyway.
FIXTURE_OPTIONS = Options(include_tests=True)

FIX_FIXTURES = FIXTURES / "fixes"


def fix_cases() -> list[Path]:
    return sorted(p for p in FIX_FIXTURES.rglob("*.py") if not p.name.endswith(".expected.py"))


def expected_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(".py")] + ".expected.py")


def reported(source: bytes, path: str) -> list[Finding]:
    text = decode_source(source)
    findings = analyse(ast.parse(text), text, path, FIXTURE_OPTIONS, project=None)
    return split_suppressed(findings, text)[0]


def show_diff(expected: bytes, actual: bytes) -> str:
    return "".join(
        difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(keepends=True),
            actual.decode("utf-8", "replace").splitlines(keepends=True),
            "expected",
            "actual",
        )
    )


@pytest.mark.parametrize("path", fix_cases(), ids=lambda p: str(p.relative_to(FIX_FIXTURES)))
def test_fix_fixture(path: Path):
    expected_file = expected_path(path)
    assert expected_file.exists(), f"{path.name} has no {expected_file.name} beside it"
    source, expected = path.read_bytes(), expected_file.read_bytes()

    result = fix_source(source, str(path), FIXTURE_OPTIONS, unsafe=True, project=None)
    assert not result.errors, result.errors
    assert result.fixed == expected, "\n" + show_diff(expected, result.fixed)
    assert (result.fixed != source) == bool(result.applied), result.applied

    ast.parse(result.fixed)
    cst.parse_module(result.fixed)

    again = fix_source(result.fixed, str(path), FIXTURE_OPTIONS, unsafe=True, project=None)
    assert again.fixed == result.fixed, "fixing again: " + show_diff(result.fixed, again.fixed)
    assert not again.applied

    before = Counter(f.code for f in reported(source, str(path)))
    after = Counter(f.code for f in reported(result.fixed, str(path)))
    assert after == Counter(f.code for f in result.remaining)
    for code in result.applied:
        # what is left of a fixed rule is what its fix declined
        assert after[code] < before[code] or after[code] == 0, (code, before[code], after[code])


FIX_MARKER = re.compile(r"#\s*fix:\s*(safe|unsafe|none)\b")


def planned(source: bytes, path: str) -> list[Finding]:
    text = decode_source(source)
    findings = analyse(ast.parse(text), text, path, FIXTURE_OPTIONS, project=None, with_fixes=True)
    return split_suppressed(findings, text)[0]


@pytest.mark.parametrize("path", fix_cases(), ids=lambda p: str(p.relative_to(FIX_FIXTURES)))
def test_fix_applicability_markers_and_counts(path: Path):
    source = path.read_bytes()
    lines = decode_source(source).splitlines()
    findings = planned(source, str(path))
    for finding in findings:
        marker = FIX_MARKER.search(lines[finding.line - 1])
        if marker:
            assert finding.fix.label == marker.group(1), (finding.line, finding.fix)
        assert finding.fix.safety is None or finding.fix.reason, finding
    safe = Counter(f.code for f in findings if f.fix.safety is FixSafety.SAFE)
    unsafe = Counter(f.code for f in findings if f.fix.safety is FixSafety.UNSAFE)

    plain = fix_source(source, str(path), FIXTURE_OPTIONS, project=None)
    assert not plain.errors, plain.errors
    assert Counter(plain.applied) == safe
    assert plain.unsafe_available == sum(unsafe.values())
    everything = fix_source(source, str(path), FIXTURE_OPTIONS, unsafe=True, project=None)
    assert Counter(everything.applied) == safe + unsafe


def test_every_fixture_marker_is_on_a_finding():
    for path in fix_cases():
        source = path.read_bytes()
        lines = {f.line for f in planned(source, str(path))}
        for number, line in enumerate(decode_source(source).splitlines(), 1):
            if FIX_MARKER.search(line):
                assert number in lines, f"{path.name}:{number}: a fix marker without a finding"


def test_there_are_fix_fixtures():
    assert any(p.parent.name == "FLK201" for p in fix_cases())


# --- the driver, with stand-in rules -------------------------------------------------------


class _MarkerRule(Rule):
    """Reports every ``marker()`` call statement; the fix renames it ``unmarked()``."""

    code = "FLK990"
    name = "test-marker"
    summary = "test rule"
    triggers = ("marker(",)
    fix_safety = FixSafety.SAFE

    def check(self) -> Iterator[Finding]:
        for node in ast.walk(self.model.tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "marker":
                yield self.finding(node, "marker")

    def fix(self, context):
        calls = {context.node_at(finding, cst.Call) for finding in context.findings}

        class Rename(cst.CSTTransformer):
            def leave_Call(self, original, updated):
                if original in calls:
                    return updated.with_changes(func=cst.Name("unmarked"))
                return updated

        return context.module.visit(Rename())


class _UnsafeMarkerRule(_MarkerRule):
    code = "FLK991"
    fix_safety = FixSafety.UNSAFE


class _BrokenRule(_MarkerRule):
    """A fix with a bug: its output does not parse."""

    code = "FLK998"
    triggers = ("",)

    def check(self) -> Iterator[Finding]:
        yield self.finding(self.model.tree.body[0], "always")

    def fix(self, context):
        name = cst.Name("placeholder")
        object.__setattr__(name, "value", "1 +")  # past libcst's validation, as a bug could
        broken = cst.SimpleStatementLine(body=[cst.Expr(name)])
        return context.module.with_changes(body=[*context.module.body, broken])


class _RaisingRule(_MarkerRule):
    code = "FLK997"

    def fix(self, context):
        raise RuntimeError("boom")


SOURCE = b'"""doc"""\nmarker()\nx = 1  # keep\nmarker()  # noqa: FLK990\nmarker()  # noqa\n'


def test_all_findings_of_a_rule_fixed_in_one_pass_and_noqa_respected():
    calls = []

    class Counting(_MarkerRule):
        def fix(self, context):
            calls.append(len(context.findings))
            return super().fix(context)

    source = b"marker()\nmarker()\nmarker()  # noqa: FLK9\n"
    result = fix_source(source, "m.py", rules=[Counting], project=None)
    assert calls == [2]
    assert result.fixed == b"unmarked()\nunmarked()\nmarker()  # noqa: FLK9\n"
    assert result.applied == {"FLK990": 2}
    assert result.remaining == []


def test_unsafe_fixes_only_when_asked():
    source = b"marker()\n"
    safe_only = fix_source(source, "m.py", rules=[_UnsafeMarkerRule], project=None)
    assert safe_only.fixed == source and safe_only.unsafe_available == 1
    unsafe = fix_source(source, "m.py", unsafe=True, rules=[_UnsafeMarkerRule], project=None)
    assert unsafe.fixed == b"unmarked()\n" and unsafe.applied == {"FLK991": 1}


def test_select_and_ignore_limit_fixes():
    source = b"marker()\n"
    ignored = fix_source(source, "m.py", ignore=("FLK99",), rules=[_MarkerRule], project=None)
    assert ignored.fixed == source and ignored.remaining == []
    selected = fix_source(source, "m.py", select=("FLK990",), rules=[_MarkerRule], project=None)
    assert selected.fixed == b"unmarked()\n"


def test_a_fix_whose_output_does_not_parse_is_not_applied_and_named():
    source = b"marker()\n"
    result = fix_source(source, "m.py", rules=[_BrokenRule], project=None)
    assert result.fixed == source
    assert len(result.errors) == 1
    assert "FLK998" in result.errors[0] and "does not parse" in result.errors[0]
    assert [f.code for f in result.remaining] == ["FLK998"]


def test_other_rules_still_fixed_when_one_fix_is_broken():
    result = fix_source(b"marker()\n", "m.py", rules=[_MarkerRule, _BrokenRule], project=None)
    assert result.fixed == b"unmarked()\n" and result.applied == {"FLK990": 1}
    assert any("FLK998" in error for error in result.errors)


def test_a_fix_that_raises_is_reported_when_not_strict(monkeypatch):
    monkeypatch.delenv("FLASKLEAK_STRICT", raising=False)
    result = fix_source(b"marker()\n", "m.py", rules=[_RaisingRule], project=None)
    assert result.fixed == b"marker()\n"
    assert "FLK997" in result.errors[0] and "RuntimeError: boom" in result.errors[0]


def test_broken_fix_through_the_command_leaves_the_file_alone(tmp_path, monkeypatch, capsys):
    from flake8_flaskleak import cli, settings

    target = tmp_path / "m.py"
    target.write_bytes(b"marker()\n")
    monkeypatch.setattr(settings, "ALL_RULES", [_BrokenRule])  # the rules the command runs
    code = cli.main(["fix", str(target)])
    captured = capsys.readouterr()
    assert target.read_bytes() == b"marker()\n"
    assert "FLK998" in captured.err and "does not parse" in captured.err
    assert code == 1  # the finding is left


# --- bytes outside the edited spans ----------------------------------------------------------

TEARDOWN = (
    "# -*- coding: {encoding} -*-\n"
    '"""Caf\u00e9 reports."""\n'
    "from flask import Flask\n"
    "\n"
    "app = Flask(__name__)\n"
    "\n"
    "\n"
    "@app.teardown_appcontext\n"
    "def close(exc):\n"
    "{indent}close_things()  # caf\u00e9\n"
)


def fixed_bytes(source: bytes) -> bytes:
    result = fix_source(source, "reports.py", unsafe=True, project=None)
    assert result.applied == {"FLK201": 1}, result
    return result.fixed


def test_crlf_stays_crlf():
    source = TEARDOWN.format(encoding="utf-8", indent="    ").replace("\n", "\r\n").encode()
    fixed = fixed_bytes(source)
    assert fixed.count(b"\n") == fixed.count(b"\r\n") > source.count(b"\n")
    assert fixed.startswith(source[: source.index(b"from flask")])
    assert b"import logging\r\n\r\nfrom flask import Flask\r\n" in fixed


def test_bom_is_kept():
    source = b"\xef\xbb\xbf" + TEARDOWN.format(encoding="utf-8", indent="    ").encode()
    fixed = fixed_bytes(source)
    assert fixed.startswith(b"\xef\xbb\xbf# -*- coding")
    assert fixed.count(b"\xef\xbb\xbf") == 1
    assert "close_things()  # caf\u00e9".encode() in fixed


def test_latin1_file_stays_latin1():
    source = TEARDOWN.format(encoding="latin-1", indent="    ").encode("latin-1")
    fixed = fixed_bytes(source)
    assert b"caf\xe9" in fixed and "caf\u00e9".encode() not in fixed
    assert "logger.exception" in fixed.decode("latin-1")


def test_tabs_stay_tabs():
    source = TEARDOWN.format(encoding="utf-8", indent="\t").encode()
    fixed = fixed_bytes(source).decode()
    wrapped = "\ttry:\n\t\tclose_things()  # caf\u00e9\n\texcept Exception:\n\t\tlogger.exception("
    assert wrapped in fixed
    assert "    " not in fixed.split("def close")[1]


# --- noqa ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, code, suppressed",
    [
        ("x()  # noqa", "FLK201", True),
        ("x()  # NOQA", "FLK201", True),
        ("x()  # noqa: FLK201", "FLK201", True),
        ("x()  # noqa:FLK201,FLK402", "FLK402", True),
        ("x()  # noqa: FLK2", "FLK201", True),
        ("x()  # noqa: FLK3", "FLK201", False),
        ("x()  # noqa: E501 FLK201", "FLK201", True),
        ("x()  # noqa: E501", "FLK201", False),
        ("x()  #noqa", "FLK201", False),  # flake8 wants "# noqa"
        ("x()", "FLK201", False),
    ],
)
def test_noqa_reads_like_flake8(line, code, suppressed):
    index = NoqaIndex(line + "\n")
    assert index.suppresses(Finding(1, 0, code, "m")) is suppressed


def test_noqa_at_the_end_of_a_multiline_string_covers_it():
    text = 'x = f("""\nabc\n""")  # noqa: FLK201\ny = 1\n'
    index = NoqaIndex(text)
    assert index.suppresses(Finding(1, 0, "FLK201", "m"))
    assert not index.suppresses(Finding(4, 0, "FLK201", "m"))


def test_noqa_on_unparsable_text_does_not_raise():
    index = NoqaIndex('x = """\n# noqa\n')
    assert index.suppresses(Finding(2, 0, "FLK201", "m"))


def test_check_never_imports_libcst(tmp_path):
    import subprocess

    target = tmp_path / "app.py"
    target.write_text((FIX_FIXTURES / "FLK201" / "seed_004_bare_teardown.py").read_text())
    code = (
        "import sys\n"
        "from flake8_flaskleak.cli import main\n"
        f"main(['check', {str(target)!r}])\n"
        "print('LIBCST' if 'libcst' in sys.modules else 'NO-LIBCST')\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert output.strip().endswith("NO-LIBCST"), output


@pytest.mark.parametrize("path", fix_cases(), ids=lambda p: str(p.relative_to(FIX_FIXTURES)))
def test_lines_a_fix_writes_fit_pycodestyle_length(path: Path):
    """The fix adds no E501 but by re-indenting a line, or by rewriting a line that was already
    too long (``x = open(...)  # a long comment`` becomes a ``with`` header)."""
    original = decode_source(path.read_bytes()).splitlines()
    fixed = decode_source(expected_path(path).read_bytes()).splitlines()
    kept = {line.strip() for line in fixed}
    replaced_long = [line for line in original if len(line) > 79 and line.strip() not in kept]
    stripped = {line.strip() for line in original}
    long_new = [line for line in fixed if len(line) > 79 and line.strip() not in stripped]
    assert len(long_new) <= len(replaced_long), long_new
