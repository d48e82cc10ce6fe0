"""The hourly load: one hour's processed Parquet parts into `events` and `event_items`, exactly once.

In one transaction: stage every part in temporary tables (COPY); then, under the merge lock, keep
one row per event_id (the earliest received) and look up the version `events` already holds for
it, insert the kept rows of the ids it does not hold and their items, count duplicates, write the
hour's `load_manifest` row and replace its `quarantine_counts`. A crash anywhere before the commit
leaves nothing; a re-run after it inserts nothing and rewrites the same manifest counts.

The inserts need no ON CONFLICT: this function is the only writer of `events` and `event_items`,
merges take one advisory lock and run READ COMMITTED, so the look-up sees every earlier merge and
nothing else inserts until the commit. A row that conflicted anyway would fail the load, not be
dropped. Counting duplicates from the look-up, not from a second join to `events`, keeps the merge
from reading all of `events`, which grows every hour.

Bulk path: pgpq encodes each Arrow record batch in PostgreSQL's binary COPY format and psycopg2
streams it to `COPY ... FROM STDIN (FORMAT binary)` on the caller's connection, so staging and
merge share the transaction. Staging 1 M synthetic events took 1.9-2.5 s, against 5-7 s for the
CSV text pyarrow wrote before. ADBC's binary COPY (about 6 s for 1 M events with their items in
bench/warehouse_load_bench.py) cannot share a psycopg2 transaction. The next file is read in a
thread while the server copies the current one.

Measured on the 1 M-event benchmark hour (986 k events, 1.45 M items; two shared cores, embedded
PostgreSQL 16 with its default settings; medians of three): 22.1 s into an empty warehouse and
22.5 s as a second hour on top of it, against 26.6 s and 29.2 s with ON CONFLICT and the joins to
`events`; the merge took 16 s and 18 s (before: 21 s and 24 s). Most of what is left is index
upkeep: inserting the hour into `events` and its six indexes costs about 6.5 s of server CPU even
from a table sorted in advance, into `event_items` about 3 s. Reading ahead saved 0.4 s of 4.4 s
of staging here and raised the load's peak memory from 546 MB to 689 MB.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import Any

import psycopg2.extensions
import pyarrow as pa
import pyarrow.compute as pc
from pgpq import ArrowToPostgresBinaryEncoder

from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.layout import QUARANTINE_STAGES, Hour
from clickstream.observability import get_logger
from clickstream.warehouse.db import LOCK_LOAD_HOUR_NAMESPACE, LOCK_MERGE, LOCK_NAMESPACE, transaction
from clickstream.warehouse.errors import LoadInputError
from clickstream.warehouse.queries import query

FAULT_POINTS = ("before_copy", "after_copy", "after_merge", "before_commit")

# Rows per batch handed to COPY: big enough to keep Python out of the way, small enough to
# bound the memory of one batch's encoding (about 15 MB).
COPY_BATCH_ROWS = 20_000
# Binary COPY needs each column's exact width; Arrow types with no PostgreSQL twin are widened
# to the column's type (events.event_hour is a smallint).
_WIRE_TYPES = {pa.int8(): pa.int16()}

Fault = Callable[[str], None]
ReadTable = Callable[[str], pa.Table]
Part = tuple[str, str | None]


@dataclass(frozen=True)
class LoadResult:
    """What one load did: rows it inserted, duplicates it met, days of the hour's events."""

    inserted_events: int
    inserted_items: int
    natural_duplicates: int
    synthetic_duplicates: int
    days_touched: list[str]  # ISO dates (event_date) of the events the hour holds, sorted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_hour(
    conn: psycopg2.extensions.connection,
    hour: Hour,
    run_id: str,
    parts: Sequence[Part],
    *,
    read_table: ReadTable,
    quarantine_counts: Mapping[tuple[str, str], int],
    fault: Fault | None = None,
) -> LoadResult:
    """Load the hour's parts `[(events_key, items_key or None), ...]` in one transaction.

    `read_table(key)` returns a part's Arrow table (columns of `clickstream.etl.processed`;
    extra columns are ignored). `quarantine_counts` maps (stage, error_code) to the number of
    records quarantined for the hour; they replace the hour's rows. `fault(point)` is called
    at each of `FAULT_POINTS` (tests make it raise or exit).

    `inserted_events`/`inserted_items` count rows this call inserted (0 on a re-run);
    duplicates and `days_touched` describe the hour and are the same on every run.
    Raises `LoadInputError` for a part that breaks the processed-layer contract.
    """
    counts = _checked_quarantine_counts(quarantine_counts)
    fault = fault or _no_fault
    started = time.perf_counter()
    params = {"hour": hour.start}
    staged = 0
    with transaction(conn) as cur:
        cur.execute(query("load", "settings"))
        # Two runs of the same hour wait for each other rather than interleave.
        cur.execute(query("load", "lock"), {"namespace": LOCK_LOAD_HOUR_NAMESPACE, "key": _hour_number(hour)})
        cur.execute(query("load", "create_staging"))
        fault("before_copy")
        with closing(_read_ahead(parts, read_table)) as files:
            for part_no, key, schema, table in files:
                if schema is EVENTS_SCHEMA:
                    cur.execute(query("load", "set_part"), {"part_no": part_no})
                    staged += table.num_rows
                    _copy(cur, query("load", "copy_events"), _conform(table, schema, key, hour))
                else:
                    _copy(cur, query("load", "copy_items"), _conform(table, schema, key, hour))
        copied = time.perf_counter()
        fault("after_copy")
        cur.execute(query("load", "analyze_staging"))
        # Staging ran in parallel with other hours; merges go one at a time. Every writer of
        # events and event_items is this function, so what keep_earliest finds in events stays
        # true until the commit: the inserts need no ON CONFLICT and the duplicate counts are exact.
        cur.execute(query("load", "lock"), {"namespace": LOCK_NAMESPACE, "key": LOCK_MERGE})
        cur.execute(query("load", "keep_earliest"))
        cur.execute(query("load", "merge_events"))
        inserted_events = cur.rowcount
        cur.execute(query("load", "merge_items"))
        inserted_items = cur.rowcount
        cur.execute(query("load", "merge_held_items"))
        inserted_items += cur.rowcount
        cur.execute(query("load", "count_duplicates"), params)
        natural, synthetic = (int(n) for n in cur.fetchone())
        merged = time.perf_counter()
        fault("after_merge")
        cur.execute(query("load", "upsert_manifest"), {
            **params, "run_id": run_id, "files": len(parts), "staged_events": staged,
            "natural_duplicates": natural, "synthetic_duplicates": synthetic,
        })
        days = [day.isoformat() for day in cur.fetchone()[0]]
        cur.execute(query("load", "delete_quarantine_counts"), params)
        cur.executemany(query("load", "insert_quarantine_count"), [
            {**params, "stage": stage, "error_code": code, "count": n} for (stage, code), n in sorted(counts.items())
        ])
        fault("before_commit")
    result = LoadResult(inserted_events, inserted_items, natural, synthetic, days)
    get_logger().info("warehouse load committed", extra={
        "hour": str(hour), "run_id": run_id, "parts": len(parts), "staged_events": staged, **result.to_dict(),
        "copy_s": round(copied - started, 3), "merge_s": round(merged - copied, 3),
        "total_s": round(time.perf_counter() - started, 3),
    })
    return result


def _read_ahead(parts: Sequence[Part], read_table: ReadTable) -> Iterator[tuple[int, str, pa.Schema, pa.Table]]:
    """(part_no, key, schema, table) of each file of the parts, events before items; the next
    file is read in a thread while the caller copies this one, so reading (an S3 GET and Parquet
    decoding, which release the GIL) overlaps the server's COPY. Two files in memory at most.
    A read's error is raised when its file's turn comes.
    """
    files = [(part_no, key, schema) for part_no, (events_key, items_key) in enumerate(parts)
             for key, schema in ((events_key, EVENTS_SCHEMA), (items_key, ITEMS_SCHEMA)) if key is not None]
    if not files:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-read-ahead") as pool:
        pending = pool.submit(read_table, files[0][1])
        for n, (part_no, key, schema) in enumerate(files):
            table = pending.result()
            if n + 1 < len(files):
                pending = pool.submit(read_table, files[n + 1][1])
            yield part_no, key, schema, table
            del table


def _no_fault(point: str) -> None:
    return None


def _hour_number(hour: Hour) -> int:
    """Hours since 1970: a per-hour advisory-lock key that fits PostgreSQL's int4."""
    return int(hour.start.timestamp()) // 3600


def _checked_quarantine_counts(counts: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """Validated before the transaction starts: a bad key is the caller's bug, not a load failure."""
    checked: dict[tuple[str, str], int] = {}
    for key, n in counts.items():
        if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) and k for k in key)):
            raise ValueError(f"quarantine_counts keys must be (stage, error_code) pairs of strings, not {key!r}")
        if key[0] not in QUARANTINE_STAGES:
            raise ValueError(f"quarantine stage {key[0]!r} is not one of {QUARANTINE_STAGES}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"quarantine count for {key} must be a non-negative int, not {n!r}")
        if n:
            checked[key] = n
    return checked


def _conform(table: pa.Table, schema: pa.Schema, key: str, hour: Hour) -> pa.Table:
    """The table with exactly the schema's columns, in its order and types, all of the hour."""
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise LoadInputError(
            f"{key} lacks column(s) {', '.join(missing)}: it is not a processed file of the expected kind "
            "(see clickstream.etl.processed)."
        )
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise LoadInputError(f"{key} does not have the types of clickstream.etl.processed: {exc}") from None
    if table.num_rows:
        same_hour = pc.all(pc.equal(table["received_hour"], pa.scalar(hour.start, type=schema.field("received_hour").type)))
        if not same_hour.as_py():
            raise LoadInputError(
                f"{key} holds rows whose received_hour is not {hour}: only the hour's own parts may be loaded with it."
            )
        # Cleaning keeps one row per event_id in a part; the load pairs an event with its items
        # by (event_id, part), which a second row of the id in the same part would make ambiguous.
        if schema is EVENTS_SCHEMA and pc.count_distinct(table["event_id"]).as_py() != table.num_rows:
            raise LoadInputError(f"{key} has more than one row for some event_id: cleaning must de-duplicate a part.")
    return table


class _BinaryStream:
    """The file object `copy_expert` reads: the binary COPY header, then each batch, then the trailer.

    pgpq may hold a batch back in its buffer and return nothing for it; an empty read means
    end of data to psycopg2, so reads go on to the next batch until there are bytes.
    """

    def __init__(self, table: pa.Table) -> None:
        table = _on_the_wire(table)
        self._encoder = ArrowToPostgresBinaryEncoder(table.schema)
        self._parts = self._encoded(table)

    def _encoded(self, table: pa.Table) -> Iterator[bytes]:
        yield bytes(self._encoder.write_header())
        for batch in table.to_batches(max_chunksize=COPY_BATCH_ROWS):
            if batch.num_rows:
                yield bytes(self._encoder.write_batch(batch))
        yield bytes(self._encoder.finish())

    def read(self, size: int = -1) -> bytes:
        for part in self._parts:
            if part:
                return part
        return b""

    readline = read


def _on_the_wire(table: pa.Table) -> pa.Table:
    schema = pa.schema([f.with_type(_WIRE_TYPES.get(f.type, f.type)) for f in table.schema])
    return table if schema == table.schema else table.cast(schema)


def _copy(cur: psycopg2.extensions.cursor, statement: str, table: pa.Table) -> None:
    if table.num_rows:
        cur.copy_expert(statement, _BinaryStream(table), size=1 << 20)
