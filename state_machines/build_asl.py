"""Writes hourly_etl.asl.json. The ASL file is the source of truth that Terraform and the local
runtime load; this script only exists so the repeated Retry/Catch blocks are written once.
`python state_machines/build_asl.py` rewrites it; a contract test fails if the two differ."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASL_PATH = HERE / "hourly_etl.asl.json"

LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Our own retryable exception classes (Retry matches the class name exactly, not subclasses).
TRANSIENT_ERRORS = ["StorageUnavailable", "StorageThrottled", "AuthUnavailable", "WarehouseUnavailable"]


def retry() -> list[dict]:
    return [
        {"ErrorEquals": LAMBDA_SERVICE_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 2.0},
        {"ErrorEquals": TRANSIENT_ERRORS, "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2.0},
    ]


def catch(state: str) -> list[dict]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure.error", "Next": f"FailedAt{state}"}]


def task(state: str, function: str, *, timeout: int, parameters: dict, result_path: str, next_state: str) -> dict:
    return {
        "Type": "Task",
        "Comment": f"tasks/manifest.json: {function}",
        "Resource": f"${{{function}_function_arn}}",
        "Parameters": parameters,
        "ResultPath": result_path,
        "TimeoutSeconds": timeout,
        "Retry": retry(),
        "Catch": catch(state),
        "Next": next_state,
    }


RUN = {"run.$": "$.run"}
MAIN_STATES = ["ResolveWindow", "ListRawObjects", "CleanToParquet", "CheckQuality", "LoadWarehouse", "RefreshAggregates"]


def definition() -> dict:
    states: dict[str, dict] = {
        "ResolveWindow": task(
            "ResolveWindow", "resolve_window", timeout=30, result_path="$.run", next_state="ListRawObjects",
            parameters={"input.$": "$", "execution_arn.$": "$$.Execution.Id", "execution_name.$": "$$.Execution.Name"},
        ),
        "ListRawObjects": task(
            "ListRawObjects", "list_raw", timeout=120, result_path="$.listing", next_state="CleanToParquet",
            parameters=RUN,
        ),
        "CleanToParquet": {
            "Type": "Map",
            "Comment": "One iteration per chunk of raw objects (the manifest object lists them).",
            "ItemsPath": "$.listing.chunks",
            "MaxConcurrency": 2,
            "Parameters": {"run.$": "$.run", "manifest_key.$": "$.listing.manifest_key", "chunk.$": "$$.Map.Item.Value"},
            "Iterator": {
                "StartAt": "CleanChunk",
                "States": {
                    "CleanChunk": {
                        "Type": "Task",
                        "Comment": "tasks/manifest.json: clean",
                        "Resource": "${clean_function_arn}",
                        "TimeoutSeconds": 900,
                        "Retry": retry(),
                        "End": True,
                    }
                },
            },
            "ResultPath": "$.chunks",
            "Catch": catch("CleanToParquet"),
            "Next": "CheckQuality",
        },
        "CheckQuality": task(
            "CheckQuality", "check_quality", timeout=600, result_path="$.quality", next_state="LoadWarehouse",
            parameters={"run.$": "$.run", "listing.$": "$.listing", "chunks.$": "$.chunks"},
        ),
        "LoadWarehouse": task(
            "LoadWarehouse", "load_warehouse", timeout=900, result_path="$.load", next_state="RefreshAggregates",
            parameters={"run.$": "$.run", "listing.$": "$.listing", "chunks.$": "$.chunks"},
        ),
        "RefreshAggregates": task(
            "RefreshAggregates", "refresh_aggregates", timeout=900, result_path="$.refresh", next_state="Done",
            parameters={"run.$": "$.run", "listing.$": "$.listing", "chunks.$": "$.chunks", "quality.$": "$.quality",
                        "load.$": "$.load"},
        ),
        "Done": {"Type": "Succeed"},
    }
    for state in MAIN_STATES:
        states[f"FailedAt{state}"] = {
            "Type": "Pass",
            "Comment": "Names the failed state for the record and the alert.",
            "Result": state,
            "ResultPath": "$.failure.state",
            "Next": "RecordFailure",
        }
    states["RecordFailure"] = {
        "Type": "Task",
        "Comment": "tasks/manifest.json: record_failure. Marks the run failed in the warehouse and writes the alert.",
        "Resource": "${record_failure_function_arn}",
        "Parameters": {"document.$": "$", "execution_arn.$": "$$.Execution.Id", "input.$": "$$.Execution.Input"},
        "ResultPath": "$.alert",
        "TimeoutSeconds": 60,
        "Retry": retry(),
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure.record_error", "Next": "AlertUnrecorded"}],
        "Next": "NotifyFailure",
    }
    states["AlertUnrecorded"] = {
        "Type": "Pass",
        "Comment": "The failure could not be recorded (e.g. warehouse down): still alert, from what the execution knows.",
        "Parameters": {
            "execution_id.$": "$$.Execution.Id",
            "input.$": "$$.Execution.Input",
            "failed_state.$": "$.failure.state",
            "error.$": "$.failure.error.Error",
            "cause.$": "$.failure.error.Cause",
            "note": "the failure could not be recorded in the warehouse",
        },
        "ResultPath": "$.alert",
        "Next": "NotifyFailure",
    }
    states["NotifyFailure"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {
            "TopicArn": "${alerts_topic_arn}",
            "Subject": "Clickstream hourly ETL failed",
            "Message.$": "States.JsonToString($.alert)",
        },
        "ResultPath": None,
        "TimeoutSeconds": 30,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure.notify_error", "Next": "Failed"}],
        "Next": "Failed",
    }
    states["Failed"] = {"Type": "Fail", "Error": "HourlyEtlFailed",
                        "Cause": "A step failed; the alert and `clickstream etl history` say which and why."}
    return {
        "Comment": "Clickstream hourly ETL: one hour of raw events -> Parquet -> quality -> PostgreSQL -> rollups. "
                   "Input {\"hour\": \"YYYY-MM-DDTHH\"} or the scheduler's {\"scheduled_time\": ...}. See docs/etl.md.",
        "StartAt": "ResolveWindow",
        "States": states,
    }


def render() -> str:
    return json.dumps(definition(), indent=2) + "\n"


if __name__ == "__main__":
    ASL_PATH.write_text(render())
    print(f"wrote {ASL_PATH}")
