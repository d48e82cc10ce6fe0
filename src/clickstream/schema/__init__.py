"""Event schema version 1: the contract between the SDK, the ingest API and the ETL.

`event` defines the shapes, `validate` checks bodies, events and stored records,
`codes` names every reason for a rejection, and `jsonschema` publishes the contract as
JSON Schema for other languages and for the docs.
"""

from clickstream.schema.codes import DESCRIPTIONS, BatchRejected, Code, Rejection
from clickstream.schema.event import (
    CURRENCIES,
    FUTURE_LIMIT,
    LATE_LIMIT,
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_BATCH,
    MAX_RECORD_BYTES,
    SCHEMA_VERSION,
    STANDARD_EVENT_NAMES,
    Campaign,
    Consent,
    Device,
    Ecommerce,
    Event,
    Item,
    Page,
    RawRecord,
    Sdk,
    ServerContext,
)
from clickstream.schema.validate import derived_time, parse_batch, validate_event, validate_record

__all__ = [
    "CURRENCIES",
    "DESCRIPTIONS",
    "FUTURE_LIMIT",
    "LATE_LIMIT",
    "MAX_BODY_BYTES",
    "MAX_EVENTS_PER_BATCH",
    "MAX_EVENT_BYTES",
    "MAX_RECORD_BYTES",
    "SCHEMA_VERSION",
    "STANDARD_EVENT_NAMES",
    "BatchRejected",
    "Campaign",
    "Code",
    "Consent",
    "Device",
    "Ecommerce",
    "Event",
    "Item",
    "Page",
    "RawRecord",
    "Rejection",
    "Sdk",
    "ServerContext",
    "derived_time",
    "parse_batch",
    "validate_event",
    "validate_record",
]
