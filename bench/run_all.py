"""``make bench``: every benchmark, one JSON object per line on stdout.

Each benchmark is a module of this package with ``main(argv) -> int``; a
module that is missing or fails is reported as a JSON line with an error and
the run goes on, so one broken benchmark does not hide the others' figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

BENCHMARKS = ("bench_decode", "bench_edge", "bench_accuracy", "bench_scores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="SVC2004 root (default: $SIGPAD_DATA or ../shared)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    args, rest = parser.parse_known_args(argv)
    if args.data:  # every benchmark falls back on $SIGPAD_DATA for the dataset
        os.environ["SIGPAD_DATA"] = args.data
    failed = 0
    for name in args.only or BENCHMARKS:
        start = time.perf_counter()
        try:
            rc = importlib.import_module(f"bench.{name}").main(rest)
        except (Exception, SystemExit) as exc:  # report and go on: see the docstring
            print(json.dumps({"bench": name, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
            rc = 1
        failed += bool(rc)
        print(f"{name}: {time.perf_counter() - start:.1f} s, exit {rc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
