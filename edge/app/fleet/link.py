"""The link to the hub: the one module that imports nats-py.

What it reads and writes is named in ``subjects``. Every failure of the network,
the hub or the credentials comes out as ``FleetError`` naming it.

The kiosk authenticates with its nkey (``nkeyid``): nats-py signs the hub's
nonce with the seed; the seed itself never leaves the kiosk.

With the fleet's CA pinned (``Credentials.ca_pem``, from ``init``'s TLS) the
link speaks ``tls://`` only: the hub's certificate must be signed by that CA
and name the URL's host, and a hub (or someone in between) that offers no TLS
is refused before anything is sent (nats-py would otherwise send its CONNECT,
the kiosk's public key and a signature of the server's nonce, in clear to a
server whose INFO does not ask for TLS).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import nats
import nats.aio.client
import nats.errors
import nats.js.errors
from nats.js import api

from ...errors import FleetError
from .hubtls import client_context
from .subjects import (
    AUDIT_PREFIX,
    AUDIT_STREAM,
    BUCKET,
    DEDUP_WINDOW_S,
    KV_PREFIX,
    MODELS,
    OP_HEADER,
    Seen,
    user_key,
)


@dataclass(frozen=True, repr=False)
class Credentials:
    url: str
    kiosk: str                         # its name, for messages
    seed: str                          # its nkey user seed (``SU...``), checked by ``nkeyid``
    ca_pem: str | None = None          # the fleet's CA: TLS to the hub, that CA only

    def __repr__(self) -> str:
        return f"Credentials({self.url}, kiosk={self.kiosk}, tls={self.ca_pem is not None})"

    def connect_url(self) -> str:
        """The URL the link dials: ``tls://`` whenever the CA is pinned."""
        if self.ca_pem is not None and self.url.startswith("nats://"):
            return "tls://" + self.url.removeprefix("nats://")
        return self.url


class _SSLEofNoise(logging.Filter):
    """asyncio warns "returning true from eof_received() has no effect when using ssl" each time
    the hub closes a TLS link (nats-py's protocol returns True): at every sync, nothing wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_SSLEofNoise())


class NotTLS(nats.errors.Error):
    """The hub offered no TLS to a kiosk that pins the fleet's CA."""

    def __str__(self) -> str:
        return "TLS: the hub offers no TLS, the kiosk pins the fleet's CA (a plain hub, or someone in between)"


class _PinnedClient(nats.aio.client.Client):
    """nats-py's client, refusing a server that does not ask for TLS before anything is sent."""

    pinned = False

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if self.pinned and initial_connection and not info.get("tls_required"):
            raise NotTLS()
        await super()._process_info(info, initial_connection)


class Link:
    """One connection to the hub; ``async with Link.open(creds)``."""

    def __init__(self, nc: Any, creds: Credentials):
        self.nc, self.creds = nc, creds
        self.js = nc.jetstream(timeout=5.0)
        self.kv: Any = None

    @staticmethod
    async def open(creds: Credentials, timeout_s: float = 2.0) -> Link:
        nc = _PinnedClient()
        nc.pinned = creds.ca_pem is not None
        tls = client_context(creds.ca_pem) if creds.ca_pem is not None else None
        try:
            # nats-py retries a first connection that is refused for ever: the bound is ours.
            # (connect_timeout is annotated int; nats-py hands it to asyncio, which takes a float)
            await asyncio.wait_for(
                nc.connect(creds.connect_url(), nkeys_seed_str=creds.seed,
                           connect_timeout=timeout_s,  # type: ignore[arg-type]
                           allow_reconnect=False, max_reconnect_attempts=0, error_cb=_quiet, tls=tls),
                timeout_s)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            await _close_quietly(nc)
            raise FleetError(f"hub {creds.url} not reachable as kiosk {creds.kiosk!r}: {_why(exc)}") \
                from None
        link = Link(nc, creds)
        try:
            await link._ensure()
        except BaseException:
            await nc.close()
            raise
        return link

    async def close(self) -> None:
        await self.nc.close()

    async def __aenter__(self) -> Link:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ensure(self) -> None:
        """The bucket and the stream, made by the first kiosk that finds them missing."""
        try:
            try:
                self.kv = await self.js.key_value(BUCKET)
            except nats.js.errors.BucketNotFoundError:
                self.kv = await self.js.create_key_value(api.KeyValueConfig(bucket=BUCKET, history=1))
            try:
                await self.js.stream_info(AUDIT_STREAM)
            except nats.js.errors.NotFoundError:
                await self.js.add_stream(api.StreamConfig(name=AUDIT_STREAM, subjects=[f"{AUDIT_PREFIX}.>"],
                                                          duplicate_window=DEDUP_WINDOW_S))
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub {self.creds.url}: cannot open the fleet's bucket and stream as "
                             f"kiosk {self.creds.kiosk!r}: {_why(exc)}") from None

    # --- writing ------------------------------------------------------------------------

    async def put(self, user: str, value: bytes, base_rev: int) -> int | None:
        """Compare-and-set ``user``'s record on ``base_rev`` (0: none seen); its new
        revision, or None if another write came first (the hub's order decides)."""
        try:
            if base_rev == 0:
                return int(await self.kv.create(user_key(user), value))
            return int(await self.kv.update(user_key(user), value, last=base_rev))
        except nats.js.errors.KeyWrongLastSequenceError:
            return None
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: writing the record of {user!r} failed: {_why(exc)}") from None

    async def delete(self, user: str, base_rev: int) -> int | None:
        """A tombstone for ``user`` if the record is still at ``base_rev``; its revision, or None."""
        headers = {OP_HEADER: "DEL"}
        if base_rev:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(base_rev)
        try:
            ack = await self.js.publish(KV_PREFIX + user_key(user), b"", headers=headers)
            return int(ack.seq)
        except nats.js.errors.BadRequestError:
            return None
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: deleting {user!r} failed: {_why(exc)}") from None

    async def publish_audit(self, subject: str, payload: bytes, msg_id: str) -> int:
        try:
            ack = await self.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
            return int(ack.seq)
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: audit event {msg_id} not taken: {_why(exc)}") from None

    # --- the object store (models) --------------------------------------------------------

    async def _objects(self) -> Any:
        try:
            try:
                return await self.js.object_store(MODELS)
            except nats.js.errors.BucketNotFoundError:
                return await self.js.create_object_store(MODELS)
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: the model store {MODELS}: {_why(exc)}") from None

    async def put_object(self, name: str, data: bytes) -> None:
        objects = await self._objects()
        try:
            await objects.put(name, data)
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: storing {name} failed: {_why(exc)}") from None

    async def get_object(self, name: str) -> bytes:
        objects = await self._objects()
        try:
            return bytes((await objects.get(name)).data)
        except nats.js.errors.ObjectNotFoundError:
            raise FleetError(f"hub: no {name} in the model store (nothing published?)") from None
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: fetching {name} failed: {_why(exc)}") from None

    # --- reading ------------------------------------------------------------------------

    async def last_seq(self, stream: str) -> int:
        try:
            info = await self.js.stream_info(stream)
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: stream {stream}: {_why(exc)}") from None
        return int(info.state.last_seq)

    async def read(self, stream: str, subject: str, after: int, wait_s: float = 10.0) -> AsyncIterator[Seen]:
        """The messages of ``subject`` after sequence ``after``, in order, up to the stream's
        last message when asked (an ordered consumer: no gaps, no repeats)."""
        last = await self.last_seq(stream)
        if last <= after:
            return
        config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
        try:
            sub = await self.js.subscribe(subject, stream=stream, ordered_consumer=True, config=config)
        except (TimeoutError, nats.errors.Error) as exc:
            raise FleetError(f"hub: cannot read {stream}: {_why(exc)}") from None
        try:
            info = await sub.consumer_info()
            if info.num_pending == 0 and info.delivered.consumer_seq == 0:
                return                  # nothing of ``subject`` after ``after``
            while True:
                try:
                    msg = await sub.next_msg(timeout=wait_s)
                except (TimeoutError, nats.errors.Error) as exc:
                    raise FleetError(f"hub: reading {stream} stopped after sequence {after}: "
                                     f"{_why(exc)}") from None
                meta = msg.metadata
                after = int(meta.sequence.stream)
                op = (msg.headers or {}).get(OP_HEADER, "")
                yield Seen(after, msg.subject, op, bytes(msg.data))
                if after >= last or meta.num_pending == 0:
                    return
        finally:
            await sub.unsubscribe()


async def _quiet(exc: Exception) -> None:
    """nats-py reports errors to a callback as well as to the caller: the caller says it."""


async def _close_quietly(nc: Any) -> None:
    """Close a connection that never opened, in a bounded time (after a failed TLS handshake
    nats-py's close waits for a transport that never closes)."""
    try:
        await asyncio.wait_for(nc.close(), 1.0)
    except Exception:          # nothing to say: the caller says why it never opened
        pass


def _why(exc: BaseException) -> str:
    """An exception said in words (a timeout has none of its own; a TLS failure says TLS)."""
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
        return f"TLS: the hub's certificate is refused ({reason}): not the fleet's CA, or not for this host"
    return str(exc) or ("no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__)
