"""Settings, read once from the environment into frozen objects.

Every environment variable the code reads is named here, once. A missing or malformed
value fails at start with a `ConfigurationError` naming the variable and saying how to
fix it; nothing reads `os.environ` anywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clickstream.errors import ConfigurationError


class Env:
    """Names of the environment variables (the contract with Terraform and the local runtime)."""

    AWS_REGION = "AWS_REGION"
    AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
    AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
    # Per-service overrides follow boto3's convention: AWS_ENDPOINT_URL_<SERVICE_ID>.
    AWS_ENDPOINT_URL_PREFIX = "AWS_ENDPOINT_URL_"

    RAW_BUCKET = "RAW_BUCKET"
    QUARANTINE_BUCKET = "QUARANTINE_BUCKET"
    PROCESSED_BUCKET = "PROCESSED_BUCKET"

    CORS_ALLOW_ORIGINS = "CORS_ALLOW_ORIGINS"
    AUTH_JWKS_URL = "AUTH_JWKS_URL"
    AUTH_ISSUER = "AUTH_ISSUER"
    AUTH_CLIENT_IDS = "AUTH_CLIENT_IDS"
    AUTH_TOKEN_USE = "AUTH_TOKEN_USE"

    DATABASE_URL = "DATABASE_URL"
    # On AWS the warehouse credentials live in Secrets Manager, never in plain variables.
    DATABASE_SECRET_ARN = "DATABASE_SECRET_ARN"
    # Optional: a folder of expectation suites replacing the shipped quality/ (a team's own rules).
    QUALITY_SUITES_DIR = "QUALITY_SUITES_DIR"
    # Chaos testing: make LoadWarehouse fail at a named point (before_copy, after_copy,
    # after_merge, before_commit) to prove a crashed load leaves nothing and a re-run recovers.
    FAULT_INJECTION = "FAULT_INJECTION"
    STATE_MACHINE_ARN = "STATE_MACHINE_ARN"

    # The local runtime only.
    CLICKSTREAM_HOME = "CLICKSTREAM_HOME"
    LOCAL_AWS_PORT = "LOCAL_AWS_PORT"
    LOCAL_API_PORT = "LOCAL_API_PORT"
    LOCAL_SHOP_PORT = "LOCAL_SHOP_PORT"
    LOCAL_DASHBOARD_PORT = "LOCAL_DASHBOARD_PORT"
    LOCAL_PG_PORT = "LOCAL_PG_PORT"


Environ = Mapping[str, str]


def _require(env: Environ, name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(
            f"environment variable {name} is not set: it must hold {what}. "
            f"Set it (Terraform sets it on AWS; `clickstream local up` sets it locally)."
        )
    return value


def _optional(env: Environ, name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _port(env: Environ, name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigurationError(f"{name}={text!r} is not a TCP port number (1-65535).")
    return int(text)


def _csv(env: Environ, name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


@dataclass(frozen=True)
class AwsSettings:
    """Region and endpoint overrides. Endpoints are empty on AWS and point at moto locally."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    service_endpoints: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Environ | None = None) -> AwsSettings:
        env = os.environ if env is None else env
        region = _optional(env, Env.AWS_REGION) or _optional(env, Env.AWS_DEFAULT_REGION) or "us-east-1"
        overrides = {
            key[len(Env.AWS_ENDPOINT_URL_PREFIX) :].lower(): value
            for key, value in env.items()
            if key.startswith(Env.AWS_ENDPOINT_URL_PREFIX) and value.strip()
        }
        return cls(region=region, endpoint_url=_optional(env, Env.AWS_ENDPOINT_URL), service_endpoints=overrides)

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint for a service (boto3 service id, e.g. "s3"), or None for AWS's own."""
        key = service.replace("-", "_").lower()
        return self.service_endpoints.get(key) or self.endpoint_url


@dataclass(frozen=True)
class AuthSettings:
    """Cognito (or any OIDC) access-token verification; disabled when no JWKS URL is set."""

    jwks_url: str | None = None
    issuer: str | None = None
    client_ids: tuple[str, ...] = ()
    token_use: str = "access"

    @property
    def enabled(self) -> bool:
        return self.jwks_url is not None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> AuthSettings:
        env = os.environ if env is None else env
        jwks_url = _optional(env, Env.AUTH_JWKS_URL)
        if jwks_url is None:
            return cls()
        token_use = _optional(env, Env.AUTH_TOKEN_USE) or "access"
        if token_use not in ("access", "id"):
            raise ConfigurationError(f"{Env.AUTH_TOKEN_USE} must be 'access' or 'id', not {token_use!r}.")
        client_ids = _csv(env, Env.AUTH_CLIENT_IDS)
        if not client_ids:
            raise ConfigurationError(
                f"environment variable {Env.AUTH_CLIENT_IDS} is not set: with {Env.AUTH_JWKS_URL} set it must "
                "list the Cognito app client ids whose tokens are accepted (comma separated)."
            )
        return cls(
            jwks_url=jwks_url,
            issuer=_require(env, Env.AUTH_ISSUER, "the expected token issuer (https://cognito-idp.<region>.amazonaws.com/<pool id>)"),
            client_ids=client_ids,
            token_use=token_use,
        )


@dataclass(frozen=True)
class IngestSettings:
    """What the ingest Lambda needs."""

    raw_bucket: str
    quarantine_bucket: str
    cors_allow_origins: tuple[str, ...] = ()
    auth: AuthSettings = field(default_factory=AuthSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)

    @classmethod
    def from_env(cls, env: Environ | None = None) -> IngestSettings:
        env = os.environ if env is None else env
        return cls(
            raw_bucket=_require(env, Env.RAW_BUCKET, "the S3 bucket that keeps accepted raw events"),
            quarantine_bucket=_require(env, Env.QUARANTINE_BUCKET, "the S3 bucket that keeps rejected events"),
            cors_allow_origins=_csv(env, Env.CORS_ALLOW_ORIGINS),
            auth=AuthSettings.from_env(env),
            aws=AwsSettings.from_env(env),
        )


@dataclass(frozen=True)
class WarehouseSettings:
    """Where the warehouse is: a URL (local, CI) or a Secrets Manager secret (AWS)."""

    database_url: str | None = None
    database_secret_arn: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> WarehouseSettings:
        env = os.environ if env is None else env
        url, secret = _optional(env, Env.DATABASE_URL), _optional(env, Env.DATABASE_SECRET_ARN)
        if not url and not secret:
            raise ConfigurationError(
                f"neither {Env.DATABASE_URL} nor {Env.DATABASE_SECRET_ARN} is set: set {Env.DATABASE_URL} to a "
                f"PostgreSQL URL (postgresql://user@host:port/db), or {Env.DATABASE_SECRET_ARN} to a Secrets Manager "
                "secret holding host, port, username, password and dbname."
            )
        return cls(database_url=url, database_secret_arn=secret)


@dataclass(frozen=True)
class DashboardSettings:
    """What the dashboard needs: the warehouse (as WarehouseSettings reads it) and, for a
    DATABASE_SECRET_ARN, the AWS region and endpoints to fetch the secret with."""

    warehouse: WarehouseSettings
    aws: AwsSettings = field(default_factory=AwsSettings)

    @classmethod
    def from_env(cls, env: Environ | None = None) -> DashboardSettings:
        env = os.environ if env is None else env
        return cls(warehouse=WarehouseSettings.from_env(env), aws=AwsSettings.from_env(env))


@dataclass(frozen=True)
class EtlSettings:
    """What the hourly ETL tasks need."""

    raw_bucket: str
    processed_bucket: str
    quarantine_bucket: str
    warehouse: WarehouseSettings
    aws: AwsSettings = field(default_factory=AwsSettings)
    quality_suites_dir: Path | None = None
    fault_injection: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> EtlSettings:
        env = os.environ if env is None else env
        return cls(
            raw_bucket=_require(env, Env.RAW_BUCKET, "the S3 bucket that keeps accepted raw events"),
            processed_bucket=_require(env, Env.PROCESSED_BUCKET, "the S3 bucket of the processed Parquet layer"),
            quarantine_bucket=_require(env, Env.QUARANTINE_BUCKET, "the S3 bucket that keeps rejected events"),
            warehouse=WarehouseSettings.from_env(env),
            aws=AwsSettings.from_env(env),
            quality_suites_dir=_existing_dir(env, Env.QUALITY_SUITES_DIR),
            fault_injection=_optional(env, Env.FAULT_INJECTION),
        )


def _existing_dir(env: Environ, name: str) -> Path | None:
    text = _optional(env, name)
    if text is None:
        return None
    path = Path(text)
    if not path.is_dir():
        raise ConfigurationError(f"{name}={text!r} is not a folder: point it at a folder of expectation suites.")
    return path


@dataclass(frozen=True)
class LocalSettings:
    """Where the local runtime keeps its state and which loopback ports it serves on."""

    home: Path
    aws_port: int = 4566
    api_port: int = 8080
    shop_port: int = 8081
    dashboard_port: int = 8000
    pg_port: int = 54320
    database_url: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> LocalSettings:
        env = os.environ if env is None else env
        return cls(
            home=Path(_optional(env, Env.CLICKSTREAM_HOME) or ".local").resolve(),
            aws_port=_port(env, Env.LOCAL_AWS_PORT, cls.aws_port),
            api_port=_port(env, Env.LOCAL_API_PORT, cls.api_port),
            shop_port=_port(env, Env.LOCAL_SHOP_PORT, cls.shop_port),
            dashboard_port=_port(env, Env.LOCAL_DASHBOARD_PORT, cls.dashboard_port),
            pg_port=_port(env, Env.LOCAL_PG_PORT, cls.pg_port),
            database_url=_optional(env, Env.DATABASE_URL),
        )

    @property
    def shop_origins(self) -> tuple[str, ...]:
        return (f"http://127.0.0.1:{self.shop_port}", f"http://localhost:{self.shop_port}")
