"""bench_complexity's summary: counts below each floor and refusals, on hand-made signatures."""

from helpers.signatures import circle_signature, cursive_signature, line_signature

from bench.bench_complexity import summarise


def test_the_summary_counts_what_each_floor_and_the_verdict_catch():
    out = summarise("hand", [("line", line_signature()), ("circle", circle_signature()),
                             ("cursive", cursive_signature())])
    assert out["signatures"] == 3 and out["refused"] == 2 and out["refused_names"] == ["line", "circle"]
    few = out["few_strokes"]          # all three have 1-2 strokes
    assert few["count"] == 3 and few["strokes"]["below_floor"] == 3
    # the line: 0.49 s (below 0.7), path 1.0 (below 1.2); the line and the circle turn too little
    assert few["pen_down_ms"]["below_floor"] == 1 and few["path_ratio"]["below_floor"] == 1
    assert few["turning_rad"]["below_floor"] == 2 and few["turning_rad"]["min"] == 0.0
    assert out["least_complex_few_strokes"][0]["name"] == "line"
