"""ListRawObjects and CleanToParquet against the local moto server: raw written by the real
ingest service, the manifest, Parquet read back with pyarrow, quarantine objects, re-runs,
empty hours and multi-chunk hours.

Each test uses its own hour, so tests sharing the session's buckets do not see each other.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from clickstream.etl import s3io
from clickstream.etl.clean import CleanResult, clean_chunk, quarantine_part_key
from clickstream.etl.listing import Listing, ManifestError, list_raw_objects, manifest_key, read_manifest
from clickstream.etl.processed import EVENTS_DATASET, EVENTS_SCHEMA, ITEMS_DATASET, ITEMS_SCHEMA
from clickstream.ingest.auth import TokenVerifier
from clickstream.ingest.enrich import UserAgentParser
from clickstream.ingest.service import IngestRequest, IngestService
from clickstream.ingest.sink import S3EventSink, gunzip_lines
from clickstream.layout import Hour, processed_key, processed_prefix, quarantine_prefix
from clickstream.local.aws import LocalAws, LocalResources
from clickstream.settings import AuthSettings, AwsSettings
from tests.support import iso, make_event

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")


class Env:
    """The local buckets, a boto3 client, and the ingest service writing into them."""

    def __init__(self, local_aws: tuple[LocalAws, LocalResources]) -> None:
        aws, self.resources = local_aws
        self.aws = aws
        self.s3 = aws.clients().s3()
        sink = S3EventSink(self.s3, raw_bucket=self.resources.raw_bucket,
                           quarantine_bucket=self.resources.quarantine_bucket)
        self.sink = sink
        self.ingest = IngestService(sink, TokenVerifier(AuthSettings()), UserAgentParser())
        self.buckets = {"raw_bucket": self.resources.raw_bucket, "processed_bucket": self.resources.processed_bucket,
                        "quarantine_bucket": self.resources.quarantine_bucket}

    def send(self, events: list[dict[str, Any]], *, at: datetime, request_id: str) -> Any:
        body = json.dumps({"events": events}).encode()
        answer = self.ingest.ingest(IngestRequest(body=body, request_id=request_id, received_at=at,
                                                  content_type="application/json", source_ip="203.0.113.77",
                                                  user_agent=CHROME))
        assert answer.status in (200, 400), answer
        return answer

    def listing(self, hour: Hour, run_id: str, **kwargs: Any) -> Listing:
        return list_raw_objects(hour, run_id, s3=self.s3, **self.buckets, **kwargs)

    def clean(self, hour: Hour, run_id: str, listing: Listing, chunk: int, **kwargs: Any) -> CleanResult:
        return clean_chunk(hour, run_id, listing.manifest_key, chunk, s3=self.s3, **self.buckets, **kwargs)

    def run(self, hour: Hour, run_id: str, **kwargs: Any) -> tuple[Listing, list[CleanResult]]:
        listing = self.listing(hour, run_id, **kwargs)
        return listing, [self.clean(hour, run_id, listing, c) for c in listing.chunks]

    def read(self, key: str) -> list[dict[str, Any]]:
        return s3io.read_parquet(key, bucket=self.resources.processed_bucket, s3=self.s3).to_pylist()

    def get(self, bucket: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return [k for k, _ in s3io.list_objects(self.s3, bucket, prefix)]


@pytest.fixture
def env(local_aws: tuple[LocalAws, LocalResources]) -> Env:
    return Env(local_aws)


def _visit(at: datetime, n: int, **fields: Any) -> list[dict[str, Any]]:
    return [make_event("page_view", at=at - timedelta(seconds=n - i), event_seq=i, **fields) for i in range(n)]


def test_an_hour_of_ingested_events_becomes_parquet_rows_and_quarantine(env: Env) -> None:
    # GIVEN an hour in which the ingest service accepted events in three requests (one a
    # retry of the first), refused one event, and a purchase with items
    hour = Hour.parse("2031-01-01T01")
    t0 = hour.start + timedelta(minutes=10)
    first = _visit(t0, 3)
    purchase = make_event("purchase", at=t0 - timedelta(seconds=1), ecommerce={
        "currency": "EUR", "value": 64.9, "transaction_id": "ORD-9",
        "items": [{"item_id": "SKU-1", "price": 39.9}, {"item_id": "SKU-2", "price": 12.5, "quantity": 2}]})
    bad = make_event("Bad Name", at=t0)
    env.send([*first, bad], at=t0, request_id="it-clean-1-a")
    env.send(first[:1], at=t0 + timedelta(seconds=20), request_id="it-clean-1-b")  # a retry
    env.send([purchase], at=t0 + timedelta(minutes=5), request_id="it-clean-1-c")

    # WHEN the hour is listed and cleaned
    listing, results = env.run(hour, "run-1")

    # THEN the listing saw the three raw objects and the ingest refusal
    assert listing.object_count == 3 and listing.chunks == [0]
    assert listing.ingest_quarantine == {"bad_event_name": 1}
    assert listing.raw_bytes == sum(s for _, s in s3io.list_objects(env.s3, env.resources.raw_bucket, "raw/"
                                                                     f"{hour.partition}/"))
    # AND the one chunk holds every accepted event once, the retry counted as a natural duplicate
    [result] = results
    assert (result.events, result.items, result.natural_duplicates, result.quarantined) == (4, 2, 1, {})
    assert result.events_key == processed_key(EVENTS_DATASET, hour, 0)
    assert result.items_key == processed_key(ITEMS_DATASET, hour, 0)
    table = s3io.read_parquet(result.events_key, bucket=env.resources.processed_bucket, s3=env.s3)
    assert table.schema.equals(EVENTS_SCHEMA)
    events = {r["event_id"]: r for r in table.to_pylist()}
    assert set(events) == {e["event_id"] for e in [*first, purchase]}
    for sent in [*first, purchase]:
        row = events[sent["event_id"]]
        assert row["event_name"] == sent["event_name"]
        assert row["client_ts"] == datetime.fromisoformat(sent["event_ts"].replace("Z", "+00:00"))
        assert (row["session_id"], row["anonymous_id"], row["event_seq"]) == (
            sent["session_id"], sent["anonymous_id"], sent["event_seq"])
        assert (row["page_url"], row["page_path"], row["referrer_host"]) == (
            sent["page"]["url"], sent["page"]["path"], "google.com")
        assert row["channel"] == "Organic Search"
        assert (row["browser"], row["device_class"], row["ip_trunc"]) == ("Chrome", "desktop", "203.0.113.0")
        assert row["received_hour"] == hour.start
        assert hour.start - timedelta(minutes=1) <= row["event_time"] < hour.end
    # The first copy of the retried event is kept.
    assert events[first[0]["event_id"]]["request_id"] == "it-clean-1-a"
    items = s3io.read_parquet(result.items_key, bucket=env.resources.processed_bucket, s3=env.s3)
    assert items.schema.equals(ITEMS_SCHEMA)
    assert [(r["item_id"], r["quantity"], r["transaction_id"]) for r in items.to_pylist()] == [
        ("SKU-1", 1, "ORD-9"), ("SKU-2", 2, "ORD-9")]
    # No quarantine part for a chunk that quarantined nothing.
    assert env.keys(env.resources.quarantine_bucket, quarantine_prefix("clean", hour)) == []
    # The manifest names the objects.
    manifest = read_manifest(env.s3, env.resources.processed_bucket, listing.manifest_key)
    assert (manifest.hour, manifest.run_id) == (str(hour), "run-1")
    assert listing.manifest_key == manifest_key(hour, "run-1")
    assert [o.key.rsplit("/", 1)[-1] for o in manifest.chunks[0]] == [
        "it-clean-1-a.jsonl.gz", "it-clean-1-b.jsonl.gz", "it-clean-1-c.jsonl.gz"]


def test_quarantine_object_holds_each_rejected_line_with_its_code(env: Env) -> None:
    # GIVEN raw objects (as a misbehaving writer could leave them) with a line of another
    # hour, a reused event_id, a line that is not JSON, and a valid event
    hour = Hour.parse("2031-01-01T02")
    at = hour.start + timedelta(minutes=30)

    def line(event: dict[str, Any], received: datetime, request_id: str) -> bytes:
        server = {"received_ts": iso(received), "request_id": request_id, "is_bot": False,
                  "derived_ts": event["event_ts"]}
        return msgspec.json.encode({**event, "server": server})

    good = make_event(at=at)
    reused = dict(good, event_name="click")
    other_hour = make_event(at=hour.end + timedelta(minutes=1))
    env.sink.write_raw(hour, "it-clean-2-a", [line(good, at, "a"), b"{oops"])
    env.sink.write_raw(hour, "it-clean-2-b", [line(reused, at + timedelta(seconds=1), "b"),
                                              line(other_hour, hour.end + timedelta(minutes=1), "b")])
    # WHEN it is cleaned
    _, [result] = env.run(hour, "run-q")
    # THEN the valid event is the one row, and the quarantine part holds the other three lines
    assert result.events == 1
    assert result.quarantined == {"malformed_json": 1, "synthetic_duplicate": 1, "wrong_partition": 1}
    data = env.get(env.resources.quarantine_bucket, quarantine_part_key(hour, 0))
    records = [json.loads(r) for r in gunzip_lines(data)]
    assert [(r["error_code"], r["source_key"].rsplit("/", 1)[-1], r["line_number"]) for r in records] == [
        ("malformed_json", "it-clean-2-a.jsonl.gz", 1),
        ("synthetic_duplicate", "it-clean-2-b.jsonl.gz", 0),
        ("wrong_partition", "it-clean-2-b.jsonl.gz", 1),
    ]
    assert all(r["stage"] == "clean" and r["run_id"] == "run-q" and r["error_message"] for r in records)
    assert records[0]["raw"] == "{oops" and records[0]["event_id"] is None
    assert records[1]["event_id"] == good["event_id"] and json.loads(records[1]["raw"])["event_name"] == "click"
    assert records[2]["event_id"] == other_hour["event_id"]

    # AND the raw objects are left in place
    assert len(env.keys(env.resources.raw_bucket, f"raw/{hour.partition}/")) == 2


def test_a_rerun_writes_byte_identical_files(env: Env) -> None:
    hour = Hour.parse("2031-01-01T03")
    at = hour.start + timedelta(minutes=3)
    env.send(_visit(at, 20, properties={"engaged_ms": 10}), at=at, request_id="it-clean-3-a")
    env.send([make_event(at=at, event_seq=-1)], at=at, request_id="it-clean-3-bad")  # refused at ingest
    env.sink.write_raw(hour, "it-clean-3-c", [b"not json"])
    _, [first] = env.run(hour, "run-a")
    files = {key: env.get(bucket, key) for bucket, key in [
        (env.resources.processed_bucket, first.events_key), (env.resources.processed_bucket, first.items_key),
        (env.resources.quarantine_bucket, quarantine_part_key(hour, 0))]}
    # WHEN the hour is run again under another run id
    _, [second] = env.run(hour, "run-b")
    # THEN the same files hold the same bytes, and the result is the same
    assert second == first
    for key, data in files.items():
        bucket = env.resources.quarantine_bucket if key.startswith("quarantine/") else env.resources.processed_bucket
        if key.startswith("quarantine/"):
            # Quarantine records name the run; apart from that they are identical.
            again = [json.loads(r) for r in gunzip_lines(env.get(bucket, key))]
            before = [json.loads(r) for r in gunzip_lines(data)]
            assert [dict(r, run_id=None) for r in again] == [dict(r, run_id=None) for r in before]
        else:
            assert env.get(bucket, key) == data
    # The rerun under the *same* run id rewrites the quarantine object byte for byte too.
    quarantined = env.get(env.resources.quarantine_bucket, quarantine_part_key(hour, 0))
    env.run(hour, "run-b")
    assert env.get(env.resources.quarantine_bucket, quarantine_part_key(hour, 0)) == quarantined


def test_an_hour_without_raw_objects(env: Env) -> None:
    hour = Hour.parse("2031-01-01T04")
    listing = env.listing(hour, "run-empty")
    assert listing.to_dict() == {"manifest_key": manifest_key(hour, "run-empty"), "object_count": 0, "raw_bytes": 0,
                                 "chunks": [], "ingest_quarantine": {}}
    manifest = read_manifest(env.s3, env.resources.processed_bucket, listing.manifest_key)
    assert manifest.chunks == []


def test_a_multi_chunk_hour_and_a_rerun_with_fewer_chunks(env: Env) -> None:
    # GIVEN an hour of 6 requests, planned into small chunks
    hour = Hour.parse("2031-01-01T05")
    at = hour.start + timedelta(minutes=40)
    sent: list[dict[str, Any]] = []
    for i in range(6):
        batch = _visit(at + timedelta(seconds=i), 4, ecommerce={"items": [{"item_id": f"SKU-{i}"}]})
        sent += batch
        env.send(batch, at=at + timedelta(seconds=i), request_id=f"it-clean-5-{i}")
    env.sink.write_raw(hour, "it-clean-5-junk", [b"junk"])  # a quarantine part in the last chunk
    sizes = [s for _, s in s3io.list_objects(env.s3, env.resources.raw_bucket, f"raw/{hour.partition}/")]
    listing, results = env.run(hour, "run-many", target_chunk_bytes=max(sizes) * 2)
    # THEN every chunk wrote its parts, and together they hold every event once
    assert len(listing.chunks) == len(results) > 2
    assert listing.object_count == 7
    assert sorted(r["event_id"] for res in results for r in env.read(res.events_key)) == sorted(
        e["event_id"] for e in sent)
    assert sum(res.items for res in results) == len(sent)
    assert sum(res.quarantined.get("malformed_json", 0) for res in results) == 1
    parts = env.keys(env.resources.processed_bucket, processed_prefix(EVENTS_DATASET, hour))
    assert len(parts) == len(results)

    # WHEN the hour is run again as a single chunk
    listing, [only] = env.run(hour, "run-one")
    # THEN chunk 0 removed the parts numbered beyond the new chunk count, in every dataset
    for dataset in (EVENTS_DATASET, ITEMS_DATASET):
        assert env.keys(env.resources.processed_bucket, processed_prefix(dataset, hour)) == [
            processed_key(dataset, hour, 0)]
    assert env.keys(env.resources.quarantine_bucket, quarantine_prefix("clean", hour)) == [
        quarantine_part_key(hour, 0)]
    assert only.events == len(sent) and only.quarantined == {"malformed_json": 1}


def test_the_manifest_must_match_hour_run_and_chunk(env: Env) -> None:
    hour = Hour.parse("2031-01-01T06")
    at = hour.start + timedelta(minutes=1)
    env.send(_visit(at, 1), at=at, request_id="it-clean-6-a")
    listing = env.listing(hour, "run-m")
    with pytest.raises(ManifestError, match="no chunk 1"):
        env.clean(hour, "run-m", listing, 1)
    with pytest.raises(ManifestError, match="not hour"):
        env.clean(hour.shift(1), "run-m", listing, 0)
    with pytest.raises(ManifestError, match="run"):
        env.clean(hour, "another-run", listing, 0)
    with pytest.raises(s3io.ObjectMissing):
        clean_chunk(hour, "run-m", "processed/_manifests/none.json", 0, s3=env.s3, **env.buckets)


def test_parquet_through_pyarrow_s3_filesystem(env: Env) -> None:
    # GIVEN pyarrow's S3 filesystem built from the same settings as the boto3 clients
    hour = Hour.parse("2031-01-01T07")
    at = hour.start + timedelta(minutes=7)
    env.send(_visit(at, 5), at=at, request_id="it-clean-7-a")
    filesystem = s3io.s3_filesystem(AwsSettings(region=env.resources.region, endpoint_url=env.aws.endpoint_url))
    listing = env.listing(hour, "run-fs")
    # WHEN the chunk is written through it (small files: one PUT each)
    result = env.clean(hour, "run-fs", listing, 0, s3_filesystem=filesystem)
    # THEN the files are the same bytes the boto3 path writes, and read back both ways
    via_fs = env.get(env.resources.processed_bucket, result.events_key)
    env.clean(hour, "run-fs", listing, 0)
    assert env.get(env.resources.processed_bucket, result.events_key) == via_fs
    table = s3io.read_parquet(result.events_key, bucket=env.resources.processed_bucket, filesystem=filesystem,
                              columns=["event_id", "event_time"])
    assert table.num_rows == 5 and table.column_names == ["event_id", "event_time"]


def test_ingest_quarantine_is_counted_by_code(env: Env) -> None:
    hour = Hour.parse("2031-01-01T08")
    at = hour.start + timedelta(minutes=8)
    env.send([make_event(at=at, event_seq=-1), make_event(at=at, app_id=""), make_event(at=at)],
             at=at, request_id="it-clean-8-a")
    # Without sent_ts there is no clock-skew correction, so an hour ahead is in the future.
    env.send([make_event(at=at + timedelta(hours=1), sent_ts=None)], at=at, request_id="it-clean-8-b")
    env.sink.write_quarantine("ingest", hour, "it-clean-8-odd", [b"not json", b'{"error_code": null}'])
    # Ingest's objects carry their counts in the key; only the one without is read.
    prefix = quarantine_prefix("ingest", hour)
    keys = sorted(o["Key"].removeprefix(prefix) for o in env.s3.list_objects_v2(
        Bucket=env.resources.quarantine_bucket, Prefix=prefix)["Contents"])
    assert keys == ["it-clean-8-a~bad_value=2.jsonl.gz", "it-clean-8-b~future_timestamp=1.jsonl.gz",
                    "it-clean-8-odd.jsonl.gz"]
    gets: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        gets.append(params["Key"])

    env.s3.meta.events.register("provide-client-params.s3.GetObject", record)
    try:
        listing = env.listing(hour, "run-iq")
    finally:
        env.s3.meta.events.unregister("provide-client-params.s3.GetObject", record)
    assert listing.ingest_quarantine == {"bad_value": 2, "future_timestamp": 1, "unknown": 2}
    assert listing.object_count == 1
    assert [key.removeprefix(prefix) for key in gets] == ["it-clean-8-odd.jsonl.gz"]


def test_received_hours_use_utc(env: Env) -> None:
    # A request received at 11:59:59.999+01:00 belongs to the 10 UTC hour.
    hour = Hour.parse("2031-01-01T09")
    at = datetime(2031, 1, 1, 10, 59, 59, 999000, tzinfo=UTC).astimezone(timezone(timedelta(hours=1)))
    env.send(_visit(at, 1), at=at, request_id="it-clean-9-a")
    _, [result] = env.run(hour.shift(1), "run-utc")
    [row] = env.read(result.events_key)
    assert row["received_hour"] == hour.shift(1).start
