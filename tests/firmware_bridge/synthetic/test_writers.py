"""Synthetic writers: determinism, the API contract, statistics against SVC2004, files."""

import subprocess
import sys
import time

import numpy as np
import pytest

from firmware_bridge import svc2004
from firmware_bridge.errors import SynthesisError
from firmware_bridge.signature import Signature
from firmware_bridge.synthetic import Writer, make_writer
from firmware_bridge.synthetic.sigmalognormal import SigmaLognormal, pen_down_times, trajectory

WRITERS = [make_writer(s) for s in range(1, 13)]


def same(a: Signature, b: Signature) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.channels().values(), b.channels().values()))


def test_same_seed_and_index_give_the_same_signature_in_any_order():
    forged_first = make_writer(7)
    forged_first.forgery(2)
    assert same(make_writer(7).genuine(3), forged_first.genuine(3))
    assert same(make_writer(7).forgery(2), forged_first.forgery(2))
    assert not same(make_writer(7).genuine(3), make_writer(7).genuine(4))
    assert not same(make_writer(7).genuine(3), make_writer(8).genuine(3))


def test_signatures_keep_the_contract():
    for w in WRITERS[:4]:
        for sig in (w.genuine(0), w.forgery(0), w.genuine(10_000)):
            assert sig.pen_down.all()  # pen-up movement is not sampled
            assert sig.pressure.min() >= 0.0 and sig.pressure.max() <= 1.0
            assert sig.x.min() > -3000 and sig.x.max() < 15000
            assert sig.y.min() > -3000 and sig.y.max() < 15000
            steps = np.diff(sig.t_ms)
            assert np.all(steps > 0)
            assert np.isclose(np.median(steps), 10.0)


def test_pen_lifts_are_gaps_in_time():
    gaps = [np.count_nonzero(np.diff(w.genuine(0).t_ms) > 30) for w in WRITERS]
    assert np.median(gaps) >= 2  # SVC2004: median 5 strokes, so about 4 lifts


def test_rate_changes_sampling_not_the_signature():
    w = WRITERS[0]
    at100, at200 = w.genuine(5, 100.0), w.genuine(5, 200.0)
    assert abs(at200.duration_ms - at100.duration_ms) <= 10.0
    assert 1.8 < len(at200) / len(at100) < 2.2
    assert abs(np.ptp(at200.x) - np.ptp(at100.x)) < 0.02 * np.ptp(at100.x)


def summary(sigs):
    speeds = []
    for s in sigs:
        dt = np.diff(s.t_ms)
        v = np.hypot(np.diff(s.x), np.diff(s.y)) / dt * 1000
        speeds.append(np.median(v[dt < 30]))
    return (np.median([len(s) for s in sigs]), np.median([s.duration_ms for s in sigs]) / 1000,
            np.median([s.n_strokes for s in sigs]), np.median(speeds))


def test_statistics_fall_in_the_svc2004_ranges():
    # SVC2004 Task2 genuine: median 175 points, 2.1 s, 6 strokes, 11,700 units/s;
    # forgeries 215 points, 2.8 s. Ranges here are generous for 12 writers.
    genuine = [w.genuine(i) for w in WRITERS for i in range(3)]
    forged = [w.forgery(i) for w in WRITERS for i in range(0, 15, 5)]
    points, seconds, strokes, speed = summary(genuine)
    f_points, f_seconds, _, f_speed = summary(forged)
    assert 120 <= points <= 260 and 1.4 <= seconds <= 3.2
    assert 3 <= strokes <= 9
    assert 4000 <= speed <= 20000
    assert 1.05 <= f_points / points <= 1.6  # forgers are slower: more points
    assert f_seconds > seconds and f_speed < speed


def test_synthesis_is_fast():
    w = WRITERS[1]
    start = time.process_time()     # CPU time: the same on a busy machine, where wall time is not
    for i in range(40):
        w.genuine(i) if i < 20 else w.forgery(i)
    per_signature = (time.process_time() - start) / 40
    assert per_signature < 0.03  # measured ~3 ms


def test_files_load_through_the_svc2004_reader(tmp_path):
    sig = WRITERS[2].forgery(4)
    svc2004.write(sig, tmp_path / "U1S25.TXT")
    back = svc2004.read(tmp_path / "U1S25.TXT")
    assert len(back) == len(sig)
    assert back.n_strokes == sig.n_strokes
    assert np.abs(back.pressure - sig.pressure).max() <= 0.5 / 1023 + 1e-9
    assert np.abs(back.x - sig.x).max() <= 0.5


@pytest.mark.parametrize("call", [
    lambda: make_writer(-1), lambda: make_writer(1.5), lambda: make_writer(True),
    lambda: WRITERS[0].genuine(-1), lambda: WRITERS[0].forgery("3"),
    lambda: WRITERS[0].genuine(0, rate_hz=0.0), lambda: WRITERS[0].forgery(0, rate_hz=-100.0),
])
def test_bad_arguments_raise_a_clear_error(call):
    with pytest.raises(SynthesisError):
        call()


def test_a_writer_fitted_to_a_signature_varies_it():
    strokes = SigmaLognormal.create(
        t0=[0.0, 0.18, 0.5, 0.65], mu=[-1.6, -1.7, -2.6, -1.6], sigma=[0.3, 0.25, 0.25, 0.3],
        D=[2500.0, 2000.0, 1500.0, 1800.0], theta_s=[0.5, 2.5, 0.0, -1.0], theta_e=[1.5, 1.5, 0.0, 0.2],
        air=[False, False, True, False], x0=2000.0, y0=3000.0)
    t = pen_down_times(strokes, 100.0)
    x, y = trajectory(strokes, t)
    real = Signature.create(t * 1000, x, y, pressure=np.full(len(t), 0.7), source="test")
    writer = Writer.from_signature(real, seed=3)
    assert writer.fit_snr_db > 20.0
    assert writer.style.pressure == pytest.approx(0.7)
    copy = writer.genuine(0)
    assert copy.n_strokes == real.n_strokes
    assert abs(copy.duration_ms - real.duration_ms) < 0.4 * real.duration_ms
    assert len(writer.forgery(0)) > 10


def test_module_imports_nothing_from_higher_layers():
    code = ("import sys, firmware_bridge.synthetic; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('edge', 'trainer', 'tensorflow')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
