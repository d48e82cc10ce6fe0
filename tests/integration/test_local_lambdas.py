"""The seam that runs Lambda handlers in process inside moto's Step Functions engine (moto 5.2.x).

If a moto upgrade changes LambdaBackend.invoke or the engine, these tests say so first.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

from clickstream.etl.control import EtlControl
from clickstream.local.aws import LocalAws, LocalResources
from clickstream.local.lambdas import install_in_process_invoke
from state_machines.build_asl import retry


@pytest.fixture(scope="module")
def engine(local_aws: tuple[LocalAws, LocalResources]) -> tuple[dict[str, str], object, object]:
    aws, _ = local_aws
    install_in_process_invoke()
    clients = aws.clients()
    role = clients.client("iam").create_role(RoleName=f"seam-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument="{}")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.txt", "")
    arns = {}
    for name in ("echo", "flaky", "broken"):
        arns[name] = clients.client("lambda").create_function(
            FunctionName=f"seam-{name}-{uuid.uuid4().hex[:6]}", Runtime="python3.11", Role=role["Role"]["Arn"],
            Handler=f"tests.integration.seam_handlers.{name}", Code={"ZipFile": archive.getvalue()}, Timeout=30,
        )["FunctionArn"]
    return arns, clients.client("stepfunctions"), role["Role"]["Arn"]


def _run(engine: tuple, definition: dict, payload: dict) -> tuple[object, list[dict]]:
    _, sfn, role = engine
    arn = sfn.create_state_machine(name=f"seam-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                   roleArn=role)["stateMachineArn"]
    control = EtlControl(sfn, arn)
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    execution = control.wait(execution_arn, timeout_s=60, poll_s=0.1)
    return execution, sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def test_a_handler_runs_in_process_with_a_lambda_context(engine: tuple) -> None:
    arns = engine[0]
    definition = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": arns["echo"], "End": True}}}
    execution, _ = _run(engine, definition, {"hour": "2026-11-25T10"})
    assert execution.status == "SUCCEEDED"
    assert execution.output["event"] == {"hour": "2026-11-25T10"}
    assert execution.output["function"].startswith("seam-echo") and execution.output["remaining_ms"] > 0


def test_retry_matches_our_exception_class_name(engine: tuple) -> None:
    arns = engine[0]
    definition = {"StartAt": "F", "States": {"F": {
        "Type": "Task", "Resource": arns["flaky"], "TimeoutSeconds": 30,
        "Retry": [{**rule, "IntervalSeconds": 1, "BackoffRate": 1.0} for rule in retry()], "End": True}}}
    execution, history = _run(engine, definition, {"key": uuid.uuid4().hex})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"attempts": 3}
    failures = [e for e in history if e["type"] == "LambdaFunctionFailed"]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures] == ["StorageUnavailable"] * 2


def test_an_unretried_error_is_caught_with_its_class_name_and_message(engine: tuple) -> None:
    arns = engine[0]
    definition = {"StartAt": "B", "States": {
        "B": {"Type": "Task", "Resource": arns["broken"], "Retry": retry(), "TimeoutSeconds": 30,
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure.error", "Next": "Mark"}], "End": True},
        "Mark": {"Type": "Pass", "Result": "B", "ResultPath": "$.failure.state", "End": True}}}
    execution, history = _run(engine, definition, {})
    assert execution.status == "SUCCEEDED"
    failure = execution.output["failure"]
    assert failure["state"] == "B" and failure["error"]["Error"] == "BadInput"
    assert json.loads(failure["error"]["Cause"])["errorMessage"] == "this input can never work"
    assert sum(e["type"] == "LambdaFunctionFailed" for e in history) == 1, "BadInput must not be retried"
