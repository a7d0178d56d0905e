"""The probe's reports: text for people, JSON for scripts, SARIF for code scanning (the
confirmed findings, with the growth measured for each)."""

from __future__ import annotations

import json
import os
from collections import defaultdict

from .. import __version__
from .evidence import POOL, SINGLE, Evidence

FORMATS = ("text", "json", "sarif")
MESSAGE_WIDTH = 100


def shown_path(path: str | None) -> str:
    if not path:
        return ""
    relative = os.path.relpath(path)
    return path if relative.startswith(".." + os.sep + "..") else relative


def where(item: Evidence) -> str:
    if item.location:
        return f"{shown_path(item.path)}:{item.line}"
    return item.name or "(whole route)"


def amount(value: float, unit: str) -> str:
    if unit == "KiB":
        return f"{value:+,.1f} KiB"
    if unit == "requests":  # something left behind after that many requests of 1,000
        return f"after {value:,.0f}"
    return f"{value:,.0f} {unit}"


def phase_label(phase: str, threads: int) -> str:
    return "1 thread" if phase == SINGLE else f"{threads} threads"


def grouped(evidence: list[Evidence]) -> list[list[Evidence]]:
    """The same measurement seen on one thread and on the pool, together."""
    groups: dict[tuple, list[Evidence]] = defaultdict(list)
    for item in evidence:
        groups[(item.kind, item.path, item.line, item.name, item.detail)].append(item)
    return sorted(groups.values(), key=lambda items: -max(i.amount for i in items))


def describe_group(items: list[Evidence], threads: int) -> str:
    first = items[0]
    amounts = ", ".join(
        f"{amount(item.amount, item.unit)} ({phase_label(item.phase, threads)})"
        for item in sorted(items, key=lambda i: i.phase != SINGLE)
    )
    return f"{first.kind} {where(first)}: {amounts} per 1,000 requests: {first.detail}"


def top_lines(result, count: int = 5) -> list[tuple[str, int, float]]:
    """The project lines whose memory grows most, per 1,000 requests (the larger phase)."""
    best: dict[tuple[str, int], float] = {}
    for item in result.evidence:
        if item.kind == "memory" and item.location and not item.outside:
            key = (item.path, item.line)
            best[key] = max(best.get(key, 0.0), item.amount)
    ranked = sorted(best.items(), key=lambda entry: -entry[1])[:count]
    return [(path, line, value) for (path, line), value in ranked]


def short(text: str) -> str:
    return text if len(text) <= MESSAGE_WIDTH else text[: MESSAGE_WIDTH - 1] + "…"


def statuses_text(result) -> str:
    parts = []
    for status, count in sorted(result.statuses.items(), key=lambda item: str(item[0])):
        parts.append(f"{status} ×{count}")
    return ", ".join(parts)


def render_text(report) -> str:
    settings = report.settings
    lines = [
        f"flaskleak probe: {report.app}: {len(report.routes)} route"
        f"{'s' * (len(report.routes) != 1)}, each {settings.requests} requests on 1 thread"
        + (f" and {settings.requests} on {settings.threads} threads" if settings.threads >= 2
           else "")
        + f", after {settings.warmup} warm-up requests",
        "",
    ]
    for result in report.routes:
        single, pool = result.memory(SINGLE), result.memory(POOL)
        memory = [f"{value:+,.1f} KiB ({phase_label(phase, settings.threads)})"
                  for phase, value in ((SINGLE, single), (POOL, pool)) if value is not None]
        lines.append(f"{result.label}  [{statuses_text(result)}]")
        if result.grows:
            lines.append(f"  memory GROWS: {', '.join(memory)} per 1,000 requests")
        else:
            lines.append(f"  memory flat (no steady climb; slope {', '.join(memory)} "
                         "per 1,000 requests)")
        top = top_lines(result)
        if top:
            lines.append("  grows at: " + ", ".join(
                f"{shown_path(path)}:{line} {amount(value, 'KiB')}" for path, line, value in top))
        if result.failing:
            errors = "; ".join(result.errors) or "no exception recorded"
            lines.append(f"  FAILING: {errors}")
        findings_by_id = {id(item) for linked in result.findings for item in linked.evidence}
        for group in grouped(result.evidence):
            if any(id(item) in findings_by_id for item in group):
                lines.append(f"  measured  {describe_group(group, settings.threads)}")
        for linked in sorted(result.findings, key=lambda l: (l.status != "confirmed", l.finding)):
            finding = linked.finding
            lines.append(
                f"  {linked.status:<12}  {shown_path(finding.path)}:{finding.line}: "
                f"{finding.code} {short(finding.message)}"
            )
        for group in grouped(result.leads):
            lines.append(f"  lead      {describe_group(group, settings.threads)} "
                         "(no static finding)")
        lines.append("")
    for label, why in report.skipped:
        lines.append(f"skipped {label}: {why}")
    if report.skipped:
        lines.append("")
    lines.extend(summary_lines(report))
    return "\n".join(lines) + "\n"


def summary_lines(report) -> list[str]:
    lines = []
    if report.static:
        counts: dict[str, list] = {"confirmed": [], "not observed": [], "not reached": []}
        for finding in report.findings:
            counts[report.status_of(finding)].append(finding)
        codes = sorted({f.code for f in counts["confirmed"]})
        lines.append(
            f"static findings: {len(report.findings)}; confirmed {len(counts['confirmed'])}"
            + (f" ({', '.join(codes)})" if codes else "")
            + f", not observed {len(counts['not observed'])}, not reached by any probed "
            f"route {len(counts['not reached'])}"
        )
        for finding in counts["not reached"]:
            lines.append(f"  not reached  {shown_path(finding.path)}:{finding.line}: "
                         f"{finding.code}")
        for problem in report.problems:
            lines.append(f"  not analysed: {problem}")
    growing = [r for r in report.routes if r.grows]
    lines.append(
        f"routes whose memory grows: {len(growing)} of {len(report.routes)}"
        + (": " + ", ".join(f"{r.label} ({r.growth_kib:+,.1f} KiB per 1,000 requests)"
                            for r in growing) if growing else "")
    )
    failing = [r.label for r in report.routes if r.failing]
    if failing:
        lines.append(f"failing routes: {', '.join(failing)}")
    return lines


def evidence_json(item: Evidence, threads: int) -> dict:
    return {
        "kind": item.kind,
        "phase": phase_label(item.phase, threads),
        "per_1000_requests": round(item.amount, 3),
        "unit": item.unit,
        "detail": item.detail,
        "path": shown_path(item.path) or None,
        "line": item.line,
        "object": item.name,
    }


def render_json(report) -> str:
    threads = report.settings.threads
    routes = []
    for result in report.routes:
        routes.append({
            "route": result.label,
            "endpoint": result.endpoint,
            "statuses": {str(key): value for key, value in sorted(
                result.statuses.items(), key=lambda item: str(item[0]))},
            "failing": result.failing,
            "errors": result.errors,
            "grows": result.grows,
            "memory_kib_per_1000_requests": {
                phase_label(phase, threads): round(value, 3)
                for phase in (SINGLE, POOL)
                if (value := result.memory(phase)) is not None
            },
            "top_lines": [
                {"path": shown_path(path), "line": line, "kib_per_1000_requests": round(value, 3)}
                for path, line, value in top_lines(result)
            ],
            "evidence": [evidence_json(item, threads) for item in result.evidence],
            "measurements": {
                phase_label(phase, threads): {
                    kind: {"per_1000_requests": round(value, 3), "unit": unit}
                    for kind, (value, unit) in sorted(numbers.items())
                }
                for phase, numbers in result.numbers.items()
            },
            "findings": [
                {
                    "path": shown_path(linked.finding.path),
                    "line": linked.finding.line,
                    "code": linked.finding.code,
                    "message": linked.finding.message,
                    "status": linked.status,
                    "evidence": [evidence_json(item, threads) for item in linked.evidence],
                }
                for linked in result.findings
            ],
            "leads": [evidence_json(item, threads) for item in result.leads],
        })
    document = {
        "app": report.app,
        "settings": {
            "requests": report.settings.requests,
            "warmup": report.settings.warmup,
            "batches": report.settings.batches,
            "threads": threads,
        },
        "routes": routes,
        "skipped": [{"route": label, "reason": why} for label, why in report.skipped],
        "findings": [
            {"path": shown_path(f.path), "line": f.line, "code": f.code,
             "message": f.message, "status": report.status_of(f)}
            for f in report.findings
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_sarif(report) -> str:
    threads = report.settings.threads
    results = []
    rules: dict[str, dict] = {}
    for finding in report.confirmed():
        measured = []
        for result in report.routes:
            for linked in result.findings:
                if linked.finding == finding and linked.status == "confirmed":
                    for group in grouped(linked.evidence):
                        measured.append(f"{result.label}: {describe_group(group, threads)}")
        rules.setdefault(finding.code, {"id": finding.code})
        results.append({
            "ruleId": finding.code,
            "level": "error",
            "message": {"text": f"{finding.message} Confirmed by measurement: "
                                + " | ".join(measured)},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": shown_path(finding.path).replace(os.sep, "/")},
                "region": {"startLine": finding.line},
            }}],
            "properties": {"measurements": measured},
        })
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "flaskleak probe",
                "version": __version__,
                "informationUri": "https://github.com/flake8-flaskleak/flake8-flaskleak",
                "rules": [rules[code] for code in sorted(rules)],
            }},
            "results": results,
        }],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif}
