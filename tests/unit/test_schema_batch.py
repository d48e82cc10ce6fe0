"""parse_batch: the body shape, its limits, and hostile input that must end as
BatchRejected (never another exception, never a long stall)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest

from clickstream.schema import (
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_BATCH,
    BatchRejected,
    Code,
    Rejection,
    parse_batch,
    validate_event,
)

RECEIVED_AT = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def events_body(count: int) -> bytes:
    return json.dumps({"events": [{"n": i} for i in range(count)]}).encode()


def test_returns_exact_raw_slices_of_each_event() -> None:
    # GIVEN a body whose events are formatted in odd ways
    body = b' {"events" : [ {"a" : 1} ,\n{"b":[2, 3]}, "text", 4 ] } '
    # WHEN it is parsed
    raws = parse_batch(body)
    # THEN each element is the event's exact bytes, whatever its JSON type
    assert all(isinstance(raw, msgspec.Raw) for raw in raws)
    assert [bytes(raw) for raw in raws] == [b'{"a" : 1}', b'{"b":[2, 3]}', b'"text"', b"4"]


def test_extra_top_level_keys_are_ignored() -> None:
    # GIVEN a body with keys reserved for future use WHEN parsed THEN only events count
    raws = parse_batch(b'{"v": 2, "events": [{}], "meta": {"sdk": "x"}}')
    assert [bytes(raw) for raw in raws] == [b"{}"]


def test_500_events_are_accepted() -> None:
    # GIVEN the largest allowed batch WHEN parsed THEN every event is returned
    assert len(parse_batch(events_body(MAX_EVENTS_PER_BATCH))) == MAX_EVENTS_PER_BATCH


def test_non_object_events_are_left_to_validate_event() -> None:
    # GIVEN a batch holding a number WHEN its event is validated THEN that one event is rejected
    (raw,) = parse_batch(b'{"events": [42]}')
    result = validate_event(raw, received_at=RECEIVED_AT)
    assert isinstance(result, Rejection) and result.code is Code.not_an_object


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"", Code.malformed_json, id="empty body"),
        pytest.param(b"{", Code.malformed_json, id="truncated"),
        pytest.param(b'{"events": [1]} x', Code.malformed_json, id="trailing garbage"),
        pytest.param(b"events=1", Code.malformed_json, id="form encoded"),
        pytest.param(b'\xef\xbb\xbf{"events": [1]}', Code.malformed_json, id="byte order mark"),
        pytest.param(b'{"events": [1, 2,]}', Code.malformed_json, id="trailing comma"),
        pytest.param(b"{'events': [1]}", Code.malformed_json, id="single quotes"),
        pytest.param(b"[]", Code.not_an_object, id="top-level array"),
        pytest.param(b'[{"events": [1]}]', Code.not_an_object, id="array of batches"),
        pytest.param(b"42", Code.not_an_object, id="number"),
        pytest.param(b"-1.5e3", Code.not_an_object, id="float"),
        pytest.param(b"null", Code.not_an_object, id="null"),
        pytest.param(b"true", Code.not_an_object, id="boolean"),
        pytest.param(b'"events"', Code.not_an_object, id="string"),
        pytest.param(b"{}", Code.missing_events, id="no events key"),
        pytest.param(b'{"Events": [1]}', Code.missing_events, id="wrong case key"),
        pytest.param(b'{"events": {"0": 1}}', Code.missing_events, id="events is an object"),
        pytest.param(b'{"events": null}', Code.missing_events, id="events is null"),
        pytest.param(b'{"events": "[1]"}', Code.missing_events, id="events is a string"),
        pytest.param(b'{"events": []}', Code.empty_batch, id="empty events"),
        pytest.param(events_body(MAX_EVENTS_PER_BATCH + 1), Code.too_many_events, id="501 events"),
    ],
)
def test_bad_bodies_are_rejected_with_their_code(body: bytes, code: Code) -> None:
    # GIVEN a body that is not {"events": [one or more]}
    # WHEN parsed THEN the whole batch is rejected with the matching code and a message
    with pytest.raises(BatchRejected) as caught:
        parse_batch(body)
    assert caught.value.code is code
    assert caught.value.message


def test_messages_say_how_to_fix_the_body() -> None:
    # GIVEN common mistakes WHEN parsed THEN the message shows the expected shape
    with pytest.raises(BatchRejected) as no_events:
        parse_batch(b'{"event": {}}')
    with pytest.raises(BatchRejected) as array:
        parse_batch(b"[{}]")
    with pytest.raises(BatchRejected) as too_many:
        parse_batch(events_body(MAX_EVENTS_PER_BATCH + 1))
    assert '{"events": [event, ...]}' in no_events.value.message
    assert "not an array" in array.value.message
    assert "split" in too_many.value.message


# --------------------------------------------------------------------------- hostile input

DEEP = 100_000


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        pytest.param(b"[" * DEEP + b"]" * DEEP, {Code.not_an_object}, id="deep top-level array"),
        pytest.param(b'{"events": [' + b"[" * DEEP + b"]" * DEEP + b"]}", {Code.too_deep}, id="deep event"),
        # 40k levels of {"a": fit the 256 KB body limit; 100k would be refused for size first.
        pytest.param(
            b'{"events": [' + b'{"a":' * 40_000 + b"1" + b"}" * 40_000 + b"]}", {Code.too_deep}, id="deep objects"
        ),
        pytest.param(b'{"x": ' + b"[" * DEEP + b"]" * DEEP + b', "events": [1]}', {Code.too_deep}, id="deep extra key"),
        pytest.param(b'{"events": [' + b"[" * DEEP, {Code.too_deep, Code.malformed_json}, id="deep and unclosed"),
    ],
)
def test_deep_nesting_is_rejected(body: bytes, codes: set[Code]) -> None:
    # GIVEN 100k levels of nesting (msgspec stops at Python's recursion limit)
    # WHEN parsed THEN it is a BatchRejected, not a RecursionError
    with pytest.raises(BatchRejected) as caught:
        parse_batch(body)
    assert caught.value.code in codes


def test_ten_megabyte_string_is_refused_before_parsing() -> None:
    # GIVEN a 10 MB body (a single huge string)
    body = b'{"events": [{"a": "' + b"x" * 10_000_000 + b'"}]}'
    # WHEN parsed THEN the size limit answers first
    with pytest.raises(BatchRejected) as caught:
        parse_batch(body)
    assert caught.value.code is Code.body_too_large


def test_large_string_within_the_body_limit_becomes_a_too_large_event() -> None:
    # GIVEN a 200 KB string inside one event of an allowed body
    body = b'{"events": [{"a": "' + b"x" * 200_000 + b'"}, {"b": 1}]}'
    assert len(body) <= MAX_BODY_BYTES
    # WHEN parsed and validated THEN only that event is refused, as too large
    big, small = parse_batch(body)
    result = validate_event(big, received_at=RECEIVED_AT)
    assert len(big) > MAX_EVENT_BYTES
    assert isinstance(result, Rejection) and result.code is Code.too_large
    assert bytes(small) == b'{"b": 1}'


def test_body_size_limit_is_inclusive() -> None:
    # GIVEN a body of exactly 256 KB and one of 256 KB + 1
    head, tail = b'{"events": [1], "pad": "', b'"}'
    exact = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(exact) == MAX_BODY_BYTES
    # WHEN parsed THEN the first passes and the second is body_too_large
    assert [bytes(raw) for raw in parse_batch(exact)] == [b"1"]
    with pytest.raises(BatchRejected) as caught:
        parse_batch(exact[:-2] + b'x"}')
    assert caught.value.code is Code.body_too_large


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"events": [{"a": "\xff\xfe"}]}', id="invalid byte in event"),
        pytest.param(b'{"\xc3": 1, "events": [1]}', id="truncated sequence in ignored key"),
        pytest.param(b'{"events": [{"a": "\xed\xa0\x80"}]}', id="utf-8 encoded surrogate"),
        pytest.param(b'{"events": [{"a": "\xf4\x90\x80\x80"}]}', id="code point above U+10FFFF"),
        pytest.param(b'{"events": [{"a": "\xc0\xaf"}]}', id="overlong encoding"),
        pytest.param(b"\xff\xfe{\x00}\x00", id="utf-16"),
    ],
)
def test_invalid_utf8_is_malformed_json(body: bytes) -> None:
    # GIVEN bytes that are not UTF-8 anywhere in the body (even where msgspec only slices)
    # WHEN parsed THEN the batch is malformed_json, so no invalid text reaches storage
    with pytest.raises(BatchRejected) as caught:
        parse_batch(body)
    assert caught.value.code is Code.malformed_json
    assert "UTF-8" in caught.value.message


def test_valid_non_ascii_text_is_accepted() -> None:
    # GIVEN UTF-8 text in many scripts and an escaped surrogate pair
    body = '{"events": [{"t": "Grüße, 東京, 🚀, \\ud83d\\ude80"}]}'.encode()
    # WHEN parsed THEN it is returned untouched
    (raw,) = parse_batch(body)
    assert msgspec.json.decode(raw) == {"t": "Grüße, 東京, 🚀, 🚀"}


@pytest.mark.parametrize(
    "literal", [b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"inf", b"undefined", b"0x10", b"01", b"1."]
)
def test_non_json_numbers_are_malformed(literal: bytes) -> None:
    # GIVEN a JavaScript-only or invalid number literal
    # WHEN parsed THEN the batch is malformed_json
    with pytest.raises(BatchRejected) as caught:
        parse_batch(b'{"events": [{"value": ' + literal + b"}]}")
    assert caught.value.code is Code.malformed_json


def test_huge_number_literal_is_kept_for_the_event_check() -> None:
    # GIVEN a number too large for a double inside an event
    (raw,) = parse_batch(b'{"events": [{"value": 1e999}]}')
    # WHEN the event is validated THEN it is rejected there, not in parse_batch
    result = validate_event(raw, received_at=RECEIVED_AT)
    assert isinstance(result, Rejection)


def test_lone_surrogate_escape_is_malformed() -> None:
    # GIVEN an escaped lone surrogate (not encodable as UTF-8)
    with pytest.raises(BatchRejected) as caught:
        parse_batch(b'{"events": [{"a": "\\ud800"}]}')
    # THEN the batch is malformed_json
    assert caught.value.code is Code.malformed_json


def test_bytes_like_bodies_other_than_bytes_work() -> None:
    # GIVEN the body as a bytearray (as some frameworks hand it over) WHEN parsed THEN it works
    assert [bytes(raw) for raw in parse_batch(bytearray(b'{"events": [{}]}'))] == [b"{}"]


def test_str_bodies_are_a_programming_error() -> None:
    # GIVEN the body as str (API Gateway hands it over that way) WHEN parsed
    # THEN it fails loudly for ASCII too, rather than only when a non-ASCII body arrives
    with pytest.raises(TypeError, match="bytes"):
        parse_batch('{"events": [{}]}')  # type: ignore[arg-type]
