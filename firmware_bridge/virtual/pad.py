"""The virtual pad: a pad in software, on a real pty, for tests and demos.

It answers the host (ISDV4 query, sigpad HELLO with CAPS, start and stop),
replays ``Signature`` objects at their own sampling rate (a pty ignores baud,
so the pad paces itself), and injects faults on request. One thread serves
the pty; it sleeps in ``select`` between samples, so an idle pad is free.
Every method is thread-safe; pty changes (unplug, replug) run on the pad's
own thread so no file descriptor is closed under a ``select``.
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..protocols import get
from ..protocols.base import Capabilities, Command, Done, Event, PenReport, Protocol, Status
from ..signature import Signature
from .link import PtyLink


def reports_for(sig: Signature, caps: Capabilities, t0_us: int = 0,
                y_down: bool = False) -> list[PenReport]:
    """The reports a pad with ``caps`` sends for ``sig`` (what tests expect back).

    Coordinates are rounded; a signature that does not fit the pad's range is
    shifted to 0 and scaled down (one factor for x and y, keeping its shape).
    ``y_down`` writes y as ``max_y - y``, as such a pad does (the host's
    stream flips it back, so with the default the reports hold what arrives).
    Pressure is scaled to the pad's maximum; without recorded pressure a
    pen-down sample gets half of it. ``t_us`` follows the signature's times.
    """
    xs, ys = _fit(sig, caps)
    if y_down:
        ys = caps.max_y - ys
    t = np.round((sig.t_ms - sig.t_ms[0]) * 1000.0).astype(np.int64) + t0_us
    ps: list[int | None]
    if caps.max_pressure <= 0:
        ps = [None] * len(sig)
    elif sig.pressure is not None:
        ps = np.round(sig.pressure * caps.max_pressure).astype(int).tolist()
    else:
        ps = [caps.max_pressure // 2 if d else 0 for d in sig.pen_down]
    tilt = 0 if caps.max_tilt_x else None
    return [PenReport(int(x), int(y), p, bool(d), True, tilt, tilt, 0, int(tu))
            for x, y, p, d, tu in zip(xs, ys, ps, sig.pen_down, t)]


def _fit(sig: Signature, caps: Capabilities) -> tuple[npt.NDArray[np.int_], npt.NDArray[np.int_]]:
    x, y = sig.x, sig.y
    if x.min() >= 0 and y.min() >= 0 and x.max() <= caps.max_x and y.max() <= caps.max_y:
        return np.round(x).astype(int), np.round(y).astype(int)
    x, y = x - x.min(), y - y.min()
    scale = min(1.0, caps.max_x / max(x.max(), 1e-9), caps.max_y / max(y.max(), 1e-9))
    return (np.clip(np.round(x * scale), 0, caps.max_x).astype(int),
            np.clip(np.round(y * scale), 0, caps.max_y).astype(int))


@dataclass(eq=False)
class Replay:
    """One queued signature; ``wait()`` until the pad has sent all of it."""

    signature: Signature
    done: bool = True
    finished: threading.Event = field(default_factory=threading.Event)
    reports: list[PenReport] = field(default_factory=list)
    start: float | None = None
    index: int = 0

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


class VirtualPad:
    """A pad on a pty at ``path`` speaking ``protocol`` (isdv4, sigpad, topaz).

        with VirtualPad("isdv4") as vpad:            # starts serving
            pad = open_pad(vpad.path, "isdv4")
            vpad.sign(signature)                     # replayed at its own pace
            vpad.inject_garbage(32); vpad.unplug(); vpad.replug()
    """

    def __init__(self, protocol: str | Protocol = "sigpad", *, caps: Capabilities | None = None,
                 speed: float = 1.0, directory: str | None = None, heartbeat_s: float = 1.0,
                 serial: str = "VPAD-0001"):
        self.protocol = get(protocol)
        self.caps = caps or self.protocol.default_caps._replace(serial=serial)
        self.speed = speed
        self.heartbeat_s = heartbeat_s
        self.link = PtyLink(directory)
        self.commands: list[Command] = []     # every host command received, in order
        self.sent_frames = self.dropped_frames = self.lost_bytes = 0
        self._unasked = self.protocol.encode_command("start") == b""
        self.streaming = self._unasked
        self._jobs: deque[Replay] = deque()
        self._raw: deque[bytes] = deque()
        self._calls: deque[tuple[Callable[[], None], threading.Event]] = deque()
        self._faults = {"drop": 0, "corrupt": 0}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)   # a full pipe already means "wake up"
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._cmd_buf = b""
        self._boot = time.monotonic()
        self._next_beat = self._boot + heartbeat_s

    @property
    def path(self) -> str:
        """Stable path of the pad's serial port (a symlink to the current pty)."""
        return self.link.path

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> VirtualPad:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="virtual-pad", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(5.0)
        self.link.close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        for job in self._jobs:
            job.finished.set()

    def __enter__(self) -> VirtualPad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<VirtualPad {self.protocol.name} {self.path}>"

    # --- signing and faults --------------------------------------------------------------

    def sign(self, signature: Signature, done: bool = True, wait: bool = False,
             timeout: float | None = None) -> Replay:
        """Queue a signature; it is sent once the host has started the pad.
        ``done`` sends the "done" button at the end (sigpad)."""
        job = Replay(signature, done)
        with self._lock:
            self._jobs.append(job)
        self._wake()
        if wait:
            job.wait(timeout)
        return job

    def inject_garbage(self, data: bytes | int = 32, seed: int | None = None) -> None:
        """Send raw bytes between packets: given ones, or that many random ones."""
        if isinstance(data, int):
            data = random.Random(seed).randbytes(data)
        with self._lock:
            self._raw.append(bytes(data))
        self._wake()

    def drop_frames(self, n: int = 1) -> None:
        """Do not send the next ``n`` packets (their sequence numbers are used up)."""
        self._fault("drop", n)

    def corrupt_frames(self, n: int = 1) -> None:
        """Damage the next ``n`` packets (sigpad: a bad CRC; others: a bad byte)."""
        self._fault("corrupt", n)

    def unplug(self) -> None:
        """Pull the cable: the host's port fails; what the pad sends is lost."""
        self._on_thread(self.link.unplug)

    def replug(self) -> None:
        """Plug back in: a fresh pty at the same path, and the pad rebooted."""
        self._on_thread(self._reboot)

    def wait_streaming(self, timeout: float = 5.0) -> bool:
        """Until the host has started the pad (tests use this to avoid races)."""
        end = time.monotonic() + timeout
        while not self.streaming and time.monotonic() < end:
            time.sleep(0.01)
        return self.streaming

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until every queued signature has been sent."""
        with self._lock:
            jobs = list(self._jobs)
        return all(job.wait(timeout) for job in jobs)

    # --- the serving thread ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._closed.is_set():
            master = self.link.master
            fds = [self._wake_r] + ([master] if master is not None else [])
            ready, _, _ = select.select(fds, [], [], self._timeout())
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
            self._run_calls()
            master = self.link.master    # the calls may have unplugged or replugged it
            if master is not None and master in ready:
                self._read_commands(master)
            now = time.monotonic()
            self._send_raw()
            self._replay(now)
            self._heartbeat(now)

    def _timeout(self) -> float | None:
        now = time.monotonic()
        times = []
        if self.protocol.heartbeat and self.heartbeat_s > 0:
            times.append(self._next_beat)
        if self._jobs and self.streaming:
            job = self._jobs[0]
            times.append(now if job.start is None else
                         job.start + self._offset(job, job.index))
        return max(0.0, min(times) - now) if times else None

    def _offset(self, job: Replay, i: int) -> float:
        i = min(i, len(job.reports) - 1)
        first, this = job.reports[0].t_us, job.reports[i].t_us
        assert first is not None and this is not None   # reports_for stamps every report
        return (this - first) / 1e6 / self.speed

    def _replay(self, now: float) -> None:
        if not (self._jobs and self.streaming):
            return
        job = self._jobs[0]
        if job.start is None:
            job.start = now
            job.reports = reports_for(job.signature, self.caps, self._device_us(now),
                                      y_down=self.protocol.y_down)
        batch: list[PenReport] = []
        n = len(job.reports)
        while job.index < n and job.start + self._offset(job, job.index) <= now:
            batch.append(job.reports[job.index])
            job.index += 1
            if len(batch) == self.protocol.max_batch:
                self._emit(batch)
                batch = []
        if batch:
            self._emit(batch)
        if job.index >= n:
            self._finish(job)

    def _finish(self, job: Replay) -> None:
        last = job.reports[-1]
        # The pen leaves the pad: a report out of proximity, then "done" if asked.
        end: list[Event] = [last._replace(tip=False, proximity=False, pressure=0 if last.pressure is not None else None,
                             t_us=self._device_us(time.monotonic()))]
        if job.done:
            end.append(Done(self._device_us(time.monotonic())))
        self._emit(end)
        with self._lock:
            self._jobs.popleft()
        job.finished.set()

    def _read_commands(self, master: int) -> None:
        try:
            data = os.read(master, 4096)
        except OSError:
            return                      # nobody attached, or unplugged meanwhile
        cmds, self._cmd_buf = self.protocol.decode_commands(self._cmd_buf + data)
        for cmd in cmds:
            self.commands.append(cmd)
            if cmd.name == "query":
                self._seq = 0           # sigpad: numbering restarts with CAPS
                version = self.protocol.version
                self._emit([self.caps._replace(version=min(cmd.arg or version, version))],
                           faults=False)
            elif cmd.name in ("start", "stop"):
                self.streaming = cmd.name == "start" or self._unasked

    def _heartbeat(self, now: float) -> None:
        if not self.protocol.heartbeat or self.heartbeat_s <= 0 or now < self._next_beat:
            return
        self._next_beat = now + self.heartbeat_s
        self._emit([Status(self._device_us(now), self.streaming, 0)], faults=False)

    def _emit(self, events: Sequence[Event], faults: bool = True) -> None:
        before = self._seq
        data, self._seq = self.protocol.encode(events, self._seq)
        frames = ((self._seq - before) & 0xFFFF) or len(events)
        with self._lock:
            drop = faults and self._faults["drop"] > 0
            corrupt = faults and not drop and self._faults["corrupt"] > 0
            self._faults["drop"] -= drop
            self._faults["corrupt"] -= corrupt
        if drop:
            self.dropped_frames += frames
            return
        self.sent_frames += frames
        self._write(self.protocol.corrupt(data) if corrupt else data)

    def _write(self, data: bytes) -> None:
        while data and (master := self.link.master) is not None:
            try:
                n = os.write(master, data)
            except OSError:             # buffer full (no reader) or gone: lost, as on a wire
                break
            data = data[n:]
        self.lost_bytes += len(data)

    def _send_raw(self) -> None:
        while True:
            with self._lock:
                if not self._raw:
                    return
                data = self._raw.popleft()
            self._write(data)

    # --- helpers --------------------------------------------------------------------------

    def _device_us(self, now: float) -> int:
        return int((now - self._boot) * 1e6) & 0xFFFFFFFF

    def _reboot(self) -> None:
        self.link.plug()
        self._seq = 0
        self._cmd_buf = b""
        self.streaming = self._unasked

    def _fault(self, name: str, n: int) -> None:
        with self._lock:
            self._faults[name] += n

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass

    def _on_thread(self, fn: Callable[[], None]) -> None:
        if self._thread is None or not self._thread.is_alive():
            fn()
            return
        done = threading.Event()
        with self._lock:
            self._calls.append((fn, done))
        self._wake()
        done.wait(5.0)

    def _run_calls(self) -> None:
        while True:
            with self._lock:
                if not self._calls:
                    return
                fn, done = self._calls.popleft()
            fn()
            done.set()
