"""The README's pre-commit snippets, run as written by the real pre-commit (issue 12, item 9).

pre-commit clones a hook repository at a tag, builds a virtualenv and pip-installs the project
into it (dependencies come from the package index), then runs the hooks in a throwaway git
repository holding a leaky Flask module. It only sees committed files, so the test first
snapshots this checkout's working tree (tracked and untracked files, minus the ignored ones)
into a temporary repository and tags it with the version the snippets name: what is tested is
the tree on disk, and the real repository is never tagged by a test. The snippets are taken
from the README itself; only their repository URLs are pointed at local copies (the tests run
offline: github.com/PyCQA/flake8 is replaced by a local stand-in with flake8's own hook
manifest). Each hook environment is one pip install, most of the test's time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # installed with pre-commit

ROOT = Path(__file__).resolve().parent.parent
LEAKY_APP = '''\
from flask import Flask

app = Flask(__name__)


@app.route("/motd")
def motd():
    handle = open("motd.txt")
    return {"size": len(handle.read())}
'''


def git(*arguments: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *arguments], cwd=cwd, env=clean_environment(), capture_output=True, text=True,
        check=True,
    )
    return result.stdout


def clean_environment(home: Path | None = None) -> dict[str, str]:
    """The environment without the variables that would point git at another repository."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    environment.update(
        GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_NOSYSTEM="1",
    )
    if home is not None:
        environment["PRE_COMMIT_HOME"] = str(home)
    return environment


def new_repository(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", cwd=path)
    git("config", "user.name", "test", cwd=path)
    git("config", "user.email", "test@example.com", cwd=path)
    git("config", "commit.gpgsign", "false", cwd=path)


def snapshot_checkout(destination: Path) -> Path:
    """This checkout's working tree, committed in a repository of its own."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    new_repository(destination)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    git("add", "-A", cwd=destination)
    git("commit", "-q", "-m", "snapshot", cwd=destination)
    return destination


def pre_commit(*arguments: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *arguments],
        cwd=cwd, env=clean_environment(home), capture_output=True, text=True, timeout=600,
    )


def test_hook_manifest():
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hooks = {hook["id"]: hook for hook in manifest}
    assert set(hooks) == {"flaskleak", "flaskleak-fix"}
    # the hooks are handed every staged file: configured exclusions apply to them too
    assert hooks["flaskleak"]["entry"] == "flaskleak check --force-exclude"
    assert hooks["flaskleak-fix"]["entry"] == "flaskleak fix --force-exclude"
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["types"] == ["python"]


FLASKLEAK_REPOSITORY = "https://github.com/flake8-flaskleak/flake8-flaskleak"
FLAKE8_REPOSITORY = "https://github.com/PyCQA/flake8"
# flake8's own hook manifest (github.com/PyCQA/flake8, .pre-commit-hooks.yaml), for the stand-in.
FLAKE8_HOOKS = """\
-   id: flake8
    name: flake8
    description: '`flake8` is a command-line utility for enforcing style consistency.'
    entry: flake8
    language: python
    types: [python]
    require_serial: true
"""


def readme_snippets() -> list[dict]:
    """The ``.pre-commit-config.yaml`` snippets of the README's pre-commit section, parsed."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## pre-commit\n", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def flake8_stand_in(path: Path, version: str) -> Path:
    """A local stand-in for github.com/PyCQA/flake8 at tag ``version`` (the tests run offline):
    flake8's hook manifest and a package that installs flake8 of that version from the index."""
    new_repository(path)
    (path / ".pre-commit-hooks.yaml").write_text(FLAKE8_HOOKS)
    (path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "flake8-hook-stand-in"\nversion = "{version}"\n'
        f'dependencies = ["flake8=={version}"]\n[tool.setuptools]\npy-modules = []\n'
    )
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "stand-in", cwd=path)
    git("tag", version, cwd=path)
    return path


def pointed_at(snippet: dict, replacements: dict[str, str]) -> dict:
    """The snippet with its repository URLs replaced, nothing else: as a user pastes it."""
    text = yaml.safe_dump(snippet)
    for public, local in replacements.items():
        text = text.replace(public, local)
    assert "github.com" not in text, text
    return yaml.safe_load(text)


def commit_all(project: Path) -> None:
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "change", cwd=project)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout of the project")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_readme_snippets_work_as_written(tmp_path):
    """Both README snippets, run by the real pre-commit against a snapshot of this working
    tree tagged with the version the snippets name (the tag exists only in the snapshot).

    1. The flaskleak hooks: the fix hook rewrites the leak and fails the commit (a file
       changed); the check hook, run with --force-exclude, skips the configured ``legacy/``
       folder although pre-commit names its files; a second run passes.
    2. The flake8 hook with the plugin in ``additional_dependencies``, installed from the
       repository at the tag: flake8 reports the leak.
    """
    from flake8_flaskleak import __version__

    snippets = readme_snippets()
    assert len(snippets) == 2, "the README shows two pre-commit snippets"
    hooks_snippet, flake8_snippet = snippets
    tag = f"v{__version__}"
    assert hooks_snippet["repos"][0]["rev"] == tag
    assert f"{FLASKLEAK_REPOSITORY}@{tag}" in yaml.safe_dump(flake8_snippet)

    hook_repository = snapshot_checkout(tmp_path / "hooks")
    git("tag", tag, cwd=hook_repository)
    flake8_version = flake8_snippet["repos"][0]["rev"]
    stand_in = flake8_stand_in(tmp_path / "flake8", flake8_version)
    replacements = {
        f"git+{FLASKLEAK_REPOSITORY}": f"git+{hook_repository.as_uri()}",
        FLASKLEAK_REPOSITORY: str(hook_repository),
        FLAKE8_REPOSITORY: str(stand_in),
    }
    home = tmp_path / "pre-commit-home"
    project = tmp_path / "project"
    new_repository(project)
    (project / "app.py").write_text(LEAKY_APP)
    (project / "legacy").mkdir()
    (project / "legacy" / "old_app.py").write_text(LEAKY_APP)
    (project / "pyproject.toml").write_text('[tool.flaskleak]\nexclude = ["legacy"]\n')

    config = project / ".pre-commit-config.yaml"
    config.write_text(yaml.safe_dump(pointed_at(hooks_snippet, replacements)))
    commit_all(project)
    first = pre_commit("run", "--all-files", cwd=project, home=home)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout, first.stdout
    fixed = (project / "app.py").read_text()
    assert '    with open("motd.txt") as handle:\n        return {' in fixed, fixed
    assert (project / "legacy" / "old_app.py").read_text() == LEAKY_APP  # excluded
    assert "legacy" not in first.stdout
    commit_all(project)
    second = pre_commit("run", "--all-files", cwd=project, home=home)
    assert second.returncode == 0, second.stdout + second.stderr

    (project / "app.py").write_text(LEAKY_APP)
    config.write_text(yaml.safe_dump(pointed_at(flake8_snippet, replacements)))
    commit_all(project)
    flake8_run = pre_commit("run", "--all-files", cwd=project, home=home)
    assert flake8_run.returncode == 1, flake8_run.stdout + flake8_run.stderr
    assert "app.py:8:5: FLK402 file `handle`" in flake8_run.stdout, flake8_run.stdout
