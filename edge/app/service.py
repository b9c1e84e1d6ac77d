"""``sigpad serve``: the pad, a local control socket, GPIO lines, systemd.

The host application connects to a Unix socket and writes one request per
line, as JSON (``{"cmd": "verify", "user": "alice"}``) or as words
(``verify alice``). Commands: ``verify USER``, ``enrol USER [replace]``,
``users``, ``delete USER``, ``ping``. The service answers with JSON lines:
``{"event": "prompt", "message": "sign (1/5)"}`` while it waits for the pen,
then ``{"event": "decision", ...}`` (the fields of ``Decision``),
``{"event": "enrolled", ...}``, ``{"event": "users", ...}`` or
``{"event": "error", "error": ...}``.

One pad, one writer: a second ``verify``/``enrol`` while one is in progress
gets ``busy``. Signatures made while nobody asked are thrown away, so a
stale signature can never answer a later request. Malformed requests get an
error event; nothing a client sends stops the service or becomes an accept.

On a decision, the accept or reject GPIO line (gpiozero) is pulsed for
``gpio_pulse_s``. Under systemd (``Type=notify``) the service sends
``READY=1`` at once, before the pad is open (a missing pad is waited for,
with ``STATUS=``); the control socket exists once the pad, model and store
are open. ``WATCHDOG=1`` follows at half the watchdog interval, over a plain
datagram to ``$NOTIFY_SOCKET``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import socketserver
import threading
import time
from pathlib import Path

from firmware_bridge.errors import SigpadError, TransportError

from ..decision import Decision
from ..errors import ConfigError, EnrolmentError
from ..store import check_user_id
from ..verifier import Verifier, open_verifier
from .config import Config
from .gpio import Outputs
from .padflow import PadSource, enrol_from_pad, verify_from_pad

log = logging.getLogger("sigpad.service")
MAX_LINE = 4096
SIGN_TIMEOUT_S = 60.0


# --- systemd ----------------------------------------------------------------------

def sd_notify(state: str) -> bool:
    """Send ``state`` to systemd's notify socket; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            # Never wait for the listener: a stuck notify socket must not stall the service.
            s.sendto(state.encode(), socket.MSG_DONTWAIT, address)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)
        return False


def watchdog_interval_s() -> float | None:
    """Half of systemd's WatchdogSec for this process, or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None


# --- requests ---------------------------------------------------------------------------

def parse_request(line: str) -> dict:
    """A request line (JSON object, or words) as a dict with ``cmd``."""
    line = line.strip()
    if line.startswith("{"):
        req = json.loads(line)
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            raise ValueError('a JSON request needs a string "cmd"')
        return req
    words = line.split()
    if not words:
        raise ValueError("empty request")
    req = {"cmd": words[0].lower()}
    if len(words) > 1:
        req["user"] = words[1]
    if len(words) > 2 and words[2] == "replace":
        req["replace"] = True
    return req


class Service:
    """The running service: verifier, pad source, optional outputs."""

    def __init__(self, verifier: Verifier, source: PadSource, outputs: Outputs | None = None,
                 sign_timeout_s: float = SIGN_TIMEOUT_S):
        self.verifier, self.source, self.outputs = verifier, source, outputs
        self.sign_timeout_s = sign_timeout_s
        self._busy = threading.Lock()

    def handle(self, req: dict, send) -> None:
        """Answer one request through ``send(dict)``; never raises."""
        try:
            cmd = req["cmd"]
            if cmd == "ping":
                send({"event": "pong"})
            elif cmd == "users":
                send({"event": "users", "users": [u.to_dict(self.verifier.model_sha)
                                                  for u in self.verifier.store.users()]})
            elif cmd == "delete":
                send({"event": "deleted", "user": req["user"],
                      "deleted": self.verifier.store.delete(str(req["user"]))})
            elif cmd in ("verify", "enrol", "enroll"):
                self._with_pad(cmd, req, send)
            else:
                send({"event": "error", "error": f"unknown command {cmd!r}"})
        except KeyError as exc:
            send({"event": "error", "error": f"missing {exc.args[0]!r}"})
        except Exception as exc:  # a request must never take the service down
            if not isinstance(exc, SigpadError):
                log.exception("request %r failed", req)
            send({"event": "error", "error": str(exc), "type": type(exc).__name__})

    def _with_pad(self, cmd: str, req: dict, send) -> None:
        if not self._busy.acquire(blocking=False):
            send({"event": "error", "error": "busy: another request is using the pad"})
            return
        try:
            user = check_user_id(str(req["user"]))
            self.source.drain()  # signatures nobody asked for answer nothing
            prompt = lambda m: send({"event": "prompt", "user": user, "message": m})
            if cmd == "verify":
                prompt("sign now")
                self.decided(verify_from_pad(self.verifier, self.source, user, self.sign_timeout_s), send)
            else:
                self._enrol(user, bool(req.get("replace")), prompt, send)
        finally:
            self._busy.release()

    def _enrol(self, user: str, replace: bool, prompt, send) -> None:
        try:
            result = enrol_from_pad(self.verifier, self.source, user, self.sign_timeout_s,
                                    prompt, replace=replace)
        except EnrolmentError as exc:
            send({"event": "error", "user": user, "error": str(exc),
                  "outliers": list(exc.outliers)})
            return
        send({"event": "enrolled", "user": user, "templates": len(result.templates)})

    def decided(self, d: Decision, send) -> None:
        send({"event": "decision", **d.to_dict()})
        if self.outputs is not None:
            try:
                self.outputs.show(d.accepted)
            except Exception:  # a broken LED must not break verification
                log.exception("GPIO output failed")


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        service: Service = self.server.service
        lock = threading.Lock()

        def send(event: dict) -> None:
            with lock:
                try:
                    self.wfile.write((json.dumps(event) + "\n").encode())
                    self.wfile.flush()
                except OSError:
                    pass  # the client left; the decision still stands (and was logged)
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE:
                send({"event": "error", "error": "request line too long"})
                return
            try:
                req = parse_request(raw.decode("utf-8", errors="strict"))
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                # RecursionError: a line of 4000 '[' nests too deep for json.
                send({"event": "error", "error": f"bad request: {exc}"})
                continue
            service.handle(req, send)


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False  # an idle client must not hold up a shutdown

    def __init__(self, path: Path, service: Service):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.is_socket():
            path.unlink()  # left over from a crash
        self.service = service
        super().__init__(str(path), _Handler)
        os.chmod(path, 0o660)  # the host application's group may talk to it


def default_socket_path() -> Path:
    runtime = os.environ.get("RUNTIME_DIRECTORY") or (
        os.path.join(os.environ["XDG_RUNTIME_DIR"], "sigpad") if os.environ.get("XDG_RUNTIME_DIR")
        else f"/tmp/sigpad-{os.getuid()}")
    return Path(runtime.split(":")[0]) / "control.sock"


def serve(cfg: Config, stop: threading.Event | None = None, pin_factory=None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit code.

    A missing pad is waited for (the udev rule may start us before it is
    plugged in): systemd hears READY=1 at once and a STATUS saying so, and
    the watchdog keeps being pinged while we wait.
    """
    if not cfg.port:
        raise ConfigError("serve needs a pad: --port URL or [pad] port in the config")
    stop = stop or _stop_on_signals()
    interval = watchdog_interval_s()
    sd_notify(f"READY=1\nSTATUS=waiting for the pad at {cfg.port}")
    source = _wait_for_pad(cfg, stop, interval)
    if source is None:
        return 0  # stopped while waiting
    outputs = server = verifier = None
    try:
        verifier = open_verifier(cfg, service=True, has_pressure=source.has_pressure)
        if cfg.gpio_accept or cfg.gpio_reject:
            outputs = Outputs(cfg.gpio_accept, cfg.gpio_reject, cfg.gpio_pulse_s, pin_factory)
        path = cfg.socket or default_socket_path()
        server = ControlServer(path, Service(verifier, source, outputs))
        threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
        log.info("serving %s (%s) on %s; model %s, threshold %.3f", cfg.port, cfg.protocol, path,
                 verifier.model_sha[:12], verifier.threshold)
        sd_notify(f"STATUS=ready: pad {cfg.port}, socket {path}")
        while not stop.wait(min(interval or 1.0, 1.0)):
            if not source.alive:  # the read loop died: let systemd restart us
                log.error("the pad reader stopped; exiting for a restart")
                return 1
            if interval:
                sd_notify("WATCHDOG=1")
        sd_notify("STOPPING=1")
        return 0
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if outputs is not None:
            outputs.close()
        if verifier is not None:
            verifier.close()
        source.close()


def _wait_for_pad(cfg: Config, stop: threading.Event, interval: float | None) -> PadSource | None:
    delay, tries = 0.5, 0
    while not stop.is_set():
        try:
            return PadSource(cfg.port, cfg.protocol, baud=cfg.baud)
        except TransportError as exc:
            tries += 1  # the first miss is a warning; the retries, backing off, are info
            log.log(logging.WARNING if tries == 1 else logging.INFO,
                    "no pad yet (%s); try %d failed, next in %.1f s", exc, tries, delay)
        deadline = time.monotonic() + delay
        while not stop.wait(min(interval or delay, max(0.0, deadline - time.monotonic()))):
            if interval:
                sd_notify("WATCHDOG=1")
            if time.monotonic() >= deadline:
                break
        delay = min(delay * 2, 10.0)
    return None


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
