"""The hourly load against real PostgreSQL: exact rows for a hand-built hour (duplicates across
parts, an event already loaded by an earlier hour, a purchase with items), the manifest and
quarantine counts, idempotent re-runs, refused inputs, and COPY round-tripping awkward values."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime

import psycopg2.extensions
import pyarrow as pa
import pytest

from clickstream.layout import Hour
from clickstream.warehouse.db import connect
from clickstream.warehouse.errors import LoadInputError, WarehouseError
from clickstream.warehouse.load import LoadResult, load_hour
from tests.integration.conftest_warehouse import (
    H_BEFORE,
    H_MAIN,
    PartStore,
    Visit,
    at,
    checksums,
    events_table,
    items_table,
    rows,
    scalar,
    scenario,
)

pytest_plugins = ["tests.integration.conftest_warehouse"]

MAIN_RESULT = LoadResult(inserted_events=27, inserted_items=11, natural_duplicates=2, synthetic_duplicates=2,
                         days_touched=["2026-03-02"])


def _load(conn: psycopg2.extensions.connection, sc, hour: Hour, parts=None, **kwargs) -> LoadResult:
    return load_hour(conn, hour, f"run-{hour}", parts if parts is not None else sc.parts[hour],
                     read_table=sc.store.read, quarantine_counts=kwargs.pop("quarantine", sc.quarantine[hour]),
                     **kwargs)


def test_an_hour_loads_exactly_the_kept_versions(wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN an earlier hour already loaded
    sc = scenario()
    assert _load(wh_conn, sc, H_BEFORE) == LoadResult(2, 0, 0, 0, ["2026-03-02"])
    # WHEN the main hour's two parts load
    result = _load(wh_conn, sc, H_MAIN)
    # THEN the new events are inserted; the purchase sent twice and g1 (loaded before) are
    # natural duplicates, c2's other payload and g2's changed one synthetic
    assert result == MAIN_RESULT
    expected = {row.event_id: row for label, row in sc.rows.items() if label[0] in "abcdefg" and label != "c0"}
    loaded = {r["event_id"]: r for r in rows(wh_conn, "events")}
    assert loaded.keys() == expected.keys()
    for event_id, row in expected.items():
        assert loaded[event_id] == row.event, row.event["request_id"]
    # the purchase kept is the copy received first (in part 1), the view_item the first payload
    assert loaded[sc.rows["a9"].event_id]["request_id"] == "req-a9-first"
    assert loaded[sc.rows["c2"].event_id]["request_id"] == "req-c2"
    # g1, g2 keep the earlier hour's rows
    assert loaded[sc.rows["g2"].event_id]["received_hour"] == H_BEFORE.start
    # AND the items are those of the kept versions, and only those
    items = rows(wh_conn, "event_items", "event_id, item_position")
    assert sorted(items, key=lambda i: i["event_id"]) == \
           sorted([i for row in expected.values() for i in row.items], key=lambda i: i["event_id"])
    purchase_items = [i for i in items if i["event_id"] == sc.rows["a9"].event_id]
    assert [i["event_time"] for i in purchase_items] == [at("2026-03-02T10:04:00.001")]
    assert [i["price"] for i in items if i["event_id"] == sc.rows["c2"].event_id] == [8.0]


def test_manifest_and_quarantine_counts_describe_the_hour(wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    _load(wh_conn, sc, H_BEFORE)
    _load(wh_conn, sc, H_MAIN)
    manifest = rows(wh_conn, "load_manifest", "hour")[-1]
    assert {k: v for k, v in manifest.items() if k != "loaded_at"} == {
        "hour": H_MAIN.start, "run_id": f"run-{H_MAIN}", "files": 2, "staged_events": 31,
        "inserted_events": 27, "inserted_items": 11, "natural_duplicates": 2, "synthetic_duplicates": 2,
        "days_touched": [datetime(2026, 3, 2).date()],
    }
    assert {(r["stage"], r["error_code"]): r["count"] for r in rows(wh_conn, "quarantine_counts")
            if r["hour"] == H_MAIN.start} == sc.quarantine[H_MAIN]
    # A later run of the hour replaces the hour's counts whole.
    _load(wh_conn, sc, H_MAIN, quarantine={("quality", "row_count_mismatch"): 4})
    assert [(r["stage"], r["error_code"], r["count"]) for r in rows(wh_conn, "quarantine_counts")
            if r["hour"] == H_MAIN.start] == [("quality", "row_count_mismatch", 4)]


def test_loading_an_hour_again_changes_nothing(wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN the hours loaded once
    sc = scenario()
    _load(wh_conn, sc, H_BEFORE)
    _load(wh_conn, sc, H_MAIN)
    once = checksums(wh_conn)
    # WHEN the main hour loads again, with its parts in the other order, and again
    again = _load(wh_conn, sc, H_MAIN, parts=list(reversed(sc.parts[H_MAIN])))
    third = _load(wh_conn, sc, H_MAIN)
    # THEN nothing is inserted, the duplicate counts and days are the same, and so is every table
    assert again == third == LoadResult(0, 0, 2, 2, ["2026-03-02"])
    assert checksums(wh_conn) == once
    assert scalar(wh_conn, "SELECT run_id FROM load_manifest WHERE hour = %s", (H_MAIN.start,)) == f"run-{H_MAIN}"


def test_an_hour_without_parts_records_an_empty_load(wh_conn: psycopg2.extensions.connection) -> None:
    result = load_hour(wh_conn, H_MAIN, "empty", [], read_table=PartStore().read,
                       quarantine_counts={("ingest", "too_large"): 1})
    assert result == LoadResult(0, 0, 0, 0, [])
    assert scalar(wh_conn, "SELECT (files, staged_events, inserted_events, days_touched) FROM load_manifest") == \
           "(0,0,0,{})"


def test_a_part_without_items_loads(wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    events_key, _ = sc.parts[H_BEFORE][0]
    assert _load(wh_conn, sc, H_BEFORE, parts=[(events_key, None)]).inserted_events == 2


def test_a_part_of_another_hour_is_refused_and_nothing_is_written(wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    before = checksums(wh_conn)
    with pytest.raises(LoadInputError, match="received_hour is not 2026-03-02T09"):
        _load(wh_conn, sc, H_BEFORE, parts=sc.parts[H_BEFORE] + sc.parts[H_MAIN][:1])
    assert checksums(wh_conn) == before
    # the connection is usable afterwards
    assert _load(wh_conn, sc, H_BEFORE).inserted_events == 2


def test_a_connection_inside_a_transaction_is_refused(wh_conn: psycopg2.extensions.connection) -> None:
    with wh_conn.cursor() as cur:
        cur.execute("SELECT 1")
    with pytest.raises(WarehouseError, match="inside a transaction"):
        _load(wh_conn, scenario(), H_BEFORE)


def test_awkward_values_survive_copy_exactly(wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN text that CSV must quote or escape, empty strings beside NULLs, and extreme numbers
    hour = Hour.parse("2026-03-02T10")
    visit = Visit("awkward")
    texts = ["", "a,b", 'say "hi"', "line\nbreak\r\nand crlf", "back\\slash", "\\.", "NULL", "ünïcødé ✓ 🛒",
             "\t tab", " leading and trailing "]
    floats = [0.1 + 0.2, 1e-300, 1.7976931348623157e308, -0.0, 123456789.12345679, 5e-324, -2.5]
    built = []
    for n, text in enumerate(texts):
        row = visit.event(f"awkward-{n}", "click", at("2026-03-02T10:00:00") , page_title=text,
                          properties=text, value=floats[n % len(floats)], engaged_ms=2**62 + n,
                          screen_w=-(2**31), tz_offset_min=-720, received=at("2026-03-02T10:59:59.999"))
        built.append(row)
    nulls = visit.event("awkward-nulls", "click", at("2026-03-02T10:00:00"), path=None, page_title=None,
                        value=None, sent_ts=None, consent_analytics=None)
    built.append(nulls)
    store = PartStore()
    store.tables["e"] = events_table(built)
    store.tables["i"] = items_table([])
    # WHEN they are loaded
    load_hour(wh_conn, hour, "awkward", [("e", "i")], read_table=store.read, quarantine_counts={})
    # THEN every value reads back as it was written
    loaded = {r["event_id"]: r for r in rows(wh_conn, "events")}
    for row in built:
        got = loaded[row.event_id]
        for name, value in row.event.items():
            if isinstance(value, float):
                assert got[name] == value and math.copysign(1, got[name]) == math.copysign(1, value), name
            else:
                assert got[name] == value, (name, value, got[name])


def test_only_processed_columns_are_read_from_wider_parts(wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    key = sc.parts[H_BEFORE][0][0]
    table = sc.store.tables[key]
    sc.store.tables[key] = table.append_column("added_later", pa.array(["x"] * table.num_rows))
    assert _load(wh_conn, sc, H_BEFORE).inserted_events == 2
    assert scalar(wh_conn, "SELECT min(received_hour) FROM events") == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_concurrent_loads_of_the_same_hour_insert_once(wh_url: str, wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN the earlier hour loaded, and the main hour's load as a single run leaves it
    sc = scenario()
    _load(wh_conn, sc, H_BEFORE)
    # WHEN three runs of the main hour load at the same time, on their own connections
    results: list[LoadResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        conn = connect(wh_url)
        try:
            barrier.wait()
            results.append(_load(conn, scenario(), H_MAIN))
        except BaseException as exc:  # reported below, after the threads end
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # THEN one inserted the hour, the others found it loaded, all counted the same duplicates
    assert not errors
    assert sorted(r.inserted_events for r in results) == [0, 0, 27]
    assert {(r.natural_duplicates, r.synthetic_duplicates) for r in results} == {(2, 2)}
    assert scalar(wh_conn, "SELECT count(*) FROM events") == 29


def test_items_merge_joins_staged_items_to_an_analysed_table_not_to_events(
        wh_conn: psycopg2.extensions.connection) -> None:
    # Joined to `events` on (event_id, payload_hash) in the same statement, two near-unique
    # equalities made the planner expect one row once `events` had statistics, and a nested
    # loop over the staged items turned a 1 s merge into minutes (seen building the dashboard
    # benchmark). The items merge reads the versions events holds from an analysed table.
    from bench.warehouse_load_bench import HOUR, synthetic_hour
    from clickstream.warehouse.queries import query

    first, second = synthetic_hour(20_000, seed=1), synthetic_hour(20_000, seed=2)
    tables = {"e1": first[0], "i1": first[1], "e2": second[0], "i2": second[1]}
    load_hour(wh_conn, HOUR, "first", [("e1", "i1")], read_table=tables.__getitem__, quarantine_counts={})
    with wh_conn.cursor() as cur:
        cur.execute("ANALYZE events")
    wh_conn.commit()
    plans: list[str] = []

    def explain(point: str) -> None:
        if point == "after_merge":
            insert = query("load", "merge_items").split("ANALYZE stage_held;", 1)[1]
            with wh_conn.cursor() as cur:
                cur.execute("EXPLAIN " + insert)
                plans.append("\n".join(r[0] for r in cur.fetchall()))

    result = load_hour(wh_conn, HOUR, "second", [("e2", "i2")], read_table=tables.__getitem__,
                       quarantine_counts={}, fault=explain)
    assert result.inserted_events == second[0].num_rows and result.inserted_items == second[1].num_rows
    (plan,) = plans
    assert " on events " not in plan and "Nested Loop" not in plan, plan
    held = next(line for line in plan.splitlines() if "stage_held" in line)
    assert "rows=1 " not in held, plan  # its size is known, not guessed
