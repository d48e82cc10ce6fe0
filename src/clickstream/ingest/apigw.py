"""Translation between API Gateway HTTP API (payload v2) events and the ingest use case."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import CORSConfig
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from clickstream.ingest.service import IngestRequest

# The SDK reads these; browsers hide response headers from scripts unless they are exposed.
EXPOSED_HEADERS = ["Retry-After", "X-Request-Id"]
PREFLIGHT_MAX_AGE_S = 600


def request_from_event(event: APIGatewayProxyEventV2) -> IngestRequest:
    context = event.request_context
    headers = event.headers or {}
    return IngestRequest(
        body=_body_bytes(event),
        request_id=context.request_id,
        received_at=datetime.fromtimestamp(context.time_epoch / 1000, tz=UTC),
        content_type=headers.get("content-type"),
        authorization=headers.get("authorization"),
        source_ip=context.http.source_ip,
        user_agent=headers.get("user-agent") or context.http.user_agent,
    )


def _body_bytes(event: APIGatewayProxyEventV2) -> bytes:
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError):
            return body.encode("utf-8", "surrogateescape")
    return body.encode("utf-8", "surrogateescape")


def cors_config(allow_origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for an allow-list of origins; None (no CORS headers at all) when the list is empty."""
    if not allow_origins:
        return None
    return CORSConfig(
        allow_origin=allow_origins[0],
        extra_origins=list(allow_origins[1:]),
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE_S,
    )
