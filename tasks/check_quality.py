"""CheckQuality: expectation suites over the hour's Parquet; critical failures stop the run."""

from __future__ import annotations

from typing import Any

from clickstream.etl.pipeline import deps_from_env, quality_step
from clickstream.observability import get_logger

logger = get_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return quality_step(event["run"], event["listing"], event["chunks"], deps_from_env())
