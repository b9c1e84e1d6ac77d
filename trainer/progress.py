"""Progress of long jobs: a bar with the time left on a terminal, a few quiet lines elsewhere.

``make model`` runs for hours (five folds, three towers, 2000 synthetic
writers each), ``synth`` and ``evaluate`` for minutes. On a terminal (stderr
is a tty) one line is redrawn::

    cross-validation folds [######--------------] 2/5  1:02:11 elapsed, about 2:33:20 left

Elsewhere (CI, ``make model > log``) nothing is redrawn: a line at most at
each tenth of the job or once a minute, and one when it ends::

    cross-validation folds: 2/5 (40 %), 1:02:11 elapsed, about 2:33:20 left

The time left is extrapolated from the steps computed in this run; steps
found in a cache take no time and are not counted, so a half-cached run does
not promise too little. Progress never changes what is computed.

Training and evaluation both show it, so it is a leaf of its own: it imports
nothing of the trainer, and the evaluation wing, which imports nothing of the
training side, may import it (tests/trainer/evaluation/test_no_tensorflow.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 20
REDRAW_S = 0.2       # a terminal line at most this often
QUIET_EVERY_S = 60.0  # elsewhere, a line at least this often while something moves


def clock_text(seconds: float) -> str:
    h, rest = divmod(round(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Count ``total`` steps of a job called ``label``; use as a context manager."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 interactive: bool | None = None, silent: bool = False):
        self.total, self.label, self.silent = max(int(total), 0), label, silent
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.interactive = _is_tty(self.stream) if interactive is None else interactive
        self.done = self.computed = 0
        self.start = self._computing_s = clock()
        self._spent_s = 0.0
        self._last_line = self.start  # the first line at a tenth, or after a minute
        self._last_tenth = 0
        self._ended = False

    def advance(self, n: int = 1, cached: bool = False) -> None:
        """``n`` more steps done; ``cached``: they were read back, not computed."""
        now = self.clock()
        if not cached:
            self.computed += n
            self._spent_s += now - self._computing_s
        self._computing_s = now
        self.done = min(self.total, self.done + n)
        self._show(now, final=False)

    def left_s(self) -> float | None:
        """Seconds left at the pace of the steps computed so far (None: none yet)."""
        if self.computed == 0:
            return None
        return self._spent_s / self.computed * (self.total - self.done)

    def text(self, now: float) -> str:
        elapsed = clock_text(now - self.start)
        left = self.left_s()
        eta = "" if self.done >= self.total else (
            ", time left unknown" if left is None else f", about {clock_text(left)} left")
        if self.interactive:
            filled = BAR_WIDTH * self.done // max(self.total, 1)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            return f"{self.label} [{bar}] {self.done}/{self.total}  {elapsed} elapsed{eta}"
        percent = 100 * self.done // max(self.total, 1)
        return f"{self.label}: {self.done}/{self.total} ({percent} %), {elapsed} elapsed{eta}"

    def _show(self, now: float, final: bool) -> None:
        if self.silent or (final and self._ended):
            return
        self._ended = final or self.done >= self.total  # the last line is written once
        if self.interactive:
            if self._ended or now - self._last_line >= REDRAW_S:
                self._write("\r" + self.text(now) + ("\n" if self._ended else ""), now)
            return
        tenth = 10 * self.done // max(self.total, 1)
        if self._ended or tenth > self._last_tenth or now - self._last_line >= QUIET_EVERY_S:
            self._last_tenth = tenth
            self._write(self.text(now) + "\n", now)

    def _write(self, text: str, now: float) -> None:
        self._last_line = now
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream must not stop a job of hours

    def close(self) -> None:
        self._show(self.clock(), final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
