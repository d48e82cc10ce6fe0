"""The derived tables and dashboard rollups, rebuilt for what one hour's load touched.

`refresh(conn, hour, run_id)` finds the sessions with events received in the hour (plus the
sessions of orders they refund), rebuilds their rows of `page_views`, `orders`, `sessions`,
`users` and `visitors` from all their events (a late event can extend a session of an
earlier day), then rebuilds every `agg_*` rollup for the days those sessions' events fall
on: delete the day's rows, insert them again from the derived tables. All of it is one
REPEATABLE READ transaction, so the rebuild reads one consistent state of `events`; a
session advisory lock runs one refresh at a time (two refreshes deleting and re-inserting
the same day would double it). Running it twice gives identical tables.

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
    "affected_orders",
    "affected_people",
    "rebuild_page_views",
    "rebuild_orders",
    "rebuild_sessions",
    "rebuild_users",
    "rebuild_visitors",
    "affected_days",
    "day_events",
)
ROLLUP_STEPS = (
    "rebuild_visitor_days",
    "rebuild_traffic_hourly",
    "rebuild_traffic_daily",
    "rebuild_sources_daily",
    "rebuild_pages_daily",
    "rebuild_devices_daily",
    "rebuild_products_daily",
    "rebuild_funnel_daily",
    "rebuild_searches_daily",
    "rebuild_session_durations_daily",
    "rebuild_landing_paths_daily",
    "rebuild_retention_weekly",
)

DERIVED_TABLES = ("sessions", "page_views", "orders", "users", "visitors")
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
    result = _rebuild(conn, "affected_sessions", {"hour": hour.start})
    get_logger().info("warehouse rollups refreshed", extra={
        "hour": str(hour), "run_id": run_id, **result.to_dict(), "seconds": round(time.perf_counter() - started, 3),
    })
    return result


def rebuild_all(conn: psycopg2.extensions.connection) -> RefreshResult:
    """Rebuild every derived row and rollup from all events (after a migration changes a
    definition, or events were deleted); the same transaction and lock as `refresh`."""
    return _rebuild(conn, "all_sessions", {})


def _rebuild(conn: psycopg2.extensions.connection, sessions_step: str, params: dict[str, Any]) -> RefreshResult:
    _lock(conn, "lock")
    try:
        with transaction(conn) as cur:
            # The isolation level must be set before the first query of the transaction, so
            # the lock above is a session lock taken in a transaction of its own.
            cur.execute(query("rollups", "begin"))
            for step in (sessions_step, *DERIVED_STEPS, *ROLLUP_STEPS):
                cur.execute(query("rollups", step), params)
            cur.execute(query("rollups", "summary"))
            sessions, days = cur.fetchone()
    finally:
        # A broken connection releases the lock with its session; the first error matters.
        with suppress(psycopg2.Error, WarehouseError):
            _lock(conn, "unlock")
    return RefreshResult(int(sessions), [day.isoformat() for day in days])


def _lock(conn: psycopg2.extensions.connection, which: str) -> None:
    with transaction(conn) as cur:
        cur.execute(query("rollups", which), {"namespace": LOCK_NAMESPACE, "key": LOCK_REFRESH})
