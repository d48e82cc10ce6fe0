"""The committed JSON Schema files: generated from the Structs (drift fails the build),
valid draft 2020-12, and in agreement with the validator on real examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from clickstream.schema import Event, validate_event
from clickstream.schema.jsonschema import (
    EVENT_SCHEMA_FILE,
    RECORD_SCHEMA_FILE,
    event_json_schema,
    generated_files,
    main,
    record_json_schema,
    render,
)
from tests.support import EXAMPLES, RECEIVED_AT


def event_validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(EVENT_SCHEMA_FILE.read_text()))


@pytest.mark.parametrize("path", [EVENT_SCHEMA_FILE, RECORD_SCHEMA_FILE], ids=lambda p: p.name)
def test_committed_schema_matches_the_structs(path: Path) -> None:
    # GIVEN the committed file WHEN the schema is generated again from the Structs
    expected = generated_files()[path]
    # THEN they are identical (if not: python -m clickstream.schema.jsonschema, and review the diff)
    assert path.read_text(encoding="utf-8") == expected


def test_check_mode_reports_no_drift() -> None:
    # GIVEN the committed files WHEN the generator runs in check mode THEN it exits 0
    assert main(["--check"]) == 0


def test_rendering_is_pretty_sorted_and_ends_with_a_newline() -> None:
    # GIVEN the rendered text THEN it is indented, key-sorted, and newline-terminated
    text = render(event_json_schema())
    assert text.endswith("}\n")
    assert text.startswith('{\n  "$defs"')
    assert json.loads(text) == json.loads(json.dumps(event_json_schema(), sort_keys=True))


@pytest.mark.parametrize("schema", [event_json_schema(), record_json_schema()], ids=["event", "record"])
def test_schemas_are_valid_draft_2020_12_with_id_title_and_rules(schema: dict[str, Any]) -> None:
    # GIVEN a generated schema THEN the meta-schema accepts it and it says what it is
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:clickstream-analytics:schema:")
    assert "schema version 1" in schema["title"]
    # AND the rules JSON Schema cannot express are written down
    for words in ("16384 bytes", "72 hours", "5 minutes", "transaction_id", "currency", "sent_ts"):
        assert words in schema["description"]


def test_struct_docstrings_become_descriptions() -> None:
    # GIVEN the event schema THEN each definition is described
    defs = event_json_schema()["$defs"]
    assert all(definition.get("description") for definition in defs.values())
    assert defs["Event"]["properties"]["event_id"]["description"]


@pytest.mark.parametrize("event", EXAMPLES["events"], ids=lambda e: e["event_name"])
def test_json_schema_accepts_every_example_event(event: dict[str, Any]) -> None:
    # GIVEN a valid example event WHEN checked against the JSON Schema THEN there are no errors
    assert list(event_validator().iter_errors(event)) == []


@pytest.mark.parametrize(
    ("change", "keyword"),
    [
        ({"event_name": "Page View"}, "pattern"),
        ({"event_id": "nope"}, "minLength"),
        ({"schema_version": 2}, "enum"),
        ({"colour": "red"}, "additionalProperties"),
        ({"event_seq": -1}, "minimum"),
        ({"properties": {"k": [1]}}, "anyOf"),
    ],
)
def test_json_schema_rejects_invalid_events(change: dict[str, Any], keyword: str) -> None:
    # GIVEN an example event broken in one way
    event = {**copy.deepcopy(EXAMPLES["events"][0]), **change}
    # WHEN checked against the JSON Schema THEN it is invalid for the expected reason
    errors = list(event_validator().iter_errors(event))
    assert errors
    assert keyword in {error.validator for error in errors} | {
        sub.validator for error in errors for sub in error.context or []
    }


def test_json_schema_rejects_missing_required_field_and_bad_currency() -> None:
    # GIVEN a purchase without event_id and with a made-up currency
    purchase = next(copy.deepcopy(e) for e in EXAMPLES["events"] if e["event_name"] == "purchase")
    del purchase["event_id"]
    purchase["ecommerce"]["currency"] = "XYZ"
    # WHEN checked THEN both problems are reported
    messages = " ".join(error.message for error in event_validator().iter_errors(purchase))
    assert "'event_id' is a required property" in messages
    assert "XYZ" in messages


def test_record_schema_accepts_a_stored_line() -> None:
    # GIVEN an example event stored with a server context
    record = {
        **EXAMPLES["events"][0],
        "claimed_user_id": None,
        "server": {
            "received_ts": EXAMPLES["received_at"],
            "request_id": "req-1",
            "is_bot": False,
            "ua_device": "desktop",
            "derived_ts": EXAMPLES["events"][0]["event_ts"],
        },
    }
    validator = Draft202012Validator(json.loads(RECORD_SCHEMA_FILE.read_text()))
    # WHEN checked THEN it is valid, and without the server context it is not
    assert list(validator.iter_errors(record)) == []
    del record["server"]
    assert not validator.is_valid(record)


replacements = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLES["events"]), st.data())
def test_schema_never_rejects_what_the_validator_accepts(event: dict[str, Any], data: st.DataObject) -> None:
    # GIVEN an example event with one top-level or nested value replaced at random
    event = copy.deepcopy(event)
    parent = event
    if data.draw(st.booleans()):
        nested = [key for key, value in event.items() if isinstance(value, dict) and value]
        if nested:
            parent = event[data.draw(st.sampled_from(nested))]
    parent[data.draw(st.sampled_from(sorted(parent)))] = data.draw(replacements)
    # WHEN the validator accepts it
    accepted = isinstance(validate_event(json.dumps(event).encode(), received_at=RECEIVED_AT), Event)
    # THEN the published JSON Schema accepts it too (it is the looser of the two, never stricter)
    if accepted:
        assert list(event_validator().iter_errors(event)) == []
