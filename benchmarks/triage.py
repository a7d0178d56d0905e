"""The triage file: one verdict per finding of a full corpus run, and what a run says against it.

``benchmarks/triage.tsv`` is tab-separated, one finding a line, in the columns of ``COLUMNS``:
package, version, path (relative to the unpacked package root, ``/``-separated), line, code,
verdict (``TP``, ``FP``, or empty while not yet triaged) and a one-sentence reason. Lines that
start with ``#`` and the header line are ignored. Tabs cannot occur inside a field, so the file
stays readable in a diff and in a spreadsheet alike.

A finding is identified by (package, version, path, line, code): the corpus is pinned, so a
verdict stays valid for as long as the rule keeps reporting that line. The message is not part
of the key: a rule change that rewords a message does not invalidate its triage.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("package", "version", "path", "line", "code", "verdict", "reason")
VERDICTS = ("TP", "FP")


@dataclass(frozen=True, order=True)
class Key:
    package: str
    version: str
    path: str
    line: int
    code: str


@dataclass(frozen=True)
class Verdict:
    verdict: str  # "TP", "FP" or "" (not yet triaged)
    reason: str
    source_line: int  # line in the triage file, for messages


class TriageError(ValueError):
    """A triage file that cannot be read; the message names the file and line."""


def read(path: Path) -> dict[Key, Verdict]:
    if not path.exists():
        return {}
    verdicts: dict[Key, Verdict] = {}
    problems = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#") or raw.split("\t", 1)[0] == COLUMNS[0]:
            continue
        fields = raw.split("\t")
        if len(fields) < len(COLUMNS) - 1 or len(fields) > len(COLUMNS):
            problems.append(f"{path}:{number}: expected {len(COLUMNS)} tab-separated fields "
                            f"({', '.join(COLUMNS)}), found {len(fields)}")
            continue
        package, version, file, line, code, verdict, *rest = fields
        if not line.isdigit():
            problems.append(f"{path}:{number}: line {line!r} is not a number")
            continue
        if verdict not in VERDICTS + ("",):
            problems.append(f"{path}:{number}: verdict {verdict!r} is not TP, FP or empty")
            continue
        reason = rest[0].strip() if rest else ""
        if verdict and not reason:
            problems.append(f"{path}:{number}: a {verdict} verdict needs a reason")
            continue
        key = Key(package, version, file, int(line), code)
        if key in verdicts:
            problems.append(f"{path}:{number}: duplicate of line {verdicts[key].source_line}")
            continue
        verdicts[key] = Verdict(verdict, reason, number)
    if problems:
        raise TriageError("\n".join(problems))
    return verdicts


def line_for(key: Key, verdict: str = "", reason: str = "") -> str:
    return "\t".join((key.package, key.version, key.path, str(key.line), key.code, verdict, reason))


def append_untriaged(path: Path, keys: list[Key]) -> None:
    """Add ``keys`` as lines with an empty verdict, to be filled in by hand."""
    new_file = not path.exists() or not path.read_text(encoding="utf-8").strip()
    with open(path, "a", encoding="utf-8") as handle:
        if new_file:
            handle.write("\t".join(COLUMNS) + "\n")
        for key in sorted(keys):
            handle.write(line_for(key) + "\n")


@dataclass
class Report:
    """A run's findings held against the triage file, for the packages that were run."""

    true_positives: list[Key]
    false_positives: list[Key]
    untriaged: list[Key]
    lost_true_positives: list[Key]  # triaged TP, no longer reported: a recall regression
    gone_false_positives: list[Key]  # triaged FP, no longer reported: fixed

    def precision_by_code(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
        for key in self.true_positives:
            counts[key.code][0] += 1
        for key in self.false_positives:
            counts[key.code][1] += 1
        return {code: (tp, fp) for code, (tp, fp) in sorted(counts.items())}


def compare(found: set[Key], verdicts: dict[Key, Verdict], packages_run: set[tuple[str, str]]
            ) -> Report:
    relevant = {key: v for key, v in verdicts.items() if (key.package, key.version) in packages_run}
    return Report(
        true_positives=sorted(k for k in found if relevant.get(k) and relevant[k].verdict == "TP"),
        false_positives=sorted(k for k in found if relevant.get(k) and relevant[k].verdict == "FP"),
        untriaged=sorted(k for k in found if k not in relevant or not relevant[k].verdict),
        lost_true_positives=sorted(k for k, v in relevant.items()
                                   if v.verdict == "TP" and k not in found),
        gone_false_positives=sorted(k for k, v in relevant.items()
                                    if v.verdict == "FP" and k not in found),
    )


def ratio(tp: int, fp: int) -> str:
    return f"{tp / (tp + fp):.0%}" if tp + fp else "n/a"


def stale(verdicts: dict[Key, Verdict], corpus: set[tuple[str, str]]) -> list[Key]:
    """Triage lines for a package or version no longer in the corpus (a pin was changed)."""
    return sorted(key for key in verdicts if (key.package, key.version) not in corpus)


def print_report(report: Report, verdicts: dict[Key, Verdict], messages: dict[Key, str],
                 stale_keys: list[Key]) -> None:
    tp, fp = len(report.true_positives), len(report.false_positives)
    print()
    print(f"precision over triaged findings: {ratio(tp, fp)} ({tp} TP, {fp} FP, "
          f"{len(report.untriaged)} not triaged)")
    print("| rule | TP | FP | precision |")
    print("|---|---|---|---|")
    for code, (code_tp, code_fp) in report.precision_by_code().items():
        print(f"| {code} | {code_tp} | {code_fp} | {ratio(code_tp, code_fp)} |")
    if report.untriaged:
        print(f"\n{len(report.untriaged)} findings not yet triaged (triage them in this change):")
        for key in report.untriaged:
            print(f"    {line_for(key)}  # {messages.get(key, '')}")
    if report.lost_true_positives:
        print(f"\n!!! RECALL REGRESSION: {len(report.lost_true_positives)} true positives are no "
              "longer reported:")
        for key in report.lost_true_positives:
            print(f"!!!     {line_for(key, verdicts[key].verdict, verdicts[key].reason)}")
    if report.gone_false_positives:
        print(f"\n{len(report.gone_false_positives)} false positives are gone (fixed; delete their "
              "lines from the triage file):")
        for key in report.gone_false_positives:
            print(f"    {line_for(key, verdicts[key].verdict, verdicts[key].reason)}")
    if stale_keys:
        print(f"\n{len(stale_keys)} triage lines name a package version that is not in the corpus "
              "(re-triage after changing a pin):")
        for key in stale_keys:
            print(f"    {line_for(key)}")
