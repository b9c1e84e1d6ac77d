"""docs/results.md is generated: from the benchmarks' kept JSON, or a labelled recorded fallback."""

from __future__ import annotations

import json

from bench import results, run_all

EDGE = [
    {"bench": "edge", "metric": "model", "model": "edge/models/pressure", "sha256": "a36028cecac3ff",
     "backend": "litert", "threshold": 0.746914, "score": "centroid-max-cosine"},
    {"bench": "edge", "metric": "size", "model_bytes": 89200, "template_bytes": 64, "target_model_bytes": 100_000,
     "target_template_bytes": 80},
    {"bench": "edge", "metric": "latency", "what": "preprocess+invoke+match", "n": 4, "median_ms": 0.5412,
     "p99_ms": 0.68, "target_median_ms": 1.0, "ok": True},
    {"bench": "edge", "metric": "dtw", "rate_hz": 100, "n": 4, "dtw_median_ms": 1.73, "dtw_p99_ms": 2.0,
     "model_median_ms": 0.54, "ratio": 3.2, "target_ratio": 3.0},
    {"bench": "edge", "metric": "operating_point", "data": "synthetic writers never used in training",
     "threshold": 0.746914, "frr_pct": 26.33, "far_skilled_pct": 8.0, "far_random_pct": 0.0,
     "genuine": 300, "skilled": 300, "random": 870},
]


def rec(name, lines, commit="abc1234"):
    return {"bench": name, "command": f"python -m bench.run_all --only {name}", "date": "2026-01-02 03:04 UTC",
            "commit": commit, "results": lines}


def test_tables_name_command_date_and_commit(tmp_path):
    runs = tmp_path / "runs"
    results.save(rec("bench_edge", EDGE), runs)
    results.save(rec("bench_dtw", [{"bench": "dtw", "task": "Task2", "users": 40, "eer_skilled": 15.0}]), runs)
    text = results.write(tmp_path / "results.md", runs, tmp_path / "none").read_text()
    assert "`python -m bench.run_all --only bench_edge` - 2026-01-02 03:04 UTC, commit `abc1234`" in text
    assert "| model file / int8 template | 89,200 / 64 bytes | <= 100,000 / <= 80 bytes: met |" in text
    assert "| preprocess+invoke+match, median / p99 | 0.54 / 0.68 ms | median <= 1 ms: met |" in text
    assert "| synthetic writers never used in training | 0.7469 | 26.33 | 8.00 | 0.00 | 300 / 300 / 870 |" in text
    assert "| Task2 | 40 | 15.00 | - | - | - | - | - |" in text  # what a line lacks shows as "-"
    assert text.index("## The DTW reference") < text.index("## On the device")


def test_recorded_figures_are_labelled_and_give_way_to_a_fresh_run(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    text = results.render(results.load(runs))  # the repository's recorded 5-fold table
    assert "Last measured at commit 69a36c6 (session 9), not regenerated" in text
    assert "| distilled | Task2 | int8 | 13.21 [7.42-19.17] | 10.07 [3.22-16.56] | 0.93 [0.11-2.44] |" in text
    fresh = {"bench": "accuracy", "method": "dtw", "task": "Task2", "precision": "-", "summary": "5 folds",
             **{m: {"mean": 1.0, "min": 0.5, "max": 2.0} for m in ("eer_skilled", "eer_skilled_per_writer",
                                                                    "eer_random", "eer_random_per_writer")}}
    results.save(rec("bench_accuracy", [fresh], commit="def5678"), runs)
    accuracy = results.section("bench_accuracy", results.load(runs)["bench_accuracy"])
    text = "\n".join(accuracy)
    assert "not regenerated" not in text and "13.21" not in text
    assert "| dtw | Task2 | - | 1.00 [0.50-2.00] |" in text and "commit `def5678`" in text


def test_make_bench_keeps_each_benchmarks_lines_and_renders_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(results, "RUNS", tmp_path / "runs")
    out = tmp_path / "results.md"
    rc = run_all.main(["--only", "bench_decode", "--samples", "3000", "--idle-s", "0.2", "--results", str(out)])
    assert rc == 0
    printed = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    kept = json.loads((tmp_path / "runs" / "bench_decode.json").read_text())
    assert kept["results"] == printed and kept["command"].startswith("python -m bench.run_all --only bench_decode")
    assert "## Pad protocol decoding" in out.read_text() and "| sigpad |" in out.read_text()


def test_a_failed_benchmark_keeps_the_last_good_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RUNS", tmp_path / "runs")
    results.save(rec("bench_decode", [{"bench": "idle_cpu", "protocol": "sigpad", "cpu_percent": 0.04,
                                       "wall_s": 2.0}]))
    assert run_all.main(["--only", "bench_decode", "--no-such-flag", "--results", str(tmp_path / "r.md")]) == 1
    kept = json.loads((tmp_path / "runs" / "bench_decode.json").read_text())
    assert kept["results"][0]["cpu_percent"] == 0.04


def test_web_table():
    lines = results.section("bench_web", rec("bench_web", [
        {"bench": "web", "metric": "ink_latency", "measured_in": "chromium", "events": 178, "median_ms": 0.89,
         "p90_ms": 2.29, "max_ms": 16.57},
        {"bench": "web", "metric": "status_rps", "requests_per_s": 5533.4, "concurrency": 16},
        {"bench": "web", "metric": "install", "aiohttp_closure_mb": 13.1, "edge_extra_mb": 171.0}]))
    text = "\n".join(lines)
    assert "ink latency, pty to chromium (median / p90 / max) | 0.89 / 2.29 / 16.57 ms over 178 samples" in text
    assert "GET /v1/status, 16 clients | 5,533.4 requests/s" in text
    assert "| 13.1 / 171.0 MB" in text and "bench_web" in run_all.BENCHMARKS


def test_adaptation_table():
    run = {"bench": "adaptation", "kind": "pressure", "seed": 0, "variant": "adapted", "eer_skilled": 10.222,
           "eer_skilled_per_writer": 4.222, "eer_random": 0.0, "frr_at_threshold": 16.0,
           "far_skilled_at_threshold": 8.44, "forgeries_admitted": 0, "genuine_admitted": 67}
    summary = {"bench": "adaptation", "kind": "pressure", "variant": "adapted", "summary": "1 seeds", "seeds": [0],
               **{k: {"mean": v, "spread": 0.0} for k, v in run.items() if k.endswith(("eer_skilled", "writer",
                  "random", "threshold", "admitted"))}}
    weeks = {"bench": "adaptation", "kind": "pressure", "seed": 0, "protocol": "weeks-adaptation",
             "variant": "bounded", "frr_stream": 20.0, "far_skilled_stream": 7.5, "forgeries_admitted": 1,
             "genuine_admitted": 12}
    text = "\n".join(results.section("bench_adaptation", rec("bench_adaptation", [run, summary, weeks])))
    assert "| pressure | 0 | adapted | 10.22 | 4.22 | 0.00 | 16.00 | 8.44 | 0 | 67 |" in text
    assert "| pressure | adapted | 0 | 10.22 (spread 0.00) | 4.22 (spread 0.00) |" in text
    assert "| pressure | 0 | bounded | 20.00 | 7.50 | 1 | 12 |" in text   # the five-day stream's own table
    assert "bench_adaptation" in run_all.BENCHMARKS
