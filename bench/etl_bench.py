"""ETL benchmark: one hour of N events end to end through the real step functions, with the
floor and the naive peer measured in the same run.

Ours: raw gzip JSON lines in moto S3 → list_step → clean_step (the Map: chunks shared by two
worker processes, MaxConcurrency 2) → quality_step → load_step → refresh_step, each step in
its own process (a warm Lambda: imports done before the clock starts, reported apart) on a
fresh, migrated, empty database. `etl.seconds` is the sum of the stage wall times.

Floor: decompress the same raw objects (isal, in memory) + bulk-load the same final rows
(what `events` and `event_items` hold after the load) into empty tables with no keys and no
indexes with ADBC `adbc_ingest` (binary COPY from Arrow). psycopg2 CSV COPY is shown beside it.

Naive peer: pandas `read_json(lines=True)` of a sample's raw objects + psycopg2 `executemany`
INSERT one row at a time (nested objects as JSON text) into a keyed table; extrapolated
linearly to N and labelled as such.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import rawdata
from bench.common import ROOT, Services, summary, table
from clickstream.demo.traffic import BENCH_HOUR

STAGES = ("list", "clean", "quality", "load", "refresh")
MAP_CONCURRENCY = 2  # CleanToParquet's MaxConcurrency in state_machines/hourly_etl.asl.json


def _child(step: str, calls: list[dict[str, Any]], env: dict[str, str], workdir: Path) -> dict[str, Any]:
    fd, spec = tempfile.mkstemp(suffix=".json", dir=workdir)
    with os.fdopen(fd, "w") as f:
        json.dump({"step": step, "calls": calls, "env": env}, f)
    out = spec.replace(".json", ".out.json")
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.etl_step", spec, out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{step} step failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    with open(out) as f:
        result = json.load(f)
    result["process_wall_s"] = time.perf_counter() - started
    return result


def run_pipeline(services: Services, n: int, index: int, workdir: Path) -> dict[str, Any]:
    from clickstream.etl.window import resolve_run

    db = f"bench_etl_{n}_{index}"
    url = services.create_database(db)
    env = services.etl_env(url)
    name = f"bench-{n}-{index}-{int(time.time())}"
    run = resolve_run(
        {"hour": BENCH_HOUR.strftime("%Y-%m-%dT%H")},
        execution_arn=f"arn:bench:{name}",
        execution_name=name,
        now=BENCH_HOUR + timedelta(hours=2),
    ).to_dict()
    stages: dict[str, Any] = {}
    wall0 = time.perf_counter()

    listed = _child("list", [{"run": run}], env, workdir)
    listing = listed["calls"][0]["result"]
    stages["list"] = listed

    chunk_ids = listing["chunks"]
    groups = [chunk_ids[i::MAP_CONCURRENCY] for i in range(min(MAP_CONCURRENCY, len(chunk_ids)))]
    with ThreadPoolExecutor(max_workers=MAP_CONCURRENCY) as pool:
        workers = list(
            pool.map(
                lambda g: _child(
                    "clean",
                    [{"run": run, "manifest_key": listing["manifest_key"], "chunk": c} for c in g],
                    env,
                    workdir,
                ),
                groups,
            )
        )
    by_chunk = {c["result"]["chunk"]: c["result"] for w in workers for c in w["calls"]}
    chunks = [by_chunk[c] for c in chunk_ids]
    spans = [c for w in workers for c in w["calls"]]
    stages["clean"] = {
        "calls": spans,
        "peak_rss_mb": max(w["peak_rss_mb"] for w in workers),
        "import_s": max(w["import_s"] for w in workers),
        "rss_after_import_mb": max(w["rss_after_import_mb"] for w in workers),
        "process_wall_s": max(w["process_wall_s"] for w in workers),
        "workers": len(workers),
    }
    stages["quality"] = _child("quality", [{"run": run, "listing": listing, "chunks": chunks}], env, workdir)
    stages["load"] = _child("load", [{"run": run, "listing": listing, "chunks": chunks}], env, workdir)
    stages["refresh"] = _child("refresh", [{"run": run}], env, workdir)
    total_process_wall = time.perf_counter() - wall0

    out: dict[str, Any] = {
        "database": db,
        "database_url": url,
        "listing": {k: v for k, v in listing.items() if k != "chunks"},
        "chunks": len(chunk_ids),
        "stages": {},
    }
    for stage in STAGES:
        s = stages[stage]
        calls = s["calls"]
        wall = max(c["end"] for c in calls) - min(c["start"] for c in calls)
        out["stages"][stage] = {
            "seconds": wall,
            "cpu_s": sum(c["cpu_s"] for c in calls),
            "invocations": len(calls),
            "busy_s": sum(c["seconds"] for c in calls),
            "s3_calls": sum(c["s3"]["calls"] for c in calls),
            "s3_s": sum(c["s3"]["seconds"] for c in calls),
            "max_invocation_s": max(c["seconds"] for c in calls),
            "peak_rss_mb": s["peak_rss_mb"],
            "rss_after_import_mb": s["rss_after_import_mb"],
            "import_s": s["import_s"],
        }
        if stage == "load":
            marks = calls[0]["marks"]
            out["stages"][stage]["marks_s"] = {k: round(v, 3) for k, v in marks.items()}
            out["stages"][stage]["result"] = calls[0]["result"]
        if stage == "refresh":
            out["stages"][stage]["result"] = calls[0]["result"]
    out["seconds"] = sum(v["seconds"] for v in out["stages"].values())
    out["with_process_start_s"] = total_process_wall
    out["peak_rss_mb"] = max(v["peak_rss_mb"] for v in out["stages"].values())
    out["largest_step"] = max(out["stages"], key=lambda k: out["stages"][k]["peak_rss_mb"])
    out["clean_events"] = sum(c["events"] for c in chunks)
    return out


# ----------------------------------------------------------------------------- the floor


def floor(raw: rawdata.RawHour, database_url: str) -> dict[str, Any]:
    import adbc_driver_postgresql.dbapi as adbc
    import psycopg2
    from isal import igzip

    t = time.perf_counter()
    lines = 0
    for _, body in raw.raw:
        lines += igzip.decompress(body).count(b"\n")
    gunzip_s = time.perf_counter() - t

    conn = adbc.connect(database_url)
    cur = conn.cursor()
    tables = {}
    for name in ("events", "event_items"):
        cur.execute(f"SELECT * FROM {name}")  # fixed names
        tables[name] = cur.fetch_arrow_table()
    rows = {k: v.num_rows for k, v in tables.items()}
    adbc_s = 0.0
    for name, tbl in tables.items():
        cur.execute(f"DROP TABLE IF EXISTS floor_adbc_{name}")
        conn.commit()
        t = time.perf_counter()
        cur.adbc_ingest(f"floor_adbc_{name}", tbl, mode="create")
        conn.commit()
        adbc_s += time.perf_counter() - t
    cur.close()
    conn.close()

    pconn = psycopg2.connect(database_url)
    csv_s = 0.0
    with pconn.cursor() as pcur:
        for name in tables:
            buf = io.BytesIO()
            pcur.copy_expert(f"COPY {name} TO STDOUT WITH (FORMAT csv)", buf)  # the CSV text, made beforehand
            buf.seek(0)
            pcur.execute(f"DROP TABLE IF EXISTS floor_csv_{name}; CREATE TABLE floor_csv_{name} (LIKE {name})")
            pconn.commit()
            t = time.perf_counter()
            pcur.copy_expert(f"COPY floor_csv_{name} FROM STDIN WITH (FORMAT csv)", buf)
            pconn.commit()
            csv_s += time.perf_counter() - t
        pcur.execute(
            "DROP TABLE IF EXISTS floor_csv_events, floor_csv_event_items, floor_adbc_events, floor_adbc_event_items"
        )
        pconn.commit()
    pconn.close()
    return {
        "gunzip_s": gunzip_s,
        "raw_lines": lines,
        "adbc_load_s": adbc_s,
        "csv_copy_s": csv_s,
        "rows": rows,
        "seconds": gunzip_s + adbc_s,
        "seconds_with_csv": gunzip_s + csv_s,
    }


# ----------------------------------------------------------------------------- the naive peer


def naive(raw: rawdata.RawHour, services: Services, sample: int) -> dict[str, Any]:
    """pandas read_json + executemany INSERT of the first `sample` raw events (no cleaning,
    no items table, no rollups: less work than ours), extrapolated to the hour's events."""
    import pandas as pd
    import psycopg2

    db = f"bench_naive_{sample}"
    url = services.create_database(db)
    bodies, taken = [], 0
    for _, body in raw.raw:
        bodies.append(body)
        taken += gzip.decompress(body).count(b"\n")
        if taken >= sample:
            break
    t0 = time.perf_counter()
    text = b"".join(gzip.decompress(b) for b in bodies)
    df = pd.read_json(io.BytesIO(text), lines=True, dtype=False)
    df = df.iloc[:sample]
    for col in df.columns:
        if df[col].map(lambda v: isinstance(v, dict | list)).any():
            df[col] = df[col].map(lambda v: json.dumps(v) if isinstance(v, dict | list) else v)
    parsed = time.perf_counter()
    cols = list(df.columns)
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        ddl = ", ".join(f'"{c}" text' for c in cols)
        cur.execute(f'CREATE TABLE naive_events ({ddl}, PRIMARY KEY ("event_id"))')
        conn.commit()
        rows = [
            tuple(None if (v is None or (isinstance(v, float) and v != v)) else str(v) for v in r)
            for r in df.itertuples(index=False, name=None)
        ]
        converted = time.perf_counter()
        sql = (
            f"INSERT INTO naive_events ({', '.join(chr(34) + c + chr(34) for c in cols)}) "
            f'VALUES ({", ".join(["%s"] * len(cols))}) ON CONFLICT ("event_id") DO NOTHING'
        )
        cur.executemany(sql, rows)
        conn.commit()
    inserted = time.perf_counter()
    conn.close()
    services.drop_database(db)
    seconds = inserted - t0
    return {
        "sample_events": len(df),
        "columns": len(cols),
        "read_json_s": parsed - t0,
        "to_rows_s": converted - parsed,
        "executemany_s": inserted - converted,
        "sample_seconds": seconds,
        "extrapolated_to": raw.events,
        "extrapolated_seconds": seconds * raw.events / len(df),
        "label": f"extrapolated linearly from a {len(df):,}-event sample",
    }


# ----------------------------------------------------------------------------- the benchmark


def bench_size(
    services: Services, n: int, runs: int, workdir: Path, *, with_floor: bool = True, naive_sample: int | None = None,
    buffered_objects: int | None = None,
) -> dict[str, Any]:
    t = time.perf_counter()
    raw = rawdata.build(n)
    build_s = time.perf_counter() - t
    s3 = services.aws.clients().s3()
    res = services.resources
    # A clean slate for the hour: objects of another size may be in the bucket.
    for bucket in (res.raw_bucket, res.processed_bucket, res.quarantine_bucket):
        _empty_bucket(s3, bucket)
    put = rawdata.upload(raw, s3, res.raw_bucket, res.quarantine_bucket)
    print(
        f"{n:,} events: {len(raw.raw):,} raw objects ({raw.raw_bytes / 1e6:.1f} MB gzip, "
        f"{raw.json_bytes / 1e6:.0f} MB JSON as sent) put in {put['wall_s']:.1f} s",
        flush=True,
    )
    results, floors = [], []
    for i in range(runs):
        r = run_pipeline(services, n, i, workdir)
        print(
            f"  run {i + 1}/{runs}: {r['seconds']:.1f} s ("
            + ", ".join(f"{k} {v['seconds']:.1f}" for k, v in r["stages"].items())
            + f"), peak {r['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        if with_floor:
            f = floor(raw, r["database_url"])
            floors.append(f)
            print(
                f"  floor {i + 1}/{runs}: {f['seconds']:.1f} s (gunzip {f['gunzip_s']:.1f}, ADBC "
                f"{f['adbc_load_s']:.1f}; CSV COPY {f['csv_copy_s']:.1f})",
                flush=True,
            )
        services.drop_database(r["database"])
        r.pop("database_url")
        results.append(r)
    raw_get = fetch_raw(services, [key for key, _ in raw.raw], workdir)
    print(f"  raw GETs alone (local S3, {MAP_CONCURRENCY} processes): {raw_get['seconds']:.1f} s", flush=True)
    out: dict[str, Any] = {
        "events": n,
        "runs": runs,
        "raw_objects": len(raw.raw),
        "raw_gzip_mb": round(raw.raw_bytes / 1e6, 1),
        "json_mb_as_sent": round(raw.json_bytes / 1e6, 1),
        "requests": raw.requests,
        "events_per_request": round(n / raw.requests, 1),
        "ingest_accepted": raw.accepted,
        "ingest_rejected": raw.rejected,
        "prepare_s": round(build_s, 2),
        "s3_put": put,
        "seconds": summary([r["seconds"] for r in results]),
        "with_process_start_s": summary([r["with_process_start_s"] for r in results]),
        "peak_rss_mb": summary([r["peak_rss_mb"] for r in results], 1),
        "largest_step": results[0]["largest_step"],
        "chunks": results[0]["chunks"],
        "stages": {
            s: {
                "seconds": summary([r["stages"][s]["seconds"] for r in results]),
                "cpu_s": summary([r["stages"][s]["cpu_s"] for r in results]),
                "busy_s": summary([r["stages"][s]["busy_s"] for r in results]),
                "s3_calls": results[0]["stages"][s]["s3_calls"],
                "s3_s": summary([r["stages"][s]["s3_s"] for r in results]),
                "peak_rss_mb": summary([r["stages"][s]["peak_rss_mb"] for r in results], 1),
                "import_s": summary([r["stages"][s]["import_s"] for r in results]),
                "invocations": results[0]["stages"][s]["invocations"],
            }
            for s in STAGES
        },
        "raw_get": raw_get,
        "load_marks_s": results[len(results) // 2]["stages"]["load"]["marks_s"],
        "load_result": results[0]["stages"]["load"]["result"],
        "refresh_result": results[0]["stages"]["refresh"]["result"],
        "runs_detail": results,
    }
    if floors:
        out["floor"] = {
            k: summary([f[k] for f in floors])
            for k in ("gunzip_s", "adbc_load_s", "csv_copy_s", "seconds", "seconds_with_csv")
        }
        out["floor"]["rows"] = floors[0]["rows"]
        out["floor"]["raw_lines"] = floors[0]["raw_lines"]
        out["ratio_to_floor"] = round(
            statistics.median(r["seconds"] / f["seconds"] for r, f in zip(results, floors, strict=True)), 2
        )
    if naive_sample:
        nv = naive(raw, services, naive_sample)
        out["naive"] = nv
        out["naive_over_ours"] = round(nv["extrapolated_seconds"] / out["seconds"]["median"], 1)
        print(
            f"  naive: {nv['sample_seconds']:.1f} s for {nv['sample_events']:,} events "
            f"→ {nv['extrapolated_seconds']:.0f} s extrapolated to {n:,}",
            flush=True,
        )
    if buffered_objects:
        out["buffered"] = buffered_what_if(services, raw, buffered_objects, n, workdir, floors)
        if out["buffered"]["loaded_events"] != out["load_result"]["inserted_events"]:
            raise RuntimeError(f"the buffered what-if loaded {out['buffered']['loaded_events']:,} events, the runs "
                               f"{out['load_result']['inserted_events']:,}: it did not measure the same work")
    return out


def buffered_raw(raw: list[tuple[str, bytes]], objects: int) -> list[tuple[str, bytes]]:
    """The same raw objects concatenated, in key order, into `objects` objects under the same
    hour: what a buffer in front of `raw/` (Kinesis Data Firehose, 5-minute buffers) would
    deliver. Concatenated gzip members are one valid gzip stream, and every line carries its own
    request's server fields, so the clean step reads them unchanged."""
    per = -(-len(raw) // objects)
    prefix = raw[0][0].rsplit("/", 1)[0]
    return [(f"{prefix}/buffered-{i // per:05d}.jsonl.gz", b"".join(body for _, body in raw[i:i + per]))
            for i in range(0, len(raw), per)]


def buffered_what_if(services: Services, raw: rawdata.RawHour, objects: int, n: int, workdir: Path,
                     floors: list[dict[str, Any]]) -> dict[str, Any]:
    """One more run of the same pipeline on the same events, stored as `objects` buffered raw
    objects instead of one per request. Not how ingest writes today: the figure says what
    buffering raw events across requests would change."""
    s3 = services.aws.clients().s3()
    res = services.resources
    for bucket in (res.raw_bucket, res.processed_bucket):
        _empty_bucket(s3, bucket)
    buffered = buffered_raw(raw.raw, objects)
    # The hour's quarantine objects stay where the runs left them.
    rawdata.upload(dataclasses.replace(raw, raw=buffered, quarantine=[]), s3, res.raw_bucket, res.quarantine_bucket,
                   http_sample=0)
    r = run_pipeline(services, n, 99, workdir)
    services.drop_database(r["database"])
    floor_s = statistics.median(f["seconds"] for f in floors) if floors else None
    out = {
        "objects": len(buffered),
        "largest_object_mb": round(max(len(b) for _, b in buffered) / 1e6, 1),
        "seconds": round(r["seconds"], 2),
        "stages_s": {k: round(v["seconds"], 2) for k, v in r["stages"].items()},
        "s3_calls": sum(v["s3_calls"] for v in r["stages"].values()),
        "peak_rss_mb": round(r["peak_rss_mb"], 1),
        "ratio_to_floor": round(r["seconds"] / floor_s, 2) if floor_s else None,
        "loaded_events": r["stages"]["load"]["result"]["inserted_events"],
    }
    print(
        f"  what-if, the same hour as {out['objects']} buffered raw objects (up to {out['largest_object_mb']} MB): "
        f"{out['seconds']:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in out["stages_s"].items())
        + f"), peak {out['peak_rss_mb']:.0f} MB, {out['loaded_events']:,} events loaded",
        flush=True,
    )
    return out


def fetch_raw(services: Services, keys: list[str], workdir: Path) -> dict[str, Any]:
    """Only the GETs of the hour's raw objects, split as the Map splits them, in as many
    processes: the part of the clean stage's wall time that the local S3 (moto) sets."""
    env = services.etl_env(services.database_url("postgres"))
    with ThreadPoolExecutor(max_workers=MAP_CONCURRENCY) as pool:
        workers = list(pool.map(
            lambda i: _child("fetch_raw", [{"keys": keys[i::MAP_CONCURRENCY]}], env, workdir), range(MAP_CONCURRENCY)))
    calls = [c for w in workers for c in w["calls"]]
    return {
        "objects": sum(c["result"]["objects"] for c in calls),
        "seconds": max(c["end"] for c in calls) - min(c["start"] for c in calls),
        "cpu_s": sum(c["cpu_s"] for c in calls),
        "processes": MAP_CONCURRENCY,
    }


def _empty_bucket(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def print_tables(size: dict[str, Any]) -> list[str]:
    n = size["events"]
    texts = []
    rows = []
    for s in STAGES:
        st = size["stages"][s]
        rows.append(
            [
                s,
                st["invocations"],
                st["seconds"]["median"],
                st["seconds"]["min"],
                st["seconds"]["max"],
                st["cpu_s"]["median"],
                st["s3_calls"],
                st["s3_s"]["median"],
                st["peak_rss_mb"]["median"],
                st["import_s"]["median"],
            ]
        )
    rows.append(
        [
            "total (etl.seconds)",
            "",
            size["seconds"]["median"],
            size["seconds"]["min"],
            size["seconds"]["max"],
            sum(size["stages"][s]["cpu_s"]["median"] for s in STAGES),
            sum(size["stages"][s]["s3_calls"] for s in STAGES),
            sum(size["stages"][s]["s3_s"]["median"] for s in STAGES),
            size["peak_rss_mb"]["median"],
            "",
        ]
    )
    texts.append(
        table(
            f"ETL, {n:,} events in one hour ({size['raw_objects']:,} raw objects, {size['chunks']} chunks; "
            f"median of {size['runs']})",
            ["stage", "calls", "median s", "min s", "max s", "cpu s", "S3 calls", "in S3 s", "peak RSS MB", "import s"],
            rows,
        )
    )
    texts.append(
        "  in S3 s: time inside S3 API calls, summed over threads (served by moto, the local emulator; "
        "on AWS these calls run in parallel at S3's latency)"
    )
    if "floor" in size:
        f = size["floor"]
        frows = [
            ["gunzip (isal, in memory)", f["gunzip_s"]["median"]],
            [
                f"ADBC adbc_ingest {f['rows']['events']:,} events + {f['rows']['event_items']:,} items",
                f["adbc_load_s"]["median"],
            ],
            ["floor = gunzip + ADBC", f["seconds"]["median"]],
            ["(beside it) psycopg2 CSV COPY", f["csv_copy_s"]["median"]],
            ["ours / floor", f"{size['ratio_to_floor']}x"],
        ]
        if "raw_get" in size:
            g = size["raw_get"]
            frows.append([f"(beside it) only GET the {g['objects']:,} raw objects from local S3, "
                          f"{g['processes']} processes (client CPU {g['cpu_s']:.1f} s)", round(g["seconds"], 3)])
        if "buffered" in size:
            b = size["buffered"]
            frows.append([f"(what-if) the same hour as {b['objects']} buffered raw objects instead of "
                          f"{size['raw_objects']:,}: ours, {b['ratio_to_floor']}x the floor", b["seconds"]])
        if "naive" in size:
            nv = size["naive"]
            frows += [
                [f"naive: read_json + executemany, {nv['sample_events']:,} events", nv["sample_seconds"]],
                [f"naive {nv['label']} to {n:,}", nv["extrapolated_seconds"]],
                ["naive / ours", f"{size['naive_over_ours']}x"],
            ]
        texts.append(table("Floor and peers (same run)", ["what", "seconds"], frows))
    return texts
