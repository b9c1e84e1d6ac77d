"""Template adaptation under session drift, every choice made without the reported fold.

For each pad kind (the shipped recipes, ``bench_fusion.KINDS``: pressure on
Task2, without pressure on Task1, each with its learned features) and seed, each cached cross-validation
fold k (``trainer.folds.cross_validate``) gives its int8 file and the fused decision
chosen on the other folds (``trainer.fusion.calibrate(...).fold_params[k]``,
as ``bench_fusion.session``). Fold k's threshold is made the way the shipped
one is (``trainer.fusion``: the EER point of the pooled fused scores) on the
OTHER four folds' held-out scores, fused with fold k's parameters.

Per held-out user, through the edge's own score and ``edge.adaptation``:

1. enrol S1-S5 (session 1), stored as int8 templates like the device does;
2. a stream of session-2 attempts in a fixed order, genuine S11-S15
   interleaved with skilled forgeries S21-S25 (G11 F21 G12 F22 ... F25: the
   attack that poisons a template), each judged at the fold's threshold;
   an accept that clears the margin replaces the least typical reference
   (``edge.adaptation.propose``), the whole stream within one day;
3. test genuine S16-S20 against skilled forgeries S26-S40 and random
   forgeries (one genuine signature of each other held-out user of the
   fold, drawn as ``trials.make_session_trials`` draws them), with the
   adapted references and, as the baseline, the enrolled ones: the same tests.

The policy is FIXED here, before any result was seen (``POLICY``):

* ``margin`` 1.0 fused units: the fused score is a weighted sum of parts
  each standardised to the genuine scores' mean 0 and spread 1 (weights
  summing to 1), so 1.0 is about one genuine spread above the threshold,
  which itself sits about 1.2 spreads below the genuine mean: only attempts
  near the middle of the genuine distribution adapt, while a forgery must
  beat the threshold by a whole spread;
* ``max_per_day`` 3 and ``keep_enrolled`` 2: the shipped defaults
  (``edge.adaptation.AdaptationPolicy``): with 5 references, at most the 3
  least typical ever go, and 2 enrolment references always anchor the set.

The five-day stream (``WEEKS``, issue #20: the independent evaluation's
protocol): enrol S1-S5, then genuine S6-S20 in time order, a skilled forgery
(S21-S35) after each, six attempts a day; each attempt is judged with the
references as they stand then, and the FRR and skilled FAR are counted over
the stream itself (``weeks-adaptation`` lines).

Per (kind, seed) and variant (``baseline``, ``adapted``, ``bounded``): pooled skilled and
random EER (ONE threshold over all 30 held-out users) and skilled per
writer, FRR and skilled / random FAR at each fold's own threshold, and what
the stream did (accepts, replacements by genuine attempts and by forgeries);
then one line per (kind, variant) with the mean and spread over seeds.

    python -m bench.bench_adaptation --data ../shared/data/svc2004 --seeds 0 1 2
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.adaptation import AdaptationPolicy

POLICY = AdaptationPolicy(enabled=True, margin=1.0, max_per_day=3, keep_enrolled=2)
ENROL = tuple(range(1, 6))
STREAM = tuple(s for pair in zip(range(11, 16), range(21, 26)) for s in pair)   # G11 F21 G12 ... F25
TEST_GENUINE = tuple(range(16, 21))
TEST_SKILLED = tuple(range(26, 41))
VARIANTS = ("baseline", "adapted", "bounded")
"""Enrolled references only; adapted by ``POLICY`` as it was; adapted with the device's bounds
since issue #20 too (drift from the enrolment's centroid at most ``max_drift``, no probe too
alike an earlier attempt of the stream: ``edge.adaptation.drift`` and ``too_alike``)."""
WEEKS = tuple(s for pair in zip(range(6, 21), range(21, 36)) for s in pair)   # G6 F21 G7 F22 ... G20 F35
WEEKS_PER_DAY = 6
"""The independent evaluation's stream (issue #20), on the folds' held-out writers: after
enrolment on S1-S5, each remaining genuine signature (S6-S20) in time order with a skilled
forgery after each, six attempts a day (five days), each judged with the references as they
stand then."""
WEEKS_METRICS = ("frr_stream", "far_skilled_stream", "forgeries_admitted", "genuine_admitted")
METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "frr_at_threshold",
           "far_skilled_at_threshold", "far_random_at_threshold", "forgeries_admitted",
           "genuine_admitted")


@dataclass(frozen=True)
class Fold:
    """What fold k's users are judged with: probes by (user, n), the score, the threshold."""

    probes: dict
    score: object
    threshold: float
    random: dict      # user -> the random impostors' keys


def fold_threshold(fusion, k: int) -> float:
    """The shipped threshold's rule (pooled EER point of the fused scores) on the
    folds other than k, fused with fold k's own nested parameters."""
    from trainer.evaluation.metrics import pooled_threshold
    from trainer.fusion import fuse

    names = ("cosine", "device-dtw", "learned-dtw")   # the shape parts, as calibrate orders them
    shape = [fusion.scores[n] for n in names if n in fusion.scores]   # the aspects weigh 0
    parts = fusion.fold_params[k]["parts"][:len(shape)]
    consts = tuple((p["mean"], p["sd"]) for p in parts)
    weights = tuple(p["weight"] for p in parts)
    return float(pooled_threshold([fuse([s[j] for s in shape], consts, weights)
                                   for j in range(len(shape[0])) if j != k]))


def load_fold(model_dir: Path, folder: Path, users, params: dict, threshold: float, learned=None) -> Fold:
    """Every signature of ``users`` as the device sees it: the fold model's embedding, the int8
    DTW sequence and, where the decision compares them, its learned features (``learned``:
    ``trainer.local_features.fold_features``)."""
    from edge import dtw, scores
    from edge.model import Encoder
    from firmware_bridge import svc2004
    from trainer.evaluation.evaluate import load_signatures
    from trainer.evaluation.trials import make_session_trials

    index = {u: f for u, f in svc2004.scan(folder).items() if u in set(users)}
    sigs, _ = load_signatures(index)
    score = scores.get("fused").configured(params)
    keys = list(sigs)
    embeddings = Encoder(model_dir).embed_many([sigs[k] for k in keys])
    features = learned(sigs) if learned else {}
    probes = {k: scores.Probe(e, dtw.quantized(sigs[k], score.dtw), learned=features.get(k))
              for k, e in zip(keys, embeddings)}
    random = {t.user: t.random for t in make_session_trials(index)}
    return Fold(probes, score, threshold, random)


def enrolled(fold: Fold, user: int):
    """References S1-S5 as stored: int8 templates, statistics as enrolment computes them."""
    from edge import scores
    from edge.templates import dequantize, quantize

    emb = np.stack([dequantize(quantize(fold.probes[(user, s)].embedding)) for s in ENROL])
    seqs = np.stack([fold.probes[(user, s)].sequence for s in ENROL])
    learned = None if fold.score.learned is None else np.stack([fold.probes[(user, s)].learned for s in ENROL])
    stats = scores.reference_stats(emb, seqs, fold.score.dtw, learned, fold.score.learned)
    return scores.References(emb, stats, seqs, learned=learned)


def run_stream(fold: Fold, user: int, refs, bounded: bool = False, stream: tuple[int, ...] = STREAM,
               per_day: int | None = None, adapt: bool = True):
    """A stream of attempts (default: the session-2 stream, all in one day): (references
    after it, stream counts); ``bounded``: with the device's drift and too-alike bounds
    (what the verifier adds to ``propose``); ``per_day``: attempts a day; ``adapt``: False
    judges the stream with the enrolled references only."""
    from edge import scores
    from edge.adaptation import DAY_S, propose, too_alike
    from edge.store import Attempt
    from edge.templates import dequantize, quantize

    originals, recent, kept = [True] * len(refs.embeddings), [], []
    enrolled = refs.embeddings if bounded else None
    counts = {"forgeries_admitted": 0, "genuine_admitted": 0, "forgeries_accepted": 0, "genuine_accepted": 0,
              "forgeries_seen": 0, "genuine_seen": 0}
    for n, s in enumerate(stream):
        probe = fold.probes.get((user, s))
        if probe is None:
            continue
        now = 0.0 if per_day is None else (n // per_day) * DAY_S
        value = fold.score(refs, probe)
        kind = "genuine" if s <= 20 else "forgeries"
        counts[f"{kind}_accepted"] += int(value >= fold.threshold)
        counts[f"{kind}_seen"] += 1
        if not adapt:
            continue
        stored = scores.Probe(dequantize(quantize(probe.embedding)), probe.sequence,  # what a template keeps
                              learned=probe.learned)
        a = propose(POLICY, refs, originals, stored, fold.score, fold.threshold, value, recent, now=now,
                    enrolled=enrolled)
        if bounded and too_alike(stored.embedding, kept, 0.995) is not None:
            a = None
        kept.append(Attempt(b"", quantize(probe.embedding), False, None))
        if a is not None:
            refs, originals[a.index] = a.references, False
            recent.append(now)
            counts[f"{kind}_admitted"] += 1
    return refs, counts


def test_scores(fold: Fold, user: int, refs) -> dict:
    """Scores of the test attempts by kind, as ``score_trials`` gives them (one user)."""
    keys = {"genuine": [(user, s) for s in TEST_GENUINE], "skilled": [(user, s) for s in TEST_SKILLED],
            "random": list(fold.random.get(user, ()))}
    return {kind: [fold.score(refs, fold.probes[k]) for k in ks if k in fold.probes] for kind, ks in keys.items()}


def judge_fold(fold: Fold, users) -> dict:
    """Per variant: the test scores by kind and user, the stream counts, the threshold."""
    out = {v: {"scores": {"genuine": {}, "skilled": {}, "random": {}}, "counts": Counter()} for v in VARIANTS}
    for u, base in enrollable(fold, users):
        adapted, counts = run_stream(fold, u, base)
        bounded, bounded_counts = run_stream(fold, u, base, bounded=True)
        for variant, refs in (("baseline", base), ("adapted", adapted), ("bounded", bounded)):
            for kind, values in test_scores(fold, u, refs).items():
                out[variant]["scores"][kind][u] = np.asarray(values, dtype=float)
        out["adapted"]["counts"].update(counts)
        out["bounded"]["counts"].update(bounded_counts)
    for v in VARIANTS:
        out[v]["threshold"] = fold.threshold
    return out


def judge_weeks(fold: Fold, users) -> dict:
    """The ``WEEKS`` stream per variant: its counts summed over the fold's users."""
    out: dict[str, Counter] = {v: Counter() for v in VARIANTS}
    for u, base in enrollable(fold, users):
        for variant, kw in (("baseline", {"adapt": False}), ("adapted", {}), ("bounded", {"bounded": True})):
            out[variant].update(run_stream(fold, u, base, stream=WEEKS, per_day=WEEKS_PER_DAY, **kw)[1])
    return out


def enrollable(fold: Fold, users):
    """(user, references S1-S5 as stored: ``enrolled``) of each user who has all five."""
    for u in users:
        if all((u, s) in fold.probes for s in ENROL):
            yield u, enrolled(fold, u)


def weeks_figures(counts: list[dict]) -> dict:
    """FRR and skilled FAR (percent) over the stream's attempts, all folds' users; what got in."""
    total = {k: sum(c[k] for c in counts) for k in counts[0]}
    return {"frr_stream": round(100 * (1 - total["genuine_accepted"] / total["genuine_seen"]), 2),
            "far_skilled_stream": round(100 * total["forgeries_accepted"] / total["forgeries_seen"], 2),
            **{k: total[k] for k in ("genuine_accepted", "genuine_seen", "forgeries_accepted", "forgeries_seen",
                                     "forgeries_admitted", "genuine_admitted")}}


def at_threshold(folds: list[dict]) -> dict:
    """FRR and FAR (percent) with each fold's own threshold, over all folds' attempts."""
    def rate(kind: str, below: bool) -> float:
        hits = total = 0
        for f in folds:
            values = np.concatenate([v for v in f["scores"][kind].values()])
            hits += int(np.sum(values < f["threshold"]) if below else np.sum(values >= f["threshold"]))
            total += len(values)
        return round(100 * hits / max(total, 1), 2)
    return {"frr_at_threshold": rate("genuine", True), "far_skilled_at_threshold": rate("skilled", False),
            "far_random_at_threshold": rate("random", False)}


def figures(folds: list[dict]) -> dict:
    """The metrics of one variant over all folds (EERs pooled: one threshold for all users)."""
    from trainer.evaluation.evaluate import summarise
    from trainer.fusion import pool

    pooled = summarise(pool([f["scores"] for f in folds]))
    out = {m: pooled[m] for m in ("eer_skilled", "eer_skilled_per_writer", "eer_random")}
    out.update(at_threshold(folds))
    counts = Counter(forgeries_admitted=0, genuine_admitted=0)   # present even where nothing was admitted
    for f in folds:
        counts.update(f["counts"])
    return {**out, **counts}


def run_seed(kind: str, seed: int, root: Path) -> list[dict]:
    """One JSON line per variant and protocol (session-2 stream, five-day stream) for one pad kind and seed."""
    from bench.bench_fusion import calibrated
    from trainer.cache import Cache
    from trainer.folds import fold_model
    from trainer.local_features import fold_features

    recipe, folds, fusion, folder = calibrated(kind, seed, root)
    cache = Cache.at(None)
    judged: list[dict] = []
    weeks: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(folds):
            model = fold_model(recipe, fold, Path(tmp) / f"fold{k}", cache)
            if model is None:
                return [{"bench": "adaptation", "kind": kind, "seed": seed,
                         "error": "folds cached without their int8 files: delete the recipe's folder in the "
                                  "cache's cv/ to retrain"}]
            data = load_fold(model, folder, fold["test_users"], fusion.fold_params[k],
                             fold_threshold(fusion, k), fold_features(recipe, fold, cache))
            judged.append(judge_fold(data, fold["test_users"]))
            weeks.append(judge_weeks(data, fold["test_users"]))
    return [{"bench": "adaptation", "kind": kind, "seed": seed, "protocol": "session-adaptation",
             "variant": v, "policy": asdict(POLICY), "thresholds": [round(j[v]["threshold"], 4) for j in judged],
             **figures([j[v] for j in judged])} for v in VARIANTS] + \
           [{"bench": "adaptation", "kind": kind, "seed": seed, "protocol": "weeks-adaptation", "variant": v,
             **weeks_figures([w[v] for w in weeks])} for v in VARIANTS]


def over_seeds(lines: list[dict]) -> list[dict]:
    """Mean and spread (max - min) over seeds, per (kind, protocol, variant)."""
    out = []
    keys = sorted({(ln["kind"], ln["protocol"], ln["variant"]) for ln in lines if "variant" in ln})
    for kind, protocol, variant in keys:
        rows = [ln for ln in lines
                if (ln.get("kind"), ln.get("protocol"), ln.get("variant")) == (kind, protocol, variant)]
        metrics = METRICS if protocol == "session-adaptation" else WEEKS_METRICS
        out.append({"bench": "adaptation", "kind": kind, "protocol": protocol, "variant": variant,
                    "summary": f"{len(rows)} seeds", "seeds": [r["seed"] for r in rows],
                    **{m: {"mean": round(float(np.mean([r[m] for r in rows])), 2),
                           "spread": round(float(np.ptp([r[m] for r in rows])), 2)} for m in metrics}})
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.bench_fusion import over_kinds_and_seeds
    return over_kinds_and_seeds(__doc__, argv, run_seed, over_seeds)

if __name__ == "__main__":
    sys.exit(main())
