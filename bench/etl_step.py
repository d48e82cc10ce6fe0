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
import time

PRE_IMPORTS = {
    "list": ("clickstream.etl.listing",),
    "clean": ("clickstream.etl.clean",),
    "quality": ("clickstream.quality", "clickstream.warehouse.runs"),
    "load": ("clickstream.warehouse.load", "clickstream.warehouse.runs"),
    "refresh": ("clickstream.warehouse.rollups", "clickstream.warehouse.runs"),
}


def _hwm_mb() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss is not used: Linux carries it over fork and
    exec, so a child started by a big parent reports the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    import_s = time.perf_counter() - t0
    rss_imported = _hwm_mb()
    calls = []
    fn = getattr(pipeline, f"{step}_step")
    for kwargs in spec["calls"]:
        marks.clear()
        start_wall, start, cpu = time.time(), time.perf_counter(), time.process_time()
        result = fn(**kwargs, deps=deps)
        end = time.perf_counter()
        calls.append({"start": start_wall, "end": start_wall + (end - start), "seconds": end - start,
                      "cpu_s": time.process_time() - cpu, "result": result,
                      "marks": {k: v - start for k, v in marks.items()}})
    out = {"step": step, "import_s": import_s, "calls": calls,
           "peak_rss_mb": _hwm_mb(), "rss_after_import_mb": rss_imported, "rss_at_start_mb": rss0}
    with open(out_path, "w") as f:
        json.dump(out, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
