"""CleanToParquet: one chunk of an hour's raw objects in, deterministic Parquet and quarantine out.

For each raw line (a `RawRecord` as JSON; the raw layer is not trusted, so it is validated
again with the same code the ingest API uses) the step:

1. quarantines what fails validation, with the validator's code;
2. quarantines records whose `server.received_ts` is outside the hour (`wrong_partition`),
   and records whose event time (`server.derived_ts`) is more than 72 h before or 5 min
   after `received_ts` (`stale_timestamp` / `future_timestamp`, as at ingest);
3. de-duplicates by event_id (`dedup.py`): a retry (same payload, ignoring `sent_ts` and
   `server`) is dropped and counted, a different payload under a used id is quarantined
   (`synthetic_duplicate`), the earliest received copy is kept;
4. derives the columns of `processed.EVENTS_SCHEMA` and flattens `ecommerce.items` into
   `processed.ITEMS_SCHEMA` rows, sorted by (event_time, event_id[, item_position]);
5. writes `processed/events/<partition>/part-NNNNN.parquet`,
   `processed/event_items/<partition>/part-NNNNN.parquet` (always, even with no rows, so a
   re-run overwrites every file of the previous run) and
   `quarantine/stage=clean/<partition>/part-NNNNN.jsonl.gz` (deleted when nothing is
   quarantined). Same raw objects in, same bytes out. Chunk 0 also deletes parts beyond
   the manifest's chunk count, left by an earlier run with more chunks.

Speed and memory: each line is validated into a msgspec struct, and everything the output
needs is read from it at once, while it is in the CPU cache, into a few Python values (see
"columns" below: the columns that only change with the request, session or page are kept
once per run of equal values, not per event). Every `BATCH_ROWS` records those become Arrow
record batches, so only the compact columns of the whole chunk are held; the raw lines are
not kept (the few synthetic duplicates' lines are read again at the end). Output is
gathered into sorted order one row group at a time.

Column notes: timestamps are truncated to milliseconds; an empty `page.referrer` is null;
`properties` is the map as compact JSON with sorted keys; `payload_hash` is blake2b-128 (hex)
of the canonical record (msgspec's encoding of the decoded record, dict keys sorted, with
the event_id lowercased and without `sent_ts` and `server`).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from isal import isal_zlib
from msgspec.structs import astuple

from clickstream import layout
from clickstream.etl import s3io
from clickstream.etl.dedup import plan_dedup
from clickstream.etl.derive import PageDeriver, PageFields, device_class, engaged_ms, search_term
from clickstream.etl.listing import Manifest, ManifestError, read_manifest
from clickstream.etl.processed import EVENTS_DATASET, EVENTS_SCHEMA, ITEMS_DATASET, ITEMS_SCHEMA
from clickstream.ingest.sink import gunzip_lines, gzip_lines
from clickstream.layout import Hour
from clickstream.schema import FUTURE_LIMIT, LATE_LIMIT, Code, RawRecord, Rejection, validate_record
from clickstream.schema.event import Campaign, Item, Page

__all__ = [
    "BATCH_ROWS",
    "STAGE",
    "ChunkCleaner",
    "CleanResult",
    "CleanedChunk",
    "clean_chunk",
    "clean_objects",
    "paused_gc",
    "payload_hash",
    "quarantine_part_key",
    "remove_stale_parts",
]

STAGE = "clean"
BATCH_ROWS = 8_192
_INT32_MAX = 2**31 - 1
_OBJECT_SHIFT = 32  # _row = object index << 32 | line index: input position, and where to re-read a line


# --------------------------------------------------------------------------- results


class CleanResult(msgspec.Struct, frozen=True, kw_only=True):
    """One element of `$.chunks` in the state document."""

    chunk: int
    events: int
    items: int
    natural_duplicates: int
    quarantined: dict[str, int]
    events_key: str
    items_key: str  # always written, possibly with no rows

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


@dataclass(frozen=True)
class CleanedChunk:
    """What cleaning one chunk produced, before anything is stored."""

    events_parquet: pa.Buffer
    items_parquet: pa.Buffer
    events: int
    items: int
    natural_duplicates: int
    quarantined: dict[str, int]
    quarantine_lines: list[bytes] = field(repr=False)


# --------------------------------------------------------------------------- the step


def clean_chunk(
    hour: Hour,
    run_id: str,
    manifest_key: str,
    chunk: int,
    *,
    s3: Any,
    raw_bucket: str,
    processed_bucket: str,
    quarantine_bucket: str,
    s3_filesystem: Any = None,
) -> CleanResult:
    """Clean chunk `chunk` of the manifest at s3://processed_bucket/manifest_key (see the module doc).

    `s3` (a boto3 client) does every read and write. With `s3_filesystem` (a pyarrow S3
    filesystem from `s3io.s3_filesystem`) the Parquet files are written through it
    instead; that path uses multipart uploads for large files, which moto does not serve.
    """
    manifest = read_manifest(s3, processed_bucket, manifest_key)
    objects = _chunk_objects(manifest, hour, run_id, chunk, manifest_key)
    if chunk == 0:
        remove_stale_parts(hour, len(manifest.chunks), s3=s3, processed_bucket=processed_bucket,
                           quarantine_bucket=quarantine_bucket)

    def fetch(key: str) -> bytes:
        return s3io.get_bytes(s3, raw_bucket, key)

    with paused_gc():
        cleaner = ChunkCleaner(hour, run_id)
        keys = [o.key for o in objects]
        for index, (key, data) in enumerate(s3io.fetch_many(fetch, keys)):
            cleaner.add_object(index, key, data)
        cleaned = cleaner.finish(reload=fetch)

    events_key = layout.processed_key(EVENTS_DATASET, hour, chunk)
    items_key = layout.processed_key(ITEMS_DATASET, hour, chunk)
    target = {"s3": s3} if s3_filesystem is None else {"filesystem": s3_filesystem}
    s3io.write_parquet(cleaned.events_parquet, events_key, bucket=processed_bucket, **target)
    s3io.write_parquet(cleaned.items_parquet, items_key, bucket=processed_bucket, **target)

    quarantine_key = quarantine_part_key(hour, chunk)
    if cleaned.quarantine_lines:
        s3io.put_bytes(s3, quarantine_bucket, quarantine_key, gzip_lines(cleaned.quarantine_lines),
                       content_type="application/gzip")
    else:
        # A previous run of this chunk may have quarantined something this one did not.
        s3io.delete_keys(s3, quarantine_bucket, [quarantine_key])

    return CleanResult(
        chunk=chunk,
        events=cleaned.events,
        items=cleaned.items,
        natural_duplicates=cleaned.natural_duplicates,
        quarantined=cleaned.quarantined,
        events_key=events_key,
        items_key=items_key,
    )


def _chunk_objects(manifest: Manifest, hour: Hour, run_id: str, chunk: int, key: str) -> list[Any]:
    if manifest.hour != str(hour) or manifest.run_id != run_id:
        raise ManifestError(
            f"manifest {key} is for hour {manifest.hour} run {manifest.run_id!r}, not hour {hour} run {run_id!r}: "
            "pass the manifest_key that ListRawObjects returned for this run"
        )
    if not 0 <= chunk < len(manifest.chunks):
        raise ManifestError(f"manifest {key} has {len(manifest.chunks)} chunk(s); there is no chunk {chunk}")
    return manifest.chunks[chunk]


def quarantine_part_key(hour: Hour, chunk: int) -> str:
    return layout.quarantine_key(STAGE, hour, f"part-{chunk:05d}")


_PART = re.compile(r"/part-(\d+)\.(?:parquet|jsonl\.gz)$")


def remove_stale_parts(hour: Hour, chunk_count: int, *, s3: Any, processed_bucket: str, quarantine_bucket: str) -> list[str]:
    """Delete the hour's events, items and clean-quarantine parts numbered `chunk_count` or
    above (written by an earlier run with more chunks); returns the deleted keys."""
    deleted: list[str] = []
    targets = [(processed_bucket, layout.processed_prefix(d, hour)) for d in (EVENTS_DATASET, ITEMS_DATASET)]
    targets.append((quarantine_bucket, layout.quarantine_prefix(STAGE, hour)))
    for bucket, prefix in targets:
        stale = [
            key for key, _ in s3io.list_objects(s3, bucket, prefix)
            if (m := _PART.search(key)) is not None and int(m.group(1)) >= chunk_count
        ]
        if stale:
            s3io.delete_keys(s3, bucket, stale)
            deleted += stale
    return deleted


# --------------------------------------------------------------------------- payload hash

_CANONICAL = msgspec.json.Encoder(order="deterministic")


def payload_hash(record: RawRecord) -> str:
    """blake2b-128 (hex) of the record without `sent_ts` and `server`: what a retry keeps identical.

    The canonical form is msgspec's encoding of the decoded record (fixed field order,
    defaults such as null or [] omitted, dict keys sorted), with the event_id lowercased.
    """
    # The fields are swapped out and back in place: copying the struct would cost more
    # than the hash itself.
    event_id, sent_ts, server = record.event_id, record.sent_ts, record.server
    try:
        record.event_id, record.sent_ts, record.server = event_id.lower(), None, None  # type: ignore[assignment]
        canonical = _CANONICAL.encode(record)
    finally:
        record.event_id, record.sent_ts, record.server = event_id, sent_ts, server
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


# --------------------------------------------------------------------------- columns
#
# Most columns do not change from one event to the next: those of the request (server
# context and sent_ts), of the session (ids, SDK, device, consent) and of the page (page,
# campaign and what is derived from them). Consecutive events with the same values form a
# *run*: a run's values are read (and derived) once and stored once, in a run table, and
# each event holds the number of its run in each group. The output columns are taken from
# the run tables by run number, one row group at a time. Runs are only an encoding: any
# change of value starts a new run, so every event keeps exactly its own values.

_TS_US = pa.timestamp("us", tz="UTC")
_TS_MS = pa.timestamp("ms", tz="UTC")

# Columns of the run tables, in the order the run tuples hold them.
_REQUEST_COLUMNS = ("received_ts", "sent_ts", "request_id", "ip_trunc", "browser", "os", "device_class", "is_bot")
_SESSION_COLUMNS = (
    "app_id", "platform", "sdk_name", "sdk_version", "schema_version", "anonymous_id", "user_id", "claimed_user_id",
    "visitor_id", "session_id", "language", "tz_offset_min", "screen_w", "screen_h", "viewport_w", "viewport_h",
    "consent_analytics",
)
_PAGE_COLUMNS = ("page_url", "page_title", "page_referrer", "page_view_id", *PageFields._fields)
# group -> (its run-number column in the events work table, its run table's schema)
_RUN_GROUPS = {
    group: (f"_{group}", pa.schema([EVENTS_SCHEMA.field(name) for name in names]))
    for group, names in (("request", _REQUEST_COLUMNS), ("session", _SESSION_COLUMNS), ("page", _PAGE_COLUMNS))
}

# The tuple kept per event, in this order: its run numbers, then its own columns (but
# payload_hash, kept apart as digests).
_EVENT_COLUMNS = (
    "_request", "_session", "_page", "event_id", "event_name", "event_time", "client_ts", "event_seq",
    "search_term", "engaged_ms", "properties", "currency", "value", "transaction_id", "item_count", "_row", "_crc",
)
# String columns of the work tables whose values repeat (event names, currencies, products)
# are held dictionary-encoded until output, and cast back to plain strings per row group.
_DICT = pa.dictionary(pa.int32(), pa.string())
_EVENT_REPEATED = frozenset({"event_name", "search_term", "currency", "transaction_id"})
# The events work table: each event's own columns (with payload_hash and the computed
# event_date, event_hour, received_hour), received_ts (for dedup; also in the request runs),
# its run numbers, and _row (input position, and where to re-read the line) and _crc (of the
# raw line, a dedup tie-break).
_EVENTS_WORK_SCHEMA = pa.schema([
    *(f.with_type(_DICT) if f.name in _EVENT_REPEATED else f for f in EVENTS_SCHEMA
      if f.name in _EVENT_COLUMNS or f.name in ("event_date", "event_hour", "received_hour", "received_ts",
                                                 "payload_hash")),
    *(pa.field(column, pa.int32(), nullable=False) for column, _ in _RUN_GROUPS.values()),
    pa.field("_row", pa.int64(), nullable=False),
    pa.field("_crc", pa.int64(), nullable=False),
])
_COUNTRY = "country"  # no source yet: always null
assert ({*_EVENTS_WORK_SCHEMA.names, *_REQUEST_COLUMNS, *_SESSION_COLUMNS, *_PAGE_COLUMNS, _COUNTRY}
        >= set(EVENTS_SCHEMA.names)), "a column of EVENTS_SCHEMA is made nowhere"

# Python values -> Arrow: the types of the tuples kept per event, per run and per item.
# Timestamps arrive as datetimes: Arrow converts those to microseconds fast (to milliseconds
# directly it is ~100x slower), so they are built at "us" and cast down, truncating. An
# event's own times (event_time, client_ts) are kept as offsets from its received_ts
# instead: timedeltas convert ~10x faster than timezone-aware datetimes, and adding the
# offsets back in Arrow is exact.
_OFFSET = pa.duration("us")


def _row_type(fields: Iterable[pa.Field]) -> pa.StructType:
    return pa.struct([f.with_type(_TS_US) if f.type == _TS_MS else f for f in fields])


_EVENT_ROW = _row_type(
    _EVENTS_WORK_SCHEMA.field(name).with_type(_OFFSET) if name in ("event_time", "client_ts")
    else _EVENTS_WORK_SCHEMA.field(name) for name in _EVENT_COLUMNS
)
_RUN_ROWS = {group: _row_type(schema) for group, (_, schema) in _RUN_GROUPS.items()}
_NO_DEVICE = (None, None, None, None, None, None)
_NOTHING = object()  # equal to nothing: the "previous run" before an event
_EARLIEST_LAG = -LATE_LIMIT
_crc32 = isal_zlib.crc32  # zlib.crc32's value, about 3x faster
_HASH_BYTES = 16

# The items' own columns: _event (the event's row in the chunk table), item_position, then
# msgspec.structs.astuple(item).
_ITEM_ROW_COLUMNS = (
    "_event", "item_position", "item_id", "item_name", "item_category", "item_brand", "item_variant", "price",
    "quantity", "list_index",
)
assert Item.__struct_fields__ == (*_ITEM_ROW_COLUMNS[2:-1], "index"), "Item fields and item columns disagree"
_ITEM_REPEATED = frozenset({"item_id", "item_name", "item_category", "item_brand", "item_variant"})
_ITEMS_WORK_SCHEMA = pa.schema(
    [pa.field("_event", pa.int64(), nullable=False),
     *(ITEMS_SCHEMA.field(n).with_type(_DICT) if n in _ITEM_REPEATED else ITEMS_SCHEMA.field(n)
       for n in _ITEM_ROW_COLUMNS[1:])]
)
_ITEM_ROW = _row_type(_ITEMS_WORK_SCHEMA.field(name) for name in _ITEM_ROW_COLUMNS[2:])
# Item columns copied from the item's event at the end (the events work table has the first
# ones, the session runs the last two).
_ITEM_EVENT_COLUMNS = ("event_id", "event_name", "event_time", "event_date", "received_hour", "transaction_id",
                       "currency")
_ITEM_SESSION_COLUMNS = ("session_id", "visitor_id")

_PROPERTIES = msgspec.json.Encoder(order="deterministic")


class _Rejected(msgspec.Struct, omit_defaults=True):
    """One clean-stage quarantine record (a line of the quarantine object)."""

    stage: str
    error_code: str
    error_message: str
    error_path: str | None
    event_id: str | None
    run_id: str
    source_key: str
    line_number: int | None  # 0-based, among the non-empty lines of the object
    raw: str | None
    raw_base64: str | None = None


_encode_rejected = msgspec.json.Encoder().encode


class _Batch:
    """The kept events of one batch as Python values, until they become Arrow record batches."""

    def __init__(self, first: int, first_runs: dict[str, int]) -> None:
        self.first = first  # the chunk's event number of the batch's first event
        self.first_runs = first_runs  # per group, the chunk's run number of the batch's first run
        self.events: list[tuple[Any, ...]] = []  # one _EVENT_COLUMNS tuple per event
        self.hashes = bytearray()  # the events' payload hashes (digests, _HASH_BYTES each)
        # One tuple per run of each group (_REQUEST_COLUMNS, _SESSION_COLUMNS, _PAGE_COLUMNS).
        self.requests: list[tuple[Any, ...]] = []
        self.sessions: list[tuple[Any, ...]] = []
        self.pages: list[tuple[Any, ...]] = []
        # Per item: _event, item_position, and astuple(item) (the other _ITEM_ROW_COLUMNS).
        self.item_events: list[int] = []
        self.item_positions: list[int] = []
        self.items: list[tuple[Any, ...]] = []

    def next(self) -> _Batch:
        """The empty batch that follows this one."""
        return _Batch(self.first + len(self.events), {
            "request": self.first_runs["request"] + len(self.requests),
            "session": self.first_runs["session"] + len(self.sessions),
            "page": self.first_runs["page"] + len(self.pages),
        })

    def to_arrow(self, hour: Hour) -> tuple[pa.RecordBatch, pa.RecordBatch | None, dict[str, pa.RecordBatch]]:
        """The events' work-schema record batch, their items' (None when there is none), and
        the record batch of each group's runs."""
        n = len(self.events)
        runs = {group: pa.RecordBatch.from_arrays(_columns(values, _RUN_ROWS[group]), schema=_RUN_GROUPS[group][1])
                for group, values in (("request", self.requests), ("session", self.sessions), ("page", self.pages))}
        arrays = dict(zip(_EVENT_COLUMNS, _columns(self.events, _EVENT_ROW), strict=True))
        self.events = []
        # event_time and client_ts are offsets from received_ts (see _EVENT_ROW).
        local_request = pc.subtract(arrays["_request"], pa.scalar(self.first_runs["request"], pa.int32()))
        received = pa.array([run[0] for run in self.requests], _TS_US).take(local_request)
        for name in ("event_time", "client_ts"):
            arrays[name] = pc.cast(pc.add_checked(received, arrays[name]), _TS_MS, safe=False)  # truncate to ms
        arrays["received_ts"] = pc.cast(received, _TS_MS, safe=False)
        # The digests as 32 hex digits each, in one piece.
        hex_digits = self.hashes.hex().encode("ascii")
        width = 2 * _HASH_BYTES
        arrays["payload_hash"] = pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(array("i", range(0, width * n + 1, width))), pa.py_buffer(hex_digits)])
        self.hashes = bytearray()
        self.requests, self.sessions, self.pages = [], [], []
        event_time = arrays["event_time"]
        arrays["event_date"] = pc.cast(event_time, pa.date32())
        arrays["event_hour"] = pc.cast(pc.hour(event_time), pa.int8())
        arrays["received_hour"] = pa.repeat(pa.scalar(hour.start, _TS_MS), n)
        events = pa.RecordBatch.from_arrays([arrays[name] for name in _EVENTS_WORK_SCHEMA.names],
                                            schema=_EVENTS_WORK_SCHEMA)
        items = None
        if self.items:
            items = pa.RecordBatch.from_arrays(
                [pa.array(self.item_events, pa.int64()), pa.array(self.item_positions, pa.int16()),
                 *_columns(self.items, _ITEM_ROW)],
                schema=_ITEMS_WORK_SCHEMA)
            self.item_events, self.item_positions, self.items = [], [], []
        return events, items, runs


def _columns(rows: list[tuple[Any, ...]], row_type: pa.StructType) -> list[pa.Array]:
    """The columns of `rows`, tuples of `row_type`'s fields in order, with timestamps truncated
    to milliseconds."""
    columns = zip(*rows, strict=True) if rows else [()] * row_type.num_fields
    arrays = [pa.array(values, f.type) for values, f in zip(columns, row_type, strict=True)]
    return [pc.cast(array, _TS_MS, safe=False) if array.type == _TS_US else array for array in arrays]


def _session_run(r: RawRecord) -> tuple[Any, ...]:
    """The _SESSION_COLUMNS of an event."""
    sdk, device, consent, user_id = r.sdk, r.device, r.consent, r.user_id
    return (
        r.app_id, r.platform, sdk.name, sdk.version, r.schema_version, r.anonymous_id, user_id, r.claimed_user_id,
        r.anonymous_id if user_id is None else user_id, r.session_id,
        *(_NO_DEVICE if device is None else (device.language, device.tz_offset_min, device.screen_w,
                                             device.screen_h, device.viewport_w, device.viewport_h)),
        None if consent is None else consent.analytics,
    )


def _page_run(page: Page | None, c: Campaign | None, derive: PageDeriver) -> tuple[Any, ...]:
    """The _PAGE_COLUMNS of an event."""
    if page is None:
        url = path = title = referrer = page_view_id = None
    else:
        url, path, title, page_view_id = page.url, page.path, page.title, page.page_view_id
        referrer = page.referrer or None
    campaign = None if c is None else (c.source, c.medium, c.name, c.term, c.content, c.click_id)
    return (url, title, referrer, page_view_id, *derive(url, path, referrer, campaign))


class ChunkCleaner:
    """The clean step without I/O: feed it raw objects in manifest order, then `finish`.

    Run it inside `paused_gc()` (as `clean_chunk` and `clean_objects` do), or it is about
    twice as slow.
    """

    def __init__(self, hour: Hour, run_id: str, *, batch_rows: int = BATCH_ROWS) -> None:
        self.hour = hour
        self.run_id = run_id
        self._batch_rows = batch_rows
        self._start: datetime = hour.start
        self._end: datetime = hour.end
        self._keys: list[str] = []
        self._batch = _Batch(0, dict.fromkeys(_RUN_GROUPS, 0))
        self._batches: list[pa.RecordBatch] = []
        self._item_batches: list[pa.RecordBatch] = []
        self._run_batches: dict[str, list[pa.RecordBatch]] = {group: [] for group in _RUN_GROUPS}
        self._rejected: list[tuple[int, bytes]] = []  # (input position, quarantine line)
        self._counts: dict[str, int] = {}
        self._page = PageDeriver()

    # ---- input

    def add_object(self, index: int, key: str, data: bytes) -> None:
        """One raw object (gzip JSON lines); `index` is its position in the chunk."""
        if index != len(self._keys):
            raise ValueError(f"objects must be added in order: expected index {len(self._keys)}, got {index}")
        self._keys.append(key)
        try:
            lines = gunzip_lines(data)
        except Exception as exc:
            self._reject(index << _OBJECT_SHIFT, key, None, None, Code.unreadable_object,
                         f"the raw object could not be read as gzip JSON lines ({exc}); it is left in raw", None, None)
            return
        base = index << _OBJECT_SHIFT
        start, end, batch_rows, derive = self._start, self._end, self._batch_rows, self._page
        canonical, blake2b, encode_properties = _CANONICAL.encode, hashlib.blake2b, _PROPERTIES.encode
        # This loop runs once per event: all an event needs is read from its record here,
        # while the record is in the CPU cache, into one tuple (see _Batch).
        batch = self._batch
        events, hashes, requests, sessions, pages = batch.events, batch.hashes, batch.requests, batch.sessions, batch.pages
        item_events, item_positions, items = batch.item_events, batch.item_positions, batch.items
        first_request, first_session, first_page = (batch.first_runs["request"], batch.first_runs["session"],
                                                    batch.first_runs["page"])
        server0 = sent0 = session0 = page0 = campaign0 = _NOTHING  # the current runs' values
        request_run = session_run = page_run = -1
        for number, line in enumerate(lines):
            outcome = validate_record(line)
            if type(outcome) is Rejection:
                self._reject(base | number, key, number, line, outcome.code, outcome.message, outcome.path,
                             outcome.event_id)
                continue
            r: RawRecord = outcome  # type: ignore[assignment]
            s = r.server
            received = s.received_ts
            # The event time as an offset from received_ts (see _EVENT_ROW), compared with the
            # limits where ingest compares derived_ts with received_ts -/+ a limit: the same test.
            event_time = s.derived_ts - received
            if (not start <= received < end or not _EARLIEST_LAG <= event_time <= FUTURE_LIMIT
                    or r.event_seq > _INT32_MAX):
                self._reject_checked(base | number, key, number, line, r)
                continue

            s.derived_ts = None  # type: ignore[assignment]  # the one per-event field: `!=` compares the rest
            sent = r.sent_ts
            if s != server0 or sent != sent0:
                server0, sent0 = s, sent
                request_run = first_request + len(requests)
                requests.append((received, sent, s.request_id, s.ip_trunc, s.ua_browser, s.ua_os,
                                 device_class(s.ua_device, s.is_bot), s.is_bot))
            session = (r.session_id, r.anonymous_id, r.user_id, r.claimed_user_id, r.app_id, r.platform, r.sdk,
                       r.schema_version, r.device, r.consent)
            if session != session0:
                session0 = session
                session_run = first_session + len(sessions)
                sessions.append(_session_run(r))
            page, campaign = r.page, r.campaign
            if page != page0 or campaign != campaign0:
                page0, campaign0 = page, campaign
                page_run = first_page + len(pages)
                pages.append(_page_run(page, campaign, derive))

            props = r.properties
            if props:
                term = props.get("search_term")
                if term is not None:
                    term = search_term(term)
                engaged = props.get("engaged_ms")
                if engaged is not None:
                    engaged = engaged_ms(engaged)
                properties = encode_properties(props)  # UTF-8 bytes: Arrow checks and takes them as they are
            else:
                term = engaged = properties = None
            e = r.ecommerce
            if e is None:
                currency = value = transaction_id = None
                item_count = 0
            else:
                currency, value, transaction_id, event_items = e.currency, e.value, e.transaction_id, e.items
                item_count = len(event_items)
                if item_count:
                    item_events += repeat(batch.first + len(events), item_count)
                    item_positions += range(item_count)
                    items += map(astuple, event_items)

            # payload_hash(r), without putting the fields back: nothing reads them again.
            event_id = r.event_id.lower()
            event_name, client_ts, event_seq = r.event_name, r.event_ts - received, r.event_seq
            r.event_id, r.sent_ts, r.server = event_id, None, None  # type: ignore[assignment]
            hashes += blake2b(canonical(r), digest_size=_HASH_BYTES).digest()
            events.append((
                request_run, session_run, page_run, event_id, event_name, event_time, client_ts, event_seq,
                term, engaged, properties, currency, value, transaction_id, item_count, base | number, _crc32(line),
            ))
            if len(events) >= batch_rows:
                self._flush()
                batch = self._batch
                events, hashes, requests, sessions, pages = (batch.events, batch.hashes, batch.requests,
                                                             batch.sessions, batch.pages)
                item_events, item_positions, items = batch.item_events, batch.item_positions, batch.items
                first_request, first_session, first_page = (batch.first_runs["request"],
                                                            batch.first_runs["session"], batch.first_runs["page"])
                server0 = sent0 = session0 = page0 = campaign0 = _NOTHING

    def _reject_checked(self, row: int, key: str, number: int, line: bytes, record: RawRecord) -> None:
        """Quarantine a valid record that fails a check of this step: the hour, the time window, event_seq."""
        server = record.server
        received = server.received_ts
        derived = server.derived_ts
        if not self._start <= received < self._end:
            self._reject(row, key, number, line, Code.wrong_partition,
                         f"server.received_ts {received.isoformat()} is not in the hour {self.hour} of the raw "
                         "partition this line was stored in", "$.server.received_ts", record.event_id)
        elif derived < received - LATE_LIMIT:
            self._reject(row, key, number, line, Code.stale_timestamp,
                         f"server.derived_ts {derived.isoformat()} is more than 72 h before server.received_ts "
                         f"{received.isoformat()}", "$.server.derived_ts", record.event_id)
        elif derived > received + FUTURE_LIMIT:
            self._reject(row, key, number, line, Code.future_timestamp,
                         f"server.derived_ts {derived.isoformat()} is more than 5 min after server.received_ts "
                         f"{received.isoformat()}", "$.server.derived_ts", record.event_id)
        else:
            self._reject(row, key, number, line, Code.bad_value,
                         f"event_seq {record.event_seq} is above {_INT32_MAX}, the largest the processed layer stores",
                         "$.event_seq", record.event_id)

    def _reject(self, row: int, key: str, number: int | None, line: bytes | None, code: Code, message: str,
                path: str | None, event_id: str | None) -> None:
        raw: str | None = None
        raw_base64: str | None = None
        if line is not None:
            try:
                raw = line.decode("utf-8")
            except UnicodeDecodeError:
                raw_base64 = base64.b64encode(line).decode("ascii")
        record = _Rejected(stage=STAGE, error_code=code.value, error_message=message, error_path=path,
                           event_id=event_id, run_id=self.run_id, source_key=key, line_number=number, raw=raw,
                           raw_base64=raw_base64)
        self._rejected.append((row, _encode_rejected(record)))
        self._counts[code.value] = self._counts.get(code.value, 0) + 1

    # ---- Python values -> Arrow

    def _flush(self) -> None:
        batch = self._batch
        if batch.events:
            self._batch = batch.next()
            events, items, runs = batch.to_arrow(self.hour)
            self._batches.append(events)
            if items is not None:
                self._item_batches.append(items)
            for group, run_batch in runs.items():
                self._run_batches[group].append(run_batch)

    # ---- output

    def finish(self, reload: Callable[[str], bytes]) -> CleanedChunk:
        """De-duplicate, sort and encode. `reload(key)` returns a raw object again: only the
        objects holding synthetic duplicates are read twice, to quarantine their lines."""
        self._flush()
        events = pa.Table.from_batches(self._batches, schema=_EVENTS_WORK_SCHEMA)
        items = pa.Table.from_batches(self._item_batches, schema=_ITEMS_WORK_SCHEMA)
        runs = {group: pa.Table.from_batches(self._run_batches[group], schema=schema).combine_chunks()
                for group, (_, schema) in _RUN_GROUPS.items()}
        self._batches, self._item_batches = [], []
        self._run_batches = {group: [] for group in _RUN_GROUPS}

        plan = plan_dedup(events)
        if len(plan.synthetic):
            self._quarantine_synthetic(events, runs["request"], plan.synthetic, plan.synthetic_kept, reload)

        # Output order: (event_time, event_id), unique because ids are unique after dedup.
        # Sort the two key columns of the kept rows only, then gather everything once.
        keys = pa.table({"event_time": pc.take(events["event_time"], plan.keep),
                         "event_id": pc.take(events["event_id"], plan.keep)})
        order = pc.take(plan.keep, pc.sort_indices(keys, sort_keys=[("event_time", "ascending"),
                                                                    ("event_id", "ascending")]))
        del keys
        events_parquet = s3io.parquet_bytes(_gather(events, runs, order), schema=EVENTS_SCHEMA)
        item_count, item_slices = _items_output(events, runs["session"], items, order)
        items_parquet = s3io.parquet_bytes(item_slices, schema=ITEMS_SCHEMA)

        self._rejected.sort(key=lambda entry: entry[0])
        return CleanedChunk(
            events_parquet=events_parquet,
            items_parquet=items_parquet,
            events=len(order),
            items=item_count,
            natural_duplicates=plan.natural_duplicates,
            quarantined=dict(sorted(self._counts.items())),
            quarantine_lines=[line for _, line in self._rejected],
        )

    def _quarantine_synthetic(self, events: pa.Table, requests: pa.Table, synthetic: pa.Array, kept: pa.Array,
                              reload: Callable[[str], bytes]) -> None:
        dup = events.select(["_row", "event_id"]).take(synthetic).to_pylist()
        winners = requests.select(["received_ts", "request_id"]).take(pc.take(events["_request"], kept)).to_pylist()
        wanted: dict[int, list[tuple[int, dict[str, Any], dict[str, Any]]]] = {}
        for d, w in zip(dup, winners, strict=True):
            row = d["_row"]
            wanted.setdefault(row >> _OBJECT_SHIFT, []).append((row & (2**_OBJECT_SHIFT - 1), d, w))
        for index in sorted(wanted):
            key = self._keys[index]
            lines = gunzip_lines(reload(key))
            for number, d, w in wanted[index]:
                received = w["received_ts"].strftime("%Y-%m-%dT%H:%M:%S.") + f"{w['received_ts'].microsecond // 1000:03d}Z"
                self._reject(d["_row"], key, number, lines[number] if number < len(lines) else None,
                             Code.synthetic_duplicate,
                             f"event_id {d['event_id']} was also received at {received} (request {w['request_id']}) "
                             "with a different payload; the earliest copy is kept",
                             "$.event_id", d["event_id"])


def _gather(events: pa.Table, runs: dict[str, pa.Table], order: pa.Array) -> Iterator[pa.Table]:
    """The EVENTS_SCHEMA rows of `order` (rows of `events`), one row group at a time
    (bounded extra memory): each event's own columns, and its runs' columns by run number."""
    own = events.select([name for name in _EVENTS_WORK_SCHEMA.names if name in EVENTS_SCHEMA.names
                         or name in ("_request", "_session", "_page")])
    work = pa.schema([_EVENTS_WORK_SCHEMA.field(f.name) if f.name in _EVENTS_WORK_SCHEMA.names else f
                      for f in EVENTS_SCHEMA])
    # received_ts is both an event column (for dedup) and a request run column (its source).
    from_runs = {group: [name for name in schema.names if name not in own.column_names]
                 for group, (_, schema) in _RUN_GROUPS.items()}
    if len(order) == 0:
        yield EVENTS_SCHEMA.empty_table()
    for start in range(0, len(order), s3io.ROW_GROUP_ROWS):
        part = own.take(order.slice(start, s3io.ROW_GROUP_ROWS))
        columns: dict[str, Any] = {name: part[name] for name in part.column_names}
        for group, (column, _) in _RUN_GROUPS.items():
            taken = runs[group].select(from_runs[group]).take(part[column])
            columns.update(zip(taken.column_names, taken.columns, strict=True))
        columns[_COUNTRY] = pa.nulls(part.num_rows, pa.string())
        yield pa.Table.from_arrays([columns[name] for name in EVENTS_SCHEMA.names], schema=work).cast(EVENTS_SCHEMA)


def _items_output(events: pa.Table, sessions: pa.Table, items: pa.Table,
                  order: pa.Array) -> tuple[int, Iterator[pa.Table]]:
    """ITEMS_SCHEMA rows of the kept events, in the events' output order then item position:
    the row count, and the rows one row group at a time."""
    # The output position of each item's event, null when the event was dropped.
    position = pc.index_in(items["_event"], value_set=order)
    kept = pc.indices_nonzero(pc.is_valid(position))
    position = pc.take(position, kept)
    rank = pc.sort_indices(pa.table({"p": position, "i": pc.take(items["item_position"], kept)}),
                           sort_keys=[("p", "ascending"), ("i", "ascending")])
    item_rows = pc.take(kept, rank)  # rows of `items`, in output order
    event_rows = pc.take(order, pc.take(position, rank))  # each one's event row in `events`
    own = items.select(list(_ITEM_ROW_COLUMNS[1:]))
    from_event = events.select([*_ITEM_EVENT_COLUMNS, "_session"])
    from_session = sessions.select(list(_ITEM_SESSION_COLUMNS))
    work = pa.schema([_EVENTS_WORK_SCHEMA.field(f.name) if f.name in _ITEM_EVENT_COLUMNS
                      else _ITEMS_WORK_SCHEMA.field(f.name) if f.name in _ITEM_ROW_COLUMNS else f
                      for f in ITEMS_SCHEMA])

    def slices() -> Iterator[pa.Table]:
        if len(item_rows) == 0:
            yield ITEMS_SCHEMA.empty_table()
        for start in range(0, len(item_rows), s3io.ROW_GROUP_ROWS):
            part = own.take(item_rows.slice(start, s3io.ROW_GROUP_ROWS))
            event_part = from_event.take(event_rows.slice(start, s3io.ROW_GROUP_ROWS))
            session_part = from_session.take(event_part["_session"])
            columns = {name: event_part[name] for name in _ITEM_EVENT_COLUMNS}
            columns.update({name: session_part[name] for name in _ITEM_SESSION_COLUMNS})
            columns.update({name: part[name] for name in _ITEM_ROW_COLUMNS[1:]})
            yield pa.Table.from_arrays([columns[n] for n in ITEMS_SCHEMA.names], schema=work).cast(ITEMS_SCHEMA)

    return len(item_rows), slices()


def clean_objects(hour: Hour, run_id: str, objects: Iterable[tuple[str, bytes]]) -> CleanedChunk:
    """Clean raw objects held in memory, (key, gzip JSON lines) in chunk order: the whole
    step without S3, for tests, benchmarks and local tools."""
    store = dict(objects)
    with paused_gc():
        cleaner = ChunkCleaner(hour, run_id)
        for index, (key, data) in enumerate(store.items()):
            cleaner.add_object(index, key, data)
        return cleaner.finish(reload=store.__getitem__)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk is cleaned.

    Cleaning allocates millions of short-lived tuples and strings and no reference cycles;
    the collector's repeated passes over the growing row lists more than doubled the time
    per event (measured: 43 -> 20 µs). Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
