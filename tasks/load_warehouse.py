"""LoadWarehouse: the hour's Parquet into PostgreSQL, exactly once, in one transaction."""

from __future__ import annotations

from typing import Any

from clickstream.etl.pipeline import deps_from_env, load_step
from clickstream.observability import get_logger

logger = get_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return load_step(event["run"], event["listing"], event["chunks"], deps_from_env())
