"""ResolveWindow: manual and scheduled inputs become the right hour; bad input says how to fix it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from clickstream.etl.pipeline import failure_alert
from clickstream.etl.window import InvalidRunInput, resolve_run

NOW = datetime(2026, 11, 25, 13, 7, 30, tzinfo=UTC)


def _resolve(payload: object) -> dict:
    return resolve_run(payload, execution_arn="arn:aws:states:x:1:execution:etl:run-1", execution_name="run-1",
                       now=NOW).to_dict()


def test_a_manual_hour_is_taken_as_given() -> None:
    run = _resolve({"hour": "2026-11-20T04"})
    assert run["hour"] == "2026-11-20T04" and run["trigger"] == "manual" and run["run_id"] == "run-1"


@pytest.mark.parametrize(("scheduled", "hour"), [
    ("2026-11-25T13:05:00Z", "2026-11-25T12"),
    ("2026-11-25T13:05:00+00:00", "2026-11-25T12"),
    ("2026-11-25T00:05:00Z", "2026-11-24T23"),
    ("2026-11-25T14:00:00+01:00", "2026-11-25T12"),
])
def test_a_scheduled_time_runs_the_previous_full_hour(scheduled: str, hour: str) -> None:
    run = _resolve({"scheduled_time": scheduled})
    assert run["hour"] == hour and run["trigger"] == "schedule"


def test_an_eventbridge_rule_event_time_works_too() -> None:
    assert _resolve({"time": "2026-11-25T13:05:00Z", "detail-type": "Scheduled Event"})["hour"] == "2026-11-25T12"


@pytest.mark.parametrize(("payload", "message"), [
    ({}, "neither 'hour' nor 'scheduled_time'"),
    ([], "not a JSON object"),
    ({"hour": "2026-11-25 13"}, "YYYY-MM-DDTHH"),
    ({"hour": "2026-02-30T01"}, "not a real UTC hour"),
    ({"hour": "2026-11-25T13"}, "has not ended yet"),
    ({"scheduled_time": "yesterday"}, "not an ISO-8601"),
])
def test_bad_input_is_refused_with_how_to_fix_it(payload: object, message: str) -> None:
    with pytest.raises(InvalidRunInput, match=message):
        _resolve(payload)


def test_a_failure_alert_names_execution_hour_state_error_and_readable_cause() -> None:
    document = {
        "run": {"hour": "2026-11-25T12", "run_id": "run-1"},
        "failure": {"state": "CheckQuality", "error": {
            "Error": "DataQualityError",
            "Cause": json.dumps({"errorMessage": "2 critical expectations failed", "errorType": "DataQualityError"}),
        }},
    }
    alert = failure_alert(document, "arn:exec", '{"hour": "2026-11-25T12"}')
    assert alert == {"execution_id": "arn:exec", "hour": "2026-11-25T12", "failed_state": "CheckQuality",
                     "error": "DataQualityError", "cause": "2 critical expectations failed",
                     "rerun": "clickstream etl run --hour 2026-11-25T12 --wait"}


def test_a_failure_before_the_hour_is_known_uses_the_execution_input() -> None:
    document = {"failure": {"state": "ResolveWindow", "error": {"Error": "InvalidRunInput", "Cause": "not json"}}}
    alert = failure_alert(document, "arn:exec", {"hour": "bad"})
    assert alert["hour"] == "bad" and alert["cause"] == "not json" and alert["failed_state"] == "ResolveWindow"
