"""The service's pad: opened whenever it is there, read on one thread, ink as it comes.

``LivePad`` is a ``Captures`` queue (what ``enrol_from_pad`` and
``verify_from_pad`` wait on) fed by a thread that opens the pad, retries
with backoff while it is missing, and reads it for the life of the service.
It tells the service what happens through ``emit(event)``, called on that
thread:

* ``{"event": "pad", "present": bool, ...}`` when the pad comes and goes;
* ``{"event": "ink", ...}`` for each pen sample while a request is armed:
  pad coordinates (``x``, ``y``, y upward as in every ``Sample``), normalised
  ones for a screen (``nx``, ``ny`` in 0..1 of the pad's range, ``ny``
  growing downward), pressure ``p`` (0..1 or null), ``down``, ``t_ms``;
* ``{"event": "pen", "down": bool}`` when the pen touches or leaves the pad.

Samples and signatures made while nothing is armed are dropped at once: a
signature nobody asked for never answers a later request - nor one that
began before the request, however late a busy reader finishes it - and no
ink streams while nobody is being asked to sign.

OK, Clear and Cancel come from the host (``ok``, ``clear``, ``cancel``, any
thread): OK ends the signature now; Clear throws away what the pad has
delivered of it so far and, if the pen is still on the pad, the rest of
that stroke (the person signs again from the next pen-down; the reader
thread does it before the next item, so nothing written afterwards is
lost); Cancel ends the wait of the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from firmware_bridge.capture import CaptureConfig, Refusal
from firmware_bridge.errors import TransportError
from firmware_bridge.pad import Pad, open_pad
from firmware_bridge.pad_events import PadEvent, Read, Unplugged
from firmware_bridge.protocols.base import Capabilities, Done
from firmware_bridge.signature import Sample, Signature

from ..wire import Message
from .padflow import Captures

log = logging.getLogger("sigpad.service")
Emit = Callable[[Message], None]
STROKE_GAP_MS = 60.0
"""Pen-down samples closer than this belong to one stroke (a moving pen reports every few
ms); a pen lifted and put down again takes longer. Only Clear's mid-stroke rule uses it."""


def ink_event(s: Sample, caps: Capabilities) -> Message:
    """One pen sample for the stream: pad units and 0..1 of the pad's range."""
    nx = s.x / caps.max_x if caps.max_x > 0 else 0.0
    ny = 1.0 - s.y / caps.max_y if caps.max_y > 0 else 0.0
    return {"event": "ink", "t_ms": round(s.t_ms, 3), "x": s.x, "y": s.y,
            "nx": round(nx, 5), "ny": round(ny, 5),
            "p": None if s.pressure is None else round(s.pressure, 4), "down": s.pen_down}


class LivePad(Captures):
    """The pad at ``url``, whenever it is plugged in, for the service."""

    def __init__(self, url: str, protocol: str, capture: CaptureConfig, emit: Emit,
                 baud: int | None = None):
        super().__init__()
        self.url, self.protocol, self.capture_config, self.baud = url, protocol, capture, baud
        self.emit = emit
        self.pad: Pad | None = None
        self.present = False
        self.armed = False                  # set by the service while a request waits
        self.last_signature: Signature | None = None
        self._clear = False                 # Clear pressed, not yet done on the reader's thread
        self._clear_mid_stroke = False      # ... while the pen was moving
        self._pen_down = False
        self._last_down: tuple[float, float] | None = None   # the last pen-down sample: (t_ms, arrival)
        self._skipping: float | None = None  # Clear came mid-stroke: t_ms of its last sample, dropped
        self._began: bool | None = None      # the signature in progress: began armed? (None: none yet)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pad-reader", daemon=True)
        self._thread.start()

    # --- what the service asks -------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def name(self) -> str:
        """protocol:port, as a log line names the pad."""
        return f"{self.protocol}:{self.url}"

    @property
    def caps(self) -> Capabilities | None:
        return self.pad.caps if self.pad is not None else None

    @property
    def has_pressure(self) -> bool:
        caps = self.caps
        return caps is not None and caps.max_pressure > 0

    def info(self) -> Message:
        """Whether the pad is there, and what a screen needs to know of it."""
        caps = self.caps if self.present else None
        info: Message = {"present": self.present, "port": self.url, "protocol": self.protocol}
        if caps is not None:
            info["pressure"] = caps.max_pressure > 0
            info["aspect"] = round(caps.max_x / caps.max_y, 4) if caps.max_y > 0 else None
        return info

    def next(self, timeout_s: float) -> Signature | Refusal:
        item = super().next(timeout_s)
        if isinstance(item, Signature):
            self.last_signature = item
        return item

    def ok(self) -> None:
        """The signature is finished (the OK button)."""
        if self.pad is not None:
            self.pad.request_end()

    def clear(self) -> None:
        """Throw away what the pad has delivered of the signature in progress; what comes next counts."""
        last = self._last_down
        self._clear_mid_stroke = last is not None and time.monotonic() - last[1] <= STROKE_GAP_MS / 1000
        self._clear = True
        pad = self.pad
        if pad is not None:
            pad.transport.cancel()      # wake the reader, which drops it (``_observe``)

    def close(self) -> None:
        self._stop.set()
        pad = self.pad
        if pad is not None:
            pad.close()
        self._thread.join(5.0)

    # --- the reader thread -------------------------------------------------------------

    def _run(self) -> None:
        delay, tries = 0.5, 0
        while not self._stop.is_set():
            try:
                pad = open_pad(self.url, self.protocol, config=self.capture_config, baud=self.baud)
            except TransportError as exc:
                tries += 1  # the first miss is a warning; the retries, backing off, are info
                log.log(logging.WARNING if tries == 1 else logging.INFO,
                        "no pad yet (%s); try %d failed, next in %.1f s", exc, tries, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay, tries = 0.5, 0
            self.pad = pad
            if self._stop.is_set():     # closed while opening
                pad.close()
                break
            self._set_present(True)
            self._read(pad)
        self.put(None)

    def _read(self, pad: Pad) -> None:
        try:
            for item in pad.signatures(observe=self._observe):
                self._finished(item)
        except Exception as exc:        # unplugged for good, or a bug: try again from the top
            if not self._stop.is_set():
                log.warning("the pad reader stopped (%s); reopening", exc)
        finally:
            pad.close()
            self._set_present(False)

    def _observe(self, item: PadEvent) -> None:
        if self._clear and self.pad is not None:
            # On the reader's thread, before this item is captured: every sample
            # delivered before Clear was pressed goes, unseen; if the pen was still
            # moving when it was pressed, so does the rest of that stroke.
            self._clear = False
            self.pad.capture.request_end()
            if self._clear_mid_stroke and self._last_down is not None:
                self._skipping = self._last_down[0]
            self._pen_down = False
        if self._skipping is not None and self._skip(item):
            return
        if isinstance(item, Unplugged):
            self._set_present(False)
        elif isinstance(item, Read):
            if not self.present and not self._stop.is_set():
                self._set_present(True)     # reconnected: reads work again
        elif isinstance(item, Sample):
            self._sample(item)

    def _skip(self, item: PadEvent) -> bool:
        """While the cleared stroke goes on, drop what capture holds of it (before each
        item is captured, so it never ends as a signature). It goes on while pen-down
        samples follow each other within ``STROKE_GAP_MS`` (the pad's own clock); a
        pen-up, the pad's Done, an unplug or a later touch end it. True: ``item`` is
        part of it (no ink)."""
        pad = self.pad
        if pad is None or isinstance(item, Unplugged):
            self._skipping = None
            return False
        pad.capture.request_end()           # the stroke's samples so far: dropped
        if isinstance(item, Sample) and item.pen_down and self._skipping is not None \
                and item.t_ms - self._skipping <= STROKE_GAP_MS:
            self._skipping = item.t_ms
            return True
        if isinstance(item, (Sample, Done)):
            self._skipping = None           # lifted: this one starts afresh
        return False

    def _sample(self, s: Sample) -> None:
        if s.pen_down:
            self._last_down = (s.t_ms, time.monotonic())
            if self._began is None:          # its first pen-down: was anybody asking yet?
                self._began = self.armed
        if not self.armed:
            return
        if s.pen_down != self._pen_down:
            self._pen_down = s.pen_down
            self.emit({"event": "pen", "down": s.pen_down})
        caps = self.pad.caps if self.pad is not None else None
        if caps is not None:
            self.emit(ink_event(s, caps))

    def _finished(self, item: Signature | Refusal) -> None:
        began_armed, self._began = self._began, None
        if self._pen_down:
            self._pen_down = False
            self.emit({"event": "pen", "down": False})
        if not self.armed or began_armed is False:
            return                      # nobody asked (when it began, too: a late reader must not count it)
        self.put(item)

    def _set_present(self, present: bool) -> None:
        if present == self.present:
            return
        self.present = present
        log.info("pad %s: %s", "present" if present else "gone", self.url)
        self.emit({"event": "pad", **self.info()})
