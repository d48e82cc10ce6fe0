"""Rejection codes are API: every code is described, stable in spelling, and carried by
the two result types (Rejection for one event, BatchRejected for a whole body)."""

from __future__ import annotations

import dataclasses

import pytest

from clickstream.errors import ClickstreamError
from clickstream.schema import DESCRIPTIONS, BatchRejected, Code, Rejection

# The codes the ingest API documents; a rename breaks clients and dashboards.
DOCUMENTED_CODES = {
    "malformed_json",
    "not_an_object",
    "missing_field",
    "unknown_field",
    "bad_type",
    "bad_value",
    "bad_event_id",
    "bad_event_name",
    "bad_timestamp",
    "future_timestamp",
    "stale_timestamp",
    "bad_schema_version",
    "bad_currency",
    "missing_currency",
    "item_without_id",
    "negative_amount",
    "missing_transaction_id",
    "too_large",
    "too_many_items",
    "too_many_properties",
    "too_many_events",
    "empty_batch",
    "missing_events",
}


def test_every_documented_code_exists_with_its_exact_spelling() -> None:
    # GIVEN the codes clients were promised
    # WHEN they are looked up by value
    # THEN each one exists and its value is its name
    for value in DOCUMENTED_CODES:
        assert Code(value).value == value
        assert Code(value).name == value


@pytest.mark.parametrize("code", list(Code))
def test_every_code_has_a_one_line_description(code: Code) -> None:
    # GIVEN any code WHEN its description is read THEN it is one non-empty sentence
    description = DESCRIPTIONS[code]
    assert description.strip() == description
    assert "\n" not in description
    assert description.endswith(".")
    assert len(description) > 10


def test_descriptions_cover_exactly_the_codes() -> None:
    # GIVEN the description table THEN it has no entry for a code that does not exist
    assert set(DESCRIPTIONS) == set(Code)


def test_code_is_a_string_for_json_and_logs() -> None:
    # GIVEN a code WHEN it is formatted or compared THEN it behaves as its string value
    assert f"{Code.bad_event_name}" == "bad_event_name"
    assert Code.bad_event_name == "bad_event_name"


def test_rejection_is_frozen_and_defaults_path_and_event_id_to_none() -> None:
    # GIVEN a rejection made with only code and message
    rejection = Rejection(Code.bad_value, "app_id must not be empty")
    # THEN path and event_id default to None and it cannot be changed
    assert rejection.path is None
    assert rejection.event_id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        rejection.code = Code.bad_type  # type: ignore[misc]


def test_batch_rejected_carries_code_and_message() -> None:
    # GIVEN a batch-level rejection WHEN it is raised and caught
    with pytest.raises(BatchRejected) as caught:
        raise BatchRejected(Code.empty_batch, '"events" is empty')
    # THEN code and message are attributes, and it is one of the package's own errors
    assert caught.value.code is Code.empty_batch
    assert caught.value.message == '"events" is empty'
    assert str(caught.value) == '"events" is empty'
    assert isinstance(caught.value, ClickstreamError)
