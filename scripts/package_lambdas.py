"""Build the Lambda deployment artifacts and the dashboard bundle, reproducibly: `python scripts/package_lambdas.py`.

Every task in `tasks/manifest.json` is packaged as its `"package"` field says, with exactly what its
handler imports:

1. the handler's import closure is read from the source (AST, no import is executed): the
   project modules it reaches and the third-party top-level names they import;
2. those names become distributions (the installed metadata of this venv), and the
   distributions grow to their runtime closure from `requirements.lock` (its "via" graph),
   never reaching the `local`/`dev` extras;
3. each distribution is fetched as a wheel for the Lambda platform (`pip download
   --only-binary=:all: --platform manylinux_2_34_x86_64 ... --platform manylinux2014_x86_64
   --python-version 3.12 --implementation cp`) into a cache, newest glibc tag first, as pip on
   Lambda's Amazon Linux 2023 would choose;
4. `"package": "zip"`: the wheels are unpacked by this script (a wheel is a zip; no pip install,
   no scripts, no .pyc) beside `src/clickstream`, `tasks/` and `quality/`; entries sorted, every
   timestamp 1980-01-01, modes 0644/0755, one compression level: the same inputs give the same
   bytes. A zip must unzip under Lambda's 250 MB (the build fails otherwise, naming the fix);
5. `"package": "image"` (tasks whose libraries exceed 250 MB, e.g. Great Expectations + pandas +
   scipy + pyarrow): a Docker build context `images/<name>/` with a Dockerfile (FROM the Lambda
   Python base image pinned by digest, one `--target` per task whose CMD is its handler), the
   wheels, `requirements.txt` pinning each with its sha256 (pip installs with --no-index
   --require-hashes), and the project code. Its files have fixed contents, modes and mtimes,
   and build.json records the context's hash; images are tagged `<task>-<hash>`.

Tasks whose closures are equal share one zip (or one build context), with a content-addressed
name. `dist/lambda/build.json` maps each task to its zip or image, with sizes and the hashes
Terraform compares. Terraform only reads these files; it never runs pip or Docker. `make package`
builds the images when a Docker engine answers, and prints (and writes to
`dist/lambda/images/push.sh`) the commands that build, push and record them otherwise.

The platform follows the Lambda runtime: `python3.12` and later run on Amazon Linux 2023
(glibc 2.34), where the locked manylinux_2_28 wheels (numpy 2.4, pyarrow 26, pandas 3, scipy
1.17) load; `python3.11` runs on Amazon Linux 2 (glibc 2.26), where they do not.
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tasks" / "manifest.json"
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
DEFAULT_OUT = ROOT / "dist" / "lambda"
DASHBOARD_DIR = ROOT / "shiny"
DASHBOARD_OUT = ROOT / "dist" / "dashboard"

# Lambda runtime -> (Python version, architecture, glibc of its Amazon Linux).
RUNTIMES: dict[str, tuple[str, str, tuple[int, int]]] = {
    "python3.11": ("3.11", "x86_64", (2, 26)),
    "python3.12": ("3.12", "x86_64", (2, 34)),
    "python3.13": ("3.13", "x86_64", (2, 34)),
}
# Every function runs on python3.12 (Amazon Linux 2023): the locked numpy/pyarrow/pandas/scipy
# publish only manylinux_2_28 wheels, which Amazon Linux 2 (python3.11, glibc 2.26) cannot load.
DEFAULT_RUNTIME = "python3.12"

# PEP 600: the legacy manylinux names and the glibc 2.x they stand for.
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}

# How a task is deployed (tasks/manifest.json "package").
PACKAGE_KINDS = ("zip", "image")

# Base of the container images: the AWS Lambda Python 3.12 image (Amazon Linux 2023), pinned by
# its linux/amd64 digest so a rebuild gets the same base. Refresh it for OS and runtime patches:
#   docker buildx imagetools inspect public.ecr.aws/lambda/python:3.12   (the linux/amd64 digest)
# and pass --base-image or change it here (build.json records it; the image tags follow it).
LAMBDA_BASE_IMAGE = (
    "public.ecr.aws/lambda/python:3.12@sha256:517bcc7dc1a3ba62e324961c1563cc54a2bd6dc1060188f9d376211ecb7b2926"
)
# Local name of the built images (before they are tagged with the ECR repository).
LOCAL_IMAGE_NAME = "clickstream-lambda"

# Lambda's hard limit: function code plus all its layers, unzipped.
MAX_UNZIPPED_BYTES = 262_144_000
# Lambda's limit for a zip uploaded directly; larger ones must go through S3 (infra does that always).
MAX_DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024
# Lambda's limit for a container image (uncompressed, all layers).
MAX_IMAGE_BYTES = 10 * 1024**3

# Project files shipped in every zip: (folder, glob patterns), arcnames relative to the folder's parent.
PROJECT_TREES: tuple[tuple[Path, tuple[str, ...]], ...] = (
    (ROOT / "src" / "clickstream", ("*.py", "*.json", "*.sql", "*.yaml")),
    (ROOT / "tasks", ("*.py", "*.json")),
    (ROOT / "quality", ("*.json",)),  # expectation suites; loaded from the working directory /var/task
)
# Never shipped: the local runtime (moto, embedded PostgreSQL) has no place on Lambda.
PROJECT_EXCLUDES = ("clickstream/local/",)

# Inside wheels: what a Lambda never reads. C/C++ headers and sources, Cython declarations.
PRUNED_SUFFIXES = (".pyc", ".pyo", ".pxd", ".pyx", ".h", ".hpp", ".c", ".cc", ".cpp")
PRUNED_PARTS = ("__pycache__",)

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FIXED_MTIME = 315_532_800  # 1980-01-01T00:00:00Z, the mtime of every file of an image build context
COMPRESSLEVEL = 6


class PackagingError(RuntimeError):
    """The build cannot produce a correct artifact; the message says what to change."""


# ---------------------------------------------------------------- the lock and the manifest


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Lock:
    """requirements.lock: pinned versions, and who needs whom (`# via`)."""

    versions: dict[str, str]
    dependents: dict[str, frozenset[str]]  # package -> the packages it is "via"

    @classmethod
    def read(cls, path: Path = LOCK) -> Lock:
        versions: dict[str, str] = {}
        dependents: dict[str, set[str]] = {}
        current: str | None = None
        for line in path.read_text().splitlines():
            pin = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
            if pin:
                current = normalize(pin[1])
                versions[current] = pin[2]
                dependents[current] = set()
                continue
            via = re.match(r"^\s+#\s+(?:via\s+)?([A-Za-z0-9_.\-]+)", line)
            if current and via and via[1] != "via":
                dependents[current].add(normalize(via[1]))
        return cls(versions, {name: frozenset(parents) for name, parents in dependents.items()})

    def requirements_of(self, name: str) -> set[str]:
        return {dep for dep, parents in self.dependents.items() if name in parents}

    def runtime(self, roots: Iterable[str]) -> set[str]:
        """The runtime set: the project's own dependencies and all they need, no extras."""
        found = {normalize(r) for r in roots}
        todo = list(found)
        while todo:
            for dep in self.requirements_of(todo.pop()):
                if dep not in found:
                    found.add(dep)
                    todo.append(dep)
        return found

    def closure(self, roots: Iterable[str], allowed: set[str]) -> set[str]:
        found: set[str] = set()
        todo = [normalize(r) for r in roots]
        while todo:
            name = todo.pop()
            if name in found:
                continue
            if name not in allowed:
                raise PackagingError(
                    f"{name} is imported by Lambda code but is not a runtime dependency in pyproject.toml/"
                    "requirements.lock (it may come from the local or dev extras): add it to [project] dependencies."
                )
            found.add(name)
            todo.extend(self.requirements_of(name) & allowed)
        return found


def project_dependencies(path: Path = PYPROJECT) -> list[str]:
    import tomllib

    deps = tomllib.loads(path.read_text())["project"]["dependencies"]
    return [re.split(r"[\[=<>!~; ]", dep, maxsplit=1)[0] for dep in deps]


def read_manifest(path: Path = MANIFEST) -> list[dict]:
    tasks = json.loads(path.read_text())["tasks"]
    for task in tasks:
        if task.get("package") not in PACKAGE_KINDS:
            raise PackagingError(
                f'task {task.get("name")} in {path.name}: "package" is {task.get("package")!r}; set it to "zip" '
                '(unzipped code and libraries under 250 MB) or "image" (a Lambda container image, up to 10 GB).'
            )
    return tasks


# ---------------------------------------------------------------- what a handler imports


@dataclass
class ImportScan:
    modules: set[str] = field(default_factory=set)  # project modules reached
    third_party: set[str] = field(default_factory=set)  # top-level names
    missing: set[str] = field(default_factory=set)  # project modules imported but absent


_LOCAL_ROOTS = {"clickstream": ROOT / "src", "tasks": ROOT}


def _module_file(module: str, roots: dict[str, Path] = _LOCAL_ROOTS) -> Path | None:
    top = module.split(".")[0]
    base = roots.get(top)
    if base is None:
        return None
    stem = base.joinpath(*module.split("."))
    for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_of(module: str, file: Path, tree: ast.AST) -> Iterator[str]:
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):  # function bodies too: lazy imports are imports
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield target
            for alias in node.names:  # `from pkg import submodule`
                yield f"{target}.{alias.name}"


def scan_imports(handler: str, roots: dict[str, Path] = _LOCAL_ROOTS) -> ImportScan:
    """The import closure of a handler (`tasks.x.lambda_handler`) from its source.

    `roots` maps the top-level names of project code to the folder holding them.
    """
    scan = ImportScan()
    todo = [handler.rpartition(".")[0]]
    stdlib = set(sys.stdlib_module_names)
    while todo:
        module = todo.pop()
        if module in scan.modules:
            continue
        top = module.split(".")[0]
        if top not in roots:
            if top not in stdlib and top != "__future__":
                scan.third_party.add(top)
            continue
        file = _module_file(module, roots)
        if file is None:
            parent = module.rpartition(".")[0]
            # `from pkg import name` names an attribute, not a module, when pkg exists.
            if parent and _module_file(parent, roots) is not None:
                continue
            scan.missing.add(module)
            continue
        scan.modules.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        todo.extend(_imports_of(module, file, ast.parse(file.read_text(), filename=str(file))))
    scan.missing -= scan.modules
    scan.missing = {m for m in scan.missing if m.rpartition(".")[0] not in scan.missing}
    return scan


def distributions_for(top_level_names: Iterable[str]) -> set[str]:
    """Installed distributions providing these import names (from this venv's metadata)."""
    providers = metadata.packages_distributions()
    found: set[str] = set()
    unknown: list[str] = []
    for name in top_level_names:
        if name in providers:
            found.update(normalize(d) for d in providers[name])
        else:
            unknown.append(name)
    if unknown:
        raise PackagingError(
            f"no installed distribution provides {sorted(unknown)}: run `make setup`, or add the package to "
            "pyproject.toml if Lambda code needs it."
        )
    return found


# ---------------------------------------------------------------- wheels for the Lambda platform


def platform_tags(runtime: str) -> list[str]:
    """The wheel platforms that load on the runtime, most preferred first (pip's order on that glibc)."""
    _, arch, (major, minor) = RUNTIMES[runtime]
    tags: list[str] = []
    for glibc_minor in range(minor, 4, -1):  # manylinux_2_5 is the oldest manylinux there is
        tags.append(f"manylinux_{major}_{glibc_minor}_{arch}")
        if legacy := LEGACY_MANYLINUX.get(glibc_minor):  # the PEP 600 aliases, ranked as pip ranks them
            tags.append(f"{legacy}_{arch}")
    return tags


def supported_tags(runtime: str) -> list[Tag]:
    """Every wheel tag CPython of the runtime accepts on Lambda, best first (as pip ranks them)."""
    python_version, _, _ = RUNTIMES[runtime]
    version = tuple(int(part) for part in python_version.split("."))
    platforms = platform_tags(runtime)
    return [
        *cpython_tags(version, platforms=platforms),
        *compatible_tags(version, f"cp{version[0]}{version[1]}", platforms),
    ]


def wheel_cache_dir(cache: Path, runtime: str) -> Path:
    """The cache folder of one platform: keyed by the tags, so a change of platform never reuses another's picks."""
    python_version, _, _ = RUNTIMES[runtime]
    key = hashlib.sha256(" ".join([python_version, "cp", *platform_tags(runtime)]).encode()).hexdigest()[:8]
    return cache / f"{runtime}-{key}"


def _wheel_matches(path: Path, name: str, version: str) -> bool:
    dist, _, rest = path.name.partition("-")
    return normalize(dist) == name and rest.startswith(f"{version}-")


def fetch_wheels(pins: dict[str, str], runtime: str, cache: Path) -> dict[str, Path]:
    """One wheel per pin for the runtime's platform, downloaded once into the cache."""
    python_version, _, _ = RUNTIMES[runtime]
    target = wheel_cache_dir(cache, runtime)
    target.mkdir(parents=True, exist_ok=True)
    wanted = {
        name: version
        for name, version in pins.items()
        if not any(_wheel_matches(p, name, version) for p in target.glob("*.whl"))
    }
    if wanted:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--dest",
            str(target),
        ]
        for tag in platform_tags(runtime):
            command += ["--platform", tag]
        command += [f"{name}=={version}" for name, version in sorted(wanted.items())]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise PackagingError(_explain_download_failure(done.stderr, wanted, runtime))
    wheels: dict[str, Path] = {}
    for name, version in pins.items():
        matches = sorted(p for p in target.glob("*.whl") if _wheel_matches(p, name, version))
        if not matches:
            raise PackagingError(f"no wheel of {name}=={version} for {runtime} in {target}")
        wheels[name] = _best_wheel(matches, runtime)
    return wheels


def _best_wheel(candidates: list[Path], runtime: str) -> Path:
    """The wheel pip would pick among several in the cache: the best-ranked compatible tag."""
    rank = {tag: index for index, tag in enumerate(supported_tags(runtime))}

    def best_rank(path: Path) -> int:
        _, _, _, tags = parse_wheel_filename(path.name)
        return min((rank[t] for t in tags if t in rank), default=len(rank))

    ranked = sorted(candidates, key=lambda c: (best_rank(c), c.name))
    if best_rank(ranked[0]) == len(rank):
        raise PackagingError(f"none of {[c.name for c in candidates]} loads on {runtime}")
    return ranked[0]


def _explain_download_failure(stderr: str, wanted: dict[str, str], runtime: str) -> str:
    python_version, arch, (major, minor) = RUNTIMES[runtime]
    missing = re.findall(r"No matching distribution found for (\S+)", stderr)
    return (
        f"pip found no wheel of {', '.join(missing) or sorted(wanted)} for Lambda {runtime} "
        f"(CPython {python_version}, {arch}, glibc {major}.{minor}: wheels tagged manylinux_2_17 ... "
        f"manylinux_2_{minor}). Those versions publish only wheels for another Python or a newer glibc, which "
        f"would fail to load on Lambda: pin versions that ship wheels for CPython {python_version} on "
        f"manylinux_2_{minor} or older (Terraform deploys the runtime dist/lambda/build.json records).\n"
        f"pip said:\n{stderr.strip()[-2000:]}"
    )


# ---------------------------------------------------------------- the zip


@dataclass(frozen=True)
class Entry:
    arcname: str
    data: bytes
    executable: bool = False


def _pruned(arcname: str) -> bool:
    parts = PurePosixPath(arcname).parts
    return arcname.endswith(PRUNED_SUFFIXES) or any(p in PRUNED_PARTS for p in parts)


def wheel_entries(wheel: Path) -> Iterator[Entry]:
    """A wheel's files as they land in site-packages (purelib/platlib data flattened; scripts, headers dropped)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename
            head, _, tail = name.partition("/")
            if head.endswith(".data"):
                kind, _, rest = tail.partition("/")
                if kind not in ("purelib", "platlib"):
                    continue
                name = rest
            if _pruned(name):
                continue
            executable = bool((info.external_attr >> 16) & 0o111)
            yield Entry(name, archive.read(info), executable)


def project_entries() -> Iterator[Entry]:
    for folder, patterns in PROJECT_TREES:
        if not folder.is_dir():
            continue
        for pattern in patterns:
            for path in folder.rglob(pattern):
                arcname = path.relative_to(folder.parent).as_posix()
                if _pruned(arcname) or arcname.startswith(PROJECT_EXCLUDES):
                    continue
                yield Entry(arcname, path.read_bytes())


def write_zip(entries: Iterable[Entry], path: Path) -> tuple[int, int]:
    """Write entries sorted by name with fixed metadata. Returns (unzipped bytes, file count)."""
    unique: dict[str, Entry] = {}
    for entry in entries:
        seen = unique.get(entry.arcname)
        if seen is not None and seen.data != entry.data:
            raise PackagingError(f"two packages ship different {entry.arcname}")
        unique[entry.arcname] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(unique):
            entry = unique[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode bits below are honoured
            info.external_attr = ((0o100755 if entry.executable else 0o100644) & 0xFFFF) << 16
            archive.writestr(info, entry.data, compresslevel=COMPRESSLEVEL)
    os.replace(partial, path)
    return sum(len(e.data) for e in unique.values()), len(unique)


def file_hashes(path: Path) -> tuple[str, str]:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return digest.hex(), base64.b64encode(digest).decode()


# ---------------------------------------------------------------- the image build context


def requirements_text(wheels: dict[str, Path], pins: dict[str, str], runtime: str, tasks: list[str]) -> str:
    python_version, arch, (major, minor) = RUNTIMES[runtime]
    lines = [
        f"# The locked distributions of {', '.join(tasks)} for Lambda {runtime} (CPython {python_version}, "
        f"{arch}, glibc {major}.{minor}),",
        "# from requirements.lock. Each hash is the one wheel of that version in wheels/; the Dockerfile installs",
        "# them with --no-index --require-hashes. Written by scripts/package_lambdas.py (make package).",
    ]
    for name in sorted(wheels):
        digest = hashlib.sha256(wheels[name].read_bytes()).hexdigest()
        lines.append(f"{name}=={pins[name]} --hash=sha256:{digest}")
    return "\n".join(lines) + "\n"


def dockerfile_text(handlers: dict[str, str], base_image: str) -> str:
    """One build, one --target per task: the targets share every layer and differ only in CMD."""
    lines = [
        '# Lambda container image of the tasks/manifest.json tasks with "package": "image":',
        f"#   {', '.join(sorted(handlers))}",
        "# Written by scripts/package_lambdas.py (make package): do not edit, re-run make package.",
        "# Build a task's image for x86_64 (the architecture Terraform deploys), e.g.:",
        f"#   docker buildx build --platform linux/amd64 --provenance=false --load --target {min(handlers)} -t "
        f"{LOCAL_IMAGE_NAME}:{min(handlers)} .",
        "",
        "# AWS Lambda's Python 3.12 base image (Amazon Linux 2023), pinned by digest.",
        f"FROM {base_image} AS base",
        "",
        "# The locked wheels for the Lambda platform, each checked against its sha256; no index is consulted.",
        "FROM base AS dependencies",
        "COPY requirements.txt /tmp/build/requirements.txt",
        "COPY wheels/ /tmp/build/wheels/",
        "RUN python -m pip install --no-cache-dir --disable-pip-version-check --no-index --find-links /tmp/build/wheels \\",
        '        --only-binary=:all: --require-hashes --target "${LAMBDA_TASK_ROOT}" -r /tmp/build/requirements.txt \\',
        '    && rm -rf "${LAMBDA_TASK_ROOT}/bin"',
        "",
        "# The libraries (with their bytecode, compiled at install: /var/task is read-only on Lambda) and the",
        "# project code: src/clickstream, tasks/, quality/ (read from the working directory, /var/task).",
        "FROM base AS app",
        "COPY --from=dependencies ${LAMBDA_TASK_ROOT} ${LAMBDA_TASK_ROOT}",
        "COPY app/ ${LAMBDA_TASK_ROOT}/",
    ]
    for task in sorted(handlers):
        lines += ["", f"FROM app AS {task}", f'CMD ["{handlers[task]}"]']
    return "\n".join(lines) + "\n"


def _place_wheel(wheel: Path, target: Path) -> None:
    """A hard link to the cached wheel (no copy of hundreds of MB), or a copy across filesystems."""
    try:
        os.link(wheel, target)
    except OSError:
        shutil.copyfile(wheel, target)


def context_digest(path: Path) -> tuple[str, int]:
    """sha256 over the context's files (relative path and content hash, sorted); and their count."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(
            f"{file.relative_to(path).as_posix()}\0{hashlib.sha256(file.read_bytes()).hexdigest()}\n".encode()
        )
    return digest.hexdigest(), len(files)


def write_image_context(
    path: Path,
    handlers: dict[str, str],
    wheels: dict[str, Path],
    pins: dict[str, str],
    project: list[Entry],
    runtime: str,
    base_image: str,
) -> tuple[str, int]:
    """A Docker build context with fixed contents, modes and mtimes. Returns (its sha256, file count)."""
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "wheels").mkdir(parents=True)
    (partial / "Dockerfile").write_text(dockerfile_text(handlers, base_image))
    (partial / "requirements.txt").write_text(requirements_text(wheels, pins, runtime, sorted(handlers)))
    for wheel in wheels.values():
        _place_wheel(wheel, partial / "wheels" / wheel.name)
    for entry in project:
        target = partial / "app" / entry.arcname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(entry.data)
    # Docker keeps modes and mtimes in the layers it COPYs: fix them, deepest first so a folder's
    # mtime is set after its contents.
    for item in sorted(partial.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not item.is_dir():
            os.chmod(item, 0o644)
            os.utime(item, (FIXED_MTIME, FIXED_MTIME))
    for item in sorted((p for p in partial.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        os.chmod(item, 0o755)
        os.utime(item, (FIXED_MTIME, FIXED_MTIME))
    os.chmod(partial, 0o755)
    os.utime(partial, (FIXED_MTIME, FIXED_MTIME))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(partial, path)
    return context_digest(path)


def installed_bytes(wheels: Iterable[Path]) -> int:
    """What pip unpacks from the wheels (before bytecode)."""
    total = 0
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            total += sum(info.file_size for info in archive.infolist())
    return total


# ---------------------------------------------------------------- the build


@dataclass(frozen=True)
class Plan:
    task: str
    handler: str
    package: str  # "zip" or "image" (tasks/manifest.json)
    distributions: tuple[str, ...]  # sorted name==version


def plan(tasks: list[dict], lock: Lock | None = None) -> list[Plan]:
    lock = lock or Lock.read()
    allowed = lock.runtime(project_dependencies())
    plans = []
    for task in tasks:
        scan = scan_imports(task["handler"])
        if task["handler"].rpartition(".")[0] not in scan.modules:
            raise PackagingError(f"task {task['name']}: handler module of {task['handler']} does not exist")
        if scan.missing:
            raise PackagingError(
                f"task {task['name']}: its code imports project modules that do not exist: {sorted(scan.missing)}"
            )
        dists = lock.closure(distributions_for(scan.third_party), allowed)
        plans.append(
            Plan(
                task["name"], task["handler"], task["package"], tuple(sorted(f"{d}=={lock.versions[d]}" for d in dists))
            )
        )
    return plans


def artifact_name(distributions: tuple[str, ...], tasks: list[str]) -> str:
    """The task's name, or a content-addressed name for tasks that share one artifact."""
    if len(tasks) == 1:
        return tasks[0]
    digest = hashlib.sha256("\n".join(distributions).encode()).hexdigest()[:12]
    return f"shared-{digest}"


def image_tag(task: str, context_sha256: str) -> str:
    """Tags are immutable in the repository: each names the task and the context it was built from."""
    return f"{task}-{context_sha256[:12]}"


def build(
    out: Path = DEFAULT_OUT,
    runtime: str = DEFAULT_RUNTIME,
    only: Iterable[str] = (),
    cache: Path | None = None,
    log=print,
    base_image: str = LAMBDA_BASE_IMAGE,
) -> dict:
    """Zips into OUT, image build contexts into OUT/images/; build.json (full builds only)."""
    tasks = read_manifest()
    names = {t["name"] for t in tasks}
    only = list(only)
    if unknown := set(only) - names:
        raise PackagingError(f"no such task(s) in the manifest: {sorted(unknown)}; tasks are {sorted(names)}")
    if only:
        tasks = [t for t in tasks if t["name"] in only]
    log = log or (lambda _: None)
    cache = cache or out / ".wheels"
    plans = plan(tasks)
    python_version, arch, _ = RUNTIMES[runtime]
    if any(p.package == "image" for p in plans) and f"/lambda/python:{python_version}" not in base_image:
        raise PackagingError(
            f"the image base {base_image} is not AWS Lambda's Python {python_version} image "
            f"(public.ecr.aws/lambda/python:{python_version}@sha256:...), the runtime {runtime}."
        )
    handlers = {p.task: p.handler for p in plans}
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for p in plans:
        groups.setdefault((p.package, p.distributions), []).append(p.task)
    project = list(project_entries())
    result: dict = {
        "runtime": runtime,
        "architecture": arch,
        "python_version": python_version,
        "platforms": platform_tags(runtime),
        "base_image": base_image,
        "zips": {},
        "tasks": {},
        "images": {},
        "image_tasks": {},
    }
    for (package, dists), members in sorted(groups.items(), key=lambda kv: kv[1][0]):
        pins = dict(d.split("==") for d in dists)
        wheels = fetch_wheels(pins, runtime, cache)
        name = artifact_name(dists, members)
        if package == "zip":
            entries = [e for dist in sorted(wheels) for e in wheel_entries(wheels[dist])] + project
            unzipped, count = write_zip(entries, out / f"{name}.zip")
            hex_digest, b64_digest = file_hashes(out / f"{name}.zip")
            zipped = (out / f"{name}.zip").stat().st_size
            if unzipped > MAX_UNZIPPED_BYTES:
                (out / f"{name}.zip").unlink()
                raise PackagingError(
                    f"{name}.zip ({', '.join(members)}) unzips to {unzipped / 1e6:.1f} MB, over Lambda's "
                    f'{MAX_UNZIPPED_BYTES / 1e6:.0f} MB limit (code plus layers): set "package": "image" for '
                    f"{', '.join(members)} in tasks/manifest.json (a container image, up to 10 GB), or make its "
                    "handler import less."
                )
            result["zips"][f"{name}.zip"] = {
                "tasks": members,
                "distributions": list(dists),
                "files": count,
                "zipped_bytes": zipped,
                "unzipped_bytes": unzipped,
                "sha256": hex_digest,
                "sha256_base64": b64_digest,
            }
            for task in members:
                result["tasks"][task] = f"{name}.zip"
            log(
                f"{name + '.zip':28} {zipped / 1e6:7.1f} MB zipped {unzipped / 1e6:7.1f} MB unzipped  "
                f"{len(dists):3} distributions  {', '.join(members)}"
            )
        else:
            context = out / "images" / name
            sha, count = write_image_context(
                context, {t: handlers[t] for t in members}, wheels, pins, project, runtime, base_image
            )
            unpacked = installed_bytes(wheels.values()) + sum(len(e.data) for e in project)
            if unpacked > MAX_IMAGE_BYTES:
                raise PackagingError(
                    f"the image of {', '.join(members)} would hold {unpacked / 1e9:.1f} GB, over "
                    "Lambda's 10 GB limit for container images."
                )
            result["images"][name] = {
                "tasks": members,
                "distributions": list(dists),
                "files": count,
                "context": f"images/{name}",
                "sha256": sha,
                "wheel_bytes": sum(w.stat().st_size for w in wheels.values()),
                "unpacked_bytes": unpacked,
            }
            for task in members:
                result["image_tasks"][task] = {
                    "image": name,
                    "target": task,
                    "handler": handlers[task],
                    "tag": image_tag(task, sha),
                }
            log(
                f"{'images/' + name + '/':28} {result['images'][name]['wheel_bytes'] / 1e6:7.1f} MB wheels "
                f"{unpacked / 1e6:7.1f} MB unpacked  {len(dists):3} distributions  {', '.join(members)}  "
                f"(container image)"
            )
    if not only:
        for stale in set(out.glob("*.zip")) - {out / n for n in result["zips"]}:
            stale.unlink()
        images = out / "images"
        if images.is_dir():
            for stale in {p for p in images.iterdir() if p.is_dir()} - {images / n for n in result["images"]}:
                shutil.rmtree(stale)
            if not result["images"]:
                (images / "push.sh").unlink(missing_ok=True)
        if result["images"]:
            (images / "push.sh").write_text(push_script(result, out))
        (out / "build.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


# ---------------------------------------------------------------- building and pushing the images


def _shown(path: Path) -> str:
    """A path as the user types it from the repository root."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path.resolve())


def docker_build_commands(result: dict, out: Path) -> list[str]:
    commands = []
    for _task, image in sorted(result["image_tasks"].items()):
        context = _shown(out / result["images"][image["image"]]["context"])
        commands.append(
            f"docker buildx build --platform linux/amd64 --provenance=false --load "
            f"--target {image['target']} -t {LOCAL_IMAGE_NAME}:{image['tag']} {shlex.quote(context)}"
        )
    return commands


def push_script(result: dict, out: Path) -> str:
    """The commands that build the images, push them to the ECR repository Terraform creates and
    record their digests for Terraform (ENV_DIR/lambda_images.auto.tfvars.json)."""
    tasks = sorted(result["image_tasks"])
    lines = [
        "#!/bin/sh",
        "# Build the Lambda container images, push them to the ECR repository Terraform creates, and record",
        "# their digests for Terraform. Written by make package (scripts/package_lambdas.py).",
        "# Needs Docker 23+ (buildx), the AWS CLI v2 and Terraform; run from the repository root:",
        f"#   sh {_shown(out / 'images' / 'push.sh')} [infra/envs/dev]",
        "set -eu",
        'ENV_DIR="${1:-infra/envs/dev}"',
        'test -f tasks/manifest.json || { echo "run this from the repository root" >&2; exit 1; }',
        "",
        "# 1. The repository (a no-op once it exists). The functions of these tasks need their images before",
        "#    Terraform can create them, so this first apply creates only the repository and its key.",
        'terraform -chdir="$ENV_DIR" init -input=false >/dev/null',
        'terraform -chdir="$ENV_DIR" apply -target=module.clickstream.module.lambda_images',
        'REPO="$(terraform -chdir="$ENV_DIR" output -raw lambda_image_repository_url)"',
        'REGISTRY="${REPO%%/*}"',
        'REPO_NAME="${REPO#*/}"',
        'REGION="$(echo "$REGISTRY" | cut -d. -f4)"',
        'aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"',
        "",
        "# 2. Build, tag and push each task's image. Tags are immutable: a tag already in the repository",
        "#    (the same build context) is not pushed again.",
        "pushed() {",
        '  aws ecr describe-images --region "$REGION" --repository-name "$REPO_NAME" --image-ids imageTag="$1" \\',
        "    >/dev/null 2>&1",
        "}",
    ]
    for command, task in zip(docker_build_commands(result, out), tasks, strict=True):
        tag = result["image_tasks"][task]["tag"]
        lines += [
            command,
            f'docker tag {LOCAL_IMAGE_NAME}:{tag} "$REPO:{tag}"',
            f'pushed {tag} || docker push "$REPO:{tag}"',
        ]
    lines += [
        "",
        "# 3. The digests Terraform deploys (variable lambda_image_uris).",
        "digest() {",
        '  aws ecr describe-images --region "$REGION" --repository-name "$REPO_NAME" --image-ids imageTag="$1" \\',
        "    --query 'imageDetails[0].imageDigest' --output text",
        "}",
        'cat > "$ENV_DIR/lambda_images.auto.tfvars.json" <<EOF',
        "{",
        '  "lambda_image_uris": {',
    ]
    for index, task in enumerate(tasks):
        comma = "," if index < len(tasks) - 1 else ""
        lines.append(f'    "{task}": "$REPO@$(digest {result["image_tasks"][task]["tag"]})"{comma}')
    lines += [
        "  }",
        "}",
        "EOF",
        'echo "wrote $ENV_DIR/lambda_images.auto.tfvars.json; next: terraform -chdir=$ENV_DIR plan -out tfplan '
        '&& terraform -chdir=$ENV_DIR apply tfplan"',
    ]
    return "\n".join(lines) + "\n"


def docker_engine() -> bool:
    """Whether a Docker engine answers (a docker client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def build_images(result: dict, out: Path, log=print) -> None:
    """docker buildx build each image task (only where a Docker engine answers)."""
    for command in docker_build_commands(result, out):
        log(f"$ {command}")
        done = subprocess.run(shlex.split(command), cwd=ROOT)
        if done.returncode != 0:
            raise PackagingError(f"docker build failed: {command}")


def report_images(result: dict, out: Path, built: bool, log=print) -> None:
    script = out / "images" / "push.sh"
    tasks = ", ".join(sorted(result["image_tasks"]))
    if built:
        log(f"\nBuilt the container images of {tasks}. Push them and record their digests for Terraform:")
    else:
        log(
            f"\nNo Docker engine answers here, so the container images of {tasks} are not built. Their build "
            f"context is ready; on a machine with Docker 23+ (buildx), the AWS CLI v2 and Terraform, from the "
            f"repository root, run\n\n    sh {_shown(script)} infra/envs/dev\n\nwhich runs these commands:"
        )
    log("")
    log(script.read_text())


# ---------------------------------------------------------------- the dashboard bundle


def build_dashboard(out: Path = DASHBOARD_OUT, log=print) -> Path:
    """dist/dashboard/dashboard.zip: shiny/, src/clickstream and a pinned requirements.txt.

    The warehouse host (infra/scripts/ec2-setup.sh) unpacks it and installs the requirements
    into its own venv; the pins come from requirements.lock like everything else.
    """
    app = DASHBOARD_DIR / "app.py"
    if not app.is_file():
        raise PackagingError(f"{app} does not exist: the dashboard bundle needs the Shiny app (shiny/app.py)")
    roots = {p.stem: DASHBOARD_DIR for p in DASHBOARD_DIR.glob("*.py")} | {
        p.name: DASHBOARD_DIR for p in DASHBOARD_DIR.iterdir() if (p / "__init__.py").is_file()
    }
    roots |= {"clickstream": ROOT / "src"}
    lock = Lock.read()
    third_party: set[str] = set()
    for module in sorted(roots):
        if roots[module] == DASHBOARD_DIR:
            scan = scan_imports(f"{module}.app", roots)
            if scan.missing:
                raise PackagingError(f"the dashboard imports project modules that do not exist: {sorted(scan.missing)}")
            third_party |= scan.third_party
    dists = lock.closure(distributions_for(third_party), set(lock.versions))
    requirements = "".join(f"{d}=={lock.versions[d]}\n" for d in sorted(dists)).encode()
    entries = [Entry("requirements.txt", requirements)]
    for path in sorted(DASHBOARD_DIR.rglob("*")):
        arcname = f"shiny/{path.relative_to(DASHBOARD_DIR).as_posix()}"
        if path.is_file() and not _pruned(arcname):
            entries.append(Entry(arcname, path.read_bytes()))
    entries += [Entry(f"src/{e.arcname}", e.data) for e in project_entries() if e.arcname.startswith("clickstream/")]
    target = out / "dashboard.zip"
    unzipped, count = write_zip(entries, target)
    log(
        f"{'dashboard.zip':28} {target.stat().st_size / 1e6:7.1f} MB zipped {unzipped / 1e6:7.1f} MB unzipped  "
        f"{len(dists):3} requirements"
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default dist/lambda)")
    parser.add_argument(
        "--runtime",
        choices=sorted(RUNTIMES),
        default=DEFAULT_RUNTIME,
        help="Lambda runtime the wheels must load on (default %(default)s)",
    )
    parser.add_argument(
        "--task",
        action="append",
        default=[],
        help="build only this task (repeatable); build.json is written only by a full build",
    )
    parser.add_argument("--wheel-cache", type=Path, help="where downloaded wheels are kept (default OUT/.wheels)")
    parser.add_argument(
        "--base-image",
        default=LAMBDA_BASE_IMAGE,
        help="base of the container images, pinned by digest (default %(default)s)",
    )
    parser.add_argument(
        "--no-docker",
        action="store_true",
        help="write the image build contexts but do not build them, even where Docker answers",
    )
    parser.add_argument("--no-dashboard", action="store_true", help="skip dist/dashboard/dashboard.zip")
    args = parser.parse_args(argv)
    try:
        result = build(args.out, args.runtime, args.task, args.wheel_cache, base_image=args.base_image)
        if result["image_tasks"] and not args.task:
            built = not args.no_docker and docker_engine()
            if built:
                build_images(result, args.out)
            report_images(result, args.out, built)
        if not args.task and not args.no_dashboard:
            build_dashboard()
    except PackagingError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
