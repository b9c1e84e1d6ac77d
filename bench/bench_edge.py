"""Edge benchmark: decision latency vs DTW, cold start, memory, size, error rates.

One JSON object per line on stdout, each with ``"bench": "edge"`` and a
``metric``:

* ``size`` - the model file and an int8 template, in bytes.
* ``latency`` - preprocess + int8 invoke + the shipped decision (its DTW too)
  against 5 int8 references, and its ratio to the cosine alone,
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
from edge.scores import CentroidMaxCosine, get
from edge.settings import Settings
from edge.templates import dequantize_many, quantize
from firmware_bridge import svc2004
from firmware_bridge.signature import Signature

REFERENCES = Settings().enrol_count
"""The references a user enrols with by default: what the latencies are measured against."""


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

    def f(v):
        return np.interp(grid, t, v[d][keep])
    return Signature.create(grid, f(sig.x), f(sig.y), None,
                            None if sig.pressure is None else f(sig.pressure))


def model_latency(encoder: Encoder, data: dict, n: int, score=None,
                  refs_per_user: int = REFERENCES) -> tuple[list, list]:
    """(per-decision ms, the (refs, test) pairs used) for preprocess + invoke +
    the decision's score (with its DTW sequence and learned features where it has
    them), against ``refs_per_user`` references (S1 on) stored as at enrolment (int8
    embeddings and sequences); the tests: the other genuine signatures and the forgeries."""
    from edge import dtw, learned_dtw
    from edge.scores import Probe, References, reference_stats

    score = score or encoder.manifest.decision_score()
    cfg, lcfg = score.dtw, score.learned
    pairs, times = [], []
    users = list(data)
    first, others = refs_per_user + 1, 20 - refs_per_user
    for k in range(n):
        u = users[k % len(users)]
        refs = [data[u][s] for s in range(1, first)]
        test = data[u][first + (k // len(users)) % others if k % 2 == 0 else 21 + (k // len(users)) % 20]
        pairs.append((refs, test))
    cache = {}
    for refs, test in pairs:
        key = id(refs[0])
        if key not in cache:  # enrolment happens once, before: templates are stored int8
            encoded = encoder.encode_many(refs)
            emb = dequantize_many([quantize(e) for e in encoded.embedding])
            seqs = np.stack([dtw.quantized(r, cfg) for r in refs]) if cfg else None
            learned = None if encoded.learned is None or lcfg is None else \
                np.stack([learned_dtw.quantized(f, lcfg) for f in encoded.learned])
            cache[key] = References(emb, reference_stats(emb, seqs, cfg, learned, lcfg), seqs, learned=learned)
        t0 = time.perf_counter_ns()
        x = preprocess(test, encoder.preprocessing)
        e, features = encoder.encode_inputs(x)
        seq = dtw.quantized(test, cfg) if cfg else None
        learned_probe = None if features is None or lcfg is None else learned_dtw.quantized(features[0], lcfg)
        score(cache[key], Probe(e[0], seq, learned=learned_probe))
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


def verify_latency(model_dir: Path, data: dict, n: int) -> tuple[list, list]:
    """(the latency of decisions that adapted nothing, of accepts that adapted a reference):
    adaptation turned on (it is off by default) so that both kinds are timed."""
    import tempfile

    from edge.settings import Settings
    from edge.verifier import open_verifier
    times, adapting = [], []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(store=Path(tmp) / "t.db", model=model_dir, lockout_after=0, adapt=True)
        with open_verifier(cfg) as v:
            users = list(data)[:10]
            first = cfg.enrol_count + 1
            for u in users:
                v.enrol(f"u{u}", [data[u][s] for s in range(1, first)])
            for k in range(n):
                u = users[k % len(users)]
                d = v.verify(f"u{u}", data[u][first + (k // len(users)) % (21 - first)])
                (adapting if d.adapted else times).append(d.latency_ms)
    return times, adapting


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
    import re
    from importlib import metadata
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
    (trainer.evaluation.trials) and the shipped decision, with int8 references."""
    from firmware_bridge.svc2004 import UserFiles
    from trainer.evaluation.trials import make_trials

    index = {u: UserFiles(u, {s: None for s in range(1, 21)}, {s: None for s in range(21, 41)})
             for u in users}
    sigs = {(u, s): data[u][s] for u in users for s in range(1, 41)}
    return _rates(encoder, sigs, make_trials(index, trials=trials)) | {"users": users}


def _rates(encoder: Encoder, sigs: dict, trials) -> dict:
    """FRR and FARs of the shipped decision at its threshold over these trials."""
    from trainer.evaluation.evaluate import EmbeddingScorer, score_trials, sequences_of
    from trainer.evaluation.metrics import rates_at

    m = encoder.manifest
    keys = list(sigs)
    emb = dict(zip(keys, dequantize_many([quantize(x) for x in encoder.embed_many([sigs[k] for k in keys])])))
    cfg = m.decision_score().dtw
    scorer = EmbeddingScorer(emb, m.score, sequences_of(sigs, cfg) if cfg else None, m.score_params)
    scores = score_trials(trials, scorer)
    gen, skl, rnd = (np.concatenate(list(scores[k].values())) for k in ("genuine", "skilled", "random"))
    far_skilled, frr = rates_at(gen, skl, m.threshold)
    far_random, _ = rates_at(gen, rnd, m.threshold)
    return {"threshold": m.threshold, "score": m.score, "frr_pct": round(100 * frr, 2),
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
    """FAR/FRR of the shipped decision at its threshold on synthetic writers no model was trained on."""
    from edge.app.demo import UNSEEN_SEED_BASE
    from firmware_bridge import synthetic
    from trainer.evaluation.trials import Trial

    sigs, trials = {}, []
    for w in range(writers):
        wr = synthetic.make_writer(UNSEEN_SEED_BASE + 1000 + w)
        sigs |= {(w, i): wr.genuine(i) for i in range(15)} | {(w, 100 + i): wr.forgery(i) for i in range(10)}
    for w in range(writers):
        trials.append(Trial(w, 0, tuple((w, i) for i in range(5)), tuple((w, i) for i in range(5, 15)),
                            tuple((w, 100 + i) for i in range(10)),
                            tuple((v, 0) for v in range(writers) if v != w)))
    return _rates(encoder, sigs, trials) | {
        "writers": writers,
        "protocol": "refs genuine(0-4), tests genuine(5-14), skilled forgery(0-9), random: other writers"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="bench_edge", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="SVC2004 root (Task2/ inside)")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: shipped)")
    p.add_argument("-n", type=int, default=400, help="decisions timed")
    args = p.parse_args(argv)
    model_dir = args.model or shipped_model_dir(True)
    root = args.data or svc2004.default_data_root()
    task2 = root / "Task2" if (root / "Task2").is_dir() else root
    encoder = Encoder(model_dir, num_threads=1)
    data = load_users(task2, range(1, 41))
    m = encoder.manifest
    emit("model", model=str(model_dir), sha256=m.sha256, backend=encoder.backend,
         threshold=m.threshold, score=m.score)
    # an int8 template is one byte per embedding dimension, then what the decision stores beside it
    from edge.layout import Layout
    reference = m.embedding_dim + Layout.of(m.embedding_dim, m.decision_score()).extra_bytes
    emit("size", model_bytes=(model_dir / m.model_file).stat().st_size, template_bytes=m.embedding_dim,
         reference_bytes=reference, references=REFERENCES, user_bytes=REFERENCES * reference,
         target_model_bytes=150_000,
         target_template_bytes=80, target_user_bytes=4096)
    times, pairs = model_latency(encoder, data, args.n)
    cosine, _ = model_latency(encoder, data, args.n, get(CentroidMaxCosine.name))
    emit("latency", what=f"preprocess+invoke+{m.score} (the shipped decision)", n=len(times),
         median_ms=pct(times, 50), p99_ms=pct(times, 99), target_median_ms=2.0,
         ok=float(np.median(times)) <= 2.0,
         cosine_median_ms=pct(cosine, 50), ratio_to_cosine=round(float(np.median(times) / np.median(cosine)), 2))
    full, adapting = verify_latency(model_dir, data, min(args.n, 200))
    emit("latency", what="Verifier.verify (store, AES-GCM, replay checks, attempt logged)",
         n=len(full), median_ms=pct(full, 50), p99_ms=pct(full, 99))
    if adapting:  # leave-one-out under the fused score and the statistics again, in the same transaction
        emit("latency", what="Verifier.verify, an accept that adapts a reference (edge.adaptation)",
             n=len(adapting), median_ms=pct(adapting, 50), p99_ms=pct(adapting, 99))
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
