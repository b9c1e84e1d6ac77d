"""Edge benchmark: decision latency vs DTW, cold start, memory, size, error rates.

One JSON object per line on stdout, each with ``"bench": "edge"`` and a
``metric``:

* ``size`` - the model file and an int8 template, in bytes.
* ``latency`` - preprocess + int8 invoke + match against 5 int8 references,
  per signature (median, p99, ms), and the full ``Verifier.verify`` (store
  read, AES-GCM, replay checks, attempt logged) on a temporary store.
* ``dtw`` - the reference verifier (trainer/evaluation/dtw.py: dtaidistance's C DTW) on
  the same signatures and references, at the recorded 100 Hz and resampled to
  200 Hz, with the ratio DTW / model (the model resamples to 256 points, so
  its cost does not grow with the rate; DTW's grows with its square).
* ``cold_start`` - a fresh interpreter: imports + model load (in-process
  timer) and the whole process until ready (wall), plus resident memory
  (max RSS) after a decision, and whether TensorFlow was imported.
* ``installed_size`` - the site-packages size of the edge extra's dependency
  closure, measured from the installed distributions' file lists (no
  temporary venv is built).
* ``operating_point`` - FAR (skilled, random) and FRR at the model's shipped
  threshold: on SVC2004 Task2 under the trainer's protocol (5 references from
  S1-S10, 10 trials per user) - on the users the manifest's training users
  leave out, or, when the model was trained on all of them, on all users and
  labelled optimistic - and on synthetic writers no model was trained on.
  The trainer's own held-out (cross-validated) metrics are echoed from the
  manifest as ``cv_metrics``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edge.model import Encoder, shipped_model_dir
from edge.preprocess import preprocess
from edge.scores import MeanCosine, ZnormMeanCosine
from edge.scores import score as edge_score
from edge.templates import dequantize_many, quantize
from firmware_bridge import svc2004
from firmware_bridge.signature import Signature

def edge_requirements() -> list[str]:
    """What `pip install sigpad[edge]` pulls in directly, from pyproject.toml."""
    import tomllib
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["edge"])


def emit(metric: str, **fields) -> dict:
    row = {"bench": "edge", "metric": metric, **fields}
    print(json.dumps(row), flush=True)
    return row


def pct(values, q) -> float:
    return round(float(np.percentile(values, q)), 4)


def load_users(task2: Path, users) -> dict:
    out = {}
    for u in users:
        try:
            out[u] = {s: svc2004.read(task2 / f"U{u}S{s}.TXT") for s in range(1, 41)}
        except Exception:
            continue  # a user with an unreadable file is left out
    return out


def resample(sig: Signature, rate_hz: float) -> Signature:
    """The signature sampled at ``rate_hz`` (pen-down samples, linear interpolation)."""
    d = sig.pen_down
    t = sig.t_ms[d]
    keep = np.r_[True, np.diff(t) > 0]
    t = t[keep]
    grid = np.arange(t[0], t[-1], 1000.0 / rate_hz)
    f = lambda v: np.interp(grid, t, v[d][keep])
    return Signature.create(grid, f(sig.x), f(sig.y), None,
                            None if sig.pressure is None else f(sig.pressure))


def model_latency(encoder: Encoder, data: dict, n: int) -> tuple[list, list]:
    """(per-decision ms, the (refs, test) pairs used) for preprocess + invoke + match."""
    pairs, times = [], []
    users = list(data)
    for k in range(n):
        u = users[k % len(users)]
        refs = [data[u][s] for s in range(1, 6)]
        test = data[u][6 + (k // len(users)) % 15 if k % 2 == 0 else 21 + (k // len(users)) % 20]
        pairs.append((refs, test))
    cache = {}
    for refs, test in pairs:
        key = id(refs[0])
        if key not in cache:  # enrolment happens once, before: templates are stored int8
            cache[key] = dequantize_many([quantize(e) for e in encoder.embed_many(refs)])
        t0 = time.perf_counter_ns()
        x = preprocess(test, encoder.preprocessing)
        e = encoder.embed_inputs(x)[0]
        edge_score(MeanCosine.name, cache[key], e, {})
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return times, pairs


def dtw_latency(pairs, rate_hz: float | None) -> list | None:
    try:
        from dtaidistance import dtw_ndim
        from trainer.evaluation.dtw import dtw_features
    except ImportError:
        return None
    times, cache = [], {}
    for refs, test in pairs:
        if rate_hz:
            refs = cache.setdefault(id(refs[0]), [resample(r, rate_hz) for r in refs])
            test = resample(test, rate_hz)
        feats = [dtw_features(r) for r in refs]  # enrolment: computed once in practice
        t0 = time.perf_counter_ns()
        ft = dtw_features(test)
        np.mean([dtw_ndim.distance_fast(ft, fr) / (len(ft) + len(fr)) for fr in feats])
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return times


def verify_latency(model_dir: Path, data: dict, n: int) -> list:
    import tempfile
    from edge.settings import Settings
    from edge.verifier import open_verifier
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(store=Path(tmp) / "t.db", model=model_dir, lockout_after=0)
        with open_verifier(cfg) as v:
            users = list(data)[:10]
            for u in users:
                v.enrol(f"u{u}", [data[u][s] for s in range(1, 6)])
            for k in range(n):
                u = users[k % len(users)]
                d = v.verify(f"u{u}", data[u][6 + (k // len(users)) % 15])
                times.append(d.latency_ms)
    return times


COLD = """
import time, resource, sys
t0 = time.perf_counter()
from edge.model import Encoder
from edge.verifier import Verifier
enc = Encoder(sys.argv[1])
t1 = time.perf_counter()
import numpy as np
enc.embed_inputs(np.zeros(enc.manifest.input_shape[1:], np.float32))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(t1 - t0, rss, "tensorflow" in sys.modules)
"""


def cold_start(model_dir: Path) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", COLD, str(model_dir)], capture_output=True, text=True,
                       timeout=120, cwd=Path(__file__).resolve().parent.parent)
    wall = time.perf_counter() - t0
    inproc, rss, tf = r.stdout.split()
    return {"imports_and_load_s": round(float(inproc), 3), "process_wall_s": round(wall, 3),
            "max_rss_mb": round(float(rss), 1), "tensorflow_imported": tf == "True"}


def installed_size(requirements: list[str] | None = None) -> dict:
    """Installed MB of ``requirements`` (default: the core and edge ones) and their dependencies."""
    from importlib import metadata
    import re
    seen, sizes, todo = set(), {}, list(requirements or edge_requirements())
    while todo:
        name = re.split(r"[ ;<>=!~\[]", todo.pop())[0].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        total = 0
        for f in dist.files or []:
            try:
                total += os.path.getsize(f.locate())
            except OSError:
                pass
        sizes[name] = round(total / 2**20, 1)
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(req)
    return {"total_mb": round(sum(sizes.values()), 1), "packages_mb": sizes,
            "method": "sum of installed files of the edge extra's dependency closure (no venv built)"}


def operating_point(encoder: Encoder, data: dict, users: list[int], trials: int = 10) -> dict:
    """FAR and FRR at the manifest's threshold, under the harness's own trials
    (trainer.evaluation.trials) and scoring (trainer.evaluation.evaluate), with int8 templates."""
    from firmware_bridge.svc2004 import UserFiles
    from trainer.evaluation.evaluate import EmbeddingScorer, score_trials
    from trainer.evaluation.metrics import rates_at
    from trainer.evaluation.trials import make_trials

    thr = encoder.manifest.threshold
    emb = {(u, s): e for u in users for s, e in
           zip(range(1, 41), dequantize_many([quantize(x) for x in
                                              encoder.embed_many([data[u][s] for s in range(1, 41)])]))}
    index = {u: UserFiles(u, {s: None for s in range(1, 21)}, {s: None for s in range(21, 41)})
             for u in users}
    scores = score_trials(make_trials(index, trials=trials), EmbeddingScorer(emb, encoder.manifest.score))
    gen, skl, rnd = (np.concatenate(list(scores[k].values())) for k in ("genuine", "skilled", "random"))
    far_skilled, frr = rates_at(gen, skl, thr)
    far_random, _ = rates_at(gen, rnd, thr)
    return {"threshold": thr, "users": users, "frr_pct": round(100 * frr, 2),
            "far_skilled_pct": round(100 * far_skilled, 2), "far_random_pct": round(100 * far_random, 2),
            "genuine": len(gen), "skilled": len(skl), "random": len(rnd)}


def seen_users(encoder: Encoder) -> set[int] | None:
    """SVC2004 users the model was trained on, from its manifest (None: not stated)."""
    training = encoder.manifest.extra.get("training")
    spec = training.get("users") if isinstance(training, dict) else None
    if not spec:
        return None
    from trainer.evaluation.trials import parse_users  # bench runs on the workstation
    return parse_users(str(spec))


def operating_point_synthetic(encoder: Encoder, writers: int = 30) -> dict:
    """FAR/FRR at the shipped threshold on synthetic writers no model was trained on."""
    from firmware_bridge import synthetic
    from edge.app.demo import UNSEEN_SEED_BASE
    thr = encoder.manifest.threshold
    refs, gen, skl = {}, {}, {}
    for w in range(writers):
        wr = synthetic.make_writer(UNSEEN_SEED_BASE + 1000 + w)
        e = dequantize_many([quantize(x) for x in encoder.embed_many(
            [wr.genuine(i) for i in range(15)] + [wr.forgery(i) for i in range(10)])])
        refs[w], gen[w], skl[w] = e[:5], e[5:15], e[15:]
    g = [edge_score(MeanCosine.name, refs[w], t, {}) for w in refs for t in gen[w]]
    s = [edge_score(MeanCosine.name, refs[w], t, {}) for w in refs for t in skl[w]]
    r = [edge_score(MeanCosine.name, refs[w], gen[v][0], {}) for w in refs for v in refs if v != w]
    compare_scores(refs, gen, skl)
    return {"threshold": thr, "writers": writers, "frr_pct": round(100 * float(np.mean(np.array(g) < thr)), 2),
            "far_skilled_pct": round(100 * float(np.mean(np.array(s) >= thr)), 2),
            "far_random_pct": round(100 * float(np.mean(np.array(r) >= thr)), 2),
            "genuine": len(g), "skilled": len(s), "random": len(r),
            "protocol": "refs genuine(0-4), tests genuine(5-14), skilled forgery(0-9), random: other writers"}


def compare_scores(refs: dict, gen: dict, skl: dict) -> None:
    """Global-threshold EERs of mean-cosine and znorm-mean-cosine on the same trials."""
    from edge.scores import score, user_stats
    from trainer.evaluation import metrics
    for name in (MeanCosine.name, ZnormMeanCosine.name):
        out = {"genuine": [], "skilled": [], "random": []}
        for w in refs:
            st = user_stats(refs[w])
            out["genuine"] += [score(name, refs[w], t, st) for t in gen[w]]
            out["skilled"] += [score(name, refs[w], t, st) for t in skl[w]]
            out["random"] += [score(name, refs[w], gen[v][0], st) for v in refs if v != w]
        g = np.array(out["genuine"])
        es, ts = metrics.eer(g, np.array(out["skilled"]))
        er, _ = metrics.eer(g, np.array(out["random"]))
        emit("score_comparison", data="synthetic writers never used in training", score=name,
             eer_skilled_pct=round(100 * es, 2), eer_random_pct=round(100 * er, 2),
             threshold_eer_skilled=round(float(ts), 4))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_edge", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task2/ inside)")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: shipped)")
    p.add_argument("-n", type=int, default=400, help="decisions timed")
    args = p.parse_args(argv)
    model_dir = args.model or shipped_model_dir(True)
    root = args.data or svc2004.default_data_root()
    task2 = root / "Task2" if (root / "Task2").is_dir() else root
    encoder = Encoder(model_dir, num_threads=1)
    data = load_users(task2, range(1, 41))
    emit("model", model=str(model_dir), sha256=encoder.manifest.sha256, backend=encoder.backend,
         threshold=encoder.manifest.threshold, score=encoder.manifest.score)
    # an int8 template is one byte per embedding dimension
    emit("size", model_bytes=(model_dir / encoder.manifest.model_file).stat().st_size,
         template_bytes=encoder.manifest.embedding_dim, target_model_bytes=100_000, target_template_bytes=80)
    times, pairs = model_latency(encoder, data, args.n)
    model_med = float(np.median(times))
    emit("latency", what="preprocess+invoke+match", n=len(times), median_ms=pct(times, 50),
         p99_ms=pct(times, 99), target_median_ms=1.0, ok=model_med <= 1.0)
    full = verify_latency(model_dir, data, min(args.n, 200))
    emit("latency", what="Verifier.verify (store, AES-GCM, replay checks, attempt logged)",
         n=len(full), median_ms=pct(full, 50), p99_ms=pct(full, 99))
    for rate in (None, 200.0):
        dtw = dtw_latency(pairs[: min(len(pairs), 200)], rate)
        if dtw is None:
            emit("dtw", skipped="dtaidistance not installed (the train extra)")
            break
        sub = times[: len(dtw)]
        emit("dtw", rate_hz=rate or 100, n=len(dtw), dtw_median_ms=pct(dtw, 50), dtw_p99_ms=pct(dtw, 99),
             model_median_ms=pct(sub, 50), ratio=round(float(np.median(dtw) / np.median(sub)), 2),
             target_ratio=3.0)
    emit("cold_start", **cold_start(model_dir), target_s=1.0, target_rss_mb=100)
    emit("installed_size", **installed_size(), target_mb=200)
    seen = seen_users(encoder)
    unseen = sorted(u for u in data if seen is not None and u not in seen)
    if unseen:
        emit("operating_point", data="SVC2004 Task2, users the model never saw",
             **operating_point(encoder, data, unseen))
    else:
        emit("operating_point", data="SVC2004 Task2, all users: " + (
                 "the manifest does not say which were seen" if seen is None
                 else "all seen in training (optimistic)"),
             training_users=encoder.manifest.extra.get("training", {}).get("users"),
             **operating_point(encoder, data, sorted(data)))
    emit("operating_point", data="synthetic writers never used in training",
         **operating_point_synthetic(encoder))
    if "metrics" in encoder.manifest.extra:
        emit("cv_metrics", source="manifest (trainer's 5-fold held-out users)",
             metrics=encoder.manifest.extra["metrics"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
