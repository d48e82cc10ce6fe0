"""ListRawObjects: the hour's raw objects, split into chunks through a manifest object."""

from __future__ import annotations

from typing import Any

from clickstream.etl.pipeline import deps_from_env, list_step
from clickstream.observability import get_logger

logger = get_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return list_step(event["run"], deps_from_env())
