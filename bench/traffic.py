"""The synthetic traffic generator the benchmarks share with `clickstream demo seed`.

It lives in `clickstream.demo.traffic` (so the installed package has it); this module
re-exports it for `bench/`, and run as a script measures how fast it makes events:

    .venv/bin/python bench/traffic.py [EVENTS] [--batch 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from clickstream.demo.traffic import (
    BENCH_HOUR,
    CATALOGUE,
    Batching,
    Noise,
    Request,
    generate,
    generate_events,
    generate_requests,
)

__all__ = ["BENCH_HOUR", "CATALOGUE", "Batching", "Noise", "Request", "generate", "generate_events",
           "generate_requests", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the traffic generator's speed.")
    parser.add_argument("events", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=None,
                        help="events per request (whole visits up to this size) instead of the SDK's batching")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    batching = Batching(max_events=args.batch, interval_s=3600.0, on_page_leave=False) if args.batch else Batching()
    wall, cpu = time.perf_counter(), time.process_time()
    requests = events = body_bytes = 0
    for request in generate_requests(args.events, seed=args.seed, batching=batching):
        requests += 1
        events += len(request.events)
        body_bytes += len(request.body())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{events:,} events in {requests:,} requests, {body_bytes / events:.0f} bytes/event as sent")
    print(f"{wall:.1f} s wall, {cpu:.1f} s CPU: {events / cpu:,.0f} events/s per core (body encoding included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
