"""pyplot figures: which calls register a new figure with pyplot, and which close one.

``matplotlib.pyplot`` keeps every figure it makes in a process-wide registry
(``matplotlib._pylab_helpers.Gcf``) until ``plt.close`` removes it; a figure made with
``matplotlib.figure.Figure(...)`` is not registered and goes when nothing references it.
"""

from __future__ import annotations

import ast

from ..astutil import keyword_value, string_value
from .resources import mentions

PYPLOT_MODULES = ("matplotlib.pyplot", "pylab", "matplotlib.pylab")
# Calls that make (and register) a new figure.
FIGURE_MAKERS = frozenset(
    f"{module}.{name}" for module in PYPLOT_MODULES
    for name in ("figure", "subplots", "subplot_mosaic")
)
CLOSE = frozenset(f"{module}.close" for module in PYPLOT_MODULES)


def makes_figure(model, call: ast.Call) -> bool:
    """A pyplot call that registers a new figure: not ``plt.figure(1)`` / ``num="report"``,
    which returns the figure of that number or label when it exists (one, reused)."""
    qualified = model.imports.qualified_name(call.func) or ""
    if qualified not in FIGURE_MAKERS:
        return False
    number = keyword_value(call, "num")
    if number is None and call.args and qualified.endswith(".figure"):
        number = call.args[0]  # figure(num, ...); subplots' first argument is nrows
    return not (isinstance(number, ast.Constant) and number.value is not None)


def closes_figure(model, call: ast.Call, names: frozenset) -> bool:
    """``plt.close(fig)`` (or ``fig.number``, ``ax.figure``), ``plt.close("all")``, and
    ``plt.close()`` (the current figure: the last one made)."""
    if (model.imports.qualified_name(call.func) or "") not in CLOSE:
        return False
    if not call.args and not call.keywords:
        return True
    argument = call.args[0] if call.args else call.keywords[0].value
    if string_value(argument) == "all":
        return True
    return bool(names) and mentions(argument, set(names))
