"""One ETL step in its own process, as one warm Lambda invocation: `python -m bench.etl_step SPEC OUT`.

SPEC is a JSON file {"step": ..., "calls": [{...kwargs...}, ...], "env": {...}}; each call runs
`clickstream.etl.pipeline.<step>_step` once (several calls = the same warm container reused,
as the Map's workers are). Modules are imported before the clock starts (a warm start); the
import time is reported apart. OUT receives per-call spans, results and the process's peak RSS.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import threading
import time
from typing import Any

PRE_IMPORTS = {
    "list": ("clickstream.etl.listing",),
    "clean": ("clickstream.etl.clean",),
    "quality": ("clickstream.quality", "clickstream.warehouse.runs"),
    "load": ("clickstream.warehouse.load", "clickstream.warehouse.runs"),
    "refresh": ("clickstream.warehouse.rollups", "clickstream.warehouse.runs"),
    "fetch_raw": ("clickstream.etl.s3io",),
}


def _hwm_mb() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss is not used: Linux carries it over fork and
    exec, so a child started by a big parent reports the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class S3Calls:
    """Time spent inside S3 API calls, by operation (botocore's before-call/after-call events).

    With the local runtime these calls are served by moto, a Python emulator; on AWS the same
    calls cost S3's latency instead. Threads overlap, so the sum can exceed the wall time."""

    def __init__(self, client: Any) -> None:
        self._lock = threading.Lock()
        self.by_op: dict[str, list[float]] = {}  # operation -> [calls, seconds]
        client.meta.events.register("before-call.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        elapsed = time.perf_counter() - context.get("bench_started", time.perf_counter())
        with self._lock:
            entry = self.by_op.setdefault(model.name, [0, 0.0])
            entry[0] += 1
            entry[1] += elapsed

    def take(self) -> dict[str, Any]:
        with self._lock:
            out = {
                "calls": sum(int(v[0]) for v in self.by_op.values()),
                "seconds": round(sum(v[1] for v in self.by_op.values()), 3),
                "by_operation": {k: {"calls": int(v[0]), "seconds": round(v[1], 3)} for k, v in self.by_op.items()},
            }
            self.by_op = {}
        return out


def fetch_raw(keys: list[str], deps: Any) -> dict[str, Any]:
    """GET raw objects exactly as the clean step does (same client, fetcher and threads), and
    nothing else: how long the local S3 alone takes to serve the hour's raw layer."""
    from clickstream.etl import s3io

    fetched = sum(len(body) for _, body in s3io.fetch_many(
        lambda key: s3io.get_bytes(deps.s3, deps.settings.raw_bucket, key), keys))
    return {"objects": len(keys), "bytes": fetched}


def main(spec_path: str, out_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    os.environ.update(spec["env"])
    t0 = time.perf_counter()
    rss0 = _hwm_mb()
    from clickstream.etl import pipeline

    step = spec["step"]
    for module in PRE_IMPORTS.get(step, ()):  # a warm container: the step's modules loaded before the clock
        importlib.import_module(module)
    marks: dict[str, float] = {}
    if step == "load":  # the load's own checkpoints (the hooks fault injection uses), as sub-stage times
        pipeline._fault = lambda _point: (lambda reached: marks.setdefault(reached, time.perf_counter()))
    deps = pipeline.EtlDeps.from_settings(pipeline.EtlSettings.from_env())
    if step == "quality":  # what tasks/check_quality.py does at init: GX context and suites built once
        from clickstream.quality import prepare

        prepare(deps.settings.quality_suites_dir)
    if step in ("quality", "load", "refresh"):
        with deps.connection():  # migrations once per process, as in a warm container
            pass
    s3_calls = S3Calls(deps.s3)
    import_s = time.perf_counter() - t0
    rss_imported = _hwm_mb()
    calls = []
    fn = fetch_raw if step == "fetch_raw" else getattr(pipeline, f"{step}_step")
    for kwargs in spec["calls"]:
        marks.clear()
        start_wall, start, cpu = time.time(), time.perf_counter(), time.process_time()
        s3_calls.take()
        result = fn(**kwargs, deps=deps)
        end = time.perf_counter()
        calls.append(
            {
                "start": start_wall,
                "end": start_wall + (end - start),
                "seconds": end - start,
                "cpu_s": time.process_time() - cpu,
                "result": result,
                "marks": {k: v - start for k, v in marks.items()},
                "s3": s3_calls.take(),
            }
        )
    out = {
        "step": step,
        "import_s": import_s,
        "calls": calls,
        "peak_rss_mb": _hwm_mb(),
        "rss_after_import_mb": rss_imported,
        "rss_at_start_mb": rss0,
    }
    with open(out_path, "w") as f:
        json.dump(out, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
