"""The supported Python versions agree everywhere (issue 12, item 3): ``requires-python``, the
classifiers, the README, CI's matrix notes, and what the dependencies themselves accept. The
package once claimed 3.10 while flake8 7.5 needs 3.11, so ``pip install .`` failed there."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, metadata, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lowest_supported() -> Version:
    match = re.fullmatch(r">=\s*(\d+\.\d+)", PROJECT["requires-python"].strip())
    assert match, "requires-python should be a plain lower bound"
    return Version(match.group(1))


def dependency_closure(name: str, python: Version) -> dict[str, SpecifierSet]:
    """Every distribution installing ``name`` brings in on ``python``, with its Requires-Python."""
    environment = {"python_version": f"{python.major}.{python.minor}",
                   "python_full_version": f"{python}", "extra": ""}
    found: dict[str, SpecifierSet] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        try:
            requirements = requires(current) or []
            found[current] = SpecifierSet(metadata(current).get("Requires-Python") or "")
        except PackageNotFoundError:
            continue  # an optional backport this interpreter does not need
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            if requirement.name not in found:
                pending.append(requirement.name)
    return found


def test_every_dependency_installs_on_the_lowest_supported_python():
    lowest = lowest_supported()
    assert lowest >= Version("3.11")  # flake8 7.5 needs it
    closure = dependency_closure(PROJECT["name"], lowest)
    assert "flake8" in closure
    refusing = {name: str(spec) for name, spec in closure.items()
                if not spec.contains(f"{lowest}.0")}
    assert not refusing, f"these need a newer Python than {lowest}: {refusing}"


def test_classifiers_readme_and_ci_name_the_same_versions():
    lowest = lowest_supported()
    versions = [
        Version(classifier.rsplit(":: ", 1)[1]) for classifier in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)
    ]
    assert min(versions) == lowest
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert f"Python {lowest}+" in quick_start
    assert not re.search(r"Python 3\.(\d+)\+", readme.replace(f"Python {lowest}+", ""))
    notes = re.search(r"^# Python matrix: (.*)$", (ROOT / ".ci" / "run").read_text(), re.M)
    assert notes, ".ci/run should say which Python versions CI runs"
    tested = [Version(v) for v in re.findall(r"\b3\.\d+\b", notes.group(1))]
    assert lowest in tested, "CI must test the lowest supported version"
    if os.environ.get("CI"):  # the CI run itself: on a version the notes name
        assert Version(f"{sys.version_info[0]}.{sys.version_info[1]}") in tested
