"""The SQL files: named queries parse, every query the code runs exists, column lists match
the processed-layer schemas, and the migrations are well-formed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.warehouse import rollups
from clickstream.warehouse.errors import MigrationError
from clickstream.warehouse.migrate import checksum, discover
from clickstream.warehouse.queries import parse, queries, query

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "clickstream" / "warehouse"


def _columns(statement: str, head: str) -> list[str]:
    body = statement[statement.index(head) + len(head):]
    return [c.strip() for c in body[: body.index(")")].split(",")]


def test_parse_splits_named_queries() -> None:
    # GIVEN a file of two named queries with comments around them
    text = "-- header\n\n-- name: one\n-- what it does\nSELECT 1;\n\n-- name: two\nSELECT 2;\n"
    # THEN each name maps to its text, comments included
    assert parse(text) == {"one": "-- what it does\nSELECT 1;", "two": "SELECT 2;"}


@pytest.mark.parametrize("text", ["-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;", "-- name: empty\n\n-- name: b\nSELECT 1;"])
def test_parse_refuses_duplicate_or_empty_queries(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


def test_unknown_query_names_the_file() -> None:
    with pytest.raises(KeyError, match=r"sql/load\.sql"):
        query("load", "no_such_query")


def test_every_query_the_code_runs_exists() -> None:
    # The modules call query(<module>, "<name>") with literal names; find them all in the source.
    called = set()
    for source in PACKAGE.glob("*.py"):
        called |= set(re.findall(r'query\("(\w+)", "(\w+)"\)', source.read_text()))
    called |= {("rollups", step) for step in (*rollups.REFRESH_STEPS, *rollups.REBUILD_ALL_STEPS,
                                                 *rollups.DAY_STEPS, "lock", "unlock")}
    called |= {("migrate", "lock"), ("migrate", "unlock")}  # run through _lock(conn, which)
    missing = sorted(f"{module}.{name}" for module, name in called if name not in queries(module))
    assert not missing
    defined = {(module, name) for module in ("load", "migrate", "rollups", "runs") for name in queries(module)}
    assert defined - called == set(), "queries no code runs"


def test_refresh_and_rebuild_all_write_every_rollup_table() -> None:
    text = (PACKAGE / "migrations" / "003_rollups.sql").read_text()
    created = re.findall(r"CREATE TABLE (agg_\w+)", text)
    assert sorted(created) == sorted(rollups.ROLLUP_TABLES)

    def written(steps: tuple[str, ...]) -> set[str]:
        return {t for step in steps for t in re.findall(r"INSERT INTO (agg_\w+)", query("rollups", step))}

    assert written(rollups.REFRESH_STEPS) >= set(created)
    assert written((*rollups.REBUILD_ALL_STEPS, *rollups.DAY_STEPS)) >= set(created)
    # every day_* step rebuilds the rollup its name says (rollups.py derives the name from rf_fix)
    for step in rollups.DAY_STEPS:
        assert written((step,)) == {"agg_" + step.removeprefix("day_")}


@pytest.mark.parametrize(("name", "head", "schema"), [
    ("copy_events", "COPY stage_events (", EVENTS_SCHEMA),
    ("copy_items", "COPY stage_items (", ITEMS_SCHEMA),
    ("merge_events", "INSERT INTO events (", EVENTS_SCHEMA),
    ("merge_items", "INSERT INTO event_items (", ITEMS_SCHEMA),
])
def test_load_column_lists_are_the_processed_schema(name: str, head: str, schema) -> None:
    assert _columns(query("load", name), head) == schema.names


def test_migrations_are_numbered_in_order_with_stable_checksums() -> None:
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(re.fullmatch(r"\d{3}_[a-z0-9_]+", m.name) for m in migrations)
    # A CRLF checkout of the same file is the same migration.
    assert checksum("SELECT 1;\r\nSELECT 2;\r\n") == checksum("SELECT 1;\nSELECT 2;\n")


def test_discover_refuses_badly_named_or_duplicate_versions(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "1_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_lowercase_name"):
        discover(tmp_path)
    (tmp_path / "1_b.sql").unlink()
    (tmp_path / "001_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="two migration files have version 001"):
        discover(tmp_path)


def test_no_sql_file_uses_a_bare_percent() -> None:
    # Queries run with psycopg2 parameters, where a literal % must be written %%.
    for path in (PACKAGE / "sql").glob("*.sql"):
        assert not re.search(r"%(?!\(\w+\)s)", path.read_text()), path.name
