"""Replay detection on SVC2004: genuine second signatures passed, disguised replays refused.

    python -m bench.bench_replay [--data ../shared/data/svc2004] [--users 1-30]

For Task1 and Task2, users 1-30, the 20 genuine signatures of each writer:

* every pair of two genuine signatures of one writer (190 a writer): is either
  refused as a replay of the other by the verifier's rule (``edge.replay``:
  an embedding cosine >= the replay limit with the shipped model, or the
  shape measure, ``edge.replay_shape``)? Target: none. ``SHAPE_LIMIT`` was
  placed on these pairs alone.
* every genuine signature sent again disguised (``bench.replay_transforms``:
  every 10th sample dropped, decimated to 50 Hz, time x1.05 and x1.2
  resampled at 100 Hz, rotated 3 degrees, and - issue #23 - re-timed
  unevenly, stretches of 150-600 ms each played at 0.7-1.4x, three times
  each): is it refused, by kind? Target: all. The timed trace measure that
  the shape replaced is reported beside it (``trace_refused``: what the rule
  refused before).
* the cost of the path check against a history of 200 accepted attempts,
  shape and timed trace, and the bytes each keeps per attempt.

Paths are compared as the store keeps them (``to_bytes``). One JSON line per
task and one for the cost; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.replay_transforms import TRANSFORMS, uneven
from edge.model import Encoder, shipped_model_dir
from edge.replay import PRUNE, TRACE_LIMIT, Trace, trace, trace_distances
from edge.replay_shape import SHAPE_LIMIT, Shape, shape, shape_distances
from edge.settings import Settings
from edge.templates import dequantize_many, quantize
from firmware_bridge import svc2004

GENUINE = range(1, 21)
UNEVEN = "re-timed unevenly (0.7-1.4x)"
WITHIN = PRUNE * SHAPE_LIMIT   # the rule's own pruning (edge.replay)


def kept_shape(sig) -> Shape:
    return Shape.from_bytes(shape(sig).to_bytes())


def kept_trace(sig) -> Trace:
    return Trace.from_bytes(trace(sig).to_bytes())


def user_pairs(sigs: list, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The writer's genuine pairs: nearest shape distance (either way) and cosine."""
    shapes = [kept_shape(s) for s in sigs]
    dist = np.array([shape_distances(shape(s), shapes) for s in sigs])
    np.fill_diagonal(dist, np.inf)
    dist = np.minimum(dist, dist.T)                      # a pair is refused if either way is
    cos = embeddings @ embeddings.T
    upper = np.triu_indices(len(sigs), 1)
    return dist[upper], cos[upper]


def disguised(sigs: list, first_index: int) -> dict[str, tuple[list[float], list[float]]]:
    """Each transform of each signature: its shape and trace distances to the original."""
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in [*TRANSFORMS, UNEVEN]}
    for k, s in enumerate(sigs):
        replays = [(name, f(s)) for name, f in TRANSFORMS.items()]
        replays += [(UNEVEN, r) for r in uneven(s, first_index + k)]
        original_shape, original_trace = kept_shape(s), kept_trace(s)
        for name, r in replays:
            out[name][0].append(float(shape_distances(shape(r), [original_shape], within=WITHIN)[0]))
            out[name][1].append(float(trace_distances(trace(r), [original_trace])[0]))
    return out


def bench_task(root: Path, task: str, users: list[int]) -> dict:
    encoder = Encoder(shipped_model_dir(task != "Task1"))
    limit = Settings().replay_cosine
    shape_d, cosines = [], []
    kinds: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in [*TRANSFORMS, UNEVEN]}
    for u in users:
        sigs = [svc2004.read(root / task / f"U{u}S{k}.TXT") for k in GENUINE]
        emb = dequantize_many([quantize(e) for e in encoder.embed_many(sigs)])
        d, c = user_pairs(sigs, emb)
        shape_d.append(d)
        cosines.append(c)
        for name, (ds, dt) in disguised(sigs, 100 * u).items():
            kinds[name][0].extend(ds)
            kinds[name][1].extend(dt)
    d, c = np.concatenate(shape_d), np.concatenate(cosines)
    refused = int(np.sum((d <= SHAPE_LIMIT) | (c >= limit)))
    return {"bench": "replay", "task": task, "users": f"{users[0]}-{users[-1]}", "genuine_pairs": len(d),
            "genuine_refused_as_replay": refused, "genuine_refusal_rate": refused / len(d),
            "target_genuine_refusal_rate": 0.0, "meets_target": refused == 0,
            "shape_limit": SHAPE_LIMIT, "trace_limit": TRACE_LIMIT, "cosine_limit": limit,
            "genuine_nearest_shape_distance": round(float(d.min()), 5),
            "genuine_shape_distance_p1": round(float(np.percentile(d, 1)), 5),
            "genuine_highest_cosine": round(float(c.max()), 5),
            "transforms": {name: _refused(ds, dt) for name, (ds, dt) in kinds.items()},
            "all_transforms_refused": all(np.all(np.asarray(ds) <= SHAPE_LIMIT) for ds, _ in kinds.values())}


def _refused(shape_d: list[float], trace_d: list[float]) -> dict:
    ds, dt = np.asarray(shape_d), np.asarray(trace_d)
    return {"refused": int(np.sum(ds <= SHAPE_LIMIT)), "of": len(ds),
            "largest_shape_distance": round(float(ds.max()), 5),
            "trace_refused": int(np.sum(dt <= TRACE_LIMIT))}


def bench_cost(root: Path, history: int = 200, repeat: int = 40) -> dict:
    """Milliseconds to check one attempt's path against ``history`` kept ones, and the bytes kept.

    Two histories: ``history`` signatures of other writers (Task2 users 1-10,
    as the figure before) and the test writer's 19 other signatures kept 10
    times each (a user's history is their own; most of it passes the coarse
    stage). The measures are timed interleaved, so a busy machine slows all alike.
    """
    sigs = [svc2004.read(root / "Task2" / f"U{u}S{k}.TXT") for u in range(1, 31) for k in GENUINE]
    test, own = sigs[-1], sigs[-20:-1] * 10
    histories = {"others": sigs[:history], "same_writer": own}
    shapes = {k: [kept_shape(s) for s in v] for k, v in histories.items()}
    traces = {k: [kept_trace(s) for s in v] for k, v in histories.items()}
    measures = {f"shape_{k}": (lambda k=k: shape_distances(shape(test), shapes[k], within=WITHIN))
                for k in histories}
    measures.update({f"trace_{k}": (lambda k=k: trace_distances(trace(test), traces[k])) for k in histories})
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, measure in measures.items():
            t0 = time.perf_counter()
            measure()
            times[name].append((time.perf_counter() - t0) * 1000)
    out: dict = {"bench": "replay_cost", "history": history, "same_writer_history": len(own)}
    out.update({f"{name}_median_ms": round(float(np.median(t)), 2) for name, t in times.items()})
    out["shape_bytes_per_attempt"] = len(shape(test).to_bytes())
    out["trace_bytes_per_attempt_median"] = int(np.median([len(trace(s).to_bytes()) for s in sigs]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_replay", description=(__doc__ or "").splitlines()[0],
                                 allow_abbrev=False)
    ap.add_argument("--data", default=None, help="SVC2004 root (default: $SIGPAD_DATA or ../shared)")
    ap.add_argument("--users", default="1-30", help="user range, e.g. 1-30")
    args = ap.parse_args(argv)
    root = svc2004.default_data_root() if args.data is None else Path(args.data)
    lo, hi = (int(v) for v in args.users.split("-"))
    for task in ("Task1", "Task2"):
        print(json.dumps(bench_task(root, task, list(range(lo, hi + 1)))), flush=True)
    print(json.dumps(bench_cost(root)), flush=True)
    return 0


if __name__ == "__main__":
    main()
