"""Flask configuration as one module states it: config classes, ``app.config`` writes, branches.

Two steps, kept apart so a project index can later feed the second from other modules:

* collection: every place a config key gets a value becomes a ``ConfigSetting`` (config class
  attributes, module constants of a config module, ``app.config[...] = v``,
  ``config.update/from_mapping/setdefault``), with the environment it applies to:
  ``production``, ``development`` (which includes testing and local) or ``unknown``. The
  environment comes from the words of the class name, its bases, the enclosing function, the
  module's file name and its folder, and any ``if app.debug:``-style branch around it.
* judging: ``production_values(key)`` says which of those values end up in a production
  config, following inheritance (a base class is judged through its subclasses) and
  ``from_object``; ``settings_anywhere(key)`` lists every place a key is set, in any config.
"""

from __future__ import annotations

import ast
import os
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..astutil import constant_truthiness, dotted_name, string_value, walk
from ..options import Options

PRODUCTION = "production"
DEVELOPMENT = "development"
UNKNOWN = "unknown"

CONFIG_NAME_WORDS = {"config", "configuration", "settings", "conf", "cfg"}
# A class or module named like this is extended by the real configs, not used on its own.
BASE_NAME_WORDS = {"base", "abstract", "common", "shared", "default", "defaults"}
# Bases whose fields are read from the environment (pydantic / pydantic-settings): a literal
# there is only the fallback, and values read from the environment are not judged.
ENV_BACKED_BASES = {"BaseSettings"}
CONFIG_METHODS_WITH_MAPPINGS = {"update", "from_mapping", "setdefault"}
TEST_MODULE_STEMS = {"conftest"}

CLASS_ATTRIBUTE = "class attribute"
MODULE_CONSTANT = "module constant"
SUBSCRIPT = "app.config[...]"

_WORD_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def words(name: str) -> list[str]:
    """``ProductionConfig`` -> ``["production", "config"]``; ``config_test`` -> ``[...,"test"]``."""
    return [word.lower() for word in _WORD_SPLIT.findall(name)]


def environment_of_words(name_words: list[str], options: Options) -> str:
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


def _words_in(node: ast.AST) -> list[str]:
    found: list[str] = []
    for child in walk(node):
        if isinstance(child, ast.Name):
            found += words(child.id)
        elif isinstance(child, ast.Attribute):
            found += words(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found += words(child.value)
    return found


def _literal_words(node: ast.expr) -> list[str]:
    """Words of a string literal operand, or of the literals in a tuple/list/set operand."""
    elements = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [word for element in elements for word in words(string_value(element) or "")]


def branch_environment(test: ast.expr, options: Options) -> str | None:
    """What an ``if`` test says about the environment its body runs in, if anything."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _flip(branch_environment(test.operand, options))
    if isinstance(test, ast.BoolOp):
        verdicts = {branch_environment(value, options) for value in test.values} - {None}
        return verdicts.pop() if len(verdicts) == 1 else None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare_environment(test.left, test.ops[0], test.comparators[0], options)
    environment = environment_of_words(_words_in(test), options)
    return None if environment == UNKNOWN else environment


def _compare_environment(left: ast.expr, op: ast.cmpop, right: ast.expr, options) -> str | None:
    negated = isinstance(op, (ast.NotEq, ast.IsNot, ast.NotIn))
    if {dotted_name(left), dotted_name(right)} & {"__name__"} and "__main__" in {
        string_value(left),
        string_value(right),
    }:
        return None if negated else DEVELOPMENT  # run as a script: the development server
    for subject, other in ((left, right), (right, left)):
        if isinstance(other, ast.Constant) and any(other.value is v for v in (None, True, False)):
            # ``test_config is None`` means "no test config", ``DEBUG is False`` means "not debug"
            verdict = branch_environment(subject, options)
            return _flip(verdict) if (not other.value) != negated else verdict
    environment = environment_of_words(_literal_words(left) + _literal_words(right), options)
    if environment == UNKNOWN:
        environment = environment_of_words(_words_in(left) + _words_in(right), options)
    if environment == UNKNOWN:
        return None
    return _flip(environment) if negated else environment


@dataclass
class ConfigSetting:
    key: str
    value: ast.expr
    statement: ast.AST  # where a finding about it is reported (the key, or the statement)
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
    # The environment comes from where the class stands (an ``if`` around it, the module's or
    # folder's name), not from its own name, its bases' or ``TESTING``: a base class there
    # is still judged through its subclasses.
    environment_from_context: bool = False
    branch_environment: str | None = None  # from an ``if`` around the class statement
    reads_environment: bool = False  # a pydantic ``BaseSettings``: values come from os.environ
    extended_elsewhere: bool = False  # another module of the project subclasses it

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
        if self.subclasses or self.extended_elsewhere:
            return True
        return any(w in BASE_NAME_WORDS for w in words(self.name))


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


@dataclass(frozen=True, eq=False)
class ProductionValue:
    """A config value that ends up in a production config, and where to report it."""

    setting: ConfigSetting  # where the value is written
    site: ast.AST  # where a finding goes: the setting, the inheriting class, the from_object call
    config: ConfigClass | None  # the production config class that ends up with the value
    from_object: FromObject | None = None  # set when a base class is loaded directly

    @property
    def inherited(self) -> bool:
        """The value comes from a base class of ``config`` (the site is the subclass)."""
        return self.config is not None and self.from_object is None and (
            self.setting.owner is not self.config
        )


@dataclass
class _RawFromObject:
    call: ast.Call
    class_name: str
    environment: str


class ConfigModel:
    """All config classes and config writes of one module."""

    def __init__(
        self, tree: ast.Module, path: str, options: Options, is_app_config, config_lines: list[int]
    ):
        self.options = options
        self._is_app_config = is_app_config  # callable: is this expression ``<app>.config``?
        # Lines whose text says ``.config``: only statements there can write the app's config.
        self._config_lines = config_lines
        self._read_path(path)
        self.classes: dict[str, ConfigClass] = {}
        self.settings: list[ConfigSetting] = []  # config writes outside config classes
        self.module_constants: list[ConfigSetting] = []  # every top-level ``KEY = value``
        self.from_objects: list[FromObject] = []
        self.loads_own_module = False  # ``app.config.from_object(__name__)``
        self._names: dict[str, ast.expr | None] = {}  # top-level names; None: assigned twice
        self._class_nodes: list[tuple[ast.ClassDef, str | None]] = []
        self._raw_from_objects: list[_RawFromObject] = []
        self._visit_block(tree.body, [], function_words=[], top_level=True)
        if self.is_config_module or self.loads_own_module:
            self.settings = self.module_constants + self.settings
        self._collect_classes()
        self._link_classes()
        self.from_objects = [
            FromObject(raw.call, self.classes[raw.class_name], raw.environment)
            for raw in self._raw_from_objects
            if raw.class_name in self.classes
        ]

    def _read_path(self, path: str) -> None:
        stem = os.path.splitext(os.path.basename(path))[0]
        folder = os.path.basename(os.path.dirname(path))
        if stem == "__init__":
            stem, folder = folder or stem, os.path.basename(os.path.dirname(os.path.dirname(path)))
        self.module_words = words(stem)
        folder_words = words(folder)
        self.module_environment = environment_of_words(self.module_words, self.options)
        if stem in TEST_MODULE_STEMS:
            self.module_environment = DEVELOPMENT
        elif self.module_environment == UNKNOWN:  # tests/helpers.py, config/prod/__init__.py
            self.module_environment = environment_of_words(folder_words, self.options)
        self.is_config_module = "gunicorn" not in self.module_words and any(
            w in CONFIG_NAME_WORDS for w in self.module_words + folder_words
        )
        # settings/base.py, default_settings.py: extended by other modules, judged through them
        self.is_base_module = any(w in BASE_NAME_WORDS for w in self.module_words)

    # -- statements ----------------------------------------------------------------------------

    def _visit_block(
        self, body: list[ast.stmt], branches: list, function_words: list[str], top_level: bool
    ) -> None:
        for statement in body:
            self._visit_statement(statement, branches, function_words, top_level)

    def _environment(self, branches: list, function_words: list[str]) -> str:
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
            if top_level:
                verdict = next((v for v in reversed(branches) if v is not None), None)
                self._class_nodes.append((statement, verdict))
            class_words = function_words + words(statement.name)
            for child in statement.body:  # init_app(cls, app) methods write app.config too
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self._visit_statement(child, branches, class_words, False)
            return
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner_words = function_words + words(statement.name)
            if any(_is_fixture_decorator(d) for d in statement.decorator_list):
                inner_words.append("test")  # @pytest.fixture def app(): ...
            self._visit_block(statement.body, branches, inner_words, False)
            return
        if isinstance(statement, ast.If):
            verdict = branch_environment(statement.test, self.options)
            self._visit_block(statement.body, branches + [verdict], function_words, top_level)
            orelse_branches = branches + [_flip(verdict)]
            self._visit_block(statement.orelse, orelse_branches, function_words, top_level)
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
        if top_level:
            self._visit_module_assignment(statement, environment, conditional=bool(branches))
        if not self._mentions_config(statement):
            return
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and string_value(target.slice) is not None
                    and self._is_app_config(target.value)
                ):
                    self.settings.append(ConfigSetting(
                        string_value(target.slice), statement.value, statement, None,
                        environment, SUBSCRIPT,
                    ))
        for node in walk(statement):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                self._visit_config_call(node, environment)

    def _mentions_config(self, statement: ast.stmt) -> bool:
        lines = self._config_lines
        position = bisect_left(lines, statement.lineno)
        return position < len(lines) and lines[position] <= (statement.end_lineno or statement.lineno)

    def _visit_module_assignment(
        self, statement: ast.stmt, environment: str, conditional: bool
    ) -> None:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        for target in targets:
            if isinstance(target, ast.Name):
                known = target.id in self._names
                self._names[target.id] = None if known or conditional else statement.value
        for key, value in _class_assignments(statement):
            self.module_constants.append(
                ConfigSetting(key, value, statement, None, environment, MODULE_CONSTANT)
            )

    def _visit_config_call(self, call: ast.Call, environment: str) -> None:
        method = call.func.attr
        if method not in CONFIG_METHODS_WITH_MAPPINGS and method != "from_object":
            return
        if not self._is_app_config(call.func.value):
            return
        if method == "from_object":
            if call.args and isinstance(call.args[0], ast.Name):
                if call.args[0].id == "__name__":
                    self.loads_own_module = True
                else:
                    self._raw_from_objects.append(
                        _RawFromObject(call, call.args[0].id, environment)
                    )
            return
        form = f"config.{method}(...)"
        if method == "setdefault":
            if len(call.args) == 2 and string_value(call.args[0]):
                self.settings.append(ConfigSetting(
                    string_value(call.args[0]), call.args[1], call.args[0], None, environment, form
                ))
            return
        items: list[tuple[str, ast.expr, ast.AST]] = []
        for keyword in call.keywords:
            if keyword.arg:
                items.append((keyword.arg, keyword.value, keyword))
            else:  # update(**{"KEY": value})
                items.extend(_mapping_items(keyword.value))
        for argument in call.args:
            items.extend(_mapping_items(argument))
        if any(key == "TESTING" and constant_truthiness(value) for key, value, _ in items):
            environment = DEVELOPMENT  # update(TESTING=True, ...) is a test configuration
        for key, value, site in items:
            self.settings.append(ConfigSetting(key, value, site, None, environment, form))

    # -- classes -------------------------------------------------------------------------------

    def _collect_classes(self) -> None:
        candidates = {node.name: (node, verdict) for node, verdict in self._class_nodes}
        loaded = {raw.class_name for raw in self._raw_from_objects}
        config_names: set[str] = set()
        changed = True
        while changed:  # a class is a config if its name or contents say so, or a base is one
            changed = False
            for name, (node, _) in candidates.items():
                if name in config_names:
                    continue
                if name in loaded or self._looks_like_config(node) or any(
                    short in config_names or any(w in CONFIG_NAME_WORDS for w in words(short))
                    for short in _base_short_names(node)
                ):
                    config_names.add(name)
                    changed = True
        for name in config_names:
            node, verdict = candidates[name]
            klass = ConfigClass(node, [dotted_name(base) or "" for base in node.bases])
            klass.branch_environment = verdict
            for statement in node.body:
                for key, value in _class_assignments(statement):
                    klass.own.setdefault(key, ConfigSetting(
                        key, value, statement, klass, UNKNOWN, CLASS_ATTRIBUTE
                    ))
            self.classes[name] = klass

    def _looks_like_config(self, node: ast.ClassDef) -> bool:
        if any(w in CONFIG_NAME_WORDS for w in words(node.name)):
            return True
        keys = [key for statement in node.body for key, _ in _class_assignments(statement)]
        if self.is_config_module:  # class Production: in config.py
            return bool(keys)
        return any(key.startswith("SQLALCHEMY_") for key in keys)

    def _link_classes(self) -> None:
        for klass in self.classes.values():
            for base_name in klass.base_names:
                base = self.classes.get(base_name.rsplit(".", 1)[-1])
                if base is not None and base is not klass and base not in klass.bases:
                    klass.bases.append(base)
                    base.subclasses.append(klass)
        for klass in self.classes.values():
            klass.environment, klass.environment_from_context = self._class_environment(
                klass, set()
            )
            klass.reads_environment = any(
                short in ENV_BACKED_BASES
                for member in klass.mro()
                for short in _base_short_names(member.node)
            )

    def _class_environment(self, klass: ConfigClass, seen: set[str]) -> tuple[str, bool]:
        """The class's environment, and whether only its context (branch, module) said so."""
        environment = environment_of_words(words(klass.name), self.options)
        if environment != UNKNOWN:
            return environment, False
        seen.add(klass.name)
        for short in _base_short_names(klass.node):
            base = self.classes.get(short)
            from_context = False
            if base is not None and short not in seen:
                environment, from_context = self._class_environment(base, seen)
            else:
                environment = environment_of_words(words(short), self.options)
            if environment != UNKNOWN:
                return environment, from_context
        testing = klass.lookup("TESTING")
        if testing is not None and constant_truthiness(testing.value):
            return DEVELOPMENT, False  # Flask's own testing flag
        environment = klass.branch_environment or self.module_environment
        return environment, environment != UNKNOWN

    def mark_extended_elsewhere(self, names: set[str]) -> None:
        """Classes other modules of the project subclass: judged through those subclasses."""
        for name in names:
            if name in self.classes:
                self.classes[name].extended_elsewhere = True

    # -- values --------------------------------------------------------------------------------

    def truthiness(self, setting: ConfigSetting, within: ConfigClass | None = None) -> bool | None:
        """Whether a setting's value is a known truthy/falsy literal (following simple names).

        A name in a class body is looked up in that class's own namespace, then in the
        module: that is where Python evaluated it, whichever subclass inherits the result.
        ``within`` is accepted for compatibility and ignored.
        """
        value: ast.expr | None = setting.value
        scope = setting.owner
        for _ in range(5):
            if not isinstance(value, ast.Name):
                break
            if scope is not None and value.id in scope.own and scope.own[value.id] is not setting:
                value = scope.own[value.id].value
            elif value.id in self._names:
                value, scope = self._names[value.id], None
            else:
                return None
        return constant_truthiness(value)

    def iter_class_settings(self) -> Iterator[tuple[ConfigClass, ConfigSetting]]:
        for klass in self.classes.values():
            for setting in klass.own.values():
                yield klass, setting

    # -- judging -------------------------------------------------------------------------------

    def is_production_class(self, klass: ConfigClass) -> bool:
        """Whether a config class is used as a production config on its own.

        Production by its name, a base, a branch or the module's name; or not clearly
        development and not a base class (a base is judged through its subclasses, also in a
        production module or branch: the finding goes to each production subclass that ends
        up with the value). A class this module only loads in development branches counts as
        development.
        """
        extended = bool(klass.subclasses) or klass.extended_elsewhere
        if klass.environment != UNKNOWN and not (klass.environment_from_context and extended):
            return klass.environment == PRODUCTION
        if klass.looks_like_base:
            return False
        loads = [load for load in self.from_objects if load.klass is klass]
        return not (loads and all(load.environment == DEVELOPMENT for load in loads))

    def production_values(self, key: str) -> Iterator[ProductionValue]:
        """Every place ``key`` ends up truthy in a production config, reported once each."""
        for klass in self.classes.values():
            if klass.reads_environment or not self.is_production_class(klass):
                continue
            setting = klass.lookup(key)
            if setting is None or self.truthiness(setting) is not True:
                continue
            if setting.owner is klass:
                yield ProductionValue(setting, setting.statement, klass)
            elif not any(
                self.is_production_class(base) and base.lookup(key) is setting
                for base in klass.mro()[1:]
            ):  # else: reported at the nearer production base that has the same value
                yield ProductionValue(setting, klass.node, klass)
        for load in self.from_objects:
            klass = load.klass
            if (
                load.environment == DEVELOPMENT
                or klass.environment == DEVELOPMENT
                or klass.reads_environment
                or self.is_production_class(klass)  # already reported at the class
            ):
                continue
            setting = klass.lookup(key)
            if setting is not None and self.truthiness(setting) is True:
                yield ProductionValue(setting, load.call, klass, load)
        for setting in self.settings:
            if setting.key != key or setting.environment == DEVELOPMENT:
                continue
            if setting.form == MODULE_CONSTANT and self.is_base_module:
                continue
            if self.truthiness(setting) is True:
                yield ProductionValue(setting, setting.statement, None)

    def settings_anywhere(self, key: str) -> Iterator[ConfigSetting]:
        """Every place this module sets ``key``, in any config, development ones included.

        Top-level constants count in any module (``from_object(__name__)``, a defaults module
        loaded by name elsewhere); a pydantic ``BaseSettings`` field is read from the
        environment and does not count.
        """
        seen: set[int] = set()
        candidates = [
            setting
            for klass in self.classes.values()
            if not klass.reads_environment
            for setting in klass.own.values()
        ]
        for setting in candidates + self.module_constants + self.settings:
            if setting.key == key and id(setting) not in seen:
                seen.add(id(setting))
                yield setting


def _is_fixture_decorator(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (dotted_name(target) or "").rsplit(".", 1)[-1] == "fixture"


def _base_short_names(node: ast.ClassDef) -> list[str]:
    return [name.rsplit(".", 1)[-1] for name in map(dotted_name, node.bases) if name]


def _class_assignments(statement: ast.stmt) -> Iterator[tuple[str, ast.expr]]:
    """``KEY = value`` statements with an upper-case key (Flask only reads upper-case keys)."""
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Name) and target.id.isupper():
                yield target.id, statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        if isinstance(statement.target, ast.Name) and statement.target.id.isupper():
            yield statement.target.id, statement.value


def _mapping_items(node: ast.expr) -> Iterator[tuple[str, ast.expr, ast.AST]]:
    """``(key, value, key node)`` of a dict display or ``dict(KEY=value)``, string keys only."""
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if key is not None and string_value(key) is not None:
                yield string_value(key), value, key
    elif isinstance(node, ast.Call) and dotted_name(node.func) == "dict":
        for keyword in node.keywords:
            if keyword.arg:
                yield keyword.arg, keyword.value, keyword
