"""pipeline_runs: a run recorded as it progresses, then succeeded or failed; counts not given
keep their value; a failure with no earlier record still lands; the week-ago baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg2.extensions
import pytest

from clickstream.layout import Hour
from clickstream.warehouse.errors import WarehouseError
from clickstream.warehouse.runs import (
    events_loaded_for_hour,
    record_run_failed,
    record_run_progress,
    record_run_succeeded,
)
from tests.integration.conftest_warehouse import H_BEFORE, load_and_refresh, rows, scenario

pytest_plugins = ["tests.integration.conftest_warehouse"]

HOUR = Hour.parse("2026-03-02T10")
STARTED = datetime(2026, 3, 2, 11, 5, tzinfo=UTC)


def _run(conn: psycopg2.extensions.connection, run_id: str) -> dict:
    return next(r for r in rows(conn, "pipeline_runs") if r["run_id"] == run_id)


def test_a_run_progresses_then_succeeds(wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN a run recorded as it goes, each step adding its counts
    record_run_progress(wh_conn, "exec-1", HOUR, "schedule", STARTED, raw_objects=12, raw_bytes=3456)
    record_run_progress(wh_conn, "exec-1", HOUR, "schedule", STARTED, events_cleaned=100, quarantined=3,
                        natural_duplicates=2, dq_critical_failures=0, dq_warnings=1)
    record_run_progress(wh_conn, "exec-1", HOUR, "schedule", STARTED, inserted_events=98)
    run = _run(wh_conn, "exec-1")
    assert run["status"] == "running"
    assert (run["raw_objects"], run["raw_bytes"], run["events_cleaned"], run["inserted_events"], run["dq_warnings"]) == \
           (12, 3456, 100, 98, 1)
    # WHEN it succeeds 42.5 s after it started
    record_run_succeeded(wh_conn, "exec-1", STARTED + timedelta(seconds=42.5))
    # THEN its status, end and duration are recorded
    run = _run(wh_conn, "exec-1")
    assert (run["status"], run["finished_at"], run["duration_s"]) == \
           ("succeeded", STARTED + timedelta(seconds=42.5), Decimal("42.500"))
    assert (run["hour"], run["trigger"], run["started_at"]) == (HOUR.start, "schedule", STARTED)


def test_a_failure_is_recorded_with_state_error_and_cause(wh_conn: psycopg2.extensions.connection) -> None:
    record_run_progress(wh_conn, "exec-2", "2026-03-02T10", "manual", STARTED, raw_objects=1)
    record_run_failed(wh_conn, "exec-2", HOUR, "LoadWarehouse", "WarehouseUnavailable", "x" * 40_000,
                      STARTED + timedelta(seconds=3))
    run = _run(wh_conn, "exec-2")
    assert (run["status"], run["failed_state"], run["error"], run["duration_s"]) == \
           ("failed", "LoadWarehouse", "WarehouseUnavailable", Decimal("3.000"))
    assert len(run["cause"]) == 32_768
    assert run["raw_objects"] == 1
    # A redrive of the same execution runs again and clears the failure.
    record_run_progress(wh_conn, "exec-2", HOUR, "manual", STARTED)
    run = _run(wh_conn, "exec-2")
    assert (run["status"], run["error"], run["finished_at"], run["raw_objects"]) == ("running", None, None, 1)


def test_a_failure_before_any_record_still_lands(wh_conn: psycopg2.extensions.connection) -> None:
    record_run_failed(wh_conn, "exec-3", None, "ResolveWindow", "ValueError", "hour 'x' is not of the form",
                      STARTED)
    run = _run(wh_conn, "exec-3")
    assert (run["status"], run["hour"], run["started_at"], run["duration_s"]) == ("failed", None, None, None)


def test_succeeding_an_unknown_run_is_an_error(wh_conn: psycopg2.extensions.connection) -> None:
    with pytest.raises(WarehouseError, match="not in pipeline_runs"):
        record_run_succeeded(wh_conn, "never-recorded", STARTED)


def test_unknown_counts_and_naive_times_are_refused(wh_conn: psycopg2.extensions.connection) -> None:
    with pytest.raises(TypeError, match="rows_loaded"):
        record_run_progress(wh_conn, "exec-4", HOUR, "manual", STARTED, rows_loaded=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        record_run_progress(wh_conn, "exec-4", HOUR, "manual", datetime(2026, 3, 2, 11))


def test_events_loaded_for_hour_is_the_hours_staged_rows(wh_conn: psycopg2.extensions.connection) -> None:
    assert events_loaded_for_hour(wh_conn, H_BEFORE) is None
    load_and_refresh(wh_conn, scenario(), [H_BEFORE])
    assert events_loaded_for_hour(wh_conn, H_BEFORE) == 2
    assert events_loaded_for_hour(wh_conn, str(H_BEFORE)) == 2
