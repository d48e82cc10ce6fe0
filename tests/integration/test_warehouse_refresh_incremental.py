"""The hourly refresh changes the rollups by differences (see sql/rollups.sql); after every
refresh they must equal what rebuild_all computes from all events, day by day, whatever arrives:
late events hours and days later, sessions spanning hours of receipt and midnight, refunds days
later (partial, whole, of an odd scale), a session turning into a bot, a session whose landing
event (segment) or first page view (title) arrives late, refreshes run again and out of order."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg2.extensions
import pytest

from clickstream.layout import Hour
from clickstream.warehouse.db import connect
from clickstream.warehouse.load import load_hour
from clickstream.warehouse.rollups import DAY_STEPS, REFRESH_STEPS, REFRESH_TABLES, rebuild_all, refresh
from tests.e2e.conftest_dashboard import DataSet, Session, build
from tests.integration.conftest_warehouse import (
    CHECKED_TABLES,
    Item,
    PartStore,
    Row,
    checksums,
    create_database,
    database_url,
    drop_database,
    rows,
    template_database,
)

pytest_plugins = ["tests.integration.conftest_warehouse"]

LAST_DAY = date(2026, 5, 14)
TABLES = {**CHECKED_TABLES, **dict.fromkeys((*REFRESH_TABLES, "agg_visitor_returns"), "*")}


def _receive(row: Row, hours: float) -> None:
    """The row reaches the server `hours` after its event (a late batch)."""
    received = row.event["event_time"] + timedelta(hours=hours)
    row.event["received_ts"] = received
    row.event["received_hour"] = Hour.containing(received).start
    for item in row.items:
        item["received_hour"] = row.event["received_hour"]


def _refund(session: Session, purchase: Row, label: str, hours: float, **fields) -> None:
    """A refund of the purchase's order from a later visit of the same browser."""
    when = purchase.event["event_time"] + timedelta(hours=hours)
    row = session.visit.event(label, "refund", when, path="/account", page_view=f"{label}-pv",
                              user_id=purchase.event["user_id"], transaction_id=purchase.event["transaction_id"],
                              **fields)
    row.items = [{**i, "transaction_id": purchase.event["transaction_id"]} for i in row.items]
    session.rows.append(row)


def late_traffic() -> DataSet:
    data = build(LAST_DAY, days=4, seed=23, sessions_per_day=16)
    rng = random.Random(7)
    humans = [s for s in data.sessions if not s.bot]
    for s in humans:
        roll = rng.random()
        if roll < 0.2:  # a whole session late: hours or days
            for r in s.rows:
                _receive(r, rng.choice([3, 26, 51]))
        elif roll < 0.45 and len(s.rows) > 2:  # its second half an hour or two later
            for r in s.rows[len(s.rows) // 2:]:
                _receive(r, rng.choice([1, 2]))
    # a session running past midnight, its last page view received the next morning
    night = humans[3]
    end = night.rows[-1].event["event_time"]
    midnight = end.replace(hour=23, minute=58)
    night.rows.append(night.visit.event(f"{night.visit.label}-night", "page_view", midnight + timedelta(minutes=5),
                                        path="/late", page_view=f"{night.visit.label}-night"))
    _receive(night.rows[-1], 7)
    # a human session that a late bot event turns into a bot session
    flipped = humans[9]
    flipped.rows.append(flipped.visit.event(f"{flipped.visit.label}-bot", "page_view",
                                            flipped.start + timedelta(minutes=1),
                                            received=flipped.start + timedelta(hours=30), is_bot=True))
    # an earlier landing event from another channel, a day late: the session's segment changes
    moved = humans[21]
    moved.rows.append(moved.visit.event(f"{moved.visit.label}-landing", "page_view", moved.start - timedelta(minutes=3),
                                        received=moved.start + timedelta(hours=27), channel="email"))
    # an earlier copy of a first page view with another title: the page view's title changes
    retitled = humans[14]
    first = retitled.rows[0]
    retitled.rows.append(retitled.visit.event(
        f"{retitled.visit.label}-retitle", "page_view", first.event["event_time"] - timedelta(seconds=1),
        path=first.event["page_path"], page_view=f"{retitled.visit.label}-1",
        received=first.event["event_time"] + timedelta(hours=5), page_title="AAA early title"))
    # refunds of the orders: with items, without (the whole order), of an odd value and then
    # of more than the order (the revenue's scale goes back down), days or hours later
    purchases = [(s, r) for s in humans for r in s.rows if r.event["event_name"] == "purchase"]
    assert len(purchases) >= 4, "the generated traffic has too few orders"
    (s1, p1), (s2, p2), (s3, p3), (s4, p4) = purchases[:4]
    item = p1.items[0]
    _refund(s1, p1, f"{s1.visit.label}-r1", 30,
            items=(Item(item["item_id"], price=item["price"], item_name=item["item_name"]),), value=item["price"])
    _refund(s2, p2, f"{s2.visit.label}-r2", 50)
    _refund(s3, p3, f"{s3.visit.label}-r3a", 2, value=1.255)
    _refund(s3, p3, f"{s3.visit.label}-r3b", 28, value=10_000.0)
    _refund(s4, p4, f"{s4.visit.label}-r4", 0.5, value=0.5)
    return data


@pytest.fixture
def conn(wh_server) -> Iterator[psycopg2.extensions.connection]:
    name = create_database(template=template_database())
    connection = connect(database_url(name))
    yield connection
    connection.close()
    drop_database(name)


def _by_hour(data: DataSet) -> dict[Hour, list[Row]]:
    hours: dict[Hour, list[Row]] = {}
    for row in data.rows:
        hours.setdefault(Hour.containing(row.event["received_ts"]), []).append(row)
    return dict(sorted(hours.items()))


def _assert_equals_full_recompute(conn: psycopg2.extensions.connection, context: object) -> None:
    incremental = checksums(conn, TABLES)
    rebuild_all(conn)
    full = checksums(conn, TABLES)
    differing = sorted(t for t in TABLES if incremental[t] != full[t])
    assert not differing, (context, differing)


def test_every_refresh_equals_a_full_recompute(conn: psycopg2.extensions.connection,
                                               caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN four days of traffic arriving hour by hour, with every kind of late change
    hours = _by_hour(late_traffic())
    store = PartStore()
    order = list(hours)
    # two hours loaded before either is refreshed, and refreshed in reverse order
    swap = len(order) // 2
    order[swap], order[swap + 1] = order[swap + 1], order[swap]
    loaded: list[Hour] = []
    for n, hour in enumerate(order):
        # WHEN each hour is loaded and refreshed (and an hour is refreshed again now and then)
        load_hour(conn, hour, f"run-{hour}", [store.add(hour, 0, hours[hour])], read_table=store.read,
                  quarantine_counts={})
        loaded.append(hour)
        if n == swap:
            continue  # refreshed after the next hour
        refresh(conn, hour, f"run-{hour}")
        if n == swap + 1:
            refresh(conn, order[swap], f"run-{order[swap]}")
        if n % 5 == 0:
            refresh(conn, loaded[n // 2], "again")
        # THEN every derived table, rollup and refresh input equals a rebuild from all events
        _assert_equals_full_recompute(conn, hour)
    # and the cases happened: a bot session, a moved segment, a refund's scale gone back down
    assert any(s["is_bot"] and s["device_class"] != "bot" for s in rows(conn, "sessions"))
    assert any(s["channel"] == "email" for s in rows(conn, "sessions"))
    refunded = {o["order_id"]: o for o in rows(conn, "orders") if o["refunded"]}
    assert len(refunded) == 4
    assert any(o["revenue"] == 0 and o["refund_amount"] == o["gross_revenue"] for o in refunded.values())
    # and so did the rebuilds of whole days where a difference cannot settle a value
    whole = {pair.split()[0] for r in caplog.records for pair in getattr(r, "rebuilt_whole", [])}
    assert {"agg_pages_daily", "agg_traffic_hourly", "agg_sources_daily"} <= whole, whole
    # and each refresh's log names its slowest steps, slowest first, including a whole-day rebuild
    slowest = [r.slowest_steps for r in caplog.records if r.getMessage() == "warehouse rollups refreshed"]
    assert slowest and all(0 < len(s) <= 5 for s in slowest)
    assert all(list(s.values()) == sorted(s.values(), reverse=True) for s in slowest)
    assert all(step in REFRESH_STEPS or step in DAY_STEPS for s in slowest for step in s)


def _refreshed_hour_by_hour(conn: psycopg2.extensions.connection) -> list[Hour]:
    """The late traffic loaded and refreshed hour by hour, in order; its hours."""
    hours = _by_hour(late_traffic())
    store = PartStore()
    for hour, hour_rows in hours.items():
        load_hour(conn, hour, f"run-{hour}", [store.add(hour, 0, hour_rows)], read_table=store.read, quarantine_counts={})
        refresh(conn, hour, f"run-{hour}")
    return list(hours)


def test_a_refresh_changes_only_what_its_hour_touched(conn: psycopg2.extensions.connection) -> None:
    # GIVEN the traffic refreshed hour by hour
    hours = _refreshed_hour_by_hour(conn)
    before = checksums(conn, TABLES)
    # WHEN every hour is refreshed again, in reverse
    for hour in reversed(hours):
        refresh(conn, hour, "again")
    # THEN nothing changes
    assert checksums(conn, TABLES) == before


MIGRATION = Path(__file__).resolve().parents[2] / "src/clickstream/warehouse/migrations/005_refresh_incremental.sql"


def test_the_migration_fills_the_refresh_tables_as_the_refresh_does(conn: psycopg2.extensions.connection) -> None:
    # GIVEN a warehouse refreshed hour by hour
    _refreshed_hour_by_hour(conn)
    kept = dict.fromkeys(REFRESH_TABLES, "*")
    expected = checksums(conn, kept)
    # WHEN the migration's backfill (for warehouses loaded before it) fills them again
    text = MIGRATION.read_text()
    with conn.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(REFRESH_TABLES))
        cur.execute(text[text.index("INSERT INTO session_hours"):])
    conn.commit()
    # THEN they hold what the refresh wrote
    assert checksums(conn, kept) == expected
