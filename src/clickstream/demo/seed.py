"""Seeding demo traffic: the generator's requests fed through the real ingest service.

Every simulated request goes through `IngestService.ingest` with its simulated receive time,
so validation, enrichment, raw and quarantine writes happen exactly as for live traffic and
each event lands in the raw partition of its simulated hour. Request ids derive from the
seed and the generator's stable request keys: seeding the same hours again overwrites the
same objects instead of adding copies. `clickstream demo seed` calls `seed_local` and then
backfills the ETL for `SeedResult.hours`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clickstream.aws import AwsClients
from clickstream.demo.traffic import DEFAULT_NOISE, DEFAULT_VISITORS_PER_HOUR, Batching, Noise, Request, generate
from clickstream.etl.control import EtlControl, Execution
from clickstream.ingest import IngestRequest, IngestResponse, IngestService, build_ingest_service
from clickstream.layout import Hour
from clickstream.settings import IngestSettings

__all__ = ["CONTENT_TYPE", "SEED_BATCHING", "SeedResult", "request_id", "seed", "seed_and_backfill", "seed_local",
           "seed_range"]

# What the SDK sends: text/plain keeps browsers out of CORS preflight, the API parses JSON.
CONTENT_TYPE = "text/plain;charset=UTF-8"
# Concurrent ingest calls. The local AWS usually runs in another process (`local up`), and
# each call waits on its S3 put, so a few threads keep both cores busy; results do not
# depend on the order the calls finish in.
DEFAULT_WORKERS = 4
# The SDK with a larger batch and a 5-minute flush interval in a single-page shop: the same
# visits, events and receive hours as with the SDK's defaults, in a fifth of the requests.
# Each request costs an S3 put (3-5 ms against local moto), so this is what keeps three days
# seeding in about 15 s; pass `SDK_BATCHING` for the SDK's own request granularity.
SEED_BATCHING = Batching(max_events=50, interval_s=300.0, on_page_leave=False)

TokenFor = Callable[[str], str]


@dataclass(frozen=True)
class SeedResult:
    """What a seeding sent and what the ingest service answered.

    `rejected` counts every event the service refused, one by one or with its whole body;
    `hours` are the hours (sorted) in which at least one request was received.
    """

    requests: int
    events_sent: int
    accepted: int
    rejected: int
    hours: list[Hour]


def request_id(seed: int, request: Request) -> str:
    """The ingest request id of a generated request: stable for the seed and the request."""
    return f"demo-{seed}-{request.key}"


def seed(
    days: int,
    *,
    now: datetime,
    service: IngestService,
    seed: int = 7,
    visitors_per_hour: float = DEFAULT_VISITORS_PER_HOUR,
    token_for: TokenFor | None = None,
    noise: Noise = DEFAULT_NOISE,
    batching: Batching = SEED_BATCHING,
    workers: int = DEFAULT_WORKERS,
) -> SeedResult:
    """Seed the `days` × 24 completed hours before `now` (the last one ends at the start of
    `now`'s hour). Signed-in visits carry `Bearer <token_for(sub)>` when `token_for` is
    given and go anonymously otherwise."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, not {now!r}")
    end = Hour.containing(now).start
    return seed_range(end - timedelta(days=days), end, service=service, seed=seed,
                      visitors_per_hour=visitors_per_hour, token_for=token_for, noise=noise, batching=batching,
                      workers=workers)


def seed_range(
    start: datetime,
    end: datetime,
    *,
    service: IngestService,
    seed: int = 7,
    visitors_per_hour: float = DEFAULT_VISITORS_PER_HOUR,
    token_for: TokenFor | None = None,
    noise: Noise = DEFAULT_NOISE,
    batching: Batching = SEED_BATCHING,
    workers: int = DEFAULT_WORKERS,
) -> SeedResult:
    """Seed the requests received in [start, end) (any range; `seed` covers whole days)."""
    tokens: dict[str, str] = {}
    tokens_lock = threading.Lock()

    def authorization(request: Request) -> str | None:
        sub = request.signed_in_sub
        if token_for is None or sub is None:
            return None
        with tokens_lock:  # one token per user, as a browser keeps its session
            if sub not in tokens:
                token = token_for(sub)
                tokens[sub] = token if token.lower().startswith("bearer ") else f"Bearer {token}"
            return tokens[sub]

    def send(request: Request) -> tuple[Request, IngestResponse]:
        return request, service.ingest(IngestRequest(
            body=request.body(),
            request_id=request_id(seed, request),
            received_at=request.received_at,
            content_type=CONTENT_TYPE,
            authorization=authorization(request),
            source_ip=request.source_ip,
            user_agent=request.user_agent,
        ))

    requests = generate(start, end, seed=seed, visitors_per_hour=visitors_per_hour, noise=noise, batching=batching)
    count = sent = accepted = rejected = 0
    hours: set[Hour] = set()
    for request, response in _map(send, requests, workers):
        count += 1
        sent += len(request.events)
        accepted += response.accepted
        # 200/400 answer event by event; any other status refused the body as a whole.
        rejected += response.rejected if response.status in (200, 400) else len(request.events)
        hours.add(Hour.containing(request.received_at))
    return SeedResult(requests=count, events_sent=sent, accepted=accepted, rejected=rejected, hours=sorted(hours))


_seed = seed  # `seed` the function, for callers whose `seed` parameter (the number) hides it


def seed_local(
    days: int,
    *,
    settings: IngestSettings,
    now: datetime | None = None,
    seed: int = 7,
    visitors_per_hour: float = DEFAULT_VISITORS_PER_HOUR,
    token_for: TokenFor | None = None,
    aws: AwsClients | None = None,
) -> SeedResult:
    """`seed` with the ingest service built from `settings` (the local stack's, or any)."""
    return _seed(
        days, now=now or datetime.now(UTC), service=build_ingest_service(settings, aws=aws), seed=seed,
        visitors_per_hour=visitors_per_hour, token_for=token_for,
    )


def _map(send: Callable[[Request], tuple[Request, IngestResponse]], requests: Iterator[Request],
         workers: int) -> Iterator[tuple[Request, IngestResponse]]:
    """`map(send, requests)` on a few threads, with a bounded number in flight."""
    if workers <= 1:
        yield from map(send, requests)
        return
    window = workers * 4
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-seed") as pool:
        in_flight: deque[Future[tuple[Request, IngestResponse]]] = deque()
        for request in requests:
            in_flight.append(pool.submit(send, request))
            if len(in_flight) >= window:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def seed_and_backfill(
    days: int,
    *,
    settings: IngestSettings,
    control: EtlControl,
    now: datetime | None = None,
    on_hour: Callable[[Execution], None] | None = None,
    aws: AwsClients | None = None,
) -> tuple[SeedResult, list[Execution]]:
    """Seed `days` of demo traffic, then run the ETL for every hour that received data, oldest
    first; what `clickstream demo seed` and the first `make run` do."""
    result = seed_local(days, settings=settings, now=now, aws=aws)
    return result, control.backfill(result.hours, on_done=on_hour)
