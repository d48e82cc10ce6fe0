"""validate_event and validate_record: one test per rule and per code, the example events,
clock-skew correction and the edges of the time window."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from clickstream.schema import (
    FUTURE_LIMIT,
    LATE_LIMIT,
    MAX_EVENT_BYTES,
    MAX_RECORD_BYTES,
    STANDARD_EVENT_NAMES,
    Code,
    Event,
    RawRecord,
    Rejection,
    derived_time,
    parse_batch,
    validate_event,
    validate_record,
)
from tests.support import EVENTS_FILE, EXAMPLES, RECEIVED_AT

BY_NAME: dict[str, dict[str, Any]] = {event["event_name"]: event for event in EXAMPLES["events"]}

DELETE = object()
_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def example(name: str = "purchase") -> dict[str, Any]:
    """A fresh copy of the example event with that name (purchase has every part)."""
    return copy.deepcopy(BY_NAME[name])


def edit(event: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """Set (or DELETE) values at dotted paths like "ecommerce.items[1].price"."""
    for path, value in edits.items():
        keys: list[str | int] = [name or int(index) for name, index in _SEGMENT.findall(path)]
        node: Any = event
        for key in keys[:-1]:
            node = node[key]
        if value is DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return event


def encode(event: Any) -> bytes:
    return json.dumps(event).encode()


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- valid events


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_every_example_event_is_valid(name: str) -> None:
    # GIVEN a realistic example event from tests/events/valid_events.json
    raw = encode(BY_NAME[name])
    # WHEN it is validated at the time the examples were received
    result = validate_event(raw, received_at=RECEIVED_AT)
    # THEN it is accepted and decoded faithfully
    assert isinstance(result, Event), result
    assert result.event_name == name
    assert result.event_id == BY_NAME[name]["event_id"]


def test_examples_cover_every_standard_name_and_a_custom_one() -> None:
    # GIVEN the example file THEN every standard name has an example, plus a custom name
    assert set(BY_NAME) >= STANDARD_EVENT_NAMES
    assert set(BY_NAME) - STANDARD_EVENT_NAMES, "add a custom-named event to valid_events.json"


def test_example_file_is_itself_a_valid_batch_body() -> None:
    # GIVEN the example file as bytes WHEN it is parsed as a request body
    raws = parse_batch(EVENTS_FILE.read_bytes())
    # THEN every slice validates to the same event as the file lists
    results = [validate_event(raw, received_at=RECEIVED_AT) for raw in raws]
    assert [r.event_id for r in results if isinstance(r, Event)] == [e["event_id"] for e in EXAMPLES["events"]]


def test_purchase_example_decodes_items_and_money() -> None:
    # GIVEN the purchase example WHEN validated
    result = validate_event(encode(example("purchase")), received_at=RECEIVED_AT)
    # THEN the e-commerce block is typed
    assert isinstance(result, Event)
    assert result.ecommerce is not None
    assert result.ecommerce.currency == "EUR"
    assert result.ecommerce.transaction_id
    assert [item.item_id for item in result.ecommerce.items] == ["SKU-1042", "SKU-2210"]
    assert result.ecommerce.items[1].quantity == 2


def test_raw_slices_from_parse_batch_are_accepted_as_input() -> None:
    # GIVEN a msgspec.Raw slice (what parse_batch returns) WHEN validated THEN it is accepted
    raw = parse_batch(b'{"events": [' + encode(example("page_view")) + b"]}")[0]
    assert isinstance(raw, msgspec.Raw)
    assert isinstance(validate_event(raw, received_at=RECEIVED_AT), Event)


@pytest.mark.parametrize(
    "edits",
    [
        pytest.param({"event_id": "3F6C2A4E-8B1D-4C5E-9F7A-2D3B4C5D6E7F"}, id="upper-case uuid"),
        pytest.param({"event_name": "a"}, id="one-letter name"),
        pytest.param({"event_name": "a" + "b" * 39}, id="40-char name"),
        pytest.param({"event_name": "checkout_step_2"}, id="custom name with digits"),
        pytest.param({"event_ts": "2025-05-01T14:01:25.476+02:00", "sent_ts": DELETE}, id="offset timezone"),
        pytest.param({"ecommerce.currency": "XCG"}, id="new ISO code"),
        pytest.param({"ecommerce.currency": "HRK"}, id="recently withdrawn code"),
        pytest.param({"ecommerce.items[0].price": 0, "ecommerce.value": 0}, id="free items"),
        pytest.param({"ecommerce.items[0].quantity": 0}, id="zero quantity"),
        pytest.param({"properties": {f"k{i}": i for i in range(50)}}, id="50 properties"),
        pytest.param({"properties": {"k" * 64: "v" * 1024, "n": None, "f": 1.5, "b": False}}, id="property limits"),
        pytest.param({"ecommerce.items": [{"item_id": str(i)} for i in range(200)]}, id="200 items"),
        pytest.param({"device.tz_offset_min": -840}, id="tz offset lower edge"),
        pytest.param({"page": None, "campaign": None, "device": None, "consent": None}, id="null optional objects"),
        pytest.param({"sent_ts": DELETE}, id="no sent_ts"),
    ],
)
def test_edge_values_that_are_still_valid(edits: dict[str, Any]) -> None:
    # GIVEN a purchase with a value at the edge of a rule
    raw = encode(edit(example(), edits))
    # WHEN validated THEN it is accepted
    result = validate_event(raw, received_at=RECEIVED_AT)
    assert isinstance(result, Event), result


# --------------------------------------------------------------------------- one case per rule
# (edits to the purchase example, expected code, expected Rejection.path)

FIELD_CASES = [
    # missing_field / unknown_field / bad_type / bad_value: the general codes
    ("missing session_id", {"session_id": DELETE}, Code.missing_field, "$.session_id"),
    ("missing sdk.version", {"sdk.version": DELETE}, Code.missing_field, "$.sdk.version"),
    ("missing consent.analytics", {"consent": {}}, Code.missing_field, "$.consent.analytics"),
    ("unknown top-level field", {"eventName": "x"}, Code.unknown_field, "$.eventName"),
    ("unknown nested field", {"page.hash": "#top"}, Code.unknown_field, "$.page.hash"),
    ("unknown item field", {"ecommerce.items[1].sku": "x"}, Code.unknown_field, "$.ecommerce.items[1].sku"),
    ("string for int", {"event_seq": "3"}, Code.bad_type, "$.event_seq"),
    ("float for int", {"event_seq": 1.5}, Code.bad_type, "$.event_seq"),
    ("null for required", {"app_id": None}, Code.bad_type, "$.app_id"),
    ("object expected", {"page": "https://x"}, Code.bad_type, "$.page"),
    ("nested property value", {"properties": {"a": {"b": 1}}}, Code.bad_type, "$.properties.a"),
    ("list property value", {"properties": {"ok": 1, "tags": ["a"]}}, Code.bad_type, "$.properties.tags"),
    ("bool for consent", {"consent.analytics": "yes"}, Code.bad_type, "$.consent.analytics"),
    ("empty app_id", {"app_id": ""}, Code.bad_value, "$.app_id"),
    ("long app_id", {"app_id": "a" * 65}, Code.bad_value, "$.app_id"),
    ("long platform", {"platform": "p" * 33}, Code.bad_value, "$.platform"),
    ("long user_id", {"user_id": "u" * 129}, Code.bad_value, "$.user_id"),
    ("long url", {"page.url": "https://x/" + "a" * 2048}, Code.bad_value, "$.page.url"),
    ("negative screen", {"device.screen_w": -1}, Code.bad_value, "$.device.screen_w"),
    ("tz offset too large", {"device.tz_offset_min": 841}, Code.bad_value, "$.device.tz_offset_min"),
    ("negative event_seq", {"event_seq": -1}, Code.bad_value, "$.event_seq"),
    ("huge amount", {"ecommerce.value": 1e16}, Code.bad_value, "$.ecommerce.value"),
    ("long property key", {"properties": {"k" * 65: 1}}, Code.bad_value, "$.properties"),
    ("empty property key", {"properties": {"": 1}}, Code.bad_value, "$.properties"),
    ("long property string", {"properties": {"q": "v" * 1025}}, Code.bad_value, "$.properties.q"),
    ("property int over int64", {"properties": {"n": 2**63}}, Code.bad_value, "$.properties.n"),
    # bad_event_id
    ("event_id not a uuid", {"event_id": "not-a-uuid"}, Code.bad_event_id, "$.event_id"),
    ("event_id without hyphens", {"event_id": "3f6c2a4e8b1d4c5e9f7a2d3b4c5d6e7f"}, Code.bad_event_id, "$.event_id"),
    ("event_id braces", {"event_id": "{3f6c2a4e-8b1d-4c5e-9f7a-2d3b4c5d6e7f}"}, Code.bad_event_id, "$.event_id"),
    ("event_id non-hex", {"event_id": "3f6c2a4e-8b1d-4c5e-9f7a-2d3b4c5d6e7g"}, Code.bad_event_id, "$.event_id"),
    ("anonymous_id not a uuid", {"anonymous_id": "visitor-1"}, Code.bad_event_id, "$.anonymous_id"),
    # bad_event_name
    ("name with space", {"event_name": "Page View"}, Code.bad_event_name, "$.event_name"),
    ("name upper case", {"event_name": "PageView"}, Code.bad_event_name, "$.event_name"),
    ("name starts with digit", {"event_name": "1st_visit"}, Code.bad_event_name, "$.event_name"),
    ("name with hyphen", {"event_name": "page-view"}, Code.bad_event_name, "$.event_name"),
    ("name too long", {"event_name": "a" * 41}, Code.bad_event_name, "$.event_name"),
    ("name empty", {"event_name": ""}, Code.bad_event_name, "$.event_name"),
    ("name trailing newline", {"event_name": "page_view\n"}, Code.bad_event_name, "$.event_name"),
    # bad_timestamp
    ("event_ts not ISO", {"event_ts": "yesterday"}, Code.bad_timestamp, "$.event_ts"),
    ("event_ts without timezone", {"event_ts": "2025-05-01T12:00:00"}, Code.bad_timestamp, "$.event_ts"),
    ("event_ts date only", {"event_ts": "2025-05-01"}, Code.bad_timestamp, "$.event_ts"),
    ("sent_ts not ISO", {"sent_ts": "12:00"}, Code.bad_timestamp, "$.sent_ts"),
    ("sent before event", {"sent_ts": "2025-05-01T11:00:00Z"}, Code.bad_timestamp, "$.sent_ts"),
    # future_timestamp / stale_timestamp
    ("future", {"sent_ts": DELETE, "event_ts": "2025-05-01T13:00:00Z"}, Code.future_timestamp, "$.event_ts"),
    ("stale", {"sent_ts": DELETE, "event_ts": "2025-04-25T12:00:00Z"}, Code.stale_timestamp, "$.event_ts"),
    # bad_schema_version
    ("schema version 2", {"schema_version": 2}, Code.bad_schema_version, "$.schema_version"),
    ("schema version 0", {"schema_version": 0}, Code.bad_schema_version, "$.schema_version"),
    # too_many_properties
    ("51 properties", {"properties": {f"k{i}": i for i in range(51)}}, Code.too_many_properties, "$.properties"),
    # bad_currency
    ("currency lower case", {"ecommerce.currency": "eur"}, Code.bad_currency, "$.ecommerce.currency"),
    ("currency made up", {"ecommerce.currency": "XYZ"}, Code.bad_currency, "$.ecommerce.currency"),
    ("currency symbol", {"ecommerce.currency": "€"}, Code.bad_currency, "$.ecommerce.currency"),
    ("currency name", {"ecommerce.currency": "EURO"}, Code.bad_currency, "$.ecommerce.currency"),
    # missing_currency
    ("value without currency", {"ecommerce.currency": DELETE}, Code.missing_currency, "$.ecommerce.currency"),
    (
        "price without currency",
        {"ecommerce.currency": None, "ecommerce.value": DELETE},
        Code.missing_currency,
        "$.ecommerce.currency",
    ),
    # item_without_id
    ("item missing id", {"ecommerce.items[1].item_id": DELETE}, Code.item_without_id, "$.ecommerce.items[1].item_id"),
    ("item empty id", {"ecommerce.items[0].item_id": ""}, Code.item_without_id, "$.ecommerce.items[0].item_id"),
    ("item null id", {"ecommerce.items[1].item_id": None}, Code.item_without_id, "$.ecommerce.items[1].item_id"),
    # negative_amount
    ("negative price", {"ecommerce.items[1].price": -0.01}, Code.negative_amount, "$.ecommerce.items[1].price"),
    ("negative quantity", {"ecommerce.items[0].quantity": -1}, Code.negative_amount, "$.ecommerce.items[0].quantity"),
    ("negative value", {"ecommerce.value": -64.9}, Code.negative_amount, "$.ecommerce.value"),
    # missing_transaction_id
    (
        "purchase without transaction_id",
        {"ecommerce.transaction_id": DELETE},
        Code.missing_transaction_id,
        "$.ecommerce.transaction_id",
    ),
    ("purchase without ecommerce", {"ecommerce": None}, Code.missing_transaction_id, "$.ecommerce.transaction_id"),
    (
        "refund without transaction_id",
        {"event_name": "refund", "ecommerce.transaction_id": None},
        Code.missing_transaction_id,
        "$.ecommerce.transaction_id",
    ),
    # too_many_items
    (
        "201 items",
        {"ecommerce.items": [{"item_id": str(i)} for i in range(201)]},
        Code.too_many_items,
        "$.ecommerce.items",
    ),
]

RAW_CASES = [
    ("array", b"[1, 2]", Code.not_an_object, "$"),
    ("string", b'"page_view"', Code.not_an_object, "$"),
    ("number", b"42", Code.not_an_object, "$"),
    ("null", b"null", Code.not_an_object, "$"),
    ("truncated", b'{"event_id": ', Code.malformed_json, None),
    ("garbage", b"<html>", Code.malformed_json, None),
    ("empty", b"", Code.malformed_json, None),
    ("invalid utf-8", b'{"app_id": "\xff\xfe"}', Code.malformed_json, None),
    ("NaN", b'{"event_seq": NaN}', Code.malformed_json, None),
    ("too large", b'{"app_id": "' + b"a" * MAX_EVENT_BYTES + b'"}', Code.too_large, "$"),
]


@pytest.mark.parametrize(
    ("edits", "code", "path"), [pytest.param(e, c, p, id=i) for i, e, c, p in FIELD_CASES]
)
def test_each_rule_rejects_with_its_code_and_path(edits: dict[str, Any], code: Code, path: str) -> None:
    # GIVEN the purchase example broken in one way
    event = edit(example(), edits)
    # WHEN it is validated
    result = validate_event(encode(event), received_at=RECEIVED_AT)
    # THEN it is rejected with the code and JSON path of that rule, and names the event
    assert isinstance(result, Rejection), result
    assert (result.code, result.path) == (code, path), result.message
    assert result.event_id == event["event_id"]
    assert result.message


@pytest.mark.parametrize(("raw", "code", "path"), [pytest.param(r, c, p, id=i) for i, r, c, p in RAW_CASES])
def test_events_that_are_not_json_objects(raw: bytes, code: Code, path: str | None) -> None:
    # GIVEN bytes that are not one JSON object WHEN validated THEN the shape code is returned
    result = validate_event(raw, received_at=RECEIVED_AT)
    assert isinstance(result, Rejection)
    assert (result.code, result.path) == (code, path), result.message


def test_every_event_code_has_a_case() -> None:
    # GIVEN the case tables of this file and the batch codes of test_schema_batch.py
    batch_only = {Code.missing_events, Code.empty_batch, Code.too_many_events, Code.body_too_large, Code.too_deep}
    # and the request-level codes the ingest service answers before reading events
    # (tested over HTTP in tests/integration/test_ingest_http.py)
    request_level = {Code.unsupported_media_type, Code.bad_token}
    # and the codes only the clean step gives (tested in tests/unit/test_clean_chunk.py)
    clean_stage = {Code.wrong_partition, Code.synthetic_duplicate, Code.unreadable_object}
    covered = ({c for _, _, c, _ in FIELD_CASES} | {c for _, _, c, _ in RAW_CASES} | batch_only | request_level
               | clean_stage)
    # THEN no code is left without a test
    assert covered == set(Code)


def test_too_deep_inside_an_event_is_rejected_without_raising() -> None:
    # GIVEN an event whose unknown field nests 5000 levels deep
    raw = b'{"event_id": "e-1", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    # WHEN validated THEN the first schema problem is reported (nothing recurses that deep)
    result = validate_event(raw, received_at=RECEIVED_AT)
    assert isinstance(result, Rejection)
    assert result.code in {Code.bad_event_id, Code.unknown_field, Code.too_deep}
    assert result.event_id == "e-1"


# --------------------------------------------------------------------------- messages


def test_message_says_what_is_wrong_and_how_to_fix_it() -> None:
    # GIVEN an event name that is not snake_case WHEN validated
    result = validate_event(encode(edit(example(), {"event_name": "Page View"})), received_at=RECEIVED_AT)
    # THEN the message quotes the value, the rule, and an example of a good value
    assert isinstance(result, Rejection)
    assert result.message == (
        "event_name 'Page View' must match ^[a-z][a-z0-9_]{0,39}$ (lowercase snake_case, e.g. page_view)"
    )


@pytest.mark.parametrize(
    ("edits", "expected_parts"),
    [
        ({"event_id": "abc"}, ["event_id 'abc'", "not a UUID", "8-4-4-4-12"]),
        ({"event_ts": "2025-05-01T12:00:00"}, ["event_ts '2025-05-01T12:00:00'", "timezone", "e.g. 2025-"]),
        ({"ecommerce.currency": "usd"}, ["ecommerce.currency 'usd'", "ISO 4217", "e.g. USD"]),
        ({"ecommerce.items[1].price": -3.5}, ["ecommerce.items[1].price -3.5", "negative"]),
        ({"ecommerce.items[1].item_id": DELETE}, ["ecommerce.items[1].item_id", "required", "SKU"]),
        ({"session_id": DELETE}, ["session_id", "required"]),
        ({"colour": "red"}, ["colour", "not a field", "properties"]),
        ({"event_seq": "3"}, ["event_seq '3'", "must be an integer, not a string"]),
        ({"schema_version": 2}, ["schema_version 2", "send 1"]),
        ({"ecommerce.transaction_id": DELETE}, ["purchase", "transaction_id", "order id"]),
        ({"ecommerce.currency": DELETE}, ["ecommerce.value", "currency", "ISO 4217"]),
        ({"properties": {f"k{i}": i for i in range(51)}}, ["properties", "at most 50"]),
        ({"app_id": "a" * 500}, ["app_id 'aaaa", "(500 characters)", "at most 64 characters"]),
        ({"sent_ts": "2025-05-01T11:00:00Z"}, ["sent_ts", "before event_ts"]),
        ({"sent_ts": DELETE, "event_ts": "2025-04-25T12:00:00Z"}, ["old", "72 h", "sent_ts"]),
        ({"sent_ts": DELETE, "event_ts": "2025-05-01T13:00:00Z"}, ["ahead", "5 min", "clock"]),
    ],
)
def test_messages_name_the_field_and_the_fix(edits: dict[str, Any], expected_parts: list[str]) -> None:
    # GIVEN a broken event WHEN validated THEN the message has the field, the problem and the fix
    result = validate_event(encode(edit(example(), edits)), received_at=RECEIVED_AT)
    assert isinstance(result, Rejection)
    for part in expected_parts:
        assert part in result.message, result.message


def test_long_values_are_cut_in_messages() -> None:
    # GIVEN a 10 KB unknown value WHEN rejected THEN the message stays short
    result = validate_event(encode(edit(example(), {"app_id": "a" * 10_000})), received_at=RECEIVED_AT)
    assert isinstance(result, Rejection)
    assert len(result.message) < 200


def test_hostile_unknown_field_name_cannot_forge_the_path() -> None:
    # GIVEN an unknown field whose name imitates msgspec's "- at `$.x`" suffix
    event = example()
    event["a` - at `$.event_id"] = 1
    result = validate_event(encode(event), received_at=RECEIVED_AT)
    # THEN the path is the real one, quoted
    assert isinstance(result, Rejection)
    assert result.code is Code.unknown_field
    assert result.path == '$["a` - at `$.event_id"]'


# --------------------------------------------------------------------------- event_id, best effort


@pytest.mark.parametrize(
    ("raw", "event_id"),
    [
        (b'{"event_id": "not-a-uuid", "event_name": "x"}', "not-a-uuid"),
        (b'{"event_name": "x", "event_id": "e-2", "junk": [1, {"a": ', "e-2"),
        (b'{"event_id": 12}', None),
        (b'{"event_id": "' + b"x" * 200 + b'"}', None),
        (b"[1]", None),
        (b"\xff", None),
    ],
)
def test_rejection_carries_event_id_when_readable(raw: bytes, event_id: str | None) -> None:
    # GIVEN an invalid event WHEN validated THEN its event_id is reported when it is a short string
    result = validate_event(raw, received_at=RECEIVED_AT)
    assert isinstance(result, Rejection)
    assert result.event_id == event_id


def test_too_large_event_still_reports_its_event_id() -> None:
    # GIVEN an event over 16 KB WHEN validated THEN it is too_large and names the event
    event = edit(example(), {"properties": {f"k{i}": "v" * 1000 for i in range(20)}})
    result = validate_event(encode(event), received_at=RECEIVED_AT)
    assert isinstance(result, Rejection)
    assert result.code is Code.too_large
    assert result.event_id == event["event_id"]


# --------------------------------------------------------------------------- time: skew and window


def test_derived_time_without_sent_ts_is_event_ts() -> None:
    # GIVEN no sent_ts WHEN deriving THEN the client time is used as is
    event_ts = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    assert derived_time(event_ts, None, event_ts + timedelta(hours=5)) == event_ts


def test_derived_time_corrects_the_client_clock() -> None:
    # GIVEN a client clock 2 h behind: the event happened 30 s before sending
    received = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    sent = received - timedelta(hours=2)
    event_ts = sent - timedelta(seconds=30)
    # WHEN deriving THEN the event lands 30 s before the server received it
    assert derived_time(event_ts, sent, received) == received - timedelta(seconds=30)


def test_derived_time_works_across_offsets() -> None:
    # GIVEN timestamps in different zones WHEN deriving THEN the result is the same instant
    received = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    plus2 = timezone(timedelta(hours=2))
    sent = datetime(2025, 5, 1, 14, 0, tzinfo=plus2)  # == received
    event_ts = datetime(2025, 5, 1, 13, 59, tzinfo=plus2)
    assert derived_time(event_ts, sent, received) == received - timedelta(minutes=1)


def at(offset: timedelta, sent_offset: timedelta | None = None) -> Event | Rejection:
    """Validate the page_view example with event_ts (and sent_ts) relative to RECEIVED_AT."""
    edits: dict[str, Any] = {"event_ts": iso(RECEIVED_AT + offset)}
    edits["sent_ts"] = DELETE if sent_offset is None else iso(RECEIVED_AT + sent_offset)
    return validate_event(encode(edit(example("page_view"), edits)), received_at=RECEIVED_AT)


def code_of(result: Event | Rejection) -> Code | None:
    return result.code if isinstance(result, Rejection) else None


TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        pytest.param(FUTURE_LIMIT, None, id="exactly 5 min ahead"),
        pytest.param(FUTURE_LIMIT + TICK, Code.future_timestamp, id="just over 5 min ahead"),
        pytest.param(-LATE_LIMIT, None, id="exactly 72 h old"),
        pytest.param(-LATE_LIMIT - TICK, Code.stale_timestamp, id="just over 72 h old"),
        pytest.param(timedelta(0), None, id="now"),
    ],
)
def test_time_window_edges_without_sent_ts(offset: timedelta, expected: Code | None) -> None:
    # GIVEN an event without sent_ts at the edge of the window WHEN validated THEN the edge is inclusive
    assert code_of(at(offset)) == expected


@pytest.mark.parametrize(
    ("offset", "sent_offset", "expected"),
    [
        pytest.param(timedelta(days=1, seconds=-10), timedelta(days=1), None, id="clock 1 day ahead"),
        pytest.param(-timedelta(days=4), -timedelta(days=4) + timedelta(seconds=2), None, id="clock 4 days behind"),
        pytest.param(-timedelta(days=10) - LATE_LIMIT, -timedelta(days=10), None, id="queued exactly 72 h"),
        pytest.param(
            -timedelta(days=10) - LATE_LIMIT - TICK, -timedelta(days=10), Code.stale_timestamp, id="queued 72 h + 1 us"
        ),
        pytest.param(timedelta(0), -timedelta(seconds=1), None, id="sent 1 s before event: tolerated"),
        pytest.param(timedelta(0), -timedelta(seconds=1) - TICK, Code.bad_timestamp, id="sent over 1 s before event"),
        pytest.param(-timedelta(days=400), timedelta(days=-400, seconds=5), None, id="clock a year behind"),
    ],
)
def test_time_window_uses_skew_corrected_time(
    offset: timedelta, sent_offset: timedelta, expected: Code | None
) -> None:
    # GIVEN client timestamps from a clock that is off WHEN validated
    # THEN only the skew-corrected time (how long the event waited on the client) counts
    assert code_of(at(offset, sent_offset)) == expected


def test_extreme_timestamps_do_not_overflow() -> None:
    # GIVEN year-1 and year-9999 timestamps (the arithmetic could leave datetime's range)
    cases = [
        {"event_ts": "0001-01-01T00:00:00Z", "sent_ts": "9999-12-31T23:59:59Z"},
        {"event_ts": "9999-12-31T23:59:59Z", "sent_ts": "0001-01-01T00:00:00Z"},
        {"event_ts": "9999-12-31T23:59:59Z", "sent_ts": DELETE},
        {"event_ts": "0001-01-01T00:00:00Z", "sent_ts": DELETE},
    ]
    # WHEN validated THEN each is a time rejection, not an exception
    codes = [code_of(validate_event(encode(edit(example(), c)), received_at=RECEIVED_AT)) for c in cases]
    assert codes == [Code.stale_timestamp, Code.bad_timestamp, Code.future_timestamp, Code.stale_timestamp]


# --------------------------------------------------------------------------- validate_record


def record_of(event: dict[str, Any], received_ts: datetime, **extra: Any) -> dict[str, Any]:
    server = {
        "received_ts": iso(received_ts),
        "request_id": "req-42",
        "ip_trunc": "203.0.113.0",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "ua_browser": "Firefox",
        "ua_os": "Linux",
        "ua_device": "desktop",
        "is_bot": False,
        "derived_ts": event["event_ts"],
    }
    return {**event, "claimed_user_id": None, "server": server, **extra}


def test_record_is_valid_against_its_own_received_ts() -> None:
    # GIVEN a raw line written when the event arrived
    line = encode(record_of(example(), RECEIVED_AT))
    # WHEN the ETL validates it a week later without a received_at
    result = validate_record(line)
    # THEN it is accepted: the window is checked against server.received_ts
    assert isinstance(result, RawRecord)
    assert result.server.request_id == "req-42"
    assert result.server.received_ts == RECEIVED_AT


def test_record_window_uses_explicit_received_at_when_given() -> None:
    # GIVEN the same line and an explicit receive time a week later (no sent_ts to correct)
    line = encode(record_of(edit(example(), {"sent_ts": DELETE}), RECEIVED_AT))
    # WHEN validated THEN it is stale
    result = validate_record(line, received_at=RECEIVED_AT + timedelta(days=7))
    assert isinstance(result, Rejection)
    assert result.code is Code.stale_timestamp


@pytest.mark.parametrize(
    ("extra", "code", "path"),
    [
        ({"server": None}, Code.bad_type, "$.server"),
        ({"claimed_user_id": ""}, Code.bad_value, "$.claimed_user_id"),
        ({"event_name": "Bad Name"}, Code.bad_event_name, "$.event_name"),
    ],
)
def test_record_rules_are_the_event_rules(extra: dict[str, Any], code: Code, path: str) -> None:
    # GIVEN a stored line broken in one way WHEN validated THEN the same codes apply
    result = validate_record(encode(record_of(example(), RECEIVED_AT, **extra)))
    assert isinstance(result, Rejection)
    assert (result.code, result.path) == (code, path)


def test_record_without_server_context_is_rejected() -> None:
    # GIVEN a client event stored without the server part WHEN validated as a record
    result = validate_record(encode(example()))
    # THEN server is a missing field
    assert isinstance(result, Rejection)
    assert (result.code, result.path) == (Code.missing_field, "$.server")


def test_record_server_fields_are_checked() -> None:
    # GIVEN a record whose server context has an unknown field and a bad timestamp
    record = record_of(example(), RECEIVED_AT)
    record["server"]["country"] = "DE"
    unknown = validate_record(encode(record))
    del record["server"]["country"]
    record["server"]["received_ts"] = "now"
    bad_ts = validate_record(encode(record))
    # THEN each is reported at its path
    assert isinstance(unknown, Rejection) and (unknown.code, unknown.path) == (Code.unknown_field, "$.server.country")
    assert isinstance(bad_ts, Rejection) and (bad_ts.code, bad_ts.path) == (Code.bad_timestamp, "$.server.received_ts")


def padded_event(size: int) -> dict[str, Any]:
    """The purchase example grown with properties to exactly `size` bytes of JSON."""
    event = example()
    event["properties"] = {}
    index = 0
    while len(encode(event)) < size - 1100:
        event["properties"][f"p{index}"] = "x" * 1000
        index += 1
    event["properties"]["last"] = "y" * (size - len(encode(event)) - len(', "last": ""'))
    assert len(encode(event)) == size
    return event


def test_event_size_limit_is_inclusive() -> None:
    # GIVEN events of exactly 16 KB and one byte more
    at_limit = encode(padded_event(MAX_EVENT_BYTES))
    over = encode(padded_event(MAX_EVENT_BYTES + 1))
    # WHEN validated THEN the first is accepted and the second is too_large
    assert isinstance(validate_event(at_limit, received_at=RECEIVED_AT), Event)
    result = validate_event(over, received_at=RECEIVED_AT)
    assert isinstance(result, Rejection) and result.code is Code.too_large


def test_record_size_limit_leaves_room_for_the_server_context() -> None:
    # GIVEN a 16 KB event stored with its server context
    line = encode(record_of(padded_event(MAX_EVENT_BYTES), RECEIVED_AT))
    assert MAX_EVENT_BYTES < len(line) <= MAX_RECORD_BYTES
    # WHEN validated as a record THEN it is accepted; past MAX_RECORD_BYTES it is too_large
    assert isinstance(validate_record(line), RawRecord)
    too_big = validate_record(line + b" " * (MAX_RECORD_BYTES - len(line) + 1))
    assert isinstance(too_big, Rejection) and too_big.code is Code.too_large
