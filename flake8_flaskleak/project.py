"""Whole-project facts: what the other modules of the same project register, define and clean up.

Real services spread one leak over several files: the route in ``api.py`` calls the helper in
``logging.py`` that writes the thread-local; the teardown in ``app.py`` removes the session
``extensions.py`` creates. The per-file analysis cannot see either half alone.

The index is built lazily, the first time a rule asks a cross-module question about a file:

1. find the project root (``find_root``: nearest ``pyproject.toml``, ``setup.cfg``,
   ``setup.py`` not inside a package, or ``.git``; else the top of the package chain);
2. list its ``.py`` files; read each regular file (bounded: no FIFO or device is ever opened
   for reading) and keep only those whose text can matter (cheap test); a file that cannot be
   read or parsed is left out and named once on stderr;
3. for each kept file, reuse its facts from the on-disk cache when its content hash matches,
   otherwise parse it with ``ast`` and collect facts with the same per-file model the rules use
   (nothing is imported or executed);
4. join the facts: which functions anywhere run per request (following calls across modules),
   and what each rule wants to know about other modules (``Rule.project_facts``).

The index is cached per process (flake8 asks once per file) and on disk under
``<root>/.flaskleak_cache/`` between runs, keyed by each file's content hash, so a pre-commit
run on one changed file re-analyses one file.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sysconfig
import tempfile
from collections import deque
from dataclasses import dataclass
from functools import cached_property, lru_cache

from . import __version__
from .options import Options
from .source import (
    SourceError,
    decode_source,
    notice_once,
    parse_text,
    read_regular_file,
    retry_with_deep_stack,
)

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
CACHE_DIRECTORY = ".flaskleak_cache"
CACHE_FORMAT = 3  # bump when the shape of the cached facts changes
FACT_KEYS = ("module", "functions", "calls", "entries", "rules")
SKIP_DIRECTORIES = {
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".env", ".tox", ".nox",
    "build", "dist", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    CACHE_DIRECTORY, "site-packages", ".eggs",
}
# A module can only contribute request-time entry points or calls out of them if it says one
# of these; rules add their own fact triggers (``Rule.project_fact_triggers``).
MODEL_TRIGGERS = (
    "route", "_request", "teardown_", "errorhandler", "context_processor", "add_url_rule",
    "MethodView", "Resource", "View", "endpoint",
)
MAX_FILE_BYTES = 2_000_000  # generated monsters hold no project facts worth their parse time
_roots: dict[str, str | None] = {}
_indexes: dict[tuple[str, Options], ProjectIndex] = {}


def find_root(path: str) -> str | None:
    """The project a file belongs to, for cross-module analysis: the nearest directory at or
    above it with ``pyproject.toml``, ``setup.cfg`` or ``setup.py`` (not one inside a package:
    a tool's config beside an ``__init__.py`` does not split the project) or ``.git``; without
    one, the top of the file's package chain (None for a loose file: it is analysed alone)."""
    directory = os.path.dirname(os.path.abspath(path))
    visited = []
    found = None
    while True:
        if directory in _roots:
            found = _roots[directory]
            break
        visited.append(directory)
        if _is_project_directory(directory):
            found = directory
            break
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for directory in visited:
        _roots[directory] = found
    if found is None:
        return _top_of_package_chain(os.path.dirname(os.path.abspath(path)))
    return found


def _is_project_directory(directory: str) -> bool:
    if os.path.exists(os.path.join(directory, ".git")):
        return True
    if os.path.isfile(os.path.join(directory, "__init__.py")):
        return False
    return any(os.path.exists(os.path.join(directory, marker)) for marker in ROOT_MARKERS)


def _top_of_package_chain(directory: str) -> str | None:
    top = None
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        top = directory
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return top


@lru_cache(maxsize=1)
def _installed_code_prefixes() -> tuple[str, ...]:
    """Where installed code lives: the stdlib and site-packages are nobody's project."""
    paths = sysconfig.get_paths()
    prefixes = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    return tuple(os.path.join(os.path.realpath(p), "") for p in prefixes)


def project_for(path: str, options: Options) -> ProjectIndex | None:
    if not options.project_analysis or not path or not os.path.isfile(path):
        return None
    real = os.path.realpath(path)
    if real.startswith(_installed_code_prefixes()) or f"{os.sep}site-packages{os.sep}" in real:
        return None
    root = find_root(path)
    if root is None:
        return None
    key = (root, options)
    if key not in _indexes:
        _indexes[key] = ProjectIndex(root, options)
    return _indexes[key]


@dataclass(frozen=True)
class ExternalReach:
    """A function of this module that request-time code in another module calls."""

    description: str  # "route '/users' `list_users` in app/api.py"


class ProjectIndex:
    def __init__(self, root: str, options: Options):
        self.root = root
        self.options = options

    # -- files ---------------------------------------------------------------------------------

    def python_files(self) -> list[str]:
        found = []
        for directory, subdirectories, files in os.walk(self.root):
            subdirectories[:] = sorted(
                d for d in subdirectories if d not in SKIP_DIRECTORIES and not d.endswith(".egg-info")
            )
            for name in sorted(files):
                if name.endswith(".py"):
                    found.append(os.path.join(directory, name))
        return found

    @cached_property
    def _fact_rules(self):
        from .engine import ALL_RULES

        return [rule for rule in ALL_RULES if rule.project_fact_triggers]

    def _matters(self, text: str) -> bool:
        if any(trigger in text for trigger in MODEL_TRIGGERS):
            return True
        return any(
            trigger in text for rule in self._fact_rules for trigger in rule.project_fact_triggers
        )

    # -- facts per module ----------------------------------------------------------------------

    @cached_property
    def _files(self) -> dict[str, tuple[str, bool]]:
        """Relative path -> (content hash, whether its text can hold facts), for every file."""
        from .rule import module_name_for

        self._cache = self._load_cache()
        self._dirty = False
        self._unreadable: set[str] = set()
        files: dict[str, tuple[str, bool]] = {}
        self._module_paths: dict[str, str] = {}
        self._texts: dict[str, bytes] = {}
        for path in self.python_files():
            relative = os.path.relpath(path, self.root)
            try:  # only regular files, bounded: a FIFO or /dev/zero named *.py must not hang us
                data = read_regular_file(path, MAX_FILE_BYTES)
            except SourceError as error:
                notice_once(path, f"left out of the project index: {error.message}")
                continue
            digest = hashlib.blake2b(data, digest_size=16).hexdigest()
            cached = self._cache.get(relative)
            if _valid_entry(cached) and cached["hash"] == digest:
                relevant = cached["relevant"]
            else:
                relevant = self._matters(data.decode("utf-8", "replace"))
                self._cache[relative] = {"hash": digest, "relevant": relevant}
                self._dirty = True
            files[relative] = (digest, relevant)
            self._texts[relative] = data
            module, _ = module_name_for(path)
            if module:
                self._module_paths.setdefault(module, relative)
        return files

    def facts_of(self, relative: str) -> dict | None:
        """One module's facts (``module``, ``functions``, ``calls``, ``entries``, ``rules``)."""
        if relative not in self._files:
            return None
        entry = self._cache[relative]
        if relative in self._unreadable:
            return None
        if "facts" not in entry:
            path = os.path.join(self.root, relative)
            try:
                entry["facts"] = self._collect(path, self._texts[relative])
            except Exception as error:  # one bad module never costs another file its findings
                if os.environ.get("FLASKLEAK_STRICT") and not isinstance(error, SourceError):
                    raise
                if isinstance(error, SourceError):
                    reason = f"{error.code} {error.message}"
                else:
                    reason = f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
                notice_once(path, f"left out of the project index: {reason}")
                self._unreadable.add(relative)  # not cached on disk: said again next run
                return None
            self._dirty = True
        return entry["facts"]

    @cached_property
    def modules(self) -> dict[str, dict]:
        """Relative path -> facts, for every module whose text can hold facts."""
        result = {}
        for relative, (_, relevant) in self._files.items():
            if relevant:
                facts = self.facts_of(relative)
                if facts is not None:
                    result[relative] = facts
        return result

    def save(self) -> None:
        if getattr(self, "_dirty", False):
            live = set(self._files)
            self._save_cache({k: v for k, v in self._cache.items() if k in live})
            self._dirty = False

    def _collect(self, path: str, data: bytes) -> dict | None:
        text = decode_source(data)
        tree = parse_text(text, path)  # deep generated code gets a larger stack
        return retry_with_deep_stack(self._facts_of_tree, tree, text, path)

    def _facts_of_tree(self, tree: ast.Module, text: str, path: str) -> dict:
        from .rule import Analysis

        analysis = Analysis(tree, text, path, self.options, project=None)
        facts = {
            "module": analysis.module[0],
            "functions": [],
            "calls": {},
            "entries": {},
            "rules": {},
        }
        flask = analysis.flask
        for function, info in flask.functions.items():
            facts["functions"].append(info.qualname)
            local = sorted({flask.functions[c].qualname for c in flask.callees(function)})
            imported = sorted(set(flask.imported_calls(function)))
            if local or imported:
                facts["calls"][info.qualname] = {"local": local, "imported": imported}
        for entry in flask.entry_points:
            qualname = flask.functions[entry.function].qualname
            facts["entries"].setdefault(qualname, f"{entry.description} `{entry.function.name}`")
        for rule in self._fact_rules:
            if any(trigger in text for trigger in rule.project_fact_triggers):
                rule_facts = rule(analysis).project_facts()
                if rule_facts:
                    facts["rules"][rule.code] = rule_facts
        return facts

    # -- joined facts --------------------------------------------------------------------------

    def _locate(self, qualified: str) -> tuple[str, str] | None:
        """``pkg.mod.func`` -> (relative path of ``pkg.mod``, ``func``), loading that module."""
        self._files  # noqa: B018 - builds the module map
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            relative = self._module_paths.get(".".join(parts[:cut]))
            if relative is not None:
                facts = self.facts_of(relative)
                if facts is None:
                    return None
                return relative, ".".join(parts[cut:])
        return None

    def module_file(self, qualified: str) -> str | None:
        """The relative path of the project module ``qualified`` is (or is defined in):
        ``shop.config.BaseConfig`` -> ``shop/config.py``; None for anything not in the project."""
        self._files  # noqa: B018 - builds the module map
        parts = qualified.split(".")
        for cut in range(len(parts), 0, -1):
            relative = self._module_paths.get(".".join(parts[:cut]))
            if relative is not None:
                return relative
        return None

    def _targets_of(self, name: str) -> list[tuple[str, str]]:
        """Functions an imported qualified name runs: itself, a class's ``__init__``, or the
        wrappers nested in a decorator (``name.<locals>``)."""
        wrappers = name.endswith(".<locals>")
        located = self._locate(name[: -len(".<locals>")] if wrappers else name)
        if located is None:
            return []
        relative, qualname = located
        functions = self.facts_of(relative)["functions"]
        if wrappers:
            prefix = qualname + ".<locals>."
            return [(relative, q) for q in functions if q.startswith(prefix)]
        if qualname in functions:
            return [(relative, qualname)]
        if f"{qualname}.__init__" in functions:
            return [(relative, f"{qualname}.__init__")]
        return []

    @cached_property
    def request_time(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(relative path, qualname) -> (how it is reached, the file of its entry point)."""
        reached: dict[tuple[str, str], tuple[str, str]] = {}
        queue: deque[tuple[str, str]] = deque()
        for relative, facts in self.modules.items():
            for qualname, description in facts["entries"].items():
                shown = relative.replace(os.sep, "/")
                reached[(relative, qualname)] = (f"{description} in {shown}", relative)
                queue.append((relative, qualname))
        while queue:
            relative, qualname = queue.popleft()
            how = reached[(relative, qualname)]
            calls = self.facts_of(relative)["calls"].get(qualname, {})
            targets = [(relative, local) for local in calls.get("local", [])]
            for name in calls.get("imported", []):
                targets.extend(self._targets_of(name))
            for target in targets:
                if target not in reached:
                    reached[target] = how
                    queue.append(target)
        self.save()
        return reached

    def reached_from_elsewhere(self, path: str) -> dict[str, str]:
        """Qualnames in ``path`` run per request because code in ANOTHER module calls them."""
        relative = os.path.relpath(os.path.abspath(path), self.root)
        return {
            qualname: description
            for (where, qualname), (description, origin) in self.request_time.items()
            if where == relative and origin != relative
        }

    def module_source(self, module: str) -> tuple[str, str] | None:
        """(relative path, text) of the project module ``pkg.mod``; None if it is not one."""
        self._files  # noqa: B018 - builds the module map
        relative = self._module_paths.get(module)
        if relative is None:
            return None
        return relative, self._texts[relative].decode("utf-8", "replace")

    def rule_facts(self, code: str, exclude_path: str | None = None) -> list[tuple[str, dict]]:
        """(relative path, facts) of every module that contributed facts for rule ``code``."""
        excluded = os.path.relpath(os.path.abspath(exclude_path), self.root) if exclude_path else None
        found = [
            (relative, facts["rules"][code])
            for relative, facts in self.modules.items()
            if code in facts["rules"] and relative != excluded
        ]
        self.save()
        return found

    # -- disk cache ----------------------------------------------------------------------------

    @property
    def _cache_file(self) -> str:
        triggers = sorted((rule.code, rule.project_fact_triggers) for rule in self._fact_rules)
        key = repr((CACHE_FORMAT, self.options, MODEL_TRIGGERS, triggers)).encode()
        fingerprint = hashlib.blake2b(key, digest_size=6).hexdigest()
        return os.path.join(self.root, CACHE_DIRECTORY, f"index-{__version__}-{fingerprint}.json")

    def _load_cache(self) -> dict:
        if os.environ.get("FLASKLEAK_NO_CACHE"):  # `flaskleak --no-cache`, or set by hand
            return {}
        try:
            with open(self._cache_file, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _save_cache(self, cache: dict) -> None:
        if os.environ.get("FLASKLEAK_NO_CACHE"):
            return
        directory = os.path.dirname(self._cache_file)
        try:
            os.makedirs(directory, exist_ok=True)
            ignore = os.path.join(directory, ".gitignore")
            if not os.path.exists(ignore):
                with open(ignore, "w", encoding="utf-8") as handle:
                    handle.write("# created by flake8-flaskleak\n*\n")
            descriptor, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(cache, handle)
            os.replace(temporary, self._cache_file)
            for stale in os.listdir(directory):  # indexes of other versions or options
                if stale.startswith("index-") and stale != os.path.basename(self._cache_file):
                    os.remove(os.path.join(directory, stale))
        except OSError:
            pass  # a read-only checkout still gets the analysis, just not the cache


def _valid_entry(entry: object) -> bool:
    """A cache entry this version wrote: anything else (older format, hand-edited) is redone."""
    if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
        return False
    if not isinstance(entry.get("relevant"), bool):
        return False
    facts = entry.get("facts", {})
    return facts is None or (isinstance(facts, dict) and (not facts or all(k in facts for k in FACT_KEYS)))
