"""The shared Powertools Metrics: metrics off means nothing on stdout, however many values."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from clickstream.observability import get_metrics


@pytest.fixture(autouse=True)
def _empty_metric_set() -> None:
    get_metrics().clear_metrics()  # Powertools keeps one metric set per process


def _add(n: int) -> None:
    metrics = get_metrics()
    for _ in range(n):
        metrics.add_metric(name="EventsAccepted", unit="Count", value=50)


def test_disabled_metrics_print_nothing_even_past_100_values(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    _add(250)
    get_metrics().flush_metrics()
    assert capsys.readouterr().out == ""


def test_disabled_metrics_print_no_cold_start_either(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics = get_metrics()

    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict, context: object) -> dict:
        metrics.add_metric(name="EventsAccepted", unit="Count", value=50)
        return {"ok": True}

    monkeypatch.setattr("aws_lambda_powertools.metrics.provider.cold_start.is_cold_start", True)
    assert handler({}, SimpleNamespace(function_name="clickstream-ingest")) == {"ok": True}
    assert capsys.readouterr().out == ""


def test_enabled_metrics_still_flush_at_100_values_and_at_the_end(monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    _add(150)
    get_metrics().flush_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [len(line["EventsAccepted"]) if isinstance(line["EventsAccepted"], list) else 1 for line in lines] == [100, 50]
    assert all(line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Clickstream" for line in lines)
