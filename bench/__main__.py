"""`python -m bench quick|full [--only etl,ingest,sdk,dashboard] [--sizes 100000,300000] [--runs N]`

quick (make bench-quick, < 2 min): ETL 100 k events × 2 runs, naive sample 10 k; ingest 20 k
events × 3 runs, 10 s of wrk. full (make bench): ETL 100 k × 3, 300 k × 1 and 1 M × 1 (the
scaling curve; the headline figures are the largest size), naive sample 50 k; ingest
100 k × 5, 30 s of wrk. Writes bench/results/latest.json (and <profile>-<time>.json).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROFILES = {
    "quick": {"sizes": [(100_000, 2)], "naive_sample": 10_000, "buffered_objects": 12, "ingest_events": 20_000, "ingest_runs": 3,
              "http_seconds": 10, "connections": 4},
    "full": {"sizes": [(100_000, 3), (300_000, 1), (1_000_000, 1)], "naive_sample": 50_000,
             # the what-if of buffered raw objects: 5-minute buffers, as Kinesis Data Firehose can deliver
             "buffered_objects": 12,
             "ingest_events": 100_000, "ingest_runs": 5, "http_seconds": 30, "connections": 4},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", nargs="?", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--only", default="etl,ingest,sdk,dashboard,cost")
    parser.add_argument("--sizes", help="comma-separated event counts (overrides the profile)")
    parser.add_argument("--runs", type=int, help="runs per size (overrides the profile)")
    args = parser.parse_args(argv)
    prof = dict(PROFILES[args.profile])
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
        prof["sizes"] = [(n, args.runs or 1) for n in sizes]
    elif args.runs:
        prof["sizes"] = [(n, args.runs) for n, _ in prof["sizes"]]
    only = set(args.only.split(","))

    from bench import common, cost, dashboard_bench, dashboard_data, etl_bench, ingest_bench, sdk_bench

    started = time.perf_counter()
    results: dict[str, Any] = {"profile": args.profile, "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "machine": common.machine(), "versions": common.versions(), "settings": {
                                   **prof, "sizes": [{"events": n, "runs": r} for n, r in prof["sizes"]]}}
    keys: dict[str, Any] = {k: None for k in (
        "etl.events", "etl.seconds", "etl.ratio_to_floor", "etl.naive_over_ours", "etl.peak_rss_mb",
        "ingest.events_per_s_per_core", "ingest.p99_ms", "dashboard.max_page_median_ms", "sdk.gzip_bytes",
        "cost.usd_per_million_events")}
    notes: dict[str, str] = {}
    work = Path(tempfile.mkdtemp(prefix="clickstream-bench-"))
    with common.local_services(work) as services:
        if "ingest" in only:
            ing = ingest_bench.run(services, events=prof["ingest_events"], runs=prof["ingest_runs"],
                                   http_seconds=prof["http_seconds"], connections=prof["connections"])
            results["ingest"] = ing
            keys["ingest.events_per_s_per_core"] = ing["handler"]["events_per_s_per_core"]["median"]
            keys["ingest.p99_ms"] = round(ing["http"]["p99_ms"], 1)
        if "etl" in only:
            sizes = []
            largest = max(n for n, _ in prof["sizes"])
            for n, runs in prof["sizes"]:
                size = etl_bench.bench_size(services, n, runs, work,
                                            naive_sample=prof["naive_sample"] if n == largest else None,
                                            buffered_objects=prof["buffered_objects"] if n == largest else None)
                etl_bench.print_tables(size)
                sizes.append(size)
            results["etl"] = {"sizes": sizes}
            head = next(s for s in sizes if s["events"] == largest)
            keys["etl.events"] = head["events"]
            keys["etl.seconds"] = head["seconds"]["median"]
            keys["etl.ratio_to_floor"] = head.get("ratio_to_floor")
            keys["etl.naive_over_ours"] = head.get("naive_over_ours")
            keys["etl.peak_rss_mb"] = head["peak_rss_mb"]["max"]
            if len(sizes) > 1:
                base = sizes[0]
                curve = [[s["events"], s["seconds"]["median"], s["seconds"]["median"] / s["events"] * 1e6,
                          (s["seconds"]["median"] / s["events"]) / (base["seconds"]["median"] / base["events"]),
                          s["peak_rss_mb"]["max"], s.get("ratio_to_floor")] for s in sizes]
                results["etl"]["scaling"] = [dict(zip(["events", "seconds", "us_per_event", "per_event_vs_smallest",
                                                       "peak_rss_mb", "ratio_to_floor"], c, strict=True))
                                             for c in curve]
                common.table("ETL scaling (linear = per-event cost flat)",
                             ["events", "median s", "µs/event", "per event vs smallest", "peak RSS MB", "ours/floor"],
                             curve)
        if "sdk" in only:
            results["sdk"] = sdk_bench.run()
            keys["sdk.gzip_bytes"] = results["sdk"]["gzip_bytes"]
            if keys["sdk.gzip_bytes"] is None:
                notes["sdk.gzip_bytes"] = results["sdk"]["reason"]
        if "dashboard" in only and args.profile == "quick" and not dashboard_data.is_built():
            # Building the 10 M-event warehouse takes about 5 minutes: `make bench` does it once.
            results["dashboard"] = {"max_page_median_ms": None, "reason": (
                "the 10 M-event dashboard warehouse is not built yet (or its inputs changed); make bench builds it "
                "once (about 5 minutes) and bench-quick reuses it")}
            keys["dashboard.max_page_median_ms"] = None
            notes["dashboard.max_page_median_ms"] = results["dashboard"]["reason"]
        elif "dashboard" in only:
            results["dashboard"] = dashboard_bench.run()
            keys["dashboard.max_page_median_ms"] = results["dashboard"]["max_page_median_ms"]
            if keys["dashboard.max_page_median_ms"] is None:
                notes["dashboard.max_page_median_ms"] = results["dashboard"]["reason"]
            else:
                notes["dashboard.max_page_median_ms"] = results["dashboard"]["note"]
        if "cost" in only and "ingest" in results and "etl" in results:
            head = next(s for s in results["etl"]["sizes"] if s["events"] == keys["etl.events"])
            c = cost.model(handler_us_per_event=results["ingest"]["handler"]["us_per_event"]["median"], etl=head)
            results["cost"] = c
            keys["cost.usd_per_million_events"] = c["usd_per_million_events"]
        elif "cost" in only:
            notes["cost.usd_per_million_events"] = "needs the ingest and etl benchmarks in the same run"
    results["peak_rss_mb_harness"] = round(common.self_peak_rss_mb(), 1)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["keys"] = keys
    results["notes"] = notes
    results.update(keys)  # the dotted keys at the top level too, for `jq '."etl.seconds"'`
    _print_summary(results)
    path = common.write_results(results)
    common.write_results(results, f"{args.profile}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json")
    print(f"\nwrote {path.relative_to(common.ROOT)} ({results['elapsed_s']} s)")
    return 0


def _print_summary(results: dict[str, Any]) -> None:
    from bench.common import table

    k = results["keys"]
    c = results.get("cost") or {}
    goals = {
        "etl.ratio_to_floor": ("≤ 1.5", lambda v: v <= 1.5),
        "etl.naive_over_ours": ("≥ 20", lambda v: v >= 20),
        "etl.peak_rss_mb": ("≤ 1024", lambda v: v <= 1024),
        "ingest.events_per_s_per_core": ("≥ 100,000", lambda v: v >= 100_000),
        "dashboard.max_page_median_ms": ("≤ 200", lambda v: v <= 200),
        "sdk.gzip_bytes": ("≤ 3,072", lambda v: v <= 3072),
        "cost.usd_per_million_events": ("≤ 0.05", lambda v: v <= 0.05),
    }
    rows = []
    for key, value in k.items():
        goal, ok = goals.get(key, ("", None))
        status = "" if ok is None else ("n/a" if value is None else ("met" if ok(value) else "NOT met"))
        rows.append([key, value, goal, status, results["notes"].get(key, "")])
    table(f"Summary ({results['profile']}; {results['machine']['cores']} cores, {results['machine']['cpu']})",
          ["key", "value", "goal", "", "note"], rows)
    if c:
        table(f"Cost per million events (us-east-1 list prices as of {c['prices_as_of']}, "
              f"{c['assumptions']['events_per_request']} events/request)", ["part", "$ / M events", "AWS solution"], [
            ["ingest (API GW + Lambda + S3 PUT)", c["usd_per_million_ingest"],
             "{:.3f}–{:.2f}".format(*c["aws_solution_ingestion"])],
            ["processing (Lambda + S3 + Step Functions + storage)", c["usd_per_million_processing"],
             "{:.2f}–{:.2f}".format(*c["aws_solution_processing"])],
            ["total", c["usd_per_million_events"], ""],
            ["largest line: " + max({**c["ingest"], **c["processing"]}.items(), key=lambda kv: kv[1])[0],
             max({**c["ingest"], **c["processing"]}.values()), ""],
        ])


if __name__ == "__main__":
    sys.exit(main())
