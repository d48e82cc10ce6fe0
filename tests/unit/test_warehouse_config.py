"""Where the warehouse is: the URL from settings or from a Secrets Manager secret's JSON."""

from __future__ import annotations

import psycopg2.extensions
import pytest

from clickstream.aws import AwsClients
from clickstream.errors import ConfigurationError
from clickstream.settings import WarehouseSettings
from clickstream.warehouse.db import connect, database_url, describe, url_from_secret


def test_database_url_is_used_as_is_without_touching_aws() -> None:
    # GIVEN a URL and an AWS client factory that would fail if used (no endpoint, no credentials needed)
    settings = WarehouseSettings(database_url="postgresql://u:p@db:5432/w", database_secret_arn="arn:ignored")
    # THEN the URL wins
    assert database_url(settings, AwsClients()) == "postgresql://u:p@db:5432/w"


def test_neither_setting_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        database_url(WarehouseSettings(), AwsClients())


def test_url_from_secret_encodes_every_part() -> None:
    secret = {"host": "db.internal", "port": 5432, "username": "etl user", "password": "p@ss:w/rd?#%",
              "dbname": "click stream"}
    url = url_from_secret(secret)
    assert url == "postgresql://etl%20user:p%40ss%3Aw%2Frd%3F%23%25@db.internal:5432/click%20stream"
    params = psycopg2.extensions.parse_dsn(url)
    assert params["password"] == "p@ss:w/rd?#%"
    assert params["user"] == "etl user"
    assert params["dbname"] == "click stream"


def test_url_from_secret_takes_string_ports_ipv6_and_sslmode() -> None:
    url = url_from_secret({"host": "fd00::5", "port": "6432", "username": "u", "password": "p", "dbname": "d",
                           "sslmode": "require"})
    assert url == "postgresql://u:p@[fd00::5]:6432/d?sslmode=require"


@pytest.mark.parametrize(("secret", "message"), [
    ({"host": "h", "port": 1, "username": "u", "dbname": "d"}, "lacks password"),
    ({"port": 1, "username": "u", "password": "", "dbname": "d"}, "lacks host, password"),
    ({"host": "h", "port": "http", "username": "u", "password": "p", "dbname": "d"}, "not a TCP port"),
])
def test_url_from_secret_names_what_is_missing_never_values(secret: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        url_from_secret(secret)
    assert "secret-value" not in str(caught.value)


def test_describe_hides_the_password() -> None:
    assert describe("postgresql://u:hunter2@db:5433/w") == "u@db:5433/w"


def test_connect_refuses_a_malformed_url_with_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not a valid PostgreSQL URL"):
        connect("postgresql://u@h:notaport/db?bogus_option=1")
