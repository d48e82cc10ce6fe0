"""Integration fixtures: a moto server and the local API front on free ports, the real handler behind it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from clickstream.local.aws import LocalAws, LocalResources, ingest_environment
from clickstream.local.front import LocalApiFront
from tests.support import free_port

SHOP_ORIGIN = "https://shop.example"


@dataclass
class IngestApi:
    url: str
    resources: LocalResources
    s3: Any
    cognito: Any
    front: LocalApiFront

    def post(self, body: bytes | str | dict | None = None, *, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> requests.Response:
        import json

        data = json.dumps(body) if isinstance(body, dict) else body
        return requests.post(f"{self.url}/v1/events", data=data,
                             headers={"content-type": content_type, **(headers or {})}, timeout=30)

    def access_token(self) -> tuple[str, str]:
        """A real Cognito access token for the demo user, and the user's sub."""
        auth = self.cognito.initiate_auth(
            ClientId=self.resources.user_pool_client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": self.resources.demo_user, "PASSWORD": self.resources.demo_password},
        )["AuthenticationResult"]
        user = self.cognito.admin_get_user(UserPoolId=self.resources.user_pool_id, Username=self.resources.demo_user)
        sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        return auth["AccessToken"], sub


@pytest.fixture(scope="session")
def local_aws() -> Iterator[tuple[LocalAws, LocalResources]]:
    aws = LocalAws(port=free_port())
    aws.start()
    try:
        yield aws, aws.provision(prefix="it")
    finally:
        aws.stop()


@pytest.fixture(scope="session")
def ingest_api(local_aws: tuple[LocalAws, LocalResources]) -> Iterator[IngestApi]:
    aws, resources = local_aws
    saved = dict(os.environ)
    os.environ.update(ingest_environment(resources, cors_allow_origins=SHOP_ORIGIN))
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    from tasks import ingest

    # The handler reads its settings once per process; this session's environment is the one.
    for cached in (ingest._settings, ingest._service, ingest._app):
        cached.cache_clear()
    front = LocalApiFront(ingest.lambda_handler, port=free_port())
    front.start()
    clients = aws.clients()
    try:
        yield IngestApi(front.url, resources, clients.s3(), clients.client("cognito-idp"), front)
    finally:
        front.stop()
        os.environ.clear()
        os.environ.update(saved)
