"""Replay detection on SVC2004: genuine second signatures passed, disguised replays refused.

    python -m bench.bench_replay [--data ../shared/data/svc2004] [--users 1-30]

For Task1 and Task2, users 1-30, the 20 genuine signatures of each writer:

* every pair of two genuine signatures of one writer (190 a writer): is either
  refused as a replay of the other by the verifier's rule (``edge.replay``:
  the same stream, an embedding cosine >= the replay limit with the shipped
  model, or the trace measure)? Target: none.
* every genuine signature sent again disguised (``bench.replay_transforms``:
  every 10th sample dropped, decimated to 50 Hz, time x1.05 and x1.2
  resampled at 100 Hz, rotated 3 degrees): is it refused? Target: all.
* the cost of the trace check against a history of 200 accepted attempts.

Traces are compared as the store keeps them (``Trace.to_bytes``). One JSON
line per task and one for the timing; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.replay_transforms import TRANSFORMS
from edge.model import Encoder, shipped_model_dir
from edge.replay import TRACE_LIMIT, Trace, trace, trace_distances
from edge.settings import Settings
from edge.templates import dequantize_many, quantize
from firmware_bridge import svc2004

GENUINE = range(1, 21)


def stored(sig) -> Trace:
    return Trace.from_bytes(trace(sig).to_bytes())


def user_pairs(sigs: list, embeddings: np.ndarray, cosine_limit: float) -> dict:
    """The writer's genuine pairs: nearest trace distance and cosine, and what is refused."""
    paths = [stored(s) for s in sigs]
    dist = np.array([trace_distances(paths[i], paths) for i in range(len(paths))])
    np.fill_diagonal(dist, np.inf)
    dist = np.minimum(dist, dist.T)                      # a pair is refused if either way is
    cos = embeddings @ embeddings.T
    np.fill_diagonal(cos, -1.0)
    upper = np.triu_indices(len(sigs), 1)
    return {"pairs": len(upper[0]), "trace": dist[upper], "cosine": cos[upper],
            "refused_trace": int(np.sum(dist[upper] <= TRACE_LIMIT)),
            "refused_cosine": int(np.sum(cos[upper] >= cosine_limit))}


def disguised(sigs: list) -> dict[str, np.ndarray]:
    """Each transform of each signature: its trace distance to the original."""
    out = {}
    for name, transform in TRANSFORMS.items():
        out[name] = np.array([trace_distances(trace(transform(s)), [stored(s)])[0] for s in sigs])
    return out


def bench_task(root, task: str, users: list[int]) -> dict:
    has_pressure = task != "Task1"
    encoder = Encoder(shipped_model_dir(has_pressure))
    limit = Settings().replay_cosine
    pairs, refused, both, trace_d, cosines, transforms = 0, 0, 0, [], [], {n: [] for n in TRANSFORMS}
    for u in users:
        sigs = [svc2004.read(root / task / f"U{u}S{k}.TXT") for k in GENUINE]
        emb = dequantize_many([quantize(e) for e in encoder.embed_many(sigs)])
        r = user_pairs(sigs, emb, limit)
        pairs += r["pairs"]
        refused += int(np.sum((r["trace"] <= TRACE_LIMIT) | (r["cosine"] >= limit)))
        both += r["refused_trace"] + r["refused_cosine"]
        trace_d.append(r["trace"])
        cosines.append(r["cosine"])
        for name, d in disguised(sigs).items():
            transforms[name].append(d)
    trace_d, cosines = np.concatenate(trace_d), np.concatenate(cosines)
    return {"bench": "replay", "task": task, "users": f"{users[0]}-{users[-1]}", "genuine_pairs": pairs,
            "genuine_refused_as_replay": refused, "genuine_refusal_rate": refused / pairs,
            "target_genuine_refusal_rate": 0.0, "meets_target": refused == 0,
            "trace_limit": TRACE_LIMIT, "cosine_limit": limit,
            "genuine_nearest_trace_distance": round(float(trace_d.min()), 5),
            "genuine_trace_distance_p1": round(float(np.percentile(trace_d, 1)), 5),
            "genuine_highest_cosine": round(float(cosines.max()), 5),
            "transforms": {name: {"refused": int(np.sum(np.concatenate(d) <= TRACE_LIMIT)),
                                  "of": int(sum(len(x) for x in d)),
                                  "largest_trace_distance": round(float(np.concatenate(d).max()), 5)}
                           for name, d in transforms.items()},
            "all_transforms_refused": all(bool(np.all(np.concatenate(d) <= TRACE_LIMIT))
                                          for d in transforms.values())}


def bench_cost(root, history: int = 200, repeat: int = 20) -> dict:
    """Milliseconds to check one attempt's trace against ``history`` kept traces."""
    sigs = [svc2004.read(root / "Task2" / f"U{u}S{k}.TXT") for u in range(1, 31) for k in GENUINE]
    paths = [stored(s) for s in sigs[:history]]
    test = trace(sigs[-1])
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        trace_distances(test, paths)
        times.append((time.perf_counter() - t0) * 1000)
    return {"bench": "replay_cost", "history": len(paths), "median_ms": round(float(np.median(times)), 2),
            "max_ms": round(float(np.max(times)), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_replay", description=__doc__.splitlines()[0],
                                 allow_abbrev=False)
    ap.add_argument("--data", default=None, help="SVC2004 root (default: $SIGPAD_DATA or ../shared)")
    ap.add_argument("--users", default="1-30", help="user range, e.g. 1-30")
    args = ap.parse_args(argv)
    root = svc2004.default_data_root() if args.data is None else __import__("pathlib").Path(args.data)
    lo, hi = (int(v) for v in args.users.split("-"))
    for task in ("Task1", "Task2"):
        print(json.dumps(bench_task(root, task, list(range(lo, hi + 1)))), flush=True)
    print(json.dumps(bench_cost(root)), flush=True)
    return 0


if __name__ == "__main__":
    main()
