"""The pre-commit hooks of ``.pre-commit-hooks.yaml``, run by the real ``pre-commit try-repo``.

pre-commit clones the hook repository at a commit, builds a virtualenv and pip-installs the
project into it (dependencies come from the package index), then runs the hook in a throwaway
git repository holding a leaky Flask module. ``try-repo`` only sees committed and tracked
changes, so the test first snapshots this checkout's working tree (tracked and untracked
files, minus the ignored ones) into a temporary repository of its own and points pre-commit
there: what is tested is the tree as it is on disk. ``try-repo`` runs the check hook; the fix
and the check after it run from a ``.pre-commit-config.yaml`` naming the same repository, so
pre-commit installs the hooks once more, not twice (each install is most of the test's time:
pip installing libcst, astroid and flake8 into pre-commit's virtualenv).
"""

from __future__ import annotations

import os
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


@app.teardown_appcontext
def shutdown_session(exc):
    close_things()
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
    assert hooks["flaskleak"]["entry"] == "flaskleak check"
    assert hooks["flaskleak-fix"]["entry"] == "flaskleak fix"
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["types"] == ["python"]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout of the project")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pre_commit_check_then_fix_then_check(tmp_path):
    hook_repository = snapshot_checkout(tmp_path / "hooks")
    home = tmp_path / "pre-commit-home"
    project = tmp_path / "project"
    new_repository(project)
    (project / "app.py").write_text(LEAKY_APP)
    git("add", "app.py", cwd=project)
    git("commit", "-q", "-m", "leaky app", cwd=project)

    check = pre_commit("try-repo", str(hook_repository), "flaskleak", "--all-files",
                       cwd=project, home=home)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "app.py:8:5: FLK201 teardown `shutdown_session`" in check.stdout, check.stdout
    assert (project / "app.py").read_text() == LEAKY_APP

    # The same hooks as a user's .pre-commit-config.yaml names them: one install, in `home`.
    revision = git("rev-parse", "HEAD", cwd=hook_repository).strip()
    config = {"repos": [{
        "repo": str(hook_repository), "rev": revision,
        "hooks": [{"id": "flaskleak-fix"}, {"id": "flaskleak"}],
    }]}
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    fix = pre_commit("run", "flaskleak-fix", "--all-files", cwd=project, home=home)
    assert fix.returncode == 1, fix.stdout + fix.stderr  # files were modified by this hook
    assert "files were modified by this hook" in fix.stdout, fix.stdout
    fixed = (project / "app.py").read_text()
    assert "    try:\n        close_things()\n    except Exception:\n" in fixed, fixed

    check = pre_commit("run", "--all-files", cwd=project, home=home)  # both hooks: nothing left
    assert check.returncode == 0, check.stdout + check.stderr
    assert (project / "app.py").read_text() == fixed
