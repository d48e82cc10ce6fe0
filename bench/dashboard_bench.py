"""Dashboard query timings: every page's queries on ~10 M events over 30 days (issue 4).

The warehouse is bench/dashboard_data.py's: one real day of demo traffic through ingest,
clean, quality and load, REPLICATED in SQL to 30 days (~10 M events), rollups rebuilt with
the project's rollup SQL; built once and cached under bench/.cache/.

What is timed, per page: `clickstream.dashboard.queries.PAGES[page]`, the functions the Shiny
app calls to draw that page (its data calc, plus the product drill-down of the top product and
the funnel split by device class, the inputs' defaults), through one `Dashboard` (its pool of
read-only connections) as in one app process. Filters: "last 30 days" ending on the data's
last day with compare-to-previous on (the previous 30 days hold no data: the warehouse has 30
days), and the same with a segment (device class mobile, channel Organic Search). One warm-up
render of every page first (reported as "first"), then RUNS rounds; a round renders every
page with both filters, so machine-load drift spreads over all pages alike.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

from bench import dashboard_data
from bench.common import percentile, table

RUNS = 15
SEGMENT = {"device_class": "mobile", "channel": "Organic Search"}
GOAL_MS = 200.0


def run(runs: int = RUNS) -> dict[str, Any]:
    from clickstream.dashboard.filters import Filters
    from clickstream.dashboard.queries import PAGES, SESSION_START, Dashboard

    class Counting(Dashboard):
        """Counts the statements a page render sends (every query goes through frame())."""

        statements = 0

        def frame(self, name: str, params: dict[str, Any], *, statement: Any = None) -> Any:
            self.statements += 1
            return super().frame(name, params, statement=statement)

    with dashboard_data.warehouse() as built:
        info = built.info
        last = dashboard_data.LAST_DAY
        default = Filters.build(last - timedelta(days=dashboard_data.DAYS - 1), last)
        segmented = Filters.build(default.start, default.end, **SEGMENT)
        filter_sets = {"default": default, "segment": segmented}
        d = Counting(built.url)
        try:
            first: dict[str, float] = {}
            queries: dict[str, int] = {}
            started = time.perf_counter()
            SESSION_START(d)
            first["session start"] = (time.perf_counter() - started) * 1000
            for page, render in PAGES.items():
                d.statements = 0
                started = time.perf_counter()
                render(d, default, default.previous())
                first[page] = (time.perf_counter() - started) * 1000
                queries[page] = d.statements
            times: dict[str, dict[str, list[float]]] = {p: {k: [] for k in filter_sets} for p in PAGES}
            session: list[float] = []
            for _ in range(runs):
                started = time.perf_counter()
                SESSION_START(d)
                session.append((time.perf_counter() - started) * 1000)
                for page, render in PAGES.items():
                    for kind, f in filter_sets.items():
                        started = time.perf_counter()
                        render(d, f, f.previous())
                        times[page][kind].append((time.perf_counter() - started) * 1000)
        finally:
            d.close()

    def stats(values: list[float]) -> dict[str, Any]:
        return {
            "median_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1),
            "runs_ms": [round(v, 1) for v in values],
        }

    pages = {
        page: {
            "queries": queries[page],
            "first_ms": round(first[page], 1),
            **{kind: stats(values) for kind, values in by_kind.items()},
        }
        for page, by_kind in times.items()
    }
    max_median = max(v[kind]["median_ms"] for v in pages.values() for kind in filter_sets)
    counts = info["counts"]
    slowest = max(pages, key=lambda page: max(pages[page][kind]["median_ms"] for kind in filter_sets))
    result = {
        "max_page_median_ms": max_median,
        "note": f"REPLICATED data: {counts['events'] / 1e6:.1f} M events = 1 real day x {info['copies']}; "
        f"slowest page {slowest}; build {info['build_s']:.0f} s{' (cached)' if info['cached'] else ''}",
        "goal_ms": GOAL_MS,
        "pages": pages,
        "session_start": {"first_ms": round(first["session start"], 1), **stats(session)},
        "data": {
            "replicated": True,
            "how": f"1 real day ({info['first_day']}) x {info['copies']} copies, moved by whole days, ids unique per "
            "copy; rollups rebuilt with the rollup SQL",
            "events": counts["events"],
            "events_in_range": counts["events_in_range"],
            "sessions": counts["sessions"],
            "real_day": info["real_day"],
            "days": f"{default.start} to {default.end}",
            "database_gb": round(counts["database_bytes"] / 1e9, 1),
            "rollup_rows": {k: v for k, v in counts.items() if k.startswith("agg_")},
        },
        "filters": {
            "default": default.describe() + ", compare with the previous period",
            "segment": segmented.describe() + ", compare with the previous period",
        },
        "runs": runs,
        "build_s": info["build_s"],
        "build_stages_s": info.get("stages_s"),
        "build_cached": info["cached"],
        "cache_key": info.get("key"),
    }
    _print(result)
    return result


def _print(r: dict[str, Any]) -> None:
    data = r["data"]
    rows = [
        [
            page,
            v["queries"],
            v["default"]["median_ms"],
            v["default"]["p95_ms"],
            v["segment"]["median_ms"],
            v["segment"]["p95_ms"],
            v["first_ms"],
        ]
        for page, v in r["pages"].items()
    ]
    s = r["session_start"]
    rows.append(["(session start: extent, filter values)", 2, s["median_ms"], s["p95_ms"], None, None, s["first_ms"]])
    build = f"cached, built in {r['build_s']:.0f} s" if r["build_cached"] else f"built now in {r['build_s']:.0f} s"
    table(
        f"Dashboard page queries on REPLICATED data: {data['events']:,} events, {data['how']} "
        f"({build}); {data['days']}, {r['runs']} runs, ms",
        ["page", "queries", "median", "p95", "segment median", "segment p95", "first"],
        rows,
    )
    verdict = "met" if r["max_page_median_ms"] <= r["goal_ms"] else "NOT met"
    print(
        f"slowest page median {r['max_page_median_ms']:.1f} ms (goal <= {r['goal_ms']:.0f} ms: {verdict}); "
        f"segment = {', '.join(f'{k} {v}' for k, v in SEGMENT.items())}",
        flush=True,
    )


if __name__ == "__main__":
    run()
