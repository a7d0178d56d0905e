"""The seed file: how to call each route, and how to prepare the app for a probe.

TOML, because the project already reads TOML for its configuration and it allows comments::

    [probe]                       # defaults for the command-line options (the command line wins)
    app = "wsgi:create_app('testing')"
    app-dir = "."                 # relative to this file
    config-object = "myapp.config.ProbeConfig"
    setup = "probe_setup:prepare" # called once with the app, inside an app context
    requests = 500
    warmup = 50
    threads = 4

    [env]                         # set before the app is imported; {tmp} is a temporary folder
    DATABASE_URL = "sqlite:///{tmp}/probe.db"

    [[route]]
    rule = "/api/users/<user>/audit"   # or endpoint = "api.audit"
    method = "POST"
    args = { user = "user-{n}" }       # URL arguments; a list is cycled through
    query = { page = [1, 2, 3] }
    headers = { "X-User-Id" = "{n}" }
    json = { event = "login" }         # or data = {...} (a form) or body = "raw text"
                                       # (in json, lists stay lists; elsewhere they are cycled)
    files = { upload = { filename = "prices.csv", content = "sku,price\n" } }
    skip = false

In strings, ``{n}`` becomes the request's number, so values change per request and per-value
caches or per-name loggers show up.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from .errors import ProbeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PROBE_KEYS = {
    "app": str, "app-dir": str, "config-object": str, "setup": str,
    "requests": int, "warmup": int, "threads": int, "batches": int,
}
ROUTE_KEYS = {
    "rule", "endpoint", "method", "args", "query", "headers", "json", "data", "body", "files",
    "skip",
}
BODY_KEYS = ("json", "data", "body", "files")


@dataclass
class RouteSeed:
    rule: str | None = None
    endpoint: str | None = None
    method: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, Any] | None = None
    body: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    skip: bool = False

    def matches(self, rule: str, endpoint: str) -> bool:
        return (self.rule is None or self.rule == rule) and (
            self.endpoint is None or self.endpoint == endpoint
        )


@dataclass
class Seed:
    path: str | None = None
    probe: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    routes: list[RouteSeed] = field(default_factory=list)

    def for_route(self, rule: str, endpoint: str, method: str | None = None) -> RouteSeed | None:
        for route in self.routes:
            if route.matches(rule, endpoint) and (
                method is None or route.method is None or route.method.upper() == method
            ):
                return route
        return None

    def relative(self, path: str) -> str:
        """A path from the seed file, relative to the file's folder."""
        base = os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()
        return os.path.normpath(os.path.join(base, path))


def load_seed(path: str | None) -> Seed:
    if path is None:
        return Seed()
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ProbeError(f"--seed {path}: cannot read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProbeError(f"--seed {path}: not valid TOML: {error}") from None
    return parse_seed(document, path)


def parse_seed(document: dict, path: str | None = None) -> Seed:
    where = f"--seed {path}" if path else "seed"
    unknown = set(document) - {"probe", "env", "route"}
    if unknown:
        raise ProbeError(f"{where}: unknown table {sorted(unknown)[0]!r} (probe, env, route)")
    probe = _table(document.get("probe", {}), f"{where}: [probe]")
    for key, value in probe.items():
        expected = PROBE_KEYS.get(key)
        if expected is None:
            raise ProbeError(f"{where}: [probe] unknown key {key!r}")
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ProbeError(f"{where}: [probe] {key} must be a {expected.__name__}")
    env = _table(document.get("env", {}), f"{where}: [env]")
    for key, value in env.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ProbeError(f"{where}: [env] {key} must be a string or a number")
    routes_value = document.get("route", [])
    if not isinstance(routes_value, list):
        raise ProbeError(f"{where}: write routes as [[route]] tables")
    routes = [_route(item, f"{where}: route {index + 1}") for index, item in
              enumerate(routes_value)]
    return Seed(path, probe, {key: str(value) for key, value in env.items()}, routes)


def _table(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise ProbeError(f"{where} must be a table")
    return value


def _route(item: object, where: str) -> RouteSeed:
    item = _table(item, where)
    unknown = set(item) - ROUTE_KEYS
    if unknown:
        raise ProbeError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    if "rule" not in item and "endpoint" not in item:
        raise ProbeError(f"{where}: give its rule (\"/users/<int:id>\") or its endpoint")
    if sum(key in item for key in BODY_KEYS if key != "files") > 1:
        raise ProbeError(f"{where}: give only one of json, data and body")
    for key in ("args", "query", "headers", "files"):
        _table(item.get(key, {}), f"{where}: {key}")
    for name, upload in item.get("files", {}).items():
        upload = _table(upload, f"{where}: files.{name}")
        if not isinstance(upload.get("content", ""), str):
            raise ProbeError(f"{where}: files.{name}.content must be a string")
    method = item.get("method")
    if method is not None and not isinstance(method, str):
        raise ProbeError(f"{where}: method must be a string")
    return RouteSeed(
        rule=item.get("rule"), endpoint=item.get("endpoint"),
        method=method.upper() if method else None,
        args=item.get("args", {}), query=item.get("query", {}),
        headers=item.get("headers", {}), json=item.get("json"), data=item.get("data"),
        body=item.get("body"), files=item.get("files", {}), skip=bool(item.get("skip", False)),
    )


def vary(value: Any, number: int) -> Any:
    """The value for request ``number``: lists are cycled, ``{n}`` in strings is replaced."""
    if isinstance(value, list):
        return vary(value[number % len(value)], number) if value else None
    if isinstance(value, str):
        return value.replace("{n}", str(number))
    if isinstance(value, dict):
        return {key: vary(item, number) for key, item in value.items()}
    return value


def vary_json(value: Any, number: int) -> Any:
    """A JSON body for request ``number``: only ``{n}`` in strings changes (lists are data)."""
    if isinstance(value, str):
        return value.replace("{n}", str(number))
    if isinstance(value, list):
        return [vary_json(item, number) for item in value]
    if isinstance(value, dict):
        return {key: vary_json(item, number) for key, item in value.items()}
    return value
