"""Rendering findings for ``flaskleak check --format text|json|sarif|github``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from . import __version__
from .pages import PROJECT_URL, full_description, rule_page, rule_url
from .engine import INTERNAL_ERROR_CODE, INTERNAL_ERROR_NAME, RULES_BY_CODE
from .finding import Finding, FixApplicability, no_fix
from .noqa import StaleNoqaRule
from .rule import Rule
from .source import SourceError

FORMATS = ("text", "json", "sarif", "github")


class InternalErrorRule:
    """FLK900: a rule crashed on a file (a bug in flake8-flaskleak). Reported so that no run
    goes green with a rule silently missing: flake8 shows it as a finding, ``flaskleak`` as
    an error (exit 2)."""

    code = INTERNAL_ERROR_CODE
    name = INTERNAL_ERROR_NAME
    summary = "a rule failed on this file: a bug in flake8-flaskleak, to report"
    fix_safety = None


# Codes ``flaskleak check`` reports that no rule class checks (they have pages all the same).
PSEUDO_RULES = {StaleNoqaRule.code: StaleNoqaRule, InternalErrorRule.code: InternalErrorRule}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass
class Located:
    """A finding in a file, with its column in characters (SARIF and GitHub count characters)."""

    path: str  # as displayed
    finding: Finding
    char_column: int  # 1-based
    source_line: str = ""  # the line's text, for --show-source (empty unless asked for)


def fix_kind(rule: type[Rule]) -> str | None:
    return rule.fix_safety.value if rule.fix_safety is not None else None


def applicability(finding: Finding) -> FixApplicability:
    """What the fix does with this finding (``Finding.fix``), or, for a finding analysed
    without it, what its rule's fix kind says."""
    if finding.fix is not None:
        return finding.fix
    rule = RULES_BY_CODE.get(finding.code)
    if rule is None or rule.fix_safety is None:
        return no_fix(f"{finding.code} has no automatic fix")
    return FixApplicability(rule.fix_safety, rule.fix_reason)


def fix_json(finding: Finding) -> dict:
    """``{"applicability": "safe"|"unsafe"|"none", "reason": ...}``, as ruff's ``fix``."""
    fix = applicability(finding)
    return {"applicability": fix.label, "reason": fix.reason}


def render_text(results: Sequence[Located]) -> str:
    return "".join(
        f"{item.path}:{item.finding.line}:{item.finding.col + 1}: {item.finding.flake8_text()}\n"
        for item in results
    )


def render_json(results: Sequence[Located]) -> str:
    items = []
    for item in results:
        rule = RULES_BY_CODE.get(item.finding.code) or PSEUDO_RULES.get(item.finding.code)
        items.append(
            {
                "path": item.path,
                "line": item.finding.line,
                "column": item.finding.col + 1,
                "code": item.finding.code,
                "name": rule.name if rule else None,
                "message": item.finding.message,
                "fix": fix_json(item.finding),
                "url": rule_url(rule) if rule else None,
            }
        )
    return json.dumps(items, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(kind: str, path: str, line: int, col: int, title: str, message: str) -> str:
    return (
        f"::{kind} file={_escape_property(path)},line={line},col={col},"
        f"title={_escape_property(title)}::{_escape_data(message)}\n"
    )


def render_github(results: Sequence[Located], errors: Sequence[tuple[str, SourceError]]) -> str:
    lines = [
        github_line(
            "warning", item.path, item.finding.line, item.char_column,
            item.finding.code, item.finding.message,
        )
        for item in results
    ]
    lines += [
        github_line("error", path, error.line, error.col, error.code, error.message)
        for path, error in errors
    ]
    return "".join(lines)


def sarif_uri(path: str) -> tuple[str, bool]:
    """``(uri, relative)``: relative to the working directory when the file is under it."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    if relative.startswith(os.pardir):
        return Path(absolute).as_uri(), False
    return quote(Path(relative).as_posix()), True


def sarif_rule(rule: type[Rule]) -> dict:
    page = rule_page(rule)
    entry: dict = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full_description(rule)},
        "helpUri": rule_url(rule),
        "defaultConfiguration": {"level": "warning"},
        "properties": {
            "tags": ["flask", "memory-leak", "resource-leak"],
            "precision": "high",
            "problem.severity": "warning",
            "fix": fix_kind(rule) or "none",
        },
    }
    if page:
        entry["help"] = {"text": f"{rule.summary}. See {rule_url(rule)}", "markdown": page}
    return entry


def render_sarif(
    results: Sequence[Located],
    rules: Sequence[type[Rule]],
    errors: Sequence[tuple[str, SourceError]],
) -> str:
    index = {rule.code: number for number, rule in enumerate(rules)}
    sarif_results = []
    for item in results:
        uri, relative = sarif_uri(item.path)
        location: dict = {"uri": uri}
        if relative:
            location["uriBaseId"] = "%SRCROOT%"
        result = {
            "ruleId": item.finding.code,
            "level": "warning",
            "message": {"text": item.finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": location,
                        "region": {"startLine": item.finding.line, "startColumn": item.char_column},
                    }
                }
            ],
        }
        if item.finding.code in index:
            result["ruleIndex"] = index[item.finding.code]
        result["properties"] = {"fix": fix_json(item.finding)}
        sarif_results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{path}:{error.line}:{error.col}: {error.code} {error.message}"},
            "descriptor": {"id": error.code},
        }
        for path, error in errors
    ]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "flaskleak",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": PROJECT_URL,
                        "rules": [sarif_rule(rule) for rule in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
                "invocations": [
                    {
                        "executionSuccessful": not errors,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": sarif_results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"
