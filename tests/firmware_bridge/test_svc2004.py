import numpy as np
import pytest

from firmware_bridge import svc2004
from firmware_bridge.errors import DataFormatError

ROWS = ["100 200 1000 0 10 20 512", "110 200 1010 1 10 20 1023", "120 210 1020 1 10 20 0"]


def task2_text(rows):
    return "\r\n".join([str(len(rows))] + rows) + "\r\n"


def make_rows(n=12, start=1000, button=1):
    return [f"{100 + 10 * i} {200 + 5 * i} {start + 10 * i} {0 if i == 0 else button} 10 20 {500 + i}"
            for i in range(n)]


def test_parse_task2_scales_pressure_and_keeps_channels():
    sig = svc2004.parse(task2_text(make_rows()), "U1S1.TXT")
    assert len(sig) == 12
    assert sig.pressure[0] == pytest.approx(500 / 1023)
    assert sig.azimuth[0] == 10 and sig.altitude[0] == 20
    assert sig.t_ms[-1] - sig.t_ms[0] == 110
    assert sig.notes == ()


def test_parse_task1_has_no_pressure():
    rows = [f"{i} {2 * i} {10 * i} 1" for i in range(12)]
    sig = svc2004.parse("12\n" + "\n".join(rows), "t1")
    assert sig.pressure is None and sig.azimuth is None


def test_backward_time_is_sorted_and_recorded():
    rows = make_rows()
    rows[4], rows[5] = rows[5], rows[4]  # one step back in time
    sig = svc2004.parse(task2_text(rows), "f")
    assert np.all(np.diff(sig.t_ms) >= 0)
    assert sig.notes == ("sorted rows by time (1 backward steps)",)


def test_buttons_2_and_4_are_pen_up_and_recorded():
    rows = make_rows()
    rows[3] = rows[3].replace(" 1 10 20", " 2 10 20")
    rows[7] = rows[7].replace(" 1 10 20", " 4 10 20")
    rows[8] = rows[8].replace(" 1 10 20", " 5 10 20")
    sig = svc2004.parse(task2_text(rows), "f")
    assert list(np.flatnonzero(~sig.pen_down)) == [3, 7]
    assert "2 rows with button 2/4 read as pen-up" in sig.notes


@pytest.mark.parametrize("text, message", [
    ("", "f:1: empty file"),
    ("abc\n1 2 3 4\n", "f:1: point count 'abc' is not an integer"),
    # What Python's int() takes but no pad writes: separators, signs, absurd sizes.
    ("2\n1 2 3 4\n1 2 1_000 4\n", "f:3: value '1_000' is not an integer"),
    ("2\n1 2 3 4\n1 +2 3 4\n", "f:3: value '+2' is not an integer"),
    ("2\n1 2 3 4\n" + "9" * 309 + " 2 3 4\n", "f:3: a number of 309 digits (999999999999...) is out of range"),
    ("9" * 309 + "\n1 2 3 4\n", "f:1: a number of 309 digits"),
    ("2\n1 2 3 0 0 0 5\n1 2 13 1 0 0 1024\n", "f:3: pressure 1024 outside 0..1023"),
    ("2\n1 2 3 0 0 0 -1\n1 2 13 1 0 0 5\n", "f:2: pressure -1 outside 0..1023"),
    ("3\n1 2 3 4\n5 6 7 8\n", "f:1: header says 3 points, file has 2 rows"),
    ("2\n1 2 3 4 5\n1 2 3 4 5\n", "f:2: 5 columns, expected 4"),
    ("2\n1 2 3 4\n1 2 3\n", "f:3: 3 columns, expected 4"),
    ("2\n1 2 3 4\n1 x 3 4\n", "f:3: value 'x' is not an integer"),
    ("3\n1 2 3 4\n1 2 13 4\n1 2 23 4\n", "f: not a usable signature"),
])
def test_bad_files_name_file_and_line(text, message):
    with pytest.raises(DataFormatError) as err:
        svc2004.parse(text, "f")
    assert str(err.value).startswith(message)


def test_read_names_missing_and_binary_files(tmp_path):
    with pytest.raises(DataFormatError, match="cannot read"):
        svc2004.read(tmp_path / "nope.TXT")
    bad = tmp_path / "U1S1.TXT"
    bad.write_bytes(b"2\n1 2 3 4\n\xff\xfe\n")
    with pytest.raises(DataFormatError, match=r"U1S1.TXT:3: not ASCII"):
        svc2004.read(bad)


def test_write_then_read_round_trip(tmp_path):
    sig = svc2004.parse(task2_text(make_rows()), "f")
    svc2004.write(sig, tmp_path / "U1S1.TXT")
    again = svc2004.read(tmp_path / "U1S1.TXT")
    np.testing.assert_array_equal(again.x, sig.x)
    np.testing.assert_array_equal(again.t_ms, sig.t_ms)
    np.testing.assert_allclose(again.pressure, sig.pressure, atol=0.5 / 1023)
    first = (tmp_path / "U1S1.TXT").read_text().splitlines()[1].split()
    assert first[3] == "0"  # the first point of a stroke has button 0


def test_names_and_scan(tmp_path):
    assert svc2004.name_of("U12S31.TXT") == (12, 31)
    assert svc2004.name_of("USER3_7.txt") == (3, 7)
    assert svc2004.name_of("notes.txt") is None
    for name in ("U1S1.TXT", "U1S2.TXT", "U1S21.TXT", "U2S1.TXT", "README"):
        (tmp_path / name).write_text("x")
    users = svc2004.scan(tmp_path)
    assert sorted(users) == [1, 2]
    assert sorted(users[1].genuine) == [1, 2] and sorted(users[1].forgeries) == [21]
    with pytest.raises(DataFormatError, match="no U<user>S<sig>"):
        svc2004.scan(tmp_path / "..")  # a folder without signature files


@pytest.mark.data
@pytest.mark.parametrize("task, columns", [("Task1", 4), ("Task2", 7)])
def test_real_dataset_counts_and_quirks(svc2004_root, task, columns):
    users = svc2004.scan(svc2004_root / task)
    assert sorted(users) == list(range(1, 31))
    assert all(len(u.genuine) == 20 and len(u.forgeries) == 20 for u in users.values())
    sorted_files = 0
    for u in (1, 23):
        for path in list(users[u].genuine.values()) + list(users[u].forgeries.values()):
            sig = svc2004.read(path)
            assert (sig.pressure is not None) == (columns == 7)
            sorted_files += any("sorted" in n for n in sig.notes)
    long = svc2004.read(svc2004_root / task / "U23S2.TXT")
    if task == "Task1":  # the README's 27.7 s pause: 32.8 s in all
        assert long.duration_ms == pytest.approx(32_760, abs=100)
    manifest = (svc2004_root / "manifest.csv").read_text().splitlines()
    rows = [r.split(",") for r in manifest[1:] if r.startswith(f"{task}/U1S1.TXT")]
    assert len(svc2004.read(svc2004_root / task / "U1S1.TXT")) == int(rows[0][5])
