"""Migrations: applied once, in order, recorded; re-running is a no-op; edited or missing files
are refused; a failing file leaves nothing; concurrent callers apply each file once; and the
tables the load writes have exactly the processed layer's columns."""

from __future__ import annotations

import shutil
import threading
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pytest

from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.warehouse.db import connect
from clickstream.warehouse.errors import MigrationError
from clickstream.warehouse.migrate import discover, migrate
from tests.integration.conftest_warehouse import rows, scalar

# The PostgreSQL type that holds each Arrow type (what ADBC's binary COPY would write, too).
PG_TYPE = {
    pa.string(): "text",
    pa.timestamp("ms", tz="UTC"): "timestamp with time zone",
    pa.date32(): "date",
    pa.int8(): "smallint",
    pa.int16(): "smallint",
    pa.int32(): "integer",
    pa.int64(): "bigint",
    pa.float64(): "double precision",
    pa.bool_(): "boolean",
}

pytest_plugins = ["tests.integration.conftest_warehouse"]


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    with resources.as_file(resources.files("clickstream.warehouse").joinpath("migrations")) as source:
        shutil.copytree(source, target)
    return target


def test_migrations_apply_once_in_order_and_are_recorded(wh_empty_url: str) -> None:
    conn = connect(wh_empty_url)
    try:
        # WHEN migrating an empty database
        applied = migrate(conn)
        # THEN every file is applied, in order, and recorded with its checksum
        expected = discover()
        assert applied == [m.name for m in expected]
        recorded = rows(conn, "schema_migrations", "version")
        assert [(r["version"], r["name"], r["checksum"]) for r in recorded] == \
               [(m.version, m.name, m.checksum) for m in expected]
        assert all(r["applied_at"] is not None for r in recorded)
        # AND running it again applies nothing and changes nothing
        assert migrate(conn) == []
        assert rows(conn, "schema_migrations", "version") == recorded
    finally:
        conn.close()


@pytest.mark.parametrize(("table", "schema"), [("events", EVENTS_SCHEMA), ("event_items", ITEMS_SCHEMA)])
def test_loaded_tables_have_the_processed_columns_in_order(wh_empty_url: str, table: str,
                                                           schema: pa.Schema) -> None:
    conn = connect(wh_empty_url)
    try:
        migrate(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", (table,))
            columns = cur.fetchall()
        assert columns == [(f.name, PG_TYPE[f.type], "YES" if f.nullable else "NO") for f in schema]
    finally:
        conn.close()


def test_an_applied_file_that_changed_is_refused(wh_empty_url: str, migrations_copy: Path) -> None:
    conn = connect(wh_empty_url)
    try:
        # GIVEN a database migrated from these files
        migrate(conn, directory=migrations_copy)
        before = rows(conn, "schema_migrations", "version")
        # WHEN an applied file is edited
        edited = sorted(migrations_copy.glob("002_*.sql"))[0]
        edited.write_text(edited.read_text() + "\nCREATE TABLE sneaky (x int);\n")
        # THEN migrating refuses, naming the file, and changes nothing
        with pytest.raises(MigrationError, match=f"{edited.stem}.sql changed after it was applied"):
            migrate(conn, directory=migrations_copy)
        assert rows(conn, "schema_migrations", "version") == before
        assert scalar(conn, "SELECT to_regclass('sneaky')") is None
    finally:
        conn.close()


def test_a_database_newer_than_the_code_is_refused(wh_empty_url: str, migrations_copy: Path) -> None:
    conn = connect(wh_empty_url)
    try:
        (migrations_copy / "099_later.sql").write_text("CREATE TABLE later (x int);\n")
        migrate(conn, directory=migrations_copy)
        (migrations_copy / "099_later.sql").unlink()
        with pytest.raises(MigrationError, match="099_later applied, but this code has no file"):
            migrate(conn, directory=migrations_copy)
    finally:
        conn.close()


def test_a_failing_migration_is_rolled_back_whole(wh_empty_url: str, tmp_path: Path) -> None:
    (tmp_path / "001_first.sql").write_text("CREATE TABLE first_table (x int);\n")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE half_done (x int);\nSELECT * FROM no_such_table;\n")
    conn = connect(wh_empty_url)
    try:
        with pytest.raises(MigrationError, match="002_broken.sql failed and was rolled back.*no_such_table"):
            migrate(conn, directory=tmp_path)
        assert [r["name"] for r in rows(conn, "schema_migrations", "version")] == ["001_first"]
        assert scalar(conn, "SELECT to_regclass('half_done')") is None
        # the connection stays usable, and fixing the file lets the migration through
        (tmp_path / "002_broken.sql").write_text("CREATE TABLE half_done (x int);\n")
        assert migrate(conn, directory=tmp_path) == ["002_broken"]
    finally:
        conn.close()


def test_concurrent_callers_apply_each_migration_once(wh_empty_url: str) -> None:
    # GIVEN four tasks starting at once against an empty database
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        conn = connect(wh_empty_url)
        try:
            barrier.wait()
            results.append(migrate(conn))
        except BaseException as exc:  # reported below, after the threads end
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # THEN one applied everything, the others found nothing to do
    assert not errors
    names = [m.name for m in discover()]
    assert sorted(results, key=len) == [[], [], [], names]
    conn = connect(wh_empty_url)
    try:
        assert scalar(conn, "SELECT count(*) FROM schema_migrations") == len(names)
    finally:
        conn.close()
