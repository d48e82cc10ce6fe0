"""Ingest benchmark.

1. Handler: events per second per core through `IngestService.ingest` for 50-event batches
   (validation + enrichment + serialisation + gzip), with an in-memory sink; the S3 put is
   timed separately against the local S3 (moto). The figure is CPU time of the calling thread
   (`time.thread_time`), so time the thread waits for a core does not count; wall time is
   reported beside it. One service handles every pass, as one warm Lambda instance would: the
   first pass (cold: every distinct User-Agent is a cache miss once) is reported on its own, and
   the headline is the median of at least `MIN_PASSES` further passes, each short, so a burst of
   other load on the machine spoils a few passes rather than the median. A per-stage breakdown
   (µs per event) times parse, validation and gzip alone on the same requests.
2. HTTP: p50/p99 of `POST /v1/events` through `LocalApiFront` → the real Lambda handler
   (`tasks.ingest.lambda_handler`) → moto S3, under a bounded closed-loop load from `wrk`
   (Debian) on 127.0.0.1, or a small Python load loop when wrk is absent. At most 60 s.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import rawdata
from bench.common import Services, free_port, percentile, summary, table


def _requests(n_events: int) -> list[Any]:
    return [rawdata.ingest_request(request) for request in rawdata.packed_requests(n_events)]


MIN_PASSES = 7


def _timed_pass(service: Any, reqs: list[Any]) -> tuple[float, float]:
    """CPU (this thread) and wall seconds for one pass of every request through the handler."""
    ingest = service.ingest
    wall, cpu = time.perf_counter(), time.thread_time()
    for r in reqs:
        ingest(r)
    return time.thread_time() - cpu, time.perf_counter() - wall


def _stage_seconds(fn: Any, items: list[Any], repeat: int = 3) -> float:
    """Median CPU seconds of `fn` over every item."""
    times = []
    for _ in range(repeat):
        cpu = time.thread_time()
        for item in items:
            fn(item)
        times.append(time.thread_time() - cpu)
    return statistics.median(times)


def breakdown(reqs: list[Any], raw_objects: list[tuple[str, bytes]], events: int, total_us: float) -> dict[str, float]:
    """µs per event of the handler's stages, each timed alone on the same requests; `other` is
    the rest of the handler's time (enrichment, the server part of each line, per-request work)."""
    from clickstream.ingest.sink import gunzip_lines, gzip_lines
    from clickstream.schema import BatchRejected, parse_batch, validate_event

    def parse(r: Any) -> Any:
        try:
            return parse_batch(r.body)
        except BatchRejected:
            return []

    batches = [(r.received_at, parse(r)) for r in reqs]
    line_sets = [gunzip_lines(body) for _, body in raw_objects]

    def validate(batch: tuple[Any, list[Any]]) -> None:
        received_at, raws = batch
        for raw in raws:
            validate_event(raw, received_at=received_at)

    stages = {
        "parse_batch": _stage_seconds(parse, reqs),
        "validate_event": _stage_seconds(validate, batches),
        "gzip": _stage_seconds(gzip_lines, line_sets),
    }
    out = {name: round(seconds / events * 1e6, 2) for name, seconds in stages.items()}
    out["other"] = round(total_us - sum(out.values()), 2)
    return out


def handler_throughput(n_events: int, runs: int) -> dict[str, Any]:
    reqs = _requests(n_events)
    events = n_events
    passes = max(runs, MIN_PASSES)
    sink = rawdata.MemorySink()
    service = rawdata.memory_service(sink)
    cold_cpu, cold_wall = _timed_pass(service, reqs)
    cpu_s, wall_s = [], []
    for _ in range(passes):
        sink.raw.clear()
        sink.quarantine.clear()
        cpu, wall = _timed_pass(service, reqs)
        cpu_s.append(cpu)
        wall_s.append(wall)
    us_per_event = summary([c / events * 1e6 for c in cpu_s], 2)
    return {"events": events, "batch_events": rawdata.BATCH_EVENTS, "requests": len(reqs), "passes": passes,
            "clock": "CPU time of the benchmark thread (time.thread_time); wall time beside it",
            "events_per_s_per_core": summary([events / c for c in cpu_s], 0),
            "us_per_event": us_per_event,
            "events_per_s_wall": summary([events / w for w in wall_s], 0),
            "us_per_event_wall": summary([w / events * 1e6 for w in wall_s], 2),
            "cold_first_pass": {"events_per_s_per_core": round(events / cold_cpu),
                                "us_per_event": round(cold_cpu / events * 1e6, 2),
                                "events_per_s_wall": round(events / cold_wall)},
            "breakdown_us_per_event": breakdown(reqs, sink.raw, events, us_per_event["median"]),
            "raw_objects_per_run": len(sink.raw), "gzip_bytes_per_event": sum(len(b) for _, b in sink.raw) / events,
            "_bodies": list(sink.raw)}


def s3_put_latency(services: Services, bodies: list[tuple[str, bytes]], count: int) -> dict[str, Any]:
    s3 = services.aws.clients().s3()
    bucket = services.resources.raw_bucket
    lat = []
    for key, body in bodies[:count]:
        t = time.perf_counter()
        s3.put_object(Bucket=bucket, Key="ingest-bench/" + key, Body=body, ContentType="application/gzip")
        lat.append((time.perf_counter() - t) * 1000)
    return {"puts": len(lat), "p50_ms": round(percentile(lat, 0.5), 2), "p99_ms": round(percentile(lat, 0.99), 2),
            "where": "local moto server (not AWS S3)"}


_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
"""


def _unit_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v if u == "ms" else v * 1000 if u == "s" else v * 60000


def http_latency(services: Services, seconds: int, connections: int) -> dict[str, Any]:
    from clickstream.demo.traffic import generate_requests
    from clickstream.local.aws import ingest_environment
    from clickstream.local.front import LocalApiFront, TokenBucket

    seconds = min(seconds, 60)
    os.environ.update(ingest_environment(services.resources, cors_allow_origins=""))
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "clickstream-bench")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # one EMF line a request on stdout otherwise
    from tasks.ingest import lambda_handler  # after the environment: settings are read once

    # One 50-event body of the previous hour (events older than 72 h would be rejected as stale).
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    events: list[dict[str, Any]] = []
    for request in generate_requests(400, seed=11, hour=hour):
        events.extend(e for i, e in enumerate(request.events) if i not in request.rejections)
    import msgspec

    body = msgspec.json.encode({"events": events[:50]})
    # A throttle well above what one local handler can serve: latency, not 429s, is measured.
    front = LocalApiFront(lambda_handler, port=free_port(), throttle=TokenBucket(rate_per_s=1e6, burst=10**6))
    url = front.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10)
        conn.request("POST", "/v1/events", body=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
        first = conn.getresponse()
        answer = first.read()
        conn.close()
        if first.status != 200:
            raise RuntimeError(f"the front answered {first.status}: {answer[:300]!r}")
        if shutil.which("wrk"):
            out = _wrk(url, body, seconds, connections)
        else:
            out = _python_load(url, body, seconds, connections)
    finally:
        front.stop()
    out.update({"body_events": 50, "body_bytes": len(body), "connections": connections, "duration_s": seconds})
    return out


def _wrk(url: str, body: bytes, seconds: int, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        body_path = Path(d) / "body.json"
        body_path.write_bytes(body)
        script = Path(d) / "post.lua"
        script.write_text(_LUA.replace("{body}", str(body_path)))
        proc = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                               url + "/v1/events"], capture_output=True, text=True, timeout=seconds + 30)
    text = proc.stdout
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    version = (subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split() or ["", "?"])[1]
    return {"tool": f"wrk {version}",
            "p50_ms": _unit_ms(pct.get("50", "")), "p90_ms": _unit_ms(pct.get("90", "")),
            "p99_ms": _unit_ms(pct.get("99", "")), "requests_per_s": float(rps.group(1)) if rps else None,
            "requests": int(total.group(1)) if total else None, "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "raw": text}


def _python_load(url: str, body: bytes, seconds: int, connections: int) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    deadline = time.perf_counter() + seconds
    lat: list[float] = []
    bad = [0]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            conn.request("POST", "/v1/events", body=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
            r = conn.getresponse()
            r.read()
            mine.append((time.perf_counter() - t) * 1000)
            if r.status != 200:
                bad[0] += 1
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"tool": "python http.client loop (wrk not installed)", "p50_ms": percentile(lat, 0.5),
            "p90_ms": percentile(lat, 0.9), "p99_ms": percentile(lat, 0.99), "requests_per_s": len(lat) / seconds,
            "requests": len(lat), "non_2xx": bad[0]}


def run(services: Services, *, events: int, runs: int, http_seconds: int, connections: int) -> dict[str, Any]:
    h = handler_throughput(events, runs)
    bodies = h.pop("_bodies")
    put = s3_put_latency(services, bodies, 300)
    web = http_latency(services, http_seconds, connections)
    raw = web.pop("raw", "")
    parts = h["breakdown_us_per_event"]
    table("Ingest", ["what", "value"], [
        [f"handler, {rawdata.BATCH_EVENTS}-event batches: events/s per core, CPU time (median of {h['passes']})",
         h["events_per_s_per_core"]["median"]],
        ["handler µs per event, CPU time (median; min-max)",
         f"{h['us_per_event']['median']} ({h['us_per_event']['min']}-{h['us_per_event']['max']})"],
        ["handler events/s, wall time (median; min-max)",
         f"{h['events_per_s_wall']['median']:,.0f} ({h['events_per_s_wall']['min']:,.0f}-"
         f"{h['events_per_s_wall']['max']:,.0f})"],
        ["handler first pass, cold User-Agent cache: events/s per core", h["cold_first_pass"]["events_per_s_per_core"]],
        ["handler µs per event by stage", ", ".join(f"{k} {v}" for k, v in parts.items())],
        ["S3 put of one batch, p50 / p99 ms (local moto)", f"{put['p50_ms']} / {put['p99_ms']}"],
        [f"POST /v1/events via LocalApiFront, {web['tool'].split(' (')[0]}, {connections} conns, {web['duration_s']} s: "
         "p50 / p90 / p99 ms", f"{web['p50_ms']:.1f} / {web['p90_ms']:.1f} / {web['p99_ms']:.1f}"],
        ["requests/s (non-2xx)", f"{web['requests_per_s']:.0f} ({web['non_2xx']})"],
    ])
    return {"handler": h, "s3_put": put, "http": web, "wrk_output": raw}
