"""The derived tables and dashboard rollups, brought up to date with what one hour's load touched.

`refresh(conn, hour, run_id)` finds the sessions with events received in the hour (plus the
sessions of orders they refund), reads their events once, and rebuilds their rows of
`page_views`, `orders`, `sessions`, `users` and `visitors` from all their events (a late event
can extend a session of an earlier day), together with the per-session inputs the rollups need
from events (`session_hours`, `session_searches`, `session_items`, `order_items`; migration
006). Then every `agg_*` row changes by the difference between those sessions' contributions
before and after: sums add up; a distinct visitor counts in or out only where none of their
other sessions keeps them there; `agg_visitor_days` and `visitor_hours` are recomputed for the
touched (day or hour, visitor) pairs. So a run costs what its hour touched, not what the
touched days hold. Measured on a shared 2-core machine: the benchmark's 1 M-event hour (84 k
sessions, first of its day) 15.9-18.9 s (the former whole-day rebuild: 21.5-30.0 s); a
100 k-event hour of the same day on top of it 3.1-3.2 s (whole-day rebuild: 10.6-12.4 s). Where a difference cannot settle
a value (the greatest title or item name gone with nothing as great left, a numeric sum whose
longest-scaled part went), that rollup's day is rebuilt whole from the derived tables; the
refresh log names such days (`rebuilt_whole`) and its five slowest steps with their seconds
(`slowest_steps`; at the 1 M-event hour no step took more than 2.7 s of 16.7). `rebuild_all` rebuilds every derived row and
every rollup day that way, and a test checks after every hourly refresh that the two agree.

All of it is one REPEATABLE READ transaction, so the rebuild reads one consistent state of
`events`; a session advisory lock runs one refresh at a time (two refreshes changing the same
rows by differences would count them twice). Running it twice gives identical tables. The
refresh trusts the tables it keeps to describe the rollups: after changing any of them by
hand, run `rebuild_all`.

The definitions (visitor, session, bounce, funnel, revenue net of refunds) are in the SQL
(`sql/rollups.sql`) and in the tables' COMMENTs (`migrations/002_*`, `003_*`), which the
dashboard shows as metric definitions.
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

import psycopg2
import psycopg2.extensions

from clickstream.layout import Hour
from clickstream.observability import get_logger
from clickstream.warehouse.db import LOCK_NAMESPACE, LOCK_REFRESH, transaction
from clickstream.warehouse.errors import WarehouseError
from clickstream.warehouse.queries import query

# In this order: each step reads what the steps before it rebuilt.
DERIVED_STEPS = (
    "affected_events",
    "rebuild_page_views",
    "rebuild_orders",
    "rebuild_sessions",
    "rebuild_users",
    "rebuild_session_facts",
    "rebuild_visitors",
)
# refresh: every rollup changed by the touched sessions' difference (rf_fix: days to rebuild).
DELTA_STEPS = (
    "affected_pairs",
    "update_visitor_sets",
    "delta_inputs",
    "delta_traffic_hourly",
    "delta_traffic_daily",
    "delta_sources_daily",
    "delta_pages_daily",
    "delta_devices_daily",
    "delta_products_daily",
    "delta_funnel_daily",
    "delta_searches_daily",
    "delta_session_durations_daily",
    "delta_landing_paths_daily",
    "delta_retention_weekly",
    "delta_visitor_returns",
)
# The days in rf_fix of a rollup, rebuilt whole (`day_` + the table name without `agg_`):
# rare after refresh, every day after rebuild_all.
DAY_STEPS = (
    "day_traffic_hourly",
    "day_traffic_daily",
    "day_sources_daily",
    "day_pages_daily",
    "day_devices_daily",
    "day_products_daily",
    "day_funnel_daily",
    "day_searches_daily",
    "day_session_durations_daily",
    "day_landing_paths_daily",
)
# The refresh log names this many of its slowest steps with their seconds.
SLOWEST_STEPS_LOGGED = 5
REFRESH_STEPS = ("affected_sessions", *DERIVED_STEPS, *DELTA_STEPS)
REBUILD_ALL_STEPS = ("all_sessions", *DERIVED_STEPS, "all_days")

DERIVED_TABLES = ("sessions", "page_views", "orders", "users", "visitors")
# What a refresh keeps for the next one (migrations/005_*); the dashboard reads none of them.
REFRESH_TABLES = ("session_hours", "session_searches", "session_items", "order_items", "visitor_hours")
ROLLUP_TABLES = (
    "agg_visitor_days",
    "agg_traffic_hourly",
    "agg_traffic_daily",
    "agg_sources_daily",
    "agg_pages_daily",
    "agg_devices_daily",
    "agg_products_daily",
    "agg_funnel_daily",
    "agg_searches_daily",
    "agg_session_durations_daily",
    "agg_landing_paths_daily",
    "agg_retention_weekly",
)


@dataclass(frozen=True)
class RefreshResult:
    sessions_rebuilt: int
    days_rebuilt: list[str]  # ISO dates, sorted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def refresh(conn: psycopg2.extensions.connection, hour: Hour, run_id: str) -> RefreshResult:
    """Rebuild the derived rows and rollups that the events received in `hour` touch; commit."""
    started = time.perf_counter()
    step_seconds: dict[str, float] = {}
    result, whole = _rebuild(conn, REFRESH_STEPS, {"hour": hour.start}, step_seconds)
    slowest = sorted(step_seconds.items(), key=lambda kv: kv[1], reverse=True)[:SLOWEST_STEPS_LOGGED]
    get_logger().info("warehouse rollups refreshed", extra={
        "hour": str(hour), "run_id": run_id, **result.to_dict(), "rebuilt_whole": whole,
        "seconds": round(time.perf_counter() - started, 3),
        "slowest_steps": {step: round(seconds, 3) for step, seconds in slowest},
    })
    return result


def rebuild_all(conn: psycopg2.extensions.connection) -> RefreshResult:
    """Rebuild every derived row and rollup from all events (after a migration changes a
    definition, or events were deleted); the same transaction and lock as `refresh`."""
    return _rebuild(conn, REBUILD_ALL_STEPS, {})[0]


def _rebuild(conn: psycopg2.extensions.connection, steps: tuple[str, ...], params: dict[str, Any],
             step_seconds: dict[str, float] | None = None) -> tuple[RefreshResult, list[str]]:
    """Run the steps, then the day_* steps of the rollups with days in rf_fix; the result and
    those rollups' `table day` pairs. Each step's wall time goes into `step_seconds`."""
    timings = {} if step_seconds is None else step_seconds

    def run(cur: Any, step: str) -> None:
        began = time.perf_counter()
        cur.execute(query("rollups", step), params)
        timings[step] = time.perf_counter() - began

    _lock(conn, "lock")
    try:
        with transaction(conn) as cur:
            # The isolation level must be set before the first query of the transaction, so
            # the lock above is a session lock taken in a transaction of its own.
            cur.execute(query("rollups", "begin"))
            for step in steps:
                run(cur, step)
            cur.execute(query("rollups", "fix_days"))
            whole = sorted(f"{table} {day.isoformat()}" for table, day in cur.fetchall())
            steps_to_run = {f"day_{pair.split()[0].removeprefix('agg_')}" for pair in whole}
            for step in DAY_STEPS:
                if step in steps_to_run:
                    run(cur, step)
            cur.execute(query("rollups", "summary"))
            sessions, days = cur.fetchone()
    finally:
        # A broken connection releases the lock with its session; the first error matters.
        with suppress(psycopg2.Error, WarehouseError):
            _lock(conn, "unlock")
    return RefreshResult(int(sessions), [day.isoformat() for day in days]), whole


def _lock(conn: psycopg2.extensions.connection, which: str) -> None:
    with transaction(conn) as cur:
        cur.execute(query("rollups", which), {"namespace": LOCK_NAMESPACE, "key": LOCK_REFRESH})
