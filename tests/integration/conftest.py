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


@pytest.fixture(scope="session")
def warehouse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 16 (embedded) on a free port, for the whole session."""
    from clickstream.local.postgres import EmbeddedPostgres

    postgres = EmbeddedPostgres(data_dir=tmp_path_factory.mktemp("warehouse"), port=free_port())
    url = postgres.start()
    try:
        yield url
    finally:
        postgres.stop()


@dataclass
class EtlStack:
    api: IngestApi
    control: Any
    database_url: str
    alerts_queue_url: str
    sqs: Any

    def send(self, events: list[dict], *, received_at: Any, user_agent: str = "Mozilla/5.0 (Windows NT 10.0; "
             "Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36") -> dict:
        """POST a batch through the real ingest handler, as API Gateway would deliver it at `received_at`."""
        import json

        from clickstream.local.front import build_event

        body = json.dumps({"events": events}).encode()
        event = build_event("POST", "/v1/events", {"content-type": "application/json", "user-agent": user_agent},
                            body, "203.0.113.7")
        event["requestContext"]["timeEpoch"] = int(received_at.timestamp() * 1000)
        result = self.api.front.invoke(event)
        return {"status": result["statusCode"], **json.loads(result["body"])}

    def alerts(self) -> list[dict]:
        import json

        received = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.alerts_queue_url, WaitTimeSeconds=1,
                                                MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.alerts_queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="session")
def etl_stack(ingest_api: IngestApi, local_aws: tuple[LocalAws, LocalResources], warehouse_url: str) -> EtlStack:
    """The real state machine in moto's engine, running the real task handlers in process."""
    from clickstream.etl.control import EtlControl
    from clickstream.etl.pipeline import deps_from_env
    from clickstream.local.etl import deploy_state_machine, subscribe_queue
    from clickstream.local.lambdas import install_in_process_invoke, register_functions

    aws, resources = local_aws
    os.environ["DATABASE_URL"] = warehouse_url  # restored by ingest_api's teardown
    deps_from_env.cache_clear()
    install_in_process_invoke()
    clients = aws.clients()
    arns = register_functions(clients, dict(os.environ), prefix="it")
    state_machine_arn = deploy_state_machine(clients, arns, resources.alerts_topic_arn)
    queue_url = subscribe_queue(clients, resources.alerts_topic_arn, "it-alerts")
    return EtlStack(ingest_api, EtlControl(clients.client("stepfunctions"), state_machine_arn), warehouse_url,
                    queue_url, clients.client("sqs"))
