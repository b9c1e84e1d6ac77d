"""The operator's page and routes: a real service, real HTTP, the page in headless Chromium.

A user locked out by a failed verify is listed with the lock and the
decision's reason; Unlock on the page clears it (and the user's history
says so); the routes refuse a caller without the credential.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from service_harness import http_client, locked_out_store, running

from bench.browser import Chromium, find_chromium
from edge.app.config import Config
from edge.client import ApiError, HttpClient
from edge.verifier import open_verifier
from firmware_bridge.protocols import get as get_protocol
from firmware_bridge.virtual import VirtualPad

PAD = get_protocol("sigpad").default_caps._replace(max_x=15000, max_y=7500)
ROW = "document.querySelector('tr[data-user=\"writer\"]')"


@pytest.fixture
def locked_out(tmp_path, model_dir):
    return locked_out_store(Config(store=tmp_path / "t.db", model=model_dir, lockout_after=1, lockout_s=3600))


def operator_token(cfg) -> str:
    """The operator's credential: its own file once the service writes one; until then the
    integrator's token (which may do everything the operator may)."""
    own = cfg.socket.parent / "operator.token"
    return (own if own.exists() else cfg.socket.parent / "http.token").read_text().strip()


def test_operator_routes_need_the_credential(tmp_path, locked_out):
    with VirtualPad("sigpad", caps=PAD) as vpad:
        cfg = locked_out.replace(port=vpad.path, socket=tmp_path / "control.sock", http="127.0.0.1:0")
        with running(cfg):
            api = http_client(cfg)
            anonymous = HttpClient(api.status()["url"])
            for method, path, body in (("GET", "/v1/operator/overview", None),
                                       ("GET", "/v1/operator/history/writer", None),
                                       ("POST", "/v1/operator/unlock", {"user": "writer"})):
                with pytest.raises(ApiError) as refused:
                    anonymous.call(method, path, body)
                assert refused.value.status == 401, (method, path)
            view = api.call("GET", "/v1/operator/overview")
            [row] = view["users"]
            assert row["user"] == "writer" and row["locked"] is True and row["locked_until"] > time.time()
            assert row["recent"][0]["reason"] == "no-match" and row["recent"][0]["score"] is not None
            with pytest.raises(ApiError) as missing:
                api.call("POST", "/v1/operator/unlock", {"user": "nobody"})
            assert missing.value.status == 404
            for body, field in (({"user": 5}, "user"), ({"user": "writer", "extra": [1]}, "extra")):
                with pytest.raises(ApiError) as typed:               # the schema, not a coercion
                    api.call("POST", "/v1/operator/unlock", body)
                assert typed.value.status == 400 and field in str(typed.value), body
            assert api.call("GET", "/v1/operator/overview")["users"][0]["locked"] is True   # still locked


@pytest.mark.skipif(find_chromium() is None, reason="no chromium (apt-get install chromium)")
def test_operator_page_lists_users_and_unlocks(tmp_path, locked_out):
    with VirtualPad("sigpad", caps=PAD) as vpad:
        cfg = locked_out.replace(port=vpad.path, socket=tmp_path / "control.sock", http="127.0.0.1:0")
        with running(cfg):
            url = http_client(cfg).status()["url"].rstrip("/") + f"/operator#o={operator_token(cfg)}"
            with Chromium(url, 1024, 600) as page:
                page.wait_for(f"{ROW} && {ROW}.dataset.locked === 'yes'")
                assert "#" not in page.evaluate("location.href")
                text = page.evaluate(f"{ROW}.innerText")
                assert "locked until" in text and "REJECTED" in text and "no-match" in text, text
                if os.environ.get("SIGPAD_SCREENSHOTS"):   # docs/img/operator.png is made this way
                    page.screenshot(Path(os.environ["SIGPAD_SCREENSHOTS"]) / "operator.png")
                page.evaluate(f"[...{ROW}.querySelectorAll('button')].find(b => b.textContent === 'Unlock').click()")
                page.wait_for(f"{ROW} && {ROW}.dataset.locked === 'no'")
                assert page.evaluate("document.getElementById('message').textContent") == "unlocked writer"
                page.wait_for(f"{ROW}.innerText.includes('unlocked by the operator page')")
        with open_verifier(cfg) as v:
            assert v.store.lock_state("writer").locked_until == 0
