"""``sigpad serve`` in a thread of the test process, on a virtual pad, for the service tests.

``running(cfg)`` starts it, waits until the control socket answers and the
pad is present, and stops it at the end (asserting it exited 0 unless told
not to). ``Notify`` is a datagram socket standing in for systemd's.

Every wait here is for an event, bounded by ``PATIENCE_S`` (``helpers.waiting``).
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

from helpers.waiting import PATIENCE_S

from edge.app.service import serve
from edge.client import HttpClient, ServiceClient


class Notify:
    """A stand-in for systemd's notify socket; ``states()`` reads what arrived."""

    def __init__(self, path, monkeypatch, watchdog_usec: int | None = None):
        self.rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.rx.bind(str(path))
        self.rx.settimeout(0.2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        if watchdog_usec is None:
            monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        else:
            monkeypatch.setenv("WATCHDOG_USEC", str(watchdog_usec))
        self.seen: list[str] = []

    def until(self, wanted, timeout_s: float = PATIENCE_S) -> list[str]:
        """Messages until one for which ``wanted(message)`` holds (AssertionError after the timeout)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                msg = self.rx.recv(4096).decode()
            except TimeoutError:
                continue
            self.seen.append(msg)
            if wanted(msg):
                return self.seen
        raise AssertionError(f"no such notify message within {timeout_s} s; got {self.seen}")

    def drain(self) -> list[str]:
        """The messages queued by now, without waiting for more (a datagram sent has arrived)."""
        self.rx.setblocking(False)
        try:
            while True:
                self.seen.append(self.rx.recv(4096).decode())
        except BlockingIOError:
            return self.seen
        finally:
            self.rx.settimeout(0.2)


@contextmanager
def running(cfg, pin_factory=None, expect_exit: int | None = 0, wait_pad: bool = True):
    stop, result = threading.Event(), []
    t = threading.Thread(target=lambda: result.append(serve(cfg, stop, pin_factory=pin_factory)),
                         daemon=True)
    t.start()
    try:
        end = time.monotonic() + PATIENCE_S
        with connect(cfg.socket, until=end, alive=t.is_alive, why=lambda: result) as c:
            while wait_pad and not c.status()["pad"]["present"]:
                assert time.monotonic() < end, "the pad never became present"
                time.sleep(0.05)
        yield t
    finally:
        stop.set()
        t.join(20)
    assert not t.is_alive(), "serve did not stop"
    if expect_exit is not None:
        assert result == [expect_exit]


def connect(path, until: float | None = None, alive=lambda: True, why=lambda: "", client=True):
    """A ``ServiceClient`` of the control socket at ``path`` (a plain socket unless
    ``client``) once it accepts connections.

    The socket's file appears when the service binds it, a moment before it
    listens: a connection in that moment is refused. So this retries a refused
    (or missing) socket until ``until`` (a ``time.monotonic()``), as long as
    ``alive()`` says the service is still starting (``why()``: what to say if not).
    The connection counts as one of the service's clients until it is closed."""
    end = time.monotonic() + PATIENCE_S if until is None else until
    while True:
        try:
            if client:
                return ServiceClient(path, timeout_s=PATIENCE_S)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(path))
            except OSError:
                s.close()
                raise
            return s
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            assert alive(), f"serve stopped before it listened: {why()}"
            assert time.monotonic() < end, f"serve did not listen on {path}: {exc}"
            time.sleep(0.02)


def http_client(cfg, **kw) -> HttpClient:
    """The web API of a running service (the URL from its status, the token from its file)."""
    with ServiceClient(cfg.socket) as c:
        url = c.status()["url"]
    return HttpClient(url, token_file=cfg.socket.parent / "http.token", **kw)


def kiosk_url(cfg, url: str) -> str:
    """The signer's page of a running service, its credential in the fragment (``/#k=TOKEN``).
    The kiosk token file is the credentials middleware's; until a service writes one, any
    value opens the page (the routes it calls admit everyone)."""
    token_file = cfg.socket.parent / "kiosk.token"
    token = token_file.read_text().strip() if token_file.exists() else "no-kiosk-token-yet"
    return f"{url.rstrip('/')}/#k={token}"


JUDGED = ("match", "no-match", "replay")
"""The reasons of a decision that judged a signature (the user was checked first)."""


def enrol_directly(cfg, user: str = "writer", seed: int = 7_000_000_099) -> None:
    """Enrol ``user`` in ``cfg``'s store from 6 synthetic signatures (the default count), before the service
    starts: a verify asks for an enrolled user before anyone signs (unknown users are
    refused at once), so the tests that hold the pad with a verify need one."""
    from edge.verifier import open_verifier
    from firmware_bridge.virtual import synthetic_signatures
    with open_verifier(cfg) as v:
        v.enrol(user, list(synthetic_signatures(seed, 6)))


def locked_out_store(cfg):
    """``cfg``'s store with user 'writer' enrolled and locked out by one skilled forgery
    (``cfg`` must lock after one failure); returns ``cfg``."""
    from edge.verifier import open_verifier
    from firmware_bridge.virtual import synthetic_signatures
    enrol_directly(cfg, "writer")
    with open_verifier(cfg) as v:
        forged = next(synthetic_signatures(7_000_000_099, 1, forgeries=True))
        assert v.verify("writer", forged).reason == "no-match"
        assert v.store.lock_state("writer").locked_until > 0
    return cfg
