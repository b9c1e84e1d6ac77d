"""Transport: URLs, port discovery and failures, without hardware."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import PadDisconnected, TransportError
from firmware_bridge.transport import Transport, find_port
from firmware_bridge.virtual.link import PtyLink


def test_loop_url_round_trip():
    t = Transport("loop://")
    t.open()
    t.write(b"\x81hello")
    assert t.read(0.5) == b"\x81hello"
    assert t.read(0.05) == b""
    t.close()


def test_missing_port_is_a_clear_transport_error():
    with pytest.raises(TransportError, match="cannot open /nonexistent/tty"):
        Transport("/nonexistent/tty").open()


def test_out_of_file_descriptors_is_a_transport_error_to_retry(monkeypatch):
    # The service's pad reader retries on TransportError; an OSError from a process out of
    # file descriptors (EMFILE) used to escape it and stop the service.
    import errno
    import os

    def no_fds():
        raise OSError(errno.EMFILE, "Too many open files")
    monkeypatch.setattr(os, "pipe", no_fds)
    with pytest.raises(TransportError, match="loop://: cannot open: Too many open files"):
        Transport("loop://")


def test_auto_without_matching_usb_id_lists_what_is_there():
    with pytest.raises(TransportError, match="no pad with USB id 1234:5678"):
        find_port(((0x1234, 0x5678),))


def test_pty_unplug_raises_then_reconnect_reopens_same_path():
    link = PtyLink()
    t = Transport(link.path, backoff=(0.01, 0.05))
    try:
        t.open()
        link.unplug()
        with pytest.raises(PadDisconnected):
            t.read(1.0)
        link.plug()
        assert t.reconnect() and t.stats.reconnects == 1 and t.stats.disconnects == 1
        import os
        os.write(link.master, b"back")
        assert t.read(1.0) == b"back"
    finally:
        t.close()
        link.close()


def test_close_stops_reconnect_attempts():
    import threading
    t = Transport("/nonexistent/tty", backoff=(0.01, 0.05))
    threading.Timer(0.2, t.close).start()
    assert t.reconnect() is False
