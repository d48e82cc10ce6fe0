"""Local AWS: a moto server in this process, and the resources the stack needs created in it."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import boto3
import requests

from clickstream.aws import AwsClients
from clickstream.settings import AwsSettings, Env

LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
DEMO_USER = "demo@example.com"
DEMO_PASSWORD = "Demo-password-1"


@dataclass(frozen=True)
class LocalResources:
    """What `provision` created; the same names Terraform outputs on AWS."""

    aws_endpoint_url: str
    region: str
    raw_bucket: str
    processed_bucket: str
    quarantine_bucket: str
    alerts_topic_arn: str
    user_pool_id: str
    user_pool_client_id: str
    auth_issuer: str
    auth_jwks_url: str
    demo_user: str
    demo_password: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cache_moto_module_list() -> None:
    """Let moto's server list its own package directory once instead of on every request.

    moto 5.2's `DomainDispatcherApplication.get_backend_for_host` calls
    `moto.backends.list_of_moto_modules()` twice per request, and that lists moto's package
    directory and stats each of its ~180 entries: about half of the server's CPU for an S3
    GetObject (0.9 of 1.9 ms here). The directory cannot change while the process runs, so
    the answer is computed once. Idempotent; `tests/integration/test_local_aws.py` guards
    the seam and the answer."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_clickstream_cached", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def cached() -> tuple[str, ...]:
        return modules

    cached._clickstream_cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = cached


class LocalAws:
    """A moto server on 127.0.0.1. Its backends live in this process, which is what lets the
    local Step Functions engine run our Lambda handlers in process."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> str:
        from moto.server import ThreadedMotoServer  # the local extra only

        for key, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        # moto's Step Functions engine calls other services (Lambda, SNS) at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        cache_moto_module_list()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                requests.get(f"{self.endpoint_url}/moto-api/", timeout=1)
                return self.endpoint_url
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def clients(self) -> AwsClients:
        return local_clients(self.endpoint_url)

    def provision(self, *, prefix: str = "clickstream") -> LocalResources:
        """Create (idempotently) the buckets, alert topic, and Cognito pool with a demo user."""
        aws = self.clients()
        s3 = aws.s3()
        buckets = {layer: f"{prefix}-{layer}" for layer in ("raw", "processed", "quarantine")}
        for bucket in buckets.values():
            s3.create_bucket(Bucket=bucket)
        topic_arn = aws.client("sns").create_topic(Name=f"{prefix}-alerts")["TopicArn"]
        pool_id, client_id = _cognito_pool(aws.client("cognito-idp"), prefix)
        return LocalResources(
            aws_endpoint_url=self.endpoint_url,
            region=LOCAL_REGION,
            raw_bucket=buckets["raw"],
            processed_bucket=buckets["processed"],
            quarantine_bucket=buckets["quarantine"],
            alerts_topic_arn=topic_arn,
            user_pool_id=pool_id,
            user_pool_client_id=client_id,
            # moto signs tokens with AWS's issuer but serves the keys at its own endpoint.
            auth_issuer=f"https://cognito-idp.{LOCAL_REGION}.amazonaws.com/{pool_id}",
            auth_jwks_url=f"{self.endpoint_url}/{pool_id}/.well-known/jwks.json",
            demo_user=DEMO_USER,
            demo_password=DEMO_PASSWORD,
        )


def local_clients(endpoint_url: str, region: str = LOCAL_REGION) -> AwsClients:
    """Clients for the local AWS, with its dummy credentials whatever the shell has set."""
    session = boto3.session.Session(aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                    region_name=region)
    return AwsClients(AwsSettings(region=region, endpoint_url=endpoint_url), boto3_session=session)


def service_role(aws: AwsClients, name: str, service: str) -> str:
    """The ARN of a role `service` (e.g. lambda.amazonaws.com) may assume, created if missing."""
    iam = aws.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }))["Role"]["Arn"]


def _cognito_pool(cognito: Any, prefix: str) -> tuple[str, str]:
    pool_name = f"{prefix}-users"
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == pool_name), None)
    if pool_id is None:
        pool_id = cognito.create_user_pool(PoolName=pool_name, UsernameAttributes=["email"])["UserPool"]["Id"]
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == f"{prefix}-web"), None)
    if client_id is None:
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=f"{prefix}-web",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
    try:
        cognito.admin_get_user(UserPoolId=pool_id, Username=DEMO_USER)
    except cognito.exceptions.UserNotFoundException:
        cognito.admin_create_user(
            UserPoolId=pool_id, Username=DEMO_USER, MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": DEMO_USER}, {"Name": "email_verified", "Value": "true"}],
        )
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=DEMO_USER, Password=DEMO_PASSWORD, Permanent=True)
    return pool_id, client_id


def ingest_environment(resources: LocalResources, *, cors_allow_origins: str) -> dict[str, str]:
    """The environment the ingest Lambda gets: the same variables Terraform sets on AWS."""
    return {
        **LOCAL_CREDENTIALS,
        Env.AWS_REGION: resources.region,
        Env.AWS_DEFAULT_REGION: resources.region,
        Env.AWS_ENDPOINT_URL: resources.aws_endpoint_url,
        Env.RAW_BUCKET: resources.raw_bucket,
        Env.PROCESSED_BUCKET: resources.processed_bucket,
        Env.QUARANTINE_BUCKET: resources.quarantine_bucket,
        Env.CORS_ALLOW_ORIGINS: cors_allow_origins,
        Env.AUTH_JWKS_URL: resources.auth_jwks_url,
        Env.AUTH_ISSUER: resources.auth_issuer,
        Env.AUTH_CLIENT_IDS: resources.user_pool_client_id,
        Env.AUTH_TOKEN_USE: "access",
    }


def ingest_environment_from_state(state: dict[str, Any]) -> dict[str, str]:
    """The ingest environment of a running local stack, for tools started outside it (demo seed)."""
    fields = {f: state[f] for f in LocalResources.__dataclass_fields__}
    return ingest_environment(LocalResources(**fields), cors_allow_origins="")
