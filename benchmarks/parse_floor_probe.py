"""CPU seconds parsing alone spends on some modules: the floor under any cold run.

Run by ``bench_flake8.py`` with the Python of its ``plugin`` environment (the Python and the
parse the plugin uses: ``ast.parse``, with a deeper stack for deeply nested code); reads file
paths, one a line, on stdin; prints one JSON object: ``{"modules": N, "seconds": S}``, S being
the least CPU of ``--repeats`` passes over all of them (a module that does not parse is counted
in neither: the index cannot have parsed it either).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

from flake8_flaskleak.source import SourceError, decode_source, parse_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    sources = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes in old modules
        for line in sys.stdin:
            path = line.rstrip("\n")
            if not path:
                continue
            try:
                with open(path, "rb") as handle:
                    text = decode_source(handle.read())
                parse_text(text, path)
            except (OSError, SourceError):
                continue
            sources.append((text, path))
        best = None
        for _ in range(max(1, arguments.repeats)):
            started = time.process_time()
            for text, path in sources:
                parse_text(text, path)
            spent = time.process_time() - started
            best = spent if best is None else min(best, spent)
    print(json.dumps({"modules": len(sources), "seconds": best or 0.0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
