"""Branches that never run, and the local bindings that tell: ``model/dead_branches.py`` and
``model/local_bindings.py``."""

from __future__ import annotations

import ast
import textwrap

import pytest

from flake8_flaskleak.model.dead_branches import branch_outcome, is_dead
from flake8_flaskleak.model.file import FileModel
from flake8_flaskleak.model.local_bindings import only_value, with_target
from flake8_flaskleak.options import Options


def function_model(body: str, parameters: str = "watch, key") -> tuple[FileModel, ast.FunctionDef]:
    text = "import os\nfrom os.path import join\n\n\ndef view(%s):\n%s" % (
        parameters, textwrap.indent(textwrap.dedent(body), "    ")
    )
    tree = ast.parse(text)
    return FileModel(tree, text, "app.py", Options()), tree.body[-1]


def first_test_outcome(body: str, parameters: str = "watch, key") -> bool | None:
    model, function = function_model(body, parameters)
    test = next(node for node in ast.walk(function) if isinstance(node, (ast.If, ast.IfExp))).test
    return branch_outcome(model, function, test)


@pytest.mark.parametrize(
    ("binding", "test", "outcome"),
    [
        ('os.path.join(watch.data_dir, f"{key}.html.br")', 'path.endswith(".br")', True),
        ('os.path.join(watch.data_dir, f"{key}.html.br")', 'path.endswith(".gz")', False),
        ('join(watch.data_dir, key + ".json")', 'path.endswith((".gz", ".br"))', False),
        ('join(watch.data_dir, key + ".json")', 'path.endswith((".gz", "json"))', True),
        ('watch.data_dir + "/snapshot.txt"', 'not path.endswith(".txt")', False),
        ('"s3://" + key', 'path.startswith("s3://")', True),
        ('f"https://{key}"', 'path.startswith(("s3://", "gs://"))', False),
        ('"report.csv"', 'path.endswith("report.csv")', True),
        ('"report.csv"', 'path.startswith("report.csv.gz")', False),
        # the visible ending is shorter than the option: either is possible
        ('f"{key}.br"', 'path.endswith("html.br")', None),
        # os.path.join restarts at an absolute part: its start is not known
        ('os.path.join("/srv", key)', 'path.startswith("/srv")', None),
        ('watch.snapshot_path(key)', 'path.endswith(".br")', None),
    ],
)
def test_string_tests_on_a_name_bound_once(binding, test, outcome):
    body = f"""
    path = {binding}
    if {test}:
        return path
    """
    assert first_test_outcome(body) is outcome


def test_constant_tests():
    assert first_test_outcome("if False:\n    pass\n") is False
    assert first_test_outcome("if 0:\n    pass\n") is False
    assert first_test_outcome("if not True:\n    pass\n") is False
    assert first_test_outcome("if True:\n    pass\n") is True


@pytest.mark.parametrize(
    ("body", "parameters"),
    [
        # bound twice: either value may reach the test
        ('path = f"{key}.br"\nif watch.plain:\n    path = f"{key}.txt"\nif path.endswith(".br"):\n'
         '    pass\n', "watch, key"),
        # a parameter: the caller's value
        ('if path.endswith(".br"):\n    pass\n', "path"),
        # a parameter rebound: two bindings
        ('path = f"{path}.br"\nif path.endswith(".br"):\n    pass\n', "path"),
        # a loop target
        ('for path in ("a.br", "b.txt"):\n    if path.endswith(".br"):\n        pass\n', "watch"),
        # a nested function may rebind it
        ('path = "a.br"\ndef switch():\n    nonlocal path\n    path = "a.txt"\nswitch()\n'
         'if path.endswith(".br"):\n    pass\n', "watch"),
        # global: module code may rebind it
        ('global path\npath = "a.br"\nif path.endswith(".br"):\n    pass\n', "watch"),
        # a start or end index changes the question
        ('path = f"{key}.br"\nif path.endswith(".br", 0, 3):\n    pass\n', "watch, key"),
    ],
)
def test_unknown_when_the_name_may_hold_something_else(body, parameters):
    assert first_test_outcome(body, parameters) is None


def test_is_dead_marks_the_branch_that_never_runs_and_only_it():
    model, function = function_model(
        """
        path = os.path.join(watch.data_dir, f"{key}.html.br")
        with open(path, "rb") as f:
            if path.endswith(".br"):
                data = decompress(f.read())
            else:
                data = f.read()
        size = 1 if path.startswith("/") else len(data)
        return data
        """
    )
    reads = sorted(
        (
            node for node in ast.walk(function)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "read"
        ),
        key=lambda node: node.lineno,
    )
    assert [is_dead(model, function, read) for read in reads] == [False, True]
    length = next(node for node in ast.walk(function) if isinstance(node, ast.Call)
                  and getattr(node.func, "id", None) == "len")
    assert not is_dead(model, function, length)  # os.path.join's start is not known


def test_with_target_is_the_only_binding_of_a_with_name():
    model, function = function_model(
        """
        with engine.begin() as connection:
            session.configure(bind=connection)
        with engine.connect() as other:
            other = engine
        status = "ok"
        return status
        """,
        "engine, session",
    )
    item = with_target(function, "connection")
    assert item is not None and ast.unparse(item.context_expr) == "engine.begin()"
    assert with_target(function, "other") is None  # rebound in the block
    assert with_target(function, "status") is None  # not a with target
    assert ast.unparse(only_value(function, "status")) == "'ok'"
    assert only_value(function, "engine") is None  # a parameter
