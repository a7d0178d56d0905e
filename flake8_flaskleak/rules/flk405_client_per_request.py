"""FLK405 client-per-request: a pooled client built in request-time code and never closed.

A SQLAlchemy engine, a boto3 client, a MongoDB client, a Cassandra cluster or a Celery app owns
a connection pool (some also threads) and is meant to be made once per process. Made per
request and dropped, each outlives the request (``model/clients.py`` says why, and why Redis,
requests and httpx clients are not listed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..astutil import FunctionNode, dotted_name
from ..finding import Finding
from ..model.clients import (
    CONSTRUCTORS,
    LEFT_BEHIND,
    RELEASE_METHODS,
    client_kind,
    releases_client,
)
from ..model.flask import Reach
from ..model.lifetimes import Fate, Outcome, callers_fates, fate
from ..model.resources import summary
from ..model.setup import CACHE_DECORATORS
from ..rule import Rule
from ..scan import scan

ADVICE = "make one per process (or per app, in `app.extensions`) and reuse it"


class ClientPerRequest(Rule):
    code = "FLK405"
    name = "client-per-request"
    summary = "database engine or service client (boto3, MongoDB...) built per request, never closed"
    triggers = (
        "create_engine", "engine_from_config", "create_async_engine", "boto3", "MongoClient",
        "AsyncIOMotorClient", "Cluster", "Celery",
    )
    request_time_only = True

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        if not flask.request_time:
            return
        for _, call in self.model.calls_of(CONSTRUCTORS):
            function = flask.executing_function(call)
            reach = flask.per_request(function, call)  # None behind a once-guard
            if reach is None or self.cached(function):
                continue
            kind = client_kind(self.model, call)
            outcome = fate(self.model, function, call, releases_client)
            message = self.message(call, kind, function, outcome, reach)
            if message is not None:
                yield self.finding(call, message)

    def cached(self, function: FunctionNode) -> bool:
        """A ``functools.cache``d factory: one client per set of arguments, kept."""
        for decorator in function.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            qualified = self.model.imports.qualified_name(target) or dotted_name(target) or ""
            if qualified in CACHE_DECORATORS:
                return True
        return False

    def message(self, call: ast.Call, kind: str, function: FunctionNode, outcome: Outcome,
                reach: Reach) -> str | None:
        made = f"`{summary(call)}` builds a {kind}"
        consequence = f"each one leaves {LEFT_BEHIND[kind]}"
        where = reach.describe()
        if outcome.fate is Fate.DROPPED:
            return (
                f"{made} on every request and nothing closes it ({where}): {consequence}; "
                f"{ADVICE}"
            )
        if outcome.fate is Fate.RETURNED:
            for caller, site, caller_outcome in callers_fates(self.model, function, releases_client):
                if caller_outcome.fate is Fate.DROPPED:
                    return (
                        f"{made} on every call of `{function.name}`, and `{caller.name}` (line "
                        f"{site.lineno}) never closes it ({where}): {consequence}; {ADVICE}"
                    )
            return None
        if outcome.fate is Fate.KEPT and self.per_request_owner(function, outcome):
            klass = self.model.flask.info(function).klass
            return (
                f"{made} for every `{klass.name}` made per request, kept in "
                f"`{outcome.stored_on}` and never closed ({where}): {consequence}; {ADVICE}"
            )
        return None

    def per_request_owner(self, function: FunctionNode, outcome: Outcome) -> bool:
        """``self.client = ...`` in the ``__init__`` of a class made per request (a view
        class, or one request-time code instantiates) that never closes it."""
        stored = outcome.stored_on or ""
        if function.name != "__init__" or not stored.startswith("self."):
            return False
        klass = self.model.flask.info(function).klass
        if klass is None:
            return False
        attribute = stored.split(".")[1]
        for method in self.model.flask.all_methods(klass.name).values():
            for node in scan(method).of(ast.Call):
                func = node.func
                if (
                    isinstance(func, ast.Attribute)
                    and func.attr in RELEASE_METHODS
                    and (dotted_name(func.value) or "").startswith(f"self.{attribute}")
                ):
                    return False  # the object closes it (close(), __exit__, __del__)
        return True
