"""``sigpad serve``: one asyncio process for the pad, the control socket, the
web API and kiosk page, GPIO lines and systemd.

The pieces: ``livepad`` (the pad on its thread), ``hub`` (one request at a
time, events), ``control`` (the Unix socket of JSON lines), ``web`` (HTTP,
WebSocket, the kiosk page), ``runtime`` (socket directory, lock, peers,
token). This module starts them in that order and watches them.

One pad, one writer: a second ``verify``/``enrol`` while one is in progress
gets ``busy``. Signatures made while nobody asked are thrown away, so a
stale signature can never answer a later request. Malformed requests get an
error event; nothing a client sends stops the service or becomes an accept.

The service exists from start-up whether or not a pad is there: ``READY=1``
goes to systemd (``Type=notify``, a datagram to ``$NOTIFY_SOCKET``) once the
sockets listen, and ``STATUS=`` says whether the pad is present, each time
that changes. ``WATCHDOG=1`` follows at half ``WatchdogSec`` while the
service is healthy: when it cannot accept connections (out of file
descriptors) it logs it and stops pinging, so systemd restarts it; when the
pad reader dies it exits 1. On a decision, the accept or reject GPIO line
(gpiozero) is pulsed for ``gpio_pulse_s``.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import ipaddress
import logging
import os
import resource
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..keys import load_keys
from ..model import current_model_shas
from ..store import Store
from ..wire import parse_request as parse_request  # the socket's grammar, named here for its tests
from ..wire import service_socket
from . import logs
from .config import Config, http_address
from .control import ControlServer
from .credentials import FRAGMENT_KEYS, KIOSK
from .fleet.service import start as start_fleet
from .gpio import Outputs
from .hub import Hub
from .runtime import InstanceLock, group_id, load_tokens, secure_dir

if TYPE_CHECKING:
    from gpiozero import Factory

log = logging.getLogger("sigpad.service")
SIGN_TIMEOUT_S = 60.0
ACCEPT_GRACE_S = 5.0
"""After a failed accept, this long without pinging the watchdog (asyncio retries each second)."""
Closer = Callable[[], Awaitable[None] | None]
"""What to call at the end, in reverse order of starting (a coroutine is awaited)."""


# --- systemd ----------------------------------------------------------------------

def sd_notify(state: str) -> bool:
    """Send ``state`` to systemd's notify socket; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        # Never wait for the listener: a stuck notify socket must not stall the service.
        _notify_socket().sendto(state.encode(), socket.MSG_DONTWAIT, address)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)
        return False


_NOTIFY: list[socket.socket] = []


def _notify_socket() -> socket.socket:
    """One datagram socket, kept: a service out of file descriptors can still tell systemd."""
    if not _NOTIFY:
        _NOTIFY.append(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC))
    return _NOTIFY[0]


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


# --- health -------------------------------------------------------------------------------

class Health:
    """Whether the loop can still accept connections (asyncio reports EMFILE to its handler)."""

    RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

    def __init__(self) -> None:
        self.accept_failed_at = -1e9

    def handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in self.RESOURCE_ERRORS and "accept" in context.get("message", ""):
            if time.monotonic() - self.accept_failed_at > ACCEPT_GRACE_S:
                log.error("cannot accept connections: %s; not pinging the watchdog until it can", exc)
            self.accept_failed_at = time.monotonic()
            return
        loop.default_exception_handler(context)

    @property
    def accepting(self) -> bool:
        return time.monotonic() - self.accept_failed_at > ACCEPT_GRACE_S


def raise_fd_limit(max_clients: int) -> None:
    """Room for both servers' clients and the rest (the soft limit is often 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * max_clients + 128
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def socket_path(cfg: Config) -> Path:
    """The control socket (``wire.service_socket``); its directory is created 0700 or checked (``runtime``)."""
    path = service_socket(cfg.socket)
    secure_dir(path.parent)
    return path


# --- the service ------------------------------------------------------------------------------

def serve(cfg: Config, stop: threading.Event | None = None, pin_factory: Factory | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit code.

    Raises ``ServiceError`` (before anything listens) for a socket directory
    someone else owns or can write to, a second instance, a taken HTTP port.
    """
    if not cfg.port:
        raise ConfigError("serve needs a pad: --port URL or [pad] port in the config")
    stop = stop or _stop_on_signals()
    return asyncio.run(_serve(cfg, stop, pin_factory))


async def _serve(cfg: Config, stop: threading.Event, pin_factory: Factory | None) -> int:
    path = socket_path(cfg)
    lock = InstanceLock(path.parent / f"{path.name}.lock")
    closers: list[Closer] = [lock.release]
    try:
        health = Health()
        asyncio.get_running_loop().set_exception_handler(health.handler)
        raise_fd_limit(cfg.max_clients)
        hub = await _start(cfg, path, pin_factory, closers)
        return await _watch(cfg, hub, health, stop, path)
    finally:
        for close in reversed(closers):
            result = close()
            if inspect.isawaitable(result):
                await result


async def _start(cfg: Config, path: Path, pin_factory: Factory | None, closers: list[Closer]) -> Hub:
    address = http_address(cfg.http)
    tls = exposure(cfg, address[0]) if address is not None else None     # refused before anything listens
    store = Store(cfg.store_path(True), load_keys(cfg.key_path(True)))
    closers.append(store.close)
    outputs = None
    if cfg.gpio_accept or cfg.gpio_reject:
        outputs = Outputs(cfg.gpio_accept, cfg.gpio_reject, cfg.gpio_pulse_s, pin_factory)
        closers.append(outputs.close)
    hub = Hub(cfg, store, outputs, SIGN_TIMEOUT_S)
    closers.append(hub.close)
    hub.fleet = start_fleet(cfg, store)
    if hub.fleet is not None:
        closers.append(hub.fleet.close)
    control = ControlServer(hub, path, cfg.max_clients, cfg.idle_timeout_s, group_id(cfg.writers_group),
                            lambda: current_model_shas(cfg))
    await control.start()
    closers.append(control.close)
    if address is not None:
        await _start_web(cfg, hub, address, tls, path.parent, closers)
    log.info("serving %s (%s) on %s%s", cfg.port, cfg.protocol, path,
             f"; kiosk page {hub.url} (its token: kiosk.token)" if hub.url else "")
    return hub


async def _start_web(cfg: Config, hub: Hub, address: tuple[str, int], tls: ssl.SSLContext | None,
                     run_dir: Path, closers: list[Closer]) -> None:
    from .web import WebServer
    from .web_limits import Limits
    tokens = load_tokens(run_dir, cfg.token_file)
    web = WebServer(hub, tokens, *address, Limits.for_clients(cfg.max_clients, cfg.header_timeout_s, hub.count),
                    tls, cfg.hostnames, cfg.body_timeout_s)
    await web.start()
    closers.append(web.close)
    hub.url = web.url
    if tls is not None:
        log.warning("web API on %s beyond loopback: TLS, a credential on every /v1 route, Host one of %s",
                    web.url, ", ".join(cfg.hostnames) or address[0])
    show_kiosk_url(f"{web.url}#{FRAGMENT_KEYS[KIOSK]}={tokens[KIOSK]}")


def show_kiosk_url(url: str) -> None:
    """The kiosk page's URL with its token, for the operator's terminal; never into the journal."""
    if logs.stderr_is_journal():
        return
    try:
        sys.stderr.write(f"kiosk page (keep it private: it holds the kiosk's token): {url}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def exposure(cfg: Config, host: str) -> ssl.SSLContext | None:
    """The TLS context for ``host``: None on loopback; beyond it TLS and names are required (exit 2)."""
    loopback = host == "localhost" or _is_loopback(host)
    if loopback and cfg.tls_cert is None:
        return None
    if cfg.tls_cert is None or cfg.tls_key is None:
        raise ConfigError(f"--http {host}: an address beyond loopback needs TLS: set [service] tls_cert and "
                          "tls_key (and hostnames), or serve on 127.0.0.1")
    if not loopback and not cfg.hostnames and _is_unspecified(host):
        raise ConfigError(f"--http {host}: a wildcard address needs [service] hostnames = [\"NAME\", ...], the "
                          "names clients use (Host is checked against them)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[service] tls_cert {cfg.tls_cert} / tls_key {cfg.tls_key}: cannot load: {exc}") from exc
    return context


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


async def _watch(cfg: Config, hub: Hub, health: Health, stop: threading.Event, path: Path) -> int:
    """READY, STATUS as the pad comes and goes, WATCHDOG while healthy; until ``stop``."""
    interval = watchdog_interval_s()
    where = f"socket {path}" + (f", {hub.url}" if hub.url else "")
    present = None
    next_ping = 0.0
    while not stop.is_set():
        if hub.pad.present != present:
            present = hub.pad.present
            state = f"ready: pad {cfg.port}" if present else f"waiting for the pad at {cfg.port}"
            sd_notify(("READY=1\n" if next_ping == 0.0 else "") + f"STATUS={state}, {where}")
            next_ping = next_ping or time.monotonic()
        if not hub.pad.alive:             # the read loop died: let systemd restart us
            log.error("the pad reader stopped; exiting for a restart")
            return 1
        if interval and time.monotonic() >= next_ping and health.accepting:
            sd_notify("WATCHDOG=1")
            next_ping = time.monotonic() + interval
        await asyncio.sleep(min(interval or 0.1, 0.1))
    sd_notify("STOPPING=1")
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
