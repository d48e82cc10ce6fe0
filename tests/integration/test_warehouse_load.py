"""The hourly load against real PostgreSQL: exact rows for a hand-built hour (duplicates across
parts, an event already loaded by an earlier hour, a purchase with items), the manifest and
quarantine counts, idempotent re-runs, refused inputs, and COPY round-tripping awkward values."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

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
    Item,
    PartStore,
    Visit,
    at,
    checksums,
    events_table,
    items_table,
    rows,
    scalar,
    scenario,
    stable_id,
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


def test_an_hour_committed_while_this_one_staged_is_seen_by_its_merge(
        wh_url: str, wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN the main hour staged, its merge not yet begun
    sc = scenario()
    other = connect(wh_url)

    def load_before(point: str) -> None:
        # WHEN the earlier hour loads and commits on another connection meanwhile
        if point == "after_copy":
            assert _load(other, sc, H_BEFORE) == LoadResult(2, 0, 0, 0, ["2026-03-02"])

    try:
        result = _load(wh_conn, sc, H_MAIN, fault=load_before)
    finally:
        other.close()
    # THEN the merge, which takes the merge lock only now, sees that hour's rows: g1 and g2 are
    # duplicates, not inserted a second time (nor a unique violation), exactly as run one after the other
    assert result == MAIN_RESULT
    assert scalar(wh_conn, "SELECT count(*) FROM events") == 29
    assert scalar(wh_conn, "SELECT received_hour FROM events WHERE event_id = %s", (sc.rows["g2"].event_id,)) == \
           H_BEFORE.start


def test_the_merge_reads_committed_rows_whatever_the_default_isolation(
        wh_url: str, wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN a session whose transactions default to REPEATABLE READ (a snapshot taken at the
    # load's first statement would miss hours committed while it staged)
    with wh_conn.cursor() as cur:
        cur.execute("SET default_transaction_isolation = 'repeatable read'")
    wh_conn.commit()
    sc = scenario()
    other = connect(wh_url)
    try:
        result = _load(wh_conn, sc, H_MAIN,
                       fault=lambda point: point == "after_copy" and _load(other, sc, H_BEFORE) and None)
    finally:
        other.close()
    # THEN the load ran READ COMMITTED all the same
    assert result == MAIN_RESULT
    assert scalar(wh_conn, "SELECT current_setting('default_transaction_isolation')") == "repeatable read"


H_NEXT = Hour.parse("2026-03-02T11")


def _overlapping_hours() -> tuple[PartStore, dict[Hour, list[tuple[str, str]]], dict[str, set[str]]]:
    """Two hours of view_item events with one item each: 40 events of their own each, 30 that
    both hold unchanged, 30 that both hold with another payload (and another item price)."""
    visit = Visit("overlap")
    labels = {kind: [f"{kind}-{n}" for n in range(count)]
              for kind, count in (("same", 30), ("changed", 30), ("main", 40), ("next", 40))}
    rows: dict[Hour, list] = {H_MAIN: [], H_NEXT: []}
    for n, label in enumerate(labels["same"] + labels["changed"] + labels["main"]):
        rows[H_MAIN].append(visit.event(label, "view_item", at("2026-03-02T10:30:00") + timedelta(seconds=n),
                                        items=(Item("42", price=12.5),)))
    for row in rows[H_MAIN][:60]:
        label = row.event["request_id"].removeprefix("req-")
        received = {"received_ts": row.event["received_ts"] + timedelta(hours=1), "received_hour": H_NEXT.start}
        if label.startswith("same"):
            rows[H_NEXT].append(row.copy(**received))
        else:
            changed = row.copy(payload="v2", page_title="Changed", **received)
            changed.items = [{**item, "price": 99.0} for item in changed.items]
            rows[H_NEXT].append(changed)
    for n, label in enumerate(labels["next"]):
        rows[H_NEXT].append(visit.event(label, "view_item", at("2026-03-02T11:30:00") + timedelta(seconds=n),
                                        items=(Item("42", price=12.5),)))
    store = PartStore()
    parts = {hour: [store.add(hour, 0, hour_rows)] for hour, hour_rows in rows.items()}
    ids = {kind: {stable_id(f"event:{label}") for label in names} for kind, names in labels.items()}
    return store, parts, ids


def test_concurrent_loads_of_hours_that_share_events_count_every_duplicate_once(wh_url: str,
                                                                                 wh_conn) -> None:
    # GIVEN two hours that hold 60 of the same event_ids (30 unchanged, 30 with another payload)
    store, parts, ids = _overlapping_hours()
    results: dict[Hour, LoadResult] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(hour: Hour) -> None:
        conn = connect(wh_url)
        try:
            # both staged before either merges: they race for the merge lock
            results[hour] = load_hour(conn, hour, f"run-{hour}", parts[hour], read_table=store.read,
                                      quarantine_counts={},
                                      fault=lambda point: barrier.wait(timeout=60) and None if point == "after_copy"
                                      else None)
        except BaseException as exc:  # reported below, after the threads end
            errors.append(exc)
        finally:
            conn.close()

    # WHEN they load at the same time
    threads = [threading.Thread(target=run, args=(hour,)) for hour in (H_MAIN, H_NEXT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    # THEN the outcome is that of one loading after the other: the first inserts all its 100
    # events and their items, the second its own 40, and counts 30 natural and 30 synthetic duplicates
    (first,) = [hour for hour, result in results.items() if result.inserted_events == 100]
    second = H_NEXT if first == H_MAIN else H_MAIN
    assert results[first] == LoadResult(100, 100, 0, 0, ["2026-03-02"])
    assert results[second] == LoadResult(40, 40, 30, 30, ["2026-03-02"])
    # AND the shared events and their items are the first hour's versions
    shared = sorted(ids["same"] | ids["changed"])
    held = rows(wh_conn, "events")
    assert {r["received_hour"] for r in held if r["event_id"] in shared} == {first.start}
    assert len(held) == 140
    items = {i["event_id"]: i for i in rows(wh_conn, "event_items")}
    assert len(items) == 140
    changed_price = 12.5 if first == H_MAIN else 99.0
    assert {items[event_id]["price"] for event_id in ids["changed"]} == {changed_price}
    assert {items[event_id]["received_hour"] for event_id in shared} == {first.start}


def test_items_missing_from_an_event_loaded_earlier_are_added_by_its_next_sighting(
        wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN an earlier hour that loaded an event without its items file
    visit = Visit("held")
    purchase = visit.event("p1", "purchase", at("2026-03-02T09:50:00"), items=(Item("42"), Item("7")),
                           transaction_id="T9")
    store = PartStore()
    events_key, _ = store.add(H_BEFORE, 0, [purchase])
    assert load_hour(wh_conn, H_BEFORE, "before", [(events_key, None)], read_table=store.read,
                     quarantine_counts={}) == LoadResult(1, 0, 0, 0, ["2026-03-02"])
    # WHEN the main hour sees the same event again, unchanged, with its items
    again = purchase.copy(received_ts=at("2026-03-02T10:00:01"), received_hour=H_MAIN.start)
    main_parts = [store.add(H_MAIN, 0, [again])]
    first = load_hour(wh_conn, H_MAIN, "main", main_parts, read_table=store.read, quarantine_counts={})
    rerun = load_hour(wh_conn, H_MAIN, "main", main_parts, read_table=store.read, quarantine_counts={})
    # THEN the event stays the earlier hour's, a natural duplicate, and its items are added once
    assert first == LoadResult(0, 2, 1, 0, [])
    assert rerun == LoadResult(0, 0, 1, 0, [])
    assert [(i["item_position"], i["received_hour"]) for i in rows(wh_conn, "event_items", "item_position")] == \
           [(0, H_MAIN.start), (1, H_MAIN.start)]
    assert scalar(wh_conn, "SELECT inserted_items FROM load_manifest WHERE hour = %s", (H_MAIN.start,)) == 2


def _reference_counts(conn: psycopg2.extensions.connection, staged: list[dict], hour: Hour) -> tuple[int, int]:
    """The duplicate counts by their definition: every staged row against the row events holds
    for its id; rows of ids events holds from this hour count once as originals."""
    held = {r["event_id"]: r for r in rows(conn, "events")}
    same = [s for s in staged if s["payload_hash"] == held[s["event_id"]]["payload_hash"]]
    originals = {s["event_id"] for s in same if held[s["event_id"]]["received_hour"] == hour.start}
    return len(same) - len(originals), len(staged) - len(same)


@pytest.mark.parametrize("runs", [[[1], [0, 1]], [[0], [1, 0], [1]], [[1, 0], [0], [0, 1]]],
                         ids=["second-part-then-all", "first-part-then-all-then-second", "all-then-first-then-all"])
def test_duplicate_counts_follow_their_definition_when_runs_see_different_parts(
        wh_conn: psycopg2.extensions.connection, runs: list[list[int]]) -> None:
    # GIVEN the earlier hour loaded; runs of the main hour that see only some of its parts, so
    # that events may hold, from this very hour, a version the full hour would not have kept
    sc = scenario()
    _load(wh_conn, sc, H_BEFORE)
    for run in runs:
        parts = [sc.parts[H_MAIN][i] for i in run]
        staged = [r for events_key, _ in parts for r in sc.store.tables[events_key].to_pylist()]
        # WHEN each run loads
        result = _load(wh_conn, sc, H_MAIN, parts=parts)
        # THEN its counts are those of the definition, against what events holds afterwards
        assert (result.natural_duplicates, result.synthetic_duplicates) == _reference_counts(wh_conn, staged, H_MAIN)
    assert scalar(wh_conn, "SELECT count(*) FROM events") == 29


def test_the_merge_probes_events_by_key_and_never_reads_it_whole(wh_conn: psycopg2.extensions.connection) -> None:
    # A join to `events` that reads all of it grows with the warehouse; one joined on
    # (event_id, payload_hash) once made the planner expect a single row and take minutes in a
    # nested loop over the staged items. The merge looks events up once per kept id, through
    # its primary key, into an analysed table; every later statement reads that table.
    from bench.warehouse_load_bench import HOUR, synthetic_hour
    from clickstream.warehouse.queries import query

    first, second = synthetic_hour(20_000, seed=1), synthetic_hour(20_000, seed=2)
    tables = {"e1": first[0], "i1": first[1], "e2": second[0], "i2": second[1]}
    load_hour(wh_conn, HOUR, "first", [("e1", "i1")], read_table=tables.__getitem__, quarantine_counts={})
    with wh_conn.cursor() as cur:
        cur.execute("ANALYZE events")
    wh_conn.commit()
    plans: dict[str, str] = {}

    def explain(point: str) -> None:
        if point != "after_merge":
            return
        keep = query("load", "keep_earliest")
        statements = {
            "keep_earliest": keep[keep.index("SELECT k.event_id"):keep.index(";\nANALYZE stage_kept")],
            **{name: query("load", name) for name in ("merge_events", "merge_items", "merge_held_items",
                                                      "count_duplicates")},
        }
        with wh_conn.cursor() as cur:
            for name, statement in statements.items():
                cur.execute("EXPLAIN " + statement, {"hour": HOUR.start})
                plans[name] = "\n".join(r[0] for r in cur.fetchall())

    result = load_hour(wh_conn, HOUR, "second", [("e2", "i2")], read_table=tables.__getitem__,
                       quarantine_counts={}, fault=explain)
    assert result.inserted_events == second[0].num_rows and result.inserted_items == second[1].num_rows
    keep = plans.pop("keep_earliest")
    assert "Index Scan using events_pkey on events" in keep and "Seq Scan on events" not in keep, keep
    assert "Hash Join" not in keep and "Merge Join" not in keep, keep
    for name, plan in plans.items():
        assert "Scan on events" not in plan and "on events e" not in plan, (name, plan)
    assert "Nested Loop" not in plans["merge_items"], plans["merge_items"]
    kept = next(line for line in plans["merge_items"].splitlines() if "stage_kept" in line)
    assert "rows=1 " not in kept, plans["merge_items"]  # its size is known, not guessed
