"""The verifier with the real int8 model and a real store: decisions, replay, fail closed,
the manifest's checks, and line noise that is refused without being judged."""

import shutil
import time

import numpy as np
import pytest
from edge_cases import CASES

from edge.errors import ManifestMismatch, ModelError
from edge.model import Encoder
from edge.settings import Settings
from edge.verifier import Verifier, open_verifier
from firmware_bridge.capture import Refusal
from firmware_bridge.signature import Signature

pytestmark = pytest.mark.data


@pytest.mark.parametrize("user, genuine, forgery", CASES)
def test_genuine_accepted_forgery_rejected(make_verifier, sig, user, genuine, forgery):
    v = make_verifier()
    v.enrol(f"u{user}", [sig(user, s) for s in range(1, 7)])
    start = time.monotonic()
    ok = v.verify(f"u{user}", sig(user, genuine))
    wall_ms = (time.monotonic() - start) * 1000
    assert (ok.accepted, ok.reason) == (True, "match")
    assert ok.score >= ok.threshold == v.encoder.manifest.threshold
    assert 0 < ok.latency_ms <= wall_ms + 1     # milliseconds, of this call (however busy the machine)
    bad = v.verify(f"u{user}", sig(user, forgery))
    assert (bad.accepted, bad.reason) == (False, "no-match")
    assert bad.score < bad.threshold and "below threshold" in bad.detail


def test_score_is_the_manifests_score_on_the_stored_references(make_verifier, sig, encoder):
    v = make_verifier()
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    refs = encoder.embed_many([sig(1, s) for s in range(1, 7)])
    q = np.round(refs * 127) / 127  # the int8 templates as stored, renormalised
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    centroid = q.mean(axis=0) / np.linalg.norm(q.mean(axis=0))

    def expected(name, test):
        cos = q @ encoder.embed(test)
        return {"mean-cosine": float(np.mean(cos)),
                "centroid-max-cosine": 0.5 * (float(centroid @ encoder.embed(test)) + float(np.max(cos)))}[name]

    d = v.verify("alice", sig(1, 9))
    assert d.score_name == encoder.manifest.score  # the fused one: tests/edge/test_fused_decision.py
    cmc = make_verifier(score="centroid-max-cosine", threshold=0.5).verify("alice", sig(1, 11))
    assert cmc.score == pytest.approx(expected("centroid-max-cosine", sig(1, 11)), abs=1e-5)
    mean = make_verifier(score="mean-cosine", threshold=0.5).verify("alice", sig(1, 10))
    assert mean.score == pytest.approx(expected("mean-cosine", sig(1, 10)), abs=1e-5)


def test_threshold_is_configurable(make_verifier, sig):
    make_verifier().enrol("alice", [sig(1, s) for s in range(1, 7)])
    v = make_verifier(threshold=1.0)  # the highest allowed: only a perfect score reaches it
    d = v.verify("alice", sig(1, 8))
    assert not d.accepted and d.threshold == 1.0 and d.reason == "no-match"


# --- replay --------------------------------------------------------------------------

def _shifted(s: Signature, dt: float = 5000.0, jitter: int = 0, seed: int = 0) -> Signature:
    rng = np.random.default_rng(seed)
    noise = (lambda: rng.integers(-jitter, jitter + 1, len(s))) if jitter else (lambda: 0)
    return Signature.create(s.t_ms + dt, s.x + noise(), s.y + noise(), s.pen_down, s.pressure)


def test_replays_are_rejected(make_verifier, sig):
    v = make_verifier()
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    first = v.verify("alice", sig(1, 8))
    assert first.accepted
    again = v.verify("alice", sig(1, 8))                    # byte-identical stream
    assert (again.accepted, again.reason) == (False, "replay") and "stream" in again.detail
    shifted = v.verify("alice", _shifted(sig(1, 8)))        # same samples, new clock
    assert shifted.reason == "replay"
    enrolled = v.verify("alice", _shifted(sig(1, 3), jitter=1))  # a template, 1 unit of noise
    assert enrolled.reason == "replay" and "embedding practically identical" in enrolled.detail
    other = v.verify("alice", sig(1, 9))                    # a new genuine signature is fine
    assert other.accepted


# --- fail closed ---------------------------------------------------------------------

def test_unknown_user_and_bad_signatures(make_verifier, sig):
    v = make_verifier()
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    assert v.verify("bob", sig(1, 8)).reason == "unknown-user"
    assert v.verify("no such user!", sig(1, 8)).reason == "error"
    s = sig(1, 8)
    short = Signature.create(s.t_ms[:15], s.x[:15], s.y[:15], s.pen_down[:15], s.pressure[:15])
    d = v.verify("alice", short)
    assert (d.accepted, d.reason) == (False, "bad-signature") and "too short" in d.detail
    flat = Signature.create(s.t_ms, s.x, s.y, s.pen_down, None)   # the model needs pressure
    assert v.verify("alice", flat).reason == "bad-signature"


def test_any_internal_error_rejects(make_verifier, sig, monkeypatch):
    v = make_verifier()
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])

    def broken(_sig):
        raise RuntimeError("interpreter exploded")
    monkeypatch.setattr(v.encoder, "encode", broken)
    d = v.verify("alice", sig(1, 8))
    assert (d.accepted, d.reason, d.detail) == (False, "error", "interpreter exploded")


def test_corrupt_row_rejects(make_verifier, sig):
    import sqlite3
    v = make_verifier()
    v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    with sqlite3.connect(v.store.path) as db:
        db.execute("UPDATE templates SET sealed = substr(sealed, 1, 20) || x'00' || substr(sealed, 22)")
    d = v.verify("alice", sig(1, 8))
    assert (d.accepted, d.reason) == (False, "template-integrity")


def _copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_model_change_means_reenrolment(model_dir, tmp_path, sig):
    cfg = Settings(store=tmp_path / "t.db", model=model_dir, lockout_after=0)
    with open_verifier(cfg) as v:
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    other = _copy_model(model_dir, tmp_path / "other")
    import json
    m = json.loads((other / "manifest.json").read_text())
    m["decision"] = {k: v for k, v in m["decision"].items() if k not in ("levels", "seen")} | {"threshold": 0.5}
    # same file, but say it is a retrained one:
    data = (other / m["model_file"]).read_bytes() + b"\0"   # trailing byte: a different sha
    (other / m["model_file"]).write_bytes(data)
    import hashlib
    m["sha256"] = hashlib.sha256(data).hexdigest()
    (other / "manifest.json").write_text(json.dumps(m))
    with open_verifier(cfg.replace(model=other)) as v:
        d = v.verify("alice", sig(1, 8))
    assert (d.accepted, d.reason) == (False, "reenrolment-needed")


def test_missing_or_mismatched_model_refuses_to_load(model_dir, tmp_path):
    with pytest.raises(ModelError, match="cannot read manifest"):
        Encoder(tmp_path / "nowhere")
    bad = _copy_model(model_dir, tmp_path / "bad")
    f = bad / "encoder_int8.tflite"
    f.write_bytes(f.read_bytes()[:-1] + b"X")
    with pytest.raises(ManifestMismatch, match="sha256"):
        Encoder(bad)
    import json
    bad2 = _copy_model(model_dir, tmp_path / "bad2")
    m = json.loads((bad2 / "manifest.json").read_text())
    m["preprocessing"]["version"] = 99
    (bad2 / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ManifestMismatch, match="preprocessing version 99"):
        Encoder(bad2)
    m = json.loads((model_dir / "manifest.json").read_text())
    m["input"]["shape"] = [1, 128, m["input"]["shape"][2]]
    m["preprocessing"]["length"] = 128
    bad3 = _copy_model(model_dir, tmp_path / "bad3")
    (bad3 / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ManifestMismatch, match="input shape"):
        Encoder(bad3)


def test_a_score_without_threshold_is_refused(encoder, store):
    from edge.errors import ConfigError
    with pytest.raises(ConfigError, match="needs a threshold"):
        Verifier(encoder, store, Settings(score="znorm-mean-cosine"))
    assert Verifier(encoder, store, Settings(score="znorm-mean-cosine", threshold=-1.5)).threshold == -1.5


# --- replays in disguise (issue #14) ------------------------------------------------------

def test_each_disguised_replay_of_an_accepted_signature_is_refused(make_verifier, sig):
    from bench.replay_transforms import TRANSFORMS
    v = make_verifier()
    v.enrol("u5", [sig(5, s) for s in range(1, 7)])
    assert v.verify("u5", sig(5, 7)).accepted
    for name, transform in TRANSFORMS.items():
        d = v.verify("u5", transform(sig(5, 7)))
        # each scores above the threshold: only the replay rule stands in its way
        assert (d.accepted, d.reason) == (False, "replay") and d.score >= d.threshold, (name, d)
    for genuine in (8, 9, 10):                      # second genuine signatures still pass
        assert v.verify("u5", sig(5, genuine)).reason == "match"


def test_the_untouched_stream_is_refused_after_50_other_attempts(make_verifier, sig):
    v = make_verifier()
    v.enrol("u1", [sig(1, s) for s in range(1, 7)])
    assert v.verify("u1", sig(1, 8)).accepted
    others = [sig(u, s) for u in (2, 3, 4) for s in range(1, 18)][:50]   # other writers: 50 rejections
    assert [v.verify("u1", o).reason for o in others] == ["no-match"] * 50
    d = v.verify("u1", sig(1, 8))
    assert (d.accepted, d.reason) == (False, "replay") and "replayed stream" in d.detail


# --- the manifest ---------------------------------------------------------------------------

def _edited_manifest(model_dir, tmp_path, **decision):
    import json
    other = _copy_model(model_dir, tmp_path / "edited")
    m = json.loads((other / "manifest.json").read_text())
    for measured in ("levels", "seen"):   # the folds' figures are for the manifest's own threshold
        m["decision"].pop(measured, None)
    m["decision"].update(decision)
    (other / "manifest.json").write_text(json.dumps(m))
    return other


def test_a_threshold_that_accepts_everything_is_refused(model_dir, tmp_path):
    # The issue: a manifest threshold of -1 in a --model directory accepted a forgery.
    # (A cosine decision: the shipped fused score has no lower end, so -1 is lax, not all-accepting.)
    with pytest.raises(ManifestMismatch, match="threshold -1 would accept every signature"):
        Encoder(_edited_manifest(model_dir, tmp_path, score="centroid-max-cosine", params={}, threshold=-1))
    from edge.errors import ConfigError
    with pytest.raises(ConfigError, match="accept every signature"):
        open_verifier(Settings(store=tmp_path / "t.db", model=model_dir, score="centroid-max-cosine",
                               threshold=-1.0))


def test_a_model_directory_must_match_the_stores_binding(model_dir, tmp_path, sig):
    cfg = Settings(store=tmp_path / "t.db", model=model_dir, lockout_after=0)
    with open_verifier(cfg) as v:
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    edited = _edited_manifest(model_dir, tmp_path, threshold=0.2)    # same model file, easier threshold
    with open_verifier(cfg.replace(model=edited)) as v:
        d = v.verify("alice", sig(1, 21))                             # a skilled forgery
    assert (d.accepted, d.reason) == (False, "error")
    assert "is not the one this store's users were enrolled with" in d.detail
    with open_verifier(cfg) as v:                                     # the enrolled manifest still works
        assert v.verify("alice", sig(1, 8)).accepted


def test_enrolling_someone_else_does_not_re_approve_an_edited_manifest(model_dir, tmp_path, sig):
    from edge.errors import ManifestMismatch
    cfg = Settings(store=tmp_path / "t.db", model=model_dir, lockout_after=0)
    with open_verifier(cfg) as v:
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    edited = _edited_manifest(model_dir, tmp_path, threshold=-15.0)  # accepts nearly anyone
    with open_verifier(cfg.replace(model=edited)) as v:
        with pytest.raises(ManifestMismatch, match="is not the one"):
            v.enrol("bob", [sig(2, s) for s in range(1, 7)])          # would rebind alice's model too
        d = v.verify("alice", sig(2, 8))                             # another writer, as alice
    assert (d.accepted, d.reason) == (False, "error")
    # alone on the model, a user re-enrolled with the new manifest is bound to it
    alone = Settings(store=tmp_path / "alone.db", model=model_dir, lockout_after=0)
    with open_verifier(alone) as v:
        v.enrol("carol", [sig(3, s) for s in range(1, 7)])
    with open_verifier(alone.replace(model=edited)) as v:
        v.enrol("carol", [sig(3, s) for s in range(1, 7)], replace=True)
        assert v.verify("carol", sig(3, 8)).reason == "match"


# --- line noise: damaged, not judged, not counted ------------------------------------------

def _over_isdv4(s: Signature, ber: float, rng) -> "Signature | Refusal":
    """``s`` sent by an ISDV4 pad (one packet a sample, at its own pace) over a line
    that flips each bit with probability ``ber``; what the host captures."""
    from firmware_bridge.capture import SignatureCapture
    from firmware_bridge.protocols import isdv4
    from firmware_bridge.stream import SampleStream
    from firmware_bridge.virtual import reports_for
    stream, cap = SampleStream("isdv4"), SignatureCapture()
    found = []
    for r, t in zip(reports_for(s, isdv4.DEFAULT_CAPS, y_down=True), s.t_ms - s.t_ms[0]):
        packet = np.frombuffer(isdv4.encode_report(r), np.uint8)
        flips = np.packbits(rng.random(len(packet) * 8) < ber)
        now = 100.0 + t / 1000
        found += [cap.feed(item, now) for item in stream.feed((packet ^ flips).tobytes(), now)]
    found.append(cap.tick(now + 5.0))                  # the pen is lifted
    return next(f for f in found if f is not None)


def test_line_noise_gives_damaged_captures_and_never_a_lockout(make_verifier, sig):
    # The issue: at a bit error rate of 1e-3 rejections were ordinary no-matches,
    # counted toward the lockout. Genuine SVC2004 signatures sent as ISDV4 bytes.
    v = make_verifier(lockout_after=5)
    v.enrol("u1", [sig(1, s) for s in range(1, 7)])
    clean = _over_isdv4(sig(1, 8), 0.0, np.random.default_rng(0))
    assert isinstance(clean, Signature) and v.verify("u1", clean).accepted
    rng = np.random.default_rng(14)
    decisions = []
    for n in range(6, 21):
        got = _over_isdv4(sig(1, n), 1e-3, rng)
        decisions.append(v.reject_refused_capture("u1", got) if isinstance(got, Refusal) else v.verify("u1", got))
    damaged = [d for d in decisions if d.reason == "damaged-capture"]
    judged = [d for d in decisions if d.reason != "damaged-capture"]
    assert len(damaged) >= 10 and all(not d.accepted and d.damage for d in damaged)   # 12 of 15 with this seed
    assert all("sign again" in d.detail and d.to_dict()["damage"] for d in damaged)
    # only judged attempts count: the counter is the run of judged rejections at the end
    run = 0
    for d in judged:
        run = 0 if d.accepted else run + 1
    state = v.store.lock_state("u1")
    assert state.failures == run < 5 and state.locked_until == 0.0
