"""The decision's answer in the OpenAPI document: its reasons are the fixed aspects; the
signer's stream never carries them."""

from edge.app import api
from edge.app.web import SIGNER_FIELDS, make_app
from edge.decision import Decision


class _NoHub:
    count = staticmethod(lambda name: None)
    cfg = None


def test_verify_answers_a_decision_whose_reasons_are_the_aspects():
    doc = api.openapi(make_app(hub=_NoHub(), tokens={}, hosts=set(), limits=None), "t", "1")
    answer = doc["paths"]["/v1/verify"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    reasons = answer["properties"]["reasons"]
    assert reasons["type"] == "array" and reasons["items"] == {"enum": ["shape", "timing", "pressure", "size"]}
    # every field a decision answers with is in the document
    fields = set(Decision("a", False, -2.0, -1.2, "no-match", 1.0, reasons=("shape",), adapted="x",
                          damage=(("crc", 1),)).to_dict())
    assert fields | {"event", "request_id", "capture_id"} == set(answer["properties"])
    assert "content" not in doc["paths"]["/v1/enrol"]["post"]["responses"]["200"]   # declared where known


def test_the_signer_s_stream_drops_the_reasons_and_the_score():
    # the kiosk's stream keeps only these fields: "the shape differs" would coach a forger
    assert not {"reasons", "score", "threshold", "detail", "user"} & SIGNER_FIELDS
