"""FLK304 unbounded-cache: a cache that request traffic fills.

Two shapes. A cache on a method of a class that request-time code instantiates keys on ``self``:
every instance, with the request data it holds, stays in the cache's dict (forever when the
cache is unbounded, until ``maxsize`` newer entries push it out otherwise). An unbounded cache on
a function that request-time code calls with request-derived arguments keeps one entry per
distinct value for the life of the process.

Which values are request-derived is the model's taint (``model/taint.py``): view parameters (URL
variables) and anything read from ``request``/``session``/``g`` are tainted, assignments spread
it, and calls carry it into the parameters of the functions they call.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property

from ..astutil import (
    FunctionNode,
    dotted_name,
    keyword_value,
    short_source,
    walk_local,
    walk,
)
from ..finding import Finding, FixSafety
from ..rule import Rule

FUNCTOOLS_CACHE = "functools.cache"
FUNCTOOLS_LRU = "functools.lru_cache"
# cachetools' functools-style decorators (ttl_cache is left out: its entries expire).
CACHETOOLS_FUNC = {
    f"cachetools.func.{name}"
    for name in ("lru_cache", "lfu_cache", "fifo_cache", "rr_cache", "mru_cache")
}
CACHETOOLS_CACHED = {"cachetools.cached"}
DEFAULT_MAXSIZE = 128


@dataclass(frozen=True)
class CacheUse:
    """A cache decorator (or the cache factory of ``name = cache(func)``)."""

    expr: ast.expr
    unbounded: bool
    maxsize: int | None  # when bounded: the literal maxsize, None when not a literal
    fixable: bool  # rewritable to ``lru_cache(maxsize=N)``

    @property
    def text(self) -> str:
        return short_source(self.expr, 50)


@dataclass(frozen=True)
class CachedCallable:
    use: CacheUse
    function: FunctionNode | None  # the decorated (or wrapped) function, when defined here
    klass: ast.ClassDef | None  # the class it is a plain method of
    name: str  # how calls name it: the function, or the name the call form binds


class UnboundedCache(Rule):
    code = "FLK304"
    name = "unbounded-cache"
    summary = "cache filled by request traffic: unbounded, or keyed on per-request instances"
    triggers = ("cache",)
    request_time_only = True
    fix_safety = FixSafety.UNSAFE

    def check(self) -> Iterator[Finding]:
        for finding, _ in self.sites():
            yield finding

    def sites(self) -> Iterator[tuple[Finding, CacheUse]]:
        flask = self.model.flask
        if not flask.request_time:
            return
        for cached in self.cached_callables:
            if cached.klass is not None and self.instantiated_per_request(cached.klass):
                yield self.method_finding(cached), cached.use
                continue
            if not cached.use.unbounded:
                continue
            site = self.request_call(cached)
            if site is not None:
                yield self.function_finding(cached, *site), cached.use

    def method_finding(self, cached: CachedCallable) -> Finding:
        klass = cached.klass
        where = self.where_instantiated(klass)
        if cached.use.unbounded:
            kept = "for the life of the process"
        else:
            kept = f"until {cached.use.maxsize or 'maxsize'} newer calls evict it"
        message = (
            f"`{cached.use.text}` on method `{klass.name}.{cached.name}` keys on `self`: every "
            f"`{klass.name}` built per request ({where}) stays pinned with its request data "
            f"{kept}: move the cache off the instance (a module-level function of plain "
            "values, or a per-instance dict)"
        )
        return replace(self.finding(cached.use.expr, message), fixable=False)

    def function_finding(self, cached: CachedCallable, call: ast.Call, reach) -> Finding:
        arguments = list(call.args) + [keyword.value for keyword in call.keywords]
        argument = next((a for a in arguments if self.taint_of(call, a)), call)
        message = (
            f"unbounded `{cached.use.text}` on `{cached.name}` keeps one entry per distinct "
            "request value for the life of the process (called with "
            f"`{short_source(argument, 40)}` from {reach.describe()}): "
        )
        if cached.use.fixable:
            message += "bound it, e.g. `lru_cache(maxsize=N)`"
        else:
            message += (
                "give it a bounded store, e.g. `cached(cache=LRUCache(maxsize=N))` or a `TTLCache`"
            )
        return replace(self.finding(cached.use.expr, message), fixable=cached.use.fixable)

    # -- which caches exist --------------------------------------------------------------------

    @cached_property
    def cached_callables(self) -> list[CachedCallable]:
        flask = self.model.flask
        found: list[CachedCallable] = []
        # a cache made per call of a parent function dies with it: only module-level functions
        # and methods of module-level classes keep theirs
        for function in flask.outer_functions():
            if not function.decorator_list:
                continue
            info = flask.info(function)
            plain_method = info.klass is not None and not any(
                _has_decorator(function, name) for name in ("staticmethod", "classmethod")
            )
            for decorator in function.decorator_list:
                use = self.cache_use(decorator)
                if use is not None:
                    klass = info.klass if plain_method else None
                    found.append(CachedCallable(use, function, klass, function.name))
        for statement in self.model.tree.body:
            cached = self.call_form(statement)
            if cached is not None:
                found.append(cached)
        return found

    def call_form(self, statement: ast.stmt) -> CachedCallable | None:
        """``get_user = lru_cache(maxsize=None)(_load_user)`` at module level."""
        if not (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Call)
            and len(statement.value.args) == 1
        ):
            return None
        use = self.cache_use(statement.value.func)
        if use is None:
            return None
        wrapped_name = dotted_name(statement.value.args[0]) or ""
        wrapped = self.model.flask.module_functions.get(wrapped_name)
        return CachedCallable(use, wrapped, None, statement.targets[0].id)

    def cache_use(self, expr: ast.expr) -> CacheUse | None:
        imports = self.model.imports
        if isinstance(expr, (ast.Name, ast.Attribute)):
            qualified = imports.qualified_name(expr)
            if qualified == FUNCTOOLS_CACHE:
                return CacheUse(expr, True, None, True)
            if qualified == FUNCTOOLS_LRU or qualified in CACHETOOLS_FUNC:
                return CacheUse(expr, False, DEFAULT_MAXSIZE, False)
            return None
        if not isinstance(expr, ast.Call):
            return None
        qualified = imports.qualified_name(expr.func)
        if qualified == FUNCTOOLS_LRU or qualified in CACHETOOLS_FUNC:
            maxsize = keyword_value(expr, "maxsize")
            if maxsize is None and expr.args:
                maxsize = expr.args[0]
            if maxsize is None:
                return CacheUse(expr, False, DEFAULT_MAXSIZE, False)
            if isinstance(maxsize, ast.Constant) and maxsize.value is None:
                return CacheUse(expr, True, None, True)
            literal = maxsize.value if isinstance(maxsize, ast.Constant) else None
            return CacheUse(expr, False, literal if isinstance(literal, int) else None, False)
        if qualified in CACHETOOLS_CACHED:
            store = keyword_value(expr, "cache")
            if store is None and expr.args:
                store = expr.args[0]
            if store is not None and self.is_plain_dict(store):
                return CacheUse(expr, True, None, False)
            return CacheUse(expr, False, None, False)
        return None

    def is_plain_dict(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Dict) and not node.keys:
            return True
        if isinstance(node, ast.Call) and dotted_name(node.func) == "dict" and not node.args:
            return True
        if isinstance(node, ast.Name):
            for statement in self.model.tree.body:
                if isinstance(statement, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == node.id for t in statement.targets
                ):
                    return statement.value is not node and self.is_plain_dict(statement.value)
        return False

    # -- who fills them ------------------------------------------------------------------------

    def taint_of(self, call: ast.Call, argument: ast.AST) -> bool:
        function = self.model.flask.enclosing_function(call)
        return self.model.taint.tainted(argument, function)

    def request_call(self, cached: CachedCallable):
        """The first request-time call of ``cached`` with a request-derived argument."""
        flask = self.model.flask
        for function, reach in flask.request_time.items():
            for call in (n for n in walk_local(function) if isinstance(n, ast.Call)):
                if not self.calls(call, cached):
                    continue
                arguments = list(call.args) + [keyword.value for keyword in call.keywords]
                if any(self.taint_of(call, argument) for argument in arguments):
                    return call, reach
        return None

    def calls(self, call: ast.Call, cached: CachedCallable) -> bool:
        flask = self.model.flask
        called = flask.functions_called(call.func, call)
        if cached.function is not None and cached.function in called:
            return cached.function.name == cached.name  # the call form's wrapped function: uncached
        if isinstance(call.func, ast.Name) and call.func.id == cached.name:
            function = flask.enclosing_function(call)
            return cached.name not in _local_names(function)
        return False

    @cached_property
    def per_request_classes(self) -> dict[str, str]:
        """Classes instantiated per request, mapped to where (a reach description)."""
        flask = self.model.flask
        found: dict[str, str] = {}
        for function, call in self.model.calls_to(set(flask.classes)):
            reach = flask.per_request(function, call)  # not behind a once-guard (a singleton)
            name = dotted_name(call.func)
            if reach is not None and name in flask.classes:
                found.setdefault(name, reach.describe())
        for class_name, description in flask.view_classes.items():
            klass = flask.classes.get(class_name)
            if klass is not None and not _sets_false(klass, "init_every_request"):
                found.setdefault(class_name, f"{description}, a new instance per request")
        return found

    def instantiated_per_request(self, klass: ast.ClassDef) -> bool:
        return self.where_instantiated(klass) is not None

    def where_instantiated(self, klass: ast.ClassDef) -> str | None:
        for class_name, where in self.per_request_classes.items():
            if klass.name in self.class_and_bases(class_name):
                return where
        return None

    def class_and_bases(self, class_name: str) -> set[str]:
        classes = self.model.flask.classes
        seen: set[str] = set()
        stack = [class_name]
        while stack:
            name = stack.pop()
            if name in seen or name not in classes:
                continue
            seen.add(name)
            stack.extend(filter(None, (dotted_name(base) for base in classes[name].bases)))
        return seen

    # -- fix -----------------------------------------------------------------------------------

    def fix(self, context):
        """Rewrite each fixable unbounded cache to ``lru_cache(maxsize=N)`` in its spelling."""
        wanted = {(f.line, f.col) for f in context.findings if f.fixable}
        uses = [
            use
            for finding, use in type(self)(context.model).sites()
            if finding.fixable and (finding.line, finding.col) in wanted
        ]
        if not uses:
            return None
        return _CacheRewrite(context, uses).run()


def _parameter_names(function: FunctionNode) -> list[str]:
    arguments = function.args
    return [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]


def _has_decorator(function: FunctionNode, name: str) -> bool:
    return any(dotted_name(d) == name for d in function.decorator_list)


def _local_names(function: FunctionNode | None) -> set[str]:
    if function is None:
        return set()
    names = set(_parameter_names(function))
    for node in walk_local(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _sets_false(klass: ast.ClassDef, attribute: str) -> bool:
    for statement in klass.body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == attribute for t in statement.targets
        ):
            return isinstance(statement.value, ast.Constant) and statement.value.value is False
    return False


class _CacheRewrite:
    """The libcst side of the fix; libcst is imported only when a file has something to fix."""

    def __init__(self, context, uses: list[CacheUse]):
        self.context = context
        self.uses = uses
        self.maxsize = int(context.options.cache_maxsize)
        self.imports = context.model.imports

    def run(self):
        import libcst as cst

        targets = self.cst_targets(cst)
        if not targets:
            return None
        import_edit = self.import_edit(cst, targets)
        if self.lru_name() is None and import_edit is None:
            # A bare ``cache`` whose import we cannot extend: leave it rather than break it.
            targets = {node: use for node, use in targets.items() if not isinstance(node, cst.Name)}
            if not targets:
                return None
        rewrite = self

        class Transformer(cst.CSTTransformer):
            def on_leave(self, original, updated):
                if original in targets:
                    return rewrite.rewritten(cst, updated, import_edit)
                if import_edit is not None and original is import_edit[0]:
                    return rewrite.edited_import(cst, updated, import_edit)
                return updated

        return self.context.module.visit(Transformer())

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        column = self.context.char_column
        return (
            node.lineno,
            column(node.lineno, node.col_offset),
            node.end_lineno,
            column(node.end_lineno, node.end_col_offset),
        )

    def cst_targets(self, cst) -> dict:
        spans = {self.span(use.expr): use for use in self.uses}
        targets = {}
        for node, position in self.context.positions.items():
            if not isinstance(node, (cst.Name, cst.Attribute, cst.Call)):
                continue
            start, end = position.start, position.end
            key = (start.line, start.column, end.line, end.column)
            if key in spans:
                targets[node] = spans[key]
        return targets

    # -- the decorator -------------------------------------------------------------------------

    def rewritten(self, cst, node, import_edit):
        if isinstance(node, cst.Call):
            return node.with_changes(args=self.bounded_args(cst, list(node.args)))
        if isinstance(node, cst.Attribute):
            function = node.with_changes(attr=cst.Name("lru_cache"))
        else:
            function = cst.Name(self.lru_name() or import_edit[1])
        return cst.Call(func=function, args=[self.maxsize_keyword(cst)])

    def bounded_args(self, cst, args: list) -> list:
        for index, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == "maxsize":
                args[index] = arg.with_changes(value=cst.Integer(str(self.maxsize)))
                return args
        first = args[0]
        positional = [a for a in args if a.keyword is None and not a.star]
        if len(positional) == 1:
            args[0] = self.maxsize_keyword(cst).with_changes(comma=first.comma)
        else:
            args[0] = first.with_changes(value=cst.Integer(str(self.maxsize)))
        return args

    def maxsize_keyword(self, cst):
        return cst.Arg(
            value=cst.Integer(str(self.maxsize)),
            keyword=cst.Name("maxsize"),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )

    # -- the import ----------------------------------------------------------------------------

    def lru_name(self) -> str | None:
        """A name this module already binds to ``functools.lru_cache``."""
        for name, qualified in self.imports.names.items():
            if qualified == FUNCTOOLS_LRU:
                return name
        return None

    def import_edit(self, cst, targets):
        """``(ImportFrom, lru name, cache name, replace?)`` when a bare ``cache`` is rewritten."""
        names = {node.value for node in targets if isinstance(node, cst.Name)}
        if not names or self.lru_name() is not None:
            return None
        cache_name = sorted(names)[0]
        statement = next(
            (
                node
                for node in walk(self.context.model.tree)
                if isinstance(node, ast.ImportFrom)
                and node.module == "functools"
                and node.level == 0
                and any((a.asname or a.name) == cache_name for a in node.names)
            ),
            None,
        )
        if statement is None:
            return None
        column = self.context.char_column(statement.lineno, statement.col_offset)
        cst_import = next(
            (
                node
                for node in self.context.nodes_starting_at(statement.lineno, cst.ImportFrom)
                if self.context.positions[node].start.column == column
            ),
            None,
        )
        if cst_import is None:
            return None
        fixed = {id(use.expr) for use in self.uses}
        still_used = any(
            isinstance(node, ast.Name) and node.id == cache_name and id(node) not in fixed
            for node in walk(self.context.model.tree)
        )
        return cst_import, "lru_cache", cache_name, not still_used

    def edited_import(self, cst, node, import_edit):
        _, lru, cache_name, replace_alias = import_edit
        if isinstance(node.names, cst.ImportStar):
            return node
        aliases = list(node.names)
        if replace_alias:
            for index, alias in enumerate(aliases):
                bound = alias.asname.name.value if alias.asname else alias.name.value
                if bound == cache_name:
                    aliases[index] = cst.ImportAlias(name=cst.Name(lru), comma=alias.comma)
            return node.with_changes(names=aliases)
        last = aliases[-1]
        if not isinstance(last.comma, cst.Comma):  # ``a, b``: the new name goes after ``, ``
            aliases.append(cst.ImportAlias(name=cst.Name(lru)))
            return node.with_changes(names=aliases)
        # A trailing comma (one name per line): the new name takes the last line's layout and
        # the old last name the layout of the line before it.
        between = aliases[-2].comma if len(aliases) > 1 else cst.Comma(
            whitespace_after=cst.SimpleWhitespace(" ")
        )
        aliases[-1] = last.with_changes(comma=between)
        aliases.append(cst.ImportAlias(name=cst.Name(lru), comma=last.comma))
        return node.with_changes(names=aliases)
