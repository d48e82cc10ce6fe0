"""A known data set for the dashboard, loaded by the real loader and rollups, and what its
metrics must be, computed here from the generated visits (not from the warehouse).

Test modules load this file as a plugin (`pytest_plugins`); the query tests import its
builders too, so it opts out of assertion rewriting and raises instead of asserting.
PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg2.extensions

from clickstream.layout import Hour
from tests.integration.conftest_warehouse import Item, PartStore, Row, Visit

COMMERCE = {"add_to_cart", "remove_from_cart", "view_cart", "begin_checkout", "add_payment_info", "purchase"}
FUNNEL = ("view_item", "add_to_cart", "begin_checkout", "purchase")
PRODUCTS = [Item("p1", 12.5, item_name="Blue mug", item_category="Mugs"),
            Item("p2", 8.0, item_name="Red cup", item_category="Cups"),
            Item("p3", 5.5, item_name="Plate", item_category="Plates"),
            Item("p4", 30.0, item_name="Teapot", item_category="Pots")]
SEGMENTS = [("desktop", "direct", "DE"), ("mobile", "organic_search", "FR"), ("tablet", "referral", None),
            ("desktop", "paid_search", "DE"), ("mobile", "direct", None)]
TERMS = ["mug", "cup", "teapot", "plate", "spoon"]


@dataclass
class Session:
    """One generated session: its segment, visitor and the events made for it."""

    visit: Visit
    visitor_id: str
    bot: bool
    segment: tuple[str, str, str]
    rows: list[Row] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return min(r.event["event_time"] for r in self.rows)

    @property
    def day(self) -> date:
        return self.start.date()


@dataclass
class DataSet:
    days: list[date]
    sessions: list[Session]

    @property
    def rows(self) -> list[Row]:
        return [r for s in self.sessions for r in s.rows]

    # ---- expected metrics, from the visits -------------------------------------------------

    def chosen(self, start: date, end: date, device_class: str | None = None, channel: str | None = None,
               country: str | None = None) -> list[Session]:
        return [s for s in self.sessions if not s.bot and start <= s.day <= end
                and (device_class is None or s.segment[0] == device_class)
                and (channel is None or s.segment[1] == channel)
                and (country is None or (s.segment[2] or "(not set)") == country)]

    def expected(self, start: date, end: date, **segment: str | None) -> dict[str, Any]:
        chosen = self.chosen(start, end, **segment)
        first_day: dict[str, date] = {}
        for s in sorted((s for s in self.sessions if not s.bot), key=lambda s: s.start):
            first_day.setdefault(s.visitor_id, s.day)
        out: dict[str, Any] = defaultdict(float)
        visitors = {s.visitor_id for s in chosen}
        out["visitors"] = len(visitors)
        # new in the segment: first seen in the range, with a session of the segment that first day
        out["new_visitors"] = len({s.visitor_id for s in chosen if s.day == first_day[s.visitor_id]})
        out["sessions"] = len(chosen)
        terms: dict[str, int] = defaultdict(int)
        products: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        pages: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for s in chosen:
            events = sorted((r.event for r in s.rows), key=lambda e: (e["event_time"], e["event_seq"]))
            names = [e["event_name"] for e in events]
            # page views in order (the first event of each page_view_id), with the engaged time of
            # every event carrying that page_view_id
            views: dict[str, str] = {}
            for e in events:
                if e["event_name"] == "page_view":
                    views.setdefault(e["page_view_id"], e["page_path"])
            for n, (view, path) in enumerate(views.items()):
                pages[path]["views"] += 1
                pages[path]["entries"] += n == 0
                pages[path]["exits"] += n == len(views) - 1
                pages[path]["engaged_ms"] += sum(e["engaged_ms"] or 0 for e in events if e["page_view_id"] == view)
            page_views = len({e["page_view_id"] for e in events if e["event_name"] == "page_view"})
            engaged = sum(e["engaged_ms"] or 0 for e in events)
            out["page_views"] += page_views
            out["events"] += len(events)
            out["engaged_ms"] += engaged
            out["duration_s"] += (events[-1]["event_time"] - events[0]["event_time"]).total_seconds()
            out["bounces"] += page_views <= 1 and not COMMERCE & set(names) and engaged < 10_000
            out["revenue"] += sum(e["value"] or 0 for e in events if e["event_name"] == "purchase")
            out["orders"] += names.count("purchase")
            # strictly ordered funnel: each step at a later time than the step reached before
            reached, last = 0, None
            for e in events:
                if reached < 4 and e["event_name"] == FUNNEL[reached] and (last is None or e["event_time"] > last):
                    reached, last = reached + 1, e["event_time"]
            for step in range(reached):
                out[f"funnel_{FUNNEL[step]}"] += 1
            for i, e in enumerate(events):
                if e["event_name"] == "search":
                    later = {x["event_name"] for x in events[i + 1:] if x["event_time"] > e["event_time"]}
                    out["searches"] += 1
                    out["with_view_item"] += "view_item" in later
                    out["with_purchase"] += "purchase" in later
                    terms[e["search_term"]] += 1
            for r in s.rows:
                for item in r.items:
                    if r.event["event_name"] == "view_item":
                        products[item["item_id"]]["views"] += 1
                    elif r.event["event_name"] == "add_to_cart":
                        products[item["item_id"]]["add_to_carts"] += 1
                    elif r.event["event_name"] == "purchase":
                        products[item["item_id"]]["purchases"] += 1
                        products[item["item_id"]]["revenue"] += item["price"] * item["quantity"]
        out["terms"] = dict(terms)
        out["pages"] = {k: dict(v) for k, v in pages.items()}
        out["products"] = {k: dict(v) for k, v in products.items()}
        return dict(out)


def _visitor_pool(rng: random.Random, count: int) -> list[tuple[str, str | None]]:
    return [(f"anon-{i:03d}", f"user-{i:03d}" if rng.random() < 0.25 else None) for i in range(count)]


def build(last_day: date, days: int = 4, seed: int = 11, sessions_per_day: int = 14) -> DataSet:
    """Deterministic traffic for `days` days ending `last_day`: several segments, returning
    visitors, searches, product views, carts, checkouts and purchases, one bot a day."""
    rng = random.Random(seed)
    visitors = _visitor_pool(rng, 30)
    day_list = [last_day - timedelta(days=days - 1 - i) for i in range(days)]
    sessions: list[Session] = []
    n = 0
    for day in day_list:
        for k in range(sessions_per_day + 1):
            n += 1
            bot = k == sessions_per_day
            anon, user = visitors[rng.randrange(len(visitors))]
            if bot:
                anon, user = f"bot-{n}", None
            segment = ("bot", "direct", None) if bot else SEGMENTS[rng.randrange(len(SEGMENTS))]
            visit = Visit(f"ds{seed}-{n}", device_class=segment[0], channel=segment[1], country=segment[2],
                          anonymous_id=anon, is_bot=bot, browser="Googlebot" if bot else rng.choice(["Chrome", "Safari"]),
                          referrer_host="google.com" if segment[1] in ("organic_search", "paid_search") else None,
                          utm_source="google" if segment[1] == "paid_search" else None,
                          utm_medium="cpc" if segment[1] == "paid_search" else None,
                          utm_campaign="spring" if segment[1] == "paid_search" else None)
            session = Session(visit, user or anon, bot, segment)
            sessions.append(session)
            t = datetime(day.year, day.month, day.day, 8 + rng.randrange(12), rng.randrange(60), tzinfo=UTC)
            label = visit.label

            # `add` runs only within this iteration, so binding the loop variables late is harmless.
            def add(name: str, path: str, pv: int, **kw: Any) -> None:
                nonlocal t
                session.rows.append(visit.event(f"{label}-{len(session.rows)}", name, t, path=path,  # noqa: B023
                                                page_view=f"{label}-{pv}", user_id=user, **kw))  # noqa: B023
                t += timedelta(seconds=rng.randrange(3, 40))

            add("page_view", "/", 1)
            if rng.random() < 0.5:
                add("user_engagement", "/", 1, engaged_ms=rng.choice([2_000, 4_000, 15_000, 40_000]))
            if rng.random() < 0.3:
                continue  # one page only
            pv = 2
            if rng.random() < 0.4:
                add("page_view", "/search", pv)
                add("search", "/search", pv, search_term=rng.choice(TERMS))
            product = PRODUCTS[rng.randrange(len(PRODUCTS))]
            pv += 1
            path = f"/products/{product.item_id}"
            add("page_view", path, pv)
            if rng.random() < 0.85:
                add("view_item", path, pv, items=(product,))
            if rng.random() < 0.5:
                add("add_to_cart", path, pv, items=(product,))
                if rng.random() < 0.7:
                    pv += 1
                    add("page_view", "/checkout", pv)
                    add("begin_checkout", "/checkout", pv, items=(product,))
                    if rng.random() < 0.7:
                        tx = f"T-{label}"
                        row_items = (product,)
                        add("purchase", "/checkout", pv, items=row_items, value=product.price, transaction_id=tx)
                        session.rows[-1].items = [{**i, "transaction_id": tx} for i in session.rows[-1].items]
    return DataSet(day_list, sessions)


def load(conn: psycopg2.extensions.connection, data: DataSet, *, runs: bool = True) -> list[Hour]:
    """Load every received hour with the real loader, rebuild the rollups, record the runs
    (one failed run on the last hour, with an alert-worthy error) and some quarantine."""
    from clickstream.warehouse.load import load_hour
    from clickstream.warehouse.rollups import refresh
    from clickstream.warehouse.runs import record_run_failed, record_run_progress, record_run_succeeded

    by_hour: dict[Hour, list[Row]] = defaultdict(list)
    for row in data.rows:
        by_hour[Hour.containing(row.event["received_ts"])].append(row)
    store = PartStore()
    hours = sorted(by_hour)
    for i, hour in enumerate(hours):
        parts = [store.add(hour, 0, by_hour[hour])]
        quarantine = {("ingest", "invalid_event_name"): 1 + i % 3} if i % 4 == 0 else {}
        run_id = f"run-{hour}"
        started = hour.start + timedelta(hours=1, minutes=5)
        if runs:
            record_run_progress(conn, run_id, hour, "schedule", started, events_cleaned=len(by_hour[hour]),
                                quarantined=sum(quarantine.values()))
        load_hour(conn, hour, run_id, parts, read_table=store.read, quarantine_counts=quarantine)
        refresh(conn, hour, run_id)
        if runs:
            record_run_progress(conn, run_id, hour, "schedule", started, inserted_events=len(by_hour[hour]))
            record_run_succeeded(conn, run_id, started + timedelta(seconds=4 + i % 5))
    if runs and hours:
        last = hours[-1]
        record_run_failed(conn, f"run-{last}-retry", last, "LoadWarehouse", "WarehouseUnavailable",
                          "could not connect to the warehouse", last.start + timedelta(hours=1, minutes=30))
    return hours


def _iter_days(start: date, end: date) -> Iterable[date]:
    while start <= end:
        yield start
        start += timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# The dashboard app in a subprocess (Shiny's own runner), on a warehouse of our choice

import pytest  # noqa: E402

from clickstream.dashboard.filters import today_utc  # noqa: E402
from tests.integration.conftest_warehouse import (  # noqa: E402
    create_database,
    database_url,
    drop_database,
    template_database,
)

APP = __import__("pathlib").Path(__file__).resolve().parents[2] / "shiny" / "app.py"


def run_app(url: str, *, wait: bool = True) -> Any:
    """The app in a subprocess on `url`; with wait=False, call `.wait_until_ready(secs)` later
    (several apps then start at once)."""
    from shiny.run import run_shiny_app

    # the app reads DATABASE_URL at its first session; DATABASE_SECRET_ARN must not win over it
    return run_shiny_app(APP, env={"DATABASE_URL": url, "DATABASE_SECRET_ARN": "", "SHINY_TESTMODE": "1"},
                         timeout_secs=30, wait_for_start=wait)


@pytest.fixture(scope="module")
def _dashboard_warehouse(wh_server: Any) -> Any:
    """(data set, URL, app process): the app starts on the new database while the data loads
    (it reads the warehouse only at the first browser session)."""
    from clickstream.warehouse.db import connect

    data = build(today_utc(), days=4, sessions_per_day=16)
    name = create_database(template=template_database())
    proc = run_app(database_url(name), wait=False)
    try:
        conn = connect(database_url(name))
        try:
            load(conn, data)
        finally:
            conn.close()
        yield data, database_url(name), proc
    finally:
        proc.close()
        drop_database(name)


@pytest.fixture(scope="module")
def dashboard_data(_dashboard_warehouse: Any) -> Any:
    """A warehouse with four days of traffic ending today (so the default 7-day range shows it)."""
    data, url, _ = _dashboard_warehouse
    return data, url


@pytest.fixture(scope="module")
def dashboard_app(_dashboard_warehouse: Any) -> Any:
    proc = _dashboard_warehouse[2]
    proc.wait_until_ready(30)
    return proc
