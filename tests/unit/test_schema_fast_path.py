"""validate_event and validate_record decode valid input with pattern-free types and check the
three patterns themselves: they must answer exactly as the exact decoders do, for any input."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickstream.schema import (
    MAX_EVENT_BYTES,
    MAX_RECORD_BYTES,
    Event,
    RawRecord,
    Rejection,
    validate_event,
    validate_record,
)
from clickstream.schema import validate as v
from tests.support import EXAMPLES, RECEIVED_AT
from tests.unit.test_schema_fuzz import json_values, mutated_events

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UUID = "3f6c2a4e-8b1d-4c5e-9f7a-2d3b4c5d6e7f"
SERVER = {
    "received_ts": "2025-05-01T12:00:00.000Z",
    "request_id": "req-1",
    "is_bot": False,
    "derived_ts": "2025-05-01T12:00:00.000Z",
}


def exact_event(raw: bytes, received_at: datetime) -> Event | Rejection:
    """The slow path alone: the decoder with every pattern, then the cross-field rules."""
    event = v._decode(raw, v._EVENT_DECODER, MAX_EVENT_BYTES, "event")
    return event if type(event) is Rejection else v._check_rules(event, received_at)


def exact_record(raw: bytes) -> RawRecord | Rejection:
    record = v._decode(raw, v._RECORD_DECODER, MAX_RECORD_BYTES, "record")
    return record if type(record) is Rejection else v._check_rules(record, record.server.received_ts)


def assert_same(fast: Any, exact: Any) -> None:
    assert type(fast) is type(exact), (fast, exact)  # an Event is an Event, not a subclass
    assert fast == exact


# Values around the three patterns: near-UUIDs and near-names.
pattern_values = st.sampled_from(
    [
        UUID,
        UUID.upper(),
        UUID[:-1] + "g",
        UUID[:-1] + "\n",
        UUID.replace("-", "_"),
        UUID + "\n",
        " " + UUID[1:],
        UUID[:8] + UUID[9:] + "0",
        "page_view",
        "Page_view",
        "page-view",
        "_page",
        "a",
        "a" * 40,
        "a" * 41,
        "page_view\n",
        "page\x00view",
        "9lives",
        "",
        "é",
    ]
)


@st.composite
def pattern_mutations(draw: st.DrawFn) -> dict[str, Any]:
    event = copy.deepcopy(draw(st.sampled_from(EXAMPLES["events"])))
    for key in draw(st.sets(st.sampled_from(["event_id", "anonymous_id", "event_name"]), min_size=1)):
        event[key] = draw(pattern_values)
    return event


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern_mutations() | mutated_events() | json_values)
def test_validate_event_answers_as_the_exact_decoder(value: Any) -> None:
    # GIVEN any JSON, an example event with one part changed, or with near-valid ids and names
    raw = json.dumps(value).encode()
    # WHEN validated THEN the event or the rejection (code, message, path, id) is the exact path's
    assert_same(validate_event(raw, received_at=RECEIVED_AT), exact_event(raw, RECEIVED_AT))


@FUZZ
@given(pattern_mutations() | mutated_events())
def test_validate_record_answers_as_the_exact_decoder(event: Any) -> None:
    # GIVEN a stored line built from such an event
    raw = json.dumps({**event, "server": SERVER} if isinstance(event, dict) else event).encode()
    # WHEN validated as a record THEN the answer is the exact path's
    assert_same(validate_record(raw), exact_record(raw))


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_answer_as_the_exact_decoder(raw: bytes) -> None:
    assert_same(validate_event(raw, received_at=RECEIVED_AT), exact_event(raw, RECEIVED_AT))


@pytest.mark.parametrize("name", [e["event_name"] for e in EXAMPLES["events"]])
def test_accepted_values_are_the_public_types(name: str) -> None:
    # GIVEN an example event WHEN validated as an event and as a stored record
    event = next(e for e in EXAMPLES["events"] if e["event_name"] == name)
    result = validate_event(json.dumps(event).encode(), received_at=RECEIVED_AT)
    record = validate_record(json.dumps({**event, "server": SERVER}).encode(), received_at=RECEIVED_AT)
    # THEN they are exactly Event and RawRecord, equal to what msgspec decodes with those types
    assert type(result) is Event and result == msgspec.json.decode(json.dumps(event), type=Event)
    assert type(record) is RawRecord
    assert msgspec.json.encode(record) == msgspec.json.encode(
        msgspec.json.decode(json.dumps({**event, "server": SERVER}), type=RawRecord)
    )
