"""Build the Lambda deployment zips and the dashboard bundle, reproducibly: `python scripts/package_lambdas.py`.

Every task in `tasks/manifest.json` gets a zip holding exactly what its handler imports:

1. the handler's import closure is read from the source (AST, no import is executed): the
   project modules it reaches and the third-party top-level names they import;
2. those names become distributions (the installed metadata of this venv), and the
   distributions grow to their runtime closure from `requirements.lock` (its "via" graph),
   never reaching the `local`/`dev` extras;
3. each distribution is fetched as a wheel for the Lambda platform (`pip download
   --only-binary=:all: --platform ... --python-version ... --implementation cp`) into a
   cache, and unpacked by this script (a wheel is a zip; no pip install, no scripts, no .pyc);
4. the zip gets `src/clickstream`, `tasks/` and `quality/` beside the libraries, entries
   sorted, every timestamp 1980-01-01, modes 0644/0755, one compression level: the same
   inputs give the same bytes.

Tasks whose closures are equal share one zip (content-addressed name). `dist/lambda/build.json`
maps each task to its zip, with sizes and the base64 SHA-256 Terraform compares. Terraform
only reads these files; it never runs pip.

The platform follows the Lambda runtime: `python3.11` runs on Amazon Linux 2 (glibc 2.26), so
only wheels tagged manylinux2014/manylinux_2_17 ... manylinux_2_26 load there; `python3.12`
and later run on Amazon Linux 2023 (glibc 2.34).
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

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
DEFAULT_RUNTIME = "python3.11"

# Lambda's hard limit: function code plus all its layers, unzipped.
MAX_UNZIPPED_BYTES = 262_144_000
# Lambda's limit for a zip uploaded directly; larger ones must go through S3 (infra does that always).
MAX_DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024

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
    return json.loads(path.read_text())["tasks"]


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
    _, arch, (major, minor) = RUNTIMES[runtime]
    tags = [f"manylinux2014_{arch}"]
    tags += [f"manylinux_{major}_{m}_{arch}" for m in range(17, minor + 1)]
    return tags


def _wheel_matches(path: Path, name: str, version: str) -> bool:
    dist, _, rest = path.name.partition("-")
    return normalize(dist) == name and rest.startswith(f"{version}-")


def fetch_wheels(pins: dict[str, str], runtime: str, cache: Path) -> dict[str, Path]:
    """One wheel per pin for the runtime's platform, downloaded once into the cache."""
    python_version, _, _ = RUNTIMES[runtime]
    target = cache / runtime
    target.mkdir(parents=True, exist_ok=True)
    wanted = {name: version for name, version in pins.items()
              if not any(_wheel_matches(p, name, version) for p in target.glob("*.whl"))}
    if wanted:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                   "--no-deps", "--only-binary=:all:", "--implementation", "cp",
                   "--python-version", python_version, "--dest", str(target)]
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
    """The wheel pip would pick among several in the cache: the most specific compatible tag."""
    python_version, _, _ = RUNTIMES[runtime]
    cp = "cp" + python_version.replace(".", "")
    tags = set(platform_tags(runtime)) | {"any"}

    def compatible(path: Path) -> bool:
        parts = path.stem.split("-")
        pythons, abis, platforms = parts[-3].split("."), parts[-2].split("."), parts[-1].split(".")
        py_ok = any(p in (cp, "py3", "py2.py3") or (p.startswith("cp3") and "abi3" in abis and int(p[3:]) <= int(cp[3:]))
                    for p in pythons)
        return py_ok and any(p in tags for p in platforms)

    usable = [c for c in candidates if compatible(c)]
    if not usable:
        raise PackagingError(f"none of {[c.name for c in candidates]} loads on {runtime}")
    return usable[0]


def _explain_download_failure(stderr: str, wanted: dict[str, str], runtime: str) -> str:
    python_version, arch, (major, minor) = RUNTIMES[runtime]
    missing = re.findall(r"No matching distribution found for (\S+)", stderr)
    return (
        f"pip found no wheel of {', '.join(missing) or sorted(wanted)} for Lambda {runtime} "
        f"(CPython {python_version}, {arch}, glibc {major}.{minor}: wheels tagged manylinux_2_17 ... "
        f"manylinux_2_{minor}). Those versions publish only wheels for a newer glibc, which would fail to "
        f"load on Lambda. Either pin versions that still ship manylinux2014 wheels for Python {python_version}, "
        f"or build for a runtime on Amazon Linux 2023 (--runtime python3.12) (Terraform deploys whatever runtime dist/lambda/build.json records).\n"
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


# ---------------------------------------------------------------- the build


@dataclass(frozen=True)
class Plan:
    task: str
    handler: str
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
            raise PackagingError(f"task {task['name']}: its code imports project modules that do not exist: "
                                 f"{sorted(scan.missing)}")
        dists = lock.closure(distributions_for(scan.third_party), allowed)
        plans.append(Plan(task["name"], task["handler"], tuple(sorted(f"{d}=={lock.versions[d]}" for d in dists))))
    return plans


def zip_name(distributions: tuple[str, ...], tasks: list[str]) -> str:
    if len(tasks) == 1:
        return f"{tasks[0]}.zip"
    digest = hashlib.sha256("\n".join(distributions).encode()).hexdigest()[:12]
    return f"shared-{digest}.zip"


def build(out: Path = DEFAULT_OUT, runtime: str = DEFAULT_RUNTIME, only: Iterable[str] = (),
          cache: Path | None = None, log=print) -> dict:
    tasks = read_manifest()
    names = {t["name"] for t in tasks}
    only = list(only)
    if unknown := set(only) - names:
        raise PackagingError(f"no such task(s) in the manifest: {sorted(unknown)}; tasks are {sorted(names)}")
    if only:
        tasks = [t for t in tasks if t["name"] in only]
    cache = cache or out / ".wheels"
    plans = plan(tasks)
    groups: dict[tuple[str, ...], list[str]] = {}
    for p in plans:
        groups.setdefault(p.distributions, []).append(p.task)
    project = list(project_entries())
    python_version, arch, _ = RUNTIMES[runtime]
    result: dict = {"runtime": runtime, "architecture": arch, "python_version": python_version,
                    "platforms": platform_tags(runtime), "zips": {}, "tasks": {}}
    for dists, members in sorted(groups.items(), key=lambda kv: kv[1][0]):
        pins = dict(d.split("==") for d in dists)
        wheels = fetch_wheels(pins, runtime, cache)
        entries = [e for name in sorted(wheels) for e in wheel_entries(wheels[name])] + project
        name = zip_name(dists, members)
        unzipped, count = write_zip(entries, out / name)
        hex_digest, b64_digest = file_hashes(out / name)
        zipped = (out / name).stat().st_size
        if unzipped > MAX_UNZIPPED_BYTES:
            raise PackagingError(f"{name} ({', '.join(members)}) unzips to {unzipped / 1e6:.1f} MB, over Lambda's "
                                 f"{MAX_UNZIPPED_BYTES / 1e6:.0f} MB limit (code plus layers).")
        result["zips"][name] = {"tasks": members, "distributions": list(dists), "files": count,
                                "zipped_bytes": zipped, "unzipped_bytes": unzipped,
                                "sha256": hex_digest, "sha256_base64": b64_digest}
        for task in members:
            result["tasks"][task] = name
        log(f"{name:28} {zipped / 1e6:7.1f} MB zipped {unzipped / 1e6:7.1f} MB unzipped  "
            f"{len(dists):3} distributions  {', '.join(members)}")
    if not only:
        for stale in set(out.glob("*.zip")) - {out / n for n in result["zips"]}:
            stale.unlink()
        (out / "build.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


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
        p.name: DASHBOARD_DIR for p in DASHBOARD_DIR.iterdir() if (p / "__init__.py").is_file()}
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
    log(f"{'dashboard.zip':28} {target.stat().st_size / 1e6:7.1f} MB zipped {unzipped / 1e6:7.1f} MB unzipped  "
        f"{len(dists):3} requirements")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default dist/lambda)")
    parser.add_argument("--runtime", choices=sorted(RUNTIMES), default=DEFAULT_RUNTIME,
                        help="Lambda runtime the wheels must load on (default %(default)s)")
    parser.add_argument("--task", action="append", default=[], help="build only this task (repeatable); "
                        "build.json is written only by a full build")
    parser.add_argument("--wheel-cache", type=Path, help="where downloaded wheels are kept (default OUT/.wheels)")
    parser.add_argument("--no-dashboard", action="store_true", help="skip dist/dashboard/dashboard.zip")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.runtime, args.task, args.wheel_cache)
        if not args.task and not args.no_dashboard:
            build_dashboard()
    except PackagingError as exc:
        print(f"package: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
