"""The ingest API over real HTTP: local front -> real handler -> moto S3. Asserts what landed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from clickstream.local.front import LocalApiFront, TokenBucket
from tests.integration.conftest import SHOP_ORIGIN, IngestApi
from tests.support import free_port, iso, keys_for_request, make_event, read_lines


def _raw(api: IngestApi, request_id: str) -> list[dict]:
    keys = keys_for_request(api.s3, api.resources.raw_bucket, request_id)
    assert len(keys) <= 1, keys
    return read_lines(api.s3, api.resources.raw_bucket, keys[0]) if keys else []


def _quarantine(api: IngestApi, request_id: str) -> list[dict]:
    keys = keys_for_request(api.s3, api.resources.quarantine_bucket, request_id)
    assert len(keys) <= 1, keys
    assert all("/stage=ingest/" in key for key in keys)
    return read_lines(api.s3, api.resources.quarantine_bucket, keys[0]) if keys else []


def test_health(ingest_api: IngestApi) -> None:
    response = requests.get(f"{ingest_api.url}/v1/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["schema_version"] == 1


@pytest.mark.parametrize(("method", "path", "status", "allow"), [
    ("GET", "/v1/events", 405, "POST, OPTIONS"),
    ("TRACE", "/v1/health", 405, "GET, OPTIONS"),
    ("DELETE", "/v1/events", 405, "POST, OPTIONS"),
    ("GET", "/v2/whatever", 404, None),
])
def test_wrong_methods_and_paths_get_json_answers(ingest_api: IngestApi, method: str, path: str, status: int,
                                                 allow: str | None) -> None:
    response = requests.request(method, f"{ingest_api.url}{path}", timeout=5)
    assert response.status_code == status
    assert response.headers.get("allow") == allow
    assert response.json()["message"]


def test_mixed_batch_keeps_every_valid_event_exactly_and_quarantines_the_rest(ingest_api: IngestApi) -> None:
    # GIVEN a batch mixing valid events with invalid ones
    valid = [
        make_event("page_view"),
        make_event("add_to_cart", ecommerce={"currency": "EUR", "value": 25.5,
                                             "items": [{"item_id": "SKU-1", "price": 12.75, "quantity": 2}]}),
        make_event("purchase", ecommerce={"currency": "EUR", "value": 25.5, "transaction_id": "T-1001",
                                          "items": [{"item_id": "SKU-1", "price": 12.75, "quantity": 2}]}),
        make_event("search", properties={"search_term": "blue mug"}),
    ]
    invalid = {
        1: (make_event("Page View"), "bad_event_name"),
        3: ({k: v for k, v in make_event().items() if k != "event_id"}, "missing_field"),
        4: (make_event("purchase", ecommerce={"currency": "EUR", "value": 3.0}), "missing_transaction_id"),
        6: (make_event("add_to_cart", ecommerce={"currency": "EURO", "items": [{"item_id": "A", "price": 1}]}),
            "bad_currency"),
    }
    batch: list[dict] = []
    valid_iter = iter(valid)
    for index in range(len(valid) + len(invalid)):
        batch.append(invalid[index][0] if index in invalid else next(valid_iter))

    # WHEN it is posted
    response = ingest_api.post({"events": batch}, headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) "
                                                           "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"})

    # THEN the answer names each rejected event with its code
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == len(valid)
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(i, code) for i, (_, code) in sorted(invalid.items())]
    assert all(r["message"] for r in body["rejected"])
    assert body["rejected"][0]["event_id"] == invalid[1][0]["event_id"]

    # AND raw holds exactly the valid events as sent, plus server fields
    stored = _raw(ingest_api, body["request_id"])
    assert len(stored) == len(valid)
    for sent, line in zip(valid, stored, strict=True):
        server = line.pop("server")
        assert line == sent
        assert server["request_id"] == body["request_id"]
        assert server["ip_trunc"] == "127.0.0.0"
        assert server["ua_browser"] == "Chrome" and server["is_bot"] is False
        assert server["derived_ts"].endswith("Z") and server["received_ts"].endswith("Z")

    # AND quarantine holds every rejected event verbatim, with its code and message
    quarantined = _quarantine(ingest_api, body["request_id"])
    assert [(q["index"], q["error_code"]) for q in quarantined] == [(i, c) for i, (_, c) in sorted(invalid.items())]
    for record in quarantined:
        assert json.loads(record["raw"]) == invalid[record["index"]][0]
        assert record["stage"] == "ingest" and record["run_id"] == body["request_id"] and record["error_message"]


def test_a_batch_with_no_valid_event_is_400_with_the_same_body(ingest_api: IngestApi) -> None:
    response = ingest_api.post({"events": [make_event("Bad!"), make_event(schema_version=2)]})
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0
    assert [r["code"] for r in body["rejected"]] == ["bad_event_name", "bad_schema_version"]
    assert _raw(ingest_api, body["request_id"]) == []
    assert len(_quarantine(ingest_api, body["request_id"])) == 2


def test_text_plain_is_accepted_like_json(ingest_api: IngestApi) -> None:
    event = make_event()
    response = ingest_api.post(json.dumps({"events": [event]}), content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert _raw(ingest_api, response.json()["request_id"])[0]["event_id"] == event["event_id"]


def test_the_same_event_id_sent_twice_is_accepted_twice(ingest_api: IngestApi) -> None:
    # Dedup is the ETL's job; the API must never lose a retry.
    event = make_event()
    first = ingest_api.post({"events": [event]})
    second = ingest_api.post({"events": [event]})
    assert first.json()["accepted"] == second.json()["accepted"] == 1
    assert _raw(ingest_api, second.json()["request_id"])[0]["event_id"] == event["event_id"]


def test_a_client_user_id_without_a_token_is_only_claimed(ingest_api: IngestApi) -> None:
    response = ingest_api.post({"events": [make_event(user_id="someone-else")]})
    line = _raw(ingest_api, response.json()["request_id"])[0]
    assert "user_id" not in line
    assert line["claimed_user_id"] == "someone-else"


def test_a_valid_cognito_token_sets_user_id_to_its_sub(ingest_api: IngestApi) -> None:
    token, sub = ingest_api.access_token()
    response = ingest_api.post({"events": [make_event(user_id="forged"), make_event()]},
                               headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    lines = _raw(ingest_api, response.json()["request_id"])
    assert [line["user_id"] for line in lines] == [sub, sub]
    assert lines[0]["claimed_user_id"] == "forged"
    assert "claimed_user_id" not in lines[1]


@pytest.mark.parametrize("authorization", ["Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_bad_token_is_401_and_the_events_are_kept_in_quarantine(ingest_api: IngestApi, authorization: str) -> None:
    events = [make_event()]
    response = ingest_api.post({"events": events}, headers={"authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["code"] == "bad_token" and body["message"]
    assert _raw(ingest_api, body["request_id"]) == []
    (record,) = _quarantine(ingest_api, body["request_id"])
    assert record["error_code"] == "bad_token"
    assert json.loads(record["raw"]) == {"events": events}


def test_a_tampered_token_is_refused(ingest_api: IngestApi) -> None:
    token, _ = ingest_api.access_token()
    header, payload, signature = token.split(".")
    tampered = ".".join([header, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), signature])
    response = ingest_api.post({"events": [make_event()]}, headers={"authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_a_body_over_256_kb_is_413_and_kept(ingest_api: IngestApi) -> None:
    events = [make_event(properties={"blob": "x" * 1000}) for _ in range(300)]
    response = ingest_api.post({"events": events})
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "body_too_large" and "256" in body["message"]
    (record,) = _quarantine(ingest_api, body["request_id"])
    assert record["error_code"] == "body_too_large"


def test_more_than_500_events_is_413(ingest_api: IngestApi) -> None:
    response = ingest_api.post({"events": [{"event_name": "x"}] * 501})
    assert response.status_code == 413
    assert response.json()["code"] == "too_many_events"


def test_a_body_over_the_gateway_limit_is_413_at_the_front(ingest_api: IngestApi) -> None:
    response = ingest_api.post(b"{" + b" " * (10 * 1024 * 1024 + 1) + b"}")
    assert response.status_code == 413


def test_an_event_over_16_kb_is_rejected_alone(ingest_api: IngestApi) -> None:
    big = make_event(page={"url": "https://shop.example/", "path": "/", "title": "t" * 17000})
    response = ingest_api.post({"events": [big, make_event()]})
    assert response.status_code == 200
    assert [(r["index"], r["code"]) for r in response.json()["rejected"]] == [(0, "too_large")]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"", "application/json", 400, "malformed_json"),
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "malformed_json"),
        (b"[1, 2, 3]", "application/json", 400, "not_an_object"),
        (b'{"events": {}}', "application/json", 400, "missing_events"),
        (b'{"events": []}', "application/json", 400, "empty_batch"),
        (b'{"something": 1}', "application/json", 400, "missing_events"),
        (b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", 400, "too_deep"),
        (b'{"events": [{"event_name": "' + b"a" * 200_000 + b'"}]}', "application/json", 400, "too_large"),
        (b"a=1&b=2", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"<events/>", "application/xml", 415, "unsupported_media_type"),
    ],
    ids=["empty", "broken", "binary", "array", "events-object", "no-events", "other-key", "deep-nesting",
         "huge-string", "form", "xml"],
)
def test_malformed_input_gets_a_clear_4xx(ingest_api: IngestApi, body: bytes, content_type: str, status: int,
                                         code: str) -> None:
    response = ingest_api.post(body, content_type=content_type)
    assert response.status_code == status, response.text
    answer = response.json()
    if "code" in answer:
        assert answer["code"] == code
        assert len(answer["message"]) > 20
    else:  # per-event rejection (an event over 16 KB)
        assert answer["rejected"][0]["code"] == code
    if body:
        assert _quarantine(ingest_api, answer["request_id"]), "refused input must be kept in quarantine"


def test_cors_preflight_for_an_allowed_origin(ingest_api: IngestApi) -> None:
    response = requests.options(
        f"{ingest_api.url}/v1/events", timeout=5,
        headers={"origin": SHOP_ORIGIN, "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization,content-type"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SHOP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_cors_headers_only_for_allowed_origins(ingest_api: IngestApi) -> None:
    allowed = ingest_api.post({"events": [make_event()]}, headers={"origin": SHOP_ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == SHOP_ORIGIN
    for origin in ("https://evil.example", "null"):
        preflight = requests.options(f"{ingest_api.url}/v1/events", timeout=5,
                                     headers={"origin": origin, "access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
        refused = ingest_api.post({"events": [make_event()]}, headers={"origin": origin})
        assert "access-control-allow-origin" not in refused.headers


def test_events_outside_the_time_window_are_rejected(ingest_api: IngestApi) -> None:
    # GIVEN an event queued offline for 73 hours (sent now), and one from the future with no sent_ts
    # to correct its clock by (with sent_ts, a skewed clock is corrected instead, see below)
    now = datetime.now(UTC)
    late = make_event(at=now - timedelta(hours=73))
    late["sent_ts"] = iso(now)
    future = make_event(at=now + timedelta(hours=1))
    del future["sent_ts"]
    response = ingest_api.post({"events": [late, future]})
    assert [r["code"] for r in response.json()["rejected"]] == ["stale_timestamp", "future_timestamp"]


def test_a_fast_client_clock_is_corrected_not_rejected(ingest_api: IngestApi) -> None:
    # GIVEN a device whose clock runs 2 hours fast: both its timestamps are 2 h ahead
    skewed = make_event(at=datetime.now(UTC) + timedelta(hours=2))
    response = ingest_api.post({"events": [skewed]})
    assert response.json()["accepted"] == 1
    (line,) = _raw(ingest_api, response.json()["request_id"])
    derived = datetime.fromisoformat(line["server"]["derived_ts"])
    assert abs(derived - datetime.now(UTC)) < timedelta(minutes=1)


def test_throttling_answers_429(ingest_api: IngestApi) -> None:
    from tasks import ingest

    front = LocalApiFront(ingest.lambda_handler, port=free_port(), throttle=TokenBucket(rate_per_s=0.001, burst=2))
    front.start()
    try:
        statuses = [requests.get(f"{front.url}/v1/health", timeout=5).status_code for _ in range(4)]
    finally:
        front.stop()
    assert statuses == [200, 200, 429, 429]
