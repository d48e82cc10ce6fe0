"""One function per state of the hourly ETL: what each Lambda task does, given its input.

Handlers in `tasks/` only parse the state input, get `EtlDeps` and call one of these. Each
step returns a small dict (keys and counts) that the state machine stores under its key of
the state document (docs/etl.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import Any

import pyarrow as pa

from clickstream.aws import AwsClients
from clickstream.errors import ClickstreamError
from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.layout import Hour
from clickstream.settings import EtlSettings


@dataclass
class EtlDeps:
    """The adapters every step needs, built once per process from settings."""

    settings: EtlSettings
    aws: AwsClients
    _migrated: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @classmethod
    def from_settings(cls, settings: EtlSettings) -> EtlDeps:
        return cls(settings=settings, aws=AwsClients(settings.aws))

    @cached_property
    def s3(self) -> Any:
        return self.aws.s3()

    @cached_property
    def database_url(self) -> str:
        from clickstream.warehouse.db import database_url

        return database_url(self.settings.warehouse, self.aws)

    def read_table(self, key: str, columns: list[str] | None = None) -> pa.Table:
        from clickstream.etl.s3io import read_parquet

        # One GET into memory is the faster read for files of this size (see s3io.read_parquet).
        return read_parquet(key, bucket=self.settings.processed_bucket, s3=self.s3, columns=columns)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A warehouse connection; the schema is migrated once per process before first use."""
        from clickstream.warehouse.db import connect
        from clickstream.warehouse.migrate import migrate

        conn = connect(self.database_url)
        try:
            with self._lock:
                if not self._migrated:
                    migrate(conn)
                    self._migrated = True
            yield conn
        finally:
            conn.close()


@cache
def deps_from_env() -> EtlDeps:
    """The process-wide dependencies of a Lambda task (settings read once, at first use)."""
    return EtlDeps.from_settings(EtlSettings.from_env())


def _hour(run: dict[str, Any]) -> Hour:
    return Hour.parse(run["hour"])


def list_step(run: dict[str, Any], deps: EtlDeps) -> dict[str, Any]:
    from clickstream.etl.clean import remove_stale_parts
    from clickstream.etl.listing import list_raw_objects

    s = deps.settings
    hour = _hour(run)
    listing = list_raw_objects(
        hour,
        run["run_id"],
        s3=deps.s3,
        raw_bucket=s.raw_bucket,
        processed_bucket=s.processed_bucket,
        quarantine_bucket=s.quarantine_bucket,
    )
    if not listing.chunks:  # no clean task runs, so remove what an earlier run of the hour wrote
        remove_stale_parts(
            hour, 0, s3=deps.s3, processed_bucket=s.processed_bucket, quarantine_bucket=s.quarantine_bucket
        )
    return listing.to_dict()


def clean_step(run: dict[str, Any], manifest_key: str, chunk: int, deps: EtlDeps) -> dict[str, Any]:
    from clickstream.etl.clean import clean_chunk

    s = deps.settings
    result = clean_chunk(
        _hour(run),
        run["run_id"],
        manifest_key,
        chunk,
        s3=deps.s3,
        raw_bucket=s.raw_bucket,
        processed_bucket=s.processed_bucket,
        quarantine_bucket=s.quarantine_bucket,
    )
    return result.to_dict()


def _table(deps: EtlDeps, key: str | None, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    if not key:
        schema = pa.schema([schema.field(c) for c in columns]) if columns is not None else schema
        return schema.empty_table()
    return deps.read_table(key, columns)


def _quarantined(listing: dict[str, Any], chunks: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for code, n in (listing.get("ingest_quarantine") or {}).items():
        counts[("ingest", code)] = counts.get(("ingest", code), 0) + n
    for chunk in chunks:
        for code, n in (chunk.get("quarantined") or {}).items():
            counts[("clean", code)] = counts.get(("clean", code), 0) + n
    return counts


def _run_counts(listing: dict[str, Any], chunks: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "raw_objects": listing.get("object_count", 0),
        "raw_bytes": listing.get("raw_bytes", 0),
        "events_cleaned": sum(c.get("events", 0) for c in chunks),
        "natural_duplicates": sum(c.get("natural_duplicates", 0) for c in chunks),
        "quarantined": sum(_quarantined(listing, chunks).values()),
    }


def quality_step(
    run: dict[str, Any], listing: dict[str, Any], chunks: list[dict[str, Any]], deps: EtlDeps
) -> dict[str, Any]:
    """Critical expectations failing raise DataQualityError: the run stops before loading."""
    from clickstream.etl.processed import EVENTS_DATASET, ITEMS_DATASET
    from clickstream.quality import QualityContext, check_hour, columns_to_read, raise_for, store_results
    from clickstream.warehouse.runs import events_loaded_for_hour, record_run_progress

    hour = _hour(run)
    suites_dir = deps.settings.quality_suites_dir
    # Only the columns the suites read; one table per chunk: uniqueness holds within a chunk,
    # and across chunks duplicates collapse at load. Readers, not tables: check_hour reads the
    # items only after it has validated and let go of the events.
    event_columns, item_columns = (columns_to_read(d, suites_dir) for d in (EVENTS_DATASET, ITEMS_DATASET))

    def events() -> list[pa.Table]:
        return [_table(deps, c.get("events_key"), EVENTS_SCHEMA, event_columns) for c in chunks]

    def items() -> list[pa.Table]:
        return [_table(deps, c.get("items_key"), ITEMS_SCHEMA, item_columns) for c in chunks]

    quarantined = _quarantined(listing, chunks)
    with deps.connection() as conn:
        context = QualityContext(
            ingest_quarantined=sum(n for (stage, _), n in quarantined.items() if stage == "ingest"),
            clean_quarantined=sum(n for (stage, _), n in quarantined.items() if stage == "clean"),
            same_hour_last_week_events=events_loaded_for_hour(conn, hour.shift(-168)),
        )
        result = check_hour(
            hour,
            run["run_id"],
            events=events,
            items=items,
            expected_events=sum(c.get("events", 0) for c in chunks),
            context=context,
            suites_dir=suites_dir,
        )
        store_results(conn, run["run_id"], hour, result.results)
        record_run_progress(
            conn,
            run["run_id"],
            hour,
            run["trigger"],
            _parse_ts(run["started_at"]),
            **_run_counts(listing, chunks),
            dq_critical_failures=result.critical_failures,
            dq_warnings=result.warnings,
        )
    raise_for(result)
    return result.to_dict()


def load_step(
    run: dict[str, Any], listing: dict[str, Any], chunks: list[dict[str, Any]], deps: EtlDeps
) -> dict[str, Any]:
    from clickstream.warehouse.load import load_hour
    from clickstream.warehouse.runs import record_run_progress

    hour = _hour(run)
    parts = [(c["events_key"], c.get("items_key")) for c in chunks if c.get("events_key")]
    with deps.connection() as conn:
        result = load_hour(
            conn,
            hour,
            run["run_id"],
            parts,
            read_table=deps.read_table,
            quarantine_counts=_quarantined(listing, chunks),
            fault=_fault(deps.settings.fault_injection),
        )
        record_run_progress(
            conn,
            run["run_id"],
            hour,
            run["trigger"],
            _parse_ts(run["started_at"]),
            inserted_events=result.inserted_events,
        )
    return result.to_dict()


class InjectedFault(ClickstreamError):
    """Raised where FAULT_INJECTION asks the load to fail (chaos testing)."""


def _fault(point: str | None) -> Callable[[str], None] | None:
    if point is None:
        return None

    def fault(reached: str) -> None:
        if reached == point:
            raise InjectedFault(
                f"FAULT_INJECTION={point}: the load was stopped at {point}; unset it and re-run the hour"
            )

    return fault


def refresh_step(run: dict[str, Any], deps: EtlDeps) -> dict[str, Any]:
    from clickstream.warehouse.rollups import refresh
    from clickstream.warehouse.runs import record_run_succeeded

    with deps.connection() as conn:
        result = refresh(conn, _hour(run), run["run_id"])
        record_run_succeeded(conn, run["run_id"], datetime.now(UTC))
    return result.to_dict()


def record_failure_step(
    document: dict[str, Any], execution_arn: str, execution_input: Any, deps: EtlDeps
) -> dict[str, Any]:
    """Marks the run failed in the warehouse and returns the alert NotifyFailure publishes."""
    from clickstream.warehouse.runs import record_run_failed

    alert = failure_alert(document, execution_arn, execution_input)
    run = document.get("run") or {}
    if run:
        with deps.connection() as conn:
            record_run_failed(
                conn,
                run["run_id"],
                _hour(run),
                alert["failed_state"],
                alert["error"],
                alert["cause"],
                datetime.now(UTC),
            )
        return alert


def failure_alert(document: dict[str, Any], execution_arn: str, execution_input: Any) -> dict[str, Any]:
    failure = document.get("failure") or {}
    error = failure.get("error") or {}
    cause = error.get("Cause") or ""
    # A Lambda error's Cause is its JSON error document; the message is what a person needs.
    with suppress(ValueError, AttributeError):
        cause = json.loads(cause).get("errorMessage", cause)
    if isinstance(execution_input, str):
        with suppress(ValueError):
            execution_input = json.loads(execution_input)
    hour = (document.get("run") or {}).get("hour") or (execution_input or {}).get("hour")
    return {
        "execution_id": execution_arn,
        "hour": hour,
        "failed_state": failure.get("state", "unknown"),
        "error": error.get("Error", "unknown"),
        "cause": str(cause)[:2000],
        "rerun": f"clickstream etl run --hour {hour} --wait" if hour else "fix the input and start the run again",
    }


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
