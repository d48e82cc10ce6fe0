"""ResolveWindow: the hour this execution processes (manual `hour` or the scheduler's time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clickstream.etl.window import resolve_run
from clickstream.observability import get_logger

logger = get_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run = resolve_run(event.get("input"), execution_arn=event["execution_arn"],
                      execution_name=event["execution_name"], now=datetime.now(UTC))
    return run.to_dict()
