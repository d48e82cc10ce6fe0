"""The shapes of schema v1: Event, ServerContext, RawRecord, their defaults and constants."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from clickstream.schema import (
    CURRENCIES,
    FUTURE_LIMIT,
    LATE_LIMIT,
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_BATCH,
    SCHEMA_VERSION,
    STANDARD_EVENT_NAMES,
    Event,
    Item,
    RawRecord,
    ServerContext,
)
from clickstream.schema.event import ISO_4217_CURRENCIES

EVENTS_FILE = Path(__file__).resolve().parents[1] / "events" / "valid_events.json"

MINIMAL_EVENT = {
    "event_id": "3f6c2a4e-8b1d-4c5e-9f7a-2d3b4c5d6e7f",
    "event_name": "page_view",
    "event_ts": "2025-05-01T12:00:00.000Z",
    "app_id": "demo-shop",
    "platform": "web",
    "sdk": {"name": "clickstream-js", "version": "1.0.0"},
    "schema_version": 1,
    "anonymous_id": "5b0e7a52-3c1d-4f8e-9a6b-2d4c8e1f0a37",
    "session_id": "s-1",
    "event_seq": 0,
}


def test_constants_match_the_ingest_contract() -> None:
    # GIVEN the limits in ARCHITECTURE.md ("Ingest API") THEN the module states the same
    assert SCHEMA_VERSION == 1
    assert MAX_EVENT_BYTES == 16 * 1024
    assert MAX_EVENTS_PER_BATCH == 500
    assert MAX_BODY_BYTES == 256 * 1024
    assert timedelta(hours=72) == LATE_LIMIT
    assert timedelta(minutes=5) == FUTURE_LIMIT


def test_standard_event_names_are_the_ga4_vocabulary() -> None:
    # GIVEN the names listed in the contract THEN the constant holds exactly those
    assert {
        "page_view", "user_engagement", "click", "search", "view_item_list", "select_item", "view_item",
        "add_to_cart", "remove_from_cart", "view_cart", "begin_checkout", "add_payment_info", "purchase", "refund",
    } == STANDARD_EVENT_NAMES  # fmt: skip


def test_currency_list_is_iso_4217() -> None:
    # GIVEN the embedded ISO 4217 list
    # THEN it has the common codes, only three upper-case letters, and about the real size
    assert {"USD", "EUR", "GBP", "JPY", "CHF", "CNY", "INR", "BRL", "XCG", "ZWG", "SLE"} <= ISO_4217_CURRENCIES
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in CURRENCIES)
    assert 170 <= len(ISO_4217_CURRENCIES) <= 190
    # AND made-up or lower-case codes are not in it
    assert not {"XYZ", "usd", "EURO", "BTC", "US"} & CURRENCIES


def test_minimal_event_decodes_with_documented_defaults() -> None:
    # GIVEN an event with only the required fields
    # WHEN it is decoded
    event = msgspec.json.decode(json.dumps(MINIMAL_EVENT), type=Event)
    # THEN optional fields are None and properties is an empty dict
    assert event.sent_ts is None
    assert event.user_id is None
    assert event.page is None and event.campaign is None and event.device is None
    assert event.consent is None and event.ecommerce is None
    assert event.properties == {}
    assert event.event_ts == datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def test_item_quantity_defaults_to_one() -> None:
    # GIVEN an item without quantity WHEN decoded THEN quantity is 1 (GA4's default)
    item = msgspec.json.decode(b'{"item_id": "SKU-1"}', type=Item)
    assert item.quantity == 1
    assert item.price is None


def test_encoding_omits_defaults() -> None:
    # GIVEN a minimal event WHEN it is encoded again
    event = msgspec.json.decode(json.dumps(MINIMAL_EVENT), type=Event)
    encoded = json.loads(msgspec.json.encode(event))
    # THEN fields left at their defaults are not written
    assert set(encoded) == set(MINIMAL_EVENT)


def test_raw_record_is_event_fields_plus_claimed_user_and_server() -> None:
    # GIVEN the two structs THEN the record has exactly the event's fields, in order, plus two
    assert RawRecord.__struct_fields__ == (*Event.__struct_fields__, "claimed_user_id", "server")
    assert issubclass(RawRecord, Event)


def test_raw_record_round_trips_through_json() -> None:
    # GIVEN an example event and a server context
    example = json.loads(EVENTS_FILE.read_text())["events"][0]
    received = datetime(2025, 5, 1, 12, 1, 45, tzinfo=UTC)
    server = ServerContext(
        received_ts=received,
        request_id="req-1",
        ip_trunc="203.0.113.0",
        user_agent="Mozilla/5.0",
        ua_browser="Firefox",
        ua_os="Linux",
        ua_device="desktop",
        is_bot=False,
        derived_ts=received,
    )
    event = msgspec.json.decode(json.dumps(example), type=Event)
    record = RawRecord(**msgspec.structs.asdict(event), claimed_user_id="u-7", server=server)
    # WHEN it is written as a raw line and read back
    line = msgspec.json.encode(record)
    again = msgspec.json.decode(line, type=RawRecord)
    # THEN nothing is lost
    assert again == record
    assert json.loads(line)["server"]["ua_device"] == "desktop"


def test_client_cannot_send_server_context() -> None:
    # GIVEN an event that carries a "server" object (only the ingest server may add it)
    payload = dict(MINIMAL_EVENT, server={"received_ts": "2025-05-01T12:00:00Z"})
    # WHEN decoded as a client event THEN it is an unknown field
    with pytest.raises(msgspec.ValidationError, match="unknown field `server`"):
        msgspec.json.decode(json.dumps(payload), type=Event)


@pytest.mark.parametrize("ua_device", ["desktop", "mobile", "tablet", "bot", "other"])
def test_server_context_accepts_each_device_class(ua_device: str) -> None:
    # GIVEN each documented ua_device WHEN decoded THEN it is kept
    payload = {
        "received_ts": "2025-05-01T12:00:00Z",
        "request_id": "r",
        "is_bot": ua_device == "bot",
        "ua_device": ua_device,
        "derived_ts": "2025-05-01T12:00:00Z",
    }
    assert msgspec.json.decode(json.dumps(payload), type=ServerContext).ua_device == ua_device


def test_server_context_rejects_other_device_classes() -> None:
    # GIVEN an undocumented device class WHEN decoded THEN it fails
    payload = {
        "received_ts": "2025-05-01T12:00:00Z",
        "request_id": "r",
        "is_bot": False,
        "ua_device": "phone",
        "derived_ts": "2025-05-01T12:00:00Z",
    }
    with pytest.raises(msgspec.ValidationError, match="ua_device"):
        msgspec.json.decode(json.dumps(payload), type=ServerContext)
