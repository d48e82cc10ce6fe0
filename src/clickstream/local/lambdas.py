"""Lambda functions in the local AWS, run in this process instead of in Docker.

moto's Step Functions engine invokes Lambda through its Lambda backend, whose `invoke` needs
Docker. We replace that one method: it imports the function's configured `Handler` (the same
`tasks.<name>.lambda_handler` that runs on AWS) and calls it with the event and a Lambda
context. Exceptions come back in Lambda's error shape (`errorType` = exception class name),
so the ASL's Retry and Catch match our error classes exactly as they do on AWS.
This is pinned to moto 5.2.x; `tests/integration/test_local_lambdas.py` guards the seam.
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import threading
import traceback
import zipfile
from typing import Any

from clickstream.aws import AwsClients
from clickstream.etl.statemachine import load_manifest
from clickstream.local.aws import service_role
from clickstream.local.lambda_context import LocalLambdaContext
from clickstream.observability import get_logger

ROLE_NAME = "clickstream-local-lambda"
_install_lock = threading.Lock()
_installed = False


def _invoke_in_process(
    backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any,
) -> str:
    function = backend.get_function(function_name, qualifier)
    module_name, _, attribute = function.handler.rpartition(".")
    event = json.loads(body) if body else {}
    context = LocalLambdaContext(function_name=function.function_name, memory_limit_in_mb=int(function.memory_size),
                                 timeout_s=float(function.timeout))
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
        return json.dumps(handler(event, context))
    except Exception as exc:  # every failure goes back to the caller, as Lambda does
        get_logger().warning("local lambda %s failed: %s: %s", function.function_name, type(exc).__name__, exc)
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(exc)[-20:],
        })


def install_in_process_invoke() -> None:
    """Make moto run Lambda handlers in this process (idempotent), and let its Step Functions
    engine execute state machines."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from moto.awslambda.models import LambdaBackend
        from moto.core.config import default_user_config

        def invoke(self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
                   response_headers: Any) -> str:
            return _invoke_in_process(self, function_name, qualifier, body, headers, response_headers)

        LambdaBackend.invoke = invoke
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        _share_backend_on_deepcopy()
        _installed = True


def _share_backend_on_deepcopy() -> None:
    """moto deep-copies a state machine at each StartExecution; the copy reaches the whole
    backend through `state_machine.backend`, including running executions whose workers hold
    locks, so the second execution of a process fails. The definition is what must be frozen;
    the backend and the execution list are shared, as they are on AWS."""
    from moto.stepfunctions.models import StateMachine

    shared = {"backend", "executions"}

    def deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        clone = copy.copy(self)
        for key, value in vars(self).items():
            if key not in shared:
                setattr(clone, key, copy.deepcopy(value, memo))
        return clone

    StateMachine.__deepcopy__ = deepcopy


def register_functions(aws: AwsClients, environment: dict[str, str], *, prefix: str = "clickstream") -> dict[str, str]:
    """Create (or update) one Lambda function per manifest task; returns task name -> ARN."""
    lam = aws.client("lambda")
    role_arn = service_role(aws, ROLE_NAME, "lambda.amazonaws.com")
    # The code runs from this checkout; the zip is only there because the API requires one.
    placeholder_zip = io.BytesIO()
    with zipfile.ZipFile(placeholder_zip, "w") as archive:
        archive.writestr("README.txt", "local runtime: handlers run in process from the checkout\n")
    arns: dict[str, str] = {}
    for spec in load_manifest().tasks:
        name = f"{prefix}-{spec.name.replace('_', '-')}"
        config = {"Handler": spec.handler, "Timeout": spec.timeout_s, "MemorySize": spec.memory_mb,
                  "Environment": {"Variables": {k: v for k, v in environment.items() if k in spec.env}}}
        try:
            arns[spec.name] = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            lam.update_function_configuration(FunctionName=name, **config)
        except lam.exceptions.ResourceNotFoundException:
            arns[spec.name] = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role_arn,
                                                  Code={"ZipFile": placeholder_zip.getvalue()}, **config)["FunctionArn"]
    return arns
