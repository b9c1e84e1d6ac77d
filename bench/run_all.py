"""``make bench``: every benchmark, one JSON object per line on stdout, and docs/results.md.

Each benchmark is a module of this package with ``main(argv) -> int``; a
module that is missing or fails is reported as a JSON line with an error and
the run goes on, so one broken benchmark does not hide the others' figures.
The lines of each benchmark that succeeds are also kept in runs/bench/ with
the command, date and commit, and docs/results.md is rendered from all that
is kept there (bench.results): the one place the measured tables live.
``--only`` reruns some benchmarks and keeps the others' last figures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
import time
from pathlib import Path

from bench import results

BENCHMARKS = ("bench_decode", "bench_edge", "bench_dtw", "bench_fusion", "bench_adaptation", "bench_alternatives",
              "bench_references", "bench_learning_curve", "bench_complexity", "bench_accuracy",
              "bench_scores", "bench_replay", "bench_web", "bench_fleet")


class _Tee(io.StringIO):
    """stdout that is also kept: a benchmark's lines are printed as they come AND recorded."""

    def __init__(self, stream):
        super().__init__()
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(text)
        return super().write(text)

    def flush(self) -> None:
        self._stream.flush()


def run_one(name: str, argv: list[str]) -> tuple[int, list[dict]]:
    """(exit code, the JSON objects it printed) of one benchmark."""
    out = _Tee(sys.stdout)
    with contextlib.redirect_stdout(out):
        try:
            rc = importlib.import_module(f"bench.{name}").main(argv)
        except (Exception, SystemExit) as exc:  # report and go on: see the docstring
            print(json.dumps({"bench": name, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
            rc = 1
    return rc, [json.loads(ln) for ln in out.getvalue().splitlines() if ln.startswith("{")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="SVC2004 root (default: $SIGPAD_DATA or ../shared)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    parser.add_argument("--results", type=Path, default=None,
                        help="the generated tables (default docs/results.md)")
    parser.add_argument("--no-results", action="store_true",
                        help="print only: keep nothing in runs/bench, write no results file")
    args, rest = parser.parse_known_args(argv)
    command = " ".join(["python -m bench.run_all", *(sys.argv[1:] if argv is None else argv)])
    if args.data:  # every benchmark falls back on $SIGPAD_DATA for the dataset
        os.environ["SIGPAD_DATA"] = args.data
    failed = 0
    for name in args.only or BENCHMARKS:
        start = time.perf_counter()
        rc, lines = run_one(name, rest)
        failed += bool(rc)
        if rc == 0 and lines and not args.no_results:  # a failed run keeps the last good figures
            results.save(results.record(name, command, lines))
        print(f"{name}: {time.perf_counter() - start:.1f} s, exit {rc}", file=sys.stderr)
    if not args.no_results:
        print(f"wrote {results.write(args.results)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
