"""The model behind FLK309, FLK405 and FLK406: which factories run more than once per process,
and what becomes of an object a call makes (released, returned, kept or dropped)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from flake8_flaskleak.engine import analyse
from flake8_flaskleak.model.file import FileModel
from flake8_flaskleak.model.lifetimes import Fate, fate
from flake8_flaskleak.options import Options


def codes(source: str, code: str) -> list[int]:
    text = textwrap.dedent(source)
    findings = analyse(ast.parse(text), text, "app.py", Options(), project=None)
    return [finding.line for finding in findings if finding.code == code]


FACTORY = """
import logging

from flask import Flask


def create_app(name="shop"):
    app = Flask(name)
    logging.getLogger().addHandler(logging.StreamHandler())
    return app

"""


@pytest.mark.parametrize(
    "calls, reported",
    [
        ("app = create_app()\n", False),
        ("app = create_app()\nadmin = create_app('admin')\n", True),
        ("apps = [create_app(n) for n in ('a', 'b')]\n", True),
        ("for name in ('a', 'b'):\n    create_app(name)\n", True),
        ("app = create_app()\nif __name__ == '__main__':\n    create_app('dev').run()\n", False),
    ],
)
def test_a_factory_is_reported_only_when_the_process_runs_it_more_than_once(calls, reported):
    assert bool(codes(FACTORY + calls, "FLK309")) is reported


def test_a_factory_run_per_request_is_left_to_the_per_request_rules():
    per_request = (
        "host = Flask(__name__)\n\n@host.route('/<tenant>')\ndef tenant(tenant):\n"
        "    return str(create_app(tenant))\n"
    )
    assert codes(FACTORY + per_request, "FLK309") == []
    assert codes(FACTORY + per_request, "FLK305") == [9]


def test_a_guarded_registration_is_not_reported():
    source = FACTORY.replace(
        "    logging.getLogger().addHandler(logging.StreamHandler())\n",
        "    root = logging.getLogger()\n    if not root.handlers:\n"
        "        root.addHandler(logging.StreamHandler())\n",
    )
    assert codes(source + "a = create_app()\nb = create_app('b')\n", "FLK309") == []


def outcome_of(source: str, function_name: str = "view"):
    text = textwrap.dedent(source)
    model = FileModel(ast.parse(text), text, "app.py", Options())
    function = model.flask.module_functions[function_name]
    call = next(
        node for node in ast.walk(function)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Client"
    )

    def releases(node: ast.Call, names) -> bool:
        return getattr(node.func, "attr", "") == "close" and getattr(
            node.func.value, "id", None
        ) in names

    return fate(model, function, call, releases)


@pytest.mark.parametrize(
    "body, expected",
    [
        ("with httpx.Client() as c:\n        c.get('/')", Fate.RELEASED),
        ("c = httpx.Client()\n    c.get('/')", Fate.DROPPED),
        ("c = httpx.Client()\n    c.close()", Fate.RELEASED),
        ("c = httpx.Client()\n    c.get('/')\n    c.close()", Fate.RELEASED_LATE),
        ("c = httpx.Client()\n    try:\n        c.get('/')\n    finally:\n        c.close()",
         Fate.RELEASED),
        ("c = httpx.Client()\n    c.get('/')\n    try:\n        pass\n    finally:\n"
         "        c.close()", Fate.RELEASED_LATE),
        ("c = httpx.Client()\n    if flag:\n        c.close()", Fate.RELEASED_SOMETIMES),
        ("c = httpx.Client()\n    if c is not None:\n        c.close()", Fate.RELEASED),
        ("c = httpx.Client()\n    return c", Fate.RETURNED),
        ("global C\n    C = httpx.Client()\n    return C", Fate.KEPT),
        ("g.client = httpx.Client()", Fate.KEPT),
        ("httpx.Client().get('/')", Fate.DROPPED),
    ],
)
def test_what_becomes_of_a_client(body, expected):
    source = f"import httpx\nfrom flask import g\n\ndef view(flag=False):\n    {body}\n"
    assert outcome_of(source).fate is expected
