"""What a thread-local's class sets up per thread, so a teardown can put it back.

``threading.local`` runs a subclass's ``__init__`` once per thread, on the thread's first use
of the object: its attributes are the defaults every later request on that thread finds. A
teardown that deletes them leaves the next request an ``AttributeError``; one that resets
them to what ``__init__`` sets keeps the object as the thread first saw it. This module reads
``__init__`` (in this module, or the project module defining an imported class; never run):

* an attribute set at the top of ``__init__`` to an empty value (``None``, ``0``, ``""``,
  ``[]``, ``{}``, ``set()``) is reset to a fresh copy of it;
* one set otherwise (another literal, from an argument, by a call, in a branch) comes back only
  by emptying the thread's attributes and calling ``__init__`` again, possible when it takes no
  argument and the object was made without one;
* one ``__init__`` does not set is deleted (a class attribute of that name shows through).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..astutil import dotted_name
from .file import FileModel
from .teardowns import is_empty_value


@dataclass
class InitDefaults:
    """What a thread-local's ``__init__`` sets: empty defaults, and everything it sets."""

    class_name: str
    literal: dict[str, ast.expr] = field(default_factory=dict)  # attribute -> empty value
    others: set[str] = field(default_factory=set)  # set some other way
    rerunnable: bool = False  # ``__init__(self)`` and the object made without arguments

    def sets(self, attribute: str) -> bool:
        return attribute in self.literal or attribute in self.others or "*" in self.others


def init_defaults(
    model: FileModel, constructor: ast.Call, imported_class: str | None
) -> InitDefaults | str | None:
    """The defaults of the class ``constructor`` makes; None for ``threading.local`` itself (no
    ``__init__``); a text when the class's ``__init__`` cannot be read."""
    class_name = dotted_name(constructor.func) or ""
    init = None
    if class_name in model.flask.classes:
        init = model.flask.all_methods(class_name).get("__init__")
    elif imported_class is not None:
        found = _imported_init(model, imported_class)
        if isinstance(found, str):
            return found
        init = found
    else:
        return None
    if init is None:
        return None
    defaults = InitDefaults(class_name)
    for statement in ast.walk(init):
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and dotted_name(target.value) == "self":
                    top_level = statement in init.body and isinstance(statement, ast.Assign)
                    if top_level and len(targets) == 1 and is_empty_value(statement.value):
                        defaults.literal.setdefault(target.attr, statement.value)
                    else:
                        defaults.others.add(target.attr)
        elif isinstance(statement, ast.Call) and dotted_name(statement.func) == "setattr":
            if statement.args and dotted_name(statement.args[0]) == "self":
                defaults.others.add("*")
    for attribute in defaults.others & set(defaults.literal):
        del defaults.literal[attribute]
    arguments = init.args
    takes_nothing = (
        len(arguments.posonlyargs) + len(arguments.args) == 1
        and not arguments.vararg and not arguments.kwonlyargs and not arguments.kwarg
    )
    defaults.rerunnable = takes_nothing and not constructor.args and not constructor.keywords
    return defaults


def _imported_init(model: FileModel, qualified: str) -> ast.FunctionDef | None | str:
    module, _, name = qualified.rpartition(".")
    project = model.project
    source = project.module_source(module) if project is not None else None
    if source is None:
        return f"its class `{name}` is defined where this run cannot read it"
    try:
        tree = ast.parse(source[1])
    except (SyntaxError, ValueError):
        return f"its class `{name}` ({source[0]}) does not parse"
    for klass in tree.body:
        if isinstance(klass, ast.ClassDef) and klass.name == name:
            for function in klass.body:
                if isinstance(function, ast.FunctionDef) and function.name == "__init__":
                    return function
            return None
    return f"its class `{name}` is not defined in {source[0]}"
