"""The serial line: open by URL, read and write bytes, survive an unplug.

Framing is not done here (as in pyserial, where ``serial.threaded`` splits
frames and a protocol handles them): a ``Transport`` moves bytes and counts
them; ``stream.SampleStream`` decodes.

* ``url`` is anything ``serial.serial_for_url`` takes: ``/dev/ttyUSB0``,
  ``/dev/serial/by-id/...``, ``loop://``, ``socket://host:port``,
  ``rfc2217://host:port``, or ``auto`` to find the pad by USB VID:PID
  (``find_port``), looked up again on every reconnect because a replugged
  adapter may come back under another name.
* ``read(timeout)`` blocks in the kernel (select) until bytes arrive or the
  timeout passes, so an idle pad costs no CPU. ``cancel()`` wakes it early.
* A failing read or write (unplugged adapter, closed pty) closes the port
  and raises ``PadDisconnected``; ``reconnect()`` then reopens the same URL
  with exponential backoff until it works or ``close()`` is called.
* A port is opened exclusively (pyserial's ``exclusive=True``, a ``flock``):
  two readers on one pad would each get part of the bytes and both judge
  broken signatures, so the second open fails with ``PortBusy`` naming the
  process that holds it (``port_access.open_error``).
"""

from __future__ import annotations

import os
import select
import termios
import threading
from typing import NoReturn

import serial
from serial.tools import list_ports

from .errors import PadDisconnected, TransportError
from .line import DEFAULT_LINE, SerialSettings
from .port_access import open_error
from .stats import Stats

READ_CHUNK = 4096
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 2.0


def find_port(usb_ids: tuple[tuple[int, int], ...]) -> str:
    """Device path of the first serial port whose USB VID:PID is in ``usb_ids``."""
    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    for p in ports:
        if (p.vid, p.pid) in usb_ids:
            return p.device
    wanted = ", ".join(f"{v:04x}:{p:04x}" for v, p in usb_ids) or "(none known)"
    seen = ", ".join(f"{p.device} [{p.vid or 0:04x}:{p.pid or 0:04x}]" for p in ports) or "none"
    raise TransportError(f"no pad with USB id {wanted}; serial ports: {seen}")


class Transport:
    """A serial port opened by URL that can be reopened after an unplug."""

    def __init__(self, url: str, settings: SerialSettings = DEFAULT_LINE,
                 usb_ids: tuple[tuple[int, int], ...] = (), stats: Stats | None = None,
                 backoff: tuple[float, float] = (BACKOFF_MIN_S, BACKOFF_MAX_S)):
        self.url = url
        self.settings = settings
        self.usb_ids = usb_ids
        self.stats = stats if stats is not None else Stats()
        self.backoff = backoff
        self.port: str | None = None     # what the URL resolved to
        self._ser: serial.Serial | None = None   # what serial_for_url gives (a URL handler for loop:// ...)
        self._closed = threading.Event()
        try:
            self._wake_r, self._wake_w = os.pipe()   # cancel() wakes a blocked select
        except OSError as exc:   # out of file descriptors: a passing state, for the caller to retry
            raise TransportError(f"{url}: cannot open: {exc.strerror or exc}") from exc
        os.set_blocking(self._wake_w, False)

    # --- opening ----------------------------------------------------------------

    def open(self) -> None:
        """Open once; raises ``TransportError`` naming the port and the reason."""
        if self._closed.is_set():
            raise TransportError(f"{self.url}: transport closed")
        port = find_port(self.usb_ids) if self.url == "auto" else self.url
        s = self.settings
        try:
            self._ser = serial.serial_for_url(
                port, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity,
                stopbits=s.stopbits, timeout=0, write_timeout=2.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            raise open_error(port, exc) from exc
        self.port = port

    def reconnect(self) -> bool:
        """Reopen with backoff until it works (True) or ``close()`` is called (False)."""
        self._drop()
        delay = self.backoff[0]
        while not self._closed.is_set():
            try:
                self.open()
            except TransportError:
                self._closed.wait(delay)     # sleeps in the kernel; close() wakes it
                delay = min(delay * 2, self.backoff[1])
                continue
            self.stats.reconnects += 1
            return True
        return False

    @property
    def is_open(self) -> bool:
        return self._ser is not None and self._ser.is_open

    # --- bytes ------------------------------------------------------------------

    def read(self, timeout: float | None) -> bytes:
        """Bytes available within ``timeout`` s (b'' if none); ``PadDisconnected`` if gone."""
        ser = self._require()
        try:
            if getattr(ser, "fd", None) is not None:   # URL handlers (loop://, socket://) have none
                return self._read_fd(ser, timeout)
            if ser.timeout != timeout:   # pyserial reconfigures the port on every set
                ser.timeout = timeout
            return ser.read(max(1, min(ser.in_waiting, READ_CHUNK)))
        except (serial.SerialException, OSError, termios.error) as exc:
            self._lost(exc)

    def _read_fd(self, ser: serial.Serial, timeout: float | None) -> bytes:
        # A real port (or pty): wait in select ourselves, then read what is
        # there without blocking. Changing pyserial's timeout would rewrite
        # termios each time, and a pty refuses that when parity is set.
        fd = ser.fd
        if fd is None:                   # closed meanwhile, by close() on another thread
            return b""
        ready, _, _ = select.select([fd, self._wake_r], [], [], timeout)
        if self._wake_r in ready:
            os.read(self._wake_r, 512)
        if ser.fd not in ready:          # not readable, or closed while we waited (fd None)
            return b""
        return ser.read(max(1, min(ser.in_waiting, READ_CHUNK)))

    def write(self, data: bytes) -> None:
        if not data:
            return
        ser = self._require()
        try:
            ser.write(data)
        except (serial.SerialException, OSError, termios.error) as exc:
            self._lost(exc)

    def discard_input(self) -> None:
        """Drop bytes already received (stale packets before a handshake)."""
        try:
            self._require().reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)

    def cancel(self) -> None:
        """Wake a ``read`` blocked in another thread (where pyserial can)."""
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass                         # pipe full: a wake-up is already pending
        ser = self._ser
        if ser is not None and getattr(ser, "fd", None) is None and hasattr(ser, "cancel_read"):
            try:
                ser.cancel_read()
            except (serial.SerialException, OSError):
                pass

    def close(self) -> None:
        self._closed.set()
        self.cancel()
        self._drop()

    def __del__(self) -> None:
        for fd in (getattr(self, "_wake_r", None), getattr(self, "_wake_w", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    # --- internals ----------------------------------------------------------------

    def _require(self) -> serial.Serial:
        if self._ser is None:
            raise PadDisconnected(f"{self.port or self.url}: not connected")
        return self._ser

    def _lost(self, exc: BaseException) -> NoReturn:
        if not self._closed.is_set():
            self.stats.disconnects += 1
        self._drop()
        raise PadDisconnected(f"{self.port or self.url}: pad went away ({exc})") from exc

    def _drop(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError):
                pass

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Transport {self.port or self.url} {state}>"
