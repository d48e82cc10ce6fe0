"""Check one hour of processed data: the suites in `quality/`, then the pipeline warnings.

`check_hour` is a function of its inputs (the hour's tables and the pipeline's counts); it
reads and writes nothing. The CheckQuality task reads the Parquet files, calls it, stores
the results with `store_results`, and calls `raise_for` so a critical failure stops the run
before LoadWarehouse.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from clickstream.etl.processed import EVENTS_DATASET, EVENTS_SCHEMA, ITEMS_DATASET, ITEMS_SCHEMA
from clickstream.layout import Hour
from clickstream.quality import gx
from clickstream.quality.model import QualityContext, QualityResult
from clickstream.quality.pipeline import pipeline_checks
from clickstream.quality.suites import columns_used, load_suite_document, suite_parameters

CHUNK_COLUMN = "chunk"
"""Added to both tables: the index of the clean chunk a row came from (0 for a single table)."""
ORPHAN_EVENT_ID_COLUMN = "orphan_event_id"
"""Added to the items table: the item's event_id when none of the hour's events has it, else null."""

Tables = pa.Table | Sequence[pa.Table]
"""One table for the hour, or one table per clean chunk in chunk order."""
Source = Tables | Callable[[], Tables]
"""The tables, or a function of no arguments that reads them when their turn comes."""

# Columns the checker itself reads besides what the suites name (orphans, the bot share).
_CHECKER_COLUMNS = {EVENTS_DATASET: ("event_id", "is_bot"), ITEMS_DATASET: ("event_id",)}
_SCHEMAS = {EVENTS_DATASET: EVENTS_SCHEMA, ITEMS_DATASET: ITEMS_SCHEMA}


def columns_to_read(dataset: str, suites_dir: Path | None = None) -> list[str] | None:
    """The processed columns `check_hour` needs for `dataset`, in schema order, or None for all.

    Reading only these from Parquet keeps the CheckQuality task's memory to a fraction of
    the hour's size (the events table has 55 columns; the suites read about ten). A suite
    with a table-level expectation about the columns themselves (their count, set or order)
    needs every column, so then the answer is None.
    """
    document = load_suite_document(dataset, suites_dir)
    if any(e["type"].startswith("expect_table_column") for e in document["expectations"]):
        return None
    wanted = columns_used(document) | set(_CHECKER_COLUMNS[dataset])
    return [name for name in _SCHEMAS[dataset].names if name in wanted]


def check_hour(
    hour: Hour,
    run_id: str,
    *,
    events: Source,
    items: Source,
    expected_events: int,
    context: QualityContext,
    suites_dir: Path | None = None,
) -> QualityResult:
    """Run every data-quality check of one hour; never raises for bad data (see `raise_for`).

    `events` and `items` have the columns of `clickstream.etl.processed`. Pass one table per
    clean chunk (the files `part-NNNNN.parquet`, in order) when the hour has several: cleaning
    de-duplicates within a chunk, so uniqueness is checked per chunk, while the same event in
    two chunks (an SDK retry that landed in another raw object) is legitimate and collapses
    at load. A single table is treated as one chunk, so do not concatenate the chunks first.
    No tables at all (an hour without raw objects) is an empty hour. `expected_events` is the
    cleaned event count the clean step reported (the sum over chunks).

    Either dataset may be given as a function that returns its tables. Events are read,
    validated and let go before items are read (only their event_id column is kept, to find
    orphan items), so with readers the hour's two datasets are never in memory together:
    at 1 M events that keeps the CheckQuality task under 1 GB.
    """
    with _system_memory_pool():
        return _check(hour, run_id, events, items, expected_events, context, suites_dir)


def _check(hour: Hour, run_id: str, events: Source, items: Source, expected_events: int, context: QualityContext,
           suites_dir: Path | None) -> QualityResult:
    parameters = suite_parameters(hour, expected_events)
    events_table = _with_chunks(_tables(events), EVENTS_SCHEMA)
    event_ids = _event_ids(events_table)
    event_count, bots = events_table.num_rows, _bots(events_table)
    results = gx.validate(EVENTS_DATASET, events_table, parameters, suites_dir)
    del events_table
    # What Great Expectations built around the events frame is freed by the cycle collector
    # only (0.15 s); do it now, before the items are read.
    gc.collect()
    items_table = _with_orphans(_with_chunks(_tables(items), ITEMS_SCHEMA), event_ids)
    results += gx.validate(ITEMS_DATASET, items_table, parameters, suites_dir)
    del items_table
    results += pipeline_checks(event_count, bots, context)
    return QualityResult(hour=hour, run_id=run_id, results=results)


@contextmanager
def _system_memory_pool() -> Iterator[None]:
    """Arrow allocates from the C library's malloc while the hour is checked.

    pandas' numpy arrays come from malloc too, so memory the events' Arrow tables free is
    reused by the items' frames; Arrow's default (mimalloc) keeps its own arenas. Measured on
    the 1 M-event benchmark hour: peak 921 MB against 1,063 MB, in about the same time.
    Each buffer remembers its pool, so switching the default is safe for tables made before.
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _tables(source: Source) -> list[pa.Table]:
    tables = source() if callable(source) else source
    return [tables] if isinstance(tables, pa.Table) else list(tables)


def _with_chunks(parts: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not parts:  # an hour without raw objects has no chunks: an empty hour, not a broken one
        parts = [schema.empty_table()]
    marked = [
        part.append_column(CHUNK_COLUMN, pa.repeat(pa.scalar(index, pa.int32()), part.num_rows))
        for index, part in enumerate(parts)
    ]
    # "default" promotion unifies chunks whose nullability flags differ (e.g. an empty chunk).
    return pa.concat_tables(marked, promote_options="default") if len(marked) > 1 else marked[0]


def _event_ids(events: pa.Table) -> pa.ChunkedArray | None:
    return events.column("event_id") if "event_id" in events.column_names else None


def _with_orphans(items: pa.Table, event_ids: pa.ChunkedArray | None) -> pa.Table:
    """Mark items whose event is not among the hour's events (a join, done in Arrow)."""
    if "event_id" not in items.column_names:
        return items  # the suite reports the missing column
    item_ids = items.column("event_id")
    known_ids = event_ids if event_ids is not None else pa.array([], item_ids.type)
    # A null item event_id stays null here: the not-null expectation reports it, once.
    known = pc.is_in(item_ids, value_set=known_ids)
    orphans = pc.if_else(known, pa.scalar(None, item_ids.type), item_ids)
    return items.append_column(ORPHAN_EVENT_ID_COLUMN, orphans)


def _bots(events: pa.Table) -> int:
    if "is_bot" not in events.column_names or events.num_rows == 0:
        return 0
    return int(pc.sum(events.column("is_bot").fill_null(False).cast(pa.int64())).as_py() or 0)
