"""Where each rule's page lives: ``rules/FLKnnn-name.md`` in the repository, and online.

In a checkout (or an editable install) the pages are read from ``rules/`` at the repository
root. A built wheel ships the same directory as the data-only package ``flake8_flaskleak.docs``
(``pyproject.toml`` maps that package to ``rules/``; it has no ``__init__.py``), so
``flaskleak explain`` works from any install.
"""

from __future__ import annotations

from pathlib import Path

from .rule import Rule

PROJECT_URL = "https://github.com/flake8-flaskleak/flake8-flaskleak"
RULES_BASE_URL = f"{PROJECT_URL}/blob/main/rules/"

_PACKAGE = Path(__file__).resolve().parent
PAGE_DIRECTORIES = (_PACKAGE.parent / "rules", _PACKAGE / "docs")


def page_name(rule: type[Rule]) -> str:
    return f"{rule.code}-{rule.name}.md"


def rule_url(rule: type[Rule]) -> str:
    return RULES_BASE_URL + page_name(rule)


def rule_page(rule: type[Rule]) -> str | None:
    """The Markdown page of a rule, or None when it cannot be found."""
    for directory in PAGE_DIRECTORIES:
        path = directory / page_name(rule)
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            continue
    return None


def page_section(page: str, title: str) -> str:
    """The first paragraph of a ``## title`` section, on one line."""
    lines = page.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == f"## {title}") + 1
    except StopIteration:
        return ""
    paragraph: list[str] = []
    for line in lines[start:]:
        if line.startswith("## "):
            break
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


def full_description(rule: type[Rule]) -> str:
    page = rule_page(rule)
    return (page_section(page, "What it does") if page else "") or rule.summary
