"""FLK307 metric-label-per-path: Prometheus metrics labelled with a value each request can change.

``prometheus_client`` keeps a child time series per distinct label combination, in the metric,
for the life of the process (and in every scrape, and in the multiprocess files). Labelled with
``request.path``, a URL variable or a user id, a metric gains one series per URL or user and
never drops one. ``PrometheusMetrics(app)`` of prometheus_flask_exporter labels its request
duration metric with ``request.path`` unless ``group_by`` says otherwise.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cached_property

from ..finding import Finding
from ..model.metrics import EXPORTER_DECORATORS, MetricsModel
from ..model.request_values import RequestValues
from ..model.resources import summary
from ..rule import Rule

# Reasons that are a URL: the fix is to label by route instead.
URL_REASONS = ("`request.path", "`request.full_path", "`request.url", "`request.base_url",
               "`request.query_string", "`request.args", "`request.values", "`request.view_args",
               "the URL variable", "`request.environ")


class MetricLabelPerPath(Rule):
    code = "FLK307"
    name = "metric-label-per-path"
    summary = "Prometheus metric labelled with the raw path, a URL value or a user: a series per value"
    triggers = ("labels(", "labels=", "PrometheusMetrics")

    @cached_property
    def metrics(self) -> MetricsModel:
        return MetricsModel(self.model)

    @cached_property
    def values(self) -> RequestValues:
        return RequestValues(self.model)

    @cached_property
    def uses_prometheus(self) -> bool:
        return self.model.imports.imports_any("prometheus_client", "prometheus_flask_exporter")

    def check(self) -> Iterator[Finding]:
        yield from self.labelled_metrics()
        yield from self.exporters()
        yield from self.exporter_decorators()

    # -- metric.labels(...) --------------------------------------------------------------------

    def labelled_metrics(self) -> Iterator[Finding]:
        flask = self.model.flask
        for _, call in self.model.calls_to({"labels"}):
            func = call.func
            if not isinstance(func, ast.Attribute):
                continue
            if not (self.metrics.is_metric(func.value) or self.uses_prometheus):
                continue
            function = flask.executing_function(call)
            if function is None:
                continue
            for value in [*call.args, *(k.value for k in call.keywords)]:
                why = self.values.unbounded(value, function)
                if why is None:
                    continue
                reach = flask.request_reach(call)
                where = f" ({reach.describe()})" if reach is not None else ""
                yield self.finding(call, self.label_message(summary(call, 40), why, where))
                break

    @staticmethod
    def label_message(call: str, why: str, where: str) -> str:
        return (
            f"`{call}` labels a Prometheus metric with {why}{where}: prometheus_client keeps a "
            "time series for every distinct label value for the life of the process, so each "
            f"new value adds one that is never dropped; {_instead(why)}"
        )

    # -- PrometheusMetrics(app) ----------------------------------------------------------------

    def exporters(self) -> Iterator[Finding]:
        for call in self.metrics.exporter_constructions():
            grouping = self.metrics.default_grouping(call)
            if grouping is not None:
                chosen = "the default `group_by`" if grouping == "path" and not any(
                    keyword.arg == "group_by" for keyword in call.keywords
                ) else f"`group_by` {grouping!r}"
                yield self.finding(
                    call,
                    f"`{summary(call, 40)}` labels its request-duration metric with "
                    f"`request.{grouping}` ({chosen}): prometheus_client keeps one time series "
                    "per distinct URL (every id in a path, every scanner's probe) for the life "
                    'of each worker; pass `group_by="url_rule"` (or `"endpoint"`)',
                )
                continue
            labels = _keyword(call, "default_labels")
            yield from self.callable_labels(call, labels)

    def exporter_decorators(self) -> Iterator[Finding]:
        """``@metrics.counter("...", "...", labels={"path": lambda: request.path})``."""
        for _, call in self.model.calls_to(EXPORTER_DECORATORS):
            func = call.func
            labels = _keyword(call, "labels")
            if labels is None or not isinstance(func, ast.Attribute):
                continue
            if self.metrics.is_exporter(func.value):
                yield from self.callable_labels(call, labels)

    def callable_labels(self, call: ast.Call, labels: ast.expr | None) -> Iterator[Finding]:
        if not isinstance(labels, ast.Dict):
            return
        for value in labels.values:
            body = value.body if isinstance(value, ast.Lambda) else value
            why = self.values.unbounded(body, None)
            if why is not None:
                yield self.finding(call, self.label_message(summary(call, 40), why, ""))
                return


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _instead(why: str) -> str:
    if why.startswith(URL_REASONS):
        return "label with the route (`request.url_rule.rule`) or `request.endpoint` instead"
    return "label with a bounded value (a route, a status class) and keep the rest out of labels"
