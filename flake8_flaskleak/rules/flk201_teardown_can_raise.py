"""FLK201 teardown-can-raise: a teardown with a statement that can raise outside a try that
catches it.

Flask runs teardown functions in reverse registration order, with no guard: one that raises
skips the teardowns that would run after it (Flask-SQLAlchemy's ``session.remove()``, for a
teardown registered after the extension; ``request.close()``, for a request teardown), and the
request ends in a 500. (Before Flask 0.11 it also left the app context on the stack for good.)
What can raise is the model's ``raising.py``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from ..astutil import FunctionNode, short_source
from ..finding import Finding, FixSafety
from ..model.imports import ImportResolver
from ..model.raising import RaiseAnalysis
from ..rule import Rule

# ``app.teardown_request_funcs[...][i] = wrap(f)``: the recipe on this rule's page that wraps
# every teardown of the app in a logging try/except once, after they are registered.
WRAPPER_RECIPE = re.compile(r"teardown_(?:request|appcontext)_funcs\s*\[[^\]]*\](?:\s*\[[^\]]*\])?\s*=[^=]")
REQUEST_TEARDOWNS = {"teardown_request", "teardown_app_request"}


def describe(statement: ast.stmt) -> str:
    """A short rendering of a statement; a compound statement by its header only."""
    if isinstance(statement, (ast.If, ast.While)):
        return f"{type(statement).__name__.lower()} {short_source(statement.test, 40)}:"
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return f"for ... in {short_source(statement.iter, 40)}:"
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return f"with {short_source(statement.items[0].context_expr, 40)}:"
    if isinstance(statement, ast.Match):
        return f"match {short_source(statement.subject, 40)}:"
    return short_source(statement, 50)


def consequence(kind: str) -> str:
    """What a raising teardown of this kind skips, in today's Flask (2.x and 3.x)."""
    if kind in REQUEST_TEARDOWNS:
        return (
            "skips the teardown_request functions Flask runs after it (those registered before "
            "it) and `request.close()`, and turns the request into a 500"
        )
    return (
        "skips the teardown_appcontext functions Flask runs after it (those registered before "
        "it, such as Flask-SQLAlchemy's `session.remove()` when the extension was set up first) "
        "and turns the request into a 500"
    )


class TeardownCanRaise(Rule):
    code = "FLK201"
    name = "teardown-can-raise"
    summary = "teardown function can raise: it skips the teardowns after it and fails the request"
    triggers = ("teardown_",)
    request_time_only = True
    fix_safety = FixSafety.SAFE

    def check(self) -> Iterator[Finding]:
        for function, statement, kind in self.unprotected_teardowns():
            yield self.finding(
                statement,
                f"teardown `{function.name}` can raise at `{describe(statement)}`: the exception "
                f"{consequence(kind)}; wrap its body in try/except Exception that calls "
                "logger.exception",
            )

    def unprotected_teardowns(self) -> Iterator[tuple[FunctionNode, ast.stmt, str]]:
        """Each teardown function with its first statement that can raise unprotected."""
        if self.teardowns_wrapped():
            return
        loggers = frozenset(module_loggers(self.model.tree, self.model.imports))
        analysis = RaiseAnalysis(self.model, loggers)
        seen = set()
        for entry in self.model.flask.teardowns:
            function = entry.function
            if function in seen:
                continue
            seen.add(function)
            statement = analysis.first_unprotected(function.body)
            if statement is not None:
                yield function, statement, entry.kind

    def teardowns_wrapped(self) -> bool:
        """The project wraps every teardown in a logging try/except (this page's recipe)."""
        if self.model.source.mentions(WRAPPER_RECIPE):
            return True
        project = self.model.project
        if project is None:
            return False
        return any(
            WRAPPER_RECIPE.search(project.text(relative) or "")
            for word in ("teardown_request_funcs", "teardown_appcontext_funcs")
            for relative in project.files_mentioning(word)
        )

    def fix(self, context):
        """Wrap each reported teardown's body (after its docstring) in a logging try/except."""
        wanted = {(finding.line, finding.col) for finding in context.findings}
        functions = [
            function
            for function, statement, _ in self.unprotected_teardowns()
            if (statement.lineno, statement.col_offset) in wanted
        ]
        if not functions:
            return None
        from ._flk201_fix import wrap_teardowns  # libcst is loaded only to fix

        return wrap_teardowns(context, functions, self.model)


def module_loggers(tree: ast.Module, imports: ImportResolver) -> list[str]:
    """Module-level names bound to ``logging.getLogger(...)``, in order."""
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        if isinstance(value, ast.Call) and imports.matches(value.func, "logging.getLogger"):
            names.extend(target.id for target in targets if isinstance(target, ast.Name))
    return names
