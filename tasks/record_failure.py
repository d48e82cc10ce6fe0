"""RecordFailure: mark the run failed in the warehouse and compose the alert NotifyFailure sends."""

from __future__ import annotations

from typing import Any

from clickstream.etl.pipeline import deps_from_env, record_failure_step
from clickstream.observability import get_logger

logger = get_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return record_failure_step(event["document"], event["execution_arn"], event.get("input"), deps_from_env())
