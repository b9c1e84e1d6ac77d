"""bench_fleet's lines as docs/results.md shows them (bench.results_tables.fleet)."""

from __future__ import annotations

from bench import results_tables, run_all


def test_fleet_rows_say_each_measurement():
    lines = [{"bench": "fleet", "what": "enrol_to_usable", "rounds": 50, "p50_ms": 30.5, "p99_ms": 70.25},
             {"bench": "fleet", "what": "sync_users", "users": 10000, "applied": 10000, "publish_s": 3.1,
              "sync_s": 120.0, "hub_stream_mb": 50.5, "kiosk_store_mb": 80.0},
             {"bench": "fleet", "what": "audit_throughput", "kiosks": 50, "events": 10000, "seconds": 2.0,
              "events_per_s": 5000},
             {"bench": "fleet", "what": "rederive", "users": 200, "seconds": 5.0, "ms_per_user": 25.0,
              "estimated_10000_s": 250},
             {"bench": "fleet", "what": "decision_latency", "alone_ms": 12.0, "with_sync_ms": 18.0, "ratio": 1.5}]
    text = "\n".join(results_tables.fleet(lines))
    assert "| 30.5 / 70.25 ms |" in text
    assert "a new kiosk syncing 10,000 users | 120.0 s; hub stream 50.5 MB, kiosk store 80.0 MB |" in text
    assert "audit events the hub takes from 50 kiosks | 5,000 events/s |" in text
    assert "12.0 / 18.0 ms (x1.5)" in text
    assert "(200 users) | 25.0 ms a user (10,000 users: about 250 s) |" in text
    assert "bench_fleet" in run_all.BENCHMARKS and "bench_fleet" in results_tables.TITLES
