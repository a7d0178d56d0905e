"""Fuzzing: the analysis never raises and the fixer's output always parses and is stable.

Three sources of programs:

- ``hypothesmith.from_grammar()``: any text the Python grammar allows (odd, rarely Flask);
- ``hypothesmith.from_node()``: libcst trees turned into code (other shapes, other spacing);
- ``flask_programs()`` below: Flask snippets (routes, teardowns, ``scoped_session``,
  thread-locals, module lists, configs, ``open``/``connect`` calls, caches) combined and
  nested at random, so the rules and their fixes actually fire.

The generic programs rarely contain a rule's trigger strings, so they are analysed with every
rule's cheap text gate (``applies_to``) forced open: each rule's ``check`` and ``fix`` walk
every generated tree. ``FLASKLEAK_STRICT=1`` (tests/conftest.py) makes a rule bug raise.

Settings (CI): ``derandomize=True`` so a CI run is repeatable (the same examples every run, no
flaky red builds; a failure found once is found again), ``deadline=None`` (libcst's first parse
and the lark grammar make single examples slow, which is not what is tested here), and few
examples per test (grammar 40, libcst nodes 20, Flask programs 50, plus 30 for the check that
the rules fire): the whole module takes about 35 s of CPU. For a real fuzzing session,
``FLASKLEAK_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py`` runs more examples with
a random seed.
"""

from __future__ import annotations

import ast
import os
from collections import Counter

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flake8_flaskleak.engine import ALL_RULES, analyse
from flake8_flaskleak.fixer import fix_source
from flake8_flaskleak.noqa import split_suppressed
from flake8_flaskleak.rule import Rule
from flake8_flaskleak.source import SourceError, decode_source, parse_text

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")  # compile() in hypothesmith

DEEP_EXAMPLES = int(os.environ.get("FLASKLEAK_FUZZ_EXAMPLES", "0"))


def fuzz_settings(ci_examples: int) -> settings:
    return settings(
        max_examples=DEEP_EXAMPLES or ci_examples,
        deadline=None,
        derandomize=not DEEP_EXAMPLES,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


def ungated(rule: type[Rule]) -> type[Rule]:
    """The rule with its text gate open: ``check``/``fix`` run on every file."""
    return type(rule.__name__, (rule,), {"applies_to": classmethod(lambda cls, *_: True)})


UNGATED_RULES = [ungated(rule) for rule in ALL_RULES]
# Paths chosen so the path-gated rules (Gunicorn config files) run too.
PATHS = st.sampled_from(["app.py", "gunicorn.conf.py"])
# hypothesmith text has no Flask in it: this makes request-time-only rules run as well.
REQUEST_SIGNAL_COMMENT = "\n# route( teardown_ before_request View Resource\n"


def reported(source: bytes, path: str, rules=ALL_RULES) -> Counter[str]:
    text = decode_source(source)
    findings = analyse(parse_text(text, path), text, path, rules=rules, project=None)
    return Counter(finding.code for finding in split_suppressed(findings, text)[0])


def assert_parses(source: bytes, path: str) -> None:
    parse_text(decode_source(source), path)
    cst.parse_module(source)


def check_analysis_and_fix(text: str, path: str, rules, strict_fix_errors: bool) -> None:
    """The shared properties: analysis does not raise; the fix parses, is stable, and what it
    says it fixed is no longer reported."""
    try:
        source = text.encode("utf-8")
        tree = parse_text(decode_source(source), path)
    except (UnicodeEncodeError, SourceError):
        assume(False)  # the generator made something Python itself rejects
    analyse(tree, decode_source(source), path, rules=rules, project=None)

    result = fix_source(source, path, unsafe=True, rules=rules, project=None)
    bugs = [error for error in result.errors if "libcst cannot parse" not in error]
    assert not bugs, bugs
    if strict_fix_errors and "\f" not in text:
        assert not result.errors, result.errors
    if not result.changed:
        return
    assert_parses(result.fixed, path)
    again = fix_source(result.fixed, path, unsafe=True, rules=rules, project=None)
    assert again.fixed == result.fixed and not again.applied, (again.applied, again.errors)
    assert not again.errors, again.errors

    before = reported(source, path, rules)
    after = reported(result.fixed, path, rules)
    assert after == Counter(finding.code for finding in result.remaining)
    for code, count in result.applied.items():
        assert after[code] <= before[code] - count, (code, before[code], count, after[code])


# --- generic programs ---------------------------------------------------------------------


@fuzz_settings(ci_examples=40)
@given(code=hypothesmith.from_grammar(), path=PATHS)
def test_grammar_programs(code: str, path: str):
    check_analysis_and_fix(code + REQUEST_SIGNAL_COMMENT, path, UNGATED_RULES, False)


@fuzz_settings(ci_examples=20)
@given(code=hypothesmith.from_node(), path=PATHS)
def test_libcst_node_programs(code: str, path: str):
    check_analysis_and_fix(code + REQUEST_SIGNAL_COMMENT, path, UNGATED_RULES, False)


# --- Flask-flavoured programs --------------------------------------------------------------

HEADER = """\
import functools
import logging
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from functools import lru_cache

from flask import Blueprint, Flask, g, request
from flask.views import MethodView
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker
"""

LISTS = ("request_log", "_seen")
DICTS = ("_cache", "results_by_path")
LOCALS = ("_local", "state")
SESSIONS = ("db_session", "Session")
HELPERS = ("helper_a", "helper_b")

MODULE_SNIPPETS = [
    "app = Flask(__name__)",
    'bp = Blueprint("api", __name__)',
    'app.config["SQLALCHEMY_RECORD_QUERIES"] = True',
    'app.config["SQLALCHEMY_COMMIT_ON_TEARDOWN"] = True',
    'app.config.from_object("settings.ProductionConfig")',
    "class ProductionConfig:\n    DEBUG = True\n    SQLALCHEMY_RECORD_QUERIES = True",
    "class DevelopmentConfig:\n    DEBUG = True",
    "request_log = []",
    "_seen = set()",
    "_cache = {}",
    "results_by_path = dict()",
    "_local = threading.local()",
    "state = threading.local()",
    "engine = create_engine('sqlite://')",
    "db_session = scoped_session(sessionmaker(bind=engine))",
    "Session = scoped_session(sessionmaker())",
    'request_id = ContextVar("request_id")',
    "logger = logging.getLogger(__name__)",
    "executor = ThreadPoolExecutor(max_workers=4)",
    "app.app_context().push()",
    "max_requests = 1000",
    "workers = 4",
    'conn = sqlite3.connect("app.db")',
    "app.register_blueprint(bp)",
]

SIMPLE_STATEMENTS = [
    "{list}.append(request.args)",
    "{list}.append(request.path)",
    "{dict}[request.path] = request.get_json()",
    "{dict}.setdefault(request.path, []).append(1)",
    "{list}.clear()",
    "{local}.user = request.args.get('user')",
    "{local}.items = []",
    "{local}.items.append(request.path)",
    "{local}.__dict__.clear()",
    "del {local}.user",
    "{session}.add(record)",
    "{session}.commit()",
    "{session}.remove()",
    "token = request_id.set(request.path)",
    "request_id.reset(token)",
    'handle = open("/tmp/report.txt")',
    "data = handle.read()",
    "handle.close()",
    'connection = sqlite3.connect("app.db")',
    'rows = connection.execute("select 1").fetchall()',
    "connection.close()",
    "data = request.files['upload'].read()",
    "log = logging.getLogger(request.path)",
    'log.addHandler(logging.FileHandler("/tmp/x.log"))',
    "threading.Thread(target={helper}).start()",
    "executor.submit({helper})",
    "g.user = request.args.get('user')",
    "close_things()",
    "{helper}()",
    "pass",
]

COMPOUND_HEADS = [
    "if request.args:",
    "for item in request.args:",
    "while False:",
    "with threading.Lock():",
    'with open("/tmp/data") as stream:',
]


@st.composite
def statements(draw, depth: int) -> list[str]:
    """A block of statements (unindented lines), nested up to ``depth`` levels."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if depth > 0 and draw(st.integers(0, 3)) == 0:
            lines.extend(draw(compound(depth - 1)))
            continue
        template = draw(st.sampled_from(SIMPLE_STATEMENTS))
        lines.append(
            template.format(
                list=draw(st.sampled_from(LISTS)),
                dict=draw(st.sampled_from(DICTS)),
                local=draw(st.sampled_from(LOCALS)),
                session=draw(st.sampled_from(SESSIONS)),
                helper=draw(st.sampled_from(HELPERS)),
            )
        )
    return lines


def indent(lines: list[str], prefix: str = "    ") -> list[str]:
    return [prefix + line if line else line for line in lines]


@st.composite
def compound(draw, depth: int) -> list[str]:
    body = draw(statements(depth))
    kind = draw(st.sampled_from(["head", "try_except", "try_finally"]))
    if kind == "head":
        return [draw(st.sampled_from(COMPOUND_HEADS)), *indent(body)]
    handler = draw(statements(0))
    middle = "except Exception:" if kind == "try_except" else "finally:"
    return ["try:", *indent(body), middle, *indent(handler)]


FUNCTION_HEADS = [
    ('@app.route("/items/<int:item_id>")', "def view_{n}(item_id):", "return 'ok'"),
    ('@bp.get("/reports")', "def view_{n}():", "return 'ok'"),
    ("@app.teardown_appcontext", "def teardown_{n}(exc):", None),
    ("@app.teardown_request", "def teardown_{n}(exc=None):", None),
    ("@bp.teardown_app_request", "def teardown_{n}(exc):", None),
    ("@app.before_request", "def before_{n}():", None),
    ("@app.after_request", "def after_{n}(response):", "return response"),
    ("@app.errorhandler(500)", "def error_{n}(error):", "return 'error', 500"),
    ("@lru_cache(maxsize=None)", "def cached_{n}(key):", "return key"),
    ("@functools.cache", "def cached_{n}(key):", "return key"),
    ("@functools.lru_cache", "def cached_{n}(key):", "return key"),
    ("", "def helper_a():", None),
    ("", "def helper_b():", None),
]


@st.composite
def function(draw, n: int) -> list[str]:
    decorator, signature, tail = draw(st.sampled_from(FUNCTION_HEADS))
    body = draw(statements(2))
    if tail:
        body.append(tail)
    return ([decorator] if decorator else []) + [signature.format(n=n), *indent(body)]


@st.composite
def class_view(draw, n: int) -> list[str]:
    methods = []
    for verb in draw(st.lists(st.sampled_from(["get", "post", "delete"]), min_size=1,
                              max_size=2, unique=True)):
        methods += [f"def {verb}(self):", *indent(draw(statements(1))), "    return 'ok'", ""]
    registration = f'app.add_url_rule("/view{n}", view_func=View{n}.as_view("view{n}"))'
    return [f"class View{n}(MethodView):", *indent(methods), registration]


@st.composite
def factory(draw, n: int) -> list[str]:
    """An application factory with routes and teardowns nested inside it."""
    body = ["app = Flask(__name__)"]
    for index in range(draw(st.integers(1, 3))):
        body += [*draw(function(n * 10 + index)), ""]
    body.append("return app")
    return [f"def create_app_{n}():", *indent(body)]


@st.composite
def flask_programs(draw) -> str:
    lines = HEADER.splitlines() + [""]
    if draw(st.integers(0, 4)):  # usually a module-level app, as most services have
        lines += ["app = Flask(__name__)", ""]
    snippets = st.lists(st.sampled_from(MODULE_SNIPPETS), min_size=2, max_size=12, unique=True)
    for snippet in draw(snippets):
        lines += [snippet, ""]
    for n in range(draw(st.integers(1, 6))):
        block = draw(st.one_of(function(n), function(n), class_view(n), factory(n)))
        lines += ["", *block, ""]
    if draw(st.booleans()):
        lines.insert(len(HEADER.splitlines()), "from extensions import db  # noqa: F401")
    unit = draw(st.sampled_from(["    ", "\t", "  "]))
    lines = [reindent(line, unit) for line in lines]
    form_feeds = draw(st.sampled_from(["none", "own_line", "indentation"]))
    if form_feeds != "none":
        # a page break on its own line (libcst keeps it) or before code (libcst cannot)
        for index in sorted(draw(st.sets(st.integers(0, len(lines) - 1), max_size=5))):
            if form_feeds == "own_line" and not lines[index].strip():
                lines[index] = "\f"
            elif form_feeds == "indentation":
                lines[index] = "\f" + lines[index]
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text


def reindent(line: str, unit: str) -> str:
    stripped = line.lstrip(" ")
    return unit * ((len(line) - len(stripped)) // 4) + stripped


@fuzz_settings(ci_examples=50)
@given(code=flask_programs(), path=st.sampled_from(["app.py", "gunicorn.conf.py", "views.py"]))
def test_flask_programs(code: str, path: str):
    check_analysis_and_fix(code, path, ALL_RULES, True)


def test_flask_generator_makes_the_rules_fire():
    """The generator is only useful if the rules fire on what it makes: most of them do."""
    fired: Counter[str] = Counter()
    fixed: Counter[str] = Counter()

    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(code=flask_programs())
    def collect(code):
        text = code
        findings = analyse(ast.parse(text), text, "app.py", project=None)
        fired.update(finding.code for finding in findings)
        fixed.update(fix_source(text.encode(), "app.py", unsafe=True, project=None).applied)

    collect()
    expected = {"FLK101", "FLK103", "FLK201", "FLK202", "FLK203", "FLK301", "FLK401", "FLK402"}
    assert expected <= set(fired), sorted(fired)
    assert len(fixed) >= 4, fixed
