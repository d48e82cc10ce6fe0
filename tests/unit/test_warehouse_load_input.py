"""Checks the load makes before touching the database: part schemas, hours, quarantine counts,
and the binary COPY stream."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.layout import Hour
from clickstream.warehouse import load
from clickstream.warehouse.errors import LoadInputError
from clickstream.warehouse.load import _BinaryStream, _checked_quarantine_counts, _conform, _on_the_wire

HOUR = Hour.parse("2026-03-02T10")


def _items(received_hour: datetime = HOUR.start, **overrides) -> pa.Table:
    row = {"event_id": "e", "item_position": 0, "event_name": "purchase", "event_time": HOUR.start,
           "event_date": HOUR.start.date(), "received_hour": received_hour, "session_id": "s", "visitor_id": "v",
           "transaction_id": "T", "currency": "EUR", "item_id": "42", "item_name": "", "item_category": None,
           "item_brand": 'a "quoted", comma', "item_variant": "line\nbreak", "price": 0.1 + 0.2, "quantity": 2,
           "list_index": None, **overrides}
    return pa.Table.from_pylist([row], schema=ITEMS_SCHEMA)


def test_conform_orders_and_types_columns_and_drops_extras() -> None:
    # GIVEN a part with its columns reversed, a wider int type and an extra column
    table = _items()
    shuffled = table.select(list(reversed(table.column_names))).append_column("extra", pa.array([1]))
    shuffled = shuffled.set_column(shuffled.column_names.index("quantity"), "quantity",
                                   shuffled["quantity"].cast(pa.int64()))
    # WHEN it is conformed
    out = _conform(shuffled, ITEMS_SCHEMA, "k", HOUR)
    # THEN it has exactly the contract's schema
    assert out.schema.names == ITEMS_SCHEMA.names
    assert out.schema.types == ITEMS_SCHEMA.types


def test_conform_names_missing_columns() -> None:
    with pytest.raises(LoadInputError, match="k.parquet lacks column.*payload_hash"):
        _conform(pa.table({"event_id": ["x"]}), EVENTS_SCHEMA, "k.parquet", HOUR)


def test_conform_refuses_rows_of_another_hour() -> None:
    with pytest.raises(LoadInputError, match="received_hour is not 2026-03-02T10"):
        _conform(_items(received_hour=datetime(2026, 3, 2, 11, tzinfo=UTC)), ITEMS_SCHEMA, "k", HOUR)


def test_conform_refuses_uncastable_types() -> None:
    table = _items().set_column(ITEMS_SCHEMA.names.index("quantity"), "quantity", pa.array(["two"]))
    with pytest.raises(LoadInputError, match="types"):
        _conform(table, ITEMS_SCHEMA, "k", HOUR)


PGCOPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
PGCOPY_TRAILER = b"\xff\xff"  # a tuple field count of -1


def _read_all(stream: _BinaryStream) -> list[bytes]:
    parts = []
    while chunk := stream.read():
        parts.append(chunk)
    return parts


def test_binary_stream_is_header_tuples_trailer_then_empty() -> None:
    stream = _BinaryStream(_items())
    data = b"".join(_read_all(stream))
    assert data.startswith(PGCOPY_SIGNATURE) and data.endswith(PGCOPY_TRAILER)
    assert b'a "quoted", comma' in data and b"line\nbreak" in data  # text as is, no quoting
    assert stream.read() == b""


def test_binary_stream_never_ends_early_on_a_batch_the_encoder_holds_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty read is end-of-data to psycopg2: a batch that encodes to nothing must not stop COPY.
    monkeypatch.setattr(load, "COPY_BATCH_ROWS", 1)
    table = pa.concat_tables([_items(item_id=str(i)) for i in range(500)])
    data = b"".join(_read_all(_BinaryStream(table)))
    assert all(str(i).encode() in data for i in (0, 250, 499))
    assert data.endswith(PGCOPY_TRAILER)


def test_types_without_a_postgres_twin_are_widened_on_the_wire() -> None:
    # events.event_hour is int8 in Arrow and smallint in PostgreSQL; binary COPY needs the width.
    events = EVENTS_SCHEMA.empty_table()
    assert events.schema.field("event_hour").type == pa.int8()
    wire = _on_the_wire(events)
    assert wire.schema.field("event_hour").type == pa.int16()
    assert [f.name for f in wire.schema] == EVENTS_SCHEMA.names
    assert _on_the_wire(_items()).schema == ITEMS_SCHEMA  # nothing to widen: the same table


@pytest.mark.parametrize(("counts", "message"), [
    ({("nowhere", "x"): 1}, "stage"),
    ({("clean",): 1}, "pairs"),
    ({("clean", "x"): -1}, "non-negative"),
    ({("clean", "x"): True}, "non-negative"),
])
def test_quarantine_counts_are_checked(counts: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _checked_quarantine_counts(counts)


def test_zero_quarantine_counts_are_dropped() -> None:
    assert _checked_quarantine_counts({("clean", "a"): 0, ("ingest", "b"): 3}) == {("ingest", "b"): 3}


def test_conform_refuses_a_part_with_an_event_id_twice() -> None:
    from tests.integration.conftest_warehouse import Visit, at, events_table

    visit = Visit("twice")
    row = visit.event("once", "page_view", at("2026-03-02T10:00:00"))
    with pytest.raises(LoadInputError, match="more than one row for some event_id"):
        _conform(events_table([row, row.copy(request_id="again")]), EVENTS_SCHEMA, "k", HOUR)


def test_read_ahead_yields_every_file_in_order_and_reads_one_ahead_at_most() -> None:
    # GIVEN parts, one without an items file
    parts = [("e0", "i0"), ("e1", None), ("e2", "i2")]
    reads: list[str] = []

    def read(key: str) -> pa.Table:
        reads.append(key)
        return pa.table({"key": [key]})

    # WHEN they are read ahead
    seen = []
    for part_no, key, schema, table in load._read_ahead(parts, read):
        seen.append((part_no, key, schema is EVENTS_SCHEMA, table["key"][0].as_py()))
        # THEN while the caller holds a file, at most the next one has been read
        assert len(reads) <= len(seen) + 1
    # AND every file comes once, in order, events before items, with its part number
    assert seen == [(0, "e0", True, "e0"), (0, "i0", False, "i0"), (1, "e1", True, "e1"),
                    (2, "e2", True, "e2"), (2, "i2", False, "i2")]
    assert reads == ["e0", "i0", "e1", "e2", "i2"]


def test_read_ahead_raises_a_read_error_when_its_file_comes() -> None:
    def read(key: str) -> pa.Table:
        if key == "e1":
            raise LoadInputError("e1 is unreadable")
        return pa.table({"key": [key]})

    files = load._read_ahead([("e0", None), ("e1", None)], read)
    assert next(files)[1] == "e0"
    with pytest.raises(LoadInputError, match="e1 is unreadable"):
        next(files)


def test_read_ahead_left_early_leaves_no_thread_behind() -> None:
    import threading
    from contextlib import closing

    with closing(load._read_ahead([("e0", "i0"), ("e1", "i1")], lambda key: pa.table({"key": [key]}))) as files:
        next(files)
    assert not [t for t in threading.enumerate() if t.name.startswith("load-read-ahead")]


@pytest.mark.parametrize(("name", "table", "select", "source", "schema"), [
    ("merge_events", "events", "SELECT\n", "FROM stage_events s", EVENTS_SCHEMA),
    ("merge_items", "event_items", "SELECT DISTINCT ON (i.event_id, i.item_position)", "FROM stage_items i", ITEMS_SCHEMA),
    ("merge_held_items", "event_items", "SELECT DISTINCT ON (i.event_id, i.item_position)", "FROM stage_items i",
     ITEMS_SCHEMA),
])
def test_merges_select_the_columns_they_insert(name: str, table: str, select: str, source: str, schema) -> None:
    # Both lists are spelled out; they must name the processed columns in the same order (the
    # two items merges differ only in which kept versions they take).
    from clickstream.warehouse.queries import query

    statement = query("load", name)
    head = statement[statement.index(f"INSERT INTO {table} (") + len(f"INSERT INTO {table} ("):]
    inserted = [c.strip() for c in head[:head.index(")")].split(",")]
    selected = statement[statement.index(select) + len(select):statement.index(source)]
    assert inserted == [c.strip().split(".", 1)[1] for c in selected.split(",")] == schema.names
