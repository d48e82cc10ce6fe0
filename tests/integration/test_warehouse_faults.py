"""A load that fails at any point leaves the warehouse as it was, and running the hour again
gives exactly the tables of a clean run: raised errors in process, and a process that dies
(os._exit) in the middle of the transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2.extensions
import pytest

from clickstream.warehouse.db import connect
from clickstream.warehouse.load import FAULT_POINTS, load_hour
from clickstream.warehouse.rollups import refresh
from tests.integration.conftest_warehouse import (
    H_BEFORE,
    H_MAIN,
    checksums,
    create_database,
    database_url,
    drop_database,
    load_and_refresh,
    scalar,
    scenario,
    template_database,
)

pytest_plugins = ["tests.integration.conftest_warehouse"]

ROOT = Path(__file__).resolve().parents[2]
EXIT_CODE = 17

# The child loads the main hour and dies at the named point, mid-transaction.
CHILD = """
import os, sys
from clickstream.warehouse.db import connect
from clickstream.warehouse.load import load_hour
from tests.integration.conftest_warehouse import H_MAIN, scenario

url, point = sys.argv[1], sys.argv[2]  # and the exit code, sys.argv[3]
sc = scenario()
conn = connect(url, application_name="fault-child")

def fault(name):
    if name == point:
        os._exit(int(sys.argv[3]))

load_hour(conn, H_MAIN, "crashing-run", sc.parts[H_MAIN], read_table=sc.store.read,
          quarantine_counts=sc.quarantine[H_MAIN], fault=fault)
"""


class Boom(RuntimeError):
    pass


@pytest.fixture(scope="module")
def clean_run(wh_server) -> dict[str, tuple[int, str]]:
    """Checksums of every table after the hours load and refresh once, without faults."""
    name = create_database(template=template_database())
    conn = connect(database_url(name))
    try:
        load_and_refresh(conn, scenario(), [H_BEFORE, H_MAIN])
        return checksums(conn)
    finally:
        conn.close()
        drop_database(name)


@pytest.fixture
def before_main(wh_conn: psycopg2.extensions.connection) -> Iterator[dict[str, tuple[int, str]]]:
    """The warehouse with the earlier hour loaded; yields its checksums."""
    load_and_refresh(wh_conn, scenario(), [H_BEFORE])
    yield checksums(wh_conn)


def _rerun(conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    load_hour(conn, H_MAIN, f"run-{H_MAIN}", sc.parts[H_MAIN], read_table=sc.store.read,
              quarantine_counts=sc.quarantine[H_MAIN])
    refresh(conn, H_MAIN, f"run-{H_MAIN}")


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_an_error_at_any_point_leaves_nothing_and_a_rerun_is_clean(
        point: str, wh_conn: psycopg2.extensions.connection, before_main, clean_run) -> None:
    sc = scenario()

    def fault(name: str) -> None:
        if name == point:
            raise Boom(name)

    # WHEN the load fails at the point
    with pytest.raises(Boom):
        load_hour(wh_conn, H_MAIN, "failing-run", sc.parts[H_MAIN], read_table=sc.store.read,
                  quarantine_counts=sc.quarantine[H_MAIN], fault=fault)
    # THEN the warehouse is as before, with no staging left behind
    assert checksums(wh_conn) == before_main
    assert scalar(wh_conn, "SELECT count(*) FROM pg_class WHERE relname LIKE 'stage\\_%' AND relpersistence = 't'") == 0
    # AND running the hour again gives the clean run's tables
    _rerun(wh_conn)
    assert checksums(wh_conn) == clean_run


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_process_dying_at_any_point_leaves_nothing_and_a_rerun_is_clean(
        point: str, wh_url: str, wh_conn: psycopg2.extensions.connection, before_main, clean_run) -> None:
    # WHEN a loader process dies at the point, inside its transaction
    child = subprocess.run([sys.executable, "-c", CHILD, wh_url, point, str(EXIT_CODE)], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert child.returncode == EXIT_CODE, child.stderr
    # THEN once the server has seen the connection go, nothing of the load is left
    _wait_for_backend_to_end(wh_conn, "fault-child")
    assert checksums(wh_conn) == before_main
    # AND running the hour again gives the clean run's tables
    _rerun(wh_conn)
    assert checksums(wh_conn) == clean_run


def _wait_for_backend_to_end(conn: psycopg2.extensions.connection, application_name: str) -> None:
    deadline = time.monotonic() + 30
    while scalar(conn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)):
        assert time.monotonic() < deadline, "the dead loader's session is still open"
        time.sleep(0.05)
