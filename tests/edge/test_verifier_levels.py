"""Operating points on the real model: a manifest that gains levels needs no re-enrolment,
the chosen level decides and adapts like the manifest's threshold, a forced threshold
decides but never adapts, and an edited level is refused as an edited manifest is."""

import json
import shutil

import pytest

from edge.errors import ConfigError
from edge.settings import Settings
from edge.verifier import open_verifier

pytestmark = pytest.mark.data


@pytest.fixture
def model_dir(model_dir, tmp_path):
    """The shipped model as it was before manifests had levels (its levels and range removed)."""
    dst = shutil.copytree(model_dir, tmp_path / "bare")
    m = json.loads((dst / "manifest.json").read_text())
    m["decision"].pop("levels", None)
    m["decision"].pop("seen", None)
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


def with_levels(model_dir, dst, **levels):
    """A copy of the model whose manifest lists ``levels`` (name=threshold) besides balanced."""
    shutil.copytree(model_dir, dst)
    m = json.loads((dst / "manifest.json").read_text())
    t = m["decision"]["threshold"]
    m["decision"]["levels"] = {"balanced": {"threshold": t, "frr": 0.1, "far_skilled": 0.1, "far_random": 0.01},
                               **{k: {"threshold": v} for k, v in levels.items()}}
    m["decision"]["seen"] = [t - 0.2, t + 3.0]
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


def enrolled(model_dir, path, sig, **changes):
    cfg = Settings(store=path, model=model_dir, lockout_after=0).replace(**changes)
    with open_verifier(cfg) as v:
        v.enrol("alice", [sig(1, s) for s in range(1, 7)])
    return cfg


def test_a_level_decides_without_reenrolment(model_dir, tmp_path, sig):
    plain = enrolled(model_dir, tmp_path / "a.db", sig)
    with open_verifier(plain) as v:
        balanced = v.verify("alice", sig(1, 9))
    t, s = balanced.threshold, balanced.score
    assert balanced.accepted and s > t                           # user 1's S9 passes at the manifest's threshold
    # The same enrolment in another store, verified through a manifest that gained a
    # "secure" level just above this signature's score: it decides, and refuses it.
    levels = with_levels(model_dir, tmp_path / "levels", secure=s + 0.01)
    other = enrolled(model_dir, tmp_path / "b.db", sig)          # enrolled before the levels existed
    with open_verifier(other.replace(model=levels, level="secure")) as v:
        assert not v.threshold_overridden and v.operating_point.level == "secure"
        d = v.verify("alice", sig(1, 9))
    assert (d.accepted, d.reason, d.threshold) == (False, "no-match", s + 0.01)
    assert d.score == pytest.approx(s, abs=1e-9)
    with open_verifier(other.replace(model=levels)) as v:        # balanced, through the levels' manifest
        assert v.verify("alice", sig(1, 10)).reason == "match"


def test_a_level_adapts_a_forced_threshold_never_does(model_dir, tmp_path, sig):
    levels = with_levels(model_dir, tmp_path / "levels", convenience=-1.4)   # below the shipped -1.218
    cfg = enrolled(levels, tmp_path / "a.db", sig, adapt=True, adapt_margin=0.0)
    with open_verifier(cfg.replace(level="convenience")) as v:
        assert v.threshold == -1.4 and not v.threshold_overridden
        assert v.verify("alice", sig(1, 9)).adapted                            # measured: it may adapt
    # seen starts at -1.418 (the shipped threshold - 0.2): -1.5 is outside, taken only when forced
    with pytest.raises(ConfigError, match="outside the scores the folds saw"):
        open_verifier(cfg.replace(threshold=-1.5))
    with open_verifier(cfg.replace(threshold=-1.5, force_threshold=True)) as v:
        assert v.threshold_overridden and v.operating_point.forced
        d = v.verify("alice", sig(1, 10))
    assert d.accepted and d.adapted == ""                                    # decides, never adapts


def test_a_level_edited_after_enrolment_is_refused(model_dir, tmp_path, sig):
    levels = with_levels(model_dir, tmp_path / "levels", secure=-0.9)
    cfg = enrolled(levels, tmp_path / "a.db", sig, level="secure")
    m = json.loads((levels / "manifest.json").read_text())
    m["decision"]["levels"]["secure"]["threshold"] = -1.3                    # easier than balanced, even
    (levels / "manifest.json").write_text(json.dumps(m))
    with open_verifier(cfg) as v:
        d = v.verify("alice", sig(1, 21))                                    # a skilled forgery
    assert (d.accepted, d.reason) == (False, "error") and "levels have other thresholds" in d.detail
