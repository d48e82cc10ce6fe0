"""Validation of event schema v1: batch bodies, single events, and stored raw records.

The fast path is one typed msgspec decode (every per-field constraint is a `Meta` in
`event.py`; the three `pattern`s are checked by one regular expression after it, see
`_fast_decode`) followed by a few cross-field rules. Only a rejected event pays for building a
good message: the msgspec error is parsed into (JSON path, kind of failure), and the
tables `_RULES` and `_FIXES` turn that into a `Code` and a message that says what is wrong
and how to fix it. The ingest server (`validate_event`) and the ETL (`validate_record`)
share this one implementation, so both stages reject exactly the same things.

Nothing here raises for bad input: hostile bodies become `BatchRejected`, hostile events
become `Rejection`s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, NamedTuple, TypeVar

import msgspec
from msgspec import Meta

from clickstream.schema.codes import BatchRejected, Code, Rejection
from clickstream.schema.event import (
    EVENT_NAME_PATTERN,
    FUTURE_LIMIT,
    LATE_LIMIT,
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_BATCH,
    MAX_RECORD_BYTES,
    SENT_TS_TOLERANCE,
    TRANSACTION_EVENT_NAMES,
    UUID_PATTERN,
    Event,
    PropertyKey,
    PropertyValue,
    RawRecord,
)

__all__ = ["derived_time", "parse_batch", "validate_event", "validate_record"]

_E = TypeVar("_E", bound=Event)


# --------------------------------------------------------------------------- batches


class _Batch(msgspec.Struct):
    # Unknown top-level keys are ignored on purpose: they are reserved for future use.
    events: Annotated[list[msgspec.Raw], Meta(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


_BATCH_DECODER = msgspec.json.Decoder(_Batch)

_BATCH_RULES: dict[tuple[str, str], tuple[Code, str]] = {
    ("$", "type"): (Code.not_an_object, 'the body must be a JSON object {"events": [...]}, not <got>'),
    ("$.events", "missing"): (Code.missing_events, 'the body has no "events" key: send {"events": [event, ...]}'),
    ("$.events", "type"): (Code.missing_events, '"events" must be an array of events, not <got>'),
    ("$.events", "min"): (Code.empty_batch, '"events" is empty: send at least one event, or send nothing'),
    ("$.events", "max"): (
        Code.too_many_events,
        f'"events" holds more than {MAX_EVENTS_PER_BATCH} events: split them over several requests',
    ),
}


def parse_batch(body: bytes) -> list[msgspec.Raw]:
    """Split a request body `{"events": [...]}` into the raw JSON of each event.

    Each element is an exact slice of `body` (so what is stored is what was sent). Raises
    `BatchRejected` for anything that is not such a body; never raises anything else.
    """
    if not isinstance(body, (bytes, bytearray)):
        if isinstance(body, str):
            # An ASCII str would work and a non-ASCII one would not: refuse both, loudly.
            raise TypeError("parse_batch takes the body as bytes; encode a str body (API Gateway's 'body') as UTF-8")
        body = bytes(body)
    if len(body) > MAX_BODY_BYTES:
        raise BatchRejected(
            Code.body_too_large,
            f"the body is {len(body)} bytes; at most {MAX_BODY_BYTES} are accepted: send fewer events per request",
        )
    # msgspec does not check UTF-8 inside values it only slices, and raw slices are
    # stored verbatim, so the whole body is checked once (ASCII bodies skip the decode).
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BatchRejected(
                Code.malformed_json, f"the body is not valid UTF-8 (byte {exc.start}): send JSON encoded as UTF-8"
            ) from None
    try:
        return _BATCH_DECODER.decode(body).events
    except msgspec.ValidationError as exc:
        failure = _parse_error(str(exc))
        fallback = (Code.malformed_json, f"the body is invalid: {failure.detail}")
        code, template = _BATCH_RULES.get((failure.rule_path, _base_kind(failure.kind)), fallback)
        raise BatchRejected(code, template.replace("<got>", _json_types(failure.got))) from None
    except RecursionError:
        raise BatchRejected(Code.too_deep, "the body nests arrays or objects deeper than any batch can") from None
    except Exception as exc:
        message = f'the body is not valid JSON ({exc}): send {{"events": [...]}}'
        raise BatchRejected(Code.malformed_json, message) from None


# --------------------------------------------------------------------------- events


def derived_time(event_ts: datetime, sent_ts: datetime | None, received_at: datetime) -> datetime:
    """event_ts corrected for the client's clock skew (Snowplow's derived timestamp).

    The skew is `received_at - sent_ts`: how far the client clock was behind the server's
    when the batch left (network time is small and ignored). For an accepted event the
    result lies within the time window, so it is safe to store as `server.derived_ts`.
    """
    if sent_ts is None:
        return event_ts
    return event_ts + (received_at - sent_ts)


def validate_event(raw: bytes | msgspec.Raw, *, received_at: datetime) -> Event | Rejection:
    """Decode and check one event as a client sent it; never raises.

    `received_at` is the server time the request arrived (timezone-aware); the time window
    is checked against it.
    """
    event = _fast_decode(raw, _FAST_EVENT_DECODER, Event, MAX_EVENT_BYTES)
    if event is None:  # invalid (or unusual): the exact decoder says why
        event = _decode(raw, _EVENT_DECODER, MAX_EVENT_BYTES, "event")
        if type(event) is Rejection:
            return event
    return _check_rules(event, received_at)  # type: ignore[arg-type]


def validate_record(raw: bytes, *, received_at: datetime | None = None) -> RawRecord | Rejection:
    """Decode and check one stored raw line (the ETL's second look); never raises.

    The time window is checked against `received_at`, or the record's own
    `server.received_ts` when it is None (so a re-run days later accepts the same records).
    """
    record = _fast_decode(raw, _FAST_RECORD_DECODER, RawRecord, MAX_RECORD_BYTES)
    if record is None:
        record = _decode(raw, _RECORD_DECODER, MAX_RECORD_BYTES, "record")
        if type(record) is Rejection:
            return record
    received = record.server.received_ts if received_at is None else received_at  # type: ignore[union-attr]
    return _check_rules(record, received)  # type: ignore[arg-type]


_EVENT_DECODER = msgspec.json.Decoder(Event)
_RECORD_DECODER = msgspec.json.Decoder(RawRecord)

# ---- the fast path for valid input
# msgspec checks a `pattern` by calling `re` for each value, about 0.4 µs each: the two
# UUIDs and the event name were a third of the decode of an event. The fast decoders use
# the same types with those three patterns left out, and one regular expression checks all
# three afterwards. Input that fails anything goes through the exact decoder above, so
# what is rejected, and the code and message it gets, are unchanged. An accepted value is
# re-labelled as the public class (the fast classes add no field and change no layout),
# so callers get exactly the `Event`/`RawRecord` they got before.


def _unanchored(pattern: str, suffix: str = "$") -> str:
    if not (pattern.startswith("^") and pattern.endswith(suffix)):
        raise AssertionError(f"pattern {pattern!r} changed shape: update the fast path in validate.py")
    return pattern[1 : -len(suffix)]


# Within the length bounds the fields also carry, `search` with these anchored patterns
# is a full match: a UUID is exactly 36 characters, and `(?!\n)$` is the end of the name.
# NUL occurs in neither a UUID nor a valid name, so it separates the three unambiguously.
_THREE_PATTERNS = re.compile(
    "\x00".join((_unanchored(UUID_PATTERN), _unanchored(UUID_PATTERN), _unanchored(EVENT_NAME_PATTERN, r"(?!\n)$")))
)
_UuidLength = Annotated[str, Meta(min_length=36, max_length=36)]
_NameLength = Annotated[str, Meta(min_length=1, max_length=40)]


class _FastEvent(Event, kw_only=True):
    event_id: _UuidLength
    event_name: _NameLength
    anonymous_id: _UuidLength


class _FastRecord(RawRecord, kw_only=True):
    event_id: _UuidLength
    event_name: _NameLength
    anonymous_id: _UuidLength


_FAST_EVENT_DECODER = msgspec.json.Decoder(_FastEvent)
_FAST_RECORD_DECODER = msgspec.json.Decoder(_FastRecord)


def _fast_decode(raw: bytes | msgspec.Raw, decoder: msgspec.json.Decoder[Any], public: type, max_bytes: int) -> Any:
    """The decoded value when `raw` is certainly valid for `public`, else None (never raises)."""
    if len(raw) > max_bytes:
        return None
    try:
        value = decoder.decode(raw)
        if _THREE_PATTERNS.fullmatch(f"{value.event_id}\x00{value.anonymous_id}\x00{value.event_name}") is None:
            return None
        value.__class__ = public
    except Exception:  # anything unusual is left to the exact decoder
        return None
    return value


def _options(cls: Any) -> dict[str, Any]:
    config = cls.__struct_config__
    return {name: getattr(config, name) for name in dir(config) if not name.startswith("_")}


for _fast, _public in ((_FastEvent, Event), (_FastRecord, RawRecord)):
    if _fast.__struct_fields__ != _public.__struct_fields__ or _options(_fast) != _options(_public):
        raise AssertionError(f"{_fast.__name__} must have exactly the fields and options of {_public.__name__}")


def _decode(raw: bytes | msgspec.Raw, decoder: msgspec.json.Decoder[Any], max_bytes: int, noun: str) -> Any:
    size = len(raw)
    if size > max_bytes:
        return Rejection(
            Code.too_large,
            f"the {noun} is {size} bytes; at most {max_bytes} are accepted: move large data out of properties "
            "or send fewer items",
            "$",
            _read_event_id(raw),
        )
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return _explain(raw, str(exc))
    except RecursionError:
        return Rejection(Code.too_deep, f"the {noun} nests arrays or objects too deeply", "$", _read_event_id(raw))
    except Exception as exc:
        return Rejection(
            Code.malformed_json,
            f"the {noun} is not valid UTF-8 JSON ({exc}): send each event as one JSON object",
            None,
            _read_event_id(raw),
        )


# --------------------------------------------------------------------------- cross-field rules
# Each rule looks at a decoded event and the server's receive time; the first that
# objects wins. They are ordered from the most to the least fundamental problem.


_EARLIEST_LAG = -SENT_TS_TOLERANCE  # the furthest sent_ts may be before event_ts


def _check_time(event: Event, received_at: datetime) -> Rejection | None:
    # derived_time(...) - received_at == event_ts - sent_ts when sent_ts is given, so the
    # window is checked on that difference: one subtraction, exact, and free of the
    # overflow that adding a wild skew to a wild event_ts could cause.
    event_ts = event.event_ts
    sent_ts = event.sent_ts
    if sent_ts is not None:
        lag = sent_ts - event_ts  # how long the event waited on the client
        if lag < _EARLIEST_LAG:
            return Rejection(
                Code.bad_timestamp,
                f"sent_ts {sent_ts.isoformat()} is before event_ts {event_ts.isoformat()}: an event cannot be sent "
                "before it happened (stamp both from the same clock, sent_ts when the batch leaves)",
                "$.sent_ts",
                event.event_id,
            )
        # lag >= -1 s here, so the derived time is at most 1 s ahead: never "future".
        if lag > LATE_LIMIT:
            return _stale(event, lag)
        return None
    if event_ts > received_at + FUTURE_LIMIT:
        return Rejection(
            Code.future_timestamp,
            f"event_ts {event_ts.isoformat()} is {_span(event_ts - received_at)} ahead of the server clock "
            f"(the limit is {_span(FUTURE_LIMIT)}): fix the client clock, or send sent_ts so skew is corrected",
            "$.event_ts",
            event.event_id,
        )
    if event_ts < received_at - LATE_LIMIT:
        return _stale(event, received_at - event_ts)
    return None


def _stale(event: Event, age: timedelta) -> Rejection:
    return Rejection(
        Code.stale_timestamp,
        f"event_ts {event.event_ts.isoformat()} is {_span(age)} old after clock-skew correction (the limit is "
        f"{_span(LATE_LIMIT)}): send queued events sooner, and send sent_ts",
        "$.event_ts",
        event.event_id,
    )


def _check_transaction_id(event: Event, received_at: datetime) -> Rejection | None:
    ecommerce = event.ecommerce
    if event.event_name in TRANSACTION_EVENT_NAMES and (ecommerce is None or ecommerce.transaction_id is None):
        return Rejection(
            Code.missing_transaction_id,
            f"a {event.event_name} event needs ecommerce.transaction_id (the order id), so that retries and "
            "reloads are not counted twice",
            "$.ecommerce.transaction_id",
            event.event_id,
        )
    return None


def _check_currency(event: Event, received_at: datetime) -> Rejection | None:
    ecommerce = event.ecommerce
    if ecommerce is None or ecommerce.currency is not None:
        return None
    if ecommerce.value is not None:
        priced = "ecommerce.value"
    else:
        priced = next(
            (f"ecommerce.items[{i}].price" for i, item in enumerate(ecommerce.items) if item.price is not None), None
        )
        if priced is None:
            return None
    return Rejection(
        Code.missing_currency,
        f"{priced} is given without ecommerce.currency: add the ISO 4217 code the amounts are in, e.g. USD",
        "$.ecommerce.currency",
        event.event_id,
    )


# After _check_time, in this order: rules that can only object to an e-commerce event or to
# a purchase/refund, so most events skip them.
_ECOMMERCE_RULES: tuple[Callable[[Event, datetime], Rejection | None], ...] = (_check_transaction_id, _check_currency)


def _check_rules(event: _E, received_at: datetime) -> _E | Rejection:
    rejection = _check_time(event, received_at)
    if rejection is not None:
        return rejection
    if event.ecommerce is None and event.event_name not in TRANSACTION_EVENT_NAMES:
        return event
    for rule in _ECOMMERCE_RULES:
        rejection = rule(event, received_at)
        if rejection is not None:
            return rejection
    return event


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds >= 3600:
        return f"{round(seconds / 3600, 1):g} h"
    if seconds >= 60:
        return f"{round(seconds / 60, 1):g} min"
    return f"{round(seconds, 1):g} s"


# --------------------------------------------------------------------------- decode errors -> codes
# msgspec reports the first failure as "<what> - at `$.json.path`". That is parsed into a
# kind of failure and a rule path (indices and map keys as [*]); the tables below map it to
# a code and to text. Everything not listed gets the default for its kind.

_CONSTRAINT_KINDS = frozenset({"min", "max", "pattern", "enum", "format", "range", "value"})


class _Rule(NamedTuple):
    code: Code
    problem: str | None = None  # replaces the generic text for the kind of failure


_DEFAULT_RULES: dict[str, _Rule] = {
    "missing": _Rule(Code.missing_field),
    "unknown": _Rule(Code.unknown_field),
    "type": _Rule(Code.bad_type),
    "key": _Rule(Code.bad_value),
    "constraint": _Rule(Code.bad_value),
}

_TIMESTAMP = _Rule(Code.bad_timestamp, "is not an ISO-8601 date-time with a timezone")
_UUID = _Rule(Code.bad_event_id, "is not a UUID")
_NEGATIVE = _Rule(Code.negative_amount, "must not be negative")

# (rule path, kind) -> rule. Kinds: missing, unknown, type, null (falls back to type),
# constraint (any of _CONSTRAINT_KINDS) or one of those for a narrower match, and key (a
# map key breaks its constraint).
_RULES: dict[tuple[str, str], _Rule] = {
    ("$", "type"): _Rule(Code.not_an_object),
    ("$.event_id", "constraint"): _UUID,
    ("$.anonymous_id", "constraint"): _UUID,
    ("$.event_name", "constraint"): _Rule(Code.bad_event_name, "must match ^[a-z][a-z0-9_]{0,39}$"),
    ("$.event_ts", "constraint"): _TIMESTAMP,
    ("$.sent_ts", "constraint"): _TIMESTAMP,
    ("$.server.received_ts", "constraint"): _TIMESTAMP,
    ("$.server.derived_ts", "constraint"): _TIMESTAMP,
    ("$.schema_version", "constraint"): _Rule(Code.bad_schema_version, "is not a supported schema version"),
    ("$.properties", "max"): _Rule(Code.too_many_properties),
    ("$.ecommerce.currency", "constraint"): _Rule(Code.bad_currency, "is not an ISO 4217 currency code"),
    ("$.ecommerce.value", "min"): _NEGATIVE,
    ("$.ecommerce.items", "max"): _Rule(Code.too_many_items),
    ("$.ecommerce.items[*].item_id", "missing"): _Rule(Code.item_without_id),
    ("$.ecommerce.items[*].item_id", "null"): _Rule(Code.item_without_id, "must not be null"),
    ("$.ecommerce.items[*].item_id", "min"): _Rule(Code.item_without_id, "must not be empty"),
    ("$.ecommerce.items[*].price", "min"): _NEGATIVE,
    ("$.ecommerce.items[*].quantity", "min"): _NEGATIVE,
}

_EXAMPLE_TS = "e.g. 2025-05-01T12:00:00.000Z"
# rule path -> how to fix it, shown in parentheses after the problem.
_FIXES: dict[str, str] = {
    "$.event_id": "8-4-4-4-12 hexadecimal digits, made once per event and kept across retries, "
    "e.g. 3f6c2a4e-8b1d-4c5e-9f7a-2d3b4c5d6e7f",
    "$.anonymous_id": "8-4-4-4-12 hexadecimal digits: the UUID the SDK keeps in first-party storage",
    "$.event_name": "lowercase snake_case, e.g. page_view",
    "$.event_ts": _EXAMPLE_TS,
    "$.sent_ts": _EXAMPLE_TS,
    "$.server.received_ts": _EXAMPLE_TS,
    "$.server.derived_ts": _EXAMPLE_TS,
    "$.schema_version": "send 1: this endpoint accepts schema version 1",
    "$.properties": "send at most 50 flat properties",
    "$.properties[*]": "property values are strings of at most 1024 characters, numbers, true, false or null",
    "$.ecommerce.currency": "an ISO 4217 code in upper case, e.g. USD or EUR",
    "$.ecommerce.value": "a non-negative number; refunds are positive amounts on a refund event",
    "$.ecommerce.items": "send at most 200 items per event",
    "$.ecommerce.items[*].item_id": "every item needs a non-empty item_id: the product id or SKU",
    "$.ecommerce.items[*].price": "the unit price as a non-negative number",
    "$.ecommerce.items[*].quantity": "a non-negative integer",
}
_KIND_FIXES: dict[str, str] = {
    "unknown": "remove it; custom data belongs in properties",
    "key": "property names are 1 to 64 characters",
}

_AT = re.compile(r" - at `(?P<path>\$[^`]*)`$")
_AT_KEY = re.compile(r" - at `key` in `(?P<path>\$[^`]*)`$")
_TYPE = re.compile(r"Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`$")
_LENGTH = re.compile(r"Expected `(?P<what>[^`]*)` of length (?P<op>[<>]=?) (?P<bound>\S+)$")
_BOUND = re.compile(r"Expected `(?P<what>[^`]*)` (?P<op>[<>]=?) (?P<bound>\S+)$")
_INDEX = re.compile(r"\[(?:\d+|\.\.\.)\]")
_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING_PREFIX = "Object missing required field `"
_UNKNOWN_PREFIX = "Object contains unknown field `"
_MAX_SHOWN_CHARS = 40

# msgspec's type names, in the order they are listed in messages, as JSON readers know them.
_JSON_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "str": "a string",
    "datetime": "an ISO-8601 string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
}


class _Failure(NamedTuple):
    kind: str  # missing, unknown, type, null, key, or one of _CONSTRAINT_KINDS
    path: str  # JSON path of the offending value, e.g. $.ecommerce.items[2].price
    rule_path: str  # the same with every index as [*], the key of the tables
    detail: str  # msgspec's own words, without the location
    expected: str = ""  # type expected / length or number bound, when known
    got: str = ""  # JSON type found (type errors)
    op: str = ""  # comparison of a bound: >=, <=, >, <
    field: str = ""  # missing or unknown field name


def _parse_error(message: str) -> _Failure:
    key_match = _AT_KEY.search(message)
    at_match = None if key_match else _AT.search(message)
    match = key_match or at_match
    path = match.group("path") if match else "$"
    detail = message[: match.start()] if match else message

    if key_match:
        if m := _LENGTH.match(detail):
            return _Failure("key", path, _rule_path(path), detail, expected=m["bound"], got=m["what"], op=m["op"])
        return _Failure("key", path, _rule_path(path), detail)
    for prefix, kind in ((_MISSING_PREFIX, "missing"), (_UNKNOWN_PREFIX, "unknown")):
        if detail.startswith(prefix) and detail.endswith("`"):
            name = detail[len(prefix) : -1]
            full = _join(path, name)
            return _Failure(kind, full, _rule_path(full), detail, field=name)
    rule_path = _rule_path(path)
    if m := _TYPE.match(detail):
        kind = "null" if m["got"] == "null" else "type"
        return _Failure(kind, path, rule_path, detail, expected=m["expected"], got=m["got"])
    if m := _LENGTH.match(detail) or _BOUND.match(detail):
        kind = "min" if m["op"].startswith(">") else "max"
        return _Failure(kind, path, rule_path, detail, expected=m["bound"], got=m["what"], op=m["op"])
    if detail.startswith("Expected `str` matching regex"):
        return _Failure("pattern", path, rule_path, detail)
    if detail.startswith("Invalid enum value"):
        return _Failure("enum", path, rule_path, detail)
    if "datetime" in detail or "RFC3339" in detail:
        return _Failure("format", path, rule_path, detail)
    if detail.startswith("Number out of range"):
        return _Failure("range", path, rule_path, detail)
    return _Failure("value", path, rule_path, detail)


def _base_kind(kind: str) -> str:
    return "type" if kind == "null" else kind


def _rule_for(failure: _Failure) -> _Rule:
    kind = failure.kind
    rule = _RULES.get((failure.rule_path, kind))
    if rule is None and kind == "null":
        kind = "type"
        rule = _RULES.get((failure.rule_path, kind))
    if rule is None and kind in _CONSTRAINT_KINDS:
        kind = "constraint"
        rule = _RULES.get((failure.rule_path, kind))
    return rule or _DEFAULT_RULES[kind]


def _explain(raw: bytes | msgspec.Raw, message: str) -> Rejection:
    """Turn a msgspec ValidationError message into a Rejection; never raises."""
    event_id = _read_event_id(raw)
    try:
        document = _document(raw)
        failure = _parse_error(message)
        if failure.kind == "unknown":
            failure = _locate_unknown_field(failure, message, document)
        rule = _rule_for(failure)
        value, path = _offending_value(document, failure)
        return Rejection(rule.code, _message(failure, rule, value, path), path, event_id)
    except Exception:
        return Rejection(Code.bad_value, f"the event is invalid: {message[:300]}", None, event_id)


_NOTHING = object()


def _document(raw: bytes | msgspec.Raw) -> Any:
    """The event as plain JSON values, or _NOTHING when it cannot be read that way."""
    try:
        return msgspec.json.decode(raw)
    except Exception:
        return _NOTHING


def _locate_unknown_field(failure: _Failure, message: str, document: Any) -> _Failure:
    # An unknown field's name is the client's text and may itself end in "` - at `$.x`",
    # which reads exactly like msgspec's location suffix. The document decides: the name
    # is taken as a field of the object at the suffix's path only if that object has it.
    container = _walk(document, failure.path[: -len(_join("", failure.field))])
    if isinstance(container, dict) and failure.field in container:
        return failure
    name = message[len(_UNKNOWN_PREFIX) : -1]
    if isinstance(document, dict) and name in document:
        path = _join("$", name)
        return failure._replace(path=path, rule_path=_rule_path(path), field=name)
    return failure


def _offending_value(document: Any, failure: _Failure) -> tuple[Any, str]:
    """The value at the failure's path (or _NOTHING) and the most precise path for it."""
    if failure.kind in ("missing", "unknown") or document is _NOTHING:
        return _NOTHING, failure.path
    if failure.rule_path == "$":
        return document, "$"
    if failure.path.endswith("[...]") or failure.kind == "key":
        # msgspec does not name the map key; find the first entry that breaks the rule.
        container_path = failure.path.removesuffix("[...]")
        container = _walk(document, container_path)
        if isinstance(container, dict):
            check = PropertyKey if failure.kind == "key" else PropertyValue
            for key, value in container.items():
                candidate = key if failure.kind == "key" else value
                if not _conforms(candidate, check):
                    return candidate, (container_path if failure.kind == "key" else _join(container_path, key))
        return _NOTHING, container_path
    return _walk(document, failure.path), failure.path


def _conforms(value: Any, type_: Any) -> bool:
    try:
        msgspec.convert(value, type_)
    except msgspec.ValidationError:
        return False
    return True


def _walk(document: Any, path: str) -> Any:
    node = document
    for name, index in _SEGMENT.findall(path[1:]):
        if name and isinstance(node, dict):
            node = node.get(name, _NOTHING)
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return _NOTHING
    return node


def _message(failure: _Failure, rule: _Rule, value: Any, path: str) -> str:
    kind = failure.kind
    if rule.code is Code.not_an_object:
        return f"the event must be a JSON object, not {_json_types(failure.got)}"
    subject = "property name" if kind == "key" else ("the event" if path == "$" else path.removeprefix("$."))
    if value is not _NOTHING and kind != "null" and _is_scalar(value):
        subject = f"{subject} {_show(value)}"
    problem = rule.problem or _generic_problem(failure)
    fix = _KIND_FIXES.get(kind) if kind == "key" else _FIXES.get(failure.rule_path) or _KIND_FIXES.get(kind)
    return f"{subject} {problem} ({fix})" if fix else f"{subject} {problem}"


def _generic_problem(failure: _Failure) -> str:
    kind = failure.kind
    if kind == "missing":
        return "is required but missing"
    if kind == "unknown":
        return "is not a field of event schema version 1"
    if kind in ("type", "null"):
        return f"must be {_json_types(failure.expected)}, not {_json_types(failure.got)}"
    if kind in ("min", "max", "key") and failure.op:
        bound = failure.expected.removesuffix(".0")
        if "length" in failure.detail:
            if failure.got != "str":
                unit = "keys" if failure.got == "object" else "entries"
                return f"must have {'at least' if failure.op.startswith('>') else 'at most'} {bound} {unit}"
            if failure.op.startswith(">"):
                return "must not be empty" if bound == "1" else f"must be at least {bound} characters"
            return f"must be at most {bound} characters"
        return f"must be {failure.op} {bound}"
    if kind == "key":
        return "is not allowed"
    if kind == "range":
        return "is out of range"
    if kind == "format":
        return "is not an ISO-8601 date-time with a timezone"
    if kind == "enum":
        return "is not one of the accepted values"
    return f"is invalid ({failure.detail})"


def _json_types(spec: str) -> str:
    """msgspec's "bool | int | float | str | null" as "a string, a number, a boolean or null"."""
    parts = set(spec.split(" | ")) if spec else set()
    if {"int", "float"} <= parts:
        parts.discard("int")  # "a number" covers both
    order = list(_JSON_TYPE_NAMES)
    names = [_JSON_TYPE_NAMES.get(p, p) for p in sorted(parts, key=lambda p: order.index(p) if p in order else 99)]
    if not names:
        return "something else"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _show(value: Any) -> str:
    if isinstance(value, str):
        if len(value) > _MAX_SHOWN_CHARS:
            return f"{value[:_MAX_SHOWN_CHARS]!r}... ({len(value)} characters)"
        return repr(value)
    return json.dumps(value)


def _rule_path(path: str) -> str:
    return _INDEX.sub("[*]", path)


def _join(path: str, name: str) -> str:
    if len(name) <= _MAX_SHOWN_CHARS and _IDENTIFIER.fullmatch(name):
        return f"{path}.{name}"
    shown = name if len(name) <= _MAX_SHOWN_CHARS else name[:_MAX_SHOWN_CHARS] + "..."
    return f"{path}[{json.dumps(shown, ensure_ascii=False)}]"


# --------------------------------------------------------------------------- event_id, best effort


class _IdProbe(msgspec.Struct):
    # Every other field is skipped, so this reads the id of events that fail validation.
    event_id: Any = None


_ID_PROBE = msgspec.json.Decoder(_IdProbe)
_EVENT_ID_IN_TEXT = re.compile(rb'"event_id"\s*:\s*"([^"\\]{1,128})"')
_MAX_EVENT_ID_CHARS = 128


def _read_event_id(raw: bytes | msgspec.Raw) -> str | None:
    try:
        value = _ID_PROBE.decode(raw).event_id
    except Exception:
        try:
            match = _EVENT_ID_IN_TEXT.search(bytes(raw))
            return match.group(1).decode("utf-8") if match else None
        except Exception:
            return None
    return value if isinstance(value, str) and len(value) <= _MAX_EVENT_ID_CHARS else None
