"""What ``bench_flake8.py`` runs each round, and the tables it prints (pure: no processes here).

Each figure is a ratio of two medians from the same rounds, set beside its goal from issue 10.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """One command timed once per round."""

    key: str
    label: str
    environment: str  # the venv: alone, plugin or bugbear
    tool: str  # "flake8", or "check" for `flaskleak check`
    jobs: int
    cold: bool  # delete every .flaskleak_cache/ first


@dataclass
class Measurements:
    """What one run measured, a value per measured round."""

    cpu: list[float] = field(default_factory=list)  # user + system of the child and its workers
    wall: list[float] = field(default_factory=list)
    peak_kb: list[int] = field(default_factory=list)  # max RSS of the largest process
    output_lines: int = 0  # what the last run printed: a check that each run did its work


def plan(jobs: Sequence[int]) -> list[tuple[Run, ...]]:
    """The units of a round. Units rotate from round to round so that none always runs first
    after a pause; a unit of two runs keeps its order: the warm run reads the cache the cold run
    just wrote, as a second flake8 run on a checkout does."""
    units: list[tuple[Run, ...]] = []
    for count in jobs:
        units.append((Run(f"alone-j{count}", f"flake8 alone, -j{count}", "alone", "flake8",
                          count, False),))
        units.append((
            Run(f"plugin-cold-j{count}", f"flake8 + plugin, cold, -j{count}", "plugin", "flake8",
                count, True),
            Run(f"plugin-warm-j{count}", f"flake8 + plugin, warm, -j{count}", "plugin", "flake8",
                count, False),
        ))
    units.append((Run(f"bugbear-j{jobs[0]}", f"flake8 + flake8-bugbear, -j{jobs[0]}", "bugbear",
                      "flake8", jobs[0], False),))
    for count in check_jobs(jobs):
        units.append((Run(f"check-j{count}", f"flaskleak check, cold, -j {count}", "plugin",
                          "check", count, True),))
    return units


def check_jobs(jobs: Sequence[int]) -> list[int]:
    """`flaskleak check` always runs with ``-j 1`` (its CPU against flake8's) and ``-j 2`` (its
    wall-time scaling, which has a goal), and with any other count asked for."""
    return sorted({1, 2, *jobs})


def rotated(units: Sequence[tuple[Run, ...]], round_number: int) -> list[tuple[Run, ...]]:
    shift = round_number % len(units)
    return list(units[shift:]) + list(units[:shift])


# -- the summary table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    operator: str  # "<=", ">=" or "<"
    value: float

    def met(self, measured: float) -> bool:
        if self.operator == "<=":
            return measured <= self.value
        if self.operator == ">=":
            return measured >= self.value
        return measured < self.value

    def __str__(self) -> str:
        symbol = {"<=": "≤", ">=": "≥", "<": "<"}[self.operator]
        return f"{symbol} {self.value:.2f}"


# Issue 10's "done when", for the plugin's CPU ratio to flake8 alone.
WARM_GOAL = Goal("<=", 1.05)
COLD_GOAL = Goal("<=", 1.10)
CHECK_CPU_GOAL = Goal(">=", 10.0)  # flake8's CPU over `flaskleak check`'s
CHECK_SCALING_GOAL = Goal(">=", 1.7)  # `flaskleak check` wall time, -j 1 over -j 2
MEMORY_GOAL = Goal("<", 1.0)  # `flaskleak check`'s peak memory over flake8's


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    goal: str
    met: str  # "yes", "no", or "" where there is no goal


def median_of(measurements: Measurements, what: str) -> float:
    return statistics.median(getattr(measurements, what))


def ratio_row(
    figure: str, numerator: float, denominator: float, unit: str, goal: Goal | None
) -> Row:
    value = numerator / denominator if denominator else float("inf")
    if unit == "MB":
        detail = f"{numerator / 1024:.0f} MB / {denominator / 1024:.0f} MB"
    else:
        detail = f"{numerator:.2f} s / {denominator:.2f} s"
    met = "" if goal is None else ("yes" if goal.met(value) else "no")
    return Row(figure, f"{value:.2f} ({detail})", "" if goal is None else str(goal), met)


def summary_rows(results: dict[str, Measurements], jobs: Sequence[int]) -> list[Row]:
    """The figures issue 10 sets goals for, from the medians of the measured rounds."""

    def cpu(key: str) -> float:
        return median_of(results[key], "cpu")

    rows = []
    for count in jobs:
        base = cpu(f"alone-j{count}")
        rows.append(ratio_row(f"plugin / flake8 CPU, warm, -j{count}",
                              cpu(f"plugin-warm-j{count}"), base, "s", WARM_GOAL))
        rows.append(ratio_row(f"plugin / flake8 CPU, cold, -j{count}",
                              cpu(f"plugin-cold-j{count}"), base, "s", COLD_GOAL))
    first = jobs[0]
    rows.append(ratio_row(f"flake8-bugbear / flake8 CPU, -j{first} (reference)",
                          cpu(f"bugbear-j{first}"), cpu(f"alone-j{first}"), "s", None))
    rows.append(ratio_row(f"flake8 -j{first} CPU / `flaskleak check -j 1` CPU, cold",
                          cpu(f"alone-j{first}"), cpu("check-j1"), "s", CHECK_CPU_GOAL))
    single_wall = median_of(results["check-j1"], "wall")
    for count in check_jobs(jobs):
        if count > 1:
            rows.append(ratio_row(
                f"`flaskleak check` wall time, -j 1 / -j {count}",
                single_wall, median_of(results[f"check-j{count}"], "wall"), "s",
                CHECK_SCALING_GOAL if count == 2 else None,
            ))
    rows.append(ratio_row(
        f"peak memory, `flaskleak check -j 1` / flake8 alone -j{first}",
        median_of(results["check-j1"], "peak_kb"), median_of(results[f"alone-j{first}"], "peak_kb"),
        "MB", MEMORY_GOAL,
    ))
    return rows


@dataclass(frozen=True)
class ParseFloor:
    """What ``ast.parse`` alone costs on the modules a cold index parses: no cold run that
    analyses those modules can spend less."""

    parsed: int  # modules whose facts a cold run cached (each one parsed to get them)
    unchecked: int  # of those, the ones flake8 is not given
    unchecked_seconds: float  # CPU of ``ast.parse`` alone over the unchecked ones
    everything: int  # the parsed modules and the checked files together
    everything_seconds: float  # CPU of ``ast.parse`` alone over those: what a check parses


def floor_rows(floor: ParseFloor, results: dict[str, Measurements], jobs: Sequence[int]) -> list[Row]:
    """The least the cold figures can be while the index parses what it parses today: flake8
    hands the plugin the checked files' trees, but the other modules are the plugin's to parse;
    `flaskleak check` parses both."""
    first = jobs[0]
    base = median_of(results[f"alone-j{first}"], "cpu")
    return [
        ratio_row(
            f"floor of the cold ratio: (flake8 -j{first} + `ast.parse` alone of the "
            f"{floor.unchecked} other modules a cold index parses) / flake8",
            base + floor.unchecked_seconds, base, "s", None,
        ),
        ratio_row(
            f"ceiling of the check ratio: flake8 -j{first} CPU / `ast.parse` alone of the "
            f"{floor.everything} modules `flaskleak check` parses",
            base, floor.everything_seconds, "s", None,
        ),
    ]


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; ``|`` inside a cell is escaped so a path cannot break a row."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(row) for row in rows)])


def summary_table(rows: Sequence[Row]) -> str:
    return render_table(
        ("figure", "measured (medians)", "goal", "met"),
        [(row.figure, row.measured, row.goal, row.met) for row in rows],
    )


def medians_table(runs: Sequence[Run], results: dict[str, Measurements]) -> str:
    """Every run's medians: the numbers the ratios come from."""
    rows = []
    for run in runs:
        measured = results[run.key]
        rows.append((
            run.label, f"{median_of(measured, 'cpu'):.2f}", f"{median_of(measured, 'wall'):.2f}",
            f"{median_of(measured, 'peak_kb') / 1024:.0f}", str(measured.output_lines),
        ))
    return render_table(("run", "CPU s", "wall s", "peak MB", "output lines"), rows)


# -- the per-file worst case --------------------------------------------------------------------


@dataclass(frozen=True)
class FileCost:
    path: str
    lines: int
    flake8: float  # seconds of CPU flake8 alone spends on the file
    plugin: float  # seconds of CPU the plugin spends on it, on flake8's tree

    @property
    def ratio(self) -> float:
        if self.plugin == 0:
            return 0.0
        return self.plugin / self.flake8 if self.flake8 > 0 else float("inf")


def per_file_report(
    costs: Sequence[FileCost], always: Sequence[str] = (), limit: int = 25, at_least: int = 5
) -> str:
    """A summary line and the files where the plugin costs more than flake8 itself, worst
    first (at most ``limit``; the ``at_least`` worst files even when none does), then the
    files in ``always`` whatever their ratio."""
    worst_first = sorted(costs, key=lambda cost: cost.ratio, reverse=True)
    over = [cost for cost in worst_first if cost.plugin > cost.flake8]
    shown = worst_first[:max(at_least, min(len(over), limit))]
    shown += [cost for cost in costs if cost.path in always and cost not in shown]
    total_flake8 = sum(cost.flake8 for cost in costs)
    total_plugin = sum(cost.plugin for cost in costs)
    worst = max(costs, key=lambda cost: cost.ratio, default=None)
    summary = (
        f"{len(costs)} files: flake8 alone {total_flake8:.2f} s CPU, plugin {total_plugin:.2f} s "
        f"({total_plugin / total_flake8 if total_flake8 else 0:.3f} of flake8's); "
        f"{len(over)} files where the plugin costs more than flake8 (goal: none)"
    )
    if worst is not None:
        summary += f"; worst {worst.ratio:.2f}× ({worst.path})"
    rows = [
        (cost.path, str(cost.lines), f"{cost.flake8 * 1000:.1f}", f"{cost.plugin * 1000:.1f}",
         f"{cost.ratio:.2f}")
        for cost in shown
    ]
    if len(over) > limit:
        rows.insert(limit, (f"... {len(over) - limit} more over 1.00", "", "", "", ""))
    table = render_table(("file", "lines", "flake8 ms", "plugin ms", "plugin / flake8"), rows)
    return summary + "\n\n" + table
