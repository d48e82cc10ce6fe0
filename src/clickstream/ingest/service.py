"""The ingest use case: one HTTP batch in, raw and quarantine objects durably written, one answer out.

Transport-free: `tasks/ingest.py` turns an API Gateway event into an `IngestRequest` and the
`IngestResponse` back into HTTP. Every input, however malformed, ends in a 4xx answer with a
code and a message, and whatever was rejected is kept in quarantine with its reason.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from clickstream.errors import AuthUnavailable, InvalidTokenError
from clickstream.ingest.auth import TokenVerifier
from clickstream.ingest.enrich import UserAgentParser, truncate_ip
from clickstream.ingest.responses import ErrorBody, IngestResult, RejectedEvent
from clickstream.ingest.sink import EventSink
from clickstream.layout import Hour
from clickstream.schema import (
    MAX_BODY_BYTES,
    BatchRejected,
    Code,
    Event,
    Rejection,
    derived_time,
    parse_batch,
    validate_event,
)

STAGE = "ingest"
JSON_MEDIA_TYPES = frozenset({"application/json", "text/plain"})
# Bodies we could not even parse are kept up to this size; larger ones are kept truncated.
QUARANTINE_BODY_LIMIT = MAX_BODY_BYTES

_encode = msgspec.json.Encoder().encode
_decode_any = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class IngestRequest:
    body: bytes
    request_id: str
    received_at: datetime
    content_type: str | None = None
    authorization: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class IngestResponse:
    status: int
    body: IngestResult | ErrorBody
    headers: dict[str, str] = field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0

    def body_json(self) -> str:
        return _encode(self.body).decode()


def iso_ms(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z, the one timestamp format the server writes."""
    if moment.tzinfo is not UTC:
        return _iso_ms(moment)
    # Once per event: the text up to the minute comes from a small cache (a batch's events
    # share a few minutes), the rest from integer milliseconds (floored, as _iso_ms does).
    minute, ms = divmod((moment - _EPOCH) // _MILLISECOND, 60_000)
    prefix = _MINUTE_PREFIXES.get(minute)
    if prefix is None:
        if len(_MINUTE_PREFIXES) >= _MAX_MINUTE_PREFIXES:
            _MINUTE_PREFIXES.clear()
        prefix = _MINUTE_PREFIXES[minute] = _iso_ms(moment)[:-7]  # without "SS.mmmZ"
    return f"{prefix}{ms // 1000:02d}.{ms % 1000:03d}Z"


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_MINUTE_PREFIXES: dict[int, str] = {}  # minutes since the epoch -> "YYYY-MM-DDTHH:MM:"
_MAX_MINUTE_PREFIXES = 4096


class IngestService:
    """Validates a batch, enriches accepted events, and writes raw and quarantine objects."""

    def __init__(self, sink: EventSink, verifier: TokenVerifier, user_agents: UserAgentParser) -> None:
        self._sink = sink
        self._verifier = verifier
        self._user_agents = user_agents

    def ingest(self, request: IngestRequest) -> IngestResponse:
        hour = Hour.containing(request.received_at)
        server = self._server_context(request)

        media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        if media_type and media_type not in JSON_MEDIA_TYPES:
            return self._reject_body(
                request, hour, server, 415, Code.unsupported_media_type,
                f"Content-Type {media_type!r} is not accepted: send the batch as application/json or text/plain.",
            )
        if len(request.body) > MAX_BODY_BYTES:
            return self._reject_body(
                request, hour, server, 413, Code.body_too_large,
                f"the body is {len(request.body)} bytes, over the {MAX_BODY_BYTES} byte limit: "
                "send at most 500 events and 256 KB per request.",
            )
        try:
            user_id = self._verifier.user_id(request.authorization)
        except InvalidTokenError as exc:
            if exc.reason == "jwks_unavailable":
                # Our dependency failed, not the client: answer retryable and accept nothing.
                raise AuthUnavailable(f"token keys could not be fetched: {exc}") from exc
            return self._reject_body(
                request, hour, server, 401, Code.bad_token,
                f"the bearer token was refused ({exc.reason}): {exc}. Sign in again, or send the events without "
                "an Authorization header.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        try:
            raw_events = parse_batch(request.body)
        except BatchRejected as exc:
            status = 413 if exc.code in (Code.too_many_events, Code.body_too_large) else 400
            return self._reject_body(request, hour, server, status, exc.code, exc.message)

        accepted: list[bytes] = []
        rejected: list[RejectedEvent] = []
        quarantined: list[bytes] = []
        received_at = request.received_at
        lines = _RawLines(server, user_id, single_lines=b"\n" not in request.body and b"\r" not in request.body)
        for index, raw in enumerate(raw_events):
            outcome = validate_event(raw, received_at=received_at)
            if type(outcome) is Rejection:
                rejected.append(RejectedEvent(index=index, event_id=outcome.event_id, code=outcome.code.value,
                                              message=outcome.message))
                quarantined.append(
                    _quarantine_line(request, server, outcome.code, outcome.message, bytes(raw),
                                     index=index, path=outcome.path, event_id=outcome.event_id)
                )
                continue
            event: Event = outcome  # type: ignore[assignment]
            derived = derived_time(event.event_ts, event.sent_ts, received_at)
            accepted.append(lines.line(bytes(raw), event.user_id, iso_ms(derived)))

        # Both writes happen before the answer: nothing is acknowledged that is not durable.
        if accepted:
            self._sink.write_raw(hour, request.request_id, accepted)
        if quarantined:
            counts: dict[str, int] = {}
            for rejection in rejected:
                counts[rejection.code] = counts.get(rejection.code, 0) + 1
            self._sink.write_quarantine(STAGE, hour, request.request_id, quarantined, counts)

        return IngestResponse(
            status=200 if accepted else 400,
            body=IngestResult(request_id=request.request_id, accepted=len(accepted), rejected=rejected),
            accepted=len(accepted),
            rejected=len(rejected),
        )

    def _server_context(self, request: IngestRequest) -> dict[str, Any]:
        agent = self._user_agents.parse(request.user_agent)
        return {
            "received_ts": iso_ms(request.received_at),
            "request_id": request.request_id,
            "ip_trunc": truncate_ip(request.source_ip),
            "user_agent": request.user_agent,
            "ua_browser": agent.browser,
            "ua_os": agent.os,
            "ua_device": agent.device,
            "is_bot": agent.is_bot,
        }

    def _reject_body(
        self,
        request: IngestRequest,
        hour: Hour,
        server: dict[str, Any],
        status: int,
        code: Code,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> IngestResponse:
        """The whole body is refused: keep it (bounded) in quarantine, then answer with the reason."""
        if request.body:
            line = _quarantine_line(request, server, code, message, request.body[:QUARANTINE_BODY_LIMIT])
            self._sink.write_quarantine(STAGE, hour, request.request_id, [line], {code.value: 1})
        return IngestResponse(
            status=status,
            body=ErrorBody(code=code.value, message=message, request_id=request.request_id),
            headers=headers or {},
        )


class _RawLines:
    """The raw lines of one request: each event as sent, plus `server` (and a verified `user_id`).

    The common case is the client's own bytes with the rest appended: no decode and no
    encode. That is sound because the event was just validated, so its bytes are one JSON
    object whose keys are all Event fields (never `server` or `claimed_user_id`). An event
    that must be edited (a client `user_id` to move to `claimed_user_id` or to replace) or
    that spans several lines of text is decoded and re-encoded instead, as every event used
    to be. Both give the same record (`validate_record` decodes them to equal values), and
    for compact JSON such as the SDK's the same bytes; the first keeps the client's own
    formatting (spaces, `1.50`, `"\\u00e9"`, a `"user_id": null`), the second is msgspec's.
    """

    __slots__ = ("_head", "_server", "_single_lines", "_user_id")

    def __init__(self, server: dict[str, Any], user_id: str | None, *, single_lines: bool) -> None:
        self._server = server
        self._user_id = user_id
        self._single_lines = single_lines
        # _encode({**server, "derived_ts": ts}) is this with ts and `"}` after it: the
        # timestamp is ASCII with nothing to escape.
        head = b',"server":' + _encode(server)[:-1] + b',"derived_ts":"'
        self._head = head if user_id is None else b',"user_id":' + _encode(user_id) + head

    def line(self, raw: bytes, claimed: str | None, derived_ts: str) -> bytes:
        if (
            claimed is None  # no client user_id to keep as claimed
            and (self._single_lines or (b"\n" not in raw and b"\r" not in raw))
            # With a token the event must have no user_id member at all, not even null (any
            # spelling of the key other than this one needs a backslash).
            and (self._user_id is None or (b'"user_id"' not in raw and b"\\" not in raw))
        ):
            return b"".join((raw[:-1], self._head, derived_ts.encode(), b'"}}'))
        return _raw_line(raw, self._server, derived_ts, self._user_id)


def _raw_line(raw: bytes, server: dict[str, Any], derived_ts: str, user_id: str | None) -> bytes:
    """The event as sent, plus `server`; a client `user_id` is trusted only when a token backs it."""
    event = _decode_any(raw)
    claimed = event.pop("user_id", None)
    if user_id is not None:
        event["user_id"] = user_id
    if claimed is not None and claimed != user_id:
        event["claimed_user_id"] = claimed
    event["server"] = {**server, "derived_ts": derived_ts}
    return _encode(event)


def _quarantine_line(
    request: IngestRequest,
    server: dict[str, Any],
    code: Code,
    message: str,
    raw: bytes,
    *,
    index: int | None = None,
    path: str | None = None,
    event_id: str | None = None,
) -> bytes:
    """One quarantine record: the input as received, why it was refused, and where it came from."""
    record: dict[str, Any] = {
        "stage": STAGE,
        "error_code": code.value,
        "error_message": message,
        "error_path": path,
        "event_id": event_id,
        "index": index,
        "run_id": request.request_id,
        "server": server,
        **_raw_payload(raw),
    }
    return _encode(record)


def _raw_payload(raw: bytes) -> dict[str, Any]:
    """Rejected input as text when it is UTF-8 (the common case), else base64, so nothing is lost."""
    try:
        return {"raw": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw_base64": base64.b64encode(raw).decode("ascii")}
