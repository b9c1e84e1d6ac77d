"""The signer's screen in a real headless Chromium, at a 7-inch kiosk's 800x480 and a phone's 390x844.

One running service (virtual pad on a pty, real store, real HTTP and
WebSocket) per viewport; the page is opened as the kiosk opens it
(``/#k=TOKEN``). What the signer must see, and what they must not:

* a verdict without score, threshold or reason code, its word wholly inside
  the viewport and the box (no "CCEPTE");
* back to "please wait" after ``[kiosk] verdict_seconds`` (and not before);
* Cancel: a neutral "Cancelled", never a red rejection;
* Clear while the pen is still down: the rest of that stroke is neither drawn
  nor judged; the next signature alone is.

``SIGPAD_SCREENSHOTS=DIR`` saves idle, ink, accepted, rejected and cancelled
screenshots there (docs/img's are made this way at 800x480).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from service_harness import http_client, kiosk_url, running

from bench.browser import Chromium, find_chromium
from edge.app.config import Config
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.signature import Signature
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="no chromium (apt-get install chromium; .ci/run does)")
WRITER = make_writer(7_000_000_001)      # the demo's synthetic writer 1
FORGER = make_writer(7_000_000_002)      # another writer: a different hand
PAD = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)
VERDICT_S = 3.0
INK_PIXELS = ("(() => { const c = document.getElementById('ink');"
              " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
              " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()")
SIGNING = ("document.body.dataset.state === 'signing' && "
           "document.getElementById('prompt').textContent === 'Sign on the pad'")
VERDICT_SHOWN = "document.body.dataset.state === 'verdict' && document.getElementById('verdict-word').textContent"
# The verdict word's box and the viewport's / the signing box's, and whether its text overflows.
VERDICT_GEOMETRY = """(() => { const w = document.getElementById('verdict-word').getBoundingClientRect();
  const m = document.querySelector('main').getBoundingClientRect(), el = document.getElementById('verdict-word');
  return {word: [w.left, w.top, w.right, w.bottom], box: [m.left, m.top, m.right, m.bottom],
          viewport: [window.innerWidth, window.innerHeight], overflow: el.scrollWidth > el.clientWidth}; })()"""


def one_stroke(seconds: float) -> Signature:
    """One long pen-down stroke (a wave across the pad), 200 samples a second."""
    n = int(seconds * 200)
    x = 1000 + 12000 * np.arange(n) / n
    y = 3750 + 2000 * np.sin(np.linspace(0, 6 * np.pi, n))
    return Signature.create(t_ms=np.arange(n) * 5.0, x=x, y=y, pen_down=np.ones(n, bool), pressure=np.full(n, 0.5))


def shot(page: Chromium, name: str, size: tuple[int, int]) -> None:
    folder = os.environ.get("SIGPAD_SCREENSHOTS")
    if folder and size == (800, 480):
        page.screenshot(Path(folder) / f"kiosk-{name}.png")


def verdict_fits(page: Chromium) -> None:
    g = page.evaluate(VERDICT_GEOMETRY)
    left, top, right, bottom = g["word"]
    assert left >= 0 and right <= g["viewport"][0] and top >= 0 and bottom <= g["viewport"][1], g
    assert g["box"][0] <= left and right <= g["box"][2] and g["box"][1] <= top and bottom <= g["box"][3], g
    assert not g["overflow"], g


def signer_sees(page: Chromium) -> str:
    return page.evaluate("document.body.innerText")


@pytest.mark.parametrize("size", [(800, 480), (390, 844)], ids=["800x480", "390x844"])
def test_signer_screen(tmp_path, model_dir, size):
    genuine = (WRITER.genuine(i) for i in itertools.count(10))      # each verify a fresh one: no replays
    with VirtualPad("sigpad", speed=8.0, caps=PAD) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=0, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock", http="127.0.0.1:0",
                     lift_timeout_s=0.8, kiosk_verdict_s=VERDICT_S)
        with running(cfg):
            api = http_client(cfg, timeout_s=90)
            with api.stream() as events:
                enrol = ThreadPoolExecutor(1).submit(api.enrol, "demo")
                for i in range(6):
                    events.until("prompt")
                    vpad.sign(WRITER.genuine(i))
            assert enrol.result(90)["templates"] == 6
            with Chromium(kiosk_url(cfg, api.status()["url"]), *size) as page:
                page.wait_for("document.getElementById('pad').dataset.present === 'yes'")
                assert "#" not in page.evaluate("location.href"), "the credential stays in the address bar"
                assert page.evaluate("document.getElementById('prompt').textContent") == "Please wait"
                assert page.evaluate("['ok', 'clear', 'cancel'].map(b => document.getElementById(b).disabled)") \
                    == [True, True, True], "buttons that do nothing yet are enabled"
                shot(page, "idle", size)
                accepted_and_back_to_idle(page, api, vpad, next(genuine), size)
                rejected(page, api, vpad, FORGER.genuine(0), size)
                cancelled(page, api, vpad, size)
                cleared_mid_stroke(page, api, vpad, next(genuine))


def verify_signing(page: Chromium, api, vpad: VirtualPad, sig: Signature):
    """Start a verify, wait for the page to ask, sign ``sig``; the answer's future."""
    answer = ThreadPoolExecutor(1).submit(api.verify, "demo")
    page.wait_for(SIGNING)
    assert page.evaluate("document.getElementById('cancel').disabled") is False
    vpad.sign(sig)
    return answer


def accepted_and_back_to_idle(page, api, vpad, sig, size) -> None:
    vpad.speed = 2.0
    answer = verify_signing(page, api, vpad, sig)
    page.wait_for(f"{INK_PIXELS} > 2000", timeout_s=60)      # most of the signature is on screen
    shot(page, "ink", size)
    decision = answer.result(90)
    assert decision["accepted"], decision
    assert page.wait_for(VERDICT_SHOWN) == "Accepted"
    seen = time.monotonic()
    verdict_fits(page)
    text = signer_sees(page)
    assert "score" not in text.lower() and "threshold" not in text.lower(), text
    assert f"{decision['score']:.3f}" not in text and f"{decision['threshold']:.3f}" not in text, text
    shot(page, "accepted", size)
    page.wait_for("document.body.dataset.state === 'idle'", timeout_s=VERDICT_S + 30)
    assert time.monotonic() - seen >= VERDICT_S * 0.9, "the verdict left before [kiosk] verdict_seconds"
    assert page.evaluate("document.getElementById('verdict').hidden") is True
    assert page.evaluate(INK_PIXELS) == 0
    assert page.evaluate("document.getElementById('prompt').textContent") == "Please wait"


def rejected(page, api, vpad, sig, size) -> None:
    vpad.speed = 8.0
    decision = verify_signing(page, api, vpad, sig).result(90)
    assert not decision["accepted"] and decision["reason"] == "no-match", decision
    assert page.wait_for(VERDICT_SHOWN) == "Not accepted"
    verdict_fits(page)
    text = signer_sees(page)
    assert "no-match" not in text and f"{decision['score']:.3f}" not in text and "threshold" not in text, text
    assert "Please ask the staff" in text
    shot(page, "rejected", size)


def cancelled(page, api, vpad, size) -> None:
    answer = ThreadPoolExecutor(1).submit(api.verify, "demo")
    page.wait_for(SIGNING)
    page.evaluate("document.getElementById('cancel').click()")
    decision = answer.result(90)
    assert decision["reason"] == "capture-failed", decision          # the API keeps the detail
    assert page.wait_for(VERDICT_SHOWN) == "Cancelled"
    assert page.evaluate("document.getElementById('verdict').className") == "neutral"
    verdict_fits(page)
    text = signer_sees(page)
    assert "REJECTED" not in text.upper().replace("NOT ACCEPTED", "") and "capture" not in text, text
    shot(page, "cancelled", size)


def cleared_mid_stroke(page, api, vpad, sig) -> None:
    vpad.speed = 1.0                       # a person's pace: Clear lands while the pen moves
    answer = ThreadPoolExecutor(1).submit(api.verify, "demo")
    page.wait_for(SIGNING)
    stroke = vpad.sign(one_stroke(4.0), done=False)
    page.wait_for(f"{INK_PIXELS} > 50 && !document.getElementById('clear').disabled")
    page.evaluate("document.getElementById('clear').click()")
    assert not stroke.finished.is_set(), "the stroke ended before Clear: the test proves nothing"
    assert stroke.wait(60)
    assert page.evaluate(INK_PIXELS) == 0, "the rest of the cleared stroke was drawn"
    assert not answer.done(), f"the cleared stroke was judged: {answer.result()}"
    time.sleep(4 * 0.8)                    # the pen is lifted longer than the lift timeout
    vpad.speed = 8.0
    vpad.sign(sig)
    decision = answer.result(90)
    assert decision["accepted"], decision                  # the genuine signature alone was judged
    assert len(api.recording(decision["capture_id"])["samples"]) == len(sig)


def test_the_page_speaks_the_browsers_language(tmp_path, model_dir):
    """``[kiosk] language = "auto"``: a browser asking for French (then German) gets French words,
    the buttons included; the catalogue's English is only the fallback."""
    with VirtualPad("sigpad", speed=8.0, caps=PAD) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, port=vpad.path, protocol="sigpad",
                     socket=tmp_path / "control.sock", http="127.0.0.1:0")
        with running(cfg):
            url = kiosk_url(cfg, http_client(cfg).status()["url"])
            with Chromium("about:blank") as page:
                page.call("Emulation.setUserAgentOverride", userAgent="sigpad-test", acceptLanguage="fr-CH,de;q=0.8")
                page.call("Page.navigate", url=url)     # (navigate() waits for the URL, which the page changes)
                page.wait_for("document.documentElement.lang === 'fr'")
                assert page.evaluate("document.getElementById('prompt').textContent") == "Veuillez patienter"
                assert page.evaluate("document.getElementById('cancel').textContent") == "Annuler"


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["390x844", "1280x800"])
def test_every_verdict_in_every_language_fits(tmp_path, model_dir, size):
    """The page's own event handler is fed each verdict (as the stream would send it) in each
    catalogue language: every word and detail stays inside the box and the viewport."""
    verdicts = {"accepted": {"event": "decision", "request_id": "r", "accepted": True, "reason": "match"},
                "rejected": {"event": "decision", "request_id": "r", "accepted": False, "reason": "no-match"},
                "retry": {"event": "decision", "request_id": "r", "accepted": False, "reason": "damaged-capture"},
                "cancelled": {"event": "cancelled", "request_id": "r"},
                "enrolled": {"event": "enrolled", "request_id": "r", "user": "u", "templates": 5}}
    with VirtualPad("sigpad", caps=PAD) as vpad:
        for language in ("en", "de", "fr"):
            cfg = Config(store=tmp_path / language / "t.db", model=model_dir, port=vpad.path, protocol="sigpad",
                         socket=tmp_path / language / "control.sock", http="127.0.0.1:0", kiosk_language=language)
            (tmp_path / language).mkdir()
            with running(cfg), Chromium(kiosk_url(cfg, http_client(cfg).status()["url"]), *size) as page:
                # the stream connects once the words are in (the HTML's own lang is "en" from the start)
                page.wait_for(f"document.getElementById('pad').dataset.present === 'yes' && "
                              f"document.documentElement.lang === '{language}'")
                for name, event in verdicts.items():
                    page.evaluate("handle({event: 'prompt', request_id: 'r', message: 'sign now'})")
                    page.evaluate(f"handle({json.dumps(event)})")
                    word = page.wait_for(VERDICT_SHOWN)
                    assert word and word != name, (language, name)          # a catalogue's word, not the key
                    verdict_fits(page)
