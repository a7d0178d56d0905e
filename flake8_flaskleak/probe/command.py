"""``flaskleak probe``: import the app, run its routes, measure what they leave behind.

This is the only flaskleak command that imports and runs the analysed code. Exit codes: 0 done
(no route over ``--max-growth-kib``), 1 a route's memory grows over it, 2 the probe could not
run (app not importable, a raising factory, a blocked connection, a bad option or seed file):
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shutil
import sys
import tempfile

from .errors import ProbeError, describe_exception

EXIT_OK, EXIT_GROWS, EXIT_ERROR = 0, 1, 2

DESCRIPTION = """\
Confirm leaks by measurement. Unlike `check` and `fix`, this command IMPORTS AND RUNS YOUR
APPLICATION: it builds the app like `flask --app` does, sends each route requests through
Flask's test client (on one thread, then on a small thread pool), and measures what stays
behind: memory growth and the project lines it comes from, threads, file descriptors,
SQLAlchemy pool connections and scoped sessions, thread-local attributes, app contexts,
loggers and handlers, matplotlib figures, functools caches. Each static finding a route
reaches is reported as confirmed, not observed or not reached. Outgoing network connections
are blocked (loopback and Unix sockets stay allowed). Run it against a testing configuration,
never against production services."""


def add_parser(commands) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "probe",
        help="import and run the app to confirm leaks by measurement",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--app", metavar="SPEC",
                        help="the app, as for `flask --app`: module:app, "
                             "'module:create_app(\"testing\")', module, or path/to/file.py "
                             "(default: the seed file's, else $FLASK_APP)")
    parser.add_argument("--app-dir", metavar="DIR",
                        help="folder to import the app from (default: the current folder)")
    parser.add_argument("--config-object", metavar="DOTTED",
                        help="apply app.config.from_object(DOTTED) after the app is built")
    parser.add_argument("--seed", metavar="FILE",
                        help="TOML file with environment, setup, and methods, arguments, "
                             "headers and bodies per route")
    parser.add_argument("--route", action="append", default=[], metavar="PATTERN",
                        help="only routes whose rule or endpoint matches this glob "
                             "(repeatable; default: every route but static)")
    parser.add_argument("--requests", type=positive, metavar="N",
                        help="measured requests per route and phase (default 500)")
    parser.add_argument("--warmup", type=positive, metavar="N",
                        help="warm-up requests before measuring (default 100)")
    parser.add_argument("--batches", type=positive, metavar="K",
                        help="batches the requests are split into for the trend (default 5)")
    parser.add_argument("--threads", type=positive, metavar="N",
                        help="threads of the pool phase; 1 skips it (default 4)")
    parser.add_argument("--fill-limit", type=int, metavar="N",
                        help="most extra warm-up requests spent filling the project's bounded "
                             "containers and caches before measuring (default 3000)")
    parser.add_argument("--max-growth-kib", type=float, metavar="KIB",
                        help="exit 1 when a route's memory grows steadily by more than this "
                             "per 1,000 requests")
    parser.add_argument("--allow-network", action="store_true",
                        help="let the app open outgoing network connections")
    parser.add_argument("--no-static", action="store_true",
                        help="measure only; do not link to the static findings")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                        help="output format (sarif: the confirmed findings)")
    parser.add_argument("-o", "--output-file", metavar="FILE", help="write the report here")
    return parser


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def run(arguments: argparse.Namespace) -> int:
    try:
        return _run(arguments)
    except ProbeError as error:
        print(f"flaskleak probe: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:
        if os.environ.get("FLASKLEAK_STRICT"):
            raise
        print(f"flaskleak probe: internal error: {describe_exception(error)} "
              "(a bug in flake8-flaskleak, please report it)", file=sys.stderr)
        return EXIT_ERROR


def _run(arguments: argparse.Namespace) -> int:
    from .api import probe_app, quiet_streams
    from .loader import load_app
    from .netblock import NetworkGuard
    from .report import RENDERERS
    from .runner import Settings
    from .seed import load_seed

    seed = load_seed(arguments.seed)
    options = seed.probe
    app_spec = arguments.app or options.get("app") or os.environ.get("FLASK_APP")
    if not app_spec:
        raise ProbeError("no app given: use --app module:app (or set it in the seed file)")
    if arguments.app_dir:
        app_dir = arguments.app_dir
    elif options.get("app-dir") and not arguments.app:
        app_dir = seed.relative(options["app-dir"])
    elif seed.path and not arguments.app:
        app_dir = seed.relative(".")
    else:
        app_dir = "."
    if not os.path.isdir(app_dir):
        raise ProbeError(f"--app-dir {app_dir}: no such folder")
    settings = Settings()
    if arguments.fill_limit is not None:
        settings.fill_limit = max(0, arguments.fill_limit)
    for name in ("requests", "warmup", "batches", "threads"):
        value = getattr(arguments, name) or options.get(name)
        if value is not None:
            setattr(settings, name, value)
    config_object = arguments.config_object or options.get("config-object")
    renderer = RENDERERS[arguments.format]

    guard = None if arguments.allow_network else NetworkGuard()
    temporary = tempfile.mkdtemp(prefix="flaskleak-probe-")
    try:
        with environment(seed.env, temporary), \
                (guard if guard is not None else contextlib.nullcontext()), \
                quiet_streams():
            loaded = load_app(app_spec, app_dir, config_object)
            check_network(guard)
            setup = options.get("setup")
            if setup:
                run_setup(setup, loaded.app)
                check_network(guard)
            report = probe_app(
                loaded.app, root=loaded.root, seed=seed, routes=arguments.route,
                settings=settings, guard=guard, static=not arguments.no_static,
                label=app_spec,
            )
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    output = renderer(report)
    if arguments.output_file:
        try:
            with open(arguments.output_file, "w", encoding="utf-8") as handle:
                handle.write(output)
        except OSError as error:
            raise ProbeError(f"{arguments.output_file}: cannot write: "
                             f"{error.strerror or error}") from None
    else:
        sys.stdout.write(output)
    if arguments.max_growth_kib is not None and report.growing(arguments.max_growth_kib):
        return EXIT_GROWS
    return EXIT_OK


def check_network(guard) -> None:
    attempt = guard.first_attempt() if guard is not None else None
    if attempt is not None:
        raise ProbeError(
            f"{attempt.where}: the app tried to connect to {attempt.address}; outgoing "
            "network connections are blocked while probing (--allow-network allows them)"
        )


@contextlib.contextmanager
def environment(values: dict[str, str], temporary: str):
    """The seed file's [env], ``{tmp}`` replaced, for the run only."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            os.environ[name] = value.replace("{tmp}", temporary)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_setup(spec: str, app) -> None:
    """The seed's ``setup = "module:function"``: called once with the app, in an app context."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ProbeError(f"seed setup {spec!r}: expected module:function")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise ProbeError(f"seed setup {spec!r}: cannot import it: "
                         f"{describe_exception(error)}") from None
    try:
        with app.app_context():
            function(app)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise ProbeError(f"seed setup {spec!r} raised {describe_exception(error)}") from None
