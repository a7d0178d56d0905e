"""FLK205 cleanup-skipped-on-exception: a request's resource released where an error skips it.

Two places give a resource back only when nothing goes wrong:

* an ``after_request`` function: Flask stops running the after_request functions at the first
  one that raises, and runs none when the error propagates (debug, testing,
  ``PROPAGATE_EXCEPTIONS``) or the 500 handler itself fails; Flask's documentation says not to
  release resources there;
* the end of a view, outside ``finally``: whatever raises (or returns) before it skips it.

What is released is a holder filled elsewhere in the request: ``g.db = pool.getconn()`` in a
``before_request`` hook, ``lock.acquire()``, a pool checkout in the view, a scoped session used
by the request. Released in a teardown (anywhere in the project) or in a ``finally``: not
reported. A local closed with ``close()`` is FLK401's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cached_property

from ..finding import Finding
from ..model.held_resources import CLOSE_METHODS, Acquisition, HeldResources, Release
from ..model.resources import first_risky, summary
from ..model.teardowns import normalise
from ..rule import Rule
from ..scan import scan

AFTER_HOOKS = {"after_request", "after_app_request"}
BEFORE_HOOKS = {"before_request", "before_app_request"}
VIEW_KINDS = {"route", "view", "called"}


class CleanupSkippedOnException(Rule):
    code = "FLK205"
    name = "cleanup-skipped-on-exception"
    summary = "resource released in after_request or at the end of a view: an error skips it"
    triggers = ("after_request", "after_app_request", "before_request", "before_app_request",
                "putconn", "release(")
    request_time_only = True

    @cached_property
    def held(self) -> HeldResources:
        return HeldResources(self.model)

    @cached_property
    def after_reach(self):
        entries = [e for e in self.model.flask.entry_points if e.kind in AFTER_HOOKS]
        return self.model.flask.reach_from(entries)

    @cached_property
    def before_functions(self):
        entries = [e for e in self.model.flask.entry_points if e.kind in BEFORE_HOOKS]
        return self.model.flask.reach_from(entries)

    @cached_property
    def teardown_functions(self):
        flask = self.model.flask
        return flask.reachable_from(entry.function for entry in flask.teardowns)

    def check(self) -> Iterator[Finding]:
        flask = self.model.flask
        if not flask.request_time:
            return
        releases = self.held.releases()
        if not releases:
            return
        protected = self.protected_keys(releases)
        for release in releases:
            if release.holder.key in protected:
                continue
            if release.function in self.after_reach:
                yield from self.after_hook(release)
            elif release.function in flask.request_time:
                yield from self.end_of_view(release)

    # -- released elsewhere too? ---------------------------------------------------------------

    def protected_keys(self, releases: list[Release]) -> set[str]:
        """Holders also released in a teardown (here or in another project module) or in a
        ``finally`` of this module."""
        keys = set()
        for release in releases:
            if release.function in self.teardown_functions:
                keys.add(release.holder.key)
            elif release.function not in self.after_reach and self.in_finally(release):
                keys.add(release.holder.key)
        for lambda_node in self.model.flask.teardown_lambdas:
            for node in ast.walk(lambda_node):
                if isinstance(node, ast.Call):
                    holder = self.held.released_holder(node, lambda_node)
                    if holder is not None:
                        keys.add(holder.key)
        if self.model.project is not None:
            removed = {
                normalise(name)
                for _, facts in self.model.project.teardown_facts(exclude_path=self.model.path)
                for name, _ in facts.get("removed", [])
            }
            for release in releases:
                if release.holder.kind not in ("g", "session"):
                    continue  # a local or a global of this module: no other module releases it
                if normalise(release.holder.display) in removed:
                    keys.add(release.holder.key)
        return keys

    def in_finally(self, release: Release) -> bool:
        for node in scan(release.function).of(ast.Try):
            for statement in node.finalbody:
                if any(inner is release.call for inner in ast.walk(statement)):
                    return True
        return False

    # -- after_request -------------------------------------------------------------------------

    def after_hook(self, release: Release) -> Iterator[Finding]:
        holder = release.holder
        if holder.kind == "local":
            return  # checked out and given back within the after_request function itself
        if holder.kind == "session":
            what = f"the scoped session `{holder.display}`"
            origin = "(its session and connection are held from the request's first query)"
            kind = "session"
        else:
            acquisition = self.acquisition(release)
            if acquisition is None:
                return
            what = f"the {acquisition.kind} `{holder.display}`"
            origin = f"{self.where(acquisition)} (`{acquisition.source}`)"
            kind = acquisition.kind
        reach = self.after_reach[release.function]
        yield self.finding(
            release.call,
            f"`{summary(release.call, 40)}` in {reach.describe()} gives back {what} "
            f"{origin}: Flask stops calling after_request functions when one raises, and calls "
            "none when an error propagates (debug, testing, `PROPAGATE_EXCEPTIONS`) or the 500 "
            f"handler fails, and then {consequence(kind)}; move the release to a "
            "`teardown_request` (or `teardown_appcontext`)",
        )

    def acquisition(self, release: Release) -> Acquisition | None:
        holder = release.holder
        if holder.kind == "local":
            return self.held.local_checkout(holder, release.function)
        found = [a for a in self.held.acquisitions(holder) if a.function in self.model.flask.request_time]
        if found:
            before = [a for a in found if a.function in self.before_functions]
            return (before or found)[0]
        return self.held.elsewhere(holder)

    def where(self, acquisition: Acquisition) -> str:
        if acquisition.function is None:
            return f"set in {acquisition.where}"
        reach = self.model.flask.request_time.get(acquisition.function)
        return f"acquired in {reach.describe()}" if reach is not None else "acquired"

    # -- the end of a view ---------------------------------------------------------------------

    def end_of_view(self, release: Release) -> Iterator[Finding]:
        flask = self.model.flask
        holder = release.holder
        reach = flask.request_time[release.function]
        if reach.entry.kind not in VIEW_KINDS or release.function in self.teardown_functions:
            return
        if holder.kind == "session":
            return  # a session removed in a view is FLK202's concern, not a held checkout
        if holder.kind == "local" and release.call.func.attr in CLOSE_METHODS:
            return  # a local closed without `finally`: FLK401
        acquisition = self.acquisition(release)
        if acquisition is None:
            return
        same_function = acquisition.function is release.function
        if holder.kind in ("local", "global") and not same_function:
            return
        risky = self.risky_before(release, acquisition.node if same_function else None)
        if risky is None:
            return
        verb = "returns" if isinstance(risky, ast.Return) else "raises"
        origin = "" if same_function else f" {self.where(acquisition)}"
        yield self.finding(
            release.call,
            f"`{summary(release.call, 40)}` at the end of {reach.describe()} is skipped when "
            f"`{summary(risky, 40)}` before it {verb}: the {acquisition.kind} "
            f"`{holder.display}`{origin} (`{acquisition.source}`) then "
            f"{consequence(acquisition.kind, named=False)}; release it in a `finally` (or a "
            "`teardown_request`)",
        )

    def risky_before(self, release: Release, acquired: ast.AST | None) -> ast.AST | None:
        """The first thing between the checkout (or the start of the function) and the
        release, at the function's top level, that can raise or return; None if nothing can,
        or if the release is not on the function's main path."""
        body = release.function.body
        position = _index_holding(body, release.call)
        if position is None or not _on_main_path(body[position], release.call):
            return None
        start = 0
        if acquired is not None:
            held_at = _index_holding(body, acquired)
            if held_at is None or held_at >= position:
                return None
            start = held_at + 1
        for statement in body[start:position]:
            risky = first_risky(statement, set())
            if risky is not None:
                return risky
        return None


def consequence(kind: str, named: bool = True) -> str:
    """What happens to a resource whose release is skipped, by kind."""
    it = "it" if named else ""
    if kind == "pooled connection":
        return f"{it} stays checked out of the pool for good (the pool runs dry)".lstrip()
    if kind == "lock":
        return f"{it} stays held, and every later request that takes it blocks".lstrip()
    if kind == "session":
        return (
            f"{it} stays bound to the worker thread, with any transaction the request left "
            "open, until a later request on that thread gets through"
        ).lstrip()
    return f"{it} is left to the garbage collector".lstrip()


def _index_holding(body: list[ast.stmt], node: ast.AST) -> int | None:
    for index, statement in enumerate(body):
        if any(inner is node for inner in ast.walk(statement)):
            return index
    return None


def _on_main_path(statement: ast.stmt, node: ast.AST) -> bool:
    """The release runs when nothing raises: not in an ``except`` or ``finally`` block (a
    ``finally`` is safe, and an ``except`` only runs on errors)."""
    if isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
        blocks = statement.body + statement.orelse
        return any(_on_main_path(inner, node) for inner in blocks if _holds(inner, node))
    if isinstance(statement, (ast.If, ast.With, ast.AsyncWith)):
        blocks = statement.body + getattr(statement, "orelse", [])
        return any(_on_main_path(inner, node) for inner in blocks if _holds(inner, node))
    if isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
        return False
    return _holds(statement, node)


def _holds(statement: ast.stmt, node: ast.AST) -> bool:
    return any(inner is node for inner in ast.walk(statement))
