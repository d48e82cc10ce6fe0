"""Check one hour of processed data: the suites in `quality/`, then the pipeline warnings.

`check_hour` is a function of its inputs (the hour's tables and the pipeline's counts); it
reads and writes nothing. The CheckQuality task reads the Parquet files, calls it, stores
the results with `store_results`, and calls `raise_for` so a critical failure stops the run
before LoadWarehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    events: Tables,
    items: Tables,
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
    """
    events_table = _with_chunks(events, _projected(EVENTS_SCHEMA, events))
    items_table = _with_orphans(_with_chunks(items, _projected(ITEMS_SCHEMA, items)), events_table)
    parameters = suite_parameters(hour, expected_events)
    results = [
        *gx.validate(EVENTS_DATASET, events_table, parameters, suites_dir),
        *gx.validate(ITEMS_DATASET, items_table, parameters, suites_dir),
        *pipeline_checks(events_table.num_rows, _bots(events_table), context),
    ]
    return QualityResult(hour=hour, run_id=run_id, results=results)


def _projected(schema: pa.Schema, tables: Tables) -> pa.Schema:
    """The schema of the tables as given (possibly only `columns_to_read`), for an empty hour."""
    parts = [tables] if isinstance(tables, pa.Table) else list(tables)
    return parts[0].schema if parts else schema


def _with_chunks(tables: Tables, schema: pa.Schema) -> pa.Table:
    parts = [tables] if isinstance(tables, pa.Table) else list(tables)
    if not parts:  # an hour without raw objects has no chunks: an empty hour, not a broken one
        parts = [schema.empty_table()]
    marked = [
        part.append_column(CHUNK_COLUMN, pa.array([index] * part.num_rows, pa.int32()))
        for index, part in enumerate(parts)
    ]
    # "default" promotion unifies chunks whose nullability flags differ (e.g. an empty chunk).
    return pa.concat_tables(marked, promote_options="default") if len(marked) > 1 else marked[0]


def _with_orphans(items: pa.Table, events: pa.Table) -> pa.Table:
    """Mark items whose event is not among the hour's events (a join, done in Arrow)."""
    if "event_id" not in items.column_names:
        return items  # the suite reports the missing column
    item_ids = items.column("event_id")
    event_ids = events.column("event_id") if "event_id" in events.column_names else pa.array([], item_ids.type)
    # A null item event_id stays null here: the not-null expectation reports it, once.
    known = pc.is_in(item_ids, value_set=event_ids)
    orphans = pc.if_else(known, pa.scalar(None, item_ids.type), item_ids)
    return items.append_column(ORPHAN_EVENT_ID_COLUMN, orphans)


def _bots(events: pa.Table) -> int:
    if "is_bot" not in events.column_names or events.num_rows == 0:
        return 0
    return int(pc.sum(events.column("is_bot").fill_null(False).cast(pa.int64())).as_py() or 0)
