"""Small helpers shared by the tests: free ports, event factories, reading what landed in S3."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clickstream.ingest.sink import gunzip_lines

# One realistic visit: an example of every standard event name, valid at RECEIVED_AT.
EVENTS_FILE = Path(__file__).resolve().parent / "events" / "valid_events.json"
EXAMPLES: dict[str, Any] = json.loads(EVENTS_FILE.read_text())
RECEIVED_AT = datetime.fromisoformat(EXAMPLES["received_at"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(event_name: str = "page_view", *, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A valid schema-v1 event as the SDK sends it; keyword arguments override or add fields."""
    at = at or datetime.now(UTC) - timedelta(seconds=5)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_name": event_name,
        "event_ts": iso(at),
        "sent_ts": iso(at + timedelta(seconds=1)),
        "app_id": "demo-shop",
        "platform": "web",
        "sdk": {"name": "clickstream-web", "version": "0.1.0"},
        "schema_version": 1,
        "anonymous_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "event_seq": 1,
        "page": {"url": "https://shop.example/products/42", "path": "/products/42", "title": "Blue mug",
                 "referrer": "https://www.google.com/", "page_view_id": str(uuid.uuid4())},
    }
    event.update(fields)
    return event


def read_lines(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in gunzip_lines(body)]


def keys_for_request(s3: Any, bucket: str, request_id: str) -> list[str]:
    """Every object a request wrote to a bucket (its name is the request id; a quarantine
    object's name is followed by its counts, `~<code>=<n>...`)."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])
                 if o["Key"].endswith(".jsonl.gz") and _object_name(o["Key"]) == request_id]
    return keys


def _object_name(key: str) -> str:
    return key.rsplit("/", 1)[-1].removesuffix(".jsonl.gz").split("~", 1)[0]
