"""`make package` (scripts/package_lambdas.py): reproducible artifacts that run their handler on Lambda.

Every function runs on Lambda's python3.12 (Amazon Linux 2023). Tasks marked `"package": "zip"` in
tasks/manifest.json get a zip that must unzip under 250 MB and import its handler in a clean venv
of CPython 3.12; tasks marked `"image"` get a Docker build context whose requirements install, with
--no-index --require-hashes, into a folder from which the handler and everything it reaches import.

Needs PyPI the first time (wheels are cached in dist/lambda/.wheels afterwards) and a CPython 3.12
interpreter: the test fails, saying what to install, when there is none.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from scripts import package_lambdas as pkg

ROOT = Path(__file__).resolve().parents[2]
WHEEL_CACHE = ROOT / "dist" / "lambda" / ".wheels"
MANIFEST = {task["name"]: task for task in json.loads((ROOT / "tasks" / "manifest.json").read_text())["tasks"]}
ZIP_TASKS = sorted(name for name, task in MANIFEST.items() if task["package"] == "zip")
IMAGE_TASKS = sorted(name for name, task in MANIFEST.items() if task["package"] == "image")
LAMBDA_PYTHON = (3, 12)  # the python3.12 runtime


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- the builds


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two full builds from the same inputs (the wheel cache is shared)."""
    first, second = tmp_path_factory.mktemp("build-a"), tmp_path_factory.mktemp("build-b")
    for out in (first, second):
        pkg.build(out=out, cache=WHEEL_CACHE, log=None)
    return first, second


@pytest.fixture(scope="module")
def result(builds: tuple[Path, Path]) -> dict:
    return json.loads((builds[0] / "build.json").read_text())


def test_every_task_says_how_it_is_packaged() -> None:
    assert all(task["package"] in pkg.PACKAGE_KINDS for task in MANIFEST.values())
    assert ZIP_TASKS and IMAGE_TASKS


def test_two_builds_give_the_same_bytes(builds: tuple[Path, Path], result: dict) -> None:
    first, second = builds
    assert (first / "build.json").read_bytes() == (second / "build.json").read_bytes()
    for name in result["zips"]:
        assert sha256(first / name) == sha256(second / name), name
    for name, image in result["images"].items():
        one, two = first / image["context"], second / image["context"]
        assert pkg.context_digest(one) == pkg.context_digest(two) == (image["sha256"], image["files"]), name
        assert {p.relative_to(one): p.stat().st_mtime for p in one.rglob("*")} == {
            p.relative_to(two): p.stat().st_mtime for p in two.rglob("*")
        }, "mtimes differ"


def test_each_task_gets_the_artifact_the_manifest_asks_for(result: dict) -> None:
    assert sorted(result["tasks"]) == ZIP_TASKS
    assert sorted(result["image_tasks"]) == IMAGE_TASKS
    assert result["runtime"] == pkg.DEFAULT_RUNTIME == "python3.12"
    assert result["architecture"] == "x86_64"


def test_every_zip_unzips_under_lambdas_limit(builds: tuple[Path, Path], result: dict) -> None:
    for name, entry in result["zips"].items():
        with zipfile.ZipFile(builds[0] / name) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        assert unzipped == entry["unzipped_bytes"], name
        assert unzipped < pkg.MAX_UNZIPPED_BYTES, f"{name} unzips to {unzipped / 1e6:.1f} MB"
        assert entry["zipped_bytes"] == (builds[0] / name).stat().st_size


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
    assert {"aws_lambda_powertools", "msgspec", "isal", "jwt", "ua_parser", "boto3"} <= tops
    assert not tops & {"pyarrow", "pandas", "numpy", "great_expectations", "moto", "pytest"}
    assert (builds[0] / "ingest.zip").stat().st_size < pkg.MAX_DIRECT_UPLOAD_BYTES


# ---------------------------------------------------------------- the Lambda platform


def test_wheels_are_for_the_lambda_runtime() -> None:
    tags = pkg.platform_tags("python3.12")
    assert tags[0] == "manylinux_2_34_x86_64", "python3.12 runs on Amazon Linux 2023 (glibc 2.34)"
    assert {"manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"} <= set(tags)
    assert "manylinux_2_35_x86_64" not in tags
    assert "manylinux_2_27_x86_64" not in pkg.platform_tags("python3.11"), "Amazon Linux 2: glibc 2.26"


def test_the_wheel_pip_would_pick_is_the_one_shipped() -> None:
    def pick(*names: str) -> str:
        return pkg._best_wheel([Path(n) for n in names], "python3.12").name

    assert (
        pick(
            "c-1-cp311-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
            "c-1-cp311-abi3-manylinux_2_34_x86_64.whl",
            "c-1-cp311-abi3-manylinux_2_28_x86_64.whl",
        )
        == "c-1-cp311-abi3-manylinux_2_34_x86_64.whl"
    )
    assert (
        pick("n-1-cp312-abi3-manylinux_2_28_x86_64.whl", "n-1-cp312-cp312-manylinux_2_17_x86_64.whl")
        == "n-1-cp312-cp312-manylinux_2_17_x86_64.whl"
    )
    with pytest.raises(pkg.PackagingError, match="loads on python3.12"):
        pick("n-1-cp312-cp312-manylinux_2_35_x86_64.whl", "n-1-cp311-cp311-manylinux_2_28_x86_64.whl")


# ---------------------------------------------------------------- the image build context


def dockerfile_stages(text: str) -> dict[str, dict]:
    """{stage: {"from": image, "cmd": [...] or None}} of a Dockerfile."""
    stages: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if match := re.match(r"^FROM (\S+) AS (\S+)$", line):
            current = match[2]
            stages[current] = {"from": match[1], "cmd": None}
        elif line.startswith("CMD ") and current:
            stages[current]["cmd"] = json.loads(line[4:])
    return stages


def test_the_dockerfile_has_a_target_per_image_task_whose_cmd_is_its_handler(
    builds: tuple[Path, Path], result: dict
) -> None:
    for name, image in result["images"].items():
        text = (builds[0] / image["context"] / "Dockerfile").read_text()
        stages = dockerfile_stages(text)
        assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.12@sha256:[0-9a-f]{64}", stages["base"]["from"])
        assert stages["base"]["from"] == result["base_image"]
        assert "--require-hashes" in text and "--no-index" in text
        targets = {stage: body for stage, body in stages.items() if body["from"] == "app"}
        assert sorted(targets) == sorted(image["tasks"]), name
        for task in image["tasks"]:
            assert targets[task]["cmd"] == [MANIFEST[task]["handler"]], task
            assert result["image_tasks"][task] == {
                "image": name,
                "target": task,
                "handler": MANIFEST[task]["handler"],
                "tag": f"{task}-{image['sha256'][:12]}",
            }


def test_the_requirements_pin_every_wheel_by_hash(builds: tuple[Path, Path], result: dict) -> None:
    lock = pkg.Lock.read()
    for image in result["images"].values():
        context = builds[0] / image["context"]
        pins = {}
        for line in (context / "requirements.txt").read_text().splitlines():
            if line.startswith("#"):
                continue
            match = re.fullmatch(r"([a-z0-9-]+)==(\S+) --hash=sha256:([0-9a-f]{64})", line)
            assert match, line
            pins[match[1]] = (match[2], match[3])
        assert sorted(f"{n}=={v}" for n, (v, _) in pins.items()) == sorted(image["distributions"])
        assert all(lock.versions[name] == version for name, (version, _) in pins.items())
        wheels = {pkg.normalize(w.name.split("-")[0]): sha256(w) for w in (context / "wheels").glob("*.whl")}
        assert wheels == {name: digest for name, (_, digest) in pins.items()}


def test_the_context_holds_the_project_code(builds: tuple[Path, Path], result: dict) -> None:
    for image in result["images"].values():
        app = builds[0] / image["context"] / "app"
        for task in image["tasks"]:
            module = MANIFEST[task]["handler"].rpartition(".")[0]
            assert (app / Path(*module.split("."))).with_suffix(".py").is_file(), task
        assert (app / "tasks" / "manifest.json").is_file()
        assert sorted(p.name for p in (app / "quality").glob("*.json")) == sorted(
            p.name for p in (ROOT / "quality").glob("*.json")
        )
        assert not (app / "clickstream" / "local").exists()
        modes = {oct(p.stat().st_mode & 0o777) for p in app.rglob("*") if p.is_file()}
        assert modes == {"0o644"}


def test_the_push_script_builds_tags_and_pushes_every_image(builds: tuple[Path, Path], result: dict) -> None:
    script = builds[0] / "images" / "push.sh"
    text = script.read_text()
    done = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if shutil.which("shellcheck"):
        done = subprocess.run(["shellcheck", "-s", "sh", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout
    assert "apply -target=module.clickstream.module.lambda_images" in text
    for task, image in result["image_tasks"].items():
        context = result["images"][image["image"]]["context"]
        assert re.search(
            rf"^docker buildx build --platform linux/amd64 --provenance=false --load --target {task} "
            rf"-t {pkg.LOCAL_IMAGE_NAME}:{image['tag']} \S+/{re.escape(context)}$",
            text,
            re.M,
        ), task
        assert f'docker tag {pkg.LOCAL_IMAGE_NAME}:{image["tag"]} "$REPO:{image["tag"]}"' in text
        assert f'docker push "$REPO:{image["tag"]}"' in text
        assert f'"{task}": "$REPO@$(digest {image["tag"]})"' in text
    assert "lambda_image_uris" in text


def fake_docker(folder: Path, engine: bool) -> Path:
    """A docker client on PATH: `info` answers only when an engine is up; every other call is logged."""
    log = folder / "docker.log"
    script = folder / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = info ]; then {"echo 27.3.1; exit 0" if engine else "echo cannot connect >&2; exit 1"}; fi\n'
        f'echo "$@" >> {log}\n'
    )
    script.chmod(0o755)
    return log


def test_make_package_builds_every_image_target_when_a_docker_engine_answers(
    builds: tuple[Path, Path], result: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_docker(tmp_path, engine=True)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert pkg.docker_engine()
    pkg.build_images(result, builds[0], log=lambda _: None)
    calls = log.read_text().splitlines()
    assert len(calls) == len(IMAGE_TASKS)
    for call, task in zip(calls, IMAGE_TASKS, strict=True):
        image = result["image_tasks"][task]
        context = builds[0] / result["images"][image["image"]]["context"]
        assert call == (
            f"buildx build --platform linux/amd64 --provenance=false --load --target {task} "
            f"-t {pkg.LOCAL_IMAGE_NAME}:{image['tag']} {context.resolve()}"
        )


def test_without_a_docker_engine_nothing_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = fake_docker(tmp_path, engine=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert not pkg.docker_engine()
    assert not log.exists()


# ---------------------------------------------------------------- running on Lambda's Python


def find_lambda_python() -> Path:
    """A CPython 3.12 interpreter: LAMBDA_PYTHON, pyenv's, uv's, or python3.12 on PATH."""
    candidates: list[str] = []
    if os.environ.get("LAMBDA_PYTHON"):
        candidates.append(os.environ["LAMBDA_PYTHON"])
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv.glob("versions/3.12*/bin/python3.12"), reverse=True)]
    uv = ROOT / ".venv" / "bin" / "uv"
    if uv.exists():
        found = subprocess.run([str(uv), "python", "find", "3.12"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(found.stdout.strip())
    candidates += [p for p in (shutil.which("python3.12"),) if p]
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and tuple(map(int, probe.stdout.split())) == LAMBDA_PYTHON:
            return Path(candidate)
    pytest.fail(
        "no CPython 3.12 found (tried LAMBDA_PYTHON, ~/.pyenv/versions/3.12*, `uv python find 3.12`, python3.12 on "
        "PATH): the Lambda artifacts are built for the python3.12 runtime and must be tried on it. Install it "
        "with `uv python install 3.12`, `pyenv install 3.12`, or `apt-get install python3.12 python3.12-venv`, or "
        "point LAMBDA_PYTHON at one."
    )


@pytest.fixture(scope="module")
def lambda_python() -> Path:
    return find_lambda_python()


@pytest.fixture(scope="module")
def clean_python(lambda_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of CPython 3.12 with nothing installed: only what the artifact holds can be imported."""
    target = tmp_path_factory.mktemp("clean-venv")
    done = subprocess.run(
        [str(lambda_python), "-m", "venv", "--without-pip", str(target)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return target / "bin" / "python"


# Imports the handlers and every project module their code reaches (so every library imported
# lazily inside a function is there too); with an event, calls the (one) handler.
RUN_HANDLERS = """
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
handlers = []
for handler in json.loads(sys.argv[2]):
    module_name, _, function = handler.rpartition(".")
    handlers.append(getattr(importlib.import_module(module_name), function))
for module in json.loads(sys.argv[3]):
    importlib.import_module(module)
event = json.loads(sys.argv[4])
if event is None:
    print(json.dumps({"callable": [callable(h) for h in handlers], "python": list(sys.version_info[:2])}))
    raise SystemExit
class Context:
    function_name = "test"; memory_limit_in_mb = 512; aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:test"
print(json.dumps(handlers[0](event, Context())))
"""

LAMBDA_ENV = {
    "AWS_REGION": "eu-west-1",
    "RAW_BUCKET": "raw",
    "PROCESSED_BUCKET": "processed",
    "QUARANTINE_BUCKET": "quarantine",
    "CORS_ALLOW_ORIGINS": "https://shop.example",
    "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
}


def run_handlers(python: Path, paths: list[Path], handlers: list[str], event: dict | None, cwd: Path) -> dict:
    modules = sorted(set().union(*(pkg.scan_imports(h).modules for h in handlers)))
    env = {"PATH": os.environ["PATH"], **LAMBDA_ENV}
    done = subprocess.run(
        [
            str(python),
            "-I",
            "-c",
            RUN_HANDLERS,
            json.dumps([str(p) for p in paths]),
            json.dumps(handlers),
            json.dumps(modules),
            json.dumps(event),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


HEALTH_EVENT = {
    "version": "2.0",
    "routeKey": "GET /v1/health",
    "rawPath": "/v1/health",
    "rawQueryString": "",
    "headers": {"origin": "https://shop.example"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example",
        "http": {
            "method": "GET",
            "path": "/v1/health",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.9",
            "userAgent": "test",
        },
        "requestId": "req-1",
        "routeKey": "GET /v1/health",
        "stage": "$default",
        "time": "25/Nov/2026:10:00:00 +0000",
        "timeEpoch": 1795600800000,
    },
    "isBase64Encoded": False,
}


@pytest.mark.parametrize("task", ZIP_TASKS)
def test_each_zip_imports_its_handler_in_a_clean_python312_venv(
    task: str, builds: tuple[Path, Path], result: dict, clean_python: Path, tmp_path: Path
) -> None:
    unpacked = tmp_path / task
    with zipfile.ZipFile(builds[0] / result["tasks"][task]) as archive:
        archive.extractall(unpacked)
    assert run_handlers(clean_python, [unpacked], [MANIFEST[task]["handler"]], None, unpacked) == {
        "callable": [True],
        "python": list(LAMBDA_PYTHON),
    }


def test_the_ingest_zip_answers_a_health_check_on_python312(
    builds: tuple[Path, Path], clean_python: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(builds[0] / "ingest.zip") as archive:
        archive.extractall(tmp_path)
    response = run_handlers(clean_python, [tmp_path], ["tasks.ingest.lambda_handler"], HEALTH_EVENT, tmp_path)
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["status"] == "ok"


@pytest.fixture(scope="module")
def installed_images(
    builds: tuple[Path, Path], result: dict, lambda_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """What the Dockerfile's pip step installs, done by CPython 3.12's own pip, offline, into a folder."""
    pip = [str(lambda_python), "-m", "pip"]
    if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:  # an interpreter without pip
        installer = tmp_path_factory.mktemp("installer") / "venv"
        done = subprocess.run([str(lambda_python), "-m", "venv", str(installer)], capture_output=True, text=True)
        assert done.returncode == 0, f"CPython 3.12 cannot make a venv with pip (ensurepip): {done.stderr}"
        pip = [str(installer / "bin" / "python"), "-m", "pip"]
    installed = {}
    for name, image in result["images"].items():
        context = builds[0] / image["context"]
        target = tmp_path_factory.mktemp(f"image-{name}")
        done = subprocess.run(
            [
                *pip,
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-cache-dir",
                "--no-index",
                "--find-links",
                str(context / "wheels"),
                "--only-binary=:all:",
                "--require-hashes",
                "--no-compile",
                "--target",
                str(target),
                "-r",
                str(context / "requirements.txt"),
            ],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"the image's pip step fails:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        installed[name] = target
    return installed


def test_each_image_installs_and_imports_its_handlers_on_python312(
    builds: tuple[Path, Path], result: dict, installed_images: dict[str, Path], clean_python: Path
) -> None:
    for name, image in result["images"].items():
        app = builds[0] / image["context"] / "app"
        handlers = [MANIFEST[task]["handler"] for task in image["tasks"]]
        assert run_handlers(clean_python, [app, installed_images[name]], handlers, None, app) == {
            "callable": [True] * len(handlers),
            "python": list(LAMBDA_PYTHON),
        }, name
