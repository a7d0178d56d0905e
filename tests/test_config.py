"""One set of options for both front ends: ``[tool.flaskleak]`` and the ``[flake8]`` section are
read by flake8 and by ``flaskleak`` alike, the command line wins, and a bad key or value is one
line naming it, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flake8_flaskleak import cli

SETTINGS = '''\
class Config:
    SQLALCHEMY_DATABASE_URI = "sqlite://"


class Blue(Config):
    SQLALCHEMY_RECORD_QUERIES = True
'''


def flake8(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "FLK", *arguments, "settings.py"],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def flaskleak(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_flaskleak", "check", "-q", *arguments, "settings.py"],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


FRONT_ENDS = {"flake8": flake8, "flaskleak": flaskleak}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "settings.py").write_text(SETTINGS)
    return tmp_path


@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize(
    "file_name, text",
    [
        ("pyproject.toml", '[tool.flaskleak]\ndevelopment-patterns = ["green", "blue"]\n'),
        ("setup.cfg", "[flake8]\nflaskleak-development-patterns = green,blue\n"),
        ("tox.ini", "[flake8]\nflaskleak_development_patterns =\n    green\n    blue\n"),
        (".flake8", "[flake8]\nflaskleak-development-patterns = blue\n"),
    ],
)
def test_both_front_ends_read_both_files(project, front_end, file_name, text):
    run = FRONT_ENDS[front_end]
    assert run(cwd=project).returncode == 1  # `Blue` is not known as development yet
    (project / file_name).write_text(text)
    result = run(cwd=project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    flag = "--flaskleak-development-patterns" if front_end == "flake8" else "--development-patterns"
    result = run(f"{flag}=green", cwd=project)  # the command line wins
    assert result.returncode == 1 and "FLK101" in result.stdout, result.stderr


@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize(
    "file_name, text, named",
    [
        ("setup.cfg", "[flake8]\nflaskleak-cache-maxsize = abc\n", "flaskleak-cache-maxsize"),
        ("setup.cfg", "[flake8]\nflaskleak-cache-maxsiz = 3\n", "flaskleak-cache-maxsiz"),
        ("tox.ini", "[flake8]\nflaskleak-project-analysis = maybe\n",
         "flaskleak-project-analysis"),
        ("pyproject.toml", '[tool.flaskleak]\ncache-maxsize = "lots"\n', "cache-maxsize"),
        ("pyproject.toml", "[tool.flaskleak]\nno-such-option = 1\n", "no-such-option"),
        ("pyproject.toml", "[tool.flaskleak\n", "invalid TOML"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_key(project, front_end, file_name, text, named):
    (project / file_name).write_text(text)
    result = FRONT_ENDS[front_end](cwd=project)
    assert result.returncode != 0
    assert named in result.stderr and file_name in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_bad_command_line_value_is_one_line(project, front_end):
    flag = "--flaskleak-cache-maxsize" if front_end == "flake8" else "--cache-maxsize"
    result = FRONT_ENDS[front_end](f"{flag}=abc", cwd=project)
    assert result.returncode != 0
    assert result.stderr.strip().endswith("cache-maxsize: expected an integer, got 'abc'")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_the_same_option_set_differently_in_both_files_is_an_error(project, front_end):
    (project / "pyproject.toml").write_text("[tool.flaskleak]\ncache-maxsize = 64\n")
    (project / "setup.cfg").write_text("[flake8]\nflaskleak-cache-maxsize = 128\n")
    result = FRONT_ENDS[front_end](cwd=project)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "cache-maxsize is set both in" in result.stderr and "keep one" in result.stderr
    (project / "setup.cfg").write_text("[flake8]\nflaskleak-cache-maxsize = 64\n")  # agreeing
    assert FRONT_ENDS[front_end](cwd=project).returncode == 1  # FLK101, no error


def test_flake8_section_values_reach_the_command(project):
    (project / "setup.cfg").write_text(
        "[flake8]\nmax-line-length = 100\nflaskleak-cache-maxsize = 32\n"
        "flaskleak-gunicorn-configs =\n    deploy/*.py\n    conf/web.py\n"
    )
    resolver = cli.resolver_from(cli.build_parser().parse_args(["check", str(project)]))
    settings = resolver.for_directory(str(project))
    assert settings.options.cache_maxsize == 32
    assert settings.options.gunicorn_configs == ("deploy/*.py", "conf/web.py")


@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize("file_name", ["setup.cfg", "pyproject.toml"])
def test_the_command_line_wins_even_over_a_bad_file_value(project, front_end, file_name):
    text = {
        "setup.cfg": "[flake8]\nflaskleak-cache-maxsize = lots\n",
        "pyproject.toml": '[tool.flaskleak]\ncache-maxsize = "lots"\n',
    }[file_name]
    (project / file_name).write_text(text)
    flag = "--flaskleak-cache-maxsize" if front_end == "flake8" else "--cache-maxsize"
    result = FRONT_ENDS[front_end](f"{flag}=64", cwd=project)
    assert result.returncode == 1 and "FLK101" in result.stdout, result.stderr
