"""The FLK201 fix, kept apart from the rule so that checking never imports libcst.

Each reported teardown's body, after its docstring, goes into ``try: ... except Exception:``
whose handler calls ``logger.exception("teardown %s failed", "<name>")``. A module-level logger
(any name bound to ``logging.getLogger(...)``) is reused; otherwise ``import logging`` (when
missing) and ``logger = logging.getLogger(__name__)`` are added: the logger line after the
whole import section (the last top-level import, or ``try``/``if`` block holding one, before
the first other statement), so no import below it becomes pycodestyle's E402. When the module
binds ``logging`` to something else where the logger line goes (``import structlog as
logging``, ``from .util import logging``, ``logging = ...``), the standard module is imported
under a free name instead. A partial ``try`` already in the body (``except KeyError``) ends up
inside the new one. Comments move with the statements they belong to, but a function type
comment (``# type: (...) -> None`` on the body's first line) stays first, above the ``try``.

The fix is unsafe: it turns an exception the teardown raises into a logged error, so a request
that failed (500) succeeds, and a failing check in a test teardown no longer fails.
"""

from __future__ import annotations

import ast

import libcst as cst

from ..astutil import FunctionNode, local_bindings, walk_statements_local
from ..cstutil import (
    add_stdlib_import,
    import_roots,
    is_docstring,
    split_blank_prefix,
)
from ..model.file import FileModel

LOGGER_CANDIDATES = ("logger", "log", "_logger", "teardown_logger", "flaskleak_teardown_logger")


def wrap_teardowns(context, functions: list[FunctionNode], model: FileModel) -> cst.Module | None:
    targets: dict[cst.CSTNode, str] = {}
    for function in functions:
        column = context.char_column(function.lineno, function.col_offset)
        for node in context.nodes_starting_at(function.lineno, cst.FunctionDef):
            if context.positions[node].start.column == column:
                targets[node] = function.name
    if not targets:
        return None
    logger, create = choose_logger(model, functions)
    module = context.module.visit(_TeardownWrapper(targets, logger))
    if not create:
        return module
    return add_module_logger(module, logger, module_level_names(model.tree) | {logger})


def choose_logger(model: FileModel, functions: list[FunctionNode]) -> tuple[str, bool]:
    """The logger name the handlers use, and whether it has to be created."""
    from .flk201_teardown_can_raise import module_loggers

    reserved: set[str] = set()
    for function in functions:
        scope: FunctionNode | None = function
        while scope is not None:  # names the teardown sees from itself and enclosing functions
            reserved |= local_bindings(scope)
            scope = model.flask.enclosing_function(scope)
    for name in module_loggers(model.tree, model.imports):
        if name not in reserved:
            return name, False
    taken = reserved | module_level_names(model.tree)
    for name in LOGGER_CANDIDATES:
        if name not in taken:
            return name, True
    return LOGGER_CANDIDATES[-1], True


def module_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in walk_statements_local(tree.body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


class _TeardownWrapper(cst.CSTTransformer):
    def __init__(self, targets: dict[cst.CSTNode, str], logger: str):
        super().__init__()
        self.targets = targets
        self.logger = logger

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        name = self.targets.get(original_node)
        if name is None:
            return updated_node
        return updated_node.with_changes(body=wrapped_body(updated_node.body, name, self.logger))


def wrapped_body(body: cst.BaseSuite, name: str, logger: str) -> cst.BaseSuite:
    if isinstance(body, cst.SimpleStatementSuite):  # def f(exc): a(); b()
        small = list(body.body)
        small[-1] = small[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        statements: list[cst.BaseStatement] = [cst.SimpleStatementLine(body=small)]
        header, indent, footer = body.trailing_whitespace, None, ()
    elif isinstance(body, cst.IndentedBlock):
        statements = list(body.body)
        header, indent, footer = body.header, body.indent, body.footer
    else:
        return body
    kept = statements[:1] if statements and is_docstring(statements[0]) else []
    wrapped = statements[len(kept):]
    if not wrapped:
        return body
    blanks, comments = split_blank_prefix(wrapped[0].leading_lines)
    if not kept and not blanks:  # the body's first line: a function type comment stays there
        type_comments = _leading_type_comments(comments)
        blanks, comments = type_comments, comments[len(type_comments):]
    wrapped[0] = wrapped[0].with_changes(leading_lines=comments)
    log_call = cst.parse_statement(f'{logger}.exception("teardown %s failed", "{name}")')
    handler = cst.ExceptHandler(
        type=cst.Name("Exception"), body=cst.IndentedBlock(body=[log_call], indent=indent)
    )
    guarded = cst.Try(
        body=cst.IndentedBlock(body=wrapped, indent=indent, footer=footer),
        handlers=[handler],
        leading_lines=blanks,
    )
    return cst.IndentedBlock(body=[*kept, guarded], header=header, indent=indent)


def _leading_type_comments(lines: list[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """The ``# type: ...`` comment lines that open a block (PEP 484's function type comment)."""
    found = []
    for line in lines:
        if line.comment is None or not line.comment.value[1:].lstrip().startswith("type:"):
            break
        found.append(line)
    return found


def add_module_logger(module: cst.Module, logger: str, taken: set[str]) -> cst.Module:
    """``logger = logging.getLogger(__name__)`` after the import section, importing logging
    (under a free name when ``logging`` is bound to something else there)."""
    body = list(module.body)
    position = import_section_end(body)
    logging_name = _stdlib_logging_at(body, position)
    if logging_name is None:
        alias = None if not _binds(body[:position], "logging") else _free("stdlib_logging", taken)
        body, import_index = add_stdlib_import(body, "logging", alias)
        logging_name = alias or "logging"
        position = max(import_section_end(body), import_index + 1)
    statement = cst.parse_statement(f"{logger} = {logging_name}.getLogger(__name__)")
    body.insert(position, statement.with_changes(leading_lines=[cst.EmptyLine()]))
    following = position + 1
    if following < len(body) and not body[following].leading_lines:
        body[following] = body[following].with_changes(leading_lines=[cst.EmptyLine()])
    return module.with_changes(body=body)


def import_section_end(body: list[cst.BaseStatement]) -> int:
    """The index after the module's import section: its last top-level import, or ``try``/
    ``if``/``with`` block holding one, before the first statement pycodestyle counts as code
    (after which every import is E402 already)."""
    end = 1 if body and is_docstring(body[0]) else 0
    for index, statement in enumerate(body):
        if import_roots(statement) is not None:
            end = index + 1
        elif isinstance(statement, (cst.Try, cst.If, cst.With)):
            if _holds_import(statement):
                end = index + 1
        elif not (index == 0 and is_docstring(statement)) and not _is_dunder_assignment(statement):
            break
    return end


def _holds_import(statement: cst.CSTNode) -> bool:
    found = []

    class Finder(cst.CSTVisitor):
        def visit_Import(self, node) -> None:
            found.append(node)

        def visit_ImportFrom(self, node) -> None:
            found.append(node)

    statement.visit(Finder())
    return bool(found)


def _is_dunder_assignment(statement: cst.CSTNode) -> bool:
    """``__all__ = [...]``, ``__version__ = "1"``: pycodestyle allows them among imports."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign):
        target = small.target
    else:
        return False
    if not isinstance(target, cst.Name):
        return False
    return target.value.startswith("__") and target.value.endswith("__")


def _stdlib_logging_at(body: list[cst.BaseStatement], position: int) -> str | None:
    """The name the standard ``logging`` module has at ``position``: the last top-level binding
    before it must be ``import logging`` (or ``import logging as x``, giving ``x``)."""
    name = None
    for statement in body[:position]:
        for bound, is_stdlib in _bindings(statement):
            if is_stdlib:
                name = bound
            elif bound == name:
                name = None  # rebound after the import
    return name


def _binds(body: list[cst.BaseStatement], wanted: str) -> bool:
    return any(bound == wanted for statement in body for bound, _ in _bindings(statement))


def _bindings(statement: cst.CSTNode) -> list[tuple[str, bool]]:
    """(name, is the standard logging module) for each name a top-level statement binds,
    looking into ``try``/``if``/``with`` blocks."""
    found: list[tuple[str, bool]] = []

    class Binder(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> bool:
            for alias in node.names:
                dotted = cst.Module([]).code_for_node(alias.name)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    found.append((alias.asname.name.value, dotted == "logging"))
                else:
                    found.append((dotted.split(".")[0], dotted.split(".")[0] == "logging"))
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            if not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    bound = alias.asname.name if alias.asname is not None else alias.name
                    if isinstance(bound, cst.Name):
                        found.append((bound.value, False))
            return False

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            for name in _names_in(node.target):
                found.append((name, False))

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            for name in _names_in(node.target):
                found.append((name, False))

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            found.append((node.name.value, False))
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            found.append((node.name.value, False))
            return False

        def visit_For(self, node: cst.For) -> None:
            for name in _names_in(node.target):
                found.append((name, False))

        def visit_AsName(self, node: cst.AsName) -> None:
            for name in _names_in(node.name):
                found.append((name, False))

    statement.visit(Binder())
    return found


def _names_in(target: cst.CSTNode) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _names_in(element.value)]
    if isinstance(target, cst.StarredElement):
        return _names_in(target.value)
    return []


def _free(base: str, taken: set[str]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name
