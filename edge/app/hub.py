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
import itertools
import json
import logging
import secrets
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from firmware_bridge.capture import CaptureConfig, Refusal
from firmware_bridge.errors import CaptureError, SigpadError
from firmware_bridge.signature import Signature

from ..errors import EnrolmentError
from ..model import Encoder
from ..store import Store, check_user_id
from ..verifier import Verifier, model_dir_of
from .config import Config
from .livepad import LivePad
from .padflow import enrol_from_pad, next_signature, verify_from_pad
from .report import unjudged

log = logging.getLogger("sigpad.service")
API_VERSION = 1
SUBSCRIBER_QUEUE = 4096             # events buffered per stream client (~20 s of ink)
KEEP_CAPTURES = 8


class Busy(SigpadError, RuntimeError):
    """Another request is using the pad."""


class NoPad(SigpadError, RuntimeError):
    """No pad is connected right now."""


class Hub:
    def __init__(self, cfg: Config, store: Store, outputs=None,
                 sign_timeout_s: float = 60.0):
        self.cfg, self.store, self.outputs = cfg, store, outputs
        self.sign_timeout_s = sign_timeout_s
        self.loop = asyncio.get_running_loop()
        self.subscribers: set[asyncio.Queue] = set()
        self.counters: dict[str, int] = {}
        self.captures: OrderedDict[str, dict] = OrderedDict()
        self.request: dict | None = None       # the request using the pad
        self.url: str | None = None            # the kiosk page, when the web API runs
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

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.subscribers.discard(q)

    def publish(self, event: dict) -> None:
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

    def _from_pad_thread(self, event: dict) -> None:
        try:
            self.loop.call_soon_threadsafe(self.publish, event)
        except RuntimeError:
            pass                            # the loop is closing

    # --- the requests ---------------------------------------------------------------------

    async def verify(self, user: str, request_id: str | None = None, listen=None) -> dict:
        async with self._armed("verify", user, request_id, listen) as (rid, say):
            say("sign now")
            result, sig = await self._blocking(self._verify, user)
        return self._answer({"event": "decision", "request_id": rid, **result,
                             "capture_id": self._keep(sig)}, listen)

    async def enrol(self, user: str, replace: bool = False, request_id: str | None = None,
                    listen=None) -> dict:
        async with self._armed("enrol", user, request_id, listen) as (rid, say):
            try:
                result = await self._blocking(self._enrol, user, replace, say)
                answer = {"event": "enrolled", "request_id": rid, "user": user,
                          "templates": len(result.templates),
                          "consistency": [round(c, 4) for c in result.consistency]}
            except EnrolmentError as exc:
                answer = {"event": "error", "request_id": rid, "user": user, "error": str(exc),
                          "outliers": list(exc.outliers)}
            except SigpadError as exc:
                answer = {"event": "error", "request_id": rid, "user": user, "error": str(exc)}
        return self._answer(answer, listen)

    async def capture(self, request_id: str | None = None, listen=None) -> dict:
        async with self._armed("capture", None, request_id, listen) as (rid, say):
            say("sign now")
            try:
                sig = await self._blocking(lambda: next_signature(self.pad, self.sign_timeout_s, say))
                answer = {"event": "captured", "request_id": rid, "capture_id": self._keep(sig),
                          "samples": len(sig), "duration_ms": round(sig.duration_ms, 1)}
            except CaptureError as exc:
                answer = {"event": "error", "request_id": rid, "error": str(exc)}
        return self._answer(answer, listen)

    def ok(self) -> dict:
        self.pad.ok()
        return self._answer({"event": "ok"}, None)

    def clear(self) -> dict:
        self.pad.clear()
        return self._answer({"event": "cleared"}, None)

    def cancel(self) -> dict:
        if self.request is not None:
            self.pad.cancel()
        return self._answer({"event": "cancelled", "request_id": (self.request or {}).get("request_id")},
                            None)

    @asynccontextmanager
    async def _armed(self, kind: str, user: str | None, request_id: str | None, listen):
        if user is not None:
            check_user_id(user)
        if self.request is not None:
            raise Busy("busy: another request is using the pad")
        if not self.pad.present:
            raise NoPad(f"no pad at {self.cfg.port} (plug it in; the service waits for it)")
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

    def _say(self, rid: str, user: str | None, listen):
        def say(message: str) -> None:     # called on the worker thread or the loop
            event = {"event": "prompt", "request_id": rid, "user": user, "message": message}
            self.loop.call_soon_threadsafe(self._answer, event, listen)
        return say

    def _answer(self, event: dict, listen) -> dict:
        if listen is not None:
            listen(event)
        self.publish(event)
        if event["event"] == "decision" and self.outputs is not None:
            try:
                self.outputs.show(event["accepted"])
            except Exception:               # a broken LED must not break verification
                log.exception("GPIO output failed")
        return event

    async def _blocking(self, fn, *args):
        """Run ``fn`` on the request thread; if our caller goes, cancel the wait for the pen."""
        future = self.loop.run_in_executor(self._worker, fn, *args)
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

    def _verify(self, user: str) -> tuple[dict, Signature | None]:
        self.pad.last_signature = None
        try:
            verifier = self.verifier()
        except SigpadError as exc:
            return unjudged(user, exc), None
        return verify_from_pad(verifier, self.pad, user, self.sign_timeout_s).to_dict(), \
            self.pad.last_signature

    def _enrol(self, user: str, replace: bool, say):
        return enrol_from_pad(self.verifier(), self.pad, user, self.sign_timeout_s, say, replace=replace)

    # --- captures and status ------------------------------------------------------------------

    def _keep(self, sig: Signature | Refusal | None) -> str | None:
        if not isinstance(sig, Signature):
            return None
        cid = secrets.token_hex(8)
        self.captures[cid] = {"signature": sig, "caps": self.pad.caps, "protocol": self.cfg.protocol,
                              "port": self.cfg.port, "at": time.time()}
        while len(self.captures) > KEEP_CAPTURES:
            self.captures.popitem(last=False)
        return cid

    def status(self) -> dict:
        """Blocking (reads the store): call through ``asyncio.to_thread``."""
        caps = self.pad.caps
        pad = {**self.pad.info(), "lift_timeout_s": self.cfg.lift_timeout_s}
        model = None
        loaded = self._verifiers.get(model_dir_of(self.cfg, self.pad.has_pressure)) if caps else None
        if loaded is not None:
            m = loaded.encoder.manifest
            model = {"kind": "pressure" if m.preprocessing.use_pressure else "no_pressure",
                     "sha256": loaded.model_sha, "path": str(loaded.encoder.model_path),
                     "score": loaded.score_name, "threshold": loaded.threshold}
        now = time.time()
        users = self.store.users()
        return {"api": API_VERSION, "url": self.url, "pad": pad, "model": model, "users": len(users),
                "lockouts": [u.user for u in users if u.locked_until > now],
                "busy": None if self.request is None else dict(self.request),
                "counters": dict(self.counters)}
