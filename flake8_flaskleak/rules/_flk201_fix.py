"""The FLK201 fix, kept apart from the rule so that checking never imports libcst.

Each reported teardown's body, after its docstring, goes into ``try: ... except Exception:``
whose handler calls ``logger.exception("teardown %s failed", "<name>")``. A module-level logger
(any name bound to ``logging.getLogger(...)``) is reused; otherwise ``import logging`` (when
missing) and ``logger = logging.getLogger(__name__)`` are added after the imports. A partial
``try`` already in the body (``except KeyError``) ends up inside the new one. Comments move
with the statements they belong to.
"""

from __future__ import annotations

import ast

import libcst as cst

from ..astutil import FunctionNode, local_bindings, walk_statements_local
from ..cstutil import (
    add_stdlib_import,
    import_block,
    is_docstring,
    module_import_alias,
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
    return add_module_logger(module, logger) if create else module


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


def add_module_logger(module: cst.Module, logger: str) -> cst.Module:
    """``logger = logging.getLogger(__name__)`` after the imports, importing logging if needed."""
    body = list(module.body)
    found = module_import_alias(body, "logging")
    if found is None:
        body, import_index = add_stdlib_import(body, "logging")
        logging_name = "logging"
    else:
        logging_name, import_index = found
    _, end = import_block(body)
    position = max(end, import_index + 1)
    statement = cst.parse_statement(f"{logger} = {logging_name}.getLogger(__name__)")
    body.insert(position, statement.with_changes(leading_lines=[cst.EmptyLine()]))
    following = position + 1
    if following < len(body) and not body[following].leading_lines:
        body[following] = body[following].with_changes(leading_lines=[cst.EmptyLine()])
    return module.with_changes(body=body)
