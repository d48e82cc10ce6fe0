"""Ingest Lambda behind API Gateway HTTP API: POST /v1/events and GET /v1/health."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from clickstream import __version__
from clickstream.errors import StorageThrottled, TransientError
from clickstream.ingest import IngestService, build_ingest_service
from clickstream.ingest.apigw import cors_config, request_from_event
from clickstream.ingest.responses import ErrorBody, Health, encode
from clickstream.observability import get_logger, get_metrics
from clickstream.schema import SCHEMA_VERSION
from clickstream.settings import IngestSettings

logger = get_logger()
metrics = get_metrics()
router = APIGatewayHttpRouter()
ROUTES = {"/v1/events": "POST, OPTIONS", "/v1/health": "GET, OPTIONS"}


@router.get("/v1/health")
def health() -> Response:
    body = Health(status="ok", service="clickstream-ingest", version=__version__, schema_version=SCHEMA_VERSION)
    return _json(200, body, {})


@router.post("/v1/events")
def post_events() -> Response:
    result = _service().ingest(request_from_event(router.current_event))
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=result.rejected)
    return _json(result.status, result.body_json(), result.headers)


@router.exception_handler(TransientError)
def dependency_failed(exc: TransientError) -> Response:
    # Nothing was acknowledged, so the client keeps its events and retries.
    logger.error("a dependency failed; answering retryable", exc_info=exc)
    status = 429 if isinstance(exc, StorageThrottled) else 503
    code = "throttled" if status == 429 else "service_unavailable"
    body = ErrorBody(code=code, message="the events were not stored; nothing was accepted. Retry in a few seconds.")
    return _json(status, body, {"Retry-After": "2"})


def _json(status: int, body: msgspec.Struct | str, headers: dict[str, str]) -> Response:
    text = body if isinstance(body, str) else encode(body).decode()
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=text, headers=headers)


@cache
def _settings() -> IngestSettings:
    return IngestSettings.from_env()


@cache
def _service() -> IngestService:
    return build_ingest_service(_settings())


@cache
def _app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(cors=cors_config(_settings().cors_allow_origins))
    app.include_router(router)
    app.not_found(_no_route(app))
    return app


def _no_route(app: APIGatewayHttpResolver) -> Any:
    def no_route(_: Exception) -> Response:
        event = app.current_event
        allowed = ROUTES.get(event.path)
        if allowed:
            body = ErrorBody(code="method_not_allowed", message=f"{event.path} answers {allowed} only.")
            return _json(405, body, {"Allow": allowed})
        return _json(404, ErrorBody(code="not_found", message=f"no such path; the API serves {', '.join(ROUTES)}."), {})

    return no_route


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _app().resolve(event, context)
