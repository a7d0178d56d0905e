"""Entry points that only privileged users can call: the administration side of an app.

Growth keyed by a value (a logger per name) is bounded by the number of distinct values the
callers can send. When only an administrator can reach the code (an admin-only settings
endpoint that sets levels on logger names the administrator chose), the values are picked by a
handful of trusted people, not by traffic, and a maintainer would not call it a leak. Growth per
call (a handler added on every request) is a leak whoever calls, and does not use this.

A route is privileged when it carries a check that only lets some users in:

    @admin_permission.require(http_exception=403)      # Flask-Principal
    @roles_required("admin")                           # Flask-Security, Flask-User, Praetorian
    @admin_required                                    # the project's own, by its name

(below the route decorator: one above it wraps a function Flask never calls,
``registered_decorators``), or when its blueprint's ``before_request`` hook carries one (the
whole blueprint is the admin API): in the same module (``FlaskModel.privileged_blueprints``), or
in any module of the project (``ProjectIndex.guarded_blueprints``), or, for a class-based view,
when the class lists one in ``decorators``/``method_decorators``. Across modules, a function
counts as reached by open routes only through ``ProjectIndex.open_request_time``, the walk from
entry points open to all.
"""

from __future__ import annotations

import ast
import re

from ..astutil import dotted_name
from .imports import ImportResolver

ROLE_DECORATORS = {
    f"{package}.{name}"
    for package in (
        "flask_security", "flask_security.decorators", "flask_user", "flask_user.decorators",
        "flask_praetorian", "flask_praetorian.decorators",
    )
    for name in ("roles_required", "roles_accepted", "permissions_required", "permissions_accepted")
}
# ``admin_required``, ``require_admin``, ``superuser_only``, ``requires_admin_role``; not
# ``admin_or_owner_required``, which lets other users in too.
ADMIN_CHECK_NAME = re.compile(r"(admin|superuser).*(required|only)|requires?_(admin|superuser)", re.I)
ALTERNATIVE = re.compile(r"(^|_)or(_|$)", re.I)
CLASS_DECORATOR_LISTS = {"decorators", "method_decorators"}


def is_privilege_check(decorator: ast.expr, imports: ImportResolver) -> bool:
    """Whether a decorator lets only some users through (an admin, a role, a permission)."""
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call is not None else decorator
    if call is not None and isinstance(target, ast.Attribute) and target.attr == "require":
        return True  # Flask-Principal: ``@permission.require(403)``
    qualified = imports.qualified_name(target) or ""
    if qualified in ROLE_DECORATORS:
        return True
    name = (dotted_name(target) or "").rsplit(".", 1)[-1]
    return bool(ADMIN_CHECK_NAME.search(name)) and not ALTERNATIVE.search(name)


def registered_decorators(
    function: ast.FunctionDef | ast.AsyncFunctionDef, receiver: str | None, methods: set[str]
) -> list[ast.expr]:
    """The decorators of what Flask registers: those below the registering
    ``@receiver.<method>(...)`` (``route``, ``before_request``...: ``methods``). One above it
    wraps a function Flask never calls, so ``@admin_required`` over ``@bp.route("/x")`` leaves the
    route open; another decorator of the same blueprint below it (flask-smorest's
    ``@blp.response(200)``) registers nothing. Registered by a call (``add_url_rule``), the
    function is registered with all of them."""
    decorators = function.decorator_list
    for index in range(len(decorators) - 1, -1, -1):
        decorator = decorators[index]
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in methods and receiver is not None:
            if dotted_name(target.value) == receiver:
                return decorators[index + 1:]
    return decorators


def class_privilege_checked(klass: ast.ClassDef, imports: ImportResolver) -> bool:
    """A view class whose ``decorators = [...]`` (or Flask-RESTful's ``method_decorators``)
    list, or whose own decorators, hold a privilege check."""
    if any(is_privilege_check(decorator, imports) for decorator in klass.decorator_list):
        return True
    for statement in klass.body:
        if not isinstance(statement, ast.Assign) or not isinstance(statement.value, (ast.List, ast.Tuple)):
            continue
        if any(isinstance(t, ast.Name) and t.id in CLASS_DECORATOR_LISTS for t in statement.targets):
            if any(is_privilege_check(element, imports) for element in statement.value.elts):
                return True
    return False
