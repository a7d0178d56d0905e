"""Flask configuration as one module states it: config classes, ``app.config`` writes, branches.

Every place a config key gets a value becomes a ``ConfigSetting`` with the environment it
applies to: ``production``, ``development`` (which includes testing and local) or ``unknown``.
The environment comes from the words of the class name, its bases, the enclosing function,
the module's file name, and any ``if app.debug:``-style branch around the statement.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .astutil import constant_truthiness, dotted_name, string_value
from .options import Options

PRODUCTION = "production"
DEVELOPMENT = "development"
UNKNOWN = "unknown"

CONFIG_NAME_WORDS = {"config", "configuration", "settings", "conf", "cfg"}
BASE_NAME_WORDS = {"base", "abstract", "common", "shared"}
CONFIG_METHODS_WITH_MAPPINGS = {"update", "from_mapping", "setdefault"}

_WORD_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def words(name: str) -> list[str]:
    """``ProductionConfig`` -> ``["production", "config"]``; ``config_test`` -> ``[...,"test"]``."""
    return [word.lower() for word in _WORD_SPLIT.findall(name)]


def environment_of_words(
    name_words: list[str], options: Options
) -> str:
    if any(word in options.development_patterns for word in name_words):
        return DEVELOPMENT
    if any(word in options.production_patterns for word in name_words):
        return PRODUCTION
    return UNKNOWN


def _flip(environment: str | None) -> str | None:
    if environment == DEVELOPMENT:
        return PRODUCTION
    if environment == PRODUCTION:
        return DEVELOPMENT
    return environment


def branch_environment(test: ast.expr, options: Options) -> str | None:
    """What an ``if`` test says about the environment its body runs in, if anything."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _flip(branch_environment(test.operand, options))
    if isinstance(test, ast.BoolOp):
        verdicts = {branch_environment(value, options) for value in test.values} - {None}
        return verdicts.pop() if len(verdicts) == 1 else None
    test_words: list[str] = []
    for node in ast.walk(test):
        if isinstance(node, ast.Name):
            test_words += words(node.id)
        elif isinstance(node, ast.Attribute):
            test_words += words(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            test_words += words(node.value)
    environment = environment_of_words(test_words, options)
    if environment == UNKNOWN:
        return None
    if isinstance(test, ast.Compare) and any(
        isinstance(op, (ast.NotEq, ast.IsNot, ast.NotIn)) for op in test.ops
    ):
        return _flip(environment)
    return environment


@dataclass
class ConfigSetting:
    key: str
    value: ast.expr
    statement: ast.AST  # where a finding about it is reported
    owner: ConfigClass | None
    environment: str  # for class attributes: the branch/module verdict; the class has its own
    form: str  # "class attribute", "module constant", "app.config[...]", "config.update(...)"

    @property
    def truthy(self) -> bool | None:
        return constant_truthiness(self.value)


@dataclass(eq=False)
class ConfigClass:
    node: ast.ClassDef
    base_names: list[str]
    own: dict[str, ConfigSetting] = field(default_factory=dict)
    bases: list[ConfigClass] = field(default_factory=list)
    subclasses: list[ConfigClass] = field(default_factory=list)
    environment: str = UNKNOWN

    @property
    def name(self) -> str:
        return self.node.name

    def mro(self) -> list[ConfigClass]:
        """In-file classes in method resolution order (C3 for the in-file part)."""
        return _c3(self)

    def lookup(self, key: str) -> ConfigSetting | None:
        for klass in self.mro():
            if key in klass.own:
                return klass.own[key]
        return None

    def keys(self) -> set[str]:
        return {key for klass in self.mro() for key in klass.own}

    @property
    def looks_like_base(self) -> bool:
        return bool(self.subclasses) or any(w in BASE_NAME_WORDS for w in words(self.name))


def _c3(klass: ConfigClass, _seen: frozenset = frozenset()) -> list[ConfigClass]:
    if klass in _seen:  # a cycle in broken code: stop rather than recurse forever
        return [klass]
    sequences = [_c3(base, _seen | {klass}) for base in klass.bases] + [list(klass.bases)]
    result = [klass]
    while True:
        sequences = [seq for seq in sequences if seq]
        if not sequences:
            return result
        for sequence in sequences:
            head = sequence[0]
            if not any(head in other[1:] for other in sequences):
                break
        else:  # inconsistent hierarchy: fall back to depth-first order
            for sequence in sequences:
                for item in sequence:
                    if item not in result:
                        result.append(item)
            return result
        result.append(head)
        sequences = [seq[1:] if seq[0] is head else seq for seq in sequences]


@dataclass
class FromObject:
    call: ast.Call
    klass: ConfigClass
    environment: str


class ConfigModel:
    """All config classes and config writes of one module."""

    def __init__(self, tree: ast.Module, path: str, options: Options, is_app_config):
        self.options = options
        self._is_app_config = is_app_config  # callable: is this expression ``<app>.config``?
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "__init__":
            stem = os.path.basename(os.path.dirname(path)) or stem
        self.module_words = words(stem)
        self.module_environment = environment_of_words(self.module_words, options)
        self.is_config_module = any(w in CONFIG_NAME_WORDS for w in self.module_words) and (
            "gunicorn" not in self.module_words
        )
        self.classes: dict[str, ConfigClass] = {}
        self.settings: list[ConfigSetting] = []  # everything outside config classes
        self.from_objects: list[FromObject] = []
        self._module_constants: dict[str, ast.expr] = {}
        self._collect_classes(tree)
        self._link_classes()
        self._visit_block(tree.body, [], function_words=[], top_level=True)

    # -- classes -------------------------------------------------------------------------------

    def _collect_classes(self, tree: ast.Module) -> None:
        candidates = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        by_name = {node.name: node for node in candidates}
        config_names: set[str] = set()
        changed = True
        while changed:  # a class is a config if its name says so, or a base is one
            changed = False
            for node in candidates:
                if node.name in config_names:
                    continue
                base_names = [dotted_name(base) or "" for base in node.bases]
                if self._looks_like_config(node) or any(
                    b.rsplit(".", 1)[-1] in config_names
                    or any(w in CONFIG_NAME_WORDS for w in words(b.rsplit(".", 1)[-1]))
                    for b in base_names
                    if b
                ):
                    config_names.add(node.name)
                    changed = True
        for name in config_names:
            node = by_name[name]
            klass = ConfigClass(node, [dotted_name(base) or "" for base in node.bases])
            for statement in node.body:
                for key, value in _class_assignments(statement):
                    klass.own.setdefault(key, ConfigSetting(
                        key, value, statement, klass, UNKNOWN, "class attribute"
                    ))
            self.classes[name] = klass

    @staticmethod
    def _looks_like_config(node: ast.ClassDef) -> bool:
        if any(w in CONFIG_NAME_WORDS for w in words(node.name)):
            return True
        keys = [key for statement in node.body for key, _ in _class_assignments(statement)]
        return any(key.startswith("SQLALCHEMY_") for key in keys)

    def _link_classes(self) -> None:
        for klass in self.classes.values():
            for base_name in klass.base_names:
                base = self.classes.get(base_name.rsplit(".", 1)[-1])
                if base is not None and base is not klass:
                    klass.bases.append(base)
                    base.subclasses.append(klass)
        for klass in self.classes.values():
            klass.environment = self._class_environment(klass, set())

    def _class_environment(self, klass: ConfigClass, seen: set[str]) -> str:
        environment = environment_of_words(words(klass.name), self.options)
        if environment != UNKNOWN:
            return environment
        seen.add(klass.name)
        for base_name in klass.base_names:
            short = base_name.rsplit(".", 1)[-1]
            base = self.classes.get(short)
            if base is not None and short not in seen:
                environment = self._class_environment(base, seen)
            else:
                environment = environment_of_words(words(short), self.options)
            if environment != UNKNOWN:
                return environment
        return self.module_environment

    # -- statements outside classes ------------------------------------------------------------

    def _visit_block(
        self, body: list[ast.stmt], branches: list[str], function_words: list[str], top_level: bool
    ) -> None:
        for statement in body:
            self._visit_statement(statement, branches, function_words, top_level)

    def _environment(self, branches: list[str], function_words: list[str]) -> str:
        for verdict in reversed(branches):  # the innermost branch that says something wins
            if verdict is not None:
                return verdict
        environment = environment_of_words(function_words, self.options)
        if environment != UNKNOWN:
            return environment
        return self.module_environment

    def _visit_statement(
        self, statement: ast.stmt, branches: list, function_words: list[str], top_level: bool
    ) -> None:
        if isinstance(statement, ast.ClassDef):
            return
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._visit_block(statement.body, branches, function_words + words(statement.name), False)
            return
        if isinstance(statement, ast.If):
            verdict = branch_environment(statement.test, self.options)
            self._visit_block(statement.body, branches + [verdict], function_words, top_level)
            self._visit_block(statement.orelse, branches + [_flip(verdict)], function_words, top_level)
            return
        if isinstance(statement, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            self._visit_block(statement.body, branches, function_words, top_level)
            self._visit_block(getattr(statement, "orelse", []), branches, function_words, top_level)
            return
        if isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
            for block in (statement.body, statement.orelse, statement.finalbody):
                self._visit_block(block, branches, function_words, top_level)
            for handler in statement.handlers:
                self._visit_block(handler.body, branches, function_words, top_level)
            return
        environment = self._environment(branches, function_words)
        if top_level and self.is_config_module:
            for key, value in _class_assignments(statement):
                self._module_constants[key] = value
                self.settings.append(
                    ConfigSetting(key, value, statement, None, environment, "module constant")
                )
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and self._is_app_config(target.value)
                    and string_value(target.slice) is not None
                ):
                    key = string_value(target.slice)
                    self.settings.append(ConfigSetting(
                        key, statement.value, statement, None, environment, "app.config[...]"
                    ))
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self._visit_config_call(node, statement, environment)

    def _visit_config_call(self, call: ast.Call, statement: ast.stmt, environment: str) -> None:
        method = call.func.attr
        if not self._is_app_config(call.func.value):
            return
        if method in CONFIG_METHODS_WITH_MAPPINGS:
            form = f"config.{method}(...)"
            if method == "setdefault" and len(call.args) == 2 and string_value(call.args[0]):
                self.settings.append(ConfigSetting(
                    string_value(call.args[0]), call.args[1], call, None, environment, form
                ))
                return
            for keyword in call.keywords:
                if keyword.arg:
                    self.settings.append(
                        ConfigSetting(keyword.arg, keyword.value, keyword.value, None, environment, form)
                    )
            for argument in call.args:
                for key, value in _mapping_items(argument):
                    self.settings.append(
                        ConfigSetting(key, value, value, None, environment, form)
                    )
        elif method == "from_object" and call.args:
            target = dotted_name(call.args[0])
            klass = self.classes.get(target.rsplit(".", 1)[-1]) if target else None
            if klass is not None:
                self.from_objects.append(FromObject(call, klass, environment))

    # -- values --------------------------------------------------------------------------------

    def truthiness(self, setting: ConfigSetting, within: ConfigClass | None = None) -> bool | None:
        """Whether a setting's value is a known truthy/falsy literal (following simple names)."""
        value = setting.value
        for _ in range(5):
            if not isinstance(value, ast.Name):
                break
            referenced = within.lookup(value.id) if within is not None else None
            if referenced is not None:
                value = referenced.value
            elif value.id in self._module_constants:
                value = self._module_constants[value.id]
            else:
                return None
        return constant_truthiness(value)

    def iter_class_settings(self) -> Iterator[tuple[ConfigClass, ConfigSetting]]:
        for klass in self.classes.values():
            for setting in klass.own.values():
                yield klass, setting


def _class_assignments(statement: ast.stmt) -> Iterator[tuple[str, ast.expr]]:
    """``KEY = value`` statements with an upper-case key (Flask only reads upper-case keys)."""
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Name) and target.id.isupper():
                yield target.id, statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        if isinstance(statement.target, ast.Name) and statement.target.id.isupper():
            yield statement.target.id, statement.value


def _mapping_items(node: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if string_value(key) is not None:
                yield string_value(key), value
    elif isinstance(node, ast.Call) and dotted_name(node.func) == "dict":
        for keyword in node.keywords:
            if keyword.arg:
                yield keyword.arg, keyword.value
