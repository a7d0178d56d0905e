"""The ownership analysis FLK401/FLK402 share: who closes a resource bound to a local name."""

from __future__ import annotations

import ast
import textwrap

import pytest

from flake8_flaskleak.model.resources import Opener, Verdict, bindings_in, collect, judge


def verdict_of(body: str) -> Verdict:
    source = "def view():\n" + textwrap.indent(textwrap.dedent(body), "    ")
    function = ast.parse(source).body[0]

    def opener_of(call: ast.Call):
        return Opener(call, "connection") if ast.unparse(call) == "engine.connect()" else None

    (binding,) = bindings_in(function, opener_of)
    return judge(collect(binding)).verdict


@pytest.mark.parametrize(
    "body, expected",
    [
        ("conn = engine.connect()\nconn.execute(q)\n", Verdict.LEAKS),
        ("conn = engine.connect()\nwith conn:\n    conn.execute(q)\n", Verdict.MANAGED),
        ("conn = engine.connect()\ntry:\n    conn.execute(q)\nfinally:\n    conn.close()\n",
         Verdict.MANAGED),
        ("conn = engine.connect()\nconn.execute(q)\nconn.close()\n", Verdict.CLOSED_LATE),
        ("conn = engine.connect()\nlog.info('x')\nconn.close()\n", Verdict.CLOSED),
        ("conn = engine.connect()\nif x:\n    return None\nconn.close()\n", Verdict.CLOSED_LATE),
        ("conn = engine.connect()\ntry:\n    conn.execute(q)\nexcept Exception:\n"
         "    conn.close()\n    raise\nconn.close()\n", Verdict.CLOSED),
        ("conn = engine.connect()\ntry:\n    conn.execute(q)\nexcept Error:\n    conn.close()\n",
         Verdict.CLOSED_SOMETIMES),
        ("conn = engine.connect()\nreturn conn\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\nresult = conn.execute(q)\nreturn result\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\nrows = conn.execute(q).fetchall()\nreturn rows\n",
         Verdict.LEAKS),
        ("conn = engine.connect()\nresult = conn.execute(q)\n"
         "return jsonify([dict(r) for r in result])\n", Verdict.LEAKS),
        ("conn = engine.connect()\nyield conn\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\nself.conn = conn\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\nstack.enter_context(conn)\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\nstack.callback(conn.close)\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\nThread(target=work, args=(conn,)).start()\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\ndef gen():\n    yield from conn.execute(q)\nreturn gen()\n",
         Verdict.HANDED_ON),
        ("conn = engine.connect()\nreader = csv.DictReader(conn)\nlist(reader)\n", Verdict.LEAKS),
        ("global conn\nconn = engine.connect()\n", Verdict.HANDED_ON),
        ("conn = engine.connect()\nother = conn\nwith closing(other):\n    pass\n",
         Verdict.MANAGED),
        ("conn = engine.connect()\nconn.execute(q)\ndel conn\n", Verdict.MANAGED),
    ],
)
def test_verdicts(body, expected):
    assert verdict_of(body) is expected
