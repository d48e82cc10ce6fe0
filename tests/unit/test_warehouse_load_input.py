"""Checks the load makes before touching the database: part schemas, hours, quarantine counts,
and the CSV text handed to COPY."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.layout import Hour
from clickstream.warehouse.errors import LoadInputError
from clickstream.warehouse.load import _checked_quarantine_counts, _conform, _CsvStream

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


def test_csv_quotes_strings_and_leaves_nulls_empty() -> None:
    # PostgreSQL's CSV: "" is the empty string, an unquoted empty field is NULL.
    text = _CsvStream(_items()).read().decode()
    assert ',"",,"a ""quoted"", comma","line\nbreak",0.30000000000000004,2,\n' in text


def test_csv_stream_ends_with_empty_bytes() -> None:
    stream = _CsvStream(_items())
    assert stream.read() and stream.read() == b""


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
