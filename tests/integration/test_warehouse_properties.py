"""Property: however an hour's rows are split into parts, in whatever order the parts come,
and however many times the hour is loaded, the warehouse ends up the same (every table, rollups
included), with the same duplicate counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import psycopg2.extensions
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickstream.warehouse.db import connect
from clickstream.warehouse.load import LoadResult, load_hour
from clickstream.warehouse.rollups import REFRESH_TABLES, refresh
from tests.integration.conftest_warehouse import (
    CHECKED_TABLES,
    H_BEFORE,
    H_MAIN,
    PartStore,
    Row,
    checksums,
    create_database,
    database_url,
    drop_database,
    load_and_refresh,
    scenario,
    template_database,
)

pytest_plugins = ["tests.integration.conftest_warehouse"]


def _main_hour_rows() -> list[Row]:
    """Every row version of the main hour's parts: 27 events, one sent twice, two with two payloads, and
    two that an earlier hour loaded."""
    sc = scenario()
    out = []
    for events_key, items_key in sc.parts[H_MAIN]:
        items = defaultdict(list)
        for item in sc.store.tables[items_key].to_pylist():
            items[item["event_id"]].append(item)
        out += [Row(e, items[e["event_id"]]) for e in sc.store.tables[events_key].to_pylist()]
    return out


ROWS = _main_hour_rows()
BY_ID: dict[str, list[int]] = defaultdict(list)
for _index, _row in enumerate(ROWS):
    BY_ID[_row.event_id].append(_index)


@pytest.fixture(scope="module")
def warehouse(wh_server) -> Iterator[tuple[psycopg2.extensions.connection, dict]]:
    """One database for all examples (emptied before each), and the tables of the canonical run."""
    name = create_database(template=template_database())
    conn = connect(database_url(name))
    try:
        load_and_refresh(conn, scenario(), [H_BEFORE, H_MAIN])
        yield conn, checksums(conn)
    finally:
        conn.close()
        drop_database(name)


@st.composite
def splits(draw: st.DrawFn) -> list[list[Row]]:
    """The rows split into 2-4 parts; versions of one event_id land in different parts (cleaning
    leaves one row per event_id in a part)."""
    n_parts = draw(st.integers(2, 4))
    parts: list[list[Row]] = [[] for _ in range(n_parts)]
    for indexes in BY_ID.values():
        targets = draw(st.permutations(range(n_parts)))
        for index, part in zip(indexes, targets, strict=False):
            parts[part].append(ROWS[index])
    for part in parts:
        part[:] = draw(st.permutations(part))  # row order within a part does not matter either
    return [part for part in parts if part] or [[]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=splits(), orders=st.lists(st.permutations(range(4)), min_size=1, max_size=3))
def test_any_split_order_and_repetition_gives_the_same_warehouse(warehouse, parts, orders) -> None:
    conn, expected = warehouse
    _empty(conn)
    sc = scenario()
    load_and_refresh(conn, sc, [H_BEFORE])
    store = PartStore()
    keys = [store.add(H_MAIN, n, part) for n, part in enumerate(parts)]
    for run, order in enumerate(orders):
        ordered = [keys[i] for i in order if i < len(keys)]
        result = load_hour(conn, H_MAIN, f"run-{H_MAIN}", ordered, read_table=store.read,
                           quarantine_counts=sc.quarantine[H_MAIN])
        assert result == LoadResult(27 if run == 0 else 0, 11 if run == 0 else 0, 2, 2, ["2026-03-02"])
        refresh(conn, H_MAIN, f"run-{H_MAIN}")
    actual = checksums(conn)
    # files counts parts, which the split chooses
    assert {k: v for k, v in actual.items() if k != "load_manifest"} == \
           {k: v for k, v in expected.items() if k != "load_manifest"}
    assert _manifest_without_files(conn) == _MANIFEST


_MANIFEST = [
    ("2026-03-02 09:00:00+00", 2, 2, 0, 0, 0, "{2026-03-02}"),
    ("2026-03-02 10:00:00+00", 31, 27, 11, 2, 2, "{2026-03-02}"),
]


def _manifest_without_files(conn: psycopg2.extensions.connection) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute("SELECT hour::text, staged_events, inserted_events, inserted_items, natural_duplicates, "
                    "synthetic_duplicates, days_touched::text FROM load_manifest ORDER BY hour")
        out = cur.fetchall()
    conn.rollback()
    return out


def _empty(conn: psycopg2.extensions.connection) -> None:
    with conn.cursor() as cur:
        # The table names are constants. The refresh's own tables go too: it trusts them to
        # describe the rollups.
        cur.execute("TRUNCATE " + ", ".join([*CHECKED_TABLES, *REFRESH_TABLES, "agg_visitor_returns"]))
    conn.commit()
