"""The OpenAPI 3.1 document of the ingest API, generated from the types the code validates with.

`python -m clickstream.ingest.openapi` rewrites `docs/openapi.json`; a contract test fails when
the committed file differs, and the fuzz tests drive the running API from it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from clickstream import __version__
from clickstream.ingest.responses import ErrorBody, Health, IngestResult
from clickstream.schema import MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH, Event

DOCUMENT_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
_REF = "#/components/schemas/{name}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _json_response(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}}


def build_document() -> dict[str, Any]:
    (_, components) = msgspec.json.schema_components([Event, IngestResult, ErrorBody, Health], ref_template=_REF)
    components["EventBatch"] = {
        "type": "object",
        "title": "EventBatch",
        "description": f"Up to {MAX_EVENTS_PER_BATCH} events and {MAX_BODY_BYTES} bytes in one request.",
        "required": ["events"],
        "properties": {"events": {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS_PER_BATCH, "items": _ref("Event")}},
    }
    batch = {"schema": _ref("EventBatch")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clickstream Analytics ingest API",
            "version": __version__,
            "description": (
                "Collects clickstream events (schema version 1). Accepted events are durably stored in the raw layer "
                "before the answer; rejected ones are kept in quarantine with a reason. No input causes a 5xx."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "local runtime (`make run`)"}],
        "paths": {
            "/v1/events": {
                "post": {
                    "operationId": "postEvents",
                    "summary": "Send a batch of events",
                    "description": (
                        "JSON, or `text/plain` carrying JSON (keeps browsers out of CORS preflight). "
                        "An optional Cognito access token in `Authorization: Bearer` sets `user_id` to its `sub`; "
                        "a client-sent `user_id` without a valid token is kept only as `claimed_user_id`."
                    ),
                    "security": [{}, {"bearerAuth": []}],
                    "requestBody": {"required": True, "content": {"application/json": batch, "text/plain": batch}},
                    "responses": {
                        "200": _json_response("At least one event was accepted; `rejected` lists the others.", "IngestResult"),
                        "400": {
                            "description": "No event was accepted (same body as 200), or the batch itself is malformed.",
                            "content": {"application/json": {"schema": {"oneOf": [_ref("IngestResult"), _ref("ErrorBody")]}}},
                        },
                        "401": _json_response("The bearer token failed verification; the events are kept in quarantine.", "ErrorBody"),
                        "413": _json_response(f"Over {MAX_BODY_BYTES} bytes or {MAX_EVENTS_PER_BATCH} events.", "ErrorBody"),
                        "415": _json_response("Content-Type is neither application/json nor text/plain.", "ErrorBody"),
                        "429": _json_response("Throttled; retry after the given delay.", "ErrorBody", _RETRY_AFTER),
                        "503": _json_response("Storage or token keys unavailable; nothing was accepted, retry.", "ErrorBody", _RETRY_AFTER),
                    },
                }
            },
            "/v1/health": {
                "get": {
                    "operationId": "getHealth",
                    "summary": "Liveness and version",
                    "responses": {"200": _json_response("The API is up.", "Health")},
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    DOCUMENT_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT_PATH.write_text(render())
    print(f"wrote {DOCUMENT_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
