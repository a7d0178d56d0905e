"""Probe an app that is already built: what the command and the pytest fixture share."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass, field

from .errors import ProbeError
from .evidence import Evidence
from .netblock import NetworkGuard
from .project import Project
from .routes import plan_routes
from .runner import RouteResult, Runner, Settings
from .seed import Seed, load_seed
from .static_link import StaticFinding, link_route, static_findings


@dataclass
class ProbeReport:
    app: str
    root: str
    settings: Settings
    routes: list[RouteResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    findings: list[StaticFinding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    static: bool = True

    def route(self, name: str) -> RouteResult:
        """A route by its label (``GET /api/data``), rule (``/api/data``) or endpoint."""
        for result in self.routes:
            if name in (result.label, result.label.split(" ", 1)[1], result.endpoint):
                return result
        raise KeyError(f"no probed route {name!r}: {[r.label for r in self.routes]}")

    def growing(self, max_growth_kib: float) -> list[RouteResult]:
        """Routes whose memory grows steadily by more than this per 1,000 requests."""
        return [
            result for result in self.routes
            if result.grows and result.growth_kib > max_growth_kib
        ]

    def status_of(self, finding: StaticFinding) -> str:
        statuses = {linked.status for result in self.routes for linked in result.findings
                    if linked.finding == finding}
        for status in ("confirmed", "not observed"):
            if status in statuses:
                return status
        return "not reached"

    def confirmed(self) -> list[StaticFinding]:
        return [f for f in self.findings if self.status_of(f) == "confirmed"]

    def leads(self) -> list[tuple[RouteResult, Evidence]]:
        return [(result, lead) for result in self.routes for lead in result.leads]

    def assert_no_growth(self, max_growth_kib: float = 1.0) -> None:
        """For tests: fail with the text report when a route's memory grows."""
        growing = self.growing(max_growth_kib)
        if growing:
            from .report import render_text

            names = ", ".join(f"{r.label} (+{r.growth_kib:.1f} KiB)" for r in growing)
            raise AssertionError(
                f"memory grows per 1,000 requests on {names}\n\n{render_text(self)}"
            )


def project_root_for(app) -> str:
    """The folder the app's top-level package was imported from."""
    top = app.import_name.split(".")[0]
    module = sys.modules.get(top)
    filename = getattr(module, "__file__", None)
    if filename:
        folder = os.path.dirname(os.path.abspath(filename))
        if os.path.basename(filename) == "__init__.py":
            folder = os.path.dirname(folder)
        return folder
    return os.path.dirname(os.path.abspath(app.root_path))


def probe_app(
    app,
    *,
    root: str | None = None,
    seed: Seed | None = None,
    routes: list[str] | tuple[str, ...] = (),
    settings: Settings | None = None,
    guard: NetworkGuard | None = None,
    static: bool = True,
    label: str | None = None,
) -> ProbeReport:
    settings = settings or Settings()
    project = Project(root or project_root_for(app))
    selection = plan_routes(app, seed or Seed(), list(routes))
    report = ProbeReport(label or app.import_name, project.root, settings,
                         skipped=selection.skipped, static=static)
    report.routes = Runner(app, project, settings, guard).run(selection.plans)
    if static:
        report.findings, report.problems = static_findings(project.root)
    for result in report.routes:
        result.findings, result.leads = link_route(
            report.findings, result.executed, result.evidence)
    return report


class Discard(io.TextIOBase):
    """Where the app's prints and log lines go while it is probed (thousands of requests)."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def quiet_streams():
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = Discard()
    try:
        yield saved
    finally:
        sys.stdout, sys.stderr = saved


def probe(
    app,
    routes: list[str] | tuple[str, ...] = (),
    *,
    seed: Seed | str | os.PathLike | None = None,
    requests: int = 200,
    warmup: int = 20,
    batches: int = 4,
    threads: int = 2,
    allow_network: bool = False,
    root: str | None = None,
    static: bool = True,
) -> ProbeReport:
    """Probe an app object (the pytest fixture ``flaskleak_probe`` returns this function)."""
    if seed is None or isinstance(seed, Seed):
        loaded = seed or Seed()
    else:
        loaded = load_seed(os.fspath(seed))
    settings = Settings(requests=requests, warmup=warmup, batches=batches, threads=threads)
    guard = None if allow_network else NetworkGuard()
    with guard if guard is not None else contextlib.nullcontext():
        if guard is not None:
            guard.where = "while probing"
        with quiet_streams():
            return probe_app(app, root=root, seed=loaded, routes=routes, settings=settings,
                             guard=guard, static=static)


__all__ = ["ProbeError", "ProbeReport", "probe", "probe_app"]
