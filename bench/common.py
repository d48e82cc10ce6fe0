"""Shared pieces of the harness: the machine and versions, statistics, tables, local services."""

from __future__ import annotations

import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CACHE = Path(os.environ.get("BENCH_CACHE", Path(tempfile.gettempdir()) / "clickstream-bench-cache"))
PACKAGES = ("pyarrow", "psycopg2-binary", "adbc-driver-postgresql", "pandas", "moto", "boto3", "msgspec", "isal",
            "great-expectations", "pgserver", "polars", "duckdb")


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    with suppress(ValueError, OSError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    return {"hostname": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "platform": platform.platform(), "python": sys.version.split()[0],
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        out["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "tasks", "quality"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        out["git_dirty_src"] = "yes" if dirty else "no"
    except (OSError, subprocess.CalledProcessError):
        out["git_commit"] = None
    return out


def summary(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, min, max and every run (the figures the results file keeps)."""
    vals = [float(v) for v in values]
    return {"median": round(statistics.median(vals), digits), "min": round(min(vals), digits),
            "max": round(max(vals), digits), "runs": [round(v, digits) for v in vals]}


def percentile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def self_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    for row in cells[1:]:
        lines.append("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)))
    text = "\n".join(lines)
    print("\n" + text, flush=True)
    return text


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 0.01 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-.") and text != "-" or text.endswith("x")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Services:
    """A moto server and an embedded PostgreSQL on 127.0.0.1, with the stack's buckets."""

    aws: Any
    resources: Any
    pg: Any
    admin_url: str  # the `postgres` database, for CREATE/DROP DATABASE

    def database_url(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()

    def etl_env(self, database_url: str) -> dict[str, str]:
        from clickstream.local.aws import LOCAL_CREDENTIALS

        r = self.resources
        return {**LOCAL_CREDENTIALS, "AWS_REGION": r.region, "AWS_DEFAULT_REGION": r.region,
                "AWS_ENDPOINT_URL": r.aws_endpoint_url, "RAW_BUCKET": r.raw_bucket,
                "PROCESSED_BUCKET": r.processed_bucket, "QUARANTINE_BUCKET": r.quarantine_bucket,
                "DATABASE_URL": database_url, "POWERTOOLS_METRICS_NAMESPACE": "clickstream-bench",
                "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_SERVICE_NAME": "clickstream-bench"}


@contextmanager
def local_services(workdir: Path) -> Iterator[Services]:
    """moto (this process, a thread) + embedded PostgreSQL (its own processes), torn down after."""
    import logging

    from clickstream.local.aws import LocalAws
    from clickstream.local.postgres import EmbeddedPostgres

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log: one line a request
    aws = LocalAws(port=free_port())
    aws.start()
    pg = EmbeddedPostgres(data_dir=workdir / "pg", port=free_port(), database="postgres")
    try:
        started = time.perf_counter()
        admin = pg.start()
        _tune_postgres(admin)
        print(f"local services: moto {aws.endpoint_url}, PostgreSQL {admin} ({time.perf_counter() - started:.1f} s)",
              flush=True)
        yield Services(aws=aws, resources=aws.provision(prefix="bench"), pg=pg, admin_url=admin)
    finally:
        pg.stop()
        aws.stop()


def _tune_postgres(url: str) -> None:
    """Nothing beyond PostgreSQL's defaults except what the embedded runtime sets; recorded, not tuned."""
    return None


def write_results(results: dict[str, Any], name: str = "latest.json") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
    return path
