"""The markdown tables of docs/results.md, one renderer per benchmark's JSON lines.

Each renderer takes the lines a benchmark printed (as dicts) and returns
markdown lines; a field a line lacks shows as "-", so a recorded or older
run still renders.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bench.bench_accuracy import METRICS, markdown_table

ROOT = Path(__file__).resolve().parent.parent

EER_HEAD = ["skilled EER, global", "skilled EER, per writer", "random EER, global", "random EER, per writer"]


def table(head: list[str], rows: list[list]) -> list[str]:
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def short(path: str) -> str:
    """A path inside the checkout relative to it: the file names no one machine's folders."""
    p = Path(path)
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else path


def num(value, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def spread(stats: dict | None) -> str:
    """mean [min-max] over folds."""
    return "-" if not stats else f"{stats['mean']:.2f} [{stats['min']:.2f}-{stats['max']:.2f}]"


def target(text: str, ok: bool | None) -> str:
    return text if ok is None else f"{text}: {'met' if ok else 'NOT met'}"


def accuracy(results: list[dict]) -> list[str]:
    out = markdown_table([json.dumps(r) for r in results]).splitlines()
    folds = defaultdict(list)
    for r in results:
        if "fold" in r:
            folds[(r["method"], r["task"], r["precision"])].append(r)
    if folds:
        out += ["", "Per fold (users 1-6, 7-12, 13-18, 19-24, 25-30):", ""]
        rows = [[*key, *[", ".join(num(f.get(m)) for f in sorted(fs, key=lambda f: f["fold"]))
                         for m in METRICS[:3]]] for key, fs in folds.items()]
        out += table(["method", "task", "precision", *EER_HEAD[:3]], rows)
    pooled = [r for r in results if r.get("pooled")]
    if pooled:
        out += ["", "ONE threshold for all 30 held-out users (the five folds' held-out scores pooled):", ""]
        out += table(["method", "task", "precision", "skilled EER", "FNMR at FMR 1 % (skilled)", "random EER"],
                     [[r["method"], r["task"], r["precision"], num(r.get("eer_skilled")),
                       num(r.get("fnmr_at_fmr1_skilled"), ".1f"), num(r.get("eer_random"))] for r in pooled])
    return out


def dtw(results: list[dict]) -> list[str]:
    rows = [[r["task"], r.get("users", "-"), *[num(r.get(m)) for m in METRICS],
             num(r.get("fnmr_at_fmr1_skilled")), num(r.get("threshold_eer_skilled"), ".4f")] for r in results]
    return table(["task", "users", *EER_HEAD, "FNMR at FMR 1 % (skilled)", "EER threshold (skilled)"], rows)


def decode(results: list[dict]) -> list[str]:
    rows = [[r["protocol"], f"{r['samples_per_s']:,}", num(r.get("mb_per_s")),
             target(f">= {r['target_samples_per_s']:,}", r.get("meets_target"))]
            for r in results if r.get("bench") == "decode"]
    out = table(["protocol", "samples/s (decode + Sample)", "MB/s", "target"], rows)
    for r in results:
        if r.get("bench") == "idle_cpu":
            out += ["", f"CPU of an idle open pad ({r['protocol']}): {r['cpu_percent']} % over {r['wall_s']} s."]
    return out


def edge(results: list[dict]) -> list[str]:
    by = defaultdict(list)
    for r in results:
        by[r.get("metric")].append(r)
    out = []
    for m in by["model"]:
        out += [f"Model `{short(m['model'])}` (sha256 {m['sha256'][:12]}..., {m['backend']}), "
                f"score `{m['score']}`, threshold {m['threshold']:.4f}.", ""]
    out += table(["what", "measured", "target"], edge_rows(by))
    out += operating_points(by["operating_point"]) + score_comparison(by["score_comparison"])
    for m in by["cv_metrics"]:
        out += ["", "The model's own 5-fold held-out figures, as its manifest records them (`make model`):", ""]
        out += table(["data / precision", *EER_HEAD], [cv_row(k, v) for k, v in m["metrics"].items()])
    return out


def cv_row(name: str, metrics: dict) -> list[str]:
    """One row of the manifest's held-out table. The fusion entry keeps its folds
    (``{"folds": {"fused": [{...}, ...]}, "weight": w}``), not their spreads: summarised here."""
    folds = (metrics.get("folds") or {}).get("fused")
    if not folds:
        return [name, *[spread(metrics.get(x)) for x in METRICS]]
    label = f"{metrics.get('data', '')}/fused (cosine + DTW, weight {metrics.get('weight')})".lstrip("/")
    return [label, *[spread(fold_spread(folds, x)) for x in METRICS]]


def fold_spread(folds: list[dict], metric: str) -> dict | None:
    values = [f[metric] for f in folds if f.get(metric) is not None]
    if not values:
        return None
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}


def edge_rows(by: dict) -> list[list]:
    rows = [["model file / int8 template", f"{s['model_bytes']:,} / {s['template_bytes']} bytes",
             target(f"<= {s['target_model_bytes']:,} / <= {s['target_template_bytes']} bytes",
                    s["model_bytes"] <= s["target_model_bytes"] and s["template_bytes"] <= s["target_template_bytes"])]
            for s in by["size"]]
    rows += [["stored per user (5 references: embedding + DTW sequence)", f"{s['user_bytes_5_refs']:,} bytes",
              target(f"<= {s['target_user_bytes']:,} bytes", s["user_bytes_5_refs"] <= s["target_user_bytes"])]
             for s in by["size"] if "user_bytes_5_refs" in s]   # records made when 5 was the default
    rows += [[f"stored per user ({s['references']} references, as enrolled by default)", f"{s['user_bytes']:,} bytes",
              target(f"<= {s['target_user_bytes']:,} bytes", s["user_bytes"] <= s["target_user_bytes"])]
             for s in by["size"] if "user_bytes" in s]
    for r in by["latency"]:
        goal = r.get("target_median_ms")
        ratio = f" ({r['ratio_to_cosine']}x the cosine alone, {r['cosine_median_ms']:.2f} ms)" \
            if "ratio_to_cosine" in r else ""
        rows.append([f"{r['what']}, median / p99", f"{r['median_ms']:.2f} / {r['p99_ms']:.2f} ms{ratio}",
                     target(f"median <= {goal:g} ms", r.get("ok")) if goal else "-"])
    for r in by["dtw"]:
        if "skipped" in r:
            rows.append(["DTW reference", r["skipped"], "-"])
            continue
        rows.append([f"DTW reference at {r['rate_hz']:g} Hz, median (model on the same signatures)",
                     f"{r['dtw_median_ms']:.2f} ms ({r['model_median_ms']:.2f} ms): {r['ratio']}x slower",
                     target(f">= {r['target_ratio']:g}x", r["ratio"] >= r["target_ratio"])])
    for r in by["cold_start"]:
        rows += [["cold start: imports + model load (whole process)",
                  f"{r['imports_and_load_s']:.2f} s ({r['process_wall_s']:.2f} s)",
                  target(f"<= {r['target_s']:g} s", r["imports_and_load_s"] <= r["target_s"])],
                 ["max RSS after a decision", f"{r['max_rss_mb']:.0f} MB",
                  target(f"<= {r['target_rss_mb']} MB", r["max_rss_mb"] <= r["target_rss_mb"])],
                 ["TensorFlow imported on the device path", "yes" if r["tensorflow_imported"] else "no", "no"]]
    for r in by["installed_size"]:
        rows.append(["installed size of the edge extra's dependency closure", f"{r['total_mb']:.0f} MB",
                     target(f"<= {r['target_mb']} MB", r["total_mb"] <= r["target_mb"])])
    return rows


def operating_points(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    return ["", "At the model's threshold (FRR and FAR in percent; comparisons genuine / skilled / random):", ""] + \
        table(["population", "threshold", "FRR", "FAR skilled", "FAR random", "comparisons"],
              [[r["data"], num(r["threshold"], ".4f"), num(r["frr_pct"]), num(r["far_skilled_pct"]),
                num(r["far_random_pct"]), f"{r['genuine']} / {r['skilled']} / {r['random']}"] for r in rows])


def score_comparison(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    return ["", f"Scores compared on {rows[0]['data']} (EER with one global threshold):", ""] + \
        table(["score", "skilled EER", "random EER", "EER threshold (skilled)"],
              [[r["score"], num(r["eer_skilled_pct"]), num(r["eer_random_pct"]),
                num(r["threshold_eer_skilled"], ".4f")] for r in rows])


def scores(results: list[dict]) -> list[str]:
    rows = [[r.get("seed", "ensemble of " + ", ".join(map(str, r.get("ensemble_seeds", [])))), r["score"],
             *[num(r.get(m)) for m in METRICS], num(r.get("pooled_threshold"), ".4f"),
             num(r.get("pooled_frr_pct")), num(r.get("pooled_far_skilled_pct")), num(r.get("pooled_far_random_pct"))]
            for r in results]
    return table(["seed", "score", *[h + " (mean of folds)" for h in EER_HEAD], "pooled threshold",
                  "FRR there", "FAR skilled there", "FAR random there"], rows)


def fusion(results: list[dict]) -> list[str]:
    """bench_fusion: the shipped decisions and the alternatives, both protocols, both pad kinds."""
    def cells(r):
        f, p = r["folds"], r["pooled"]
        return [spread(f["eer_skilled"]), spread(f["eer_skilled_per_writer"]), spread(f["eer_random"]),
                num(p["eer_skilled"]), num(p["eer_random"]), num(p["fnmr_at_fmr1_skilled"])]
    head = ["pad kind", "protocol", "decision", "seed", "skilled EER (folds)", "per writer (folds)",
            "random EER (folds)", "skilled EER, ONE threshold (pooled)", "random EER (pooled)",
            "FNMR at FMR 1 % (pooled)"]
    runs = [r for r in results if "seed" in r and "folds" in r]
    out = table(head, [[r["kind"], r["protocol"], r["decision"], r["seed"], *cells(r)] for r in runs])
    seeds = [r for r in results if r.get("summary")]
    if seeds:
        out += ["", "Over seeds (mean of the seeds' figures, and their spread max - min):", ""]
        m = lambda d: f"{d['mean']:.2f} (spread {d['spread']:.2f})"  # noqa: E731
        out += table(["pad kind", "protocol", "decision", "seeds", "skilled EER (folds)", "per writer (folds)",
                      "random EER (folds)", "skilled EER, ONE threshold (pooled)"],
                     [[r["kind"], r["protocol"], r["decision"], ", ".join(map(str, r["seeds"])),
                       m(r["folds"]["eer_skilled"]), m(r["folds"]["eer_skilled_per_writer"]),
                       m(r["folds"]["eer_random"]), m(r["pooled"]["eer_skilled"])] for r in seeds])
    return out


def adaptation(results: list[dict]) -> list[str]:
    """bench_adaptation: session drift with and without template adaptation, both pad kinds."""
    cols = [("eer_skilled", "skilled EER, ONE threshold"), ("eer_skilled_per_writer", "skilled EER, per writer"),
            ("eer_random", "random EER"), ("frr_at_threshold", "FRR at the threshold"),
            ("far_skilled_at_threshold", "skilled FAR there"), ("forgeries_admitted", "forgeries into templates")]
    weeks = [r for r in results if r.get("protocol") == "weeks-adaptation"]
    results = [r for r in results if r.get("protocol", "session-adaptation") == "session-adaptation"]
    runs = [r for r in results if "seed" in r and "variant" in r]
    out = table(["pad kind", "seed", "variant", *[h for _, h in cols], "genuine into templates"],
                [[r["kind"], r["seed"], r["variant"], *[num(r.get(k), "d" if k.endswith("admitted") else ".2f")
                                                         for k, _ in cols],
                  num(r.get("genuine_admitted"), "d")] for r in runs])
    m = lambda d: f"{d['mean']:.2f} (spread {d['spread']:.2f})"  # noqa: E731
    seeds = [r for r in results if r.get("summary")]
    if seeds:
        out += ["", "Over seeds (mean, and spread max - min):", ""]
        out += table(["pad kind", "variant", "seeds", *[h for _, h in cols]],
                     [[r["kind"], r["variant"], ", ".join(map(str, r["seeds"])), *[m(r[k]) for k, _ in cols]]
                      for r in seeds])
    if weeks:
        wcols = [("frr_stream", "FRR over the stream"), ("far_skilled_stream", "skilled FAR over the stream"),
                 ("forgeries_admitted", "forgeries into templates"), ("genuine_admitted", "genuine into templates")]
        out += ["", "Over five days (enrol S1-S5; G6 F21 ... G20 F35, six attempts a day), "
                "each attempt judged with the references as they stand:", ""]
        out += table(["pad kind", "seed", "variant", *[h for _, h in wcols]],
                     [[r["kind"], r.get("seed", "mean"), r["variant"],
                       *[m(r[k]) if "summary" in r else num(r[k], "d" if k.endswith("admitted") else ".2f")
                         for k, _ in wcols]] for r in weeks])
    return out


def web(results: list[dict]) -> list[str]:
    by = {r.get("metric"): r for r in results}
    rows = []
    if "ink_latency" in by:
        r = by["ink_latency"]
        rows.append([f"ink latency, pty to {r['measured_in']} (median / p90 / max)",
                     f"{r['median_ms']} / {r['p90_ms']} / {r['max_ms']} ms over {r['events']} samples"])
    if "status_rps" in by:
        r = by["status_rps"]
        rows.append([f"GET /v1/status, {r['concurrency']} clients", f"{r['requests_per_s']:,} requests/s"])
    if "install" in by:
        r = by["install"]
        rows.append(["installed: aiohttp and its dependencies / the whole edge extra",
                     f"{r['aiohttp_closure_mb']} / {r['edge_extra_mb']} MB"])
    return table(["what", "measured"], rows)


def fleet(lines: list[dict]) -> list[str]:
    """bench_fleet: one row per measurement (docs/fleet.md explains each)."""
    by = {r["what"]: r for r in lines if "what" in r}
    rows = []
    if "enrol_to_usable" in by:
        r = by["enrol_to_usable"]
        rows.append(["enrolled at one kiosk -> usable at another (p50 / p99)", f"{r['p50_ms']} / {r['p99_ms']} ms"])
    if "sync_users" in by:
        r = by["sync_users"]
        rows.append([f"a new kiosk syncing {r['users']:,} users",
                     f"{r['sync_s']} s; hub stream {r['hub_stream_mb']} MB, kiosk store {r['kiosk_store_mb']} MB"])
        if "audit_read_s" in r:
            rows.append([f"the same kiosk reading {r['audit_events_read']:,} audit events (lockout)",
                         f"{r['audit_read_s']} s"])
    if "audit_throughput" in by:
        r = by["audit_throughput"]
        rows.append([f"audit events the hub takes from {r['kiosks']} kiosks", f"{r['events_per_s']:,} events/s"])
    if "rederive" in by:
        r = by["rederive"]
        rows.append([f"templates re-derived under a new model ({r['users']:,} users)",
                     f"{r['ms_per_user']} ms a user (10,000 users: about {r['estimated_10000_s']} s)"])
    if "decision_latency" in by:
        r = by["decision_latency"]
        rows.append(["verify latency alone / with a sync applying records", f"{r['alone_ms']} / {r['with_sync_ms']} ms "
                     f"(x{r['ratio']})"])
    return table(["what", "measured"], rows)


SEED_METRICS = ("eer_skilled", "eer_skilled_per_writer", "eer_random", "fnmr_at_fmr1_skilled")
SEED_HEAD = ["pooled skilled", "per writer", "pooled random", "FNMR @ FMR 1 %"]


def logistic(results: list[dict]) -> list[str]:
    """bench_logistic: the calibrated combiner against the shipped decision, by seed."""
    rows = [[r["kind"], r["decision"], r["seed"], *[num(r[m]) for m in SEED_METRICS],
             num(r.get("frr_at_0")), num(r.get("far_skilled_at_0"))] for r in results if "seed" in r]
    return table(["pads", "decision", "seed", *SEED_HEAD, "FRR at log-odds 0", "skilled FAR at log-odds 0"], rows)


def levels(results: list[dict]) -> list[str]:
    """bench_levels: the shipped decision read at the device's number of references, by seed."""
    def rates(level: dict) -> str:
        return f"{100 * level['frr']:.1f} / {100 * level['far_skilled']:.1f}"
    def session(r: dict) -> str:
        s = r.get("session")
        return "-" if not s else " / ".join(num(s[m]) for m in SEED_METRICS[:3])
    rows = [[r["kind"], r["seed"], r["references"], f"{r['threshold_at_5']:.4f} -> {r['threshold']:.4f}",
             *[num(r[m]) for m in SEED_METRICS],
             *[rates(r["nested_levels"][n]) for n in ("convenience", "balanced", "secure")], session(r)]
            for r in results]
    return table(["pads", "seed", "references", "threshold (5 -> R)", *SEED_HEAD,
                  "convenience FRR / FAR (nested)", "balanced", "secure",
                  "session: pooled / per writer / random"], rows)


RENDER = {"bench_fusion": fusion, "bench_alternatives": fusion, "bench_adaptation": adaptation,
          "bench_accuracy": accuracy, "bench_dtw": dtw,
          "bench_edge": edge, "bench_decode": decode, "bench_scores": scores, "bench_web": web, "bench_fleet": fleet,
          "bench_logistic": logistic, "bench_levels": levels}
TITLES = {"bench_fusion": "Accuracy of the shipped decisions: five user folds, fusion weights and constants chosen "
                          "without the reported fold, the recipe chosen on these folds by the rule of "
                          "docs/training.md (fused = learned cosine + the device's DTW)",
          "bench_alternatives": "The previous recipes and the alternatives not shipped (issue #12): DTW in the "
                                "distillation's teacher, writer variants, session-change augmentation",
          "bench_adaptation": "Template adaptation under session drift (enrol S1-S5, a session-2 stream "
                              "of genuine S11-S15 and forgeries S21-S25, tests S16-S20 / S26-S40)",
          "bench_accuracy": "Accuracy: five user folds of SVC2004 users 1-30 (the siamese encoder vs DTW)",
          "bench_dtw": "The DTW reference on whole SVC2004 tasks (all users)",
          "bench_edge": "On the device: size, latency, memory, operating point",
          "bench_decode": "Pad protocol decoding",
          "bench_scores": "Edge scores and a seed ensemble, five user folds",
          "bench_web": "The web API: ink latency, status throughput, install size",
          "bench_fleet": "The fleet on loopback (a real nats-server): propagation, sync, audit, load",
          "bench_logistic": "A calibrated combiner (issue #20 item 2): logistic regression over writer-normalised "
                            "distances, fitted on the other folds, against the shipped fused decision",
          "bench_levels": "The shipped decision read at the device's number of references: threshold, nested "
                          "figures and operating levels (rates as a device meets them)"}
