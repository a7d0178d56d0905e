"""The files ``bench_flake8.py`` lints: real Flask code from the corpus, or a user's tree.

The corpus tree is the pinned applications of ``corpus.py``, each linked (hard links, so no
disk is spent) into ``benchmarks/.work/corpus/<name>-<version>/`` whole, with its project-root
marker, so that the plugin's whole-project analysis sees each real project as its developers
do. What flake8 is given is only the files that import Flask (all of them, or a 1-in-9 sample):
the code a Flask-specific plugin exists for.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# As flake8_flaskleak/project.py finds a project root, and where the plugin keeps its cache.
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
CACHE_DIRECTORY = ".flaskleak_cache"
# Directories never linted in a user's tree (what flake8 excludes by default, and the usual
# virtual environments).
SKIP_DIRECTORIES = {
    ".git", ".hg", ".svn", ".bzr", "CVS", "__pycache__", ".tox", ".nox", ".eggs",
    ".venv", "venv", "env", "node_modules", "build", "dist", "site-packages", CACHE_DIRECTORY,
}
SAMPLE_STEP = 9
FLASK_IMPORT_LINE = re.compile(rb"^[ \t]*(?:from|import)[ \t]+(?:flask|quart)(?:_\w+)?\b", re.M)


@dataclass(frozen=True)
class BenchTree:
    """What to lint: ``files`` (relative to ``cwd``, sorted), and ``roots``, the project roots
    they belong to (where the plugin's ``.flaskleak_cache/`` lives)."""

    cwd: Path
    files: tuple[str, ...]
    roots: tuple[Path, ...]
    description: str


# -- which files import Flask -------------------------------------------------------------------


def is_flask_module_name(name: str) -> bool:
    """``flask``, ``quart``, ``flask_login``, ``flask.views``: the top-level package decides."""
    top = name.split(".", 1)[0]
    return top in ("flask", "quart") or (top.startswith("flask_") and len(top) > len("flask_"))


def imports_flask(source: bytes) -> bool:
    """Whether a module imports ``flask``, ``quart`` or a ``flask_*`` package, anywhere in it
    (absolute imports only: ``from .flask import x`` is the project's own module).

    Source that does not parse (Python 2, templates) is judged by its import lines."""
    if b"flask" not in source and b"quart" not in source:
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return FLASK_IMPORT_LINE.search(source) is not None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(is_flask_module_name(alias.name) for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and is_flask_module_name(node.module):
                return True
    return False


def flask_files(tree: Path) -> list[Path]:
    """The ``.py`` files under ``tree`` that import Flask, sorted.

    The one place to switch to ``corpus.py``'s own listing once it has one."""
    return [path for path in python_files(tree) if imports_flask(path.read_bytes())]


# -- listing and sampling -----------------------------------------------------------------------


def python_files(tree: Path) -> list[Path]:
    """Every ``.py`` file under ``tree``, sorted, skipping caches and virtual environments."""
    found = []
    for directory, subdirectories, filenames in os.walk(tree):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIP_DIRECTORIES)
        found.extend(Path(directory) / name for name in filenames if name.endswith(".py"))
    return sorted(found)


def sample(files: Sequence[str], step: int = SAMPLE_STEP) -> list[str]:
    """Every ``step``-th file of the sorted list, starting with the first: deterministic, and
    spread over every package of the set rather than a few whole ones."""
    return sorted(files)[::step]


def project_roots(paths: Iterable[Path]) -> tuple[Path, ...]:
    """The project root of each file (nearest directory with a marker), as the plugin finds it."""
    roots: set[Path] = set()
    seen: dict[Path, Path | None] = {}
    for path in paths:
        directory = path.resolve().parent
        if directory not in seen:
            seen[directory] = next(
                (d for d in (directory, *directory.parents)
                 if any((d / marker).exists() for marker in ROOT_MARKERS)),
                None,
            )
        if seen[directory] is not None:
            roots.add(seen[directory])
    return tuple(sorted(roots))


def clear_plugin_caches(roots: Iterable[Path]) -> None:
    """Delete every ``.flaskleak_cache/`` of the projects: the next plugin run starts cold."""
    for root in roots:
        shutil.rmtree(root / CACHE_DIRECTORY, ignore_errors=True)


def modules_the_index_parsed(roots: Iterable[Path]) -> list[Path]:
    """The modules whose facts the plugin's cache holds (each one was parsed to get them), read
    from every ``.flaskleak_cache/index-*.json`` of the projects after a cold run."""
    found = []
    for root in roots:
        for cache_file in sorted((root / CACHE_DIRECTORY).glob("index-*.json")):
            try:
                entries = json.loads(cache_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for relative, entry in entries.items() if isinstance(entries, dict) else ():
                if isinstance(entry, dict) and entry.get("facts"):
                    found.append(root / relative)
    return sorted(set(found))


def count_lines(paths: Iterable[Path]) -> int:
    lines = 0
    for path in paths:
        with open(path, "rb") as handle:
            lines += sum(1 for _ in handle)
    return lines


# -- building the trees -------------------------------------------------------------------------


def link_tree(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` made of hard links (plain copies across file
    systems), without the plugin's cache; it is made aside and renamed into place, so an
    interrupted run never leaves half a project behind."""
    if target.is_dir():
        return
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(
        source, staging, copy_function=link,
        ignore=shutil.ignore_patterns(CACHE_DIRECTORY, "__pycache__", "*.partial"),
    )
    if not any((staging / marker).exists() for marker in ROOT_MARKERS):
        (staging / "setup.cfg").write_text("# project root marker written by bench_flake8.py\n")
    staging.rename(target)


def corpus_tree(
    corpus: Sequence[tuple[str, str]], fetch, cache: Path, work: Path, only: Sequence[str] = (),
    progress=print,
) -> BenchTree:
    """The corpus packages (all, or those named in ``only``), linked under ``work/corpus``;
    the files that import Flask."""
    unknown = sorted(set(only) - {name for name, _ in corpus})
    if unknown:
        raise SystemExit(f"--only: not in corpus.py's CORPUS: {', '.join(unknown)}")
    base = work / "corpus"
    base.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    roots = []
    for name, version in corpus:
        if only and name not in only:
            continue
        source = fetch(name, version, cache)
        target = base / source.name
        link_tree(source, target)
        found = flask_files(target)
        progress(f"  {name} {version}: {len(found)} files import flask")
        files.extend(str(path.relative_to(base)) for path in found)
        roots.append(target)
    return BenchTree(base, tuple(sorted(files)), tuple(roots), f"{len(roots)} corpus packages")


def user_tree(tree: Path) -> BenchTree:
    """Every ``.py`` file of a user's tree, linted in place."""
    tree = tree.resolve()
    paths = python_files(tree)
    return BenchTree(
        tree, tuple(str(path.relative_to(tree)) for path in paths), project_roots(paths), str(tree)
    )


def sampled(tree: BenchTree) -> BenchTree:
    files = sample(tree.files)
    roots = project_roots(tree.cwd / path for path in files)
    description = f"{tree.description}, 1-in-{SAMPLE_STEP} sample"
    return BenchTree(tree.cwd, tuple(files), roots, description)


# -- generated monsters for the per-file worst case ---------------------------------------------

FLASK_TAIL = '''

import threading
from functools import lru_cache

from flask import Flask, g, request

app = Flask(__name__)
SEEN = []
state = threading.local()


@lru_cache(maxsize=None)
def lookup(key):
    return ROWS[key % len(ROWS)]


@app.route("/rows/<int:key>")
def row(key):
    SEEN.append(request.args.get("q"))
    state.user = request.remote_addr
    g.row = lookup(key)
    log = open("/tmp/rows.log", "a")
    log.write(str(key))
    return {"row": g.row}
'''


def data_module(size: int, flask_tail: bool) -> str:
    """A generated module of literals (the shape of generated tables and fixtures) of at least
    ``size`` bytes; with ``flask_tail``, Flask code follows the data, so the plugin cannot stop
    at the import gate and must analyse the whole module."""
    parts = ['"""Generated by benchmarks/bench_flake8.py: a data module of literals."""\n\n',
             "ROWS = [\n"]
    written = sum(map(len, parts))
    number = 0
    while written < size:
        line = (f'    {{"id": {number}, "name": "row-{number:07d}", "ratio": {number / 7:.6f}, '
                f'"tags": ("alpha", "beta", {number % 13}), "active": {number % 2 == 0}}},\n')
        parts.append(line)
        written += len(line)
        number += 1
    parts.append("]\n")
    if flask_tail:
        parts.append(FLASK_TAIL)
    return "".join(parts)


GENERATED = {"generated_data.py": False, "generated_data_then_flask.py": True}


def generated_tree(work: Path, size: int) -> BenchTree:
    """The two generated modules (data only; data then Flask code) in their own project."""
    base = work / f"generated-{size}"
    if not base.is_dir():
        staging = base.with_name(base.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        (staging / "setup.cfg").write_text("# project root marker written by bench_flake8.py\n")
        for name, flask_tail in GENERATED.items():
            (staging / name).write_text(data_module(size, flask_tail), encoding="utf-8")
        staging.rename(base)
    return BenchTree(base, tuple(sorted(GENERATED)), (base,), f"generated {size:,}-byte modules")
