"""Logging for a terminal and for journald, set up once by the CLI (``setup``).

Under systemd, stderr is a stream into journald, which reads a ``<N>``
prefix on each line as that line's syslog priority (``sd-daemon(3)``);
without it every line is stored at priority 6 (info) and
``journalctl -p warning`` shows nothing. So when stderr is journald's
stream (``$JOURNAL_STREAM`` names its device and inode), each line gets the
prefix of its level. Where journald's native socket can be reached too,
records go there instead (``JournalHandler``, the standard library only:
nothing to install on the Pi), with the decision's fields as ``SIGPAD_*``
fields, so ``journalctl SIGPAD_REASON=locked-out`` finds them.

On a terminal the lines stay as they were: ``LEVEL message``.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

JOURNAL_SOCKET = Path(os.environ.get("SIGPAD_JOURNAL_SOCKET", "/run/systemd/journal/socket"))
IDENTIFIER = "sigpad"
HANDLER_NAME = "sigpad"
"""The name of the handler ``setup`` adds, so that a second ``setup`` replaces it."""

# Python level -> syslog priority (what journald's -p filters on).
PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def priority(levelno: int) -> int:
    return next((p for level, p in PRIORITIES if levelno >= level), 7)


def error_prefix(stream: TextIO | None = None) -> str:
    """What a line printed to stderr as an error starts with: ``<3>`` under journald."""
    return "<3>" if stderr_is_journal(stream) else ""


def stderr_is_journal(stream: TextIO | None = None, environ: Mapping[str, str] = os.environ) -> bool:
    """Is ``stream`` (stderr) the stream systemd connected to journald?"""
    expected = environ.get("JOURNAL_STREAM", "")
    stream = stream or sys.stderr
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


class PriorityFormatter(logging.Formatter):
    """``<N>message``, every line of it (a traceback is several lines, each read alone)."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines() or [""])


class JournalHandler(logging.Handler):
    """Records to journald's native socket: MESSAGE, PRIORITY and ``SIGPAD_*`` fields.

    A record that cannot be sent (journald restarting, a datagram too big)
    goes to ``fallback`` instead, so nothing is lost.
    """

    def __init__(self, path: Path = JOURNAL_SOCKET, fallback: logging.Handler | None = None):
        super().__init__()
        self.path = str(path)
        self.fallback = fallback
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sock.sendto(self.datagram(record), self.path)
        except OSError:
            if self.fallback is not None:
                self.fallback.handle(record)

    def datagram(self, record: logging.LogRecord) -> bytes:
        fields = {"MESSAGE": self.format(record), "PRIORITY": priority(record.levelno),
                  "SYSLOG_IDENTIFIER": IDENTIFIER, "LOGGER": record.name}
        for key, value in (getattr(record, "sigpad", None) or {}).items():
            fields[f"SIGPAD_{key.upper()}"] = _text(value)
        return b"".join(_field(k, str(v)) for k, v in fields.items())

    def close(self) -> None:
        self.sock.close()
        super().close()


def _text(value: object) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _field(key: str, value: str) -> bytes:
    data = value.encode()
    if b"\n" not in data:
        return key.encode() + b"=" + data + b"\n"
    # journald's binary form for values with newlines: name, newline, 64-bit LE length, value.
    return key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"


def handler_for(stream: TextIO | None = None, environ: Mapping[str, str] = os.environ,
                journal_socket: Path = JOURNAL_SOCKET) -> logging.Handler:
    """The handler for this process: journald's socket, a prefixed stream, or a plain one."""
    stream = stream or sys.stderr
    plain: logging.Handler = logging.StreamHandler(stream)
    if not stderr_is_journal(stream, environ):
        plain.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        return plain
    plain.setFormatter(PriorityFormatter("%(message)s"))  # journald adds time and unit
    if journal_socket.is_socket():
        native = JournalHandler(journal_socket, fallback=plain)
        native.setFormatter(logging.Formatter("%(message)s"))
        return native
    return plain


def setup(level: int, stream: TextIO | None = None) -> None:
    """Route the root logger through ``handler_for`` at ``level`` (replacing one set up before)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    handler = handler_for(stream)
    handler.set_name(HANDLER_NAME)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # gpiozero's fallback warnings too, at warning priority
