"""Whole-project facts: what the other modules of the same project register, define and clean up.

Real services spread one leak over several files: the route in ``api.py`` calls the helper in
``logging.py`` that writes the thread-local; the teardown in ``app.py`` removes the session
``extensions.py`` creates. The per-file analysis cannot see either half alone.

The index costs what it must, and no more:

1. the project's ``.py`` files are listed and ``stat``-ed (regular files only: a FIFO or a
   device named ``*.py`` is skipped and named once, never opened);
2. a file's cached entry is reused while its size and modification time match (then its
   content hash is checked), so a warm run reads no file it has seen;
3. a file is read (with a size cap) only to decide, from its text, whether it can register
   request entry points or teardowns; it is parsed only when its facts are needed: it has
   entry points, request-time code elsewhere calls into it, or a question names it;
4. facts are JSON (``module_facts.py``), stored per file in ``.flaskleak_cache/`` at the
   project root, written atomically (not for a root found without a marker: a folder of
   loose scripts is analysed as one project, but nothing is written into it).

A file that cannot be read or parsed is left out of the index and named once on stderr; it
never affects another file's findings. Nothing is imported or executed.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import stat
import sysconfig
import tempfile
import time
import unicodedata
from collections import deque
from functools import cached_property, lru_cache

from .. import __version__
from ..options import Options
from ..source import (
    SourceError,
    decode_source,
    notice_once,
    parse_text,
    read_regular_file,
    retry_with_deep_stack,
)
from .containers import container_facts
from .config_project import class_bases_facts
from .file import TEST_FOLDERS, FileModel, ProjectPrivilege, is_test_file_name
from .module_facts import (
    CLEANUP_SIGNALS,
    call_facts,
    has_entry_signals,
    has_startup_signals,
    startup_facts,
)
from .raising import raising_facts
from .callers import callers_role, importers_role
from .roles import defines_context_task_base
from .setup import setup_facts
from .taint import argument_for
from .teardowns import SESSION_HANDOFF, import_facts, session_handoff_facts, teardown_facts

CACHE_DIRECTORY = ".flaskleak_cache"
SAVE_INTERVAL_SECONDS = 15.0  # new facts are written at most this often, and at exit
SEARCH_MEMORY_BYTES = 32_000_000  # project text kept in memory for the text searches
CACHE_FORMAT = 11  # bump when the shape of the cached facts changes
# The name after ``def``/``class``, read without consuming it: in ``return column_def`` then
# ``def work():`` the first match names ``def``, and the next one must still find ``work``. A
# literal first lets the regex engine skip ahead; a backslash may continue the line.
DEF_NAME = re.compile(r"def(?:\s|\\)+(?=(\w+))")
CLASS_NAME = re.compile(r"class(?:\s|\\)+(?=(\w+))")
REACH_KEY = "<reach>"  # not a file name: the cached walk of ``request_time``
SKIP_DIRECTORIES = {
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".env", ".tox", ".nox",
    "build", "dist", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    CACHE_DIRECTORY, "site-packages", ".eggs",
}
MAX_FILE_BYTES = 2_000_000  # generated monsters hold no project facts worth their parse time
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py")
FACT_GROUPS = {
    "calls": call_facts,
    "teardowns": teardown_facts,
    "containers": container_facts,
    "configs": lambda model: class_bases_facts(model),
    "startup": startup_facts,
    "handoffs": session_handoff_facts,
    "raising": raising_facts,
    "imports": import_facts,
    "setup": setup_facts,
}
_roots: dict[str, str | None] = {}
_indexes: dict[tuple[str, Options], ProjectIndex] = {}
# The bytes the text searches keep, shared by every project index of the process (a flake8 run
# over many projects included), given back when an index is released.
_search_memory = [0]
_unmarked: set[str] = set()  # roots found without a marker: analysed, but no cache written there


def find_root(path: str) -> str | None:
    """The project a file belongs to: the nearest folder at or above it with a
    ``pyproject.toml``, ``setup.cfg``, ``.git`` or a ``setup.py`` that is not inside a package;
    without one, the folder holding the top of the file's package chain (None for a loose
    script, which is analysed alone)."""
    directory = os.path.dirname(os.path.abspath(path))
    if directory in _roots:
        return _roots[directory]
    visited = []
    found = None
    current = directory
    while True:
        if current in _roots:
            found = _roots[current]
            break
        visited.append(current)
        if _is_root(current):
            found = current
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    if found is None:  # no marker up to the top: only this folder's answer can be kept
        found = _package_top(directory)
        if found is not None:
            _unmarked.add(found)
        visited = [directory]
    for folder in visited:
        _roots[folder] = found
    return found


def _is_root(directory: str) -> bool:
    """A ``.git`` always marks a project; the other markers only outside a package (a tool's
    config beside an ``__init__.py`` does not split the project)."""
    if os.path.exists(os.path.join(directory, ".git")):
        return True
    if os.path.isfile(os.path.join(directory, "__init__.py")):
        return False
    return any(os.path.exists(os.path.join(directory, marker)) for marker in ROOT_MARKERS)


def _package_top(directory: str) -> str | None:
    """The folder above the outermost package that holds ``directory``; None when it is not in
    a package (a loose script is analysed alone)."""
    if not os.path.isfile(os.path.join(directory, "__init__.py")):
        return None
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory


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
    return index_at(find_root(path), options)


def index_at(root: str | None, options: Options) -> ProjectIndex | None:
    """The one index of the project at ``root`` for these options in this process."""
    if root is None:
        return None
    key = (root, options)
    if key not in _indexes:
        _indexes[key] = ProjectIndex(root, options)
    return _indexes[key]


def read_file_entry(root: str, relative: str, signature, options: Options) -> dict | None:
    """A file's new cache entry, read from disk (``SourceError`` when it cannot be read), or
    None for a file too big to hold project facts (generated data, checked on its own)."""
    if signature[0] > MAX_FILE_BYTES:
        return None
    data = read_regular_file(os.path.join(root, relative), MAX_FILE_BYTES)
    return describe_file(data, signature, options)


def describe_file(data: bytes, signature, options: Options) -> dict:
    """A file's cache entry from its bytes: content hash and the text signals that say which
    facts it can have; its facts are computed when asked."""
    text = data.decode("utf-8", "replace")
    return {
        "size": signature[0],
        "mtime": signature[1],
        "hash": hashlib.blake2b(data, digest_size=16).hexdigest(),
        "entry": has_entry_signals(text, options),
        "teardown": any(signal in text for signal in CLEANUP_SIGNALS),
        "handoff": SESSION_HANDOFF in text,
        "startup": has_startup_signals(text),
        "facts": {},
    }


def release_index(root: str | None, options: Options) -> None:
    """Save and forget the index of the project at ``root``: a run that has checked the last
    of the project's files frees its facts and texts before the next project's index grows."""
    index = _indexes.pop((root, options), None)
    if index is not None:
        index.close()


def prebuild(paths, options: Options) -> None:
    """Build the request-time closure of the projects holding ``paths`` now, in this process:
    worker processes forked afterwards share it, and the disk cache serves the others (a
    spawned worker, the next run). Without it, each of N workers would build it again."""
    for index in indexes_for(paths, options):
        walk_reach(index)


def walk_reach(index: ProjectIndex) -> None:
    """Walk the project's request-time reach now (worker processes forked afterwards inherit
    it); a failure leaves the run to go on without it, as every project-index failure does."""
    try:
        index.request_time  # noqa: B018 - computed here, shared by the workers
    except Exception:  # the project index is an extra: never fail the run on it
        if os.environ.get("FLASKLEAK_STRICT"):
            raise


def indexes_for(paths, options: Options) -> list[ProjectIndex]:
    """The project indexes of the projects holding ``paths`` (files or folders), once each."""
    if not options.project_analysis:
        return []
    found: dict[str, ProjectIndex] = {}
    for path in paths:
        try:
            if os.path.isdir(path):
                index = _index_for_directory(path, options)
            else:
                index = project_for(path, options)
        except Exception:  # the project index is an extra: never fail the run on it
            if os.environ.get("FLASKLEAK_STRICT"):
                raise
            continue
        if index is not None:
            found.setdefault(index.root, index)
    return list(found.values())


def _index_for_directory(directory: str, options: Options) -> ProjectIndex | None:
    return index_at(find_root(os.path.join(os.path.abspath(directory), "__probe__.py")), options)


def name_once(path: str, why: str) -> None:
    """Tell the user, once per file and process, that a project file was left out."""
    notice_once(path, f"left out of the project index: {why}")


class ProjectIndex:
    def __init__(self, root: str, options: Options):
        self.root = root
        self.options = options
        self._dirty = False
        self._mentions: dict[str, list[str]] = {}
        self._called_directly: set[tuple[str, str]] = set()
        # (callee file, callee qualname) -> {(caller file, caller qualname, name it calls)}
        self._callers: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
        self._tainted_parameters: dict[tuple[str, str, str], bool] = {}
        self._test_files: list[str] = []
        self._search_texts: dict[str, bytes] = {}
        self._defined_names: dict[str, tuple[set[str], set[str]]] = {}
        self._importer_roles: dict[str, str | None] = {}
        self._stored_reach: dict | None = None  # the walk of request_time, as the cache keeps it
        self._fact_failures = 0
        self._saved_at = time.monotonic()
        atexit.register(self.save)  # what the last files computed (flake8 -j1, flaskleak check)

    # -- files ---------------------------------------------------------------------------------

    @cached_property
    def files(self) -> dict[str, tuple[int, int]]:
        """Relative path -> (size, modification time in ns) of every regular ``.py`` file."""
        found: dict[str, tuple[int, int]] = {}
        skip_tests = not self.options.include_tests
        for directory, subdirectories, names in os.walk(self.root):
            subdirectories[:] = sorted(
                d for d in subdirectories
                if d not in SKIP_DIRECTORIES
                and not d.startswith(".")
                and not d.endswith(".egg-info")
                and not _is_root(os.path.join(directory, d))  # a project of its own
            )
            folder = directory[len(self.root):].lstrip(os.sep)  # relative to the root
            test_folder = skip_tests and any(part in TEST_FOLDERS for part in folder.split(os.sep))
            for name in sorted(names):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                relative = os.path.join(folder, name) if folder else name
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    name_once(path, "not a regular file")
                    continue
                if test_folder or (skip_tests and is_test_file_name(name)):
                    self._test_files.append(relative)
                    continue  # tests register no production routes or teardowns
                found[relative] = (info.st_size, info.st_mtime_ns)
        return found

    @property
    def test_files(self) -> list[str]:
        """The test modules the listing leaves out (their callers tell what is test-only)."""
        self.files  # noqa: B018 - the same walk lists them
        return self._test_files

    @cached_property
    def module_names(self) -> dict[str, str]:
        """Relative path -> dotted module name, from the packages (``__init__.py``) of the listing."""
        packages = {os.path.dirname(r) for r in self.files if os.path.basename(r) == "__init__.py"}
        result: dict[str, str] = {}
        for relative in self.files:
            directory, filename = os.path.split(relative)
            parts = [] if filename == "__init__.py" else [filename[:-3]]
            while directory in packages:
                directory, package = os.path.split(directory)
                parts.insert(0, package)
            if parts:
                result[relative] = ".".join(parts)
        return result

    @cached_property
    def module_paths(self) -> dict[str, str]:
        """Dotted module name -> relative path (the first file listed, when two have one name)."""
        result: dict[str, str] = {}
        for relative, name in self.module_names.items():
            result.setdefault(name, relative)
        return result

    def relative(self, path: str) -> str:
        return os.path.relpath(os.path.abspath(path), self.root)

    # -- per-file entries ----------------------------------------------------------------------

    @cached_property
    def _cache(self) -> dict[str, dict]:
        if os.environ.get("FLASKLEAK_NO_CACHE"):  # `flaskleak --no-cache`, or set by hand
            return {}
        try:
            with open(self._cache_file, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        reach = data.pop(REACH_KEY, None)
        if _valid_reach(reach):
            self._stored_reach = reach
        return {k: v for k, v in data.items() if _valid_entry(v)}

    def file_entry(self, relative: str) -> dict | None:
        """The file's cache entry, valid for its current content; None if it cannot be read."""
        signature = self.files.get(relative)
        if signature is None:
            return None
        entry = self._cache.get(relative)
        if entry is not None and entry["size"] == signature[0] and entry["mtime"] == signature[1]:
            return entry
        try:
            fresh = read_file_entry(self.root, relative, signature, self.options)
        except SourceError as error:
            name_once(os.path.join(self.root, relative), error.message)
            return None
        return None if fresh is None else self.adopt_entry(relative, fresh)

    def unlisted_files(self) -> list[tuple[str, tuple[int, int]]]:
        """Files (with their size and modification time) whose cache entry is missing or stale."""
        stale = []
        for relative, signature in self.files.items():
            entry = self._cache.get(relative)
            if entry is None or entry["size"] != signature[0] or entry["mtime"] != signature[1]:
                stale.append((relative, signature))
        return stale

    def adopt_entry(self, relative: str, fresh: dict) -> dict:
        """Store a file's new entry (``describe_file``); facts computed for the same content
        are kept (a file only touched keeps them)."""
        entry = self._cache.get(relative)
        if entry is not None and entry["hash"] == fresh["hash"]:
            entry["size"], entry["mtime"] = fresh["size"], fresh["mtime"]
        else:
            entry = fresh
        self._cache[relative] = entry
        self._dirty = True
        return entry

    def _read(self, relative: str) -> bytes | None:
        try:
            return read_regular_file(os.path.join(self.root, relative), MAX_FILE_BYTES)
        except SourceError as error:
            name_once(os.path.join(self.root, relative), error.message)
            return None

    def text(self, relative: str) -> str | None:
        data = self._read(relative)
        if data is None:
            return None
        try:
            return decode_source(data)
        except SourceError:
            return data.decode("utf-8", "replace")

    def _model(self, relative: str) -> FileModel | None:
        """The parsed model of another project file, or None. Not kept: its facts are, a
        module is rarely asked for twice, and a tree costs about fifty times its source (kept
        trees made a run over many projects both bigger and slower: the garbage collector
        walks every live node)."""
        data = self._read(relative)
        if data is None:
            return None
        path = os.path.join(self.root, relative)
        try:
            text = decode_source(data)
            tree = parse_text(text, path)  # deep generated code gets a larger stack
        except SourceError as error:
            name_once(path, f"{error.code} {error.message}")
            return None
        return FileModel(tree, text, path, self.options, project=None)

    def file_model(self, relative: str) -> FileModel | None:
        """The model of another project file, analysed alone, for a rule that must read how
        that file uses what this one defines."""
        if relative not in self.files:
            return None
        return self._model(relative)

    def facts(self, relative: str, group: str) -> dict | None:
        """One group of one file's facts (``module_facts.py``), computed once and cached."""
        entry = self.file_entry(relative)
        if entry is None:
            return None
        facts = entry["facts"]
        if group not in facts:
            value = self.compute_facts(relative, group)
            if value is None:
                self._fact_failures += 1
                return None  # not cached on disk: said again next run
            self.store_facts(relative, group, value)
        return facts[group]

    def cached_facts(self, relative: str, group: str) -> dict | None:
        """The group's facts when they are already known (None: not computed yet)."""
        entry = self.file_entry(relative)
        return None if entry is None else entry["facts"].get(group)

    def compute_facts(self, relative: str, group: str, quiet: bool = False) -> dict | None:
        """One group of one file's facts, computed now (None when the file cannot be read,
        parsed or analysed: the user is told, unless ``quiet``)."""
        model = self._model(relative)
        if model is None:
            return None
        try:
            value = retry_with_deep_stack(FACT_GROUPS[group], model)
            return {} if value is None else value  # "nothing here" is kept too: not asked again
        except Exception as error:  # one bad module never costs another file its findings
            if os.environ.get("FLASKLEAK_STRICT") and not quiet:
                raise
            if not quiet:
                reason = f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
                name_once(model.path, reason)
            return None

    def store_facts(self, relative: str, group: str, value: dict) -> None:
        entry = self.file_entry(relative)
        if entry is None:
            return
        entry["facts"][group] = value
        self._dirty = True
        if time.monotonic() - self._saved_at >= SAVE_INTERVAL_SECONDS:
            self.save()  # facts a rule asked for late in the run are kept for the next one

    # -- request-time code across modules ------------------------------------------------------

    @cached_property
    def request_time(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(relative path, qualname) -> (how it is reached, the module the walk came from:
        the file of the entry point while the path stays in it, else the module of the call
        that last entered this one; ``views.track`` -> ``helpers.record`` -> ``views.remember``
        gives ``remember`` the origin ``helpers``, since ``views`` alone does not see it run).

        Kept in the cache with the listing it was walked over: when no file of the project
        changed since, the walk is read back instead of done again."""
        listing = self._listing_signature
        if self.reach_is_stored():
            return self._restore_reach(self._stored_reach)
        failures = self._fact_failures
        reached = self._walk_reach()
        if self._fact_failures == failures:  # a module that failed is tried again next run
            self._stored_reach = self._reach_record(reached, listing)
            self._dirty = True
        self.save()
        return reached

    def _walk_reach(self) -> dict[tuple[str, str], tuple[str, str]]:
        return self._walk(self._entry_modules(), open_only=False)

    def _entry_modules(self) -> list[tuple[str, dict]]:
        """(relative path, call facts) of every module with entry points, in listing order."""
        found = []
        for relative in self.files:
            entry = self.file_entry(relative)
            if entry is None or not entry["entry"]:
                continue
            facts = self.facts(relative, "calls")
            if facts:
                found.append((relative, facts))
        return found

    def _walk(
        self, modules: list[tuple[str, dict]], open_only: bool
    ) -> dict[tuple[str, str], tuple[str, str]]:
        """Breadth first from the modules' entry points: all of them, recording who calls what
        across modules (``request_time``), or, with ``open_only``, only those open to every
        user (``open_request_time``)."""
        reached: dict[tuple[str, str], tuple[str, str]] = {}
        queue: deque[tuple[str, str]] = deque()
        for relative, facts in modules:
            shown = relative.replace(os.sep, "/")
            for qualname, description in facts["entries"].items():
                if open_only and not self._entry_open(facts, qualname):
                    continue
                reached[(relative, qualname)] = (f"{description} in {shown}", relative)
                queue.append((relative, qualname))
        record_callers = not open_only
        while queue:
            relative, qualname = queue.popleft()
            how = reached[(relative, qualname)]
            calls = (self.facts(relative, "calls") or {}).get("calls", {}).get(qualname, {})
            targets = [(relative, local) for local in calls.get("local", [])]
            for name in calls.get("imported", []):
                for target in self.targets_of(name):
                    if target[0] != relative and record_callers:
                        self._called_directly.add(target)
                        self._callers.setdefault(target, set()).add((relative, qualname, name))
                    targets.append(target)
            for target in targets:
                if target not in reached:
                    reached[target] = how if target[0] == relative else (how[0], relative)
                    queue.append(target)
        return reached

    def _entry_open(self, facts: dict, qualname: str) -> bool:
        """Whether one of the entry point's registrations is open to every user: not privileged
        where it is written, and not on a blueprint a hook anywhere guards."""
        open_on = facts.get("open_on")
        if not isinstance(open_on, dict):
            return True  # facts that do not say: keep what they reach
        return any(blueprint not in self.guarded_blueprints for blueprint in open_on.get(qualname, ()))

    @cached_property
    def guarded_blueprints(self) -> frozenset[str]:
        """Qualified names of the apps and blueprints that a ``before_request`` hook in some
        module guards with a privilege check (``privilege.py``), as privacyIDEA's
        ``api/before_after.py`` guards every admin blueprint. Read from the call facts of the
        modules with entry points (the hooks make a module one)."""
        return frozenset(
            name for _, facts in self._entry_modules() for name in facts.get("guards", ())
        )

    @cached_property
    def open_request_time(self) -> dict[tuple[str, str], tuple[str, str]]:
        """``request_time`` walked only from the entry points open to every user: a route
        behind a privilege check (its own, its view class's, or its blueprint's guard in any
        module) is not traffic. Walked over facts the full walk already has."""
        self.request_time  # noqa: B018 - the full walk first: this one reuses its facts
        return self._walk(self._entry_modules(), open_only=True)

    def open_reached_from_elsewhere(self, path: str) -> dict[str, str]:
        """Qualnames in ``path`` that open entry points in OTHER modules run per request."""
        return dict(self._open_reached_by_file.get(self.relative(path), {}))

    @cached_property
    def _open_reached_by_file(self) -> dict[str, dict[str, str]]:
        return _reached_from_elsewhere_by_file(self.open_request_time)

    def reach_is_stored(self) -> bool:
        """Whether the cache holds the walk of ``request_time`` over today's files."""
        self._cache  # noqa: B018 - reading the cache file brings the stored walk
        stored = self._stored_reach
        return stored is not None and stored["listing"] == self._listing_signature

    @cached_property
    def _listing_signature(self) -> str:
        """A digest of the listing (every file's path, size and modification time)."""
        listing = repr(sorted(self.files.items())).encode()
        return hashlib.blake2b(listing, digest_size=16).hexdigest()

    def _reach_record(self, reached, listing: str) -> dict:
        return {
            "listing": listing,
            "reached": [[*key, *value] for key, value in reached.items()],
            "callers": [[*key, *caller] for key, callers in self._callers.items() for caller in callers],
            "direct": [list(key) for key in self._called_directly],
        }

    def _restore_reach(self, stored: dict) -> dict[tuple[str, str], tuple[str, str]]:
        for relative, qualname, caller, caller_qualname, name in stored["callers"]:
            self._callers.setdefault((relative, qualname), set()).add((caller, caller_qualname, name))
        self._called_directly.update((relative, qualname) for relative, qualname in stored["direct"])
        return {(r, q): (how, origin) for r, q, how, origin in stored["reached"]}

    def parameter_tainted(self, path: str, qualname: str, parameter: str) -> bool:
        """Whether request-time code in another module passes a request-derived value for
        ``parameter`` of ``qualname`` (in ``path``): each caller's call site is looked at with
        that module's own taint (which sees its views' URL arguments and request reads)."""
        self.request_time  # noqa: B018 - the reach records the callers
        key = (self.relative(path), qualname, parameter)
        if key not in self._tainted_parameters:
            self._tainted_parameters[key] = False  # recursion through a cycle adds nothing
            self._tainted_parameters[key] = any(
                self._passes_tainted(caller, key)
                for caller in sorted(self._callers.get(key[:2], ()))
            )
        return self._tainted_parameters[key]

    def _passes_tainted(self, caller: tuple[str, str, str], key: tuple[str, str, str]) -> bool:
        relative, caller_qualname, name = caller
        model = self._model(relative)
        if model is None:
            return True  # cannot tell: keep the finding
        # which of its routes the guards in other modules make admin-only (``taint.py``)
        model.flask.use_privilege_elsewhere(ProjectPrivilege(self, os.path.join(self.root, relative)))
        function = model.flask.function_by_qualname(caller_qualname)
        callee = self._model(key[0])
        target = callee.flask.function_by_qualname(key[1]) if callee is not None else None
        if function is None or target is None:
            return True
        short = name.rsplit(".", 1)[-1]
        locals_ = {local for local, qualified in model.imports.names.items() if qualified == name}
        for _, call in model.calls_to({short} | locals_):
            if not (function.lineno <= call.lineno <= (function.end_lineno or function.lineno)):
                continue
            if model.imports.qualified_name(call.func) != name:
                continue
            argument = argument_for(call, target, key[2], False)
            if argument is not None and model.taint.tainted(argument, function):
                return True
        return False

    def called_from_elsewhere(self, path: str) -> set[str]:
        """Qualnames in ``path`` that request-time code in another module calls by name (with
        arguments this module cannot see), not only through this module's own calls."""
        return set(self._called_directly_by_file.get(self.relative(path), ()))

    @cached_property
    def _called_directly_by_file(self) -> dict[str, set[str]]:
        # each checked file asks: one pass over the calls, not one per file
        self.request_time  # noqa: B018 - the reach records them
        by_file: dict[str, set[str]] = {}
        for where, qualname in self._called_directly:
            by_file.setdefault(where, set()).add(qualname)
        return by_file

    @cached_property
    def startup_time(self) -> dict[tuple[str, str], str]:
        """(relative path, qualname) -> the file of the start-up or command-line root that
        runs it: app factories, ``init_app``, import-time calls, CLI commands, scripts."""
        reached: dict[tuple[str, str], str] = {}
        queue: deque[tuple[str, str]] = deque()
        for relative in self.files:
            entry = self.file_entry(relative)
            if entry is None or not entry["startup"]:
                continue
            for qualname in (self.facts(relative, "startup") or {}).get("roots", []):
                reached[(relative, qualname)] = relative
                queue.append((relative, qualname))
        while queue:
            relative, qualname = queue.popleft()
            calls = (self.facts(relative, "calls") or {}).get("calls", {}).get(qualname, {})
            targets = [(relative, local) for local in calls.get("local", [])]
            for name in calls.get("imported", []):
                targets.extend(self.targets_of(name))
            for target in targets:
                if target not in reached:
                    # the root's file, unlike ``_walk``: the calls include functions handed on
                    # (``view_func=views.show``), which a start-up path only registers
                    reached[target] = reached[(relative, qualname)]
                    queue.append(target)
        self.save()
        return reached

    def startup_elsewhere(self, path: str) -> list[str]:
        """Qualnames in ``path`` that start-up or command-line code in ANOTHER module runs."""
        return list(self._startup_by_file.get(self.relative(path), ()))

    @cached_property
    def _startup_by_file(self) -> dict[str, list[str]]:
        # each checked file asks: one pass over the walk, not one per file
        by_file: dict[str, list[str]] = {}
        for (where, qualname), origin in self.startup_time.items():
            if where != origin:
                by_file.setdefault(where, []).append(qualname)
        return by_file

    def reached_from_elsewhere(self, path: str) -> dict[str, str]:
        """Qualnames in ``path`` run per request because code in ANOTHER module calls them."""
        return dict(self._reached_by_file.get(self.relative(path), {}))

    @cached_property
    def _reached_by_file(self) -> dict[str, dict[str, str]]:
        # each checked file asks: one pass over the walk, not one per file
        return _reached_from_elsewhere_by_file(self.request_time)

    def locate(self, qualified: str) -> tuple[str, str] | None:
        """``pkg.mod.func`` -> (relative path of ``pkg.mod``, ``func``)."""
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            relative = self.module_paths.get(".".join(parts[:cut]))
            if relative is not None:
                return relative, ".".join(parts[cut:])
        return None

    def targets_of(self, name: str) -> list[tuple[str, str]]:
        """Functions an imported qualified name runs: itself, a class's ``__init__``, or the
        wrappers nested in a decorator (``name.<locals>``)."""
        depth = 0
        while name.endswith(".<locals>"):
            name, depth = name[: -len(".<locals>")], depth + 1
        located = self.locate(name)
        if located is None:
            return []
        relative, qualname = located
        if not self.may_define(relative, qualname):
            return []
        facts = self.facts(relative, "calls")
        if not facts:
            return []
        functions = facts["functions"]
        if depth:  # the functions nested ``depth`` levels in the decorator
            prefix = qualname + ".<locals>."
            return [
                (relative, q) for q in functions
                if q.startswith(prefix) and q.count(".<locals>.") - qualname.count(".<locals>.") == depth
            ]
        if qualname in functions:
            return [(relative, qualname)]
        if f"{qualname}.__init__" in functions:
            return [(relative, f"{qualname}.__init__")]
        return []

    def may_define(self, relative: str, qualname: str) -> bool:
        """Whether the module can define the function ``qualname`` names, or a class of that
        name with an ``__init__``: its text says so. A call that passes an imported constant
        or a model attribute (``timeout=settings.TIMEOUT``) names no function, and finding that
        out from the text spares parsing the module."""
        if self.cached_facts(relative, "calls") is not None:
            return True
        word = qualname.rsplit(".", 1)[-1]
        definitions = self._definitions(relative)
        if definitions is None:
            return True  # cannot tell from the text: the facts say
        functions, classes = definitions
        # a class runs its ``__init__`` (``targets_of``): one without any runs nothing here
        return word in functions or (word in classes and "__init__" in functions)

    def _definitions(self, relative: str) -> tuple[set[str], set[str]] | None:
        """The names after ``def`` and after ``class`` in a module's text (a superset of what
        it defines), read once per module: the ``-j N`` dry run asks for thousands of names."""
        found = self._defined_names.get(relative)
        if found is None:
            data = self._searchable(relative)
            if data is None:
                return None
            text = data.decode("utf-8", "replace")
            found = (_identifiers(DEF_NAME.findall(text)), _identifiers(CLASS_NAME.findall(text)))
            self._defined_names[relative] = found
        return found

    # -- questions rules ask -------------------------------------------------------------------

    def cannot_raise(self, qualified: str, depth: int = 0, seen: set | None = None) -> bool:
        """Whether the project function ``pkg.mod.func`` cannot raise past its own ``try``
        (nor can the project functions it calls, followed a few modules deep)."""
        seen = set() if seen is None else seen
        located = self.locate(qualified)
        if located is None or depth > 3 or qualified in seen:
            return False
        seen.add(qualified)
        relative, qualname = located
        facts = self.facts(relative, "raising")
        if not facts or qualname not in facts["cannot_raise"]:
            return False
        return all(
            self.cannot_raise(callee, depth + 1, seen) for callee in facts["cannot_raise"][qualname]
        )

    def module_file(self, qualified: str) -> str | None:
        """The relative path of the project module ``qualified`` is (or is defined in):
        ``shop.config.BaseConfig`` -> ``shop/config.py``; None for anything not in the project."""
        parts = qualified.split(".")
        for cut in range(len(parts), 0, -1):
            relative = self.module_paths.get(".".join(parts[:cut]))
            if relative is not None:
                return relative
        return None

    def module_source(self, module: str) -> tuple[str, str] | None:
        """(relative path, text) of the project module ``pkg.mod``; None if it is not one."""
        relative = self.module_paths.get(module)
        if relative is None:
            return None
        text = self.text(relative)
        return (relative, text) if text is not None else None

    def teardown_facts(self, exclude_path: str | None = None) -> list[tuple[str, dict]]:
        """(relative path, facts) of every other module whose teardowns release or clear."""
        excluded = self.relative(exclude_path) if exclude_path else None
        found = []
        for relative in self.files:
            if relative == excluded:
                continue
            entry = self.file_entry(relative)
            if entry is None:
                continue
            for group, flag in (("teardowns", "teardown"), ("handoffs", "handoff")):
                facts = self.facts(relative, group) if entry[flag] else None
                if facts:
                    found.append((relative, facts))
        self.save()
        return found

    @cached_property
    def tasks_get_app_context(self) -> bool:
        """Whether some module defines a Celery task base that runs tasks in an app context."""
        calls = set(self.files_mentioning("__call__"))
        for relative in self.files_mentioning("app_context"):
            if relative in calls:
                model = self._model(relative)
                if model is not None and defines_context_task_base(model):
                    return True
        return False

    def files_mentioning(self, word: str, tests: bool = False) -> list[str]:
        """Project files whose text contains ``word`` (read on demand, remembered per word);
        with ``tests``, the test modules that mention it."""
        key = f"tests:{word}" if tests else word
        if key not in self._mentions:
            found = []
            encoded = word.encode()
            for relative in self.test_files if tests else self.files:
                data = self._searchable(relative)
                if data is not None and encoded in data:
                    found.append(relative)
            self._mentions[key] = found
        return self._mentions[key]

    def _searchable(self, relative: str) -> bytes | None:
        """A file's bytes for the text searches, read once per process while the project's
        files fit in SEARCH_MEMORY_BYTES (each search would otherwise read every file again)."""
        data = self._search_texts.get(relative)
        if data is None:
            size = self.files[relative][0] if relative in self.files else 0
            data = self._read(relative) if size <= MAX_FILE_BYTES else None
            if data is not None and _search_memory[0] + len(data) <= SEARCH_MEMORY_BYTES:
                self._search_texts[relative] = data
                _search_memory[0] += len(data)
        return data

    def callers_role(self, path: str, qualname: str) -> str | None:
        """"test code", "migrations" or "command line" (or several, joined) when every caller
        of the module-level function ``qualname`` of ``path`` is such code; None otherwise."""
        return callers_role(self, self.relative(path), qualname)

    def importers_role(self, path: str) -> str | None:
        """"command line" or "migrations" (with "test code" when tests import it too) when
        every module importing ``path`` is such code; None otherwise (``callers.py``)."""
        relative = self.relative(path)
        if relative not in self._importer_roles:
            self._importer_roles[relative] = importers_role(self, relative)
        return self._importer_roles[relative]

    # -- disk cache ----------------------------------------------------------------------------

    @property
    def _cache_file(self) -> str:
        key = repr((CACHE_FORMAT, self.options, _code_fingerprint())).encode()
        fingerprint = hashlib.blake2b(key, digest_size=6).hexdigest()
        return os.path.join(self.root, CACHE_DIRECTORY, f"index-{__version__}-{fingerprint}.json")

    def close(self) -> None:
        """Write what this process computed, and give back the text search memory."""
        self.save()
        atexit.unregister(self.save)
        _search_memory[0] -= sum(len(data) for data in self._search_texts.values())
        self._search_texts.clear()
        self._defined_names.clear()

    def save(self) -> None:
        if not self._dirty or self.root in _unmarked or os.environ.get("FLASKLEAK_NO_CACHE"):
            return
        self._dirty = False
        self._saved_at = time.monotonic()
        live: dict = {k: v for k, v in self._cache.items() if k in self.files}
        if self._stored_reach is not None:
            live[REACH_KEY] = self._stored_reach
        directory = os.path.dirname(self._cache_file)
        try:
            os.makedirs(directory, exist_ok=True)
            ignore = os.path.join(directory, ".gitignore")
            if not os.path.exists(ignore):
                with open(ignore, "w", encoding="utf-8") as handle:
                    handle.write("# created by flake8-flaskleak\n*\n")
            descriptor, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(live))  # dumps uses the C encoder; dump does not
            os.replace(temporary, self._cache_file)
            for stale in os.listdir(directory):  # indexes of other versions or options
                if stale.startswith("index-") and stale != os.path.basename(self._cache_file):
                    os.remove(os.path.join(directory, stale))
        except OSError:
            pass  # a read-only checkout still gets the analysis, just not the cache


def _identifiers(names: list[str]) -> set[str]:
    """Names as Python reads them: ``ﬁnd`` (with a ligature) defines ``find`` (NFKC)."""
    return {name if name.isascii() else unicodedata.normalize("NFKC", name) for name in names}


def _reached_from_elsewhere_by_file(reach) -> dict[str, dict[str, str]]:
    """A walk (``request_time``) as relative path -> {qualname: how}, for the functions
    reached through another module (from an entry point there, or from one here by a call that
    left the module and came back)."""
    by_file: dict[str, dict[str, str]] = {}
    for (where, qualname), (description, origin) in reach.items():
        if origin != where:
            by_file.setdefault(where, {})[qualname] = description
    return by_file


@lru_cache(maxsize=1)
def _code_fingerprint() -> tuple:
    """The size and modification time of every module of the analysis: an index cached by
    other code (an editable install between commits, another branch) is not read back."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = []
    for directory, _, names in os.walk(package):
        for name in sorted(names):
            if name.endswith(".py"):
                info = os.stat(os.path.join(directory, name))
                found.append((os.path.relpath(os.path.join(directory, name), package),
                              info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


def _valid_reach(reach: object) -> bool:
    """A stored walk as ``save`` writes it (a damaged cache file is ignored, never trusted)."""
    if not isinstance(reach, dict) or not isinstance(reach.get("listing"), str):
        return False
    for part, width in (("reached", 4), ("callers", 5), ("direct", 2)):
        rows = reach.get(part)
        if not isinstance(rows, list) or not all(
            isinstance(row, list) and len(row) == width and all(isinstance(v, str) for v in row)
            for row in rows
        ):
            return False
    return True


def _valid_entry(entry: object) -> bool:
    """A cache entry this version wrote: anything else (older format, hand-edited) is redone."""
    if not isinstance(entry, dict):
        return False
    if not isinstance(entry.get("hash"), str) or not isinstance(entry.get("facts"), dict):
        return False
    if not all(isinstance(entry.get(k), int) and not isinstance(entry.get(k), bool) for k in ("size", "mtime")):
        return False
    flags = ("entry", "teardown", "handoff", "startup")
    return all(isinstance(entry.get(flag), bool) for flag in flags)
