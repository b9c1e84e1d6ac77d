"""OK before a usable signature is not a judgement (issue #23 item 3).

A kiosk (its own credential) presses OK while the writer is still signing:
the capture ends as too short (``capture-failed``), nothing is judged, and
the failure is not counted: with ``lockout_after = 1`` one counted failure
would lock the user out, and the user stays free.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from service_harness import enrol_directly, http_client, running

from edge.app.config import Config
from edge.client import HttpClient
from firmware_bridge.virtual import VirtualPad

pytestmark = [pytest.mark.data]


def test_ok_while_the_pen_is_down_ends_the_capture_uncounted(tmp_path, model_dir, sig):
    with VirtualPad("sigpad", speed=1.0) as vpad:               # real time: the OK lands mid-signature
        cfg = Config(store=tmp_path / "t.db", model=model_dir, lockout_after=1, port=vpad.path,
                     protocol="sigpad", socket=tmp_path / "control.sock", http="127.0.0.1:0")
        enrol_directly(cfg, "writer")
        with running(cfg):
            api = http_client(cfg)
            kiosk = HttpClient(api.base, token_file=tmp_path / "kiosk.token")
            genuine = sig(1, 8)
            with api.stream() as events, ThreadPoolExecutor(1) as pool:
                answer = pool.submit(api.verify, "writer")
                events.until("prompt")
                vpad.sign(genuine)
                first = events.until("ink")[0]
                while events.until("ink")[0]["t_ms"] - first["t_ms"] < 600:
                    pass                                          # enough ink to judge: 0.6 s of it
                assert kiosk.ok()["event"] == "ok"                # the pen is on the pad
                decision = answer.result(60)
            assert (decision["accepted"], decision["reason"]) == (False, "capture-failed"), decision
            assert "before the pen was lifted" in decision["detail"]
            assert decision["score"] is None                      # not judged
            vpad.wait_idle(60)
            user = api.users()[0]
            assert user["user"] == "writer" and user["locked_until"] == 0   # not counted
