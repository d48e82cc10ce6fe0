"""ListRawObjects: what the hour holds in raw, split into chunks for the CleanToParquet Map.

The state document carries keys and counts only (Step Functions payloads are limited to
256 KB), so the object list goes into a manifest object in the processed bucket,
`processed/_manifests/<hour>/<run_id>.json`:

    {"hour": "YYYY-MM-DDTHH", "run_id": "...", "chunks": [[{"key": ..., "size": ...}, ...], ...]}

and the state gets the chunk numbers. Chunks are cut from the key-sorted listing by
compressed size and object count, so the same raw objects always give the same chunks.
The step also counts the hour's ingest-stage quarantine records by code, for the
pipeline-health page.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from clickstream import layout
from clickstream.errors import ClickstreamError
from clickstream.etl import s3io
from clickstream.ingest.sink import gunzip_lines
from clickstream.layout import Hour

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_OBJECTS",
    "Listing",
    "Manifest",
    "ManifestError",
    "ManifestObject",
    "count_quarantine",
    "list_raw_objects",
    "manifest_key",
    "plan_chunks",
    "read_manifest",
]

# About 250 k events at the ~126 bytes an event that gzip JSON lines take: the clean task
# then peaks near 650 MB of memory (measured: 350 k events 640 MB, 1 M events 1.25 GB),
# inside the 1 GB a task may use. More, smaller chunks cost nothing in correctness: events
# duplicated across chunks collapse at load.
DEFAULT_CHUNK_BYTES = 32 * 1024**2
# One raw object is one ingest request (often a handful of events), so an hour can hold far
# more objects than bytes suggest; a cap on objects keeps each chunk's GETs (and the clean
# task's run time) bounded too.
DEFAULT_CHUNK_OBJECTS = 20_000

MANIFESTS_PREFIX = f"{layout.PROCESSED_PREFIX}/_manifests"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


class ManifestError(ClickstreamError):
    """The manifest does not describe the chunk asked for (wrong hour or run, no such chunk)."""


class ManifestObject(msgspec.Struct, frozen=True):
    key: str
    size: int


class Manifest(msgspec.Struct, frozen=True):
    hour: str
    run_id: str
    chunks: list[list[ManifestObject]]


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    """ListRawObjects' result (`$.listing` in the state document)."""

    manifest_key: str
    object_count: int
    raw_bytes: int
    chunks: list[int]
    ingest_quarantine: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


def manifest_key(hour: Hour, run_id: str) -> str:
    """`processed/_manifests/<hour>/<run_id>.json`; the run id is kept to characters safe in keys."""
    name = _UNSAFE.sub("_", run_id)[:200]
    if not name.strip("._"):
        raise ValueError(f"run_id {run_id!r} has no usable characters")
    return f"{MANIFESTS_PREFIX}/{hour}/{name}.json"


def plan_chunks(
    objects: list[tuple[str, int]],
    target_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_chunk_objects: int = DEFAULT_CHUNK_OBJECTS,
) -> list[list[ManifestObject]]:
    """Cut (key, size) pairs, in key order, into chunks of about `target_chunk_bytes`.

    Greedy and deterministic: a chunk is closed before the object that would take it over
    the target (or over `max_chunk_objects`); an object larger than the target is a chunk
    of its own. No chunk is empty, and no objects give no chunks.
    """
    if target_chunk_bytes <= 0 or max_chunk_objects <= 0:
        raise ValueError("target_chunk_bytes and max_chunk_objects must be positive")
    chunks: list[list[ManifestObject]] = []
    current: list[ManifestObject] = []
    current_bytes = 0
    for key, size in sorted(objects):
        if current and (current_bytes + size > target_chunk_bytes or len(current) >= max_chunk_objects):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(ManifestObject(key, size))
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


def list_raw_objects(
    hour: Hour,
    run_id: str,
    *,
    s3: Any,
    raw_bucket: str,
    processed_bucket: str,
    quarantine_bucket: str,
    target_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_chunk_objects: int = DEFAULT_CHUNK_OBJECTS,
) -> Listing:
    """List the hour's raw objects, write the chunk manifest, count ingest quarantine by code.

    The manifest is written even for an hour with no raw objects (then `chunks` is []), so
    every run leaves a record of what it saw.
    """
    objects = s3io.list_objects(s3, raw_bucket, layout.raw_prefix(hour))
    chunks = plan_chunks(objects, target_chunk_bytes, max_chunk_objects)
    key = manifest_key(hour, run_id)
    manifest = Manifest(hour=str(hour), run_id=run_id, chunks=chunks)
    s3io.put_bytes(s3, processed_bucket, key, msgspec.json.encode(manifest), content_type="application/json")
    return Listing(
        manifest_key=key,
        object_count=len(objects),
        raw_bytes=sum(size for _, size in objects),
        chunks=list(range(len(chunks))),
        ingest_quarantine=count_quarantine(s3, quarantine_bucket, layout.quarantine_prefix("ingest", hour)),
    )


def read_manifest(s3: Any, bucket: str, key: str) -> Manifest:
    """The manifest at s3://bucket/key, decoded and type-checked."""
    data = s3io.get_bytes(s3, bucket, key)
    try:
        return _MANIFEST_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise ManifestError(f"s3://{bucket}/{key} is not a chunk manifest ({exc}); re-run the hour.") from None


_MANIFEST_DECODER = msgspec.json.Decoder(Manifest)


class _CodeProbe(msgspec.Struct):
    # Only the code is read; everything else in a quarantine record is skipped.
    error_code: str | None = None


_PROBE_DECODER = msgspec.json.Decoder(_CodeProbe)
UNKNOWN_CODE = "unknown"


def count_quarantine(s3: Any, bucket: str, prefix: str, *, workers: int = 16) -> dict[str, int]:
    """Records under a quarantine prefix counted by `error_code`, sorted by code.

    Objects whose key carries their counts (what ingest writes, `layout.quarantine_key`) are
    counted from the listing; only the others are read. Lines that cannot be read, or that
    have no code, count as "unknown": the count is for dashboards and must not fail the run
    over one odd line.
    """
    counts: dict[str, int] = {}
    keys = []
    for key, _ in s3io.list_objects(s3, bucket, prefix):
        in_key = layout.quarantine_counts_in_key(key)
        if in_key is None:
            keys.append(key)
            continue
        for code, n in in_key.items():
            counts[code] = counts.get(code, 0) + n
    for _, data in s3io.fetch_many(lambda k: s3io.get_bytes(s3, bucket, k), keys, workers=workers):
        try:
            lines = gunzip_lines(data)
        except Exception:
            counts[UNKNOWN_CODE] = counts.get(UNKNOWN_CODE, 0) + 1
            continue
        for line in lines:
            try:
                code = _PROBE_DECODER.decode(line).error_code or UNKNOWN_CODE
            except msgspec.DecodeError:
                code = UNKNOWN_CODE
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))
