"""Every rule page's code works when pasted (issue 12, item 10).

Each ```python block of a page's **Example** section, saved as a file on its own, must give
that page's finding; each block of its **Use instead** section, saved the same way, must give
no finding from any rule. The blocks go through the real ``flaskleak check``, one block per
file, in an empty folder with a ``pyproject.toml`` (so the project is just that file). The file
is named so that the rule applies to it: ``gunicorn.conf.py`` for the Gunicorn rules (FLK501,
FLK502), ``config.py`` for the configuration rules (FLK101, FLK103), ``app.py`` for the rest.

Public text never cites the documents the project started from ("seed 000"): a page cites the
public report or describes the incident in a sentence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flake8_run import parse_output

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "rules").glob("FLK*.md"))
FILE_NAMES = {"FLK501": "gunicorn.conf.py", "FLK502": "gunicorn.conf.py",
              "FLK101": "config.py", "FLK103": "config.py", "FLK105": "config.py"}


def section_blocks(page: str, title: str) -> list[str]:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", page, re.M | re.S)
    if match is None:
        return []
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def page_code(path: Path) -> str:
    return path.name.split("-", 1)[0]


CASES = [
    pytest.param(page_code(path), kind, number, block, id=f"{page_code(path)}-{kind}-{number}")
    for path in PAGES
    for kind, title in (("example", "Example"), ("use-instead", "Use instead"))
    for number, block in enumerate(section_blocks(path.read_text(encoding="utf-8"), title), 1)
]


def check(block: str, code: str, folder: Path) -> list[tuple[int, str]]:
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "example"\n')
    name = FILE_NAMES.get(code, "app.py")
    (folder / name).write_text(block)
    environment = dict(os.environ)
    environment.pop("FLASKLEAK_STRICT", None)
    result = subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", "check", "-q", name],
        cwd=folder, capture_output=True, text=True, timeout=120, env=environment,
    )
    assert result.returncode in (0, 1), result.stderr  # parses, no internal error
    assert result.stderr == "", result.stderr
    return [(line, found) for _, line, _, found, _ in parse_output(result.stdout)]


def undefined_names(block: str) -> list[str]:
    """What pyflakes finds undefined: a block that uses a name it does not import or define
    cannot be pasted as it stands (and ``app`` must be a Flask app for the rules to judge it)."""
    from pyflakes.api import check as pyflakes_check
    from pyflakes.reporter import Reporter

    import io

    out = io.StringIO()
    pyflakes_check(block, "block.py", Reporter(out, out))
    return [line for line in out.getvalue().splitlines() if "undefined name" in line]


@pytest.mark.parametrize("code, kind, number, block", CASES)
def test_page_code_blocks(tmp_path, code, kind, number, block):
    assert undefined_names(block) == [], "the block does not stand on its own"
    found = check(block, code, tmp_path / "page")
    if kind == "example":
        assert code in {found_code for _, found_code in found}, (
            f"the Example of {code} gives {found or 'no finding'}"
        )
    else:
        assert found == [], f"the Use instead of {code} gives {found}"


def test_every_rule_page_has_an_example_and_advice():
    for path in PAGES:
        if page_code(path) == "FLK900":  # an internal error has no example
            continue
        page = path.read_text(encoding="utf-8")
        assert section_blocks(page, "Example"), path.name
        assert section_blocks(page, "Use instead"), path.name


@pytest.mark.parametrize("path", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_public_text_cites_no_seed(path):
    text = path.read_text(encoding="utf-8")
    # "seed 000", "seed_001", "seeds/...": the documents the project started from, which
    # users do not have (the probe's "seed file" of request values is a different thing)
    assert not re.search(r"\bseeds?[ _]?\d|\bseeds/", text, re.I), path.name
    assert "Grofers" not in text, path.name
