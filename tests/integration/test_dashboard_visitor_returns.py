"""agg_visitor_returns, which the dashboard's visitor counts read: after every hourly refresh
it holds exactly what a full recomputation from agg_visitor_days gives, with late sessions,
a session that turns out to be a bot and a session whose landing segment changes late; and
the counts it answers equal the visits'."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg2.extensions
import pytest

from clickstream.dashboard.filters import Filters
from clickstream.dashboard.queries import Dashboard
from clickstream.layout import Hour
from clickstream.warehouse.db import connect
from tests.e2e.conftest_dashboard import DataSet, Session, build
from tests.integration.conftest_warehouse import (
    PartStore,
    create_database,
    database_url,
    drop_database,
    template_database,
)

pytest_plugins = ["tests.integration.conftest_warehouse"]

LAST_DAY = date(2026, 3, 8)
MIGRATION = Path(__file__).resolve().parents[2] / "src/clickstream/warehouse/migrations/004_visitor_returns.sql"


def _delay(session: Session, hours: int) -> None:
    """The session's events reach the server `hours` later (a late batch)."""
    for row in session.rows:
        received = row.event["received_ts"] + timedelta(hours=hours)
        row.event["received_ts"] = received
        row.event["received_hour"] = Hour.containing(received).start
        for item in row.items:
            item["received_hour"] = row.event["received_hour"]


def late_data() -> DataSet:
    data = build(LAST_DAY, days=6, seed=5, sessions_per_day=12)
    rng = random.Random(3)
    humans = [s for s in data.sessions if not s.bot]
    for s in humans:
        if rng.random() < 0.3:
            _delay(s, rng.choice([5, 26, 49]))
    # a human session that a late bot event turns into a bot session (it leaves every rollup)
    flipped = humans[7]
    flipped.rows.append(
        flipped.visit.event(
            f"{flipped.visit.label}-bot",
            "page_view",
            flipped.start + timedelta(minutes=1),
            received=flipped.start + timedelta(hours=30),
            is_bot=True,
        )
    )
    flipped.bot = True
    # a session whose earlier landing event (another channel) arrives late: its segment changes
    moved = humans[20]
    moved.rows.append(
        moved.visit.event(
            f"{moved.visit.label}-landing",
            "page_view",
            moved.start - timedelta(minutes=3),
            received=moved.start + timedelta(hours=27),
            channel="email",
        )
    )
    moved.segment = (moved.segment[0], "email", moved.segment[2])
    return data


def _full_recompute(conn: psycopg2.extensions.connection) -> list[tuple]:
    """The migration's backfill (from all of agg_visitor_days) into a temporary table."""
    text = MIGRATION.read_text()
    backfill = text[text.index("INSERT INTO agg_visitor_returns") :]
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE expected_returns (LIKE agg_visitor_returns)")
        cur.execute(backfill.replace("INSERT INTO agg_visitor_returns", "INSERT INTO expected_returns", 1))
        cur.execute(
            "SELECT 'missing', * FROM (SELECT * FROM expected_returns EXCEPT ALL SELECT * FROM agg_visitor_returns) a "
            "UNION ALL "
            "SELECT 'extra', * FROM (SELECT * FROM agg_visitor_returns EXCEPT ALL SELECT * FROM expected_returns) b"
        )
        diff = cur.fetchall()
        cur.execute("SELECT count(*) FROM expected_returns")
        assert cur.fetchone()[0] > 0 or not diff
    conn.rollback()
    return diff


@pytest.fixture
def url(wh_server) -> Iterator[str]:
    name = create_database(template=template_database())
    yield database_url(name)
    drop_database(name)


def test_the_refresh_keeps_the_returns_rollup_exact(url: str) -> None:
    from clickstream.warehouse.load import load_hour
    from clickstream.warehouse.rollups import refresh

    data = late_data()
    by_hour: dict[Hour, list] = {}
    for row in data.rows:
        by_hour.setdefault(Hour.containing(row.event["received_ts"]), []).append(row)
    store = PartStore()
    conn = connect(url)
    try:
        for hour in sorted(by_hour):
            load_hour(
                conn,
                hour,
                f"run-{hour}",
                [store.add(hour, 0, by_hour[hour])],
                read_table=store.read,
                quarantine_counts={},
            )
            refresh(conn, hour, f"run-{hour}")
            # THEN after every hour the incremental rebuild equals the full recomputation
            assert _full_recompute(conn) == [], hour
    finally:
        conn.close()

    # and the dashboard's counts over every range and segment equal the visits'
    dash = Dashboard(url)
    try:
        days = [data.days[0] - timedelta(days=1), *data.days]
        segments = [
            {},
            {"device_class": "mobile"},
            {"channel": "direct"},
            {"channel": "email"},
            {"country": "(not set)", "channel": "referral"},
            {"device_class": "desktop", "country": "DE"},
        ]
        for segment in segments:
            for i, start in enumerate(days):
                for end in days[i:]:
                    got = dash.traffic_kpis(Filters(start, end, **segment))
                    exp = data.expected(start, end, **segment)
                    assert (got["visitors"], got["new_visitors"]) == (exp["visitors"], exp["new_visitors"]), (
                        segment,
                        start,
                        end,
                    )
            daily = dash.frame("visitors_daily", Filters(days[0], days[-1], **segment).params())
            assert {d: int(v) for d, v in zip(daily["day"], daily["visitors"], strict=True)} == {
                d: data.expected(d, d, **segment)["visitors"]
                for d in days
                if data.expected(d, d, **segment)["visitors"]
            }
    finally:
        dash.close()
