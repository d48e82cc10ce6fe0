"""The bodies the ingest API answers with. The OpenAPI document is generated from these types."""

from __future__ import annotations

import msgspec


class RejectedEvent(msgspec.Struct, kw_only=True):
    index: int
    """Position of the event in the batch, from 0."""
    event_id: str | None
    """The event's event_id when it could be read, else null."""
    code: str
    """Machine-readable reason, e.g. bad_event_name; the list is in the README."""
    message: str
    """What is wrong and how to fix it."""


class IngestResult(msgspec.Struct, kw_only=True):
    request_id: str
    accepted: int
    """How many events were durably stored."""
    rejected: list[RejectedEvent]
    """The events that were not accepted; they are kept in quarantine and must not be re-sent as they are."""


class ErrorBody(msgspec.Struct, kw_only=True):
    code: str
    """Machine-readable reason, e.g. malformed_json, too_large, bad_token, throttled."""
    message: str
    """What happened and what to do."""
    request_id: str | None = None


class Health(msgspec.Struct, kw_only=True):
    status: str
    service: str
    version: str
    schema_version: int


encode = msgspec.json.Encoder().encode
