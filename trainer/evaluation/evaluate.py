"""``sigpad-train evaluate``: score a verifier under the SVC2004-style protocol.

Methods: ``dtw`` (the reference, see trainer.evaluation.dtw) or a model (``--model``, an
``encoder_int8.tflite`` or its directory) run through the edge's own
interpreter and matching code - the deployed artifact, not the Keras model.

Metrics, in percent: skilled and random EER with ONE global threshold over
all users (what a deployed device does), per-writer EERs (mean of per-user
EERs, what many papers report), FNMR at FMR = 1 % for skilled forgeries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge import scores as edge_scores
from firmware_bridge import svc2004
from firmware_bridge.errors import DataFormatError

from ..progress import Progress
from . import metrics
from .trials import PROTOCOLS, parse_users, trial_plan

if TYPE_CHECKING:
    from .dtw import DtwScorer


def add_arguments(p) -> None:
    p.add_argument("--data", type=Path, default=None,
                   help="folder of U<u>S<s>.TXT files (default: $SIGPAD_DATA or ../shared/data/svc2004, Task2)")
    p.add_argument("--method", choices=("dtw", "model"), default=None,
                   help="dtw (default) or model (implied by --model)")
    p.add_argument("--model", type=Path, default=None, help="int8 .tflite file or its directory")
    p.add_argument("--backend", default=None, help="TFLite backend: litert, tflite or tensorflow")
    p.add_argument("--score", default=None,
                   help=f"model score (edge.scores): {', '.join(edge_scores.names())} (default: the manifest's)")
    p.add_argument("--users", default=None, help="users to evaluate, e.g. 1-30 or 21-30,5")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--refs", type=int, default=5)
    p.add_argument("--ref-pool", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="random-refs",
                   help="random-refs: refs drawn from S1-S10 (SVC2004-style, default); session: refs "
                        "S1-S5, genuine tests S11-S20 only (the second session)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--per-user", action="store_true",
                   help="each user's EERs too (JSON: \"per_user\"; with one user, the only figures)")
    p.add_argument("--plot", type=Path, default=None, help="write DET curves and histograms to this PNG")


def load_signatures(users: dict) -> tuple[dict, list[str]]:
    """Read every file of the users; unreadable files are skipped and named."""
    sigs, skipped = {}, []
    for u, files in users.items():
        for s, path in {**files.genuine, **files.forgeries}.items():
            try:
                sigs[(u, s)] = svc2004.read(path)
            except DataFormatError as exc:
                skipped.append(str(exc))
    for files in users.values():  # forget what could not be read
        files.genuine = {s: p for s, p in files.genuine.items() if (files.user, s) in sigs}
        files.forgeries = {s: p for s, p in files.forgeries.items() if (files.user, s) in sigs}
    return sigs, skipped


class EmbeddingScorer:
    """The edge's score (``edge.scores``) over precomputed unit embeddings and,
    for scores that use DTW, precomputed int8 DTW sequences (``sequences_of``),
    for scores that use global features, their stored values (``globals_of``), for scores
    that compare the model's learned features, those as stored (``learned_of``)."""

    name = "embedding"

    def __init__(self, embeddings: dict | None, score_name: str = edge_scores.DEFAULT,
                 sequences: dict | None = None, params: dict | None = None, globals_: dict | None = None,
                 learned: dict | None = None):
        self._emb, self._seq, self._glob, self._learned = embeddings, sequences, globals_, learned
        self.score_name = score_name
        self._score = edge_scores.get(score_name).configured(params)
        if self._score.dtw is not None and sequences is None:
            raise ValueError(f"score {score_name!r} needs the signatures' DTW sequences")
        if self._score.globals is not None and globals_ is None:
            raise ValueError(f"score {score_name!r} needs the signatures' global features")
        if self._score.learned is not None and learned is None:
            raise ValueError(f"score {score_name!r} needs the signatures' learned features")
        self._refs: dict = {}  # per reference set, as enrolment stores it

    def references(self, refs) -> edge_scores.References:
        known = self._refs.get(refs)
        if known is None:
            emb = None if self._emb is None else np.stack([self._emb[r] for r in refs])
            seq = None if self._seq is None else np.stack([self._seq[r] for r in refs])
            glob = None if self._glob is None else np.stack([self._glob[r] for r in refs])
            learned = None if self._learned is None else np.stack([self._learned[r] for r in refs])
            stats = edge_scores.reference_stats(emb, seq, self._score.dtw, learned, self._score.learned)
            # Without embeddings (the DTW alone) the score never reads them; the edge's types
            # say what a device always has, so None is let through here on purpose.
            known = self._refs[refs] = edge_scores.References(emb, stats, seq, glob, learned)  # type: ignore[arg-type]
        return known

    def probe(self, test) -> edge_scores.Probe:
        return edge_scores.Probe(None if self._emb is None else self._emb[test],  # type: ignore[arg-type]  # as above
                                 None if self._seq is None else self._seq[test],
                                 None if self._glob is None else self._glob[test],
                                 None if self._learned is None else self._learned[test])

    def score(self, refs, test) -> float:
        return self._score(self.references(refs), self.probe(test))


class PartsScorer(EmbeddingScorer):
    """Every part of a fused score (``params``), unweighted: one row of part scores
    per comparison, from one probe and one set of references (so a DTW that several
    parts read is computed once). ``score_trials`` gives their rows by kind and user."""

    name = "parts"

    def __init__(self, embeddings: dict, params: dict, sequences: dict | None = None,
                 globals_: dict | None = None, learned: dict | None = None):
        super().__init__(embeddings, "fused", sequences, params, globals_, learned)
        self.parts = [p.score for p in self._score.parts]  # type: ignore[attr-defined]  # a Fused

    def score(self, refs, test) -> np.ndarray:  # type: ignore[override]  # a row, not one float
        r, probe = self.references(refs), self.probe(test)
        return np.array([part(r, probe) for part in self.parts])


def sequences_of(signatures: dict, cfg) -> dict:
    """Each signature's DTW sequence as the edge stores it (int8), as floats."""
    from edge import dtw
    return {k: dtw.quantized(s, cfg) for k, s in signatures.items()}


def globals_of(signatures: dict, cfg) -> dict:
    """Each signature's global features as the edge stores them (float16), as floats."""
    from edge import global_features
    return {k: global_features.quantized(s, cfg) for k, s in signatures.items()}


def learned_of(features: dict, cfg) -> dict:
    """Each signature's learned features (the model's second output) as the edge stores them, as floats."""
    from edge import learned_dtw
    return {k: learned_dtw.quantized(f, cfg) for k, f in features.items()}


class ModelScorer(EmbeddingScorer):
    """The decision of an int8 model directory, through the edge: its embeddings,
    and its manifest's score with the manifest's parameters, unless ``score_name``."""

    name = "model"

    def __init__(self, signatures: dict, model: Path, backend: str | None = None,
                 score_name: str | None = None):
        from edge.model import Encoder

        model_dir = model if model.is_dir() else model.parent
        self.encoder = Encoder(model_dir, backend=backend)
        manifest = self.encoder.manifest
        name = score_name or manifest.score
        params = manifest.score_params if name == manifest.score else None
        configured = edge_scores.get(name).configured(params)
        cfg, gcfg = configured.dtw, configured.globals
        keys = list(signatures)
        encoded = self.encoder.encode_many([signatures[k] for k in keys])
        lcfg = configured.learned
        learned = learned_of(dict(zip(keys, encoded.learned)), lcfg) if lcfg and encoded.learned is not None else None
        super().__init__(dict(zip(keys, encoded.embedding)), name, sequences_of(signatures, cfg) if cfg else None,
                         params, globals_of(signatures, gcfg) if gcfg else None, learned)


def score_trials(trials, scorer) -> dict[str, dict[int, list[float]]]:
    """Scores by kind ('genuine', 'skilled', 'random') and user."""
    out: dict[str, dict[int, list[float]]] = {"genuine": {}, "skilled": {}, "random": {}}
    trials = list(trials)
    with Progress(len(trials), f"{scorer.name} trials") as bar:
        for tr in trials:
            for kind in out:
                tests = getattr(tr, kind)
                out[kind].setdefault(tr.user, []).extend(scorer.score(tr.refs, t) for t in tests)
            bar.advance()
    return out


def summarise(scores: dict) -> dict:
    """The metrics (percent) from the scores of ``score_trials``."""
    gen = np.concatenate([v for v in scores["genuine"].values()])
    res: dict[str, float] = {"users": len(scores["genuine"])}
    for kind in ("skilled", "random"):
        parts = [v for v in scores[kind].values() if len(v)]
        if not parts:       # one user has no random impostors: no such EER, not an error
            continue
        imp = np.concatenate(parts)
        rate, thr = metrics.eer(gen, imp)
        res[f"eer_{kind}"] = round(100 * rate, 3)
        res[f"threshold_eer_{kind}"] = thr
        per_user = [metrics.eer(scores["genuine"][u], scores[kind][u])[0]
                    for u in scores["genuine"] if len(scores[kind].get(u, [])) and len(scores["genuine"][u])]
        res[f"eer_{kind}_per_writer"] = round(100 * float(np.mean(per_user)), 3)
        res[f"fnmr_at_fmr1_{kind}"] = round(100 * metrics.fnmr_at_fmr(gen, imp, 0.01)[0], 3)
        res[f"comparisons_{kind}"] = len(imp)
    res["comparisons_genuine"] = len(gen)
    return res


def per_user(scores: dict) -> dict[str, dict[str, float]]:
    """Each user's EERs (percent) and comparison counts, from the scores of ``score_trials``."""
    out: dict[str, dict[str, float]] = {}
    for user, genuine in sorted(scores["genuine"].items()):
        row: dict[str, float] = {"comparisons_genuine": len(genuine)}
        for kind in ("skilled", "random"):
            impostors = scores[kind].get(user, [])
            if len(genuine) and len(impostors):
                row[f"eer_{kind}"] = round(100 * metrics.eer(genuine, impostors)[0], 3)
                row[f"comparisons_{kind}"] = len(impostors)
        out[str(user)] = row
    return out


def evaluate(data: Path, method: str = "dtw", model: Path | None = None, users: str | None = None,
             trials: int = 10, refs: int = 5, ref_pool: int = 10, seed: int = 0,
             backend: str | None = None, score: str | None = None,
             protocol: str = "random-refs") -> tuple[dict, dict]:
    """(summary, raw scores) for one dataset and method."""
    index = svc2004.scan(data)
    wanted = parse_users(users)
    if wanted is not None:
        index = {u: f for u, f in index.items() if u in wanted}
    sigs, skipped = load_signatures(index)
    scorer: ModelScorer | DtwScorer
    if method == "model":
        if model is None:
            raise ValueError("method 'model' needs a model directory")
        scorer = ModelScorer(sigs, model, backend, score)
    else:
        from .dtw import DtwScorer
        scorer = DtwScorer(sigs)
    plan = trial_plan(index, protocol, trials, refs, ref_pool, seed)
    if not plan:
        raise DataFormatError(f"no user can be enrolled under the {protocol} protocol", str(data))
    scores = score_trials(plan, scorer)
    summary = {"method": method, "data": str(data), **summarise(scores), "trials": trials,
               "refs": refs, "seed": seed, "protocol": protocol, "files_skipped": len(skipped)}
    if isinstance(scorer, ModelScorer):  # a --model beside --method dtw is not what was scored
        summary["model"] = str(model)
        summary["score"] = scorer.score_name
    for msg in skipped:
        print(f"skipped {msg}", file=sys.stderr)
    return summary, scores


def run(args) -> int:
    method = args.method or ("model" if args.model else "dtw")
    if method == "model" and args.model is None:
        print("sigpad-train evaluate: --method model needs --model FILE.tflite", file=sys.stderr)
        return 2
    data = args.data or svc2004.default_data_root() / "Task2"
    try:
        summary, scores = evaluate(data, method, args.model, args.users, args.trials, args.refs,
                                   args.ref_pool, args.seed, args.backend, args.score, args.protocol)
    except ValueError as exc:
        print(f"sigpad-train evaluate: {exc}", file=sys.stderr)
        return 2
    if args.plot:
        from .det_plot import plot_det
        plot_det(scores, args.plot, title=f"{method} on {Path(data).name}")
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.per_user:
        summary["per_user"] = per_user(scores)
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:28s} {value}")
    return 0
