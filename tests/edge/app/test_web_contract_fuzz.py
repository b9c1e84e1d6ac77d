"""A property-based run of the live API against its own OpenAPI document (issue #22 item 5).

schemathesis reads ``/v1/openapi.json`` from a running service (no pad, so a
verify answers at once) and sends, for every operation but the WebSocket,
bodies and path values that fit the schemas and ones that break them, with
the integrator's token. No answer may be a 5xx other than 503 (no pad), and
every error must be the documented JSON shape. A few dozen requests per
operation: seconds, not minutes. Skipped where schemathesis is not
installed (``pip install schemathesis``).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from service_harness import running

from edge.app.config import Config
from edge.client import ServiceClient

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.generation import GenerationMode  # noqa: E402

EXAMPLES = 25


@pytest.fixture(scope="module")
def service(tmp_path_factory, model_dir):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    (tmp_path / "run").mkdir(mode=0o700)
    cfg = Config(store=tmp_path / "t.db", model=model_dir, port=str(tmp_path / "no-pad"),
                 socket=tmp_path / "run" / "control.sock", http="127.0.0.1:0")
    with running(cfg, wait_pad=False):
        with ServiceClient(cfg.socket) as c:
            base = c.status()["url"].rstrip("/")
        yield base, (tmp_path / "run" / "http.token").read_text().strip()


def operations(base: str):
    schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json")
    return [r.ok() for r in schema.get_all_operations() if r.ok().path != "/v1/stream"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_the_contract_allows_or_breaks_is_a_server_error(service, mode):
    base, token = service
    ops = operations(base)
    assert len(ops) >= 10
    seen: dict[str, set[int]] = {}
    for op in ops:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(mode))
        def run(case):
            response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            assert response.status_code < 500 or response.status_code == 503, (case.as_curl_command(),
                                                                                 response.text)
            if response.status_code >= 400:
                body = response.json()
                assert body.get("status") == response.status_code and isinstance(body["error"], str), (
                    case.as_curl_command(), response.text)
        try:
            run()
        except Unsatisfiable:                 # nothing in this operation to break (no body, no path value)
            assert mode == GenerationMode.NEGATIVE
    print(f"\n{mode.name}: statuses by operation {seen}")
    if mode == GenerationMode.NEGATIVE:       # broken bodies are refused as such
        assert 400 in seen["POST /v1/verify"] and 400 in seen["POST /v1/enrol"]
