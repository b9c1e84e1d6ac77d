"""Room on the web API: no client, or crowd of clients, can starve the rest.

* **Per peer:** at most ``per_peer`` open connections from one address; the
  next is answered 503 and closed before any parsing. ``127.0.0.1`` and
  ``::1`` are exempt: every client on the device itself (the kiosk's
  browser, the integrator's application, the operator's CLI) comes from
  there, told apart by credential, not by address.
* **In all:** ``max_clients`` connections serve anyone; ``RESERVE`` more are
  kept for ``/v1/status`` and the operator's and integrator's calls (the
  guard refuses other requests on them), so idle kiosks or strangers never
  lock out the people who run the device. When all are taken, a new
  connection closes the oldest one that holds a slot for nothing (no
  request in progress: slow headers or keep-alive; or a WebSocket that has
  not sent its token yet); only when none does is it answered 503.
* **Time:** a connection must send a request's headers within
  ``header_timeout_s`` of opening (and of its last answer: keep-alive), its
  body within ``body_timeout_s``; a WebSocket must send its token within
  5 s and answer pings (``web``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

BACKLOG = 128
RESERVE = 4


def peer_share(max_clients: int) -> int:
    """One peer's share of the room: a quarter (at least 2), on HTTP and the control socket alike."""
    return max(2, max_clients // 4)
SHARED_PEERS = frozenset({"127.0.0.1", "::1"})
REFUSAL = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


@dataclass
class Limits:
    max_clients: int = 64
    per_peer: int = 16
    header_timeout_s: float = 10.0
    count: Callable[[str], None] = field(default=lambda name: None)
    handlers: Server | None = None                                     # the runner's, once listening
    unproven: set[asyncio.BaseTransport] = field(default_factory=set)  # WebSockets before their token

    @classmethod
    def for_clients(cls, max_clients: int, header_timeout_s: float, count: Callable[[str], None]) -> Limits:
        """A quarter of the room to one peer (at least 2)."""
        return cls(max_clients, peer_share(max_clients), header_timeout_s, count)

    @property
    def connections(self) -> list[RequestHandler]:
        """The open connections, oldest first."""
        return self.handlers.connections if self.handlers is not None else []

    def over(self, request: web.Request) -> bool:
        """Is ``request``'s connection one of the reserved ones (beyond ``max_clients``)?"""
        return len(self.connections) > self.max_clients

    def refusal(self, peer: str) -> str | None:
        """Why a new connection from ``peer`` is refused, or None (an idle one closed to make room)."""
        connections = self.connections
        if peer not in SHARED_PEERS and sum(1 for c in connections if _peer(c.transport) == peer) >= self.per_peer:
            return "refused_peer"
        if len(connections) >= self.max_clients + RESERVE:
            idle = self._oldest_idle()
            if idle is None:
                return "refused_connections"
            self.count("evicted_idle")
            idle.force_close()
        return None

    def _oldest_idle(self) -> RequestHandler | None:
        for c in self.connections:                # in the order they came
            t = c.transport
            if t is not None and not t.is_closing() and (
                    t in self.unproven or not getattr(c, "_request_in_progress", True)):
                return c                          # aiohttp's flag: no request being handled
        return None


def _peer(transport: asyncio.BaseTransport | None) -> str:
    name: Any = transport.get_extra_info("peername") if transport is not None else None
    return str(name[0]) if isinstance(name, tuple) and name else "?"


async def listen(runner: web.AppRunner, limits: Limits, host: str, port: int,
                 tls: ssl.SSLContext | None) -> asyncio.Server:
    """Serve ``runner``'s app on ``host:port``, each new connection first weighed by ``limits``."""
    handlers = runner.server
    if handlers is None:                    # setup() makes it
        raise RuntimeError("the web server was not set up")
    limits.handlers = handlers
    loop = asyncio.get_running_loop()

    class Door(RequestHandler):
        """aiohttp's handler, refusing a connection over the limits before it reads a byte."""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            refused = limits.refusal(_peer(transport))
            if refused is None:
                super().connection_made(transport)
                return
            limits.count(refused)
            self._manager = None            # so connection_lost has nothing to undo
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(REFUSAL)
            transport.close()

    kwargs: dict[str, Any] = handlers._kwargs     # the runner's handler settings (keep-alive, ...)
    return await loop.create_server(lambda: Door(handlers, loop=loop, **kwargs), host, port,
                                    backlog=BACKLOG, reuse_address=True, ssl=tls)
