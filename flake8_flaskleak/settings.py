"""What ``flaskleak`` does to each file: its options, rules, ignores and exclusions.

Each file uses its nearest configuration, as ruff does: the nearest ``pyproject.toml`` with a
``[tool.flaskleak]`` table and the nearest ``setup.cfg``/``tox.ini``/``.flake8`` with a
``[flake8]`` section, both looked for upwards from the file's own folder; so a file gives the
same findings however the command is called. ``--config FILE`` replaces both for every file.
The command line wins over the files.

From ``[flake8]`` the command also honours flake8's own ``exclude``, ``extend-exclude``,
``per-file-ignores``, ``ignore`` and ``extend-ignore`` (the codes among them that name
``FLK`` codes), so one configuration serves both front ends. Codes given to ``flaskleak``
itself (``--select``, ``select`` in ``[tool.flaskleak]``...) must name flaskleak codes: an
unknown or mistyped code is an error, never a selection of nothing.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .engine import ALL_RULES, INTERNAL_ERROR_CODE
from .noqa import STALE_NOQA_CODE
from .option_sources import (
    COMMAND_KEYS,
    ConfigError,
    find_flake8_config,
    flake8_command_values,
    flake8_keys,
    merge,
    pyproject_section,
    read_flake8_file,
)
from .options import OptionError, Options, options_from_mapping, split_list
from .rule import Rule

KNOWN_CODES = tuple(sorted({rule.code for rule in ALL_RULES} | {STALE_NOQA_CODE}))
# Always skipped when walking directories (and, with --force-exclude, for named files too).
DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "build", "dist", "node_modules",
    ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".flaskleak_cache",
)


class UsageError(Exception):
    """A bad command line, option or configuration: one line on stderr, exit 2."""


# --- codes ------------------------------------------------------------------------------------


def check_codes(values: Iterable[str], where: str) -> tuple[str, ...]:
    """Codes or prefixes given to flaskleak itself: each must start one of its codes."""
    result = []
    for value in values:
        code = value.strip().upper()
        if not any(known.startswith(code) for known in KNOWN_CODES + (INTERNAL_ERROR_CODE,)):
            raise UsageError(
                f"{where}: {value!r} is not a flaskleak code or code prefix "
                f"(codes are {KNOWN_CODES[0]} to {KNOWN_CODES[-1]}; `flaskleak rules` lists them)"
            )
        result.append(code)
    return tuple(result)


def flk_codes(values: Iterable[str]) -> tuple[str, ...]:
    """Of flake8's codes (any tool's), those that can apply to flaskleak's (``F`` does)."""
    kept = []
    for value in values:
        code = value.strip().upper()
        if code and any(known.startswith(code) for known in KNOWN_CODES):
            kept.append(code)
    return tuple(kept)


def longest_match(code: str, prefixes: Iterable[str]) -> int:
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix)), default=-1)


@dataclass(frozen=True)
class Layer:
    """One source of selection (the files, then the command line): flake8's semantics, where
    a layer's ``select`` replaces what came before and the longer matching prefix wins."""

    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


def chosen_codes(layers: Sequence[Layer]) -> frozenset[str]:
    chosen = {rule.code for rule in ALL_RULES}
    for layer in layers:
        if layer.select:
            chosen = set()
        for rule in ALL_RULES:
            code = rule.code
            picked = longest_match(code, layer.select + layer.extend_select)
            ignored = longest_match(code, layer.ignore)
            if picked > ignored:
                chosen.add(code)
            elif ignored > picked:
                chosen.discard(code)
    return frozenset(chosen)


def stale_noqa_on(layers: Sequence[Layer]) -> bool:
    """FLK000 is on unless ignored: ``--select FLK2`` narrows the rules, and stale comments
    are still reported for the codes that ran."""
    on = True
    for layer in layers:
        picked = longest_match(STALE_NOQA_CODE, layer.select + layer.extend_select)
        ignored = longest_match(STALE_NOQA_CODE, layer.ignore)
        if ignored > picked:
            on = False
        elif picked > ignored:
            on = True
    return on


# --- paths ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """An exclude or per-file-ignores glob and the folder it is relative to (flake8's rule: a
    pattern with a ``/`` is a path from that folder, one without matches any base name)."""

    glob: str
    base: str

    def matches(self, path: str) -> bool:
        absolute = os.path.abspath(path)
        name = os.path.basename(absolute)
        if fnmatch.fnmatch(name, self.glob):
            return True
        anchored = os.path.normpath(os.path.join(self.base, self.glob))
        return fnmatch.fnmatch(absolute, anchored) or fnmatch.fnmatch(absolute, self.glob)


def patterns(values: Iterable[str], base: str) -> tuple[Pattern, ...]:
    return tuple(Pattern(value.rstrip("/") or value, base) for value in values)


# --- one file's settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSettings:
    """Everything that decides what happens to the files under one configuration."""

    options: Options
    layers: tuple[Layer, ...]
    exclude: tuple[Pattern, ...]
    per_file_ignores: tuple[tuple[Pattern, tuple[str, ...]], ...]
    base: str  # the folder of the configuration (or the working directory without one)
    force_exclude: bool = False  # `force-exclude = true` in [tool.flaskleak]
    sources: tuple[str, ...] = ()  # the files read, for -v

    @property
    def rule_codes(self) -> frozenset[str]:
        return chosen_codes(self.layers)

    def rules_for(self, path: str) -> tuple[type[Rule], ...]:
        ignored = self.ignored_for(path)
        chosen = self.rule_codes
        return tuple(
            rule for rule in ALL_RULES
            if rule.code in chosen and not any(rule.code.startswith(c) for c in ignored)
        )

    def stale_noqa_for(self, path: str) -> bool:
        ignored = self.ignored_for(path)
        return stale_noqa_on(self.layers) and not any(
            STALE_NOQA_CODE.startswith(code) for code in ignored
        )

    def ignored_for(self, path: str) -> tuple[str, ...]:
        return tuple(
            code for pattern, codes in self.per_file_ignores if pattern.matches(path)
            for code in codes
        )

    def excludes(self, path: str) -> bool:
        return any(pattern.matches(path) for pattern in self.exclude)


@dataclass
class CommandLine:
    """What the command line says, before any file is read."""

    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)  # option name -> raw value, only those given
    config: str | None = None
    force_exclude: bool | None = None


class SettingsResolver:
    """The settings of each folder, from its nearest configuration files; cached per folder."""

    def __init__(self, command_line: CommandLine, working_directory: str | None = None):
        self.command_line = command_line
        self.cwd = os.path.abspath(working_directory or os.getcwd())
        self._cli_layer = Layer(
            check_codes(command_line.select, "--select"),
            check_codes(command_line.extend_select, "--extend-select"),
            check_codes(command_line.ignore, "--ignore"),
        )
        self._cli_exclude = patterns(command_line.exclude, self.cwd)
        try:
            self._cli_options = options_from_mapping(command_line.options)
        except OptionError as error:
            raise UsageError(f"--{error}") from None
        self._explicit: FileSettings | None = None
        if command_line.config:
            self._explicit = self._settings_from_explicit(command_line.config)
        self.for_directory = lru_cache(maxsize=None)(self._for_directory)

    def for_file(self, path: str) -> FileSettings:
        return self.for_directory(os.path.dirname(os.path.abspath(path)))

    def force_exclude(self, settings: FileSettings) -> bool:
        if self.command_line.force_exclude is not None:
            return self.command_line.force_exclude
        return settings.force_exclude

    # -- building ------------------------------------------------------------------------------

    def _for_directory(self, directory: str) -> FileSettings:
        if self._explicit is not None:
            return self._explicit
        pyproject, pyproject_path = _nearest_pyproject(directory)
        flake8_path = find_flake8_config(directory)
        return self._settings(pyproject, pyproject_path, flake8_path)

    def _settings_from_explicit(self, path: str) -> FileSettings:
        if not os.path.isfile(path):
            raise UsageError(f"--config {path}: no such file")
        if path.endswith(".toml"):
            return self._settings(_pyproject(path, required=True) or {}, path, None)
        parser = _flake8_file(path)
        if not parser.has_section("flake8"):
            raise UsageError(
                f"--config {path}: has no [flake8] section (give a pyproject.toml with "
                "[tool.flaskleak], or a setup.cfg, tox.ini or .flake8 with [flake8])"
            )
        return self._settings({}, None, path)

    def _settings(
        self, pyproject: dict, pyproject_path: str | None, flake8_path: str | None
    ) -> FileSettings:
        pyproject = dict(pyproject)
        command = {key: pyproject.pop(key) for key in list(pyproject) if key in COMMAND_KEYS}
        where = f"{pyproject_path}: [tool.flaskleak]"
        flake8_options: dict[str, str] = {}
        flake8_command: dict[str, str] = {}
        if flake8_path:
            parser = _flake8_file(flake8_path)
            try:
                flake8_options = flake8_keys(parser, flake8_path)
            except ConfigError as error:
                raise UsageError(str(error)) from None
            flake8_command = flake8_command_values(parser)
        overridden = frozenset(self.command_line.options)
        try:
            merged = merge(pyproject, pyproject_path, flake8_options, flake8_path, overridden)
            options = options_from_mapping(merged)
        except (ConfigError, OptionError) as error:
            raise UsageError(str(error)) from None
        options = options_from_mapping(
            {name: getattr(self._cli_options, name) for name in self.command_line.options},
            options,
        )
        pyproject_base, flake8_base = _folder(pyproject_path), _folder(flake8_path)
        base = pyproject_base or flake8_base or self.cwd

        def strings(key: str) -> tuple[str, ...]:
            value = command.get(key)
            if value is not None and not (
                isinstance(value, str)
                or isinstance(value, list) and all(isinstance(item, str) for item in value)
            ):
                raise UsageError(f"{where} {key}: expected a list of strings, got {value!r}")
            return split_list(value)

        file_layer = Layer(
            check_codes(strings("select"), f"{where} select"),
            check_codes(strings("extend-select"), f"{where} extend-select"),
            check_codes(strings("ignore") + strings("extend-ignore"), f"{where} ignore")
            + flk_codes(split_list(flake8_command.get("ignore", "")))
            + flk_codes(split_list(flake8_command.get("extend-ignore", ""))),
        )
        exclude = patterns(strings("exclude") + strings("extend-exclude"), pyproject_base or base)
        if flake8_base:
            exclude += patterns(
                split_list(flake8_command.get("exclude", ""))
                + split_list(flake8_command.get("extend-exclude", "")),
                flake8_base,
            )
        per_file = _toml_per_file_ignores(command.get("per-file-ignores"), where, pyproject_base)
        if flake8_base and flake8_command.get("per-file-ignores"):
            per_file += _flake8_per_file_ignores(
                flake8_command["per-file-ignores"], flake8_path, flake8_base
            )
        force = command.get("force-exclude")
        if force is not None and not isinstance(force, bool):
            raise UsageError(f"{where} force-exclude: expected true or false, got {force!r}")
        return FileSettings(
            options=options,
            layers=(file_layer, self._cli_layer),
            exclude=exclude + self._cli_exclude,
            per_file_ignores=per_file,
            base=base,
            force_exclude=bool(force),
            sources=tuple(path for path in (pyproject_path, flake8_path) if path),
        )


def _toml_per_file_ignores(
    value: object, where: str, base: str | None
) -> tuple[tuple[Pattern, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise UsageError(
            f'{where} per-file-ignores: expected a table of globs to codes, e.g. '
            f'{{"tests/*" = ["FLK104"]}}, got {value!r}'
        )
    result = []
    for glob, codes in value.items():
        if not (isinstance(codes, str) or isinstance(codes, list)
                and all(isinstance(code, str) for code in codes)):
            raise UsageError(f"{where} per-file-ignores {glob!r}: expected a list of codes")
        checked = check_codes(split_list(codes), f"{where} per-file-ignores {glob!r}")
        result.append((Pattern(glob, base or os.getcwd()), checked))
    return tuple(result)


def _flake8_per_file_ignores(
    value: str, path: str, base: str
) -> tuple[tuple[Pattern, tuple[str, ...]], ...]:
    from flake8.exceptions import ExecutionError
    from flake8.utils import parse_files_to_codes_mapping

    try:
        mapping = parse_files_to_codes_mapping(value)
    except ExecutionError:
        raise UsageError(
            f"{path}: [flake8] per-file-ignores: expected lines of `glob: codes`"
        ) from None
    return tuple(
        (Pattern(glob, base), flk_codes(codes)) for glob, codes in mapping if flk_codes(codes)
    )


def _folder(path: str | None) -> str | None:
    return os.path.dirname(os.path.abspath(path)) if path else None


def _pyproject(path: str, required: bool) -> dict | None:
    try:
        return pyproject_section(path, required)
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _flake8_file(path: str):
    try:
        return read_flake8_file(path)
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _nearest_pyproject(directory: str) -> tuple[dict, str | None]:
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            section = _pyproject(candidate, required=False)
            if section is not None:
                return section, candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return {}, None
        directory = parent
