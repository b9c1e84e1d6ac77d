"""The service's core: one pad, one request at a time, events to whoever listens.

Everything here runs on the service's asyncio loop except the blocking
parts of a request (waiting for the pen, the model, the store), which run on
one worker thread of their own; the pad is read on its thread
(``LivePad``). Both front ends - the control socket (``control``) and the
web API (``web``) - call the same ``Hub`` methods, so they behave alike:

* ``verify`` / ``enrol`` / ``capture`` arm the pad for one request (a second
  one meanwhile gets ``Busy``), prompt the writer, and answer with the
  decision, the enrolment or the capture. The request is released *before*
  its answer is sent, so a client that reacts at once is not told ``busy``.
  If the caller goes away (its task is cancelled), the wait for the pen is
  cancelled too: the pad is not left armed for the next person's signature.
* ``ok`` / ``clear`` / ``cancel``: the host's buttons (``LivePad``).
* ``publish`` sends an event to every stream subscriber (the kiosk page);
  a subscriber that cannot keep up is dropped rather than buffered forever.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from firmware_bridge.capture import CaptureConfig, Refusal
from firmware_bridge.errors import CaptureError, SigpadError
from firmware_bridge.protocols.base import Capabilities
from firmware_bridge.signature import Signature

from ..enrol import Enrolment
from ..errors import ConfigError, EnrolmentError
from ..model import Encoder
from ..store import Store, check_user_id
from ..verifier import Verifier, model_dir_of
from ..wire import Message
from .config import Config
from .gpio import Outputs
from .livepad import LivePad
from .operator_store import unlock_user
from .padflow import Say, enrol_from_pad, next_signature, verify_from_pad
from .report import unjudged

if TYPE_CHECKING:
    from .fleet.service import ServiceFleet

log = logging.getLogger("sigpad.service")
API_VERSION = 1
SUBSCRIBER_QUEUE = 4096             # events buffered per stream client (~20 s of ink)
KEEP_CAPTURES = 8
Listener = Callable[[Message], None]
"""Where a request's events go as they happen (its client), besides the stream."""
Subscriber = asyncio.Queue[str | None]
"""A stream client's events, as JSON text; None: it fell behind and is dropped."""
T = TypeVar("T")


class Busy(SigpadError, RuntimeError):
    """Another request is using the pad."""


class NoPad(SigpadError, RuntimeError):
    """No pad is connected right now."""


@dataclass(frozen=True)
class Kept:
    """A captured signature kept for the API (``/v1/captures/{id}``), with what a recording names."""

    signature: Signature
    caps: Capabilities | None
    protocol: str
    port: str


class Hub:
    def __init__(self, cfg: Config, store: Store, outputs: Outputs | None = None,
                 sign_timeout_s: float = 60.0):
        if not cfg.port:
            raise ConfigError("serve needs a pad: --port URL or [pad] port in the config")
        self.cfg, self.store, self.outputs = cfg, store, outputs
        self.port = cfg.port
        self.sign_timeout_s = sign_timeout_s
        self.loop = asyncio.get_running_loop()
        self.subscribers: set[Subscriber] = set()
        self.counters: dict[str, int] = {}
        self.captures: OrderedDict[str, Kept] = OrderedDict()
        self.request: Message | None = None    # the request using the pad
        self.url: str | None = None            # the kiosk page, when the web API runs
        self.fleet: ServiceFleet | None = None  # a fleet member: its work is queued for the hub
        self._verifiers: dict[Path, Verifier] = {}
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="sigpad-request")
        self._ids = itertools.count(1)
        self.pad = LivePad(cfg.port, cfg.protocol, CaptureConfig(lift_timeout_s=cfg.lift_timeout_s),
                           self._from_pad_thread, baud=cfg.baud)

    def close(self) -> None:
        self.pad.cancel()
        self.pad.close()
        self._worker.shutdown(wait=True)

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # --- events -------------------------------------------------------------------------

    def subscribe(self) -> Subscriber:
        q: Subscriber = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: Subscriber) -> None:
        self.subscribers.discard(q)

    def publish(self, event: Message) -> None:
        text = json.dumps(event)
        for q in list(self.subscribers):
            try:
                q.put_nowait(text)
            except asyncio.QueueFull:       # a stalled client: drop it, not the service
                self.subscribers.discard(q)
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(None)          # tells its handler to close the stream
                self.count("stream_dropped")
        if event["event"] == "pad" and event["present"]:
            self.loop.run_in_executor(self._worker, self._quiet_preload)

    def _from_pad_thread(self, event: Message) -> None:
        try:
            self.loop.call_soon_threadsafe(self.publish, event)
        except RuntimeError:
            pass                            # the loop is closing

    # --- the requests ---------------------------------------------------------------------

    async def verify(self, user: str, request_id: str | None = None, listen: Listener | None = None) -> Message:
        async with self._armed("verify", user, request_id, listen) as (rid, say):
            say("sign now")
            result, sig = await self._blocking(functools.partial(self._verify, user))
        return self._answer({"event": "decision", "request_id": rid, **result,
                             "capture_id": self._keep(sig)}, listen)

    async def enrol(self, user: str, replace: bool = False, request_id: str | None = None,
                    listen: Listener | None = None) -> Message:
        async with self._armed("enrol", user, request_id, listen) as (rid, say):
            answer: Message
            try:
                result = await self._blocking(functools.partial(self._enrol, user, replace, say))
                answer = {"event": "enrolled", "request_id": rid, "user": user,
                          "templates": len(result.templates),
                          "consistency": [round(c, 4) for c in result.consistency]}
            except EnrolmentError as exc:
                answer = {"event": "error", "request_id": rid, "user": user, "error": str(exc),
                          "outliers": list(exc.outliers)}
            except SigpadError as exc:
                answer = {"event": "error", "request_id": rid, "user": user, "error": str(exc)}
        return self._answer(answer, listen)

    async def capture(self, request_id: str | None = None, listen: Listener | None = None) -> Message:
        async with self._armed("capture", None, request_id, listen) as (rid, say):
            say("sign now")
            answer: Message
            try:
                sig = await self._blocking(functools.partial(next_signature, self.pad, self.sign_timeout_s, say))
                answer = {"event": "captured", "request_id": rid, "capture_id": self._keep(sig),
                          "samples": len(sig), "duration_ms": round(sig.duration_ms, 1)}
            except CaptureError as exc:
                answer = {"event": "error", "request_id": rid, "error": str(exc)}
        return self._answer(answer, listen)

    def ok(self) -> Message:
        self.pad.ok()
        return self._answer({"event": "ok"}, None)

    def clear(self) -> Message:
        self.pad.clear()
        return self._answer({"event": "cleared"}, None)

    def cancel(self) -> Message:
        if self.request is not None:
            self.pad.cancel()
        return self._answer({"event": "cancelled", "request_id": (self.request or {}).get("request_id")},
                            None)

    def button(self, name: str) -> Message:
        """The host's button ``name`` (``ok``, ``clear``, ``cancel``) pressed; ``KeyError`` for another."""
        press: dict[str, Callable[[], Message]] = {"ok": self.ok, "clear": self.clear, "cancel": self.cancel}
        return press[name]()

    @asynccontextmanager
    async def _armed(self, kind: str, user: str | None, request_id: str | None,
                     listen: Listener | None) -> AsyncIterator[tuple[str, Say]]:
        if user is not None:
            check_user_id(user)
        if self.request is not None:
            raise Busy("busy: another request is using the pad")
        if not self.pad.present:
            raise NoPad(f"no pad at {self.port} (plug it in; the service waits for it)")
        rid = str(request_id) if request_id else f"r{next(self._ids)}-{secrets.token_hex(3)}"
        self.request = {"request_id": rid, "kind": kind, "user": user, "since": time.time()}
        self.pad.drain()
        self.pad.armed = True
        say = self._say(rid, user, listen)
        try:
            yield rid, say
        finally:                            # released before the answer is sent
            self.pad.armed = False
            self.request = None

    def _say(self, rid: str, user: str | None, listen: Listener | None) -> Say:
        def say(message: str) -> None:     # called on the worker thread or the loop
            event = {"event": "prompt", "request_id": rid, "user": user, "message": message}
            self.loop.call_soon_threadsafe(self._answer, event, listen)
        return say

    def _answer(self, event: Message, listen: Listener | None) -> Message:
        if listen is not None:
            listen(event)
        self.publish(event)
        if event["event"] == "decision" and self.outputs is not None:
            try:
                self.outputs.show(event["accepted"])
            except Exception:               # a broken LED must not break verification
                log.exception("GPIO output failed")
        return event

    async def _blocking(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the request thread; if our caller goes, cancel the wait for the pen."""
        future = self.loop.run_in_executor(self._worker, fn)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            log.info("request %s abandoned by its client: cancelled", (self.request or {}).get("request_id"))
            self.pad.cancel()
            try:
                await future                # the thread ends at once; then the pad is free
            except Exception:
                pass
            raise

    # --- on the request thread ---------------------------------------------------------------

    def verifier(self) -> Verifier:
        """The verifier for the pad's kind (pressure or not), loaded once."""
        model_dir = model_dir_of(self.cfg, self.pad.has_pressure)
        if model_dir not in self._verifiers:
            self._verifiers[model_dir] = Verifier(Encoder(model_dir, backend=self.cfg.backend),
                                                  self.store, self.cfg)
        return self._verifiers[model_dir]

    def _quiet_preload(self) -> None:
        try:
            self.verifier()
        except SigpadError as exc:
            log.error("cannot load the model for this pad: %s", exc)

    def _verify(self, user: str) -> tuple[dict[str, Any], Signature | None]:
        self.pad.last_signature = None
        try:
            verifier = self.verifier()
        except SigpadError as exc:
            return unjudged(user, exc), None
        if self.fleet is not None:
            verifier.lockout = self.fleet.lockout(self.cfg.lockout)
        decision = verify_from_pad(verifier, self.pad, user, self.sign_timeout_s)
        self._for_fleet("decision", lambda fleet: fleet.decided(decision))
        return decision.to_dict(), self.pad.last_signature

    def _enrol(self, user: str, replace: bool, say: Say) -> Enrolment:
        if self.fleet is not None:
            self.fleet.may_change("enrol")
        result = enrol_from_pad(self.verifier(), self.pad, user, self.sign_timeout_s, say, replace=replace)
        self._for_fleet("enrolment", lambda fleet: fleet.enrolled(user, result.signatures))
        return result

    def delete_user(self, user: str) -> bool:
        """Delete ``user`` here, and for the fleet (blocking: on a thread)."""
        if self.fleet is not None:
            self.fleet.may_change("delete")
        found = self.store.delete(user)
        self._for_fleet("deletion", lambda fleet: fleet.deleted(user))
        return found

    def unlock_user(self, user: str, by: str) -> Message:
        """Clear ``user``'s lock here, and at every kiosk of the fleet (blocking: on a thread)."""
        answer = unlock_user(self.store, user, by)
        self._for_fleet("unlock", lambda fleet: fleet.unlocked(user))
        return answer

    def _for_fleet(self, what: str, queue: Callable[[ServiceFleet], None]) -> None:
        """Queue ``what`` for the fleet; a failure is logged, never the request's answer."""
        if self.fleet is None:
            return
        try:
            queue(self.fleet)
        except Exception:
            log.exception("fleet: the %s could not be queued", what)

    # --- captures and status ------------------------------------------------------------------

    def _keep(self, sig: Signature | Refusal | None) -> str | None:
        if not isinstance(sig, Signature):
            return None
        cid = secrets.token_hex(8)
        self.captures[cid] = Kept(sig, self.pad.caps, self.cfg.protocol, self.port)
        while len(self.captures) > KEEP_CAPTURES:
            self.captures.popitem(last=False)
        return cid

    def status(self) -> Message:
        """Blocking (reads the store): call through ``asyncio.to_thread``."""
        pad = {**self.pad.info(), "lift_timeout_s": self.cfg.lift_timeout_s}
        now = time.time()
        users = self.store.users()
        return {"api": API_VERSION, "url": self.url, "pad": pad, "model": self._model_status(), "users": len(users),
                "lockouts": [u.user for u in users if u.locked_until > now],
                "busy": None if self.request is None else dict(self.request),
                "counters": dict(self.counters)}

    def _model_status(self) -> Message | None:
        """The model loaded for the pad's kind, or None (no pad yet, or not loaded)."""
        loaded = self._verifiers.get(model_dir_of(self.cfg, self.pad.has_pressure)) if self.pad.caps else None
        if loaded is None:
            return None
        m = loaded.encoder.manifest
        return {"kind": "pressure" if m.preprocessing.use_pressure else "no_pressure",
                "sha256": loaded.model_sha, "path": str(loaded.encoder.model_path),
                "score": loaded.score_name, **loaded.operating_point.to_dict()}
