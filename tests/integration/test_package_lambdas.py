"""`make package` (scripts/package_lambdas.py): reproducible zips that run their handler.

Needs PyPI for the first build (wheels are cached in dist/lambda/.wheels afterwards). The
builds here are the two light tasks (ingest: 18 distributions, ~25 MB; resolve_window); about
15 s with a warm wheel cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from scripts import package_lambdas as pkg

ROOT = Path(__file__).resolve().parents[2]
WHEEL_CACHE = ROOT / "dist" / "lambda" / ".wheels"
LIGHT_TASKS = ["ingest", "resolve_window"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first, second = tmp_path_factory.mktemp("build-a"), tmp_path_factory.mktemp("build-b")
    for out in (first, second):
        pkg.build(out=out, only=LIGHT_TASKS, cache=WHEEL_CACHE, log=lambda _: None)
    return first, second


def test_two_builds_give_the_same_bytes(builds: tuple[Path, Path]) -> None:
    first, second = builds
    for task in LIGHT_TASKS:
        assert sha256(first / f"{task}.zip") == sha256(second / f"{task}.zip"), task


def test_the_zip_is_normalised(builds: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(builds[0] / "ingest.zip") as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {pkg.FIXED_DATE}
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]
    assert not [n for n in names if n.startswith(("bin/", "clickstream/local/"))]
    assert {"tasks/ingest.py", "tasks/manifest.json", "clickstream/settings.py"} <= set(names)


def test_ingest_ships_only_what_it_imports(builds: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(builds[0] / "ingest.zip") as archive:
        tops = {n.split("/")[0] for n in archive.namelist()}
        size = sum(i.file_size for i in archive.infolist())
    assert {"aws_lambda_powertools", "msgspec", "isal", "jwt", "ua_parser", "boto3"} <= tops
    assert not tops & {"pyarrow", "pandas", "numpy", "great_expectations", "moto", "pytest"}
    assert size < pkg.MAX_UNZIPPED_BYTES
    assert (builds[0] / "ingest.zip").stat().st_size < pkg.MAX_DIRECT_UPLOAD_BYTES


def test_wheels_are_for_the_lambda_runtime() -> None:
    tags = pkg.platform_tags("python3.11")
    assert "manylinux2014_x86_64" in tags and "manylinux_2_26_x86_64" in tags
    assert "manylinux_2_27_x86_64" not in tags, "python3.11 runs on Amazon Linux 2 (glibc 2.26)"


HEALTH_EVENT = {
    "version": "2.0", "routeKey": "GET /v1/health", "rawPath": "/v1/health", "rawQueryString": "",
    "headers": {"origin": "https://shop.example"},
    "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "api.example",
                       "http": {"method": "GET", "path": "/v1/health", "protocol": "HTTP/1.1",
                                "sourceIp": "203.0.113.9", "userAgent": "test"},
                       "requestId": "req-1", "routeKey": "GET /v1/health", "stage": "$default",
                       "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 1795600800000},
    "isBase64Encoded": False,
}

RUN_HANDLER = """
import json, sys
sys.path.insert(0, sys.argv[1])
module_name, _, function = sys.argv[2].rpartition(".")
import importlib
handler = getattr(importlib.import_module(module_name), function)
event = json.loads(sys.argv[3])
if event is None:
    print(json.dumps({"imported": callable(handler)}))
    raise SystemExit
class Context:
    function_name = "test"; memory_limit_in_mb = 512; aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:test"
print(json.dumps(handler(event, Context())))
"""


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with nothing installed: only the zip's own contents can be imported."""
    target = tmp_path_factory.mktemp("clean-venv")
    venv.EnvBuilder(with_pip=False).create(target)
    return target / "bin" / "python"


def run_in_clean_venv(python: Path, zip_path: Path, handler: str, event: dict | None, tmp: Path) -> dict:
    unpacked = tmp / zip_path.stem
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unpacked)
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "eu-west-1", "RAW_BUCKET": "raw",
           "QUARANTINE_BUCKET": "quarantine", "CORS_ALLOW_ORIGINS": "https://shop.example"}
    done = subprocess.run([str(python), "-I", "-c", RUN_HANDLER, str(unpacked), handler, json.dumps(event)],
                          capture_output=True, text=True, env=env, cwd=unpacked, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_ingest_zip_answers_a_health_check_in_a_clean_venv(
        builds: tuple[Path, Path], clean_python: Path, tmp_path: Path) -> None:
    assert sys.version_info[:2] == (3, 11), "the zips are built for Lambda's python3.11"
    response = run_in_clean_venv(clean_python, builds[0] / "ingest.zip", "tasks.ingest.lambda_handler",
                                 HEALTH_EVENT, tmp_path)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["status"] == "ok"


def test_the_resolve_window_zip_imports_its_handler_in_a_clean_venv(
        builds: tuple[Path, Path], clean_python: Path, tmp_path: Path) -> None:
    handler = next(t["handler"] for t in pkg.read_manifest() if t["name"] == "resolve_window")
    assert run_in_clean_venv(clean_python, builds[0] / "resolve_window.zip", handler, None, tmp_path) == {
        "imported": True}
