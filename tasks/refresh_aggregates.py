"""RefreshAggregates: rebuild derived tables and rollups for the sessions and days the hour touched."""

from __future__ import annotations

from typing import Any

from clickstream.etl.pipeline import deps_from_env, refresh_step
from clickstream.observability import get_logger

logger = get_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return refresh_step(event["run"], deps_from_env())
