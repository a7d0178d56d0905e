"""Who calls a function, by the text of the modules that name it: the test for code that only
tests or database migrations run.

A helper such as ``delete_all_tables(db)`` or ``get_version_for_migration(op)`` opens a
connection and does not close it on every path; that is harmless when only the test suite or an
Alembic migration ever calls it (a short-lived process), and a leak when a view does. The
project's own modules are searched for the name: a call (``name(``) or any other use outside an
import line in a production module means it may serve traffic; calls only from test modules or
migration scripts mean it does not.
"""

from __future__ import annotations

import os
import re

MIGRATION_FOLDERS = {"migrations", "alembic", "migration"}
TEST_ROLE, MIGRATION_ROLE = "test code", "migrations"


def is_migration_path(relative: str) -> bool:
    return any(part in MIGRATION_FOLDERS for part in relative.split(os.sep)[:-1])


def callers_role(project, relative: str, qualname: str) -> str | None:
    """``TEST_ROLE`` or ``MIGRATION_ROLE`` when only such modules call ``qualname`` (a
    module-level function of ``relative``); None when the function is used anywhere else, or
    called from nowhere we can see."""
    if "." in qualname:
        return None  # a method: who calls it is not a matter of its name
    own = project.text(relative) or ""
    if own.count(f"{qualname}(") > 1 or _used_outside_imports(own, qualname, defining=True):
        return None  # its own module calls it or hands it on
    roles = set()
    for other in project.files_mentioning(qualname):
        if other == relative:
            continue
        text = project.text(other) or ""
        if is_migration_path(other):
            if f"{qualname}(" in text:
                roles.add(MIGRATION_ROLE)
        elif _used_outside_imports(text, qualname):
            return None  # production code uses it
    for test in project.files_mentioning(qualname, tests=True):
        if f"{qualname}(" in (project.text(test) or ""):
            roles.add(TEST_ROLE)
    if not roles:
        return None
    return " and ".join(sorted(roles))


def _used_outside_imports(text: str, name: str, defining: bool = False) -> bool:
    """Whether a line other than an import (or, in its own module, the ``def``) names it."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    in_import = False  # inside ``from x import (`` ... ``)``
    for line in text.splitlines():
        stripped = line.strip()
        starts_import = stripped.startswith(("from ", "import "))
        importing = in_import or starts_import
        if starts_import and "(" in stripped and ")" not in stripped:
            in_import = True
        elif in_import and ")" in stripped:
            in_import = False
        if importing or stripped.startswith("#") or not pattern.search(line):
            continue
        if defining and stripped.startswith(("def ", "async def ")):
            continue
        return True
    return False
