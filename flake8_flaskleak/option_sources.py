"""Where both front ends find their options: ``[tool.flaskleak]`` and the flake8 config section.

One set of options, two places to write them: ``[tool.flaskleak]`` in ``pyproject.toml`` (keys
without a prefix: ``cache-maxsize = 64``) and the ``[flake8]`` section of ``setup.cfg``,
``tox.ini`` or ``.flake8`` (keys with the ``flaskleak-`` prefix, as flake8 wants them). Both
front ends read both; the command line wins over either. The same option set to different
values in the two files is an error rather than a silent choice. Every problem is a
``ConfigError``: one line that names the file and the key.
"""

from __future__ import annotations

import configparser
import os
import tomllib

from .options import OPTION_SPECS, OptionError, Options, options_from_mapping

FLAKE8_CONFIG_FILES = ("setup.cfg", "tox.ini", ".flake8")
FLAKE8_PREFIX = "flaskleak-"
# Keys of [tool.flaskleak] that configure the flaskleak command rather than the analysis.
COMMAND_KEYS = (
    "select", "extend-select", "ignore", "extend-ignore", "exclude", "extend-exclude",
    "per-file-ignores", "force-exclude",
)
# flake8's own keys of its section that ``flaskleak`` honours too (the codes it can apply to).
FLAKE8_COMMAND_KEYS = ("ignore", "extend-ignore", "exclude", "extend-exclude", "per-file-ignores")


class ConfigError(ValueError):
    """A configuration problem, one line naming the file and the key."""


def pyproject_section(path: str, required: bool) -> dict | None:
    """``[tool.flaskleak]`` of one ``pyproject.toml`` (None: the file does not have one)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    if not required and b"flaskleak" not in data:
        return None  # not ours: do not even parse it (any spelling of the table names us)
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid TOML: {' '.join(str(error).split())}") from None
    tool = document.get("tool", {})
    if not isinstance(tool, dict) or "flaskleak" not in tool:
        return {} if required else None
    section = tool["flaskleak"]
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.flaskleak] must be a table")
    return dict(section)


def find_pyproject(start: str) -> tuple[dict, str | None]:
    """``[tool.flaskleak]`` of the nearest ``pyproject.toml`` at or above ``start`` that has one."""
    for directory in _upwards(start):
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            section = pyproject_section(candidate, required=False)
            if section is not None:
                return section, candidate
    return {}, None


def find_flake8_config(start: str) -> str | None:
    """The file flake8 would read at or above ``start``: the first with a ``[flake8]`` section."""
    for directory in _upwards(start):
        for name in FLAKE8_CONFIG_FILES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and _has_flake8_section(candidate):
                return candidate
    return None


def flake8_section(path: str) -> dict[str, str]:
    """The ``flaskleak-*`` keys of a file's ``[flake8]`` section, prefix removed."""
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot parse: {' '.join(str(error).split())}") from None
    return flake8_keys(parser, path)


def read_flake8_file(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle, path)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot parse: {' '.join(str(error).split())}") from None
    return parser


def flake8_command_values(parser: configparser.RawConfigParser) -> dict[str, str]:
    """flake8's own ``exclude``, ``ignore``, ``per-file-ignores``... keys of its section."""
    if not parser.has_section("flake8"):
        return {}
    values = {}
    for key, value in parser.items("flake8"):
        normal = key.replace("_", "-")
        if normal in FLAKE8_COMMAND_KEYS:
            values[normal] = value
    return values


def flake8_keys(parser: configparser.RawConfigParser, path: str) -> dict[str, str]:
    if not parser.has_section("flake8"):
        return {}
    known = {spec.flag for spec in OPTION_SPECS}
    values: dict[str, str] = {}
    for key, value in parser.items("flake8"):
        normal = key.replace("_", "-")
        if not normal.startswith(FLAKE8_PREFIX):
            continue
        flag = normal[len(FLAKE8_PREFIX):]
        if flag not in known:
            raise ConfigError(f"{path}: [flake8] unknown option {key!r}")
        values[flag] = value
    return values


def check_values(values: dict, where: str, prefix: str = "") -> Options:
    try:
        return options_from_mapping(values)
    except OptionError as error:
        raise ConfigError(f"{where} {prefix}{error}") from None


def merge(pyproject: dict, pyproject_path: str | None, flake8: dict[str, str],
          flake8_path: str | None, overridden: frozenset[str] = frozenset()) -> dict:
    """The option values of both files; the same option set differently in each is an error.

    ``pyproject``'s command keys (``select``, ``ignore``, ``exclude``) are not options: left out.
    Options the command line sets (``overridden``, by option name) are not read from the files:
    the command line wins, even over a bad value.
    """
    def kept(key: str) -> bool:
        return key not in COMMAND_KEYS and key.replace("-", "_") not in overridden

    pyproject = {key: value for key, value in pyproject.items() if kept(key)}
    flake8 = {key: value for key, value in flake8.items() if kept(key)}
    from_pyproject = check_values(pyproject, f"{pyproject_path}: [tool.flaskleak]")
    from_flake8 = check_values(flake8, f"{flake8_path}: [flake8]", FLAKE8_PREFIX)
    merged = {key.replace("-", "_"): value for key, value in pyproject.items()}
    for flag, value in flake8.items():
        name = flag.replace("-", "_")
        if name in merged and getattr(from_pyproject, name) != getattr(from_flake8, name):
            raise ConfigError(
                f"{flag} is set both in {pyproject_path} [tool.flaskleak] and, as "
                f"{FLAKE8_PREFIX}{flag}, in {flake8_path} [flake8], to different values: "
                "keep one"
            )
        merged[name] = value
    return merged


def _has_flake8_section(path: str) -> bool:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return False
    return parser.has_section("flake8") or parser.has_section("flake8:local-plugins")


def _upwards(start: str):
    directory = os.path.abspath(start)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    while True:
        yield directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent


def options_for_flake8(namespace: object) -> Options:
    """The plugin's options: ``[tool.flaskleak]`` and the ``[flake8]`` keys flake8 read (checked
    here for unknown keys and conflicts), then what flake8 parsed, its command line included."""
    cwd = os.getcwd()  # where flake8 itself looks for its configuration
    pyproject, pyproject_path = find_pyproject(cwd)
    flake8_values: dict[str, str] = {}
    flake8_path: str | None = None
    if not getattr(namespace, "isolated", False):
        explicit = getattr(namespace, "config", None)
        files = [explicit] if explicit else [find_flake8_config(cwd)]
        files += list(getattr(namespace, "append_config", None) or [])
        for path in filter(None, files):
            parser = configparser.RawConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue  # flake8 reports its own configuration's syntax errors
            flake8_values.update(flake8_keys(parser, path))
            flake8_path = flake8_path or path
    given = {
        spec.name: getattr(namespace, f"flaskleak_{spec.name}", None) for spec in OPTION_SPECS
    }
    # flake8 hands over one value per option, from its config or its command line: a value
    # that is not the config's came from the command line, which wins
    overridden = frozenset(
        name for name, value in given.items()
        if value is not None and value != flake8_values.get(name.replace("_", "-"))
    )
    merged = merge(pyproject, pyproject_path, flake8_values, flake8_path, overridden)
    base = options_from_mapping(merged)
    try:
        return options_from_mapping({k: v for k, v in given.items() if v is not None}, base)
    except OptionError as error:  # the files were checked above: this is the command line
        raise ConfigError(f"--{FLAKE8_PREFIX}{error}") from None
