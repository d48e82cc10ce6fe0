"""`clickstream local up --detach / status / down` as a user runs them, in a subprocess on free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg2
import pytest
import requests

from tests.support import free_port, keys_for_request, make_event

CLI = str(Path(sys.executable).parent / "clickstream")


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_URL"))},
        "CLICKSTREAM_HOME": str(tmp_path / "home"),
        "LOCAL_AWS_PORT": str(free_port()),
        "LOCAL_API_PORT": str(free_port()),
        "LOCAL_PG_PORT": str(free_port()),
        "LOCAL_SHOP_PORT": str(free_port()),
        "LOCAL_DASHBOARD_PORT": str(free_port()),
    }


def _cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_up_detached_serves_ingest_then_down_stops_everything(cli_env: dict[str, str]) -> None:
    # GIVEN a stack started in the background
    started = _cli(cli_env, "local", "up", "--detach")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = _cli(cli_env, "local", "status", "--json")
        assert status.returncode == 0
        state = json.loads(status.stdout)
        for key in ("api_url", "aws_endpoint_url", "database_url", "raw_bucket", "quarantine_bucket",
                    "processed_bucket"):
            assert state[key], key
        assert state["running"] is True

        # WHEN a batch is posted to its API
        event = make_event()
        response = requests.post(f"{state['api_url']}/v1/events", json={"events": [event, {"bad": 1}]}, timeout=10)

        # THEN the valid event is in the raw bucket and the bad one in quarantine, in the local AWS
        assert response.status_code == 200, response.text
        request_id = response.json()["request_id"]
        s3 = boto3.client("s3", endpoint_url=state["aws_endpoint_url"], region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        assert len(keys_for_request(s3, state["raw_bucket"], request_id)) == 1
        assert len(keys_for_request(s3, state["quarantine_bucket"], request_id)) == 1

        # AND the warehouse answers
        with psycopg2.connect(state["database_url"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert cur.fetchone() == ("clickstream",)

        # AND a second `up` refuses to start over the first
        again = _cli(cli_env, "local", "up", "--detach")
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        stopped = _cli(cli_env, "local", "down")

    # THEN down stops it all: no state, no API, no database
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _cli(cli_env, "local", "status", "--json").returncode == 1
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{state['api_url']}/v1/health", timeout=2)
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(state["database_url"], connect_timeout=2)


def test_status_when_nothing_runs(cli_env: dict[str, str]) -> None:
    result = _cli(cli_env, "local", "status")
    assert result.returncode == 1
    assert "clickstream local up" in result.stdout
