"""The clean step on in-memory raw objects (`clean_objects`): rows and columns against the
input events, items, quarantine codes, de-duplication and deterministic bytes."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from clickstream.etl.clean import ChunkCleaner, clean_objects, payload_hash
from clickstream.etl.derive import page_fields
from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.ingest.sink import gzip_lines
from clickstream.layout import Hour
from clickstream.schema import validate_record
from tests.support import EXAMPLES
from tests.unit.test_clean_support import (
    HOUR,
    IN_HOUR,
    RUN_ID,
    clean,
    event_at,
    objects_of,
    quarantine,
    raw_line,
    rows,
    table,
    ts,
    utc,
)

EXAMPLE_RECEIVED = ts(EXAMPLES["received_at"])
EXAMPLE_HOUR = HOUR.containing(EXAMPLE_RECEIVED)


def _ms(moment: Any) -> Any:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _expected_row(event: dict[str, Any], server: dict[str, Any], hour: Hour = EXAMPLE_HOUR) -> dict[str, Any]:
    """The processed row of one example event, written out from the contract (no clean code)."""
    page = event.get("page") or {}
    device = event.get("device") or {}
    ecommerce = event.get("ecommerce") or {}
    props = event.get("properties") or {}
    event_time = _ms(ts(server["derived_ts"]))
    return {
        "event_id": event["event_id"].lower(),
        "event_name": event["event_name"],
        "event_time": event_time,
        "event_date": event_time.date(),
        "event_hour": event_time.hour,
        "client_ts": _ms(ts(event["event_ts"])),
        "sent_ts": _ms(ts(event["sent_ts"])) if event.get("sent_ts") else None,
        "received_ts": _ms(ts(server["received_ts"])),
        "received_hour": hour.start,
        "request_id": server["request_id"],
        "app_id": event["app_id"],
        "platform": event["platform"],
        "sdk_name": event["sdk"]["name"],
        "sdk_version": event["sdk"]["version"],
        "schema_version": 1,
        "anonymous_id": event["anonymous_id"],
        "user_id": event.get("user_id"),
        "claimed_user_id": event.get("claimed_user_id"),
        "visitor_id": event.get("user_id") or event["anonymous_id"],
        "session_id": event["session_id"],
        "event_seq": event["event_seq"],
        "page_url": page.get("url"),
        "page_path": page.get("path"),
        "page_title": page.get("title"),
        "page_referrer": page.get("referrer") or None,
        "page_view_id": page.get("page_view_id"),
        "device_class": "desktop",
        "browser": server["ua_browser"],
        "os": server["ua_os"],
        "is_bot": False,
        "country": None,
        "ip_trunc": server["ip_trunc"],
        "language": device.get("language"),
        "tz_offset_min": device.get("tz_offset_min"),
        "screen_w": device.get("screen_w"),
        "screen_h": device.get("screen_h"),
        "viewport_w": device.get("viewport_w"),
        "viewport_h": device.get("viewport_h"),
        "consent_analytics": (event.get("consent") or {}).get("analytics"),
        "search_term": props["search_term"].strip().lower() if isinstance(props.get("search_term"), str) else None,
        "engaged_ms": props.get("engaged_ms"),
        "currency": ecommerce.get("currency"),
        "value": ecommerce.get("value"),
        "transaction_id": ecommerce.get("transaction_id"),
        "item_count": len(ecommerce.get("items") or []),
        "properties": json.dumps(props, sort_keys=True, separators=(",", ":")) if props else None,
    }


def _example_lines() -> list[tuple[dict[str, Any], bytes]]:
    out = []
    for event in EXAMPLES["events"]:
        line = raw_line(event, EXAMPLE_RECEIVED, request_id="req-examples")
        out.append((json.loads(line), line))
    return out


def test_every_example_event_becomes_one_row_with_the_contract_columns() -> None:
    # GIVEN the example visit (one event of every standard name) stored in raw
    examples = _example_lines()
    # WHEN the chunk is cleaned
    chunk = clean([line for _, line in examples], hour=EXAMPLE_HOUR)
    # THEN every event is one row with exactly the processed schema, and nothing is quarantined
    result = table(chunk.events_parquet)
    assert result.schema.equals(EVENTS_SCHEMA)
    assert chunk.events == result.num_rows == len(examples)
    assert chunk.quarantine_lines == [] and chunk.quarantined == {}
    by_id = {row["event_id"]: row for row in result.to_pylist()}
    for record, line in examples:
        row = by_id[record["event_id"]]
        expected = _expected_row(record, record["server"])
        assert {k: row[k] for k in expected} == expected
        decoded = validate_record(line)
        assert row["payload_hash"] == payload_hash(decoded)  # type: ignore[arg-type]


def test_example_derived_columns() -> None:
    examples = _example_lines()
    by_name = {r["event_name"]: r for r in rows(clean([line for _, line in examples], hour=EXAMPLE_HOUR).events_parquet)}
    landing = by_name["page_view"]
    # campaign.* wins; the referrer (google) does not override an email campaign
    assert (landing["utm_source"], landing["utm_medium"], landing["utm_campaign"], landing["utm_content"]) == (
        "newsletter", "email", "spring_sale", "hero_banner")
    assert landing["referrer_host"] == "google.com"
    assert landing["channel"] == "Email"
    # Later events have no campaign and no UTM in the URL: the google referrer makes them organic search.
    assert by_name["user_engagement"]["channel"] == "Organic Search"
    assert by_name["user_engagement"]["engaged_ms"] == 12850
    assert by_name["search"]["search_term"] == "kettle"
    assert by_name["purchase"]["transaction_id"] == "ORD-2025-000123"
    assert by_name["view_item"]["properties"] is None  # {} is stored as null


def test_each_event_keeps_its_own_values_when_its_neighbours_differ_in_one() -> None:
    # GIVEN consecutive lines of one object (the cleaner keeps the request, session and page
    # columns once per run of equal values) that each change one value of the line before
    base = event_at(IN_HOUR - timedelta(minutes=5), "page_view", device={"screen_w": 390, "language": "en"},
                    consent={"analytics": True})
    steps: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({}, {}),
        ({}, {}),  # only the event's own values differ
        ({}, {"ip_trunc": "198.51.100.0"}),
        ({}, {"ua_browser": "Firefox"}),
        ({}, {"ua_os": "Linux", "user_agent": "other"}),
        ({}, {"request_id": "req-2"}),
        ({"sent_ts": "2025-05-01T12:15:01.500Z"}, {}),
        ({}, {"received_at": IN_HOUR + timedelta(milliseconds=1)}),
        ({"device": {"screen_w": 391, "language": "en"}}, {}),
        ({"device": {"screen_w": 391, "language": "fr"}}, {}),
        ({"device": None}, {}),
        ({"consent": {"analytics": False}}, {}),
        ({"user_id": "u-1"}, {}),
        ({"claimed_user_id": "u-2"}, {}),
        ({"sdk": {"name": "clickstream-web", "version": "0.2.0"}}, {}),
        ({"page": dict(base["page"], title="Other title")}, {}),
        ({"page": dict(base["page"], title="Other title", referrer="")}, {}),
        ({"page": dict(base["page"], url=base["page"]["url"] + "?utm_source=news&utm_medium=email")}, {}),
        ({"campaign": {"source": "ads", "medium": "cpc", "term": "mug"}}, {}),
        ({"campaign": {"source": "ads", "medium": "cpc", "term": "cup"}}, {}),
        ({"page": None, "campaign": None}, {}),
        ({}, {}),  # back to the first line's values
    ]
    lines, expected = [], {}
    event, server = dict(base), {}
    for i, (event_change, server_change) in enumerate(steps):
        event = dict(event, event_id=str(uuid.uuid4()), event_seq=i + 1, **event_change)
        event = {k: v for k, v in event.items() if v is not None}
        server = dict(server, **server_change) if i else {}
        if i == len(steps) - 1:
            event, server = dict(base, event_id=event["event_id"], event_seq=i + 1), {}
        received_at = server.get("received_at", IN_HOUR)
        line = raw_line(event, received_at, **{k: v for k, v in server.items() if k != "received_at"})
        record = json.loads(line)
        expected[record["event_id"]] = record
        lines.append(line)
    # WHEN they are cleaned, split over two objects and in batches of a few rows
    store = dict(objects_of(lines[:15], lines[15:]))
    for batch_rows in (3, 1000):
        cleaner = ChunkCleaner(HOUR, RUN_ID, batch_rows=batch_rows)
        for index, (key, data) in enumerate(store.items()):
            cleaner.add_object(index, key, data)
        result = rows(cleaner.finish(reload=store.__getitem__).events_parquet)
        # THEN every row has its own line's values
        assert len(result) == len(steps)
        for row in result:
            record = expected[row["event_id"]]
            srv = record["server"]
            want = _expected_row(record, srv, HOUR)
            page = record.get("page") or {}
            c = record.get("campaign")
            campaign = None if c is None else tuple(c.get(k) for k in ("source", "medium", "name", "term", "content",
                                                                         "click_id"))
            want.update(page_fields(page.get("url"), page.get("path"), page.get("referrer") or None,
                                    campaign)._asdict())
            want["browser"], want["os"] = srv["ua_browser"], srv["ua_os"]
            assert {k: row[k] for k in want} == want


def test_rows_are_sorted_by_event_time_then_event_id() -> None:
    base = IN_HOUR - timedelta(minutes=10)
    same_time = [event_at(base) for _ in range(5)]
    others = [event_at(base - timedelta(seconds=s)) for s in (30, 1, 400)]
    chunk = clean([raw_line(e) for e in others[:2]], [raw_line(e) for e in same_time + others[2:]])
    keys = [(r["event_time"], r["event_id"]) for r in rows(chunk.events_parquet)]
    assert keys == sorted(keys)
    assert len(keys) == 8


def test_items_are_flattened_in_event_order_with_event_columns_and_default_quantity() -> None:
    # GIVEN a purchase with two items (one without quantity) and a view_item_list with one item
    purchase = event_at(IN_HOUR - timedelta(seconds=30), "purchase", user_id=None, ecommerce={
        "currency": "EUR", "value": 52.4, "transaction_id": "ORD-1",
        "items": [{"item_id": "SKU-1", "item_name": "Kettle", "price": 39.9, "quantity": 1, "index": 3},
                  {"item_id": "SKU-2", "price": 12.5}],
    })
    listing = event_at(IN_HOUR - timedelta(seconds=60), "view_item_list",
                       ecommerce={"items": [{"item_id": "SKU-9", "item_category": "Kitchen", "item_brand": "B",
                                             "item_variant": "blue"}]})
    chunk = clean([raw_line(purchase, derived_ts=IN_HOUR - timedelta(seconds=30)),
                   raw_line(listing, derived_ts=IN_HOUR - timedelta(seconds=60))])
    # THEN three item rows, ordered like their events, with the event's columns copied
    items = table(chunk.items_parquet)
    assert items.schema.equals(ITEMS_SCHEMA)
    assert chunk.items == 3
    got = items.to_pylist()
    assert [(r["event_id"], r["item_position"], r["item_id"]) for r in got] == [
        (listing["event_id"], 0, "SKU-9"), (purchase["event_id"], 0, "SKU-1"), (purchase["event_id"], 1, "SKU-2")]
    assert got[0]["item_category"] == "Kitchen" and got[0]["item_variant"] == "blue"
    assert got[0]["quantity"] == 1 and got[0]["price"] is None and got[0]["currency"] is None
    second = got[2]
    assert (second["quantity"], second["price"], second["list_index"], second["item_name"]) == (1, 12.5, None, None)
    assert (second["transaction_id"], second["currency"], second["event_name"]) == ("ORD-1", "EUR", "purchase")
    assert second["session_id"] == purchase["session_id"] and second["visitor_id"] == purchase["anonymous_id"]
    assert got[1]["list_index"] == 3
    events = {r["event_id"]: r for r in rows(chunk.events_parquet)}
    assert events[purchase["event_id"]]["item_count"] == 2
    assert second["event_time"] == events[purchase["event_id"]]["event_time"]
    assert second["event_date"] == events[purchase["event_id"]]["event_date"]
    assert second["received_hour"] == HOUR.start


def test_user_ids_and_visitor_id() -> None:
    signed_in = event_at(IN_HOUR, user_id="user-7", claimed_user_id="someone-else")
    anonymous = event_at(IN_HOUR)
    by_id = {r["event_id"]: r for r in rows(clean([raw_line(signed_in), raw_line(anonymous)]).events_parquet)}
    assert by_id[signed_in["event_id"]]["visitor_id"] == "user-7"
    assert by_id[signed_in["event_id"]]["claimed_user_id"] == "someone-else"
    assert by_id[anonymous["event_id"]]["visitor_id"] == anonymous["anonymous_id"]
    assert by_id[anonymous["event_id"]]["user_id"] is None


def test_utm_from_the_url_when_there_is_no_campaign_and_bots_and_unknown_devices() -> None:
    event = event_at(IN_HOUR, page={"url": "https://shop.example.com/p?utm_source=google&utm_medium=cpc&gclid=G1",
                                    "referrer": ""})
    [row] = rows(clean([raw_line(event, is_bot=True, ua_device="bot")]).events_parquet)
    assert (row["utm_source"], row["utm_medium"], row["click_id"]) == ("google", "cpc", "G1")
    assert row["page_path"] == "/p" and row["page_referrer"] is None and row["referrer_host"] is None
    assert row["channel"] == "Paid Search"
    assert row["device_class"] == "bot" and row["is_bot"] is True
    [row] = rows(clean([raw_line(event_at(IN_HOUR), ua_device=None)]).events_parquet)
    assert row["device_class"] == "other"


def test_event_id_is_lowercased_and_times_are_utc_milliseconds() -> None:
    event = event_at(IN_HOUR)
    event["event_id"] = event["event_id"].upper()
    event["event_ts"] = "2025-05-01T14:19:58.123456+02:00"
    event["sent_ts"] = "2025-05-01T14:19:59.999999+02:00"
    [row] = rows(clean([raw_line(event)]).events_parquet)
    assert row["event_id"] == event["event_id"].lower()
    assert row["client_ts"] == utc(2025, 5, 1, 12, 19, 58, 123000)
    assert row["sent_ts"] == utc(2025, 5, 1, 12, 19, 59, 999000)


def test_natural_duplicates_are_dropped_and_the_earliest_copy_is_kept() -> None:
    # GIVEN an event sent three times (retries: new sent_ts and server context each time)
    event = event_at(IN_HOUR - timedelta(minutes=1))
    retry = dict(event, sent_ts=(ts(event["sent_ts"]) + timedelta(seconds=30)).isoformat())
    lines = [raw_line(retry, IN_HOUR + timedelta(seconds=31), request_id="req-late"),
             raw_line(event, IN_HOUR, request_id="req-first"),
             raw_line(event, IN_HOUR + timedelta(seconds=5), request_id="req-second")]
    chunk = clean(lines[:1], lines[1:])
    # THEN one row, from the earliest received copy, and two natural duplicates counted (not quarantined)
    [row] = rows(chunk.events_parquet)
    assert row["request_id"] == "req-first"
    assert chunk.natural_duplicates == 2
    assert chunk.quarantined == {}


def test_synthetic_duplicates_are_quarantined_and_the_earliest_is_kept() -> None:
    # GIVEN two different events that share an event_id
    first = event_at(IN_HOUR - timedelta(minutes=1), "add_to_cart")
    other = dict(first, event_name="remove_from_cart")
    lines = [raw_line(other, IN_HOUR + timedelta(seconds=10), request_id="req-2"),
             raw_line(first, IN_HOUR, request_id="req-1")]
    chunk = clean(lines)
    # THEN the earliest received is kept and the other is in quarantine with its raw line
    [row] = rows(chunk.events_parquet)
    assert row["event_name"] == "add_to_cart"
    assert chunk.natural_duplicates == 0
    assert chunk.quarantined == {"synthetic_duplicate": 1}
    [record] = quarantine(chunk)
    assert record["error_code"] == "synthetic_duplicate"
    assert record["event_id"] == first["event_id"]
    assert record["raw"].encode() == lines[0]
    assert (record["stage"], record["run_id"], record["line_number"]) == ("clean", RUN_ID, 0)
    assert "req-1" in record["error_message"]


def test_items_of_dropped_duplicates_are_dropped_too() -> None:
    first = event_at(IN_HOUR, "view_item", ecommerce={"items": [{"item_id": "A"}]})
    other = dict(first, ecommerce={"items": [{"item_id": "B"}, {"item_id": "C"}]})
    chunk = clean([raw_line(first, IN_HOUR), raw_line(first, IN_HOUR + timedelta(seconds=1)),
                   raw_line(other, IN_HOUR + timedelta(seconds=2))])
    assert [r["item_id"] for r in rows(chunk.items_parquet)] == ["A"]
    assert chunk.items == 1


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (raw_line(event_at(IN_HOUR, bogus=1)), "unknown_field"),
        (raw_line(event_at(IN_HOUR, "Page View")), "bad_event_name"),
        (json.dumps(event_at(IN_HOUR)).encode(), "missing_field"),  # no server context
        (raw_line(event_at(IN_HOUR, "purchase")), "missing_transaction_id"),
        (raw_line(event_at(IN_HOUR, event_seq=2**31)), "bad_value"),
        (b"\xff\xfe not utf-8", "malformed_json"),
    ],
)
def test_lines_that_fail_validation_are_quarantined_with_their_code(line: bytes, code: str) -> None:
    good = event_at(IN_HOUR)
    chunk = clean([raw_line(good), line])
    assert [r["event_id"] for r in rows(chunk.events_parquet)] == [good["event_id"]]
    assert chunk.quarantined == {code: 1}
    [record] = quarantine(chunk)
    assert record["error_code"] == code
    assert record["stage"] == "clean" and record["run_id"] == RUN_ID
    assert record["line_number"] == 1 and record["source_key"].endswith("req-0000.jsonl.gz")
    stored = record["raw"].encode() if record.get("raw") is not None else base64.b64decode(record["raw_base64"])
    assert stored == line
    assert record["error_message"]


def test_time_rules_quarantine_wrong_partition_stale_and_future() -> None:
    event = event_at(IN_HOUR - timedelta(minutes=1))
    lines = {
        "wrong_partition": raw_line(event_at(HOUR.end), HOUR.end),
        "wrong_partition_before": raw_line(event_at(HOUR.start - timedelta(seconds=1)),
                                           HOUR.start - timedelta(milliseconds=1)),
        # The stored derived_ts is what the window is checked on (the raw layer is not trusted).
        "stale_timestamp": raw_line(event, derived_ts=IN_HOUR - timedelta(hours=72, milliseconds=1)),
        "future_timestamp": raw_line(event_at(IN_HOUR), derived_ts=IN_HOUR + timedelta(minutes=5, milliseconds=1)),
        "late_but_in_window": raw_line(event_at(IN_HOUR), derived_ts=IN_HOUR - timedelta(hours=72)),
        "ahead_but_in_window": raw_line(event_at(IN_HOUR), derived_ts=IN_HOUR + timedelta(minutes=5)),
        "first_ms_of_hour": raw_line(event_at(HOUR.start - timedelta(seconds=2)), HOUR.start),
    }
    chunk = clean(list(lines.values()))
    assert chunk.quarantined == {"future_timestamp": 1, "stale_timestamp": 1, "wrong_partition": 2}
    assert chunk.events == 3
    codes = [r["error_code"] for r in quarantine(chunk)]
    assert codes == ["wrong_partition", "wrong_partition", "stale_timestamp", "future_timestamp"]  # input order
    by_time = sorted(r["event_time"] for r in rows(chunk.events_parquet))
    assert by_time[0] == IN_HOUR - timedelta(hours=72)
    assert by_time[-1] == IN_HOUR + timedelta(minutes=5)


def test_an_unreadable_object_is_quarantined_by_name_and_the_rest_is_cleaned() -> None:
    good = event_at(IN_HOUR)
    objects = [("raw/x/broken.jsonl.gz", b"this is not gzip"), *objects_of([raw_line(good)])]
    chunk = clean_objects(HOUR, RUN_ID, objects)
    assert chunk.quarantined == {"unreadable_object": 1}
    [record] = quarantine(chunk)
    assert record["source_key"] == "raw/x/broken.jsonl.gz" and record["raw"] is None and record["line_number"] is None
    assert chunk.events == 1


def test_same_input_gives_the_same_bytes() -> None:
    lines = [raw_line(e) for e in EXAMPLES["events"][:1]]
    lines += [raw_line(event_at(IN_HOUR - timedelta(seconds=i), "view_item",
                                ecommerce={"items": [{"item_id": f"SKU-{i}"}]})) for i in range(50)]
    lines += [b"{broken", lines[3]]
    first, second = clean(lines[:20], lines[20:]), clean(lines[:20], lines[20:])
    assert first.events_parquet.equals(second.events_parquet)
    assert first.items_parquet.equals(second.items_parquet)
    assert first.quarantine_lines == second.quarantine_lines
    assert gzip_lines(first.quarantine_lines) == gzip_lines(second.quarantine_lines)


def test_an_empty_chunk_gives_empty_files_with_the_schemas() -> None:
    chunk = clean_objects(HOUR, RUN_ID, [])
    assert table(chunk.events_parquet).schema.equals(EVENTS_SCHEMA) and chunk.events == 0
    assert table(chunk.items_parquet).schema.equals(ITEMS_SCHEMA) and chunk.items == 0
    chunk = clean([])  # an object with no lines
    assert chunk.events == 0 and chunk.quarantine_lines == []


def test_output_columns_are_non_null_where_the_schema_says_so() -> None:
    lines = [raw_line(e, ts(EXAMPLES["received_at"])) for e in EXAMPLES["events"]]
    result = table(clean(lines, hour=EXAMPLE_HOUR).events_parquet)
    for field in EVENTS_SCHEMA:
        if not field.nullable:
            assert result[field.name].null_count == 0, field.name


def test_payload_hash_ignores_only_sent_ts_and_server() -> None:
    event = event_at(IN_HOUR, properties={"b": 1, "a": "x"})

    def decoded(e: dict[str, Any], **server: Any) -> Any:
        return validate_record(raw_line(e, **server))

    base = payload_hash(decoded(event))
    retry = dict(event, sent_ts=(ts(event["sent_ts"]) + timedelta(seconds=9)).isoformat())
    assert payload_hash(decoded(retry, request_id="other", ip_trunc="198.51.100.0")) == base
    assert payload_hash(decoded(dict(event, properties={"a": "x", "b": 1}))) == base  # key order
    assert payload_hash(decoded(dict(event, event_id=event["event_id"].upper()))) == base
    assert payload_hash(decoded(dict(event, campaign=None))) == base  # null == absent
    assert payload_hash(decoded(dict(event, event_seq=2))) != base
    assert payload_hash(decoded(dict(event, properties={"b": 1, "a": "y"}))) != base
    assert len(base) == 32 and int(base, 16) >= 0


def test_many_rows_span_several_batches_and_row_groups() -> None:
    # GIVEN more events than one Arrow batch holds (the cleaner converts rows every BATCH_ROWS)
    from clickstream.etl import clean as clean_module

    events = [event_at(IN_HOUR - timedelta(milliseconds=i), "view_item", ecommerce={"items": [{"item_id": str(i)}]})
              for i in range(300)]
    cleaner = clean_module.ChunkCleaner(HOUR, RUN_ID, batch_rows=7)
    lines = [raw_line(e, derived_ts=IN_HOUR - timedelta(milliseconds=i)) for i, e in enumerate(events)]
    store = dict(objects_of(*[lines[i:i + 25] for i in range(0, 300, 25)]))
    for index, (key, data) in enumerate(store.items()):
        cleaner.add_object(index, key, data)
    chunk = cleaner.finish(reload=store.__getitem__)
    # THEN every row and item comes out once, in order
    result = rows(chunk.events_parquet)
    assert [r["event_id"] for r in result] == [e["event_id"] for e in reversed(events)]
    assert [r["item_id"] for r in rows(chunk.items_parquet)] == [str(i) for i in reversed(range(300))]
    assert isinstance(chunk.events_parquet, pa.Buffer)
