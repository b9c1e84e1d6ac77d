"""Beyond loopback: TLS, a credential on every /v1 route, Host checked (issue #23 items 9, 13).

The service on ``0.0.0.0`` with a self-signed certificate (openssl) and
``hostnames = ["kiosk.test"]``: it says so in the log; the Python client
proves it over TLS; the bare status now wants a credential; ``Host:
0.0.0.0:PORT`` (the LAN trick of issue #23) is refused, ``kiosk.test`` is
served; plain HTTP gets nothing. Without TLS the start is refused (exit 2:
test_web_stop).
"""

from __future__ import annotations

import http.client
import json
import logging
import shutil
import ssl
import subprocess

import pytest
from service_harness import running

from edge.app.config import Config
from edge.client import HttpClient, ServiceClient

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=kiosk.test", "-addext", "subjectAltName=DNS:kiosk.test,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def https(port, context, path, host, token=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context)
    try:
        headers = {"Host": host} | ({"Authorization": f"Bearer {token}"} if token else {})
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_beyond_loopback_tls_names_and_credentials(tmp_path, model_dir, certificate, caplog):
    cert, key = certificate
    cfg = Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad"),
                 socket=tmp_path / "run" / "control.sock", http="0.0.0.0:0", tls_cert=cert, tls_key=key,
                 hostnames=("kiosk.test",))
    (tmp_path / "run").mkdir(mode=0o700)
    caplog.set_level(logging.INFO, logger="sigpad")
    with running(cfg, wait_pad=False):
        with ServiceClient(cfg.socket) as c:
            url = c.status()["url"]
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert url == f"https://kiosk.test:{port}/"
        assert any("beyond loopback: TLS" in r.getMessage() for r in caplog.records)
        context = ssl.create_default_context(cafile=str(cert))
        token = (tmp_path / "run" / "http.token").read_text().strip()
        api = HttpClient(f"https://127.0.0.1:{port}", token=token, tls=context)
        assert api.users() == []                                  # proven, over TLS
        assert https(port, context, "/v1/status", f"kiosk.test:{port}")[0] == 401    # every /v1 route
        assert https(port, context, "/v1/openapi.json", f"kiosk.test:{port}")[0] == 401
        assert https(port, context, "/v1/status", f"kiosk.test:{port}", token)[0] == 200
        assert https(port, context, "/v1/status", f"0.0.0.0:{port}", token)[0] == 403
        assert https(port, context, "/v1/status", f"192.0.2.77:{port}", token)[0] == 403
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            plain.request("GET", "/v1/status", headers={"Host": f"kiosk.test:{port}"})
            plain.getresponse()
        plain.close()
