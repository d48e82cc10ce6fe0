"""Cost model: AWS list prices (us-east-1) × measured resource use → $ per million events.

Prices are constants with the date they were read; change them here. What is measured comes
from the benchmark run (handler µs per event, ETL stage seconds, objects, bytes); what is
assumed is named and listed in the output. The EC2 instance (PostgreSQL + Shiny) is a fixed
monthly cost, priced apart, not per event.
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import ROOT

PRICES_AS_OF = "2025-06-01"  # AWS public list prices, us-east-1, on-demand, no free tier
LAMBDA_GB_S_X86 = 0.0000166667  # $ per GB-second (infra deploys x86_64)
LAMBDA_REQUEST = 0.20 / 1_000_000
HTTP_API_REQUEST = 1.00 / 1_000_000  # API Gateway HTTP API, first 300 M a month
S3_PUT = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_GET = 0.0004 / 1000
S3_STANDARD_GB_MONTH = 0.023
SFN_STANDARD_TRANSITION = 0.000025
EC2_T4G_MEDIUM_MONTH = 0.0336 * 730  # fixed: warehouse + dashboard instance (t4g.medium), apart from per-event cost
# Published figures of AWS's "Clickstream Analytics on AWS" solution, $ per million events.
AWS_SOLUTION_PROCESSING = (0.15, 0.93)
AWS_SOLUTION_INGESTION = (0.013, 0.19)

# Assumptions (not measured here)
EVENTS_PER_REQUEST = 50
S3_PUT_MS_ON_AWS = 25.0  # a same-region PUT of a ~7 KB object from Lambda; the local moto figure is not AWS
LAMBDA_MIN_BILLED_MS = 1
RAW_RETENTION_MONTHS = 1.0  # raw + processed kept a month (lifecycle rules), quarantine negligible
LISTS_PER_1000_OBJECTS = 1  # ListObjectsV2 pages of 1,000 keys


def _memory_mb() -> dict[str, int]:
    tasks = json.loads((ROOT / "tasks" / "manifest.json").read_text())["tasks"]
    return {t["name"]: int(t["memory_mb"]) for t in tasks}


STAGE_TASK = {"list": "list_raw", "clean": "clean", "quality": "check_quality", "load": "load_warehouse",
              "refresh": "refresh_aggregates"}


def model(*, handler_us_per_event: float, etl: dict[str, Any]) -> dict[str, Any]:
    """`etl`: the benchmark's figures for one size (events, stages busy seconds, objects, bytes, chunks)."""
    mem = _memory_mb()
    per_m = 1_000_000
    requests = per_m / EVENTS_PER_REQUEST
    # Ingest: one invocation per request, billed for the handler's work plus the S3 put it waits on.
    ingest_ms = max(LAMBDA_MIN_BILLED_MS, EVENTS_PER_REQUEST * handler_us_per_event / 1000 + S3_PUT_MS_ON_AWS)
    ingest_gb_s = requests * ingest_ms / 1000 * mem["ingest"] / 1024
    ingest = {
        "api_gateway": requests * HTTP_API_REQUEST,
        "lambda_requests": requests * LAMBDA_REQUEST,
        "lambda_gb_s": ingest_gb_s * LAMBDA_GB_S_X86,
        "s3_put": requests * S3_PUT,
    }
    # ETL: measured busy seconds per stage, scaled to a million events, × the task's memory.
    n = etl["events"]
    scale = per_m / n
    gb_s = {s: etl["stages"][s]["busy_s"]["median"] * scale * mem[STAGE_TASK[s]] / 1024 for s in STAGE_TASK}
    invocations = (3 + etl["chunks"] + 1) * scale  # resolve, list, quality, load... per hour run, scaled
    objects = etl["raw_objects"] * scale
    transitions = (9 + 2 * etl["chunks"]) * scale  # Start, ResolveWindow, List, Map, 2 per chunk, Quality, Load, Refresh, Succeed
    stored_gb = etl["raw_gzip_mb"] * scale / 1024 * 2  # raw + about as much again of Parquet
    processing = {
        "lambda_gb_s": sum(gb_s.values()) * LAMBDA_GB_S_X86,
        "lambda_requests": invocations * LAMBDA_REQUEST,
        "s3_get_raw": objects * S3_GET,
        "s3_list": objects / 1000 * LISTS_PER_1000_OBJECTS * S3_PUT,
        "s3_put_processed": (4 * etl["chunks"] + 2) * scale * S3_PUT,
        "s3_get_processed": (4 * etl["chunks"]) * scale * S3_GET,
        "step_functions": transitions * SFN_STANDARD_TRANSITION,
        "s3_storage_month": stored_gb * S3_STANDARD_GB_MONTH * RAW_RETENTION_MONTHS,
    }
    total_ingest, total_processing = sum(ingest.values()), sum(processing.values())
    return {
        "prices_as_of": PRICES_AS_OF, "region": "us-east-1",
        "assumptions": {"events_per_request": EVENTS_PER_REQUEST, "s3_put_ms_on_aws": S3_PUT_MS_ON_AWS,
                        "retention_months": RAW_RETENTION_MONTHS, "lambda_arch": "x86_64",
                        "etl_hour_size_events": n, "memory_mb": mem},
        "measured": {"ingest_handler_us_per_event": handler_us_per_event, "ingest_billed_ms_per_request": ingest_ms,
                     "etl_gb_s_per_million": {k: round(v, 2) for k, v in gb_s.items()}},
        "ingest": {k: round(v, 5) for k, v in ingest.items()},
        "processing": {k: round(v, 5) for k, v in processing.items()},
        "usd_per_million_ingest": round(total_ingest, 4),
        "usd_per_million_processing": round(total_processing, 4),
        "usd_per_million_events": round(total_ingest + total_processing, 4),
        "goal_usd_per_million": 0.05,
        "aws_solution_processing": AWS_SOLUTION_PROCESSING, "aws_solution_ingestion": AWS_SOLUTION_INGESTION,
        "ec2_fixed_usd_month": round(EC2_T4G_MEDIUM_MONTH, 2),
    }
