"""``sigpad demo --web``: the service with its kiosk page, signed by a virtual pad.

It starts a virtual pad on a pseudo-terminal and ``sigpad serve`` on it (a
temporary store, socket and token unless ``--store`` is given), prints the
kiosk page's URL, then plays the host application over the control socket
(``edge.client``): it enrols a writer (6 signatures: ``[enrol] count``) and verifies a
genuine signature and a skilled forgery in turn, every few seconds, until
Ctrl-C (or ``--rounds``) - a different one each round, as people sign
(the verifier refuses a signature it has already seen as a replay). The virtual pad signs whenever the page prompts,
so the page shows the ink live, the prompts and each verdict.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.protocols.base import Capabilities
from firmware_bridge.signature import Signature
from firmware_bridge.virtual import VirtualPad

from ..client import Message, OnEvent, ServiceClient
from .config import Config
from .credentials import FRAGMENT_KEYS, KIOSK, TOKEN_FILES
from .demo import DemoSignatures, demo_rounds, demo_signatures
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
                print(f"kiosk page: {_page_url(client.status()['url'], sock.parent)}  "
                      "(open it in a browser; Ctrl-C to stop)", file=sys.stderr, flush=True)
                _play(client, vpad, sigs, demo_rounds(args.writer, args.data), args.rounds)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            service.join(15)
    return OK


def _page_url(url: str, runtime_dir: Path) -> str:
    """The kiosk page with its credential in the fragment (never sent, never logged), once
    the service writes a kiosk token; the bare URL before."""
    token_file = runtime_dir / TOKEN_FILES[KIOSK]
    if not token_file.exists():
        return url
    return f"{url.rstrip('/')}/#{FRAGMENT_KEYS[KIOSK]}={token_file.read_text().strip()}"


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


def _play(client: ServiceClient, vpad: VirtualPad, sigs: DemoSignatures,
          turns: Iterator[tuple[str, Signature]], rounds: int | None) -> None:
    label, enrol_sigs = sigs[0], sigs[1]
    while not client.status()["pad"]["present"]:
        time.sleep(0.1)
    spares = list(enrol_sigs)

    def sign_when_asked(event: Message) -> None:
        if event.get("event") == "prompt" and event["message"].startswith("sign") and spares:
            vpad.sign(spares.pop(0))
    print(f"enrolling {label} as 'demo'", flush=True)
    answer = client.enrol("demo", replace=True, on_event=sign_when_asked)
    print(f"  {answer['event']}: {answer.get('templates', answer.get('error'))}", flush=True)
    for n, (kind, sig) in enumerate(turns):
        if rounds is not None and n >= 2 * rounds:
            return
        time.sleep(PAUSE_S)
        d = client.verify("demo", on_event=_signs_when_prompted(vpad, sig))
        verdict = "ACCEPTED" if d.get("accepted") else "REJECTED"
        print(f"  {kind:16s} {verdict}  {d.get('reason')}  score {d.get('score')}", flush=True)
    print(f"no unseen signatures of {label} left: the demo ends", flush=True)


def _signs_when_prompted(vpad: VirtualPad, sig: Signature) -> OnEvent:
    """An event listener that signs ``sig`` on the virtual pad at the prompt."""
    def sign(event: Message) -> None:
        if event.get("event") == "prompt":
            vpad.sign(sig)
    return sign
