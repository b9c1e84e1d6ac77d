"""``sigpad-train fit``: the command line of ``trainer.pipeline.fit``.

Writes into ``--out``: ``encoder.keras`` (the float Keras encoder),
``encoder_int8.tflite`` and ``manifest.json`` (preprocessing, shapes,
quantization, threshold, training users/data/seed/loss, metrics, sha256).

The recipe is either named (``--recipe shipped-pressure``, the shipped
recipes of ``trainer.recipe.NAMED``, with ``--data`` the SVC2004 root; their
decision is the shipped one: fused, from the 5 user folds) or spelled option
by option. The decision threshold is the EER threshold (skilled forgeries,
one global threshold) of the int8 model on validation users: ``--val-users``
names them; ``--cv-threshold`` instead runs the five user folds of the
training users (trainer.folds) and pools their held-out scores, which is how
the shipped model, trained on all 30 users, gets its threshold. Without
either, the threshold is chosen on the training users and the manifest says
so (it is then optimistic).

TensorFlow is imported inside functions only: ``sigpad-train evaluate``
builds this parser and must not pay for (or need) TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edge import scores as edge_scores
from edge.errors import ConfigError

from .encoder import MAX_EMBEDDING_DIM
from .losses import LOSSES
from .recipe import NAMED, Distillation, Recipe, TrainConfig, on_data
from .training_loop import STRATEGIES

if TYPE_CHECKING:
    from .pipeline import ThresholdRule

# The options that spell a recipe: a named one (--recipe) is all of them at once.
RECIPE_OPTIONS = ("--epochs", "--seed", "--loss", "--strategy", "--no-pressure", "--synthetic", "--synthetic-epochs",
                  "--pair-ratio", "--pairs-per-epoch", "--batch-size", "--lr", "--dim", "--width", "--towers",
                  "--distill-epochs", "--distill-dtw", "--distill-lr", "--label-weight", "--score",
                  "--session-augment", "--variants", "--sigcomp2009")
# How the threshold is chosen: a named recipe's is the shipped decision (trainer.pipeline.SHIPPED_RULE).
RULE_OPTIONS = ("--threshold", "--val-users")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", choices=sorted(NAMED), default=None,
                   help="a shipped recipe by name (trainer/recipe.py), with its decision (fused, from the 5 user "
                        "folds); --data is then the SVC2004 root, and no recipe option may be given beside it")
    p.add_argument("--data", type=Path, action="append", default=None,
                   help="SVC2004-format folder (repeatable; default: Task2 of $SIGPAD_DATA or ../shared); "
                        "with --recipe, the SVC2004 root (default $SIGPAD_DATA or ../shared)")
    p.add_argument("--users", default="1-30", help="training users, e.g. 1-20 (default 1-30)")
    _add_recipe_options(p.add_argument_group("the recipe, option by option (or --recipe NAME)"))
    _add_threshold_options(p.add_argument_group("the decision's threshold"))
    p.add_argument("--out", type=Path, required=False, default=Path("runs/model"))
    p.add_argument("--keras", type=Path, default=None,
                   help="where to save the Keras encoder (default OUT/encoder.keras)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quiet", action="store_true", help="Keras: one line per epoch, no progress bar")
    p.add_argument("--cache", type=Path, default=None, metavar="DIR",
                   help="keep trained folds, towers and pretraining here "
                        "(default: $XDG_CACHE_HOME/sigpad, i.e. ~/.cache/sigpad)")


def _add_threshold_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--val-users", default=None, help="users to choose the threshold on")
    g.add_argument("--cv-threshold", action="store_true",
                   help="choose the threshold on 5-fold held-out scores of the training users")
    g.add_argument("--threshold", type=float, default=None, help="use this threshold as is")
    g.add_argument("--fuse", action="store_true",
                   help="ship the fused decision (cosine + the device's DTW, trainer.fusion): its "
                        "constants, weight and threshold from the 5 folds of --cv-threshold")


def _add_recipe_options(g: argparse._ArgumentGroup) -> None:
    """RECIPE_OPTIONS: the loop of each tower, then what is around it."""
    g.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--loss", choices=sorted(LOSSES), default="contrastive")
    g.add_argument("--strategy", choices=STRATEGIES, default="default")
    g.add_argument("--pair-ratio", default="40/30/30", type=_ratio,
                   help="genuine/skilled/random pair shares, e.g. 50/40/10 (Bromley's)")
    g.add_argument("--pairs-per-epoch", type=int, default=TrainConfig.pairs_per_epoch)
    g.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    g.add_argument("--lr", type=float, default=TrainConfig.learning_rate)
    g.add_argument("--dim", type=int, default=TrainConfig.dim, help="embedding size of one tower")
    g.add_argument("--width", type=int, default=TrainConfig.width, help="filters of a tower's first layer")
    g.add_argument("--session-augment", type=float, default=0.0,
                   help="imitate a new session in fine-tuning and distillation (trainer.session_augment): "
                        "rotation, slant, aspect, pressure curve, tempo, at this strength (0: none)")
    g.add_argument("--no-pressure", action="store_true",
                   help="a pressure-free model (7 channels) for pads without pressure")
    g.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="pretrain on N synthetic writers first (cached, see --cache)")
    g.add_argument("--synthetic-epochs", type=int, default=6, help="pretraining epochs")
    _add_tower_options(g)


def _add_tower_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--towers", type=int, default=1,
                   help="towers trained with seeds SEED, SEED+1, ...: stacked into one model (its cosine "
                        "is the mean of theirs; towers x dim <= 80), or with --distill-epochs the teacher")
    g.add_argument("--distill-epochs", type=int, default=0,
                   help="distil the towers' stack into one tower for this many epochs (0: no distillation)")
    g.add_argument("--distill-dtw", type=float, default=0.0,
                   help="move the teacher's cosines of same-writer pairs this far (0-1) toward the device's "
                        "DTW (trainer.dtw_teacher); with one tower, the tower teaches itself plus DTW")
    g.add_argument("--distill-lr", type=float, default=1e-3, help="distillation learning rate")
    g.add_argument("--label-weight", type=float, default=1.0,
                   help="weight of the contrastive loss on labelled pairs next to the teacher's cosines")
    g.add_argument("--score", choices=edge_scores.names(), default=edge_scores.DEFAULT,
                   help="the decision score the threshold is for (edge.scores; written to the manifest)")
    g.add_argument("--variants", type=int, default=0,
                   help="fit this many genuine signatures of each training writer with the sigma-lognormal "
                        "model and train on variants and synthetic forgeries of them too (trainer.variants)")
    g.add_argument("--sigcomp2009", action="store_true",
                   help="also train on SigComp2009's authors and their real skilled forgeries "
                        "($SIGPAD_SIGCOMP2009 or ../shared/data/sigcomp2009_train)")


def _ratio(text: str) -> tuple[float, ...]:
    parts = [float(v) for v in text.split("/")]
    if len(parts) != 3 or min(parts) < 0 or sum(parts) <= 0:
        raise ValueError(f"pair ratio {text!r}: give three non-negative shares, e.g. 40/30/30")
    return tuple(round(v / sum(parts), 6) for v in parts)


def recipe_from_args(args: argparse.Namespace) -> Recipe:
    """The trainer.recipe.Recipe these options describe (cache key, manifest): named, or spelled."""
    from edge.preprocess import PreprocessConfig
    from firmware_bridge import svc2004

    if args.recipe:
        return _named_recipe(args)
    data = tuple(Path(d).resolve() for d in (args.data or [svc2004.default_data_root() / "Task2"]))
    cfg = TrainConfig(loss=args.loss, epochs=args.epochs, pairs_per_epoch=args.pairs_per_epoch,
                      batch_size=args.batch_size, learning_rate=args.lr, dim=args.dim,
                      width=args.width, seed=args.seed, strategy=args.strategy, pair_ratio=args.pair_ratio,
                      verbose=2 if args.quiet else "auto", session_augment=args.session_augment)
    _check_dtw_teacher(args)
    distill = None
    if args.distill_epochs > 0 and (args.towers > 1 or args.distill_dtw):
        distill = Distillation(epochs=args.distill_epochs, learning_rate=args.distill_lr,
                               label_weight=args.label_weight, dtw_weight=args.distill_dtw)
    exported = args.dim if distill else args.towers * args.dim
    if args.towers < 1 or exported > MAX_EMBEDDING_DIM:
        raise ConfigError(f"--towers {args.towers} x --dim {args.dim} without distillation: need 1 or "
                          f"more towers and at most {MAX_EMBEDDING_DIM} dimensions in all")
    return Recipe(data=data, train=cfg, preprocessing=PreprocessConfig(use_pressure=not args.no_pressure),
                  synthetic=args.synthetic, synthetic_epochs=args.synthetic_epochs,
                  towers=args.towers, distill=distill, score=args.score, sigcomp2009=args.sigcomp2009,
                  variants=args.variants)


def _named_recipe(args: argparse.Namespace) -> Recipe:
    """``--recipe NAME`` on ``--data ROOT``; a recipe option beside it is refused, not mixed in."""
    from firmware_bridge import svc2004

    defaults = _defaults()
    given = [o for o in RECIPE_OPTIONS + RULE_OPTIONS if getattr(args, _dest(o)) != getattr(defaults, _dest(o))]
    if given:
        raise ConfigError(f"--recipe {args.recipe} is a whole recipe and its decision: leave out {' '.join(given)} "
                          "(or spell the recipe without --recipe)")
    if args.data and len(args.data) > 1:
        raise ConfigError(f"--recipe {args.recipe} takes one --data: the SVC2004 root that holds its folders")
    return on_data(NAMED[args.recipe], args.data[0] if args.data else svc2004.default_data_root())


def _defaults() -> argparse.Namespace:
    p = argparse.ArgumentParser(allow_abbrev=False)
    add_arguments(p)
    return p.parse_args([])


def _dest(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def _check_dtw_teacher(args: argparse.Namespace) -> None:
    """``--distill-dtw`` needs a distillation, a share in [0, 1], and only SVC2004-format data:
    other sources carry no DTW sequences, and the teacher would fail after the towers trained."""
    if not args.distill_dtw:
        return
    if not 0.0 < args.distill_dtw <= 1.0:
        raise ConfigError(f"--distill-dtw {args.distill_dtw:g}: a share of the teacher's say, in (0, 1]")
    if args.distill_epochs <= 0:
        raise ConfigError("--distill-dtw needs --distill-epochs: it changes the distillation's teacher")
    if args.variants or args.sigcomp2009:
        raise ConfigError("--distill-dtw cannot be combined with --variants or --sigcomp2009: "
                          "their signatures have no DTW sequences for the teacher")


def threshold_rule(args: argparse.Namespace) -> ThresholdRule:
    """How the options choose the threshold; a named recipe's is the shipped decision."""
    from .pipeline import SHIPPED_RULE, ThresholdRule

    if args.recipe:
        return SHIPPED_RULE
    return ThresholdRule(given=args.threshold, folds=args.cv_threshold, fuse=args.fuse, val_users=args.val_users)


def run(args: argparse.Namespace) -> int:
    from .cache import Cache
    from .evaluation.trials import parse_users
    from .pipeline import Run, fit, stderr_log
    from .training_loop import configure_threads

    args.threads = configure_threads(args.threads)
    recipe, rule, users = recipe_from_args(args), threshold_rule(args), parse_users(args.users)
    if not users:
        raise ConfigError("--users: name the training users, e.g. 1-30")
    run_info = Run(users=args.users, threads=args.threads, command="sigpad-train fit " + " ".join(sys.argv[2:]))
    manifest = fit(recipe, users, Cache.at(args.cache), rule, args.out, args.keras, run_info, log=stderr_log)
    print(json.dumps({"out": str(args.out), "sha256": manifest.sha256, "threshold": manifest.threshold,
                      "threshold_chosen_on": manifest.extra["threshold_chosen_on"],
                      "bytes": (args.out / manifest.model_file).stat().st_size,
                      "metrics": manifest.extra["metrics"]}), flush=True)
    return 0
