"""Builders shared by the clean-step tests: raw lines as the ingest server writes them,
raw objects, and reading the step's Parquet and quarantine output back.

(A test module so that it sits in the clean tests' own files; its few tests check the
builders themselves.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from clickstream.etl.clean import CleanedChunk, clean_objects
from clickstream.ingest.service import iso_ms
from clickstream.ingest.sink import gunzip_lines, gzip_lines
from clickstream.layout import Hour, raw_key
from clickstream.schema import derived_time, validate_record
from tests.support import make_event

HOUR = Hour.parse("2025-05-01T12")
IN_HOUR = HOUR.start + timedelta(minutes=20)
RUN_ID = "run-test"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def server_context(event: dict[str, Any], received_at: datetime, *, request_id: str = "req-1",
                   derived_ts: datetime | None = None, **overrides: Any) -> dict[str, Any]:
    """What the ingest server adds: the same fields and formats as `IngestService`."""
    if derived_ts is None:
        sent = ts(event["sent_ts"]) if event.get("sent_ts") else None
        derived_ts = derived_time(ts(event["event_ts"]), sent, received_at)
    server = {
        "received_ts": iso_ms(received_at),
        "request_id": request_id,
        "ip_trunc": "203.0.113.0",
        "user_agent": "Mozilla/5.0 (Macintosh) Chrome/120.0",
        "ua_browser": "Chrome",
        "ua_os": "Mac OS X",
        "ua_device": "desktop",
        "is_bot": False,
        "derived_ts": iso_ms(derived_ts),
    }
    server.update(overrides)
    return server


def raw_line(event: dict[str, Any], received_at: datetime = IN_HOUR, **server: Any) -> bytes:
    """One line of S3 raw for `event` received at `received_at`."""
    record = dict(event)
    record["server"] = server_context(event, received_at, **server)
    return json.dumps(record, separators=(",", ":")).encode()


def event_at(at: datetime, name: str = "page_view", **fields: Any) -> dict[str, Any]:
    """A valid event that happened at `at` and was sent a second later."""
    return make_event(name, at=at, **fields)


def objects_of(*groups: list[bytes], hour: Hour = HOUR) -> list[tuple[str, bytes]]:
    """Raw objects (key, gzip bytes), one per group of lines, keyed like the ingest sink does."""
    return [(raw_key(hour, f"req-{i:04d}"), gzip_lines(lines)) for i, lines in enumerate(groups)]


def clean(*groups: list[bytes], hour: Hour = HOUR) -> CleanedChunk:
    return clean_objects(hour, RUN_ID, objects_of(*groups, hour=hour))


def table(buffer: pa.Buffer) -> pa.Table:
    return pq.read_table(pa.BufferReader(buffer))


def rows(buffer: pa.Buffer) -> list[dict[str, Any]]:
    return table(buffer).to_pylist()


def quarantine(chunk: CleanedChunk) -> list[dict[str, Any]]:
    return [json.loads(line) for line in chunk.quarantine_lines]


def read_quarantine_object(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gunzip_lines(data)]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- the builders' own checks


def test_raw_line_is_a_valid_raw_record_in_the_hour() -> None:
    line = raw_line(event_at(IN_HOUR - timedelta(seconds=3)))
    record = validate_record(line)
    assert not hasattr(record, "code"), record
    assert HOUR.start <= record.server.received_ts < HOUR.end  # type: ignore[union-attr]


def test_server_context_derives_time_like_the_ingest_server() -> None:
    event = event_at(IN_HOUR - timedelta(minutes=1))
    # The client clock is 1 s behind sending, so derived = event_ts + (received - sent).
    server = server_context(event, IN_HOUR)
    expected = ts(event["event_ts"]) + (IN_HOUR - ts(event["sent_ts"]))
    assert ts(server["derived_ts"]) == expected.replace(microsecond=expected.microsecond // 1000 * 1000)
