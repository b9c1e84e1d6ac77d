import numpy as np
import pytest

from firmware_bridge.errors import SignatureError, SigpadError
from firmware_bridge.signature import MIN_POINTS, MIN_USABLE_MS, Sample, Signature, check_usable, too_short


def line(n=20, dt=10.0, **kw):
    t = np.arange(n) * dt
    return Signature.create(t_ms=t, x=np.arange(n) * 3.0, y=np.zeros(n), **kw)


def test_create_freezes_channels():
    sig = line()
    with pytest.raises(ValueError):
        sig.x[0] = 5.0
    assert sig.duration_ms == 190.0
    assert len(sig) == 20
    assert not sig.has_pressure


def test_repr_is_readable():
    sig = line(source="U1S1.TXT")
    assert repr(sig) == "<Signature 20 pts 0.19s 1 strokes source='U1S1.TXT'>"
    assert repr(Sample(1.0, 2.0, 3.0, 0.5)) == "Sample(t=1.0ms x=2 y=3 p=0.500 down)"


def test_strokes_counted_from_lifts_and_gaps():
    t = np.r_[np.arange(10) * 10.0, 300 + np.arange(10) * 10.0]  # a 210 ms pause
    sig = Signature.create(t_ms=t, x=np.arange(20.0), y=np.arange(20.0))
    assert sig.n_strokes == 2
    down = np.ones(20, bool)
    down[5] = False  # a pen-up sample splits the first run
    sig = Signature.create(t_ms=t, x=np.arange(20.0), y=np.arange(20.0), pen_down=down)
    assert sig.n_strokes == 3


def test_samples_round_trip():
    sig = line(pressure=np.linspace(0, 1, 20))
    again = Signature.from_samples(sig.samples())
    np.testing.assert_array_equal(again.x, sig.x)
    np.testing.assert_array_equal(again.pressure, sig.pressure)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=MIN_POINTS - 1), "pen-down points"),
    (dict(n=20, dt=1.0), "duration 19 ms"),
    (dict(n=20, dt=4000.0), "duration 76000 ms"),
])
def test_bad_signatures_are_refused(kwargs, message):
    with pytest.raises(SignatureError, match=message):
        line(**kwargs)


def test_non_finite_zero_extent_backwards_and_pressure_range():
    t = np.arange(20) * 10.0
    x = np.arange(20.0)
    with pytest.raises(SignatureError, match="non-finite"):
        Signature.create(t_ms=t, x=np.where(x == 3, np.nan, x), y=x)
    with pytest.raises(SignatureError, match="zero extent"):
        Signature.create(t_ms=t, x=np.ones(20), y=np.ones(20))
    with pytest.raises(SignatureError, match="backwards"):
        Signature.create(t_ms=t[::-1], x=x, y=x)
    with pytest.raises(SignatureError, match="pressure outside"):
        Signature.create(t_ms=t, x=x, y=x, pressure=np.full(20, 1.5))
    with pytest.raises(SignatureError, match="channel y has 19"):
        Signature.create(t_ms=t, x=x, y=x[:-1])


def test_errors_are_also_builtins():
    with pytest.raises(ValueError):
        line(n=3)
    assert issubclass(SignatureError, SigpadError)


def test_the_usable_signature_rule_by_hand():
    # 10 pen-down points over 300 ms is the least a signature may be to be judged.
    assert too_short(MIN_POINTS, MIN_USABLE_MS) is None
    assert too_short(9, 400.0) == "too short (9 points, 400 ms; need 10 points and 300 ms)"
    assert too_short(20, 299.0) == "too short (20 points, 299 ms; need 10 points and 300 ms)"
    assert too_short(20, 120.0, min_duration_ms=100) is None            # a pad configured looser
    s = line(n=20, dt=10.0, source="line")                              # valid, but 190 ms
    with pytest.raises(SignatureError, match=r"^line: too short \(20 points, 190 ms"):
        check_usable(s)
    check_usable(line(n=40, dt=10.0))                                   # 390 ms: usable
