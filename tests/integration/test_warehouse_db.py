"""Connections: timeouts and time zone as set, clear errors when PostgreSQL is unreachable,
and the URL read from a Secrets Manager secret (moto server)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest

from clickstream.errors import ConfigurationError, TransientError
from clickstream.local.aws import LocalAws, LocalResources
from clickstream.settings import WarehouseSettings
from clickstream.warehouse.db import connect, database_url, transaction
from clickstream.warehouse.errors import WarehouseError, WarehouseUnavailable
from tests.integration.conftest_warehouse import Server, admin_url
from tests.support import free_port

pytest_plugins = ["tests.integration.conftest_warehouse"]


def test_connect_sets_name_timeouts_and_utc(wh_server: Server) -> None:
    conn = connect(admin_url())
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('application_name'), current_setting('statement_timeout'), "
                        "current_setting('idle_in_transaction_session_timeout'), current_setting('TimeZone')")
            assert cur.fetchone() == ("clickstream", "5min", "5min", "UTC")
        assert conn.autocommit is False
    finally:
        conn.close()


def test_statement_timeout_cancels_long_statements(wh_server: Server) -> None:
    conn = connect(admin_url(), statement_timeout_s=1)
    try:
        with pytest.raises(psycopg2.errors.QueryCanceled), conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(3)")
    finally:
        conn.close()


def test_options_in_the_url_are_kept(wh_server: Server) -> None:
    conn = connect(admin_url() + "?options=-c%20work_mem%3D7MB&application_name=dashboard")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('work_mem'), current_setting('application_name')")
            assert cur.fetchone() == ("7MB", "dashboard")
    finally:
        conn.close()


def test_unreachable_server_is_a_transient_error_without_the_password() -> None:
    with pytest.raises(WarehouseUnavailable) as caught:
        connect(f"postgresql://etl:hunter2@127.0.0.1:{free_port()}/warehouse")
    assert isinstance(caught.value, TransientError)
    assert "etl@127.0.0.1" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_transaction_refuses_a_connection_inside_a_transaction(wh_server: Server) -> None:
    conn = connect(admin_url())
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        with pytest.raises(WarehouseError, match="inside a transaction"), transaction(conn):
            pass
    finally:
        conn.close()


@pytest.fixture
def secrets(local_aws: tuple[LocalAws, LocalResources]) -> Iterator[tuple[object, object]]:
    aws, _ = local_aws
    clients = aws.clients()
    yield clients, clients.client("secretsmanager")


def test_database_url_from_a_secret_connects(wh_server: Server, secrets) -> None:
    # GIVEN the warehouse's credentials in a secret, as Terraform stores them
    clients, sm = secrets
    host = psycopg2.extensions.parse_dsn(admin_url())["host"]
    arn = sm.create_secret(Name="warehouse-it", SecretString=json.dumps({
        "host": host, "port": wh_server.port, "username": "postgres", "password": "p@ss/word",
        "dbname": "postgres", "engine": "postgres"}))["ARN"]
    # WHEN the URL is resolved from DATABASE_SECRET_ARN alone
    url = database_url(WarehouseSettings(database_secret_arn=arn), clients)
    # THEN it names the server, and connecting with it works (the local server trusts any password)
    assert url == f"postgresql://postgres:p%40ss%2Fword@{host}:{wh_server.port}/postgres"
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_missing_or_malformed_secrets_are_configuration_errors(secrets) -> None:
    clients, sm = secrets
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    with pytest.raises(ConfigurationError, match="does not exist"):
        database_url(WarehouseSettings(database_secret_arn=missing), clients)
    not_json = sm.create_secret(Name="warehouse-not-json", SecretString="host=db")["ARN"]
    with pytest.raises(ConfigurationError, match="not a JSON object"):
        database_url(WarehouseSettings(database_secret_arn=not_json), clients)
    partial = sm.create_secret(Name="warehouse-partial", SecretString=json.dumps({"host": "db", "port": 5432}))["ARN"]
    with pytest.raises(ConfigurationError, match="lacks username, password, dbname"):
        database_url(WarehouseSettings(database_secret_arn=partial), clients)
