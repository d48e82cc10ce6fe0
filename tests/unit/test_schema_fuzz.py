"""Property tests: whatever a client sends, validation answers with a result, never an
exception (an exception in the ingest Lambda would be a 5xx)."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickstream.schema import (
    BatchRejected,
    Code,
    Event,
    RawRecord,
    Rejection,
    parse_batch,
    validate_event,
    validate_record,
)
from tests.support import EXAMPLES, RECEIVED_AT

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "USD", "page_view", "2025-05-01T12:00:00Z", "3f6c2a4e-8b1d-4c5e-9f7a-2d3b4c5d6e7f"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def assert_is_result(result: object, expected_type: type = Event) -> None:
    if isinstance(result, Rejection):
        assert isinstance(result.code, Code)
        assert isinstance(result.message, str) and result.message
        assert result.path is None or result.path.startswith("$")
        assert result.event_id is None or isinstance(result.event_id, str)
        # The catch-all of the message builder means a case the tables do not explain.
        assert not result.message.startswith("the event is invalid:"), result.message
    else:
        assert isinstance(result, expected_type)


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (tuple of keys and indices) into a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths_of(value, (*prefix, index))
    return found


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """An example event with one value replaced, one key removed, or one key added."""
    event = copy.deepcopy(draw(st.sampled_from(EXAMPLES["events"])))
    path = draw(st.sampled_from(paths_of(event)))
    parent: Any = event
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(json_values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=12))] = draw(json_values)
    return event


@FUZZ
@given(st.binary(max_size=4096))
def test_validate_event_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    # GIVEN any bytes WHEN validated THEN the answer is an Event or a well-formed Rejection
    assert_is_result(validate_event(raw, received_at=RECEIVED_AT))


@FUZZ
@given(json_values)
def test_validate_event_never_raises_on_arbitrary_json(value: Any) -> None:
    # GIVEN any JSON value WHEN validated THEN the answer is a result, not an exception
    assert_is_result(validate_event(json.dumps(value).encode(), received_at=RECEIVED_AT))


@FUZZ
@given(mutated_events())
def test_validate_event_never_raises_on_almost_valid_events(event: dict[str, Any]) -> None:
    # GIVEN a valid event with one part changed (this reaches every error-message path)
    result = validate_event(json.dumps(event).encode(), received_at=RECEIVED_AT)
    # THEN the answer is a result, and a rejection names the event when its id is intact
    assert_is_result(result)
    if isinstance(result, Rejection) and isinstance(event.get("event_id"), str):
        assert result.event_id == event["event_id"]


@FUZZ
@given(st.binary(max_size=4096))
def test_validate_record_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    # GIVEN any bytes WHEN validated as a stored record THEN the answer is a result
    assert_is_result(validate_record(raw), RawRecord)


@FUZZ
@given(st.binary(max_size=4096) | json_values.map(lambda v: json.dumps({"events": v}).encode()))
def test_parse_batch_raises_only_batch_rejected(body: bytes) -> None:
    # GIVEN any body WHEN parsed THEN it is a list of raw events or a BatchRejected
    try:
        raws = parse_batch(body)
    except BatchRejected as rejected:
        assert isinstance(rejected.code, Code) and rejected.message
    else:
        assert 1 <= len(raws) <= 500
        assert all(isinstance(raw, msgspec.Raw) for raw in raws)


@FUZZ
@given(st.lists(json_values | mutated_events(), min_size=1, max_size=8))
def test_batch_then_events_never_raise(events: list[Any]) -> None:
    # GIVEN a well-formed batch of arbitrary events WHEN parsed and validated one by one
    raws = parse_batch(json.dumps({"events": events}).encode())
    # THEN there is one result per event, in order
    results = [validate_event(raw, received_at=RECEIVED_AT) for raw in raws]
    assert len(results) == len(events)
    for result in results:
        assert_is_result(result)
