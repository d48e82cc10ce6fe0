"""Powertools Logger and Metrics, built once per process and shared by every module."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools import Logger, Metrics

SERVICE = "clickstream"
METRICS_NAMESPACE = "Clickstream"


@cache
def get_logger() -> Logger:
    return Logger(service=SERVICE)


@cache
def get_metrics() -> Metrics:
    return Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
