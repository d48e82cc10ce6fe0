"""S3 access for the ETL: objects in and out, listings, deterministic Parquet, and the one
place that builds pyarrow's S3 filesystem from `AwsSettings`.

Parquet is written as one in-memory buffer and one boto3 `put_object`: measured here, that
is ~50x faster than pyarrow's S3 output stream against the local moto server, it is atomic
(readers never see half a file), and pyarrow's multipart uploads fail against moto 5.2
(`CompleteMultipartUpload` answers are rejected). Reading works both ways; boto3's single
GET into memory is the faster one for files of this size.

S3 failures become `StorageThrottled` / `StorageUnavailable` (both `TransientError`), so the
state machine's Retry policies match them by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from clickstream.errors import ClickstreamError, StorageThrottled, StorageUnavailable
from clickstream.settings import AwsSettings

__all__ = [
    "PARQUET_OPTIONS",
    "ObjectMissing",
    "delete_keys",
    "fetch_many",
    "get_bytes",
    "list_objects",
    "parquet_bytes",
    "put_bytes",
    "read_parquet",
    "s3_filesystem",
    "storage_errors",
    "write_parquet",
]

# Same table in, same bytes out: no timestamps or random ids go into the file, and the
# writer's settings are fixed here. zstd level 1 (ARCHITECTURE "Facts": level 9 is 5x slower).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "write_statistics": True,
    "use_dictionary": True,
    "version": "2.6",
    "data_page_version": "1.0",
}
# Row groups of this many rows keep readers' memory bounded and let Athena skip by statistics.
ROW_GROUP_ROWS = 128 * 1024

_THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})

T = TypeVar("T")


class ObjectMissing(ClickstreamError):
    """An object the step needs is not there (a manifest of another run, a raw object
    deleted since the listing). Not transient: retrying will not bring it back; re-run the hour."""


# --------------------------------------------------------------------------- errors


@contextlib.contextmanager
def storage_errors(action: str, bucket: str, key: str = "") -> Iterator[None]:
    """Turn botocore failures into the package's retryable storage errors, with a message that says where."""
    where = f"s3://{bucket}/{key}"
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _THROTTLE_CODES:
            raise StorageThrottled(f"S3 throttled the {action} of {where}; retry later.") from exc
        if code in _MISSING_CODES:
            raise ObjectMissing(f"S3 has no object {where} ({action}).") from exc
        raise StorageUnavailable(
            f"S3 refused the {action} of {where} ({code or 'unknown error'}): check that the bucket exists and "
            "that this function's role is allowed to do it."
        ) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"S3 could not be reached for the {action} of {where}: {exc}") from exc


# --------------------------------------------------------------------------- objects


def get_bytes(s3: Any, bucket: str, key: str) -> bytes:
    with storage_errors("read", bucket, key):
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def put_bytes(s3: Any, bucket: str, key: str, body: bytes | pa.Buffer, *, content_type: str) -> None:
    # boto3 takes bytes or a file; a pyarrow Buffer goes in through a zero-copy reader.
    payload = pa.BufferReader(body) if isinstance(body, pa.Buffer) else body
    with storage_errors("write", bucket, key):
        s3.put_object(Bucket=bucket, Key=key, Body=payload, ContentType=content_type)


def list_objects(s3: Any, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """(key, size) of every object under a prefix, sorted by key; "directory" markers are skipped."""
    found: list[tuple[str, int]] = []
    with storage_errors("listing", bucket, prefix):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [(o["Key"], int(o["Size"])) for o in page.get("Contents", ()) if not o["Key"].endswith("/")]
    found.sort()
    return found


def delete_keys(s3: Any, bucket: str, keys: Sequence[str]) -> None:
    """Delete objects, 1000 a request (S3's limit); deleting what is not there is not an error."""
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        with storage_errors("delete", bucket, batch[0]):
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise StorageUnavailable(
                f"S3 refused to delete {len(answer['Errors'])} object(s) in s3://{bucket}/, e.g. {first.get('Key')} "
                f"({first.get('Code')}): check that this function's role may delete there."
            )


def fetch_many(
    fetch: Callable[[str], T], keys: Iterable[str], *, workers: int = 16, ahead: int = 64
) -> Iterator[tuple[str, T]]:
    """`fetch(key)` for every key on a thread pool, yielded in the keys' order.

    At most `ahead` results wait unconsumed, so memory stays bounded when the consumer
    (parsing, on the main thread) is slower than the network. The hour's raw layer is one
    object per ingest request, so a chunk is thousands of small GETs: latency, not
    bandwidth, is what the threads hide.
    """
    pending: list[tuple[str, Future[T]]] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3-get") as pool:
        iterator = iter(keys)
        try:
            for key in iterator:
                pending.append((key, pool.submit(fetch, key)))
                if len(pending) >= ahead:
                    done_key, future = pending.pop(0)
                    yield done_key, future.result()
            for done_key, future in pending:
                yield done_key, future.result()
        finally:
            for _, future in pending:
                future.cancel()


# --------------------------------------------------------------------------- Parquet


def parquet_bytes(table: pa.Table | Iterable[pa.Table], schema: pa.Schema | None = None) -> pa.Buffer:
    """A Parquet file in memory, written with `PARQUET_OPTIONS`.

    Given an iterable of tables (slices of a larger result, e.g. gathered one row group at
    a time to keep memory down), each is written as its own row group(s); `schema` is then
    required. The same input always gives the same bytes.
    """
    sink = pa.BufferOutputStream()
    if isinstance(table, pa.Table):
        pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, **PARQUET_OPTIONS)
        return sink.getvalue()
    if schema is None:
        raise ValueError("parquet_bytes needs the schema when given an iterable of tables")
    with pq.ParquetWriter(sink, schema, **PARQUET_OPTIONS) as writer:
        for part in table:
            writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
    return sink.getvalue()


def write_parquet(
    data: pa.Buffer | pa.Table,
    key: str,
    *,
    bucket: str,
    s3: Any = None,
    filesystem: Any = None,
) -> int:
    """Store a Parquet file (bytes from `parquet_bytes`, or a table) at s3://bucket/key; returns its size.

    With `s3` (a boto3 client) it is one PUT. With `filesystem` (from `s3_filesystem`) it
    goes through pyarrow's output stream, which uses a multipart upload above ~5 MB: that
    works on AWS but not against the local moto server, so local runs pass `s3`.
    """
    buffer = data if isinstance(data, pa.Buffer) else parquet_bytes(data)
    if filesystem is not None:
        with filesystem.open_output_stream(f"{bucket}/{key}") as stream:
            stream.write(buffer)
    elif s3 is not None:
        put_bytes(s3, bucket, key, buffer, content_type="application/vnd.apache.parquet")
    else:
        raise ValueError("write_parquet needs either s3 (a boto3 client) or filesystem (a pyarrow S3FileSystem)")
    return buffer.size


def read_parquet(
    key: str,
    *,
    bucket: str,
    s3: Any = None,
    filesystem: Any = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Read one Parquet object of the processed layer as an Arrow table.

    Pass `s3` (a boto3 client: one GET into memory, the faster way for files of this size)
    or `filesystem` (a pyarrow S3 filesystem from `s3_filesystem`, which reads ranges and
    so only fetches the `columns` asked for).
    """
    if filesystem is not None:
        return pq.read_table(f"{bucket}/{key}", filesystem=filesystem, columns=columns)
    if s3 is None:
        raise ValueError("read_parquet needs either s3 (a boto3 client) or filesystem (a pyarrow S3FileSystem)")
    return pq.read_table(pa.BufferReader(get_bytes(s3, bucket, key)), columns=columns)


def s3_filesystem(settings: AwsSettings | None = None, **options: Any) -> Any:
    """pyarrow's S3 filesystem, pointed where `AwsSettings` says S3 is.

    pyarrow ignores AWS_ENDPOINT_URL (ARCHITECTURE "Facts"), so the endpoint override and
    its scheme come from `settings.endpoint_for("s3")`; credentials come from the usual
    chain (environment, the Lambda role). Paths are then "bucket/key". `options` go to
    `pyarrow.fs.S3FileSystem` unchanged.
    """
    from pyarrow import fs as pafs  # importing it starts nothing, but only S3 users need it

    settings = settings or AwsSettings.from_env()
    kwargs: dict[str, Any] = {"region": settings.region}
    endpoint = settings.endpoint_for("s3")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs["endpoint_override"] = parts.netloc
        kwargs["scheme"] = parts.scheme or "https"
    # Small files go out as one PutObject instead of a multipart upload.
    kwargs["allow_delayed_open"] = True
    kwargs.update(options)
    return pafs.S3FileSystem(**kwargs)
