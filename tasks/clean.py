"""CleanToParquet (one Map iteration): one chunk of raw objects to deterministic Parquet files."""

from __future__ import annotations

from typing import Any

from clickstream.etl.pipeline import clean_step, deps_from_env
from clickstream.observability import get_logger

logger = get_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return clean_step(event["run"], event["manifest_key"], int(event["chunk"]), deps_from_env())
