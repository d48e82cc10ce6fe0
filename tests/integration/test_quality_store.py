"""store_results against a real PostgreSQL: rows land as typed columns and jsonb, and a run's
rows are replaced as a whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from clickstream.local.postgres import EmbeddedPostgres
from clickstream.quality import CRITICAL, WARNING, DqResult, store_results
from clickstream.warehouse.migrate import migrate
from tests.support import free_port
from tests.unit.test_quality_builder import HOUR, clean_hour, run_check


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(data_dir=Path(tmp_path_factory.mktemp("pg")), port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def conn(postgres: EmbeddedPostgres) -> Iterator[Any]:
    connection = psycopg2.connect(postgres.url)
    migrate(connection)  # the warehouse migrations own dq_results
    with connection.cursor() as cur:
        cur.execute("TRUNCATE dq_results")
    connection.commit()
    try:
        yield connection
    finally:
        connection.close()


def _rows(conn: Any, run_id: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute("SELECT suite, expectation, column_name, severity, success, observed, details, hour, checked_at"
                    " FROM dq_results WHERE run_id = %s ORDER BY suite, expectation, column_name", (run_id,))
        return cur.fetchall()


def test_results_of_a_real_check_are_stored(conn: Any) -> None:
    # GIVEN a checked hour with one critical failure (a null transaction id, NaN in GX's examples)
    events, items = clean_hour()
    next(r for r in events if r["event_name"] == "purchase")["transaction_id"] = None
    result = run_check(events, items)
    # WHEN its results are stored
    store_results(conn, "run-1", HOUR, result.results)
    # THEN every result is one row, typed, with jsonb that reads back as stored
    rows = _rows(conn, "run-1")
    assert len(rows) == result.evaluated
    by_key = {(r[0], r[1], r[2]): r for r in rows}
    failed = by_key[("events", "expect_column_values_to_not_be_null", "transaction_id")]
    assert failed[3:5] == (CRITICAL, False)
    assert failed[5]["unexpected_count"] == 1
    assert failed[6]["partial_unexpected_list"] == [None] and "transaction_id" in failed[6]["description"]
    row_count = by_key[("events", "expect_table_row_count_to_equal", "")]
    assert row_count[4] is True and row_count[5] == len(events)
    assert all(r[7] == HOUR.start for r in rows)
    assert len({r[8] for r in rows}) == 1  # one checked_at per run


def test_storing_a_run_again_replaces_its_rows_only(conn: Any) -> None:
    first = [DqResult("events", "expect_a", "x", CRITICAL, False, {"n": 1}, {"description": "a"}),
             DqResult("events", "expect_b", "", WARNING, True, 0.5, {"description": "b"})]
    store_results(conn, "run-1", HOUR, first)
    store_results(conn, "run-2", HOUR.shift(1), first)
    second = [DqResult("events", "expect_a", "x", CRITICAL, True, {"n": 0}, {"description": "a"}),
              DqResult("pipeline", "expect_c", "", WARNING, True, None, {"description": "c"})]
    store_results(conn, "run-1", HOUR, second)
    assert [(r[1], r[4], r[5]) for r in _rows(conn, "run-1")] == [("expect_a", True, {"n": 0}), ("expect_c", True, None)]
    assert len(_rows(conn, "run-2")) == 2  # another run is untouched
    store_results(conn, "run-1", HOUR, [])
    assert _rows(conn, "run-1") == []


def test_a_failed_store_leaves_the_previous_rows(conn: Any) -> None:
    store_results(conn, "run-1", HOUR, [DqResult("events", "expect_a", "", CRITICAL, True, 1, {})])
    bad = [DqResult("events", "expect_a", "", CRITICAL, True, 1, {}),
           DqResult("events", "expect_b", "", CRITICAL, True, float("nan"), {})]
    with pytest.raises(ValueError):
        store_results(conn, "run-1", HOUR, bad)
    duplicate = [DqResult("events", "expect_a", "", CRITICAL, True, 1, {})] * 2
    with pytest.raises(psycopg2.IntegrityError):
        store_results(conn, "run-1", HOUR, duplicate)
    assert [r[1] for r in _rows(conn, "run-1")] == ["expect_a"]


def test_sql_is_parameterised() -> None:
    from clickstream.quality import store

    for sql in (store.DELETE_RUN_SQL, store.INSERT_RESULT_SQL):
        assert "%s" in sql and "{" not in sql
    assert json.loads(store._json({"a": [1, None]})) == {"a": [1, None]}
