"""FLK101/FLK103 specifics: the config model's judgements and the FLK101 fix pairs.

The generic fix harness (``flaskleak fix`` on every pair under tests/fixtures/fixes/) covers the
same pairs once the fix driver lands; this runs the rule's fix directly through ``FixContext``.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from flake8_flaskleak.model.configs import DEVELOPMENT, PRODUCTION, branch_environment
from flake8_flaskleak.fixes import FixContext
from flake8_flaskleak.options import Options
from flake8_flaskleak.model.file import FileModel
from flake8_flaskleak.rules.flk101_record_queries_in_production import RecordQueriesInProduction

FIXES = Path(__file__).parent / "fixtures" / "fixes" / "FLK101"


def analysis_of(text: str, path: str) -> FileModel:
    return FileModel(ast.parse(text), text, path, Options(), project=None)


def record_findings(text: str, path: str):
    return list(RecordQueriesInProduction(analysis_of(text, path)).check())


def fixable_findings(text: str, path: str):
    """The findings whose fix the rule says it can apply (``fix_applicability``)."""
    rule = RecordQueriesInProduction(analysis_of(text, path))
    findings = list(rule.check())
    plans = rule.fix_applicability(findings)
    return [finding for finding in findings if plans[finding].safety is not None]


def apply_fix(text: str, path: str) -> str:
    analysis = analysis_of(text, path)
    findings = fixable_findings(text, path)
    context = FixContext(text.encode("utf-8"), analysis, findings)
    fixed = RecordQueriesInProduction(analysis).fix(context)
    return text if fixed is None else fixed.code


@pytest.mark.parametrize(
    "case", sorted(p for p in FIXES.glob("*.py") if not p.name.endswith(".expected.py")),
    ids=lambda p: p.stem,
)
def test_fix_pairs(case: Path):
    source = case.read_text(encoding="utf-8")
    expected = case.with_name(case.stem + ".expected.py").read_text(encoding="utf-8")
    fixed = apply_fix(source, str(case))
    assert fixed == expected
    ast.parse(fixed)
    assert apply_fix(fixed, str(case)) == fixed  # idempotent
    left = fixable_findings(fixed, str(case))
    assert not left, left


@pytest.mark.parametrize(
    "test, expected",
    [
        ("app.debug", DEVELOPMENT),
        ("not app.debug", PRODUCTION),
        ("app.config['TESTING']", DEVELOPMENT),
        ("test_config is None", PRODUCTION),
        ("test_config is not None", DEVELOPMENT),
        ("settings.DEBUG is False", PRODUCTION),
        ("os.environ.get('FLASK_ENV') == 'production'", PRODUCTION),
        ("os.environ.get('FLASK_ENV', 'development') != 'development'", PRODUCTION),
        ("os.getenv('FLASK_ENV', 'production') == 'development'", DEVELOPMENT),
        ("config_name in ('testing', 'ci')", DEVELOPMENT),
        ("not app.testing and not app.debug", PRODUCTION),
        ("__name__ == '__main__'", DEVELOPMENT),
        ("request_count > 10", None),
    ],
)
def test_branch_environment(test, expected):
    assert branch_environment(ast.parse(test, mode="eval").body, Options()) == expected


def finding_lines(source: str, path: str) -> list[int]:
    return [f.line for f in record_findings(textwrap.dedent(source), path)]


def test_base_without_in_file_subclass_is_left_to_its_subclasses():
    source = """
        class BaseConfig:
            SQLALCHEMY_RECORD_QUERIES = True
        """
    assert finding_lines(source, "config.py") == []
    assert finding_lines(source.replace("BaseConfig", "Config"), "config.py") == [3]


def test_class_loaded_only_in_development_counts_as_development():
    source = """
        class Config:
            SQLALCHEMY_RECORD_QUERIES = True

        def create_app():
            app = Flask(__name__)
            if app.debug:
                app.config.from_object(Config)
            return app
        """
    assert finding_lines(source, "app.py") == []


def test_name_in_class_body_is_resolved_where_it_was_evaluated():
    source = """
        class BaseConfig:
            DEBUG = False
            SQLALCHEMY_RECORD_QUERIES = DEBUG

        class ProductionConfig(BaseConfig):
            DEBUG = os.environ.get("DEBUG")
        """
    assert finding_lines(source, "config.py") == []


def test_module_environment_from_file_and_folder_names():
    source = "SQLALCHEMY_RECORD_QUERIES = True\n"
    assert finding_lines(source, "settings_test.py") == []
    assert finding_lines(source, "config/development.py") == []
    assert finding_lines(source, "tests/conftest.py") == []
    assert finding_lines(source, "settings/base.py") == []
    assert finding_lines(source, "config/production.py") == [1]
    assert finding_lines(source, "settings/__init__.py") == [1]
    assert finding_lines(source, "helpers.py") == []  # not a config module
