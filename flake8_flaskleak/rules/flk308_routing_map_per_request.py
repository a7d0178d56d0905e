"""FLK308 routing-map-per-request: werkzeug routing maps built, or rules added to one, per request.

A ``Map`` compiles each of its rules (regular expressions and generated builder functions) and
every rule refers back to its map, so a map built in a view is a reference cycle that only the
cyclic garbage collector frees. A rule added to the application's ``url_map`` (or a module-level
map) stays for the life of the process, and the map rebuilds its matcher after every addition.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..finding import Finding
from ..model import routing
from ..model.resources import summary
from ..rule import Rule


class RoutingMapPerRequest(Rule):
    code = "FLK308"
    name = "routing-map-per-request"
    summary = "werkzeug routing Map built, or a rule added to a lasting map, on every request"
    triggers = ("Map(", "url_map")
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        if not flask.request_time:
            return
        for _, call in routing.map_constructions(self.model):
            reach = flask.request_reach(call)
            if reach is None:
                continue
            function = flask.executing_function(call)
            if routing.built_once(self.model, call, function):
                continue
            yield self.finding(
                call,
                f"werkzeug `{summary(call, 40)}` is built on every request ({reach.describe()}): "
                "its rules are compiled again each time (regular expressions and generated "
                "code) and the map and its rules refer to each other, so every request leaves "
                "a reference cycle for the cyclic garbage collector to find; build the map once "
                "at import and `bind()` it per request",
            )
        for _, call in self.model.calls_to({"add"}):
            func = call.func
            if not isinstance(func, ast.Attribute) or not call.args:
                continue
            where = routing.long_lived_map(self.model, func.value)
            if where is None:
                continue
            reach = flask.request_reach(call)
            if reach is None:
                continue
            yield self.finding(
                call,
                f"`{summary(call, 50)}` adds a rule to `{where}` on every request "
                f"({reach.describe()}): the map keeps every rule for the life of the process "
                "and rebuilds its matcher after each addition; add routes once at start-up, "
                "or answer the extra paths from a 404 error handler",
            )
