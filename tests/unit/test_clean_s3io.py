"""The ETL's S3 helpers that need no server: pyarrow's filesystem options from settings,
deterministic Parquet bytes, and argument checks."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clickstream.etl import s3io
from clickstream.settings import AwsSettings


def _options(settings: AwsSettings) -> dict[str, Any]:
    return s3io.s3_filesystem(settings).__reduce__()[1][0]


def test_settings_endpoint_becomes_pyarrow_endpoint_override() -> None:
    # GIVEN the endpoint the boto3 clients use (pyarrow ignores AWS_ENDPOINT_URL itself)
    local = _options(AwsSettings(region="eu-west-1", endpoint_url="http://127.0.0.1:4566"))
    # THEN pyarrow gets it as host:port plus scheme
    assert (local["region"], local["endpoint_override"], local["scheme"]) == ("eu-west-1", "127.0.0.1:4566", "http")
    assert local["allow_delayed_open"] is True  # small files go out as one PutObject
    per_service = _options(AwsSettings(endpoint_url="http://a:1", service_endpoints={"s3": "https://s3.local:9000"}))
    assert (per_service["endpoint_override"], per_service["scheme"]) == ("s3.local:9000", "https")
    # On AWS itself there is no override.
    assert _options(AwsSettings(region="eu-west-1"))["endpoint_override"] == ""


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://localhost:5000")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    options = _options(AwsSettings.from_env())
    assert (options["endpoint_override"], options["region"]) == ("localhost:5000", "eu-central-1")


def test_parquet_bytes_are_deterministic_and_sliced_writes_match() -> None:
    table = pa.table({"a": pa.array(range(1000)), "s": pa.array([f"v{i % 7}" for i in range(1000)])})
    first, second = s3io.parquet_bytes(table), s3io.parquet_bytes(table)
    assert first.equals(second)
    sliced = s3io.parquet_bytes((table.slice(i, 100) for i in range(0, 1000, 100)), schema=table.schema)
    assert pq.read_table(pa.BufferReader(sliced)).equals(table)
    metadata = pq.ParquetFile(pa.BufferReader(first)).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert metadata.row_group(0).column(0).statistics.has_min_max


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="schema"):
        s3io.parquet_bytes(iter([]))
    with pytest.raises(ValueError, match="s3"):
        s3io.write_parquet(pa.table({"a": [1]}), "k", bucket="b")
    with pytest.raises(ValueError, match="s3"):
        s3io.read_parquet("k", bucket="b")
