"""The host provisioning and deploy scripts are valid shell (bash -n, and shellcheck when installed).

shellcheck comes from Debian (`apt-get install shellcheck`); without it that check is skipped.
The first-boot user data (a Terraform template around ec2-setup.sh) is rendered and checked too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "infra" / "scripts").glob("*.sh"))
USER_DATA = ROOT / "infra" / "modules" / "warehouse" / "user_data.sh.tftpl"


def rendered_user_data() -> str:
    """user_data.sh.tftpl with its ${...} variables filled as templatefile() would."""
    values = {
        "setup_script": (ROOT / "infra" / "scripts" / "ec2-setup.sh").read_text(),
        "region": "eu-west-1",
        "secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x/warehouse-AbCdEf",
        "data_volume_id": "vol-0123456789abcdef0",
        "dashboard_bundle": "s3://bucket/dashboard/dashboard-0123456789abcdef.zip",
        "log_group": "/clickstream/x/warehouse-host",
        "shiny_port": "3838",
        "pg_client_cidr": "10.40.0.0/16",
    }
    template = USER_DATA.read_text()
    names = set(re.findall(r"\$\{(\w+)\}", template))
    assert names == set(values), f"the template's variables changed: {sorted(names)}"
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)


def test_the_scripts_exist() -> None:
    assert {p.name for p in SCRIPTS} >= {"ec2-setup.sh", "deploy-web.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bash_parses_the_script(script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_bash_parses_the_rendered_user_data(tmp_path: Path) -> None:
    path = tmp_path / "user_data.sh"
    path.write_text(rendered_user_data())
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_finds_nothing(script: Path) -> None:
    done = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_the_setup_script_never_puts_the_password_on_a_command_line() -> None:
    text = (ROOT / "infra" / "scripts" / "ec2-setup.sh").read_text()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        if "password" in line and ("psql " in line and "<<" not in line):
            pytest.fail(f"password on a command line: {line.strip()}")
    assert "get-secret-value" in text, "the script reads the password from Secrets Manager"
