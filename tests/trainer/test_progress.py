"""Progress of long jobs, on a clock the test moves, and real commands
(``synth``, ``evaluate``) reporting as they go."""

from __future__ import annotations

import io

from trainer import cli
from trainer.progress import Progress, clock_text


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_clock_text():
    assert [clock_text(s) for s in (0, 59.6, 61, 3599, 3600, 3725)] == [
        "0:00", "1:00", "1:01", "59:59", "1:00:00", "1:02:05"]


def test_quiet_lines_at_each_tenth_with_the_time_left():
    clock, out = Clock(), io.StringIO()
    with Progress(20, "writers", out, clock) as bar:
        for _ in range(20):
            clock.now += 3.0            # 3 s a writer
            bar.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in out.getvalue()   # a line every 2 writers, no redraw
    # after 2 writers in 6 s: 18 more at 3 s each = 54 s
    assert lines[0] == "writers: 2/20 (10 %), 0:06 elapsed, about 0:54 left"
    assert lines[-1] == "writers: 20/20 (100 %), 1:00 elapsed"


def test_cached_steps_do_not_count_towards_the_pace():
    clock, out = Clock(), io.StringIO()
    bar = Progress(5, "folds", out, clock)
    bar.advance(cached=True)
    bar.advance(cached=True)
    assert bar.left_s() is None and "time left unknown" in out.getvalue()
    clock.now += 600.0                  # one fold trained in 10 min
    bar.advance()
    assert bar.left_s() == 1200.0 and out.getvalue().splitlines()[-1].endswith("about 20:00 left")


def test_a_terminal_gets_one_redrawn_bar():
    clock, out = Clock(), Terminal()
    with Progress(4, "trials", out, clock) as bar:
        for _ in range(4):
            clock.now += 1.0
            bar.advance()
    text = out.getvalue()
    assert text.startswith("\rtrials [#####---------------] 1/4  0:01 elapsed, about 0:03 left")
    assert text.endswith("\rtrials [####################] 4/4  0:04 elapsed\n") and text.count("\n") == 1


def test_silent_shows_nothing():
    out = io.StringIO()
    with Progress(1, "towers", out, silent=True) as bar:
        bar.advance()
    assert out.getvalue() == ""


def test_synth_and_evaluate_report_progress(tmp_path, capsys):
    assert cli.main(["synth", "--writers", "3", "--out", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert "writers: 1/3 (33 %)" in err and "writers: 3/3 (100 %)" in err
    assert cli.main(["evaluate", "--data", str(tmp_path / "s"), "--trials", "2", "--json"]) == 0
    err = capsys.readouterr().err
    assert "dtw trials: 6/6 (100 %)" in err   # 3 writers x 2 trials
