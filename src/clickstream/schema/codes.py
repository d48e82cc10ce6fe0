"""Rejection codes: the machine-readable reasons an event or a batch is refused.

Codes are API. The ingest endpoint returns them to clients, quarantine records keep them,
and the pipeline-health page counts them, so a code is never renamed or reused with a new
meaning; new rules get new codes. `DESCRIPTIONS` holds the one-line text the docs show.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from clickstream.errors import ClickstreamError


class Code(enum.StrEnum):
    """Why an event (or a whole batch) was rejected."""

    # Whole body / whole event shape.
    malformed_json = "malformed_json"
    not_an_object = "not_an_object"
    too_deep = "too_deep"
    body_too_large = "body_too_large"
    too_large = "too_large"
    missing_events = "missing_events"
    empty_batch = "empty_batch"
    too_many_events = "too_many_events"
    # The request as a whole (answered by the ingest API before any event is read).
    unsupported_media_type = "unsupported_media_type"
    bad_token = "bad_token"
    # Fields in general.
    missing_field = "missing_field"
    unknown_field = "unknown_field"
    bad_type = "bad_type"
    bad_value = "bad_value"
    # Field-specific rules.
    bad_event_id = "bad_event_id"
    bad_event_name = "bad_event_name"
    bad_timestamp = "bad_timestamp"
    future_timestamp = "future_timestamp"
    stale_timestamp = "stale_timestamp"
    bad_schema_version = "bad_schema_version"
    too_many_properties = "too_many_properties"
    # E-commerce rules.
    bad_currency = "bad_currency"
    missing_currency = "missing_currency"
    item_without_id = "item_without_id"
    negative_amount = "negative_amount"
    missing_transaction_id = "missing_transaction_id"
    too_many_items = "too_many_items"
    # The ETL's clean step (a stored raw record that cannot go to the processed layer).
    wrong_partition = "wrong_partition"
    synthetic_duplicate = "synthetic_duplicate"
    unreadable_object = "unreadable_object"


DESCRIPTIONS: dict[Code, str] = {
    Code.malformed_json: "The body or the event is not valid UTF-8 JSON.",
    Code.not_an_object: "The body or the event is valid JSON but not a JSON object.",
    Code.too_deep: "The body nests arrays or objects deeper than any valid batch can.",
    Code.body_too_large: "The request body is larger than 256 KB; send fewer events per request.",
    Code.too_large: "One event is larger than 16 KB once serialised.",
    Code.missing_events: 'The body has no "events" array.',
    Code.empty_batch: 'The "events" array is empty.',
    Code.too_many_events: "The batch holds more than 500 events.",
    Code.unsupported_media_type: "The Content-Type is neither application/json nor text/plain.",
    Code.bad_token: "The Authorization bearer token failed verification; the events are kept in quarantine.",
    Code.missing_field: "A required field is missing.",
    Code.unknown_field: "A field is not part of schema version 1 (custom data belongs in properties).",
    Code.bad_type: "A field has the wrong JSON type (for example a number where a string is expected).",
    Code.bad_value: "A field breaks a constraint: length, range or format.",
    Code.bad_event_id: "event_id or anonymous_id is not a UUID (8-4-4-4-12 hexadecimal digits).",
    Code.bad_event_name: "event_name does not match ^[a-z][a-z0-9_]{0,39}$ (lowercase snake_case).",
    Code.bad_timestamp: "A timestamp is not ISO-8601 with a timezone, or sent_ts is before event_ts.",
    Code.future_timestamp: "The event time (corrected for client clock skew) is more than 5 minutes ahead of the server.",
    Code.stale_timestamp: "The event time (corrected for client clock skew) is more than 72 hours old.",
    Code.bad_schema_version: "schema_version is not 1.",
    Code.too_many_properties: "properties holds more than 50 keys.",
    Code.bad_currency: "ecommerce.currency is not an ISO 4217 code (three upper-case letters, e.g. USD).",
    Code.missing_currency: "ecommerce.value or an item price is given without ecommerce.currency.",
    Code.item_without_id: "An ecommerce item has no item_id, or an empty one.",
    Code.negative_amount: "A price, quantity or value is negative.",
    Code.missing_transaction_id: "A purchase or refund event has no ecommerce.transaction_id.",
    Code.too_many_items: "ecommerce.items holds more than 200 items.",
    Code.wrong_partition: "A raw record's server.received_ts is outside the hour of the raw partition it was stored in.",
    Code.synthetic_duplicate: "Another event with the same event_id but a different payload was received earlier; that one is kept.",
    Code.unreadable_object: "A raw object could not be read as gzip JSON lines; the object stays in raw, named in the record.",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused event: the code, a message saying what is wrong and how to fix it,
    the JSON path of the offending value (when one can be named), and the event's
    event_id when it could be read (best effort, even for invalid events)."""

    code: Code
    message: str
    path: str | None = None
    event_id: str | None = None


class BatchRejected(ClickstreamError):
    """The whole request body is refused (nothing in it can be processed one by one)."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"BatchRejected(code={self.code.value!r}, message={self.message!r})"
