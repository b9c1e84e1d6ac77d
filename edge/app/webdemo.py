"""``sigpad demo --web``: the service with its kiosk page, signed by a virtual pad.

It starts a virtual pad on a pseudo-terminal and ``sigpad serve`` on it (a
temporary store, socket and token unless ``--store`` is given), prints the
kiosk page's URL, then plays the host application over the control socket
(``edge.client``): it enrols a writer with 5 signatures and verifies a
genuine signature and a skilled forgery in turn, every few seconds, until
Ctrl-C (or ``--rounds``). The virtual pad signs whenever the page prompts,
so the page shows the ink live, the prompts and each verdict.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
from pathlib import Path

from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.protocols.base import Capabilities
from firmware_bridge.signature import Signature
from firmware_bridge.virtual import VirtualPad

from ..client import Message, OnEvent, ServiceClient
from .config import Config
from .demo import DemoSignatures, demo_signatures
from .report import ERROR, OK
from .service import serve

PAUSE_S = 3.0                     # to read a verdict before the next prompt


def run_web_demo(args: argparse.Namespace, cfg: Config) -> int:
    speed = (args.speed or 1.0) if get_protocol(args.protocol).has_clock else 1.0
    sigs = demo_signatures(args.writer, args.data)
    with tempfile.TemporaryDirectory(prefix="sigpad-webdemo-") as tmp, \
            VirtualPad(args.protocol, speed=speed, caps=_demo_caps(args.protocol)) as vpad:
        sock = Path(tmp) / "control.sock"
        cfg = cfg.replace(store=cfg.store or Path(tmp) / "templates.db", lockout_after=0, port=vpad.path,
                          protocol=args.protocol, socket=sock, lift_timeout_s=0.8)
        stop, result = threading.Event(), []
        service = threading.Thread(target=lambda: result.append(serve(cfg, stop)), daemon=True)
        service.start()
        try:
            client = _connect(sock, service)
            if client is None:
                return result[0] if result else ERROR
            with client:
                print(f"kiosk page: {client.status()['url']}  (open it in a browser; Ctrl-C to stop)",
                      flush=True)
                _play(client, vpad, sigs, args.rounds)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            service.join(15)
    return OK


def _demo_caps(protocol: str) -> Capabilities | None:
    """A 2:1 signature pad that the demo writers fill, for pads that report their range
    (the sigpad protocol's default, 65535 square, would show them small); others keep theirs."""
    proto = get_protocol(protocol)
    return proto.default_caps._replace(max_x=15000, max_y=7500) if proto.query else None


def _connect(path: Path, service: threading.Thread) -> ServiceClient | None:
    for _ in range(300):
        if path.exists():
            return ServiceClient(path)
        if not service.is_alive():
            return None
        time.sleep(0.05)
    return None


def _play(client: ServiceClient, vpad: VirtualPad, sigs: DemoSignatures, rounds: int | None) -> None:
    label, enrol_sigs, genuine, forgery = sigs
    while not client.status()["pad"]["present"]:
        time.sleep(0.1)
    spares = list(enrol_sigs)

    def sign_when_asked(event: Message) -> None:
        if event.get("event") == "prompt" and event["message"].startswith("sign") and spares:
            vpad.sign(spares.pop(0))
    print(f"enrolling {label} as 'demo'", flush=True)
    answer = client.enrol("demo", replace=True, on_event=sign_when_asked)
    print(f"  {answer['event']}: {answer.get('templates', answer.get('error'))}", flush=True)
    turns = itertools.cycle((("genuine", genuine), ("skilled forgery", forgery)))
    for _ in itertools.count() if rounds is None else range(2 * rounds):
        kind, sig = next(turns)
        time.sleep(PAUSE_S)
        d = client.verify("demo", on_event=_signs_when_prompted(vpad, sig))
        verdict = "ACCEPTED" if d.get("accepted") else "REJECTED"
        print(f"  {kind:16s} {verdict}  {d.get('reason')}  score {d.get('score')}", flush=True)


def _signs_when_prompted(vpad: VirtualPad, sig: Signature) -> OnEvent:
    """An event listener that signs ``sig`` on the virtual pad at the prompt."""
    def sign(event: Message) -> None:
        if event.get("event") == "prompt":
            vpad.sign(sig)
    return sign
