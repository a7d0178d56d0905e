"""Per-file CPU cost of flake8 alone and of the plugin, measured in one process.

Run by ``bench_flake8.py --per-file`` with the Python of its ``plugin`` environment (flake8 and
this project installed); reads file paths, one a line, on stdin; prints one JSON object a line:
``{"path", "lines", "flake8", "plugin"}`` (seconds of CPU).

* flake8 alone: flake8's own ``FileChecker`` for the file with every installed checker but this
  plugin (read, tokenize, parse, pyflakes, pycodestyle): what ``flake8`` spends on the file.
* the plugin: ``FlaskLeakChecker`` called as flake8 calls it (same parameters, flake8's tree),
  all of its findings drawn.

Both are repeated, alternating (flake8 only while it has spent under 5 s on the file), and the
minimum is kept: the least noisy estimate on a busy
machine, and it leaves out one-time costs that a whole run shares among all its files (importing
the rule modules, building a project's index), which the whole-run figures measure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from flake8.checker import FileChecker
from flake8.options.parse_args import parse_args
from flake8.plugins.finder import Checkers
from flake8.processor import FileProcessor

PLUGIN_PACKAGE = "flake8-flaskleak"
FLAKE8_ENOUGH = 5.0  # seconds of flake8 on one file after which it is not repeated


def cpu_seconds(function) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    plugins, options = parse_args(["--isolated"])
    checkers = plugins.checkers
    ours = [plugin for plugin in checkers.tree if plugin.plugin.package == PLUGIN_PACKAGE]
    if len(ours) != 1:
        print(f"per_file_probe: {PLUGIN_PACKAGE} is not installed here", file=sys.stderr)
        return 2
    plugin = ours[0]
    alone = Checkers(
        tree=[p for p in checkers.tree if p is not plugin],
        logical_line=list(checkers.logical_line),
        physical_line=list(checkers.physical_line),
    )
    paths = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    for number, path in enumerate(paths, 1):
        processor = FileProcessor(path, options)
        tree = None  # where flake8 runs no plugin, the plugin costs nothing
        if not processor.should_ignore_file():  # a file-wide `# flake8: noqa` skips every check
            try:
                tree = processor.build_ast()
            except (SyntaxError, ValueError):
                pass  # flake8 reports E999 and runs no AST plugin
        parameters = processor.keyword_arguments_for(plugin.parameters, {"tree": tree})

        def run_flake8() -> None:
            FileChecker(filename=path, plugins=alone, options=options).run_checks()

        def run_plugin() -> None:
            if tree is not None:
                for _ in plugin.obj(tree=tree, **parameters).run():
                    pass

        flake8_times, plugin_times = [], []
        for _ in range(max(1, arguments.repeats)):
            # flake8 alone has no one-time cost to leave out: on a huge file, one run is enough.
            if sum(flake8_times) < FLAKE8_ENOUGH:
                flake8_times.append(cpu_seconds(run_flake8))
            plugin_times.append(cpu_seconds(run_plugin))
        record = {"path": path, "lines": len(processor.lines),
                  "flake8": min(flake8_times), "plugin": min(plugin_times)}
        print(json.dumps(record), flush=True)
        if number % 50 == 0 or number == len(paths):
            print(f"  per-file: {number}/{len(paths)} files", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
