"""Which routes to probe, and the requests each one gets.

Every rule of ``app.url_map`` (or those ``--route`` selects), GET by default. Each URL argument
gets a value that changes per request, chosen by its converter (int, float, string, path,
uuid, any), so per-value caches and per-name loggers show up; the seed file can give values,
other methods, query strings, headers and bodies. A rule without GET and no seed entry is
skipped with a note rather than sent a guessed body.
"""

from __future__ import annotations

import fnmatch
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import ProbeError
from .seed import RouteSeed, Seed, vary, vary_json

IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})


@dataclass
class RoutePlan:
    rule: object  # werkzeug.routing.Rule
    method: str
    seed: RouteSeed | None

    @property
    def label(self) -> str:
        return f"{self.method} {self.rule.rule}"  # type: ignore[attr-defined]

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint  # type: ignore[attr-defined]

    def request(self, number: int) -> tuple[str, str, dict[str, Any]]:
        """(method, URL, keyword arguments for the test client's ``open``)."""
        values = {}
        for name in sorted(self.rule.arguments):  # type: ignore[attr-defined]
            if name in (self.rule.defaults or {}):  # type: ignore[attr-defined]
                continue
            values[name] = self._argument(name, number)
        built = self.rule.build(values, append_unknown=False)  # type: ignore[attr-defined]
        if built is None:
            raise ProbeError(f"{self.label}: cannot build a URL from {values!r}")
        url = built[1]
        options: dict[str, Any] = {}
        seed = self.seed
        if seed is not None:
            if seed.query:
                options["query_string"] = {k: str(vary(v, number)) for k, v in seed.query.items()}
            if seed.headers:
                options["headers"] = {k: str(vary(v, number)) for k, v in seed.headers.items()}
            if seed.json is not None:
                options["json"] = vary_json(seed.json, number)
            elif seed.body is not None:
                options["data"] = vary(seed.body, number)
            if seed.data is not None or seed.files:
                form: dict[str, Any] = {
                    k: str(vary(v, number)) for k, v in (seed.data or {}).items()
                }
                for field_name, upload in seed.files.items():
                    content = vary(upload.get("content", ""), number).encode("utf-8")
                    form[field_name] = (io.BytesIO(content), upload.get("filename", "upload"))
                options["data"] = form
                if seed.files:
                    options["content_type"] = "multipart/form-data"
        return self.method, url, options

    def _argument(self, name: str, number: int) -> Any:
        if self.seed is not None and name in self.seed.args:
            return vary(self.seed.args[name], number)
        converter = self.rule._converters.get(name)  # type: ignore[attr-defined]
        return converter_value(converter, number)


def converter_value(converter: object, number: int) -> Any:
    kind = type(converter).__name__
    if kind in ("IntegerConverter", "NumberConverter"):
        low = getattr(converter, "min", None) or 0
        return max(number + 1, low)
    if kind == "FloatConverter":
        return number + 0.5
    if kind == "UUIDConverter":
        return uuid.UUID(int=number + 1)
    if kind == "PathConverter":
        return f"probe/{number}/item"
    if kind == "AnyConverter":
        items = sorted(getattr(converter, "items", ()) or ())
        if items:
            return items[number % len(items)]
    length = getattr(converter, "length", None) or 0
    text = f"probe{number}"
    if length:  # string(length=N) rules match exactly N characters
        text = (text * length)[-length:] if len(text) < length else text[-length:]
    return text


@dataclass
class RouteSelection:
    plans: list[RoutePlan] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (route, why)


def selected(rule: object, patterns: list[str]) -> bool:
    if not patterns:
        return rule.endpoint != "static"  # type: ignore[attr-defined]
    return any(
        fnmatch.fnmatchcase(rule.rule, pattern)  # type: ignore[attr-defined]
        or fnmatch.fnmatchcase(rule.endpoint, pattern)  # type: ignore[attr-defined]
        for pattern in patterns
    )


def plan_routes(app: object, seed: Seed, patterns: list[str]) -> RouteSelection:
    selection = RouteSelection()
    rules = app.url_map.iter_rules()  # type: ignore[attr-defined]
    for rule in sorted(rules, key=lambda r: (r.rule, r.endpoint)):
        if not selected(rule, patterns):
            continue
        methods = sorted((rule.methods or set()) - IGNORED_METHODS)
        entries = [
            route for route in seed.routes
            if route.matches(rule.rule, rule.endpoint)
        ]
        if any(route.skip for route in entries):
            selection.skipped.append((f"{rule.rule}", "skipped by the seed file"))
            continue
        seeded_methods = [route.method for route in entries if route.method]
        if seeded_methods:
            for method in seeded_methods:
                if method not in methods:
                    raise ProbeError(
                        f"seed: {rule.rule} does not accept {method} "
                        f"(it accepts {', '.join(methods)})"
                    )
                plan_seed = seed.for_route(rule.rule, rule.endpoint, method)
                selection.plans.append(RoutePlan(rule, method, plan_seed))
        elif "GET" in methods:
            selection.plans.append(RoutePlan(rule, "GET", entries[0] if entries else None))
        else:
            selection.skipped.append((
                f"{'/'.join(methods)} {rule.rule}",
                "no GET: give its method (and a body) in the seed file",
            ))
    if patterns and not selection.plans and not selection.skipped:
        raise ProbeError(f"--route {', '.join(patterns)}: no route matches")
    return selection
