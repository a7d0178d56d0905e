"""Prometheus metrics of a module: which names hold a ``prometheus_client`` metric, which hold a
``prometheus_flask_exporter`` extension, and what the extension labels its default metrics with.

``metric.labels(*values)`` creates a child time series the first time it sees a combination of
values and keeps it in the metric (and in every scrape, and in the multiprocess files) for the
life of the process. A metric defined in another project module (``from .metrics import
REQUESTS``) is recognised from that module's text.
"""

from __future__ import annotations

import ast
import re
from functools import cached_property

from ..astutil import dotted_name
from ..scan import scan

METRIC_CLASSES = {
    f"prometheus_client{module}.{name}"
    for module in ("", ".metrics")
    for name in ("Counter", "Gauge", "Histogram", "Summary", "Info", "Enum")
}
EXPORTER_CLASSES = {
    f"prometheus_flask_exporter{module}.{name}"
    for module, names in (
        ("", ("PrometheusMetrics", "RESTfulPrometheusMetrics", "ConnexionPrometheusMetrics")),
        (".multiprocess", (
            "GunicornPrometheusMetrics", "GunicornInternalPrometheusMetrics",
            "UWsgiPrometheusMetrics", "MultiprocessPrometheusMetrics",
            "MultiprocessInternalPrometheusMetrics",
        )),
    )
    for name in names
}
# ``group_by`` values of prometheus_flask_exporter that name a request attribute with one value
# per URL; its default is "path".
PATH_GROUPS = {"path", "full_path", "url", "base_url"}
EXPORTER_DECORATORS = {"counter", "gauge", "histogram", "summary"}
METRIC_CONSTRUCTOR = re.compile(r"(?:Counter|Gauge|Histogram|Summary|Info|Enum)\s*\(")
EXPORTER_CONSTRUCTOR = re.compile(r"PrometheusMetrics\b")


class MetricsModel:
    """The Prometheus objects one module defines or imports from its project."""

    def __init__(self, model):
        self.model = model
        self.imports = model.imports

    @cached_property
    def metric_names(self) -> set[str]:
        """Dotted names (``REQUESTS``, ``self.latency``) assigned a ``prometheus_client`` metric."""
        return self._assigned(METRIC_CLASSES)

    @cached_property
    def exporter_names(self) -> set[str]:
        """Dotted names assigned a ``prometheus_flask_exporter`` extension."""
        names = self._assigned(EXPORTER_CLASSES)
        for scope, call in self.model.calls_to({"for_app_factory"}):
            if self.is_exporter_class(call.func.value if isinstance(call.func, ast.Attribute) else None):
                names |= self._targets_of(scope, call)
        return names

    def _assigned(self, classes: set[str]) -> set[str]:
        names: set[str] = set()
        for scope, call in self.model.calls_of(classes):
            names |= self._targets_of(scope, call)
        return names

    def _targets_of(self, scope: ast.AST, call: ast.Call) -> set[str]:
        parent = self.model.parents(scope).get(call)
        if isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is call:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            return {dotted_name(t) for t in targets if dotted_name(t)}
        return set()

    def exporter_constructions(self) -> list[ast.Call]:
        """``PrometheusMetrics(app, ...)`` and ``PrometheusMetrics.for_app_factory(...)``."""
        found = [call for _, call in self.model.calls_of(EXPORTER_CLASSES)]
        for _, call in self.model.calls_to({"for_app_factory"}):
            func = call.func
            if isinstance(func, ast.Attribute) and self.is_exporter_class(func.value):
                found.append(call)
        return found

    def is_exporter_class(self, node: ast.AST | None) -> bool:
        return isinstance(node, (ast.Name, ast.Attribute)) and (
            self.imports.qualified_name(node) in EXPORTER_CLASSES
        )

    # -- is this receiver a metric? ------------------------------------------------------------

    def is_metric(self, node: ast.AST) -> bool:
        """A ``prometheus_client`` metric: assigned one here, or imported from a project module
        that assigns one to that name."""
        name = dotted_name(node)
        if name is None:
            return False
        if name in self.metric_names:
            return True
        return self._defined_elsewhere(node, METRIC_CONSTRUCTOR, "prometheus_client")

    def is_exporter(self, node: ast.AST) -> bool:
        name = dotted_name(node)
        if name is None:
            return False
        if name in self.exporter_names:
            return True
        return self._defined_elsewhere(node, EXPORTER_CONSTRUCTOR, "prometheus_flask_exporter")

    def _defined_elsewhere(self, node: ast.AST, constructor: re.Pattern, library: str) -> bool:
        project = self.model.project
        qualified = self.imports.qualified_name(node)
        if project is None or not qualified or qualified.startswith("."):
            return False
        module, _, name = qualified.rpartition(".")
        source = project.module_source(module)
        if source is None or library not in source[1]:
            return False
        assigned = re.compile(
            rf"^[ \t]*{re.escape(name)}[ \t]*(?::[^=\n]*)?=[ \t]*(?:[\w.]+\.)?" + constructor.pattern,
            re.M,
        )
        return assigned.search(source[1]) is not None

    # -- what the exporter groups by -----------------------------------------------------------

    def default_grouping(self, call: ast.Call) -> str | None:
        """The per-URL request attribute an exporter labels its default metrics with
        (``"path"`` unless ``group_by`` says otherwise), or None when bounded or unknown."""
        if any(keyword.arg is None for keyword in call.keywords):
            return None  # ``**options``: not known here
        values = {keyword.arg: keyword.value for keyword in call.keywords}
        export = values.get("export_defaults")
        if isinstance(export, ast.Constant) and not export.value:
            return None
        by_endpoint = values.get("group_by_endpoint")
        if isinstance(by_endpoint, ast.Constant) and by_endpoint.value:
            return None
        group = values.get("group_by")
        if group is None:
            return "path"
        if isinstance(group, ast.Constant):
            return group.value if group.value in PATH_GROUPS else None
        return self._grouping_function(group)

    def _grouping_function(self, node: ast.expr) -> str | None:
        """``group_by=by_path`` where ``def by_path(req): return req.path``."""
        if not isinstance(node, ast.Name):
            return None
        function = self.model.flask.module_functions.get(node.id)
        if function is None or not function.args.args:
            return None
        parameter = function.args.args[0].arg
        for statement in scan(function).of(ast.Return):
            value = statement.value
            for part in ast.walk(value) if value is not None else ():
                if (
                    isinstance(part, ast.Attribute)
                    and isinstance(part.value, ast.Name)
                    and part.value.id == parameter
                    and part.attr in PATH_GROUPS
                ):
                    return part.attr
        return None
