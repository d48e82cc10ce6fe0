"""IngestService without transport: the raw lines it writes (appended to the client's bytes, or
re-encoded when they must be edited) and the server timestamp format."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clickstream.ingest import IngestRequest, IngestService
from clickstream.ingest.enrich import UserAgentParser
from clickstream.ingest.service import _raw_line, iso_ms
from clickstream.layout import Hour
from clickstream.schema import RawRecord, parse_batch, validate_record
from tests.support import make_event

RECEIVED_AT = datetime(2025, 5, 1, 12, 20, 7, 123456, tzinfo=UTC)
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"


@dataclass
class ListSink:
    raw: list[bytes] = field(default_factory=list)
    quarantine: list[bytes] = field(default_factory=list)
    quarantine_counts: list[dict[str, int]] = field(default_factory=list)

    def write_raw(self, hour: Hour, request_id: str, lines: Sequence[bytes]) -> str:
        self.raw.extend(lines)
        return request_id

    def write_quarantine(self, stage: str, hour: Hour, name: str, lines: Sequence[bytes],
                         counts: Mapping[str, int] | None = None) -> str:
        self.quarantine.extend(lines)
        self.quarantine_counts.append(dict(counts or {}))
        return name


class FixedVerifier:
    """A token verifier whose every token belongs to one user."""

    def __init__(self, sub: str) -> None:
        self.sub = sub

    def user_id(self, authorization: str | None) -> str | None:
        return self.sub if authorization else None


def ingest(body: bytes, *, token_sub: str | None = None) -> tuple[ListSink, Any]:
    sink = ListSink()
    service = IngestService(sink, FixedVerifier(token_sub or "unused"), UserAgentParser())  # type: ignore[arg-type]
    request = IngestRequest(
        body=body,
        request_id="req-1",
        received_at=RECEIVED_AT,
        content_type="application/json",
        authorization="Bearer t" if token_sub else None,
        source_ip="203.0.113.77",
        user_agent=USER_AGENT,
    )
    return sink, service.ingest(request)


def events(**overrides: Any) -> list[dict[str, Any]]:
    at = RECEIVED_AT - timedelta(minutes=3)
    base = [
        make_event("page_view", at=at),
        make_event("click", at=at + timedelta(seconds=2), event_seq=2),
        make_event(
            "search",
            at=at + timedelta(seconds=4, milliseconds=999),
            event_seq=3,
            properties={"search_term": "blue mug", "price": 1.5, "n": 3, "ok": True, "none": None},
        ),
    ]
    for event in base:
        event.update(overrides)
    return base


def reference_lines(body: bytes, sink: ListSink, user_id: str | None) -> list[bytes]:
    """What the service wrote before it appended to the client's bytes: every event decoded,
    edited and re-encoded by `_raw_line` (the path it still takes when an edit is needed)."""
    server = json.loads(sink.raw[0])["server"]
    derived = [json.loads(line)["server"]["derived_ts"] for line in sink.raw]
    server.pop("derived_ts")
    return [_raw_line(bytes(raw), server, ts, user_id) for raw, ts in zip(parse_batch(body), derived, strict=True)]


BODIES = {
    "compact (as JSON.stringify)": lambda evs: json.dumps(
        {"events": evs}, separators=(",", ":"), ensure_ascii=False
    ).encode(),
    "python default spacing": lambda evs: json.dumps({"events": evs}).encode(),
    "pretty-printed": lambda evs: json.dumps({"events": evs}, indent=2).encode(),
    "CRLF between tokens": lambda evs: json.dumps({"events": evs}, indent=1).replace("\n", "\r\n").encode(),
    "escaped non-ASCII": lambda evs: json.dumps({"events": evs}, ensure_ascii=True).encode(),
    "raw non-ASCII": lambda evs: json.dumps({"events": evs}, ensure_ascii=False).encode(),
}


@pytest.mark.parametrize("shape", sorted(BODIES))
@pytest.mark.parametrize(
    ("client_fields", "token_sub"),
    [
        pytest.param({}, None, id="anonymous"),
        pytest.param({}, "sub-1", id="token"),
        pytest.param({"user_id": "u-7"}, None, id="claimed without token"),
        pytest.param({"user_id": "u-7"}, "sub-1", id="claimed other than token"),
        pytest.param({"user_id": "sub-1"}, "sub-1", id="claimed same as token"),
        pytest.param({"user_id": None}, None, id="null user_id"),
        pytest.param({"user_id": None}, "sub-1", id="null user_id with token"),
    ],
)
def test_raw_lines_are_the_records_the_reencoding_gives(
    shape: str, client_fields: dict[str, Any], token_sub: str | None
) -> None:
    # GIVEN valid events with non-ASCII text and numbers, in a body of some shape
    evs = events(**client_fields)
    evs[0]["page"]["title"] = 'Tasse "Café" – 5 €'
    body = BODIES[shape](evs)
    # WHEN ingested
    sink, response = ingest(body, token_sub=token_sub)
    # THEN every event is accepted, one record per line
    assert response.status == 200 and response.accepted == len(evs) and not sink.quarantine
    for line in sink.raw:
        assert b"\n" not in line and b"\r" not in line
    # AND each line is the record that decoding, editing and re-encoding the event gives
    expected = reference_lines(body, sink, token_sub)
    for line, reference in zip(sink.raw, expected, strict=True):
        record = validate_record(line)
        assert type(record) is RawRecord, record
        assert record == validate_record(reference)
        # null user_id: kept as sent when the line is the client's bytes, dropped when re-encoded
        assert {k: v for k, v in json.loads(line).items() if v is not None} == {
            k: v for k, v in json.loads(reference).items() if v is not None
        }
        if shape.startswith("compact") and client_fields.get("user_id", "") is not None:
            assert line == reference  # msgspec's encoding is compact JSON, so byte for byte


def test_server_part_and_user_id_come_after_the_event_fields() -> None:
    # GIVEN an anonymous event and one with a token WHEN ingested
    for token_sub in (None, "sub-1"):
        sink, _ = ingest(json.dumps({"events": events()}).encode(), token_sub=token_sub)
        keys = list(json.loads(sink.raw[0]))
        # THEN the client's fields keep their order, then user_id (with a token), then server
        tail = ["user_id", "server"] if token_sub else ["server"]
        assert keys[-len(tail) :] == tail
        assert keys[: -len(tail)] == list(events()[0])


def test_an_escaped_user_id_key_with_a_token_is_not_duplicated() -> None:
    # GIVEN an event whose (null) user_id key is spelled with an escape, sent with a token
    event = json.dumps(events()[0]).replace('"event_seq"', '"user\\u005fid": null, "event_seq"')
    sink, response = ingest(b'{"events": [' + event.encode() + b"]}", token_sub="sub-1")
    # THEN the line holds the token's user once
    assert response.accepted == 1
    assert sink.raw[0].count(b'"user_id"') == 1
    assert json.loads(sink.raw[0])["user_id"] == "sub-1"


def _iso_ms_reference(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_iso_ms_is_utc_milliseconds_truncated() -> None:
    # GIVEN instants around the epoch, far away, and in other time zones
    rng = random.Random(11)
    moments = [RECEIVED_AT + timedelta(microseconds=rng.randrange(-(10**15), 10**15)) for _ in range(20_000)]
    moments += [m.astimezone(timezone(timedelta(minutes=rng.randrange(-1439, 1440)))) for m in moments[:2000]]
    moments += [
        datetime(1970, 1, 1, tzinfo=UTC) - timedelta(microseconds=1),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    # WHEN formatted THEN the text is the strftime form the server always wrote
    for moment in moments:
        assert iso_ms(moment) == _iso_ms_reference(moment), moment
    assert iso_ms(datetime(2025, 5, 1, 12, 0, 0, 999999, tzinfo=UTC)) == "2025-05-01T12:00:00.999Z"


def test_the_quarantine_object_is_written_with_its_counts_by_code() -> None:
    # The list step counts the hour's quarantine from these (they go into the key).
    good = make_event("page_view", at=RECEIVED_AT - timedelta(minutes=3))
    batch = [good, {**good, "event_id": "not-a-uuid"}, {**good, "event_name": "Bad Name"},
             {**good, "event_id": "also-not"}]
    sink, response = ingest(json.dumps({"events": batch}).encode())
    written = [json.loads(line)["error_code"] for line in sink.quarantine]
    assert response.accepted == 1 and len(written) == 3
    assert sink.quarantine_counts == [{code: written.count(code) for code in set(written)}]

    sink, response = ingest(b"{not json")
    assert response.status == 400
    assert sink.quarantine_counts == [{json.loads(sink.quarantine[0])["error_code"]: 1}]
