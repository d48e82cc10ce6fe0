"""Builders of processed-layer tables for the data-quality tests (and tests of the builders).

Rows are plain dicts with every column of `clickstream.etl.processed`; tables are built with
the exact Arrow schemas, so the checks see what the clean step writes. `clean_hour()` is an
hour that passes every check without a single warning; each test breaks one thing in it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.layout import Hour
from clickstream.quality import QualityContext, QualityResult, check_hour

HOUR = Hour.parse("2026-03-10T14")
RUN_ID = "run-test-0001"

Row = dict[str, Any]
Key = tuple[str, str, str]


def _id(n: int, kind: str = "e") -> str:
    # Deterministic UUIDs keep failures reproducible and readable.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://test.example/{kind}/{n}"))


def event_row(n: int, event_name: str = "page_view", *, at: datetime | None = None, **overrides: Any) -> Row:
    """One valid processed event, received in HOUR; keyword arguments override columns."""
    event_time = at or HOUR.start + timedelta(minutes=n % 60, seconds=n % 7)
    received = HOUR.start + timedelta(minutes=n % 60, seconds=30)
    row: Row = {
        "event_id": _id(n),
        "event_name": event_name,
        "event_time": event_time,
        "event_date": event_time.date(),
        "event_hour": event_time.hour,
        "client_ts": event_time,
        "sent_ts": event_time + timedelta(seconds=1),
        "received_ts": received,
        "received_hour": HOUR.start,
        "request_id": f"req-{n // 10}",
        "app_id": "demo-shop",
        "platform": "web",
        "sdk_name": "clickstream-web",
        "sdk_version": "0.1.0",
        "schema_version": 1,
        "anonymous_id": _id(n // 5, "anon"),
        "user_id": None,
        "claimed_user_id": None,
        "visitor_id": _id(n // 5, "anon"),
        "session_id": _id(n // 5, "session"),
        "event_seq": n % 5,
        "page_url": f"https://shop.example/products/{n}",
        "page_path": f"/products/{n}",
        "page_title": "A product",
        "page_referrer": "https://www.google.com/",
        "referrer_host": "google.com",
        "page_view_id": _id(n, "pv"),
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "utm_term": None,
        "utm_content": None,
        "click_id": None,
        "channel": "organic_search",
        "device_class": "desktop",
        "browser": "Firefox",
        "os": "Linux",
        "is_bot": False,
        "country": None,
        "ip_trunc": "203.0.113.0",
        "language": "en-GB",
        "tz_offset_min": 60,
        "screen_w": 1920,
        "screen_h": 1080,
        "viewport_w": 1200,
        "viewport_h": 800,
        "consent_analytics": True,
        "search_term": None,
        "engaged_ms": None,
        "currency": None,
        "value": None,
        "transaction_id": None,
        "item_count": 0,
        "properties": None,
        "payload_hash": f"hash-{n}",
    }
    if event_name in {"purchase", "refund"}:
        row.update(currency="EUR", value=42.5, transaction_id=f"T-{n}", item_count=1)
    elif event_name in {"view_item", "add_to_cart"}:
        row.update(currency="EUR", value=21.25, item_count=1)
    row.update(overrides)
    return row


def item_row(event: Row, position: int = 0, **overrides: Any) -> Row:
    """One item of `event`, copying the event columns items repeat."""
    row: Row = {
        "event_id": event["event_id"],
        "item_position": position,
        "event_name": event["event_name"],
        "event_time": event["event_time"],
        "event_date": event["event_date"],
        "received_hour": event["received_hour"],
        "session_id": event["session_id"],
        "visitor_id": event["visitor_id"],
        "transaction_id": event["transaction_id"],
        "currency": event["currency"] or "EUR",
        "item_id": f"SKU-{position}",
        "item_name": "Blue mug",
        "item_category": "Kitchen",
        "item_brand": "Acme",
        "item_variant": None,
        "price": 21.25,
        "quantity": 2,
        "list_index": None,
    }
    row.update(overrides)
    return row


# The mix of one clean hour: mostly page views, some product and commerce events.
_NAMES = ["page_view", "page_view", "view_item", "page_view", "add_to_cart", "click", "page_view", "purchase",
          "user_engagement", "search"]


def clean_hour(n: int = 40) -> tuple[list[Row], list[Row]]:
    """Events and items of an hour that passes every check with no warning."""
    events = [event_row(i, _NAMES[i % len(_NAMES)]) for i in range(n)]
    items = [item_row(e) for e in events if e["item_count"]]
    return events, items


def events_table(rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


def items_table(rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ITEMS_SCHEMA)


def run_check(events: list[Row], items: list[Row], *, expected_events: int | None = None,
              context: QualityContext | None = None) -> QualityResult:
    return check_hour(
        HOUR, RUN_ID,
        events=events_table(events), items=items_table(items),
        expected_events=len(events) if expected_events is None else expected_events,
        context=context or QualityContext(),
    )


def failed(result: QualityResult) -> set[Key]:
    """(suite, expectation, column) of every failed check, whatever its severity."""
    return {(r.suite, r.expectation, r.column_name) for r in result.results if not r.success}


# Tests of the builders themselves: the tables they make are what the clean step writes.

def test_tables_have_the_processed_schemas() -> None:
    events, items = clean_hour()
    assert events_table(events).schema.equals(EVENTS_SCHEMA)
    assert items_table(items).schema.equals(ITEMS_SCHEMA)
    assert set(event_row(0)) == set(EVENTS_SCHEMA.names)
    assert set(item_row(event_row(0))) == set(ITEMS_SCHEMA.names)


def test_clean_hour_has_commerce_and_items() -> None:
    events, items = clean_hour()
    names = {e["event_name"] for e in events}
    assert {"page_view", "purchase", "add_to_cart"} <= names
    assert len(items) == sum(e["item_count"] for e in events) > 0
    assert all(e["received_hour"] == HOUR.start for e in events)
    assert isinstance(events[0]["event_date"], date) and events[0]["event_time"].tzinfo == UTC
