"""The verifier: enrol users and decide on signatures, failing closed.

``Verifier.verify`` never raises for a bad signature, a broken store or a
model problem: every error becomes a rejecting ``Decision`` with its reason,
so a caller that only looks at ``accepted`` is safe. What it does, in order:

1. lockout: a locked user is refused before the model runs;
2. load and authenticate the user's templates (unknown user, tampered row,
   wrong key, other model, a manifest other than the one enrolled with ->
   reject with that reason);
3. embed the signature (preprocess + int8 invoke + dequantize) and score it;
4. in ONE store transaction (``Store.judge``): check the lockout again (a
   parallel attempt may have locked the user meanwhile), check for a replay
   (the same stream MAC, an embedding practically identical to a template
   or a kept attempt, or - for an attempt that would be accepted - a path
   that runs along an earlier accepted one: ``edge.replay``), decide, record
   the attempt and move the lockout counter. If that fails the decision is
   a reject, since an unrecorded accept could be replayed and an unrecorded
   failure would dodge the lockout.

A capture the pad refused (``Verifier.refused``) is a rejection too, but not
a judged one: it is not recorded and does not count toward the lockout - a
damaged capture (line noise) is ``damaged-capture``, "sign again".
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from dataclasses import dataclass

from firmware_bridge.capture import DAMAGED, Refusal
from firmware_bridge.errors import SignatureError
from firmware_bridge.signature import Signature, check_usable

from . import enrol as enrolment
from . import replay, scores
from .decision import Decision, Reason, reason_for
from .errors import ConfigError, EnrolmentError
from .keys import load_keys
from .manifest import binding, check_binding, check_threshold
from .model import Encoder, resolve_model_dir, shipped_model_dir
from .settings import Settings
from .store import Attempt, Enrolled, History, Judged, Store, check_user_id
from .templates import dequantize, dequantize_many, quantize

log = logging.getLogger("sigpad")


@dataclass(frozen=True)
class _Attempted:
    """What the model made of one attempt, for the judgement in the store's transaction."""

    enrolled: Enrolled
    refs: np.ndarray
    value: float
    mac: bytes
    template: bytes
    path: replay.Trace | None      # only for an attempt that would be accepted


class Verifier:
    """Enrolment and verification for one model and one store."""

    def __init__(self, encoder: Encoder, store: Store, config: Settings = Settings(), clock=time.time):
        self.encoder, self.store, self.config, self.clock = encoder, store, config, clock
        manifest = encoder.manifest
        self.model_sha = manifest.sha256
        self.dim = manifest.embedding_dim
        self.score_name = config.score or manifest.score
        if config.threshold is not None:
            self.threshold = float(config.threshold)
        elif self.score_name == manifest.score:
            self.threshold = manifest.threshold
        else:
            raise ConfigError(f"score {self.score_name!r} needs a threshold (--threshold): "
                              f"the manifest's threshold is for {manifest.score!r}")
        check_threshold(self.score_name, self.threshold)
        self.binding = binding(manifest)
        self.lockout = config.lockout

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- enrolment ----------------------------------------------------------------

    def check_enrolment(self, sigs: list[Signature]) -> enrolment.Enrolment:
        """Embed and check enrolment signatures without storing (raises ``EnrolmentError``)."""
        for s in sigs:
            check_usable(s)
        embeddings = np.stack([self.encoder.embed(s) for s in sigs]) if sigs else np.zeros((0, self.dim))
        # "Would the others accept it", asked in a cosine score: the decision's
        # when it is one, else the manifest's with the manifest's threshold.
        name, base = self.score_name, self.threshold
        if not scores.get(name).on_cosine_scale:
            name, base = self.encoder.manifest.score, self.encoder.manifest.threshold
        return enrolment.build(embeddings, sigs, self.store.mac_key, self.config.enrol_count,
                               base - self.config.consistency_margin, self.config.replay_cosine, name)

    def enrol(self, user: str, sigs: list[Signature], replace: bool = False,
              count_failure: bool = True) -> enrolment.Enrolment:
        """Enrol (or with ``replace`` re-enrol) a user; raises on failure, counting it
        as a failure to enrol unless the caller will ask to sign again."""
        check_user_id(user)
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
        traces = [None if (t := replay.trace(s)) is None else t.to_bytes() for s in sigs]
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
            decision = self.reject(user, reason_for(exc), str(exc), t0)
            if decision.reason == Reason.ERROR:
                log.exception("verify %s failed", user)
        log.info("%r", decision)
        return decision

    def reject(self, user: str, reason: str, detail: str, t0: float | None = None,
               score_value: float | None = None) -> Decision:
        """A rejecting decision (also for callers whose capture failed before verify)."""
        latency = 0.0 if t0 is None else (time.perf_counter() - t0) * 1000
        return Decision(user, False, score_value, self.threshold, reason, latency, detail, self.score_name)

    def refused(self, user: str, refusal: Refusal) -> Decision:
        """The decision on a capture the pad refused: not judged, not counted."""
        if refusal.kind == DAMAGED:
            return Decision(user, False, None, self.threshold, Reason.DAMAGED, 0.0, refusal.reason,
                            self.score_name, refusal.damage)
        return self.reject(user, Reason.CAPTURE, refusal.reason)

    def _verify(self, user: str, sig: Signature, t0: float) -> Decision:
        check_user_id(user)
        now = self.clock()
        remaining = self.lockout.remaining_s(self.store.lock_state(user), now)
        if remaining > 0:
            return self._locked(user, remaining, t0)
        enrolled = self.store.load(user, self.model_sha)
        check_binding(self.encoder.manifest, self.store.model_binding(self.model_sha),
                      str(getattr(self.encoder, "model_path", "model")))
        check_usable(sig)
        refs = dequantize_many(enrolled.templates, self.dim)
        embedding = self.encoder.embed(sig)
        value = scores.score(self.score_name, refs, embedding, enrolled.profile)
        attempted = _Attempted(enrolled, refs, value, replay.stream_mac(self.store.mac_key, sig),
                               quantize(embedding),  # compared as stored: int8, like the references
                               replay.trace(sig) if value >= self.threshold else None)
        outcome = self.store.judge(user, lambda history: self._judge(history, attempted, now),
                                   self.config.replay_history)
        if outcome[0] == "locked":
            return self._locked(user, outcome[1], t0)
        replayed, accepted = outcome
        if replayed is not None:
            return self.reject(user, Reason.REPLAY, replayed, t0, value)
        reason = Reason.MATCH if accepted else Reason.NO_MATCH
        detail = "" if accepted else f"score {value:.3f} below threshold {self.threshold:.3f}"
        latency = (time.perf_counter() - t0) * 1000
        return Decision(user, accepted, value, self.threshold, reason, latency, detail, self.score_name)

    def _judge(self, history: History, a: _Attempted, now: float) -> Judged:
        """Inside the store's transaction: lockout, replay, verdict, what to record."""
        remaining = self.lockout.remaining_s(history.state, now)
        if remaining > 0:            # a parallel attempt locked the user meanwhile
            return Judged(None, None, ("locked", remaining))
        replayed = replay.check(a.mac, dequantize(a.template), a.refs, a.enrolled.stream_macs,
                                history.attempts, self.config.replay_cosine, a.path)
        accepted = replayed is None and a.value >= self.threshold
        kept = Attempt(a.mac, a.template, accepted, a.path.to_bytes() if accepted and a.path else None)
        return Judged(kept, self.lockout.update(history.state, accepted, now), (replayed, accepted))

    def _locked(self, user: str, remaining: float, t0: float) -> Decision:
        return self.reject(user, Reason.LOCKED_OUT, f"too many failed attempts; locked for {remaining:.0f} s more", t0)


def model_dir_of(config: Settings, has_pressure: bool = True) -> Path:
    """The model for a pad with (or without) pressure: the configured one
    (a models root gives the pad's kind), else the shipped one."""
    if config.model is None:
        return shipped_model_dir(has_pressure)
    return resolve_model_dir(config.model, has_pressure)


def open_verifier(config: Settings, service: bool = False, has_pressure: bool = True) -> Verifier:
    """Load the model, the key and the store that ``config`` names."""
    encoder = Encoder(model_dir_of(config, has_pressure), backend=config.backend)
    keys = load_keys(config.key_path(service))
    store = Store(config.store_path(service), keys)
    try:
        return Verifier(encoder, store, config)
    except Exception:
        store.close()
        raise
