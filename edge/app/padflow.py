"""Signatures from a pad, for the CLI, the service and the demo.

``PadSource`` reads the pad on a thread of its own and queues what it
captures, so a caller can wait for "the next signature" with a timeout while
the pad keeps reading (and reconnecting after an unplug) in the background.
``enrol_from_pad`` and ``verify_from_pad`` are the two interactive flows:
they tell the writer what to do through ``say`` (stderr, a socket event...),
and they check the user first (unknown, locked out, enrolled already), so
nobody signs five times to hear that the name was wrong. A wait that ends
without a signature says what the pad sent meanwhile (``Pad.silence``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Protocol

from firmware_bridge.capture import CaptureConfig, Refusal
from firmware_bridge.errors import CaptureError
from firmware_bridge.pad import open_pad
from firmware_bridge.signature import Signature

from ..decision import Decision, reason_for
from ..enrol import Enrolment
from ..errors import EnrolmentError
from ..verifier import Verifier

Say = Callable[[str], None]
Item = Signature | Refusal | Exception | None
"""What a ``Captures`` queue holds: a capture, the reader's end (an exception, or None once closed)."""


class Source(Protocol):
    """Where the flows wait for signatures: ``PadSource`` (the CLI, the demo) or the service's ``LivePad``."""

    @property
    def name(self) -> str:
        """protocol:port, as a log line names the pad."""
        ...

    def next(self, timeout_s: float) -> Signature | Refusal:
        """The next signature or refusal; ``CaptureError`` when none comes."""
        ...


class _Cancelled:
    """Put in a ``Captures`` queue by ``cancel()``: the wait in progress ends."""


CANCELLED = _Cancelled()


class Captures:
    """Finished signatures and refusals, waited for with a timeout.

    The pad's thread ``put``s; one caller at a time waits in ``next``. An
    exception put here is the reader's end, reported to every later caller.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[Item | _Cancelled] = queue.Queue()

    def put(self, item: Item) -> None:
        self._queue.put(item)

    def cancel(self) -> None:
        """End the wait in progress (the host pressed Cancel, or its client left)."""
        self._queue.put(CANCELLED)

    def next(self, timeout_s: float) -> Signature | Refusal:
        """The next signature or refusal; raises ``CaptureError`` on timeout, cancel or end."""
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            raise self._timed_out(timeout_s) from None
        if isinstance(item, _Cancelled):
            raise CaptureError("cancelled by the host")
        if item is None:
            self._queue.put(None)  # stay ended for later callers
            raise CaptureError("the pad was closed")
        if isinstance(item, Exception):
            self._queue.put(None)
            raise CaptureError(f"the pad stopped: {item}") from item
        return item

    def _timed_out(self, timeout_s: float) -> CaptureError:
        return CaptureError(f"no signature within {timeout_s:g} s")

    def drain(self) -> None:
        """Forget what was captured while nobody asked (a stale signature is no answer)
        and any cancel that came when nothing waited."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is None or isinstance(item, Exception):
                self._queue.put(item)
                return


class PadSource(Captures):
    """A pad read continuously on a background thread (the CLI's and the demo's)."""

    def __init__(self, url: str, protocol: str, capture: CaptureConfig | None = None,
                 baud: int | None = None):
        super().__init__()
        self.pad = open_pad(url, protocol, config=capture or CaptureConfig(), baud=baud)
        self._before = self.pad.stats
        self._thread = threading.Thread(target=self._read, name="pad-reader", daemon=True)
        self._thread.start()

    @property
    def has_pressure(self) -> bool:
        return self.pad.caps.max_pressure > 0

    def _read(self) -> None:
        try:
            for item in self.pad.signatures():
                self.put(item)
        except Exception as exc:  # the reader's end is reported to whoever waits next
            self.put(exc)
        self.put(None)

    @property
    def name(self) -> str:
        """protocol:port, as a log line names the pad."""
        return f"{self.pad.protocol.name}:{self.pad.transport.port or self.pad.transport.url}"

    def next(self, timeout_s: float) -> Signature | Refusal:
        """The next signature or refusal; a timeout says what the pad sent meanwhile
        (``PadSilent``, ``PadGarbled``, or frames but no pen), and what came mostly
        undecodable is ``PadGarbled``."""
        self._before = self.pad.stats
        item = super().next(timeout_s)
        garbled = self.pad.garbled(self._before)
        if garbled is not None:
            raise garbled
        return item

    def _timed_out(self, timeout_s: float) -> CaptureError:
        return self.pad.silence(self._before, timeout_s)

    def close(self) -> None:
        self.pad.close()
        self._thread.join(5.0)

    def __enter__(self) -> PadSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def next_signature(source: Source, timeout_s: float, say: Say) -> Signature:
    """The next good signature; refusals (too short, unplugged...) ask to sign again."""
    while True:
        item = source.next(timeout_s)
        if isinstance(item, Signature):
            return item
        say(f"sign again: {item.reason}")


def enrol_from_pad(verifier: Verifier, source: Source, user: str, timeout_s: float, say: Say,
                   replace: bool = False) -> Enrolment:
    """Capture ``enrol_count`` signatures, replacing outliers up to ``enrol_retries`` times.
    The result's ``signatures`` are the accepted ones (outliers replaced), for the fleet's record."""
    verifier.check_enrollable(user, replace)  # before anyone signs
    count, retries = verifier.config.enrol_count, verifier.config.enrol_retries
    sigs: list[Signature] = []
    while len(sigs) < count:
        say(f"sign ({len(sigs) + 1}/{count})")
        sigs.append(next_signature(source, timeout_s, say))
    for attempt in range(retries + 1):
        try:
            return verifier.enrol(user, sigs, replace=replace, count_failure=attempt == retries)
        except EnrolmentError as exc:
            if attempt == retries or not exc.outliers:
                raise
            say(str(exc))
            for i in exc.outliers:
                say(f"sign again (replacing #{i + 1})")
                sigs[i] = next_signature(source, timeout_s, say)
    raise AssertionError("unreachable")


def verify_from_pad(verifier: Verifier, source: Source, user: str, timeout_s: float,
                    say: Say | None = None) -> Decision:
    """One attempt: the next capture, whatever it is, is the answer (fail closed).

    A user who cannot be verified (unknown, locked out, other model or pad
    kind) is refused before ``say("sign now")`` asks anyone to sign.
    """
    refused = verifier.refuse_before_signing(user)
    if refused is not None:
        return refused
    if say is not None:
        say("sign now")
    try:
        item = source.next(timeout_s)
    except CaptureError as exc:
        return verifier.reject_without_signature(user, reason_for(exc), str(exc), pad=source.name)
    if isinstance(item, Refusal):   # not judged: too short, unplugged, damaged by line noise
        return verifier.reject_refused_capture(user, item, pad=source.name)
    return verifier.verify(user, item)
