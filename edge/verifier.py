"""The verifier: enrol users and decide on signatures, failing closed.

``Verifier.verify`` never raises for a bad signature, a broken store or a
model problem: every error becomes a rejecting ``Decision`` with its reason,
so a caller that only looks at ``accepted`` is safe. What it does, in order:

1. lockout: a locked user is refused before the model runs;
2. load and authenticate the user's templates (unknown user, tampered row,
   wrong key, other model or pad kind, a manifest other than the one
   enrolled with -> reject with that reason);
3. embed the signature (preprocess + int8 invoke + dequantize) and score it
   (with its DTW sequence where the decision is fused); a scored decision names the
   aspects that pulled it down (``Decision.reasons``: an explain() that fails changes nothing);
4. in ONE store transaction (``Store.judge``): check the lockout again (a
   parallel attempt may have locked the user meanwhile), check for a replay
   (the same stream MAC, an embedding practically identical to a template
   or a kept attempt, or - for an attempt that would be accepted - a path
   that runs along an earlier accepted one: ``edge.replay``), decide, record
   the attempt and move the lockout counter. If that fails the decision is
   a reject, since an unrecorded accept could be replayed and an unrecorded
   failure would dodge the lockout;
5. in that same transaction, an accept far above the threshold may replace
   the user's least typical reference (``edge.adaptation``; ``[adaptation]``
   settings): never after a replay match, bounded, and said in the decision.

A capture the pad refused (``Verifier.reject_refused_capture``) is a rejection
too, but not a judged one: it is not recorded and does not count toward the
lockout - a damaged capture (line noise) is ``damaged-capture``, "sign again".
So is an attempt that brought no signature at all (the capture failed, the
file was unreadable: ``Verifier.reject_without_signature``).

Every decision is logged as one ``key=value`` line (user, accepted, reason,
score, latency, pad; the fields also ride on the record as ``sigpad`` for
a journald handler) and kept in the user's history (``Store.history``).
``refuse_before_signing`` runs steps 1-2 alone, so a front end can say
"unknown user" or "locked out" before asking anyone to sign.

The names: ``reject_*`` and ``refuse_*`` give a decision that is logged and
kept; ``_rejection`` and ``_locked_out`` only build one (a ``Decision`` value).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_bridge.capture import DAMAGED, Refusal
from firmware_bridge.errors import SignatureError, SigpadError
from firmware_bridge.signature import Signature, check_usable

from . import adaptation, complexity, operating_point, replay, scores
from . import enrol as enrolment
from .decision import SETUP_PROBLEMS, Decision, Reason, logfmt, reason_for, reasons_of
from .errors import (
    AlreadyEnrolled,
    ConfigError,
    EnrolmentError,
    ManifestMismatch,
    ReenrolmentNeeded,
    StoreMissing,
    WrongPadKind,
)
from .keys import load_keys
from .layout import Layout
from .manifest import binding, check_binding
from .model import Encoder, model_dir_of, model_kind, other_kind_sha
from .settings import Settings
from .store import (
    Attempt,
    Enrolled,
    History,
    Judged,
    LockedOut,
    Replacement,
    Replayed,
    Scored,
    Store,
    Verdict,
    check_user_id,
)
from .templates import check_user_budget, dequantize, embeddings_of, pack, quantize

__all__ = ["Verifier", "model_dir_of", "open_store", "open_verifier"]   # model_dir_of: edge.model's

log = logging.getLogger("sigpad")


@dataclass(frozen=True)
class _Proposal:
    """What an accept of an attempt would adapt: the template replacement the store
    makes, and the decision's word on it (``edge.adaptation.Adaptation.describe``)."""

    replacement: Replacement
    described: str


@dataclass(frozen=True)
class _Attempted:
    """What the model made of one attempt, for the judgement in the store's transaction."""

    enrolled: Enrolled
    refs: scores.References
    probe: scores.Probe
    value: float
    mac: bytes
    template: bytes
    path: replay.Path | None       # only for an attempt that would be accepted
    proposal: _Proposal | None = None   # what an accept would replace (``_proposal``)


class Verifier:
    """Enrolment and verification for one model and one store."""

    def __init__(self, encoder: Encoder, store: Store, config: Settings | None = None,
                 clock: Callable[[], float] = time.time):
        config = Settings() if config is None else config
        self.encoder, self.store, self.config, self.clock = encoder, store, config, clock
        manifest = encoder.manifest
        self.model_sha = manifest.sha256
        self.dim = manifest.embedding_dim
        self.score_name = config.score or manifest.score
        # The manifest's parameters (a fused score's parts, the DTW settings)
        # come with the manifest's score; another score must take none.
        self.scorer = scores.get(self.score_name).configured(
            manifest.score_params if self.score_name == manifest.score else None)
        # What a reference holds is the model's business, not the score's: with
        # a fused manifest every reference keeps its DTW sequence, whatever
        # score a command line asks for.
        self.decision = manifest.decision_score()
        self.layout = Layout.of(self.dim, self.decision)          # what each reference stores
        self.probe_layout = Layout.of(self.dim, self.scorer)      # what the score compares
        check_user_budget(config.enrol_count, self.dim, self.layout.extra_bytes)
        # A level of the manifest, or a threshold set by hand (edge.operating_point). One
        # set by hand was never measured on the folds: it may decide, but it never writes
        # a signature into the references (issue #20).
        self.operating_point = operating_point.choose(manifest, config, self.score_name)
        self.threshold = self.operating_point.threshold
        self.threshold_overridden = self.operating_point.hand_set
        try:  # a threshold that every signature reaches is no threshold (scores.check_threshold)
            scores.check_threshold(self.scorer, self.threshold)
        except ConfigError as exc:
            where = "--threshold / [decision] threshold" if config.threshold is not None else "manifest"
            raise ConfigError(f"{where}: {exc}") from None
        self.binding = binding(manifest)
        self.lockout = config.lockout

    @property
    def has_pressure(self) -> bool:
        """The model is for pads with pressure (the other kind's model is another file)."""
        return self.encoder.manifest.preprocessing.use_pressure

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- enrolment ----------------------------------------------------------------

    def check_enrolment(self, sigs: list[Signature], count: int | None = None) -> enrolment.Enrolment:
        """Embed and check enrolment signatures without storing (raises ``EnrolmentError``);
        at least ``count`` of them (default: the settings' ``enrol_count``)."""
        for s in sigs:
            check_usable(s)
        complexity.refuse_weak(sigs)   # before the model runs: a dot or a line is no reference
        encoded = [self.encoder.encode(s) for s in sigs]
        embeddings = np.stack([e.embedding for e in encoded]) if encoded else np.zeros((0, self.dim))
        features = [e.learned for e in encoded if e.learned is not None]
        learned = np.stack(features) if features else None
        score, floor = self._consistency_rule()
        return enrolment.build(embeddings, sigs, self.store.mac_key, count or self.config.enrol_count,
                               floor, self.config.replay_cosine, score, self.layout, learned)

    def _consistency_rule(self) -> tuple[scores.Score, float]:
        """(score, floor) of enrolment's "would the others accept it": the
        decision's score where a cosine margin means something for it, else
        the manifest's, at ``threshold - margin`` in that score's units. The
        manifest's own threshold where the score is the manifest's: a level or a
        forced threshold chooses how decisions trade errors, not which references
        are consistent enough to keep."""
        manifest = self.encoder.manifest
        own = manifest.threshold if self.score_name == manifest.score else self.threshold
        for score, threshold in ((self.scorer, own), (self.decision, manifest.threshold)):
            scale = score.margin_scale()
            if scale is not None:
                return score, threshold - self.config.consistency_margin * scale
        raise ConfigError(f"neither {self.score_name!r} nor the manifest's {manifest.score!r} "
                          "can check an enrolment's consistency")

    def _refuse_rebinding(self, user: str) -> None:
        """An enrolment binds the store to this manifest (``manifest.binding``): refuse one
        that would re-approve an edited manifest for the other users bound to the old one."""
        try:
            check_binding(self.encoder.manifest, self.store.model_binding(self.model_sha), "model")
        except ManifestMismatch:
            if any(u.user != user and u.model_sha256 == self.model_sha for u in self.store.users()):
                raise
            # the only user bound to it re-enrols: the new manifest is theirs alone

    def check_enrollable(self, user: str, replace: bool = False) -> None:
        """Raise before anyone signs: an invalid user id, or one enrolled already without ``replace``."""
        check_user_id(user)
        if not replace and self.store.enrolled_model(user) is not None:
            raise AlreadyEnrolled(f"{user!r} is already enrolled; re-enrol with --replace")

    def enrol(self, user: str, sigs: list[Signature], replace: bool = False,
              count_failure: bool = True) -> enrolment.Enrolment:
        """Enrol (or with ``replace`` re-enrol) a user; raises on failure, counting it
        as a failure to enrol unless the caller will ask to sign again."""
        check_user_id(user)
        self._refuse_rebinding(user)
        # More files than [enrol] count are all kept: the store's 4 KB a user holds them too.
        check_user_budget(len(sigs), self.dim, self.layout.extra_bytes, "signatures given:")
        try:
            result = self.check_enrolment(sigs)
        except (EnrolmentError, SignatureError):
            if count_failure:
                self.store.count("failures_to_enrol")
            raise
        raw = None
        if self.config.store_raw:
            from firmware_bridge.svc2004 import format_signature
            raw = [format_signature(s) for s in sigs]
        traces = [None if (t := replay.path(s)) is None else t.to_bytes() for s in sigs]
        self.store.save_enrolment(user, self.model_sha, result.templates, result.stream_macs,
                                  result.stats, raw=raw, replace=replace, traces=traces, binding=self.binding)
        self.store.count("enrolments")
        log.info("enrolled %s: %r", user, result)
        return result

    # --- verification ------------------------------------------------------------

    def verify(self, user: str, sig: Signature) -> Decision:
        """Accept or reject ``sig`` as ``user``'s; never raises for bad input or state."""
        t0 = time.perf_counter()
        try:
            decision = self._verify(user, sig, t0)
        except Exception as exc:  # fail closed: whatever went wrong, it is not an accept
            decision = self._rejection(user, reason_for(exc), str(exc), t0)
            if decision.reason == Reason.ERROR and not isinstance(exc, SigpadError):
                log.exception("verify %s failed", user)  # a bug, not a state: the traceback helps
        return self._logged(decision, sig.source)

    def refuse_before_signing(self, user: str) -> Decision | None:
        """The rejection any signature of ``user`` would get (invalid id, locked out, unknown,
        enrolled with another model or pad kind), logged and kept, or None: ask this
        before anyone signs."""
        t0 = time.perf_counter()
        try:
            check_user_id(user)
            refused = self._lockout_rejection(user, self.clock(), t0)
            if refused is None:
                self._load(user)
                return None
        except Exception as exc:
            refused = self._rejection(user, reason_for(exc), str(exc), t0)
        return self._logged(refused, "")

    def reject_without_signature(self, user: str, reason: str, detail: str, pad: str = "") -> Decision:
        """The decision on an attempt that brought no signature to judge (the capture
        failed, the file was unreadable): not judged, not counted; logged and kept."""
        return self._logged(self._rejection(user, reason, detail), pad)

    def reject_refused_capture(self, user: str, refusal: Refusal, pad: str = "") -> Decision:
        """The decision on a capture the pad refused: not judged, not counted; logged and kept."""
        if refusal.kind == DAMAGED:
            return self._logged(Decision(user, False, None, self.threshold, Reason.DAMAGED, 0.0,
                                         refusal.reason, self.score_name, refusal.damage), pad)
        return self.reject_without_signature(user, Reason.CAPTURE, refusal.reason, pad=pad)

    def _rejection(self, user: str, reason: str, detail: str, t0: float | None = None,
                   score_value: float | None = None) -> Decision:
        """A rejecting decision (a value: not logged, not kept)."""
        latency = 0.0 if t0 is None else (time.perf_counter() - t0) * 1000
        return Decision(user, False, score_value, self.threshold, reason, latency, detail, self.score_name)

    def _logged(self, d: Decision, pad: str) -> Decision:
        """Log one line for the decision and keep it in the user's history."""
        fields = d.log_fields(pad)
        level = logging.WARNING if d.reason in SETUP_PROBLEMS else logging.INFO
        log.log(level, "decision %s", logfmt(fields), extra={"sigpad": fields})
        kept = ("accepted", "reason", "score", "latency_ms", "pad", "adapted", "reasons")
        entry: dict[str, Any] = {k: fields[k] for k in kept if k in fields}
        try:
            self.store.log_decision(d.user, self.clock(), entry)
        except Exception as exc:  # the history informs the operator; the decision stands
            log.warning("history of %s not kept: %s", d.user, exc)
        return d

    def _lockout_rejection(self, user: str, now: float, t0: float) -> Decision | None:
        """The rejection of a locked-out user (None: not locked out)."""
        remaining = self.lockout.remaining_s(self.store.lock_state(user), now)
        return self._locked_out(user, remaining, t0) if remaining > 0 else None

    def _load(self, user: str) -> Enrolled:
        """The user's enrolment for this model; a user enrolled on the other pad kind is told so."""
        try:
            return self.store.load(user, self.model_sha)
        except ReenrolmentNeeded as exc:
            if self.store.enrolled_model(user) == other_kind_sha(self.config, self.has_pressure):
                enrolled, here = ("with", "has none") if not self.has_pressure else ("without", "has it")
                raise WrongPadKind(f"{user!r} enrolled on a pad {enrolled} pressure and this pad {here}: "
                                   "sign on a pad of the enrolment's kind, or re-enrol on this one "
                                   "(enroll --replace)") from exc
            raise

    def _verify(self, user: str, sig: Signature, t0: float) -> Decision:
        check_user_id(user)
        now = self.clock()
        refused = self._lockout_rejection(user, now, t0)
        if refused is not None:
            return refused
        enrolled = self._load(user)
        check_binding(self.encoder.manifest, self.store.model_binding(self.model_sha),
                      str(getattr(self.encoder, "model_path", "model")))
        check_usable(sig)
        refs = self._references(enrolled)
        encoded = self.encoder.encode(sig)
        embedding = encoded.embedding
        probe = self.probe_layout.probe(embedding, self.probe_layout.extras(sig, encoded.learned))
        value = self.scorer(refs, probe)
        template = quantize(embedding)  # compared as stored: int8, like the references
        mac = replay.stream_mac(self.store.mac_key, sig)
        attempted = _Attempted(enrolled, refs, probe, value, mac, template,
                               replay.path(sig) if value >= self.threshold else None,
                               self._proposal(enrolled, refs, sig, encoded.learned, template, mac, value, now))
        verdict = self.store.judge(user, lambda history: self._judge(history, attempted, now),
                                   self.config.replay_history)
        return self._decision(user, verdict, attempted, t0)

    def _decision(self, user: str, verdict: Verdict, a: _Attempted, t0: float) -> Decision:
        """The decision the store's verdict on an attempt means (a scored one says what pulled it down)."""
        match verdict:
            case LockedOut(remaining_s):
                return self._locked_out(user, remaining_s, t0)
            case Replayed(why):
                return self._rejection(user, Reason.REPLAY, why, t0, a.value)
            case Scored(accepted, adapted):
                reason = Reason.MATCH if accepted else Reason.NO_MATCH
                detail = "" if accepted else f"score {a.value:.3f} below threshold {self.threshold:.3f}"
                down = reasons_of(self.scorer, a.refs, a.probe)
                return Decision(user, accepted, a.value, self.threshold, reason, (time.perf_counter() - t0) * 1000,
                                detail, self.score_name, adapted=adapted, reasons=down)

    def _judge(self, history: History, a: _Attempted, now: float) -> Judged:
        """Inside the store's transaction: lockout, replay, verdict, what to record."""
        remaining = self.lockout.remaining_s(history.state, now)
        if remaining > 0:            # a parallel attempt locked the user meanwhile
            return Judged(None, None, LockedOut(remaining))
        finding = replay.judge(a.mac, dequantize(a.template), a.refs.embeddings, a.enrolled.stream_macs,
                               history.attempts, self.config.replay_cosine, a.path)
        replayed = finding.why
        accepted = replayed is None and a.value >= self.threshold
        kept = Attempt(a.mac, a.template, accepted, a.path.to_bytes() if accepted and a.path else None)
        # Adapt only on an accept (so nothing matched a replay: no stream MAC, embedding
        # or path) whose path is not even near a kept one (a replay just past the limit
        # must not become a reference), only if the references are still those the
        # proposal was made on and the daily bound still holds (a parallel attempt may
        # have adapted meanwhile), and never on a probe too alike a kept attempt.
        adapt = a.proposal if accepted and not finding.replay_like and adaptation.may_adapt(
            history.profile, a.enrolled.profile, dequantize(a.template), history.attempts,
            self.config.replay_cosine) else None
        verdict: Verdict = Replayed(replayed) if replayed is not None else \
            Scored(accepted, "" if adapt is None else adapt.described)
        return Judged(kept, self.lockout.update(history.state, accepted, now), verdict,
                      None if adapt is None else adapt.replacement)

    def _locked_out(self, user: str, remaining_s: float, t0: float) -> Decision:
        """The rejection of a user locked out for ``remaining_s`` more (a value)."""
        return self._rejection(user, Reason.LOCKED_OUT,
                               f"too many failed attempts; locked for {remaining_s:.0f} s more", t0)

    def _proposal(self, enrolled: Enrolled, refs: scores.References, sig: Signature, learned: scores.Floats | None,
                  template: bytes, mac: bytes, value: float, now: float) -> _Proposal | None:
        """The adaptation an accept of this attempt would bring, or None: the pure choice
        is ``edge.adaptation.propose``'s; the blob is packed as enrolment packs it."""
        policy = self.config.adaptation
        if not policy.enabled or self.threshold_overridden or not value >= self.threshold + policy.margin:
            return None   # (a NaN never reaches the margin)
        extras = self.layout.extras(sig, learned)
        probe = self.layout.probe(dequantize(template), extras)
        chosen = adaptation.propose_for(policy, refs, enrolled.profile, probe, self.scorer, self.threshold,
                                        value, now, self.layout,
                                        embeddings_of(enrolled.baseline, self.dim, self.layout.extra_bytes))
        if chosen is None:
            return None
        return _Proposal(Replacement(chosen.index, pack(template, extras), mac, dict(chosen.references.stats), now,
                                     float(value)), chosen.describe(value))

    def _references(self, enrolled: Enrolled) -> scores.References:
        """The user's stored references, split into embeddings, DTW sequences, global and learned features."""
        return self.layout.references(enrolled.templates, enrolled.profile)


def open_store(config: Settings, service: bool = False, create: bool = True) -> Store:
    """The store and key that ``config`` names.

    ``create=False`` (every command but enrolment): a missing store is an
    error naming its path, not a new empty store and a new key - which would
    answer "nobody is enrolled" about the wrong place.
    """
    path = config.store_path(service)
    if not create and not path.exists():
        raise StoreMissing(f"no template store at {path}: enrol someone first (enroll creates it, "
                           "as does init), or name the store in use with --store or [store] path "
                           "(the service's is /var/lib/sigpad/templates.db: run as its user, "
                           "e.g. sudo sigpad ...)")
    store = Store(path, load_keys(config.key_path(service), create=create))
    log.info("store %s", path)
    return store


def open_verifier(config: Settings, service: bool = False, has_pressure: bool = True,
                  create: bool = True) -> Verifier:
    """Load the model, the key and the store that ``config`` names (``create``: see ``open_store``)."""
    encoder = Encoder(model_dir_of(config, has_pressure), backend=config.backend)
    store = open_store(config, service, create)
    try:
        verifier = Verifier(encoder, store, config)
    except Exception:
        store.close()
        raise
    m = encoder.manifest
    log.info("model %s (%s, sha256 %s..., %s, threshold %.3f)", encoder.model_path.parent,
             model_kind(verifier.has_pressure), m.sha256[:12], verifier.score_name, verifier.threshold)
    return verifier

