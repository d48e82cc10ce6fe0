"""Seeding demo traffic through the real ingest service into a moto server: what lands where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clickstream.demo.seed import SEED_BATCHING, request_id, seed, seed_range
from clickstream.demo.traffic import Request, generate
from clickstream.ingest import build_ingest_service
from clickstream.layout import Hour
from clickstream.local.aws import LocalAws, LocalResources
from clickstream.settings import AuthSettings, AwsSettings, IngestSettings
from tests.support import read_lines

RAW, QUARANTINE = "demo-seed-raw", "demo-seed-quarantine"
# A Wednesday evening, far from the dates other tests write (they use the current time).
START = datetime(2026, 1, 14, 18, tzinfo=UTC)
END = START + timedelta(hours=2)


@dataclass
class Stack:
    s3: Any
    settings: IngestSettings
    resources: LocalResources
    cognito: Any


@pytest.fixture(scope="module")
def stack(local_aws: tuple[LocalAws, LocalResources]) -> Iterator[Stack]:
    aws, resources = local_aws
    clients = aws.clients()
    s3 = clients.s3()
    for bucket in (RAW, QUARANTINE):
        s3.create_bucket(Bucket=bucket)
    settings = IngestSettings(raw_bucket=RAW, quarantine_bucket=QUARANTINE,
                              aws=AwsSettings(region=resources.region, endpoint_url=resources.aws_endpoint_url))
    yield Stack(s3, settings, resources, clients.client("cognito-idp"))


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def _partition(key: str) -> str:
    return "/".join(key.split("/")[-3:-1]) if key.startswith("quarantine/") else "/".join(key.split("/")[1:3])


def _records(s3: Any, bucket: str, keys: list[str]) -> list[dict[str, Any]]:
    return [record for key in keys for record in read_lines(s3, bucket, key)]


def test_two_seeded_hours_land_in_exactly_their_partitions_with_the_counts_the_service_gave(stack: Stack) -> None:
    # GIVEN the generator's own view of the two hours (the oracle)
    expected: list[Request] = list(generate(START, END, seed=21, visitors_per_hour=40, batching=SEED_BATCHING))
    expected_accepted = sum(len(r.events) - len(r.rejections) for r in expected)

    # WHEN the two hours are seeded through the ingest service
    service = build_ingest_service(stack.settings)
    result = seed_range(START, END, service=service, seed=21, visitors_per_hour=40)

    # THEN the service saw every request and answered as the generator's labels predict
    hours = [Hour(START), Hour(START + timedelta(hours=1))]
    assert result.hours == hours
    assert result.requests == len(expected)
    assert result.events_sent == sum(len(r.events) for r in expected) == result.accepted + result.rejected
    assert result.accepted == expected_accepted and result.rejected > 0
    # AND raw objects sit under exactly those hour partitions, one per request with an accepted event
    raw_keys = _keys(stack.s3, RAW, "raw/received_date=2026-01-14/")
    assert {_partition(k) for k in raw_keys} == {h.partition for h in hours}
    assert {k.rsplit("/", 1)[1] for k in raw_keys} == {
        f"{request_id(21, r)}.jsonl.gz" for r in expected if len(r.events) > len(r.rejections)}
    records = _records(stack.s3, RAW, raw_keys)
    assert len(records) == result.accepted
    for record in records:
        received = datetime.fromisoformat(record["server"]["received_ts"])
        assert Hour.containing(received).partition in {h.partition for h in hours}
        assert record["server"]["request_id"].startswith("demo-21-")
        assert "user_id" not in record  # seeded anonymously: no token_for
    # AND every rejected event is in quarantine with its code
    quarantined = _records(stack.s3, QUARANTINE, _keys(stack.s3, QUARANTINE, "quarantine/stage=ingest/received_date=2026-01-14/"))
    assert len(quarantined) == result.rejected
    expected_codes = sorted(code.value for r in expected for code in r.rejections.values())
    assert sorted(q["error_code"] for q in quarantined) == expected_codes


def test_seeding_the_same_hours_again_overwrites_instead_of_adding(stack: Stack) -> None:
    # GIVEN an hour seeded once
    start = START + timedelta(days=1)
    service = build_ingest_service(stack.settings)
    first = seed_range(start, start + timedelta(hours=1), service=service, seed=22, visitors_per_hour=30)
    prefix = f"raw/{Hour(start).partition}/"
    keys = sorted(_keys(stack.s3, RAW, prefix))
    records = _records(stack.s3, RAW, keys)
    # WHEN it is seeded again
    again = seed_range(start, start + timedelta(hours=1), service=service, seed=22, visitors_per_hour=30)
    # THEN the same objects hold the same records: nothing doubled
    assert again == first
    assert sorted(_keys(stack.s3, RAW, prefix)) == keys
    assert _records(stack.s3, RAW, keys) == records


def test_seed_covers_the_completed_hours_before_now_and_signed_in_visits_carry_a_verified_token(
        stack: Stack) -> None:
    # GIVEN ingest with token verification against the local Cognito pool, and a token for the demo user
    resources = stack.resources
    auth = AuthSettings(jwks_url=resources.auth_jwks_url, issuer=resources.auth_issuer,
                        client_ids=(resources.user_pool_client_id,))
    settings = IngestSettings(raw_bucket=RAW, quarantine_bucket=QUARANTINE, auth=auth, aws=stack.settings.aws)
    token = stack.cognito.initiate_auth(
        ClientId=resources.user_pool_client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": resources.demo_user, "PASSWORD": resources.demo_password},
    )["AuthenticationResult"]["AccessToken"]
    user = stack.cognito.admin_get_user(UserPoolId=resources.user_pool_id, Username=resources.demo_user)
    demo_sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    asked: list[str] = []

    def token_for(sub: str) -> str:
        asked.append(sub)
        return token

    # WHEN one day is seeded at 10:42 (every simulated user signs in as the demo user here)
    now = datetime(2026, 1, 20, 10, 42, tzinfo=UTC)
    result = seed(1, now=now, service=build_ingest_service(settings), seed=23, visitors_per_hour=8,
                  token_for=token_for)

    # THEN the hours are the 24 completed ones before now's hour
    assert result.hours and result.hours[-1] == Hour(datetime(2026, 1, 20, 9, tzinfo=UTC))
    assert result.hours[0] >= Hour(datetime(2026, 1, 19, 10, tzinfo=UTC))
    # AND the events of signed-in visits carry the token's user, the others none
    expected = list(generate(datetime(2026, 1, 19, 10, tzinfo=UTC), datetime(2026, 1, 20, 10, tzinfo=UTC),
                             seed=23, visitors_per_hour=8, batching=SEED_BATCHING))
    signed_in = sum(len(r.events) - len(r.rejections) for r in expected if r.signed_in_sub)
    assert signed_in > 0 and len(asked) == len(set(asked))  # one token per user, asked once
    records = _records(stack.s3, RAW, [k for h in result.hours for k in _keys(stack.s3, RAW, f"raw/{h.partition}/")
                                       if "/demo-23-" in k])
    assert len(records) == result.accepted
    users = [record.get("user_id") for record in records]
    assert users.count(demo_sub) == signed_in
    assert set(users) == {demo_sub, None}
    assert json.dumps(records).count("claimed_user_id") == 0
