"""The benchmark hour's raw objects: generated traffic fed through the real ingest service.

`generate_requests(n)` (the traffic the demo seeds, with duplicates, late, bad and bot events
and ~300 user agents) at 50 events a request goes through `IngestService.ingest` with an
in-memory sink, so validation, enrichment, serialisation and gzip run exactly as in the
Lambda; the S3 puts are done (and timed) afterwards. The handler time measured here is
the ingest benchmark's "in the ETL data set" figure. Objects are cached on disk by size,
seed and a hash of the code that makes them, so repeated runs skip generation.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bench.common import CACHE, ROOT
from clickstream.layout import Hour

BATCH_EVENTS = 50
SEED = 7


@dataclass
class MemorySink:
    """The `EventSink` protocol in memory: the same gzip bytes S3EventSink would put."""

    raw: list[tuple[str, bytes]] = field(default_factory=list)
    quarantine: list[tuple[str, bytes]] = field(default_factory=list)

    def write_raw(self, hour: Hour, request_id: str, lines: Sequence[bytes]) -> str:
        from clickstream import layout
        from clickstream.ingest.sink import gzip_lines

        key = layout.raw_key(hour, request_id)
        self.raw.append((key, gzip_lines(lines)))
        return key

    def write_quarantine(self, stage: str, hour: Hour, name: str, lines: Sequence[bytes],
                         counts: Mapping[str, int] | None = None) -> str:
        from clickstream import layout
        from clickstream.ingest.sink import gzip_lines

        key = layout.quarantine_key(stage, hour, name, counts)
        self.quarantine.append((key, gzip_lines(lines)))
        return key


def memory_service(sink: MemorySink) -> Any:
    from clickstream.ingest import IngestService
    from clickstream.ingest.auth import TokenVerifier
    from clickstream.ingest.enrich import UserAgentParser
    from clickstream.settings import AuthSettings

    return IngestService(sink, TokenVerifier(AuthSettings()), UserAgentParser())


def batching() -> Any:
    from clickstream.demo.traffic import Batching

    # Whole visits up to 50 events a request (what the cost model assumes), as bench/traffic.py --batch 50.
    return Batching(max_events=BATCH_EVENTS, interval_s=3600.0, on_page_leave=False)


def ingest_request(request: Any, seed: int = SEED) -> Any:
    from clickstream.demo.seed import CONTENT_TYPE, request_id
    from clickstream.ingest import IngestRequest

    return IngestRequest(body=request.body(), request_id=request_id(seed, request), received_at=request.received_at,
                         content_type=CONTENT_TYPE, source_ip=request.source_ip, user_agent=request.user_agent)


@dataclass
class RawHour:
    events: int
    requests: int
    accepted: int
    rejected: int
    raw: list[tuple[str, bytes]]
    quarantine: list[tuple[str, bytes]]
    handler_cpu_s: float  # IngestService.ingest only (generation and body encoding excluded)
    handler_wall_s: float
    json_bytes: int

    @property
    def raw_bytes(self) -> int:
        return sum(len(b) for _, b in self.raw)


def _code_hash() -> str:
    h = hashlib.sha256()
    for rel in ("src/clickstream/demo/traffic.py", "src/clickstream/ingest/service.py", "src/clickstream/ingest/enrich.py",
                "src/clickstream/ingest/sink.py", "src/clickstream/layout.py", "bench/rawdata.py"):
        h.update((ROOT / rel).read_bytes())
    for path in sorted((ROOT / "src/clickstream/schema").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def packed_requests(n_events: int, seed: int = SEED, per_request: int = BATCH_EVENTS) -> Iterator[Any]:
    """The generator's events re-cut into requests of exactly `per_request` events (the last may be
    shorter): each request keeps the receive time, user agent and IP of the visit request its
    first event came from. Used where a figure is "at 50 events per request"."""
    from clickstream.demo.traffic import Request, generate_requests

    pending: list[Any] = []
    first: Any = None
    number = 0
    for request in generate_requests(n_events, seed=seed, batching=batching()):
        for event in request.events:
            if first is None:
                first = request
            pending.append(event)
            if len(pending) == per_request:
                yield Request(received_at=first.received_at, events=pending, user_agent=first.user_agent,
                              source_ip=first.source_ip, signed_in_sub=None, key=f"p{number:07d}")
                number += 1
                pending, first = [], None
    if pending:
        yield Request(received_at=first.received_at, events=pending, user_agent=first.user_agent,
                      source_ip=first.source_ip, signed_in_sub=None, key=f"p{number:07d}")


def build(n_events: int, seed: int = SEED, *, packing: str = "50", use_cache: bool = True) -> RawHour:
    """`packing`: "50" = requests of exactly 50 events (the cost model's assumption); "visit" = the
    generator's own requests (whole visits up to 50 events, about 11 on average)."""
    path = CACHE / f"raw-{n_events}-{seed}-{packing}-{_code_hash()}.pickle"
    if use_cache and path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    from clickstream.demo.traffic import generate_requests

    started = time.perf_counter()
    sink = MemorySink()
    service = memory_service(sink)
    cpu = wall = 0.0
    requests = accepted = rejected = json_bytes = 0
    source = (packed_requests(n_events, seed) if packing == "50"
              else generate_requests(n_events, seed=seed, batching=batching()))
    for request in source:
        req = ingest_request(request, seed)
        json_bytes += len(req.body)
        c0, w0 = time.process_time(), time.perf_counter()
        response = service.ingest(req)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        requests += 1
        accepted += response.accepted
        rejected += response.rejected if response.status in (200, 400) else len(request.events)
    raw = RawHour(events=n_events, requests=requests, accepted=accepted, rejected=rejected, raw=sink.raw,
                  quarantine=sink.quarantine, handler_cpu_s=cpu, handler_wall_s=wall, json_bytes=json_bytes)
    print(f"generated {n_events:,} events in {requests:,} requests through IngestService "
          f"({time.perf_counter() - started:.1f} s; handler {cpu:.1f} s CPU)", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(raw, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return raw


def upload(raw: RawHour, s3: Any, raw_bucket: str, quarantine_bucket: str, workers: int = 4,
           http_sample: int = 500) -> dict[str, float]:
    """Store the objects in the local S3. The first `http_sample` go through the S3 API one put
    each, as S3EventSink does (timed: the put latency the ingest figure leaves out); the rest are
    written straight into moto's in-process backend, because moto serves ~250 puts/s and the
    ETL, not the seeding, is what is measured."""
    def put(item: tuple[str, str, bytes]) -> float:
        bucket, key, body = item
        t = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/gzip")
        return time.perf_counter() - t

    items = [(raw_bucket, k, b) for k, b in raw.raw] + [(quarantine_bucket, k, b) for k, b in raw.quarantine]
    sample, rest = items[:http_sample], items[http_sample:]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        latencies = list(pool.map(put, sample))
    http_wall = time.perf_counter() - started
    latencies.sort()
    direct = time.perf_counter()
    try:
        from moto.s3.models import s3_backends

        backend = s3_backends["123456789012"]["global"]
        for bucket, key, body in rest:
            backend.put_object(bucket, key, body)
    except (ImportError, KeyError):  # not an in-process moto: the API for all
        for item in rest:
            put(item)
    return {"objects": len(items), "http_puts": len(sample), "http_wall_s": http_wall,
            "http_puts_per_s": len(sample) / http_wall if http_wall else None,
            "put_median_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
            "put_p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None,
            "direct_s": time.perf_counter() - direct, "wall_s": time.perf_counter() - started}
