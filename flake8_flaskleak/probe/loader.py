"""Build the Flask app the way ``flask --app`` does.

Accepted forms: ``module:app`` (an attribute), ``module:create_app()`` or
``module:create_app('testing')`` (a factory call with literal arguments), a bare ``module``
(its ``app`` or ``application``, or a ``create_app``/``make_app`` factory called with no
arguments), and ``path/to/file.py`` or ``path/to/package`` for the module. The folder the
module's package chain starts in goes first on ``sys.path``, as Flask does. Everything that can
go wrong becomes one ``ProbeError`` line.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from dataclasses import dataclass

from .errors import ProbeError, describe_exception

FACTORY_NAMES = ("create_app", "make_app")
APP_NAMES = ("app", "application")


@dataclass
class LoadedApp:
    app: object  # a flask.Flask
    module_name: str
    root: str  # the folder put on sys.path: the project the probe reports lines in


def split_spec(spec: str) -> tuple[str, str | None]:
    """``path/or.module[:expression]`` -> (module part, expression or None)."""
    # A Windows drive letter ("C:\\app.py") is not a separator.
    head, sep, tail = spec.rpartition(":")
    if sep and tail and not (len(head) == 1 and head.isalpha() and tail[:1] in "\\/"):
        return head, tail
    return spec, None


def module_and_root(module_part: str, app_dir: str) -> tuple[str, str]:
    """A module name and the folder to import it from; a path is turned into both."""
    looks_like_path = module_part.endswith(".py") or os.sep in module_part or "/" in module_part
    if not looks_like_path:
        return module_part, os.path.abspath(app_dir)
    path = os.path.abspath(os.path.join(app_dir, module_part))
    if path.endswith(".py"):
        path = path[:-3]
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    if not (os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))):
        raise ProbeError(f"cannot find the app module {module_part!r}")
    parts = [os.path.basename(path)]
    folder = os.path.dirname(path)
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    return ".".join(parts), folder


def parse_expression(expression: str) -> tuple[str, tuple, dict, bool]:
    """``name``, or ``name(literal, key=literal)``: (name, args, kwargs, is_call)."""
    try:
        node = ast.parse(expression.strip(), mode="eval").body
    except SyntaxError:
        raise ProbeError(f"cannot parse the app expression {expression!r}") from None
    if isinstance(node, ast.Name):
        return node.id, (), {}, False
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        try:
            args = tuple(ast.literal_eval(argument) for argument in node.args)
            kwargs = {
                keyword.arg: ast.literal_eval(keyword.value)
                for keyword in node.keywords
                if keyword.arg is not None
            }
        except ValueError:
            raise ProbeError(
                f"the factory call {expression!r} may only take literal arguments"
            ) from None
        return node.func.id, args, kwargs, True
    raise ProbeError(
        f"{expression!r} is neither an attribute nor a factory call like create_app()"
    )


def import_module(module_name: str, root: str) -> object:
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit from a module's own checks included
        raise ProbeError(f"cannot import {module_name!r}: {describe_exception(error)}") from None


def call_factory(module_name: str, name: str, factory: object, args: tuple, kwargs: dict):
    if not callable(factory):
        raise ProbeError(f"{module_name}:{name} is not callable")
    try:
        return factory(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        raise ProbeError(
            f"{module_name}:{name}({shown}) raised {describe_exception(error)}"
        ) from None


def find_app(module: object, module_name: str, expression: str | None) -> object:
    if expression is not None:
        name, args, kwargs, is_call = parse_expression(expression)
        if not hasattr(module, name):
            raise ProbeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(module, name)
        return call_factory(module_name, name, value, args, kwargs) if is_call else value
    for name in APP_NAMES:
        if is_flask_app(getattr(module, name, None)):
            return getattr(module, name)
    for name in FACTORY_NAMES:
        factory = getattr(module, name, None)
        if factory is not None:
            return call_factory(module_name, name, factory, (), {})
    apps = [value for value in vars(module).values() if is_flask_app(value)]
    if len(apps) == 1:
        return apps[0]
    raise ProbeError(
        f"no Flask app found in {module_name!r}: name it with --app {module_name}:NAME "
        "or --app 'module:create_app()'"
    )


def is_flask_app(value: object) -> bool:
    flask = sys.modules.get("flask")
    return flask is not None and isinstance(value, flask.Flask)


def apply_config_object(app: object, dotted: str) -> None:
    """``app.config.from_object`` after the app was built, as an override for the probe."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ProbeError(f"--config-object {dotted!r}: expected a dotted path, module.Name")
    try:
        module = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        raise ProbeError(
            f"--config-object {dotted!r}: cannot import {module_name!r}: "
            f"{describe_exception(error)}"
        ) from None
    if not hasattr(module, attribute):
        raise ProbeError(f"--config-object {dotted!r}: {module_name!r} has no {attribute!r}")
    app.config.from_object(getattr(module, attribute))  # type: ignore[attr-defined]


def load_app(spec: str, app_dir: str = ".", config_object: str | None = None) -> LoadedApp:
    try:
        import flask  # noqa: F401  (the probe needs Flask in the user's environment)
    except ImportError:
        raise ProbeError(
            "Flask is not installed in this environment: install the app's requirements "
            "into the environment flaskleak runs in"
        ) from None
    module_part, expression = split_spec(spec.strip())
    if not module_part:
        raise ProbeError(f"--app {spec!r}: no module given")
    module_name, root = module_and_root(module_part, app_dir)
    module = import_module(module_name, root)
    app = find_app(module, module_name, expression)
    if not is_flask_app(app):
        raise ProbeError(f"--app {spec!r} gave a {type(app).__name__}, not a Flask app")
    if config_object:
        apply_config_object(app, config_object)
    return LoadedApp(app, module_name, root)
