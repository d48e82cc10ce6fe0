"""`pipeline_runs`: one row per execution of the hourly ETL, for the pipeline-health page.

A run is recorded as running (with whatever counts are known so far) as it goes, then as
succeeded or failed. `events_loaded_for_hour` gives data quality its week-ago baseline. Each call is its own committed transaction, so a record survives the
failure of the step that follows it.
"""

from __future__ import annotations

from datetime import datetime

import psycopg2.extensions

from clickstream.layout import Hour
from clickstream.warehouse.db import transaction
from clickstream.warehouse.errors import WarehouseError
from clickstream.warehouse.queries import query

# The counts record_run_progress accepts (columns of pipeline_runs).
COUNT_COLUMNS = (
    "raw_objects",
    "raw_bytes",
    "events_cleaned",
    "natural_duplicates",
    "quarantined",
    "inserted_events",
    "dq_critical_failures",
    "dq_warnings",
)

# Step Functions limits an error cause to 32 768 characters; keep at most that.
MAX_CAUSE_CHARS = 32_768


def record_run_progress(
    conn: psycopg2.extensions.connection,
    run_id: str,
    hour: Hour | str,
    trigger: str,
    started_at: datetime,
    **counts: int | None,
) -> None:
    """Insert or update the run as running. Counts left out (or None) keep their earlier value."""
    unknown = sorted(set(counts) - set(COUNT_COLUMNS))
    if unknown:
        raise TypeError(f"record_run_progress got unknown count(s) {', '.join(unknown)}; known: {', '.join(COUNT_COLUMNS)}")
    params = {name: counts.get(name) for name in COUNT_COLUMNS}
    params.update(run_id=run_id, hour=_hour(hour), trigger=trigger, started_at=_aware(started_at, "started_at"))
    with transaction(conn) as cur:
        cur.execute(query("runs", "record_progress"), params)


def record_run_succeeded(conn: psycopg2.extensions.connection, run_id: str, finished_at: datetime) -> None:
    """Mark a recorded run as succeeded, with its duration."""
    with transaction(conn) as cur:
        cur.execute(query("runs", "record_succeeded"),
                    {"run_id": run_id, "finished_at": _aware(finished_at, "finished_at")})
        if cur.fetchone() is None:
            raise WarehouseError(
                f"run {run_id!r} is not in pipeline_runs: record_run_progress must record it before it can succeed"
            )


def record_run_failed(
    conn: psycopg2.extensions.connection,
    run_id: str,
    hour: Hour | str | None,
    failed_state: str,
    error: str,
    cause: str | None,
    finished_at: datetime,
) -> None:
    """Mark the run as failed (inserting it when nothing recorded it yet)."""
    with transaction(conn) as cur:
        cur.execute(query("runs", "record_failed"), {
            "run_id": run_id,
            "hour": _hour(hour) if hour is not None else None,
            "failed_state": failed_state,
            "error": error,
            "cause": cause[:MAX_CAUSE_CHARS] if cause else cause,
            "finished_at": _aware(finished_at, "finished_at"),
        })


def events_loaded_for_hour(conn: psycopg2.extensions.connection, hour: Hour | str) -> int | None:
    """Events in the processed parts loaded for `hour` (duplicates across parts included, the
    same measure as an hour's cleaned count), or None when the hour was never loaded."""
    with transaction(conn) as cur:
        cur.execute(query("runs", "events_loaded_for_hour"), {"hour": _hour(hour)})
        row = cur.fetchone()
    return None if row is None else int(row[0])


def _hour(hour: Hour | str) -> datetime:
    return (Hour.parse(hour) if isinstance(hour, str) else hour).start


def _aware(moment: datetime, name: str) -> datetime:
    # A naive datetime would be read in the session's time zone; refuse the ambiguity.
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), not {moment!r}")
    return moment
