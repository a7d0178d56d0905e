"""Which versions of a library a project pins: read from its packaging files, never run.

A fix that rewrites code for a library's API must know the project's version has that API:
``with Session() as session`` needs SQLAlchemy 1.4. The project (its root folder, as
``project.find_root`` finds it) says which versions it installs in:

* lock files, exact versions: ``poetry.lock``, ``pdm.lock``, ``uv.lock``, ``pylock.toml``,
  ``Pipfile.lock``;
* declared requirements: ``pyproject.toml`` (``[project]`` dependencies and optional ones,
  dependency groups, Poetry's tables), ``setup.cfg`` (``install_requires``, extras),
  ``requirements*.txt``/``.in`` and ``requirements/*.txt``/``.in``, ``Pipfile``, and the
  literal ``install_requires`` list of a ``setup.py`` (parsed, never executed).

A lock file decides when it names the library; otherwise every requirement that bounds the
version counts, and the answer is only "yes" when each of them says yes. Anything unread,
unbounded or contradictory is "unknown": the fix is then offered as unsafe.
"""

from __future__ import annotations

import ast
import configparser
import enum
import glob
import json
import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache

Version = tuple[int, ...]

LOCK_FILES = ("poetry.lock", "pdm.lock", "uv.lock", "pylock.toml")
REQUIREMENT_GLOBS = (
    "requirements*.txt", "requirements*.in", "requirements/*.txt", "requirements/*.in",
)
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
SPECIFIER = re.compile(r"(===|==|~=|>=|<=|!=|>|<|\^|~)?\s*v?(\d+(?:\.\d+)*)(\.\*)?")
# A library whose version fixes a lower bound on another's: Flask-SQLAlchemy 3.0 requires
# SQLAlchemy 1.4.18, 3.1 requires 2.0.16 (their published requirements).
IMPLIED = {
    "sqlalchemy": (
        ("flask-sqlalchemy", (3, 1), (2, 0, 16)),
        ("flask-sqlalchemy", (3, 0), (1, 4, 18)),
    ),
}
MAX_FILE_BYTES = 2_000_000


class Support(enum.Enum):
    YES = "yes"  # every version the project can install has it
    NO = "no"  # no version the project can install has it
    UNKNOWN = "unknown"  # not pinned, or pinned both ways


@dataclass(frozen=True)
class Requirement:
    """A library version an API needs: ``Requirement("SQLAlchemy", (1, 4), "`Session`")``."""

    package: str  # as the project's files and the reason name it
    since: Version
    what: str  # the API, as a reason names it


@dataclass(frozen=True)
class Mention:
    """One file's word on a library: the versions it allows, as far as the text says."""

    source: str  # the file, relative to the project root
    text: str  # the requirement as written (``SQLAlchemy>=1.4,<2``) or the locked version
    lower: Version | None  # the lowest version allowed (inclusive), when bounded below
    upper: Version | None  # versions from this one up are excluded, when bounded above
    locked: bool


@dataclass(frozen=True)
class Answer:
    support: Support
    evidence: str  # ``SQLAlchemy==1.3.24 (requirements.txt)``; empty when nothing pins it


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def version_text(version: Version) -> str:
    return ".".join(map(str, version))


def parse_version(text: str) -> Version | None:
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def supports(root: str | None, package: str, since: Version) -> Answer:
    """Whether every version of ``package`` the project at ``root`` can install is ``since``
    or later."""
    if root is None:
        return Answer(Support.UNKNOWN, "")
    mentions = project_mentions(root).get(normalise(package), [])
    answer = _judge(mentions, since)
    if answer is not None:
        return answer
    for other, other_since, implied in IMPLIED.get(normalise(package), ()):
        if implied >= since:
            via = _judge(project_mentions(root).get(other, []), other_since)
            if via is not None and via.support is Support.YES:
                return Answer(Support.YES, f"{via.evidence}, which requires {package} "
                                           f">= {version_text(implied)}")
    return Answer(Support.UNKNOWN, "")


def _judge(mentions: list[Mention], since: Version) -> Answer | None:
    locked = [m for m in mentions if m.locked]
    if locked:
        mentions = locked
    verdicts = []
    for mention in mentions:
        if mention.lower is not None and mention.lower >= since:
            verdicts.append((Support.YES, mention))
        elif mention.upper is not None and mention.upper <= since:
            verdicts.append((Support.NO, mention))
        elif mention.locked or mention.lower is not None:
            verdicts.append((Support.UNKNOWN, mention))
    if not verdicts:
        return None
    kinds = {support for support, _ in verdicts}
    support = kinds.pop() if len(kinds) == 1 else Support.UNKNOWN
    shown = "; ".join(f"{m.text} ({m.source})" for _, m in verdicts[:3])
    return Answer(support, shown)


@lru_cache(maxsize=64)
def project_mentions(root: str) -> dict[str, list[Mention]]:
    """Every library the packaging files of the project at ``root`` name, with what they say."""
    found: dict[str, list[Mention]] = {}

    def add(source: str, requirement: str, locked: bool = False) -> None:
        mention = _mention(source, requirement, locked)
        if mention is not None:
            found.setdefault(mention[0], []).append(mention[1])

    for name in LOCK_FILES:
        for package, version in _toml_lock(os.path.join(root, name)):
            add(name, f"{package}=={version}", locked=True)
    for package, version in _pipfile_lock(os.path.join(root, "Pipfile.lock")):
        add("Pipfile.lock", f"{package}{version}", locked=True)
    for requirement in _pyproject(os.path.join(root, "pyproject.toml")):
        add("pyproject.toml", requirement)
    for requirement in _setup_cfg(os.path.join(root, "setup.cfg")):
        add("setup.cfg", requirement)
    for requirement in _setup_py(os.path.join(root, "setup.py")):
        add("setup.py", requirement)
    for requirement in _pipfile(os.path.join(root, "Pipfile")):
        add("Pipfile", requirement)
    for pattern in REQUIREMENT_GLOBS:
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            source = os.path.relpath(path, root).replace(os.sep, "/")
            for requirement in _requirement_lines(_read(path) or ""):
                add(source, requirement)
    return found


def _mention(source: str, requirement: str, locked: bool) -> tuple[str, Mention] | None:
    requirement = requirement.split(";", 1)[0].strip()  # environment markers
    match = NAME.match(requirement)
    if match is None:
        return None
    name, rest = match.group(1), match.group(3).strip().strip("()")
    if rest.startswith("@") or "://" in rest:
        return None  # a URL: no version to read
    lower: Version | None = None
    upper: Version | None = None
    for part in filter(None, (p.strip() for p in rest.split(","))):
        spec = SPECIFIER.fullmatch(part)
        if spec is None:
            continue
        operator, version = spec.group(1) or "==", parse_version(spec.group(2))
        wildcard = bool(spec.group(3))
        if operator in ("==", "===") and not wildcard:
            lower, upper = _max(lower, version), _min(upper, version + (0, 0, 0, 1))
        elif operator in ("==", "===", ">=", ">", "~=", "^", "~"):
            lower = _max(lower, version)
            if operator in ("==", "===") or (operator in ("~=", "^", "~") and len(version) > 1):
                upper = _min(upper, _next_release(version, operator, wildcard))
        elif operator in ("<", "<="):
            upper = _min(upper, version if operator == "<" else version + (0, 0, 0, 1))
    return normalise(name), Mention(source, requirement, lower, upper, locked)


def _next_release(version: Version, operator: str, wildcard: bool) -> Version:
    """The first version a ``==1.4.*``, ``~=1.4.2``, ``^1.4`` or ``~1.4`` excludes."""
    if operator == "^":
        index = next((i for i, part in enumerate(version) if part), len(version) - 1)
    elif operator == "~=" and not wildcard:
        index = len(version) - 2
    else:  # ==1.4.*, ~1.4
        index = len(version) - 1
    bumped = list(version[: index + 1])
    bumped[-1] += 1
    return tuple(bumped)


def _max(a: Version | None, b: Version | None) -> Version | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: Version | None, b: Version | None) -> Version | None:
    return b if a is None else a if b is None else min(a, b)


# -- the files ---------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_FILE_BYTES:
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _toml(path: str) -> dict:
    text = _read(path)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return {}


def _toml_lock(path: str) -> list[tuple[str, str]]:
    data = _toml(path)
    packages = data.get("package", data.get("packages", []))
    if not isinstance(packages, list):
        return []
    return [
        (package["name"], package["version"])
        for package in packages
        if isinstance(package, dict)
        and isinstance(package.get("name"), str) and isinstance(package.get("version"), str)
    ]


def _pipfile_lock(path: str) -> list[tuple[str, str]]:
    text = _read(path)
    if text is None:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    found = []
    for section in ("default", "develop"):
        packages = data.get(section) if isinstance(data, dict) else None
        for name, entry in (packages or {}).items() if isinstance(packages, dict) else ():
            if isinstance(entry, dict) and isinstance(entry.get("version"), str):
                found.append((name, entry["version"]))
    return found


def _pyproject(path: str) -> list[str]:
    data = _toml(path)
    found: list[str] = []
    project = data.get("project", {})
    if isinstance(project, dict):
        found += _strings(project.get("dependencies"))
        optional = project.get("optional-dependencies")
        for group in optional.values() if isinstance(optional, dict) else ():
            found += _strings(group)
    groups = data.get("dependency-groups")
    for group in groups.values() if isinstance(groups, dict) else ():
        found += _strings(group)
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry", {}) if isinstance(tool.get("poetry"), dict) else {}
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    poetry_groups = poetry.get("group")
    for group in poetry_groups.values() if isinstance(poetry_groups, dict) else ():
        tables.append(group.get("dependencies") if isinstance(group, dict) else None)
    for table in tables:
        found += _poetry_table(table)
    pdm = tool.get("pdm", {}) if isinstance(tool.get("pdm"), dict) else {}
    dev = pdm.get("dev-dependencies")
    for group in dev.values() if isinstance(dev, dict) else ():
        found += _strings(group)
    return found


def _poetry_table(table: object) -> list[str]:
    """``sqlalchemy = "^1.4"`` and ``sqlalchemy = {version = "^1.4", extras = [...]}``."""
    found = []
    for name, value in table.items() if isinstance(table, dict) else ():
        if isinstance(value, dict):
            value = value.get("version")
        if isinstance(value, str) and name != "python":
            version = value.strip()
            if version and version != "*":
                if version[0].isdigit():
                    version = "==" + version  # Poetry reads a bare version as exact
                found.append(f"{name} {version}")
    return found


def _pipfile(path: str) -> list[str]:
    data = _toml(path)
    found = []
    for section in ("packages", "dev-packages"):
        table = data.get(section)
        for name, value in table.items() if isinstance(table, dict) else ():
            if isinstance(value, dict):
                value = value.get("version")
            if isinstance(value, str) and value.strip() not in ("", "*"):
                found.append(f"{name}{value.strip()}")
    return found


def _setup_cfg(path: str) -> list[str]:
    text = _read(path)
    if text is None:
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    found = []
    if parser.has_option("options", "install_requires"):
        found += _requirement_lines(parser.get("options", "install_requires"))
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            found += _requirement_lines(value)
    return found


def _setup_py(path: str) -> list[str]:
    """The string literals of ``install_requires=[...]`` and ``extras_require={...}``."""
    text = _read(path)
    if text is None:
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in ("install_requires", "extras_require"):
            for constant in ast.walk(node.value):
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    found.append(constant.value)
    return found


def _requirement_lines(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip().rstrip("\\").strip()
        if line and not line.startswith(("#", "-", ".", "/")) and "://" not in line:
            found.append(line)
    return found


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
