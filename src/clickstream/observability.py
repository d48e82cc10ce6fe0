"""Powertools Logger and Metrics, built once per process and shared by every module."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

SERVICE = "clickstream"
METRICS_NAMESPACE = "Clickstream"


class _EmfProvider(AmazonCloudWatchEMFProvider):
    """The CloudWatch EMF provider, honouring `POWERTOOLS_METRICS_DISABLED` (and `POWERTOOLS_DEV`)
    wherever it prints.

    Powertools 3.x checks the variable only when a handler's metrics are flushed, and then keeps
    them: `add_metric` still prints an EMF line whenever a metric reaches 100 values, and the
    cold-start metric is printed on its own. With metrics disabled (the local runtime's
    default) that was a stray JSON line on the console at the first request and every 100
    after. Values added while disabled are dropped, as a flush would drop them."""

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        if not is_metrics_disabled():
            super().add_metric(*args, **kwargs)

    def add_cold_start_metric(self, *args: Any, **kwargs: Any) -> None:
        if not is_metrics_disabled():
            super().add_cold_start_metric(*args, **kwargs)


@cache
def get_logger() -> Logger:
    return Logger(service=SERVICE)


@cache
def get_metrics() -> Metrics:
    # The sets are Metrics' class attributes, shared by every Metrics in the process.
    provider = _EmfProvider(
        namespace=METRICS_NAMESPACE, service=SERVICE, metric_set=Metrics._metrics,
        dimension_set=Metrics._dimensions, metadata_set=Metrics._metadata,
        default_dimensions=Metrics._default_dimensions,
    )
    return Metrics(namespace=METRICS_NAMESPACE, service=SERVICE, provider=provider)
