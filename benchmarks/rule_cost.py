"""What each rule adds to the plugin's CPU cost, in one process, on the corpus's Flask files.

    python benchmarks/rule_cost.py [--only NAME ...] [--rules FLK205,FLK206] [--rounds 3]
                                   [--flake8]

For every file that imports Flask (the files ``bench_flake8.py`` measures), after one warm-up
pass that builds the project indexes and imports every rule, each round times, in CPU seconds:

* ``ast.parse`` of the text (the tree flake8 hands to the plugin);
* the plugin as flake8 runs it (``engine.analyse`` with every rule) on a fresh tree, and inside
  it each rule's ``check()``. The rules named by ``--rules`` run last, so the parts of the model
  the other rules share are already built when they run: their time is what they add
  (their marginal cost, including the model parts only they ask for);
* the plugin without the rules named by ``--rules``: the difference from the plugin with every
  rule also counts what they cost outside ``check()`` (their text gates, the model built for a
  file only they apply to).

The minimum of each sum over the rounds is kept (the least noisy estimate on a shared machine).
With ``--flake8``, flake8 alone (its own ``FileChecker`` with every installed checker but this
plugin, as ``per_file_probe.py`` measures it) is timed once per file, and every figure is also
given in points of flake8's CPU: the unit of the speed goal.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import corpus

from flake8_flaskleak import engine
from flake8_flaskleak.engine import ALL_RULES
from flake8_flaskleak.options import Options


def cpu(function) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def flake8_alone(paths: list[Path]) -> float:
    from flake8.checker import FileChecker
    from flake8.options.parse_args import parse_args
    from flake8.plugins.finder import Checkers

    plugins, options = parse_args(["--isolated"])
    checkers = plugins.checkers
    alone = Checkers(
        tree=[p for p in checkers.tree if p.plugin.package != "flake8-flaskleak"],
        logical_line=list(checkers.logical_line),
        physical_line=list(checkers.physical_line),
    )
    return sum(
        cpu(lambda path=path: FileChecker(
            filename=str(path), plugins=alone, options=options).run_checks())
        for path in paths
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--rules", default="", help="codes whose marginal cost to measure")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flake8", action="store_true", help="also time flake8 alone")
    parser.add_argument("--cache", type=Path, default=corpus.DEFAULT_CACHE)
    args = parser.parse_args()
    packages = [p for p in corpus.PACKAGES if not args.only or p.name in args.only]
    paths = [
        path
        for package in packages
        for path in corpus.flask_files(corpus.fetch(package.name, package.version, args.cache))
    ]
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in paths}
    wanted = [code for code in args.rules.split(",") if code]
    measured = [rule for rule in ALL_RULES if rule.code in wanted]
    options = Options()

    others = [rule for rule in ALL_RULES if rule not in measured]
    ordered = others + measured  # the measured rules find the shared model already built
    spent: dict[str, float] = {}
    run_rule = engine._run_rule

    def timed_rule(rule, model):
        started = time.process_time()
        try:
            return run_rule(rule, model)
        finally:
            spent[rule.code] = spent.get(rule.code, 0.0) + time.process_time() - started

    def run(rules=ordered) -> float:
        total = 0.0
        for path, text in texts.items():
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            total += cpu(lambda: engine.analyse(tree, text, str(path), options, rules))
        return total

    def parse_all() -> float:
        total = 0.0
        for text in texts.values():
            try:
                total += cpu(lambda: ast.parse(text))
            except (SyntaxError, ValueError):
                pass
        return total

    engine._run_rule = timed_rule
    run()  # warm-up: project indexes, imports, the regular-expression caches
    best: dict[str, float] = {}
    for _ in range(max(1, args.rounds)):
        spent.clear()
        figures = {"ast.parse": parse_all(), "plugin": run()}
        if measured:
            figures["without"] = run(others)
        figures.update({rule.code: spent.get(rule.code, 0.0) for rule in measured})
        for name, value in figures.items():
            best[name] = min(best.get(name, value), value)
    engine._run_rule = run_rule
    reference = flake8_alone(paths) if args.flake8 else None

    print(f"{len(texts)} files, {sum(t.count(chr(10)) for t in texts.values())} lines, "
          f"min of {args.rounds} rounds (CPU seconds)")
    print("| figure | CPU s | / ast.parse |" + (" points of flake8 |" if reference else ""))
    print("|---|---|---|" + ("---|" if reference else ""))
    rows = [("ast.parse", best["ast.parse"]), ("plugin, every rule", best["plugin"])]
    if reference:
        rows.insert(0, ("flake8 alone", reference))
    rows += [(f"{rule.code} check()", best[rule.code]) for rule in measured]
    if measured:
        rows.append(("plugin without them", best["without"]))
        rows.append(("difference", best["plugin"] - best["without"]))
    for name, value in rows:
        line = f"| {name} | {value:.3f} | {value / best['ast.parse']:.3f} |"
        if reference:
            line += f" {100 * value / reference:.2f} |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
