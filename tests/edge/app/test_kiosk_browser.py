"""The kiosk page in a real browser: Debian's headless Chromium over the DevTools protocol.

The virtual pad signs; the page must draw ink while the signature is being
written, show the verdict (test_kiosk_screen.py checks the signer's screen
itself: sizes, Cancel, Clear, the return to idle), and a page from
another origin in the same browser must be refused (no verify, no enrol, no
stream). ``SIGPAD_SCREENSHOT=PATH`` keeps its screenshot (otherwise it goes to the
test's temporary directory); the README's come from test_kiosk_screen.py.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from service_harness import http_client, kiosk_url, running

from bench.browser import Chromium, find_chromium
from edge.app.config import Config
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.synthetic import make_writer
from firmware_bridge.virtual import VirtualPad

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_chromium() is None,
                                 reason="no chromium (apt-get install chromium; .ci/run does)")]
WRITER = make_writer(7_000_000_001)      # the demo's synthetic writer 1: no dataset needed
SIGNATURE_PAD = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)
"""A 2:1 signature pad whose range fits the synthetic writer (CAPS tells the host)."""
INK_PIXELS = ("(() => { const c = document.getElementById('ink');"
              " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
              " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()")
EVIL_PAGE = b"<!doctype html><title>another site</title><p>nothing to see</p>"


@pytest.fixture
def evil_site(tmp_path):
    """Another origin on this machine: a page that will try the service from the browser."""
    (tmp_path / "index.html").write_bytes(EVIL_PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_kiosk_page_in_chromium(tmp_path, model_dir, evil_site):
    with VirtualPad("sigpad", speed=8.0, caps=SIGNATURE_PAD) as vpad:
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=0, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock", http="127.0.0.1:0",
                     lift_timeout_s=0.8)
        with running(cfg):
            api = http_client(cfg)
            with api.stream() as events:             # before the request: its first prompt is not missed
                enrol = ThreadPoolExecutor(1).submit(api.enrol, "demo")
                for i in range(6):
                    events.until("prompt")
                    vpad.sign(WRITER.genuine(i))
            assert enrol.result(60)["templates"] == 6
            url = api.status()["url"]
            with Chromium(kiosk_url(cfg, url)) as page:
                page.wait_for("document.getElementById('pad').dataset.present === 'yes'")
                assert page.evaluate(INK_PIXELS) == 0
                vpad.speed = 1.0                      # a person's pace, so the page sees it being written
                verify = ThreadPoolExecutor(1).submit(api.verify, "demo")
                page.wait_for("document.getElementById('prompt').textContent === 'Sign on the pad'")
                job = vpad.sign(WRITER.genuine(10))
                ink_while_signing = page.wait_for(f"{INK_PIXELS} > 50 && {INK_PIXELS}")
                assert not job.finished.is_set(), "the ink appeared only after the signature ended"
                decision = verify.result(60)
                word = page.wait_for("!document.getElementById('verdict').hidden && "
                                     "document.getElementById('verdict-word').textContent")
                assert word == ("Accepted" if decision["accepted"] else "Not accepted") == "Accepted"
                assert page.evaluate(INK_PIXELS) > ink_while_signing
                page.screenshot(os.environ.get("SIGPAD_SCREENSHOT") or tmp_path / "kiosk.png")
                assert Path(os.environ.get("SIGPAD_SCREENSHOT") or tmp_path / "kiosk.png").stat().st_size > 5000

                # another site, in the same browser, tries the service
                page.navigate(evil_site)
                base = url.rstrip("/")
                tried = page.evaluate(f"""(async () => {{
                    const post = (path, body) => fetch('{base}' + path, {{method: 'POST', mode: 'no-cors',
                        headers: {{'Content-Type': 'text/plain'}}, body: JSON.stringify(body)}})
                        .then(r => r.type, e => 'error');
                    const verify = await post('/v1/verify', {{user: 'demo'}});
                    const enrol = await post('/v1/enrol', {{user: 'mallory'}});
                    const stream = await new Promise(done => {{
                        const ws = new WebSocket('{base.replace("http", "ws")}/v1/stream');
                        ws.onopen = () => done('open'); ws.onerror = () => done('refused'); }});
                    return {{verify, enrol, stream}};
                }})()""", await_promise=True)
                assert tried["stream"] == "refused", tried
                status = api.status()
                assert status["busy"] is None and status["users"] == 1      # no verify armed, no enrolment
                assert status["counters"]["refused_origin"] == 3, status["counters"]
