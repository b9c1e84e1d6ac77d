"""The control socket: JSON lines on a Unix socket, served by asyncio.

Requests are one line each, JSON (``{"cmd": "verify", "user": "alice"}``)
or words (``verify alice``): ``verify USER``, ``enrol USER [replace]``,
``capture``, ``ok``, ``clear``, ``cancel``, ``status``, ``users``,
``delete USER``, ``unlock USER``, ``history USER`` (JSON: ``"last": N``),
``adaptations USER``, ``undo-adaptations USER``, ``ping``. Answers are JSON lines (``hub`` says which).
The grammar, the framing and the peer checks are ``edge.wire``'s, which
the client (``edge.client``) shares.

Limits, so that no client can hurt the service or the next client:

* a request runs only once its whole line (up to the newline) has arrived:
  a connection closed in the middle of ``delete ab`` deletes nothing;
* at most ``max_clients`` connections, and a quarter of them (at least 2)
  from one process (``SO_PEERCRED``'s pid), so one client holding many
  cannot shut out ``sigpad status``; ``RESERVE`` more for the service's
  user, root and ``writers_group`` (the operator) when the rest are full;
  the next one is told so and closed; an idle connection is closed after
  ``idle_timeout_s``; no thread per client (asyncio), a backlog of 128;
* a client that goes away while its ``verify`` or ``enrol`` waits for the
  pen cancels it, so the pad is free for the next person at once;
* writes (``enrol``, ``delete``, ``undo-adaptations``, and ``unlock`` /
  ``threshold`` where they exist) are refused unless the peer (``SO_PEERCRED``) is the service's
  user, root or in ``writers_group``; every connection is logged with its
  pid, uid and gid.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from firmware_bridge.errors import SigpadError

from ..wire import MAX_LINE, Message, Peer, decode_request, encode, may_write, peer_of
from . import api
from .hub import Hub, Listener
from .operator_store import undo_adaptations, user_adaptations, user_history
from .web_limits import RESERVE, peer_share

log = logging.getLogger("sigpad.service")
BACKLOG = 128
WRITES = frozenset({"enrol", "enroll", "delete", "unlock", "threshold", "undo-adaptations"})
PAD_REQUESTS = frozenset({"verify", "enrol", "enroll", "capture"})
FIELDS = {"user": api.USER_ID, "replace": {"type": "boolean"}, "request_id": api.REQUEST_ID,
          "last": {"type": "integer"}}
"""A request's fields of known meaning, typed: ``"replace": "false"`` or ``"user": 5`` is refused, not coerced."""
ModelShas = Callable[[], set[str]]
"""The sha256 of each current model (``edge.model.current_model_shas``)."""


class ControlServer:
    def __init__(self, hub: Hub, path: Path, max_clients: int, idle_timeout_s: float,
                 writers_gid: int | None, model_shas: ModelShas):
        self.hub, self.path = hub, path
        self.max_clients, self.idle_timeout_s = max_clients, idle_timeout_s
        self.writers_gid = writers_gid
        self.model_shas = model_shas
        self.clients = 0
        self.per_peer = peer_share(max_clients)
        self.by_pid: dict[int, int] = {}
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if self.path.is_socket():
            self.path.unlink()            # left over from a crash (the lock says no one runs)
        self.server = await asyncio.start_unix_server(self._client, path=str(self.path),
                                                      backlog=BACKLOG, limit=MAX_LINE + 1)
        os.chmod(self.path, 0o660)        # the host application's group may talk to it

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.path.unlink(missing_ok=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(event: Message) -> None:
            if not writer.is_closing():
                writer.write(encode(event))
        peer = peer_of(writer.get_extra_info("socket"))
        refused = self._refusal(peer)
        if refused is not None:
            self.hub.count("refused_connections")
            send({"event": "error", "error": f"{refused}; try again later"})
            writer.close()
            return
        self.clients += 1
        self.by_pid[peer.pid] = self.by_pid.get(peer.pid, 0) + 1
        log.info("control: connection from %s", peer)
        session = _Session()
        try:
            await self._serve(reader, writer, send, peer, session)
        except (ConnectionError, OSError):
            pass                          # the client left
        finally:
            self.clients -= 1
            self.by_pid[peer.pid] -= 1
            if not self.by_pid[peer.pid]:
                del self.by_pid[peer.pid]
            session.cancel()              # the client left: stop waiting for its signature
            writer.close()

    def _refusal(self, peer: Peer) -> str | None:
        """Why a new connection from ``peer`` is refused, or None (see the limits above)."""
        if self.by_pid.get(peer.pid, 0) >= self.per_peer:
            return f"too many connections from this process (pid {peer.pid}: {self.per_peer})"
        if self.clients >= self.max_clients + RESERVE or (
                self.clients >= self.max_clients and not may_write(peer, self.writers_gid)):
            return f"too many connections ({self.max_clients})"
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, send: Listener,
                     peer: Peer, session: _Session) -> None:
        """Requests, one whole line each, until the client goes (or idles, or sends too long a line)."""
        while (line := await self._line(reader, send, session.busy)) is not None:
            req = self._parse(line, send)
            if req is None:
                continue
            if req["cmd"] in PAD_REQUESTS:
                if session.busy():
                    send({"event": "error", "error": "busy: this connection's request is still running"})
                    continue
                session.running = asyncio.ensure_future(self._handle(req, send, peer))
            else:
                await self._handle(req, send, peer)
            await writer.drain()

    async def _line(self, reader: asyncio.StreamReader, send: Listener,
                    busy: Callable[[], bool]) -> bytes | None:
        """The next whole line, or None to close (end, idle, too long)."""
        while True:
            try:
                return await asyncio.wait_for(reader.readuntil(b"\n"), self.idle_timeout_s)
            except asyncio.IncompleteReadError:
                return None               # closed, maybe mid-line: an unfinished request never runs
            except asyncio.LimitOverrunError:
                send({"event": "error", "error": f"request line too long (max {MAX_LINE} bytes)"})
                return None
            except TimeoutError:
                if busy():
                    continue              # waiting for its signature is not idle
                send({"event": "error", "error": f"idle for {self.idle_timeout_s:g} s; closing"})
                return None

    @staticmethod
    def _parse(line: bytes, send: Listener) -> Message | None:
        try:
            req = decode_request(line)
            for name, schema in FIELDS.items():   # the same types as the web API's bodies
                if name in req:
                    api.check(req[name], schema, name)
            return req
        except (ValueError, RecursionError) as exc:
            # RecursionError: a line of 4000 '[' nests too deep for json. BadBody is a ValueError.
            send({"event": "error", "error": f"bad request: {exc}"})
            return None

    async def _handle(self, req: Message, send: Listener, peer: Peer) -> None:
        """Answer one request through ``send``; never raises."""
        cmd, hub = req["cmd"], self.hub
        if cmd in WRITES and not may_write(peer, self.writers_gid):
            log.warning("control: %s refused to %s (not the service's user, root or writers_group)", cmd, peer)
            hub.count("refused_peer")
            send({"event": "error", "error": f"{cmd}: not allowed for uid {peer.uid} "
                  "(only the service's user, root or its writers_group)"})
            return
        try:
            await self._dispatch(cmd, req, send, peer)
        except KeyError as exc:
            send({"event": "error", "error": f"missing {exc.args[0]!r}"})
        except asyncio.CancelledError:
            raise
        except Exception as exc:          # a request must never take the service down
            if not isinstance(exc, SigpadError):
                log.exception("request %r failed", req)
            send({"event": "error", "error": str(exc), "type": type(exc).__name__})

    async def _dispatch(self, cmd: str, req: Message, send: Listener, peer: Peer) -> None:
        hub, rid = self.hub, req.get("request_id")
        if cmd == "ping":
            send({"event": "pong"})
        elif cmd == "verify":
            await hub.verify(req["user"], rid, listen=send)
        elif cmd in ("enrol", "enroll"):
            await hub.enrol(req["user"], req.get("replace", False), rid, listen=send)
        elif cmd == "capture":
            await hub.capture(rid, listen=send)
        elif cmd in ("ok", "clear", "cancel"):
            send(hub.button(cmd))
        elif cmd == "status":
            send({"event": "status", **await asyncio.to_thread(hub.status)})
        elif cmd == "users":
            send({"event": "users", "users": await asyncio.to_thread(self._users)})
        elif cmd == "delete":
            user = req["user"]
            send({"event": "deleted", "user": user, "deleted": await asyncio.to_thread(hub.delete_user, user)})
        elif cmd in ("unlock", "history", "adaptations", "undo-adaptations"):
            send(await asyncio.to_thread(_operator, hub, cmd, req, peer))
        else:
            send({"event": "error", "error": f"unknown command {cmd!r}"})

    def _users(self) -> list[Message]:
        """The enrolled users, with whether each must re-enrol (blocking: the store)."""
        current = self.model_shas() or None
        return [u.to_dict(current) for u in self.hub.store.users()]


def _operator(hub: Hub, cmd: str, req: Message, peer: Peer) -> Message:
    """``unlock`` / ``history`` / ``adaptations`` / ``undo-adaptations`` on the service's store
    (blocking: on a thread)."""
    user, by = str(req["user"]), f"uid {peer.uid} (control socket)"
    if cmd == "unlock":
        return {"event": "unlocked", **hub.unlock_user(user, by=by)}
    if cmd == "adaptations":
        return {"event": "adaptations", **user_adaptations(hub.store, user)}
    if cmd == "undo-adaptations":
        return {"event": "undone", **undo_adaptations(hub.store, user, by)}
    return {"event": "history", **user_history(hub.store, str(req["user"]), int(req.get("last", 20)))}


class _Session:
    """One connection's request that waits for the pen, if any."""

    def __init__(self) -> None:
        self.running: asyncio.Future[None] | None = None

    def busy(self) -> bool:
        return self.running is not None and not self.running.done()

    def cancel(self) -> None:
        if self.running is not None and not self.running.done():
            self.running.cancel()
