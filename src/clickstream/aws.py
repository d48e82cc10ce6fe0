"""The one factory for AWS clients.

Endpoints come from `AwsSettings` (the standard `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>` variables), which is how the same code talks to moto locally
and to AWS in production without local-only branches.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from clickstream.settings import AwsSettings

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=32,
)


class AwsClients:
    """Builds each client once per (service) and reuses it; clients are thread-safe."""

    def __init__(self, settings: AwsSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        self.settings = settings or AwsSettings()
        self._session = boto3_session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                session = self._session or boto3.session.Session()
                self._clients[service] = session.client(
                    service,
                    region_name=self.settings.region,
                    endpoint_url=self.settings.endpoint_for(service),
                    config=_CLIENT_CONFIG,
                )
            return self._clients[service]

    def s3(self) -> Any:
        return self.client("s3")
