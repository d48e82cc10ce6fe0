"""Where the warehouse is and how to talk to it.

`database_url` turns the settings into a PostgreSQL URL: `DATABASE_URL` as given (local,
CI), or the Secrets Manager secret at `DATABASE_SECRET_ARN` (AWS), which holds
`{host, port, username, password, dbname}` like an RDS-managed secret. `connect` opens a
psycopg2 connection with the timeouts an unattended Lambda task needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote

import psycopg2
import psycopg2.extensions
from botocore.exceptions import BotoCoreError, ClientError

from clickstream.aws import AwsClients
from clickstream.errors import ConfigurationError
from clickstream.settings import Env, WarehouseSettings
from clickstream.warehouse.errors import WarehouseError, WarehouseUnavailable

APPLICATION_NAME = "clickstream"
CONNECT_TIMEOUT_S = 10
# Long enough for the merge of a very large hour (its longest statement, merge_events, took
# about 9 s for a 1 M-event hour in the benchmark), short
# enough that a statement left behind by a dead Lambda does not hold locks for long.
STATEMENT_TIMEOUT_S = 300
# A task that died inside a transaction (frozen or killed Lambda) must not keep its locks.
IDLE_IN_TRANSACTION_TIMEOUT_S = 300

# Advisory-lock keys (pg_advisory_*lock(int, int)): one namespace for this application.
LOCK_NAMESPACE = 0x436C6B73
LOCK_MIGRATE = 1  # one migrator at a time
LOCK_MERGE = 2  # one merge into events at a time: exact duplicate counts, no deadlocks
LOCK_REFRESH = 3  # one rollup rebuild at a time: two rebuilding the same day would double it
LOCK_LOAD_HOUR_NAMESPACE = LOCK_NAMESPACE + 1  # (this, hours since 1970): one load per hour at a time

SECRET_KEYS = ("host", "port", "username", "password", "dbname")

# Secrets Manager answers that a retry cannot fix: the setting or the IAM policy is wrong.
_SECRET_CONFIG_ERRORS = {
    "ResourceNotFoundException": "does not exist (check DATABASE_SECRET_ARN)",
    "AccessDeniedException": "cannot be read by this role (grant secretsmanager:GetSecretValue on it)",
    "DecryptionFailure": "cannot be decrypted (grant kms:Decrypt on its key)",
    "InvalidRequestException": "cannot be read now (is it scheduled for deletion?)",
    "InvalidParameterException": "is not a valid secret id",
}


def database_url(settings: WarehouseSettings, aws: AwsClients) -> str:
    """The warehouse's URL: `DATABASE_URL` as is, else built from the secret at `DATABASE_SECRET_ARN`."""
    if settings.database_url:
        return settings.database_url
    arn = settings.database_secret_arn
    if not arn:
        raise ConfigurationError(
            f"neither {Env.DATABASE_URL} nor {Env.DATABASE_SECRET_ARN} is set: set one of them "
            "(see WarehouseSettings)."
        )
    try:
        answer = aws.client("secretsmanager").get_secret_value(SecretId=arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _SECRET_CONFIG_ERRORS:
            raise ConfigurationError(
                f"the warehouse secret {arn} ({Env.DATABASE_SECRET_ARN}) {_SECRET_CONFIG_ERRORS[code]}: {code}."
            ) from None
        raise WarehouseUnavailable(f"Secrets Manager did not return the warehouse secret {arn}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise WarehouseUnavailable(f"Secrets Manager could not be reached for the warehouse secret {arn}: {exc}") from exc
    text = answer.get("SecretString")
    if text is None:
        raise ConfigurationError(
            f"the warehouse secret {arn} is binary: store it as a JSON string with keys {', '.join(SECRET_KEYS)}."
        )
    try:
        secret = json.loads(text)
    except json.JSONDecodeError:
        secret = None
    if not isinstance(secret, dict):
        raise ConfigurationError(
            f"the warehouse secret {arn} is not a JSON object: it must hold {', '.join(SECRET_KEYS)}."
        )
    return url_from_secret(secret, source=arn)


def url_from_secret(secret: Mapping[str, Any], *, source: str = "the warehouse secret") -> str:
    """A PostgreSQL URL from `{host, port, username, password, dbname[, sslmode]}`.

    Every part is percent-encoded, so passwords with `@`, `/` or `:` survive. Error messages
    name missing keys, never values.
    """
    missing = [key for key in SECRET_KEYS if secret.get(key) in (None, "")]
    if missing:
        raise ConfigurationError(
            f"{source} lacks {', '.join(missing)}: it must be a JSON object with {', '.join(SECRET_KEYS)}."
        )
    port = str(secret["port"]).strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"{source} has port {port!r}, which is not a TCP port number.")
    host = str(secret["host"]).strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    url = (
        f"postgresql://{quote(str(secret['username']), safe='')}:{quote(str(secret['password']), safe='')}"
        f"@{host}:{port}/{quote(str(secret['dbname']), safe='')}"
    )
    if secret.get("sslmode"):
        url += f"?sslmode={quote(str(secret['sslmode']), safe='')}"
    return url


def describe(url: str) -> str:
    """user@host:port/dbname of a URL, without the password, for messages."""
    try:
        params = psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError:
        return "<unparseable DATABASE_URL>"
    return f"{params.get('user', '')}@{params.get('host', '')}:{params.get('port', '5432')}/{params.get('dbname', '')}"


def connect(
    url: str,
    *,
    application_name: str = APPLICATION_NAME,
    statement_timeout_s: int = STATEMENT_TIMEOUT_S,
) -> psycopg2.extensions.connection:
    """A psycopg2 connection (not autocommit) with connect, statement and idle-in-transaction
    timeouts, TCP keepalives and the UTC time zone.

    Connection failures raise `WarehouseUnavailable` (a `TransientError`, so the state
    machine retries them); a malformed URL raises `ConfigurationError`.
    """
    try:
        params = psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError as exc:
        raise ConfigurationError(
            f"the warehouse URL is not a valid PostgreSQL URL ({exc}). "
            f"Set {Env.DATABASE_URL} to postgresql://user:password@host:port/dbname."
        ) from None
    options = " ".join(
        part
        for part in (
            params.get("options", ""),
            f"-c statement_timeout={int(statement_timeout_s * 1000)}",
            f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_S * 1000}",
            # Dates of timestamptz values depend on the session time zone; ours is UTC.
            "-c timezone=UTC",
        )
        if part
    )
    params.update(options=options)
    params.setdefault("application_name", application_name)
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    for key, value in (("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"),
                       ("keepalives_count", "3")):
        params.setdefault(key, value)
    try:
        return psycopg2.connect(**params)
    except psycopg2.OperationalError as exc:
        raise WarehouseUnavailable(f"could not connect to the warehouse {describe(url)}: {str(exc).strip()}") from exc


@contextmanager
def transaction(conn: psycopg2.extensions.connection) -> Iterator[psycopg2.extensions.cursor]:
    """One transaction on `conn`: commit when the block ends, roll back when it raises.

    Refuses a connection that is already inside a transaction, because committing here would
    also commit the caller's unfinished work.
    """
    if conn.closed:
        raise WarehouseError("the warehouse connection is closed")
    if conn.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        raise WarehouseError(
            "the warehouse connection is inside a transaction: commit or roll it back before calling the warehouse"
        )
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        if not conn.closed:
            # If the connection broke, the server rolls back on its own, and the first error matters.
            with suppress(psycopg2.Error):
                conn.rollback()
        raise
    finally:
        if not conn.closed:
            conn.autocommit = autocommit
