"""The manifest's operating points (``decision.levels``, ``decision.seen``), the choice
between them and a hand-set threshold (``edge.operating_point``), and the store's binding.

The manifests are the shipped pressure model's with a plain ``mean-cosine`` decision
(range [-1, 1], no parameters) so that every number below is worked by hand."""

import copy
import json

import pytest
from edge_cases import model_dir_for

from edge.errors import ConfigError, ManifestMismatch
from edge.manifest import Level, Manifest, binding, check_binding
from edge.operating_point import OperatingPoint, choose
from edge.settings import Settings

LEVELS = {"convenience": {"threshold": 0.7, "frr": 0.04, "far_skilled": 0.2, "far_random": 0.01},
          "balanced": {"threshold": 0.8, "frr": 0.1, "far_skilled": 0.1, "far_random": 0.002},
          "secure": {"threshold": 0.9, "frr": 0.3, "far_skilled": 0.02, "far_random": 0.0}}


def manifest_dict(levels=None, seen=None, threshold=0.8):
    data = json.loads((model_dir_for(True) / "manifest.json").read_text())
    data["decision"] = {"score": "mean-cosine", "threshold": threshold}
    if levels is not None:
        data["decision"]["levels"] = copy.deepcopy(levels)
    if seen is not None:
        data["decision"]["seen"] = seen
    return data


def manifest(**kw) -> Manifest:
    return Manifest.from_dict(manifest_dict(**kw))


def test_levels_and_seen_are_read_typed_and_written_back():
    m = manifest(levels=LEVELS, seen=[0.2, 0.97])
    assert m.levels["secure"] == Level(0.9, frr=0.3, far_skilled=0.02, far_random=0.0)
    assert m.levels["secure"].measured and m.seen == (0.2, 0.97)
    assert Manifest.from_dict(m.to_dict()) == m                         # the trainer's format, both ways
    assert m.to_dict()["decision"]["levels"]["convenience"] == LEVELS["convenience"]


def test_a_manifest_without_levels_has_one_balanced_level_unmeasured():
    m = manifest()
    assert m.levels == {} and m.seen is None and "levels" not in m.to_dict()["decision"]
    assert m.operating_levels() == {"balanced": Level(0.8)}
    assert not m.operating_levels()["balanced"].measured


@pytest.mark.parametrize(("levels", "seen", "names"), [
    ({"secure": {"threshold": 1.5}}, None, "decision.levels.secure.threshold"),       # above the cosine's 1
    ({"secure": {"threshold": -1.0}}, None, "decision.levels.secure.threshold"),      # accepts everything
    ({"secure": {"threshold": float("nan")}}, None, "decision.levels.secure.threshold"),
    ({"secure": {"threshold": 0.9, "frr": 1.2}}, None, "decision.levels.secure.frr"),
    ({"secure": {"threshold": 0.9, "far_random": -0.1}}, None, "decision.levels.secure.far_random"),
    ({"secure": {"threshold": 0.9, "far_skilled": "5%"}}, None, "decision.levels.secure.far_skilled"),
    ({"secure": {"frr": 0.1}}, None, "decision.levels.secure"),                       # no threshold
    ({"": {"threshold": 0.9}}, None, "decision.levels: level name ''"),
    ({"very secure": {"threshold": 0.9}}, None, "decision.levels: level name 'very secure'"),
    ({"balanced": {"threshold": 0.85}}, None, "decision.levels.balanced.threshold 0.85 is not decision.threshold"),
    ([0.9], None, "decision.levels"),
    (None, [0.97, 0.2], "decision.seen"),                                             # lowest above highest
    (None, [0.2], "decision.seen"),
    (None, [0.2, float("inf")], "decision.seen"),
])
def test_malformed_levels_are_refused_naming_the_field(levels, seen, names):
    with pytest.raises(ManifestMismatch, match="manifest: " + names.replace(".", r"\.")):
        Manifest.from_dict(manifest_dict(levels=levels, seen=seen))


def test_the_chosen_level_decides():
    m = manifest(levels=LEVELS, seen=[0.2, 0.97])
    assert choose(m, Settings(), "mean-cosine") == OperatingPoint(0.8, "balanced", m.levels["balanced"])
    point = choose(m, Settings(level="secure"), "mean-cosine")
    assert (point.threshold, point.level, point.hand_set) == (0.9, "secure", False)
    assert point.to_dict() == {"level": "secure", "threshold": 0.9, "hand_set": False, "forced": False,
                               "measured": True, "frr": 0.3, "far_skilled": 0.02, "far_random": 0.0}
    assert point.describe() == ("level secure, threshold 0.900, FRR 30.0 %, FAR skilled 2.0 %, random 0.0 % "
                                "on the training folds")
    with pytest.raises(ConfigError, match="level 'paranoid'.*has balanced, convenience, secure"):
        choose(m, Settings(level="paranoid"), "mean-cosine")
    unmeasured = choose(manifest(), Settings(), "mean-cosine")
    assert unmeasured.describe() == "level balanced, threshold 0.800, FRR/FAR not measured"
    assert unmeasured.to_dict()["frr"] is None and not unmeasured.to_dict()["measured"]
    with pytest.raises(ConfigError, match="has balanced$"):
        choose(manifest(), Settings(level="secure"), "mean-cosine")
    with pytest.raises(ConfigError, match="needs a threshold"):       # another score: no level is its own
        choose(m, Settings(level="secure"), "centroid-cosine")
    with pytest.raises(ConfigError, match="level 'two words'"):
        Settings(level="two words")


def test_a_hand_set_threshold_outside_the_seen_scores_is_refused_unless_forced():
    m = manifest(levels=LEVELS, seen=[0.2, 0.97])
    inside = choose(m, Settings(threshold=0.85), "mean-cosine")              # 0.2 <= 0.85 <= 0.97
    assert (inside.level, inside.hand_set, inside.forced) == (None, True, False)
    assert inside.describe() == "threshold 0.850 set by hand (not measured; never adapts)"
    assert choose(m, Settings(threshold=0.97), "mean-cosine").hand_set        # the ends are inside
    for outside in (0.1, 0.98):
        with pytest.raises(ConfigError, match=r"outside the scores the folds saw \(0.2 to 0.97\).*force"):
            choose(m, Settings(threshold=outside), "mean-cosine")
    forced = choose(m, Settings(threshold=0.98, force_threshold=True), "mean-cosine")
    assert (forced.threshold, forced.hand_set, forced.forced) == (0.98, True, True)
    assert "forced outside the scores the folds saw" in forced.describe()
    # a level's own threshold is that level, measured (so it may adapt)
    assert choose(m, Settings(threshold=0.9), "mean-cosine").level == "secure"
    # no seen range in the manifest: nothing to refuse by; another score: not its range
    assert choose(manifest(), Settings(threshold=0.99), "mean-cosine").hand_set
    assert choose(m, Settings(threshold=0.99), "centroid-cosine").hand_set


def test_levels_do_not_change_the_binding_but_an_edited_level_is_refused():
    plain = manifest()
    bound_before_levels = binding(plain)
    with_levels = manifest(levels=LEVELS, seen=[0.2, 0.97])
    # the same digest: users enrolled before the manifest had levels keep verifying
    assert binding(with_levels)["manifest_sha256"] == bound_before_levels["manifest_sha256"]
    check_binding(with_levels, bound_before_levels)
    bound = binding(with_levels)
    assert bound["levels"] == {"convenience": 0.7, "balanced": 0.8, "secure": 0.9}
    check_binding(with_levels, bound)
    check_binding(plain, bound)                                          # levels gone: the threshold stands
    easier = copy.deepcopy(LEVELS)
    easier["secure"]["threshold"] = 0.75
    with pytest.raises(ManifestMismatch, match=r"levels have other thresholds.*then: secure 0.9\)"):
        check_binding(manifest(levels=easier), bound)
    more = {**LEVELS, "strict": {"threshold": 0.95}}                     # a level the store has not seen
    check_binding(manifest(levels=more), bound)
    with pytest.raises(ManifestMismatch, match="is not the one this store's users were enrolled with"):
        check_binding(manifest(levels={"secure": {"threshold": 0.9}}, threshold=0.75), bound)
