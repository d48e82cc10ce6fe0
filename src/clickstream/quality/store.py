"""Store an hour's data-quality results in the warehouse table `dq_results`.

A run's rows are replaced as a whole (delete, then insert, in one transaction), so
re-running the CheckQuality step of an execution leaves exactly one row per expectation.
The table belongs to the warehouse migrations; its shape is
`dq_results(run_id, hour, suite, expectation, column_name, severity, success,
observed jsonb, details jsonb, checked_at)`, primary key (run_id, suite, expectation, column_name).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from clickstream.layout import Hour
from clickstream.quality.model import DqResult

DELETE_RUN_SQL = "DELETE FROM dq_results WHERE run_id = %s"

# JSON goes as text cast to jsonb, which works with any DB-API driver (psycopg2 or 3)
# without registering adapters; checked_at is the transaction's time, one value per run.
INSERT_RESULT_SQL = (
    "INSERT INTO dq_results"
    " (run_id, hour, suite, expectation, column_name, severity, success, observed, details, checked_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, now())"
)


def store_results(conn: Any, run_id: str, hour: Hour, results: Sequence[DqResult]) -> None:
    """Replace the rows of `run_id` in `dq_results` with `results`, and commit.

    `conn` is an open DB-API connection (psycopg2); it is committed on success and rolled
    back if anything fails, so a run never has half of its results stored.
    """
    rows = [
        (run_id, hour.start, r.suite, r.expectation, r.column_name, r.severity, r.success,
         _json(r.observed), _json(r.details))
        for r in results
    ]
    try:
        with conn.cursor() as cur:
            cur.execute(DELETE_RUN_SQL, (run_id,))
            if rows:
                cur.executemany(INSERT_RESULT_SQL, rows)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _json(value: Any) -> str:
    # allow_nan=False: jsonb rejects NaN, and a NaN here is a bug to surface, not to store.
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
