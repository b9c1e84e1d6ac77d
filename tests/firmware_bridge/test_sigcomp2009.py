"""The SigComp2009 .hwr reader: hand-made files, then the real archive."""

import itertools

import numpy as np
import pytest

from firmware_bridge import sigcomp2009
from firmware_bridge.errors import DataFormatError

ROWS = [(100 + k, 200 + 2 * k, 0 if k in (0, 11) else 512, 1070, 520) for k in range(12)]


def hwr(rows=ROWS, header="NLDCC-021_003_002"):
    return f"{header} {len(rows)}\n" + "".join(f"\t{r[0]:5d} {r[1]:5d} {r[2]:5d} {r[3]:5d} {r[4]:5d}\n"
                                                for r in rows)


def test_rows_become_a_200_hz_signature_with_hover_as_pen_up():
    sig = sigcomp2009.parse(hwr(), "x.hwr")
    assert len(sig) == 12
    np.testing.assert_array_equal(sig.t_ms, np.arange(12) * 5.0)  # 200 Hz: 5 ms a row
    assert list(sig.pen_down) == [False] + [True] * 10 + [False]  # pressure 0 hovers
    assert sig.pressure[1] == pytest.approx(512 / 1023)
    assert sig.x[3] == 103 and sig.y[3] == 206  # y kept as it is: it grows upward
    assert any("hover" in n for n in sig.notes)


def test_names_say_who_wrote_whose_signature():
    ids = sigcomp2009.name_of("hwr/NISDCC-021_003_002.hwr")
    assert (ids.writer, ids.author, ids.sample, ids.genuine) == (21, 3, 2, False)
    assert sigcomp2009.name_of("NISDCC-003_003_005.hwr").genuine
    assert sigcomp2009.name_of("U1S1.TXT") is None


@pytest.mark.parametrize("text, line, what", [
    ("", 1, "line 1"),
    ("NLDCC-021_003_002 3\n\t1 2 3 4 5\n", 1, "says 3 rows"),
    (hwr()[: hwr().index("\n") + 1] + "\t1 2 3 4\n" * 12, 2, "4 columns"),
    (hwr().replace("  512", "  5x2", 1), 3, "non-integer"),
])
def test_bad_files_name_the_line_and_the_fault(text, line, what):
    with pytest.raises(DataFormatError, match=what) as exc:
        sigcomp2009.parse(text, "bad.hwr")
    assert exc.value.line == line and exc.value.path == "bad.hwr"


@pytest.mark.data
def test_the_real_archive_reads_in_place():
    archive = sigcomp2009.default_archive()
    if not archive.exists():
        pytest.skip("SigComp2009 is not in ../shared")
    first = list(itertools.islice(sigcomp2009.read_archive(archive), 6))
    ids, sig = first[0]
    assert (ids.writer, ids.author, ids.sample) == (1, 1, 1) and ids.genuine
    assert len(sig) == 937  # the manifest's n_points
    assert int(sig.pen_down.sum()) == 774  # and its pen_down_points


@pytest.mark.slow
@pytest.mark.data
def test_training_set_from_the_archive_labels_genuine_and_forgeries_by_author():
    archive = sigcomp2009.default_archive()
    if not archive.exists():
        pytest.skip("SigComp2009 is not in ../shared")
    import csv

    from edge.preprocess import PreprocessConfig
    from trainer.data import load_sigcomp2009
    sets = load_sigcomp2009(PreprocessConfig(), 90_000)
    # The README: 60 genuine (12 authors x 5) and 1,845 forgeries; a signature
    # lasts at most 60 s, so forgeries of more than 12,001 rows (5 ms each) are left out.
    rows = list(csv.DictReader((archive.parent / "manifest.csv").open()))
    usable = [r for r in rows if r["label"] != "genuine" and (int(r["n_points"]) - 1) * 5 <= 60_000]
    assert int(sets.genuine.sum()) == 60 and int((~sets.genuine).sum()) == len(usable)
    assert 1800 < len(usable) < 1845
    assert sorted(set(sets.writer.tolist())) == [90_000 + a for a in range(1, 13)]
