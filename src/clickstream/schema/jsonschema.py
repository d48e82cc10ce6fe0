"""Publishes the event contract as JSON Schema (draft 2020-12) for the docs, the OpenAPI
document and clients in other languages.

The schemas are generated from the msgspec Structs in `event.py`, so they cannot disagree
with the validator about fields, types and per-field constraints. Rules that need more
than one field, or the server's clock, are not JSON Schema material; they are spelled out
in the descriptions instead. `python -m clickstream.schema.jsonschema` rewrites the
committed files next to this module; `--check` only reports drift (a unit test does the
same, so a schema change is always visible in review).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from clickstream.schema.event import (
    FUTURE_LIMIT,
    LATE_LIMIT,
    MAX_EVENT_BYTES,
    MAX_RECORD_BYTES,
    SCHEMA_VERSION,
    SENT_TS_TOLERANCE,
    STANDARD_EVENT_NAMES,
    TRANSACTION_EVENT_NAMES,
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

SCHEMA_DIR = Path(__file__).resolve().parent
EVENT_SCHEMA_FILE = SCHEMA_DIR / "event.v1.schema.json"
RECORD_SCHEMA_FILE = SCHEMA_DIR / "record.v1.schema.json"

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_STRUCTS = (Event, RawRecord, Sdk, Page, Campaign, Device, Consent, Ecommerce, Item, ServerContext)


def _hours(limit: Any) -> str:
    return f"{limit.total_seconds() / 3600:g} hours"


def _minutes(limit: Any) -> str:
    return f"{limit.total_seconds() / 60:g} minutes"


# The rules the validator applies beyond this schema (see validate.py), in words.
_EXTRA_RULES = (
    f"An event is at most {MAX_EVENT_BYTES} bytes of JSON (rejection code too_large).",
    "The event time, corrected for client clock skew (event_ts + server receive time - sent_ts, "
    f"or event_ts without sent_ts), must be at most {_minutes(FUTURE_LIMIT)} ahead of the server's "
    f"receive time (future_timestamp) and at most {_hours(LATE_LIMIT)} behind it (stale_timestamp).",
    f"sent_ts must not be more than {SENT_TS_TOLERANCE.total_seconds():g} s before event_ts (bad_timestamp).",
    f"Events named {' or '.join(sorted(TRANSACTION_EVENT_NAMES))} need ecommerce.transaction_id "
    "(missing_transaction_id).",
    "ecommerce.currency is required when ecommerce.value or any item price is given (missing_currency).",
)


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of one event as a client sends it (an element of {"events": [...]})."""
    return _schema(
        Event,
        schema_id=f"urn:clickstream-analytics:schema:event:v{SCHEMA_VERSION}",
        title=f"Clickstream event, schema version {SCHEMA_VERSION}",
        summary=(
            'One element of the "events" array a client POSTs to /v1/events. Event names follow '
            f"GA4's recommended vocabulary ({', '.join(sorted(STANDARD_EVENT_NAMES))}); custom "
            "snake_case names are accepted too."
        ),
    )


def record_json_schema() -> dict[str, Any]:
    """JSON Schema of one line of S3 raw: the event plus the server context."""
    return _schema(
        RawRecord,
        schema_id=f"urn:clickstream-analytics:schema:record:v{SCHEMA_VERSION}",
        title=f"Clickstream raw record, schema version {SCHEMA_VERSION}",
        summary=(
            "One JSON line the ingest server writes to S3 raw (gzip JSON lines) and the ETL reads "
            f"back: an accepted event, the user_id it claimed without a valid token, and the server "
            f"context. A record is at most {MAX_RECORD_BYTES} bytes; the time window is checked against "
            "server.received_ts."
        ),
    )


def _schema(root: type[msgspec.Struct], *, schema_id: str, title: str, summary: str) -> dict[str, Any]:
    schema = msgspec.json.schema(root)
    # msgspec titles each definition but leaves the class docstrings out; they are the
    # most useful text for a reader of the schema, so they become descriptions.
    docs = {cls.__name__: inspect.cleandoc(cls.__doc__ or "") for cls in _STRUCTS}
    for name, definition in schema.get("$defs", {}).items():
        if docs.get(name):
            definition["description"] = docs[name]
    rules = " ".join(f"({n}) {rule}" for n, rule in enumerate(_EXTRA_RULES, start=1))
    return {
        "$schema": _DIALECT,
        "$id": schema_id,
        "title": title,
        "description": f"{summary} Beyond this schema the validator also enforces: {rules}",
        **schema,
    }


def render(schema: dict[str, Any]) -> str:
    """The committed text of a schema: pretty, sorted keys, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every schema file this module owns, with its expected content."""
    return {
        EVENT_SCHEMA_FILE: render(event_json_schema()),
        RECORD_SCHEMA_FILE: render(record_json_schema()),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the schema files (or, with --check, report the ones that are out of date)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs; write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        names = ", ".join(p.name for p in stale)
        sys.stderr.write(f"out of date: {names}; run python -m clickstream.schema.jsonschema\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
