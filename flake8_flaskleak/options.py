"""The one set of options both front ends read.

Each option is declared once here; the flake8 plugin registers them with flake8 (so they are
read from flake8's config and its command line), and the ``flaskleak`` command reads the same
names from ``[tool.flaskleak]`` in ``pyproject.toml`` and its own flags.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

DEFAULT_PRODUCTION_PATTERNS = ("prod", "production", "live", "release", "staging", "stage")
DEFAULT_DEVELOPMENT_PATTERNS = (
    "dev",
    "develop",
    "development",
    "debug",
    "local",
    "test",
    "testing",
    "tests",
    "ci",
    "unittest",
)


@dataclass(frozen=True)
class Options:
    # Words (matched against the words of a class, base or module name) that mark a config.
    production_patterns: tuple[str, ...] = DEFAULT_PRODUCTION_PATTERNS
    development_patterns: tuple[str, ...] = DEFAULT_DEVELOPMENT_PATTERNS
    # Extra decorators (dotted or last-part names) whose functions run per request.
    request_decorators: tuple[str, ...] = ()
    # Extra Gunicorn config file names or glob patterns.
    gunicorn_configs: tuple[str, ...] = ()
    # The maxsize the FLK304 fix writes into lru_cache(maxsize=N).
    cache_maxsize: int = 1024
    # Whole-project analysis (cross-module facts); off means strictly one file at a time.
    project_analysis: bool = True
    # Test code (tests/ folders, test_*.py, conftest.py) is not analysed unless this is on.
    include_tests: bool = False

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class OptionSpec:
    name: str  # the dataclass field
    flag: str  # --flaskleak-... for flake8, --... for the CLI
    help: str
    kind: str = "list"  # "list" (comma separated), "int" or "bool"


OPTION_SPECS = (
    OptionSpec(
        "production_patterns",
        "production-patterns",
        "Words that mark a config class or module as production (comma separated).",
    ),
    OptionSpec(
        "development_patterns",
        "development-patterns",
        "Words that mark a config class or module as development or testing (comma separated).",
    ),
    OptionSpec(
        "request_decorators",
        "request-decorators",
        "Extra decorators whose functions run on every request (comma separated).",
    ),
    OptionSpec(
        "gunicorn_configs",
        "gunicorn-configs",
        "Extra Gunicorn config file names or glob patterns (comma separated).",
    ),
    OptionSpec("cache_maxsize", "cache-maxsize", "maxsize written by the FLK304 fix.", "int"),
    OptionSpec(
        "project_analysis",
        "project-analysis",
        "Follow apps, configs, sessions and thread-locals across the project's modules.",
        "bool",
    ),
    OptionSpec(
        "include_tests",
        "include-tests",
        "Also analyse test code (tests/, test/ and testing/ folders, test_*.py, *_test.py, "
        "conftest.py), which is skipped by default.",
        "bool",
    ),
)


def split_list(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")  # one per line in a config file too
    return tuple(item.strip() for item in value if item and item.strip())


class OptionError(ValueError):
    """A bad option value; the message names the option and is one line."""


def convert(spec: OptionSpec, value: object) -> object:
    if spec.kind == "list":
        if not (
            isinstance(value, str)
            or isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)
        ):
            raise OptionError(f"{spec.flag}: expected a list of strings, got {value!r}")
        return split_list(value)  # type: ignore[arg-type]
    if spec.kind == "int":
        # `true` (TOML) is an int to Python and 2.5 truncates: both are mistakes, not numbers
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise OptionError(f"{spec.flag}: expected an integer, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise OptionError(f"{spec.flag}: expected an integer, got {value!r}") from None
        if number <= 0:
            raise OptionError(f"{spec.flag}: expected a positive integer, got {value!r}")
        return number
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise OptionError(f"{spec.flag}: expected true or false, got {value!r}")
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise OptionError(f"{spec.flag}: expected true or false, got {value!r}")


def options_from_mapping(values: dict[str, object], base: Options | None = None) -> Options:
    """Options from a mapping of option names (``-`` or ``_`` spelling) to raw values."""
    specs = {spec.name: spec for spec in OPTION_SPECS}
    current = {f.name: getattr(base or Options(), f.name) for f in fields(Options)}
    for raw_key, raw_value in values.items():
        key = raw_key.replace("-", "_")
        if key not in specs:
            raise OptionError(f"unknown option {raw_key!r}")
        if raw_value is None:
            continue
        current[key] = convert(specs[key], raw_value)
    return Options(**current)  # type: ignore[arg-type]
