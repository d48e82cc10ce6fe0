"""Warehouse test fixtures and data: one embedded PostgreSQL per test process, a migrated
template database, a fresh copy of it per test, and builders of processed-layer Arrow tables.

The warehouse test modules load this file as a plugin (`pytest_plugins`), so its fixtures
exist once per session; they are named `wh_*` to stay clear of conftest.py's fixtures. The
server is one per process (`_server()`), shared with subprocesses through their URL.
Test modules also import its helpers, before pytest loads it as a plugin, so it opts out of
assertion rewriting (PYTEST_DONT_REWRITE) and raises instead of asserting.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import pyarrow as pa
import pytest

from clickstream.etl.processed import EVENTS_SCHEMA, ITEMS_SCHEMA
from clickstream.layout import Hour
from clickstream.local.postgres import EmbeddedPostgres
from clickstream.warehouse.db import connect
from clickstream.warehouse.migrate import migrate
from tests.support import free_port

TEMPLATE_DB = "warehouse_template"


# ---------------------------------------------------------------------------------------------
# PostgreSQL


# Set to a superuser URL of a running server (e.g. PostgreSQL 15) to test against it instead of
# the embedded PostgreSQL 16; the tests create and drop their own databases on it.
SERVER_URL_ENV = "WAREHOUSE_TEST_SERVER_URL"


@dataclass
class ExistingServer:
    url: str

    @property
    def port(self) -> int:
        return int(psycopg2.extensions.parse_dsn(self.url).get("port", 5432))

    def stop(self) -> None:
        return None


Server = EmbeddedPostgres | ExistingServer


@cache
def _server() -> Server:
    if os.environ.get(SERVER_URL_ENV):
        return ExistingServer(os.environ[SERVER_URL_ENV])
    server = EmbeddedPostgres(data_dir=Path(tempfile.mkdtemp(prefix="warehouse-pg-")), port=free_port(),
                              database="postgres")
    server.start()
    # The session fixture stops it; this covers scripts and subprocesses that use the helpers directly.
    atexit.register(_stop, server)
    return server


def _stop(server: EmbeddedPostgres) -> None:
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)


def admin_url() -> str:
    return _server().url


def _admin(sql: str) -> None:
    conn = psycopg2.connect(admin_url())
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def database_url(name: str) -> str:
    return admin_url().rsplit("/", 1)[0] + f"/{name}"


@cache
def template_database() -> str:
    """A database with every migration applied, copied by each test (faster than migrating)."""
    _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
    _admin(f'CREATE DATABASE "{TEMPLATE_DB}"')
    conn = connect(database_url(TEMPLATE_DB))
    try:
        migrate(conn)
    finally:
        conn.close()
    return TEMPLATE_DB


def create_database(*, template: str | None = "template0") -> str:
    name = f"wh_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def wh_server() -> Iterator[Server]:
    server = _server()
    yield server
    if isinstance(server, EmbeddedPostgres):
        _stop(server)


@pytest.fixture
def wh_url(wh_server: Server) -> Iterator[str]:
    """A fresh, migrated warehouse database for one test."""
    name = create_database(template=template_database())
    yield database_url(name)
    drop_database(name)


@pytest.fixture
def wh_empty_url(wh_server: Server) -> Iterator[str]:
    """A fresh database with nothing in it (for migration tests)."""
    name = create_database()
    yield database_url(name)
    drop_database(name)


@pytest.fixture
def wh_conn(wh_url: str) -> Iterator[psycopg2.extensions.connection]:
    conn = connect(wh_url)
    yield conn
    conn.close()


# ---------------------------------------------------------------------------------------------
# Reading the warehouse back

# Tables whose content defines "the warehouse" for idempotency checks, with the columns that
# may legitimately differ between runs left out (which run wrote a row, and when).
CHECKED_TABLES: dict[str, str] = {
    "events": "*",
    "event_items": "*",
    "load_manifest": "hour, files, staged_events, inserted_events, inserted_items, natural_duplicates, "
                     "synthetic_duplicates, days_touched",
    "quarantine_counts": "*",
    "sessions": "*",
    "page_views": "*",
    "orders": "*",
    "users": "*",
    "visitors": "*",
    "agg_visitor_days": "*",
    "agg_traffic_hourly": "*",
    "agg_traffic_daily": "*",
    "agg_sources_daily": "*",
    "agg_pages_daily": "*",
    "agg_devices_daily": "*",
    "agg_products_daily": "*",
    "agg_funnel_daily": "*",
    "agg_searches_daily": "*",
    "agg_session_durations_daily": "*",
    "agg_landing_paths_daily": "*",
    "agg_retention_weekly": "*",
}

# Table and column names below are constants of this module, never input.
_CHECKSUM_SQL = "SELECT count(*), coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') FROM (SELECT {cols} FROM {table}) AS r"


def checksums(conn: psycopg2.extensions.connection, tables: dict[str, str] | None = None) -> dict[str, tuple[int, str]]:
    """(row count, md5 of the rows in text order) of every checked table."""
    out: dict[str, tuple[int, str]] = {}
    with conn.cursor() as cur:
        for table, cols in (tables or CHECKED_TABLES).items():
            cur.execute(_CHECKSUM_SQL.format(cols=cols, table=table))
            out[table] = cur.fetchone()
    conn.rollback()
    return out


def rows(conn: psycopg2.extensions.connection, table: str, order_by: str = "1") -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} ORDER BY {order_by}")
        names = [d.name for d in cur.description]
        result = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    conn.rollback()
    return result


def scalar(conn: psycopg2.extensions.connection, sql: str, params: Any = None) -> Any:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        value = cur.fetchone()[0]
    conn.rollback()
    return value


# ---------------------------------------------------------------------------------------------
# Building processed-layer rows

def stable_id(label: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"clickstream-test:{label}"))


@dataclass(frozen=True)
class Item:
    item_id: str
    price: float | None = 10.0
    quantity: int = 1
    item_name: str | None = None
    item_category: str | None = None


@dataclass
class Row:
    """One processed event with its items, as the clean step would write it."""

    event: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def event_id(self) -> str:
        return self.event["event_id"]

    def copy(self, *, payload: str | None = None, **changes: Any) -> Row:
        """A duplicate: same event_id; `payload` gives it another payload_hash (synthetic)."""
        event = {**self.event, **changes}
        if payload is not None:
            event["payload_hash"] = hashlib.sha256(f"{self.event_id}:{payload}".encode()).hexdigest()[:32]
        items = [{**item, **{k: v for k, v in changes.items() if k in item}} for item in self.items]
        return Row(event, items)


@dataclass
class Visit:
    """A session of one browser; `event()` makes its events in order."""

    label: str
    device_class: str = "desktop"
    channel: str = "direct"
    browser: str | None = "Chrome"
    os: str | None = "Windows"
    referrer_host: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    is_bot: bool = False
    country: str | None = None
    anonymous_id: str | None = None
    session_id: str | None = None
    seq: int = 0

    def __post_init__(self) -> None:
        self.anonymous_id = self.anonymous_id or f"anon-{self.label}"
        self.session_id = self.session_id or stable_id(f"session:{self.label}")

    def event(self, label: str, name: str, at: datetime, *, received: datetime | None = None,
              path: str | None = "/", page_view: str | None = None, user_id: str | None = None,
              items: tuple[Item, ...] = (), **fields: Any) -> Row:
        self.seq += 1
        received = received or at + timedelta(seconds=2)
        received_hour = Hour.containing(received).start
        event_id = stable_id(f"event:{label}")
        event: dict[str, Any] = {
            "event_id": event_id,
            "event_name": name,
            "event_time": at,
            "event_date": at.date(),
            "event_hour": at.hour,
            "client_ts": at,
            "sent_ts": at + timedelta(seconds=1),
            "received_ts": received,
            "received_hour": received_hour,
            "request_id": f"req-{label}",
            "app_id": "demo-shop",
            "platform": "web",
            "sdk_name": "clickstream-web",
            "sdk_version": "0.1.0",
            "schema_version": 1,
            "anonymous_id": self.anonymous_id,
            "user_id": user_id,
            "claimed_user_id": None,
            "visitor_id": user_id or self.anonymous_id,
            "session_id": self.session_id,
            "event_seq": self.seq,
            "page_url": f"https://shop.example{path}" if path else None,
            "page_path": path,
            "page_title": f"Title {path}" if path else None,
            "page_referrer": f"https://{self.referrer_host}/" if self.referrer_host else None,
            "referrer_host": self.referrer_host,
            "page_view_id": stable_id(f"pv:{page_view}") if page_view else None,
            "utm_source": self.utm_source,
            "utm_medium": self.utm_medium,
            "utm_campaign": self.utm_campaign,
            "utm_term": None,
            "utm_content": None,
            "click_id": None,
            "channel": self.channel,
            "device_class": self.device_class,
            "browser": self.browser,
            "os": self.os,
            "is_bot": self.is_bot,
            "country": self.country,
            "ip_trunc": "203.0.113.0",
            "language": "en",
            "tz_offset_min": 0,
            "screen_w": 1920,
            "screen_h": 1080,
            "viewport_w": 1280,
            "viewport_h": 800,
            "consent_analytics": True,
            "search_term": None,
            "engaged_ms": None,
            "currency": "EUR" if items or name in ("purchase", "refund") else None,
            "value": None,
            "transaction_id": None,
            "item_count": len(items),
            "properties": None,
            "payload_hash": hashlib.sha256(f"{event_id}:v1".encode()).hexdigest()[:32],
        }
        event.update(fields)
        unknown = set(event) - set(EVENTS_SCHEMA.names)
        if unknown:
            raise TypeError(f"not columns of events: {sorted(unknown)}")
        item_rows = [{
            "event_id": event_id,
            "item_position": position,
            "event_name": name,
            "event_time": at,
            "event_date": at.date(),
            "received_hour": received_hour,
            "session_id": self.session_id,
            "visitor_id": event["visitor_id"],
            "transaction_id": event["transaction_id"],
            "currency": event["currency"],
            "item_id": item.item_id,
            "item_name": item.item_name or f"Item {item.item_id}",
            "item_category": item.item_category or "Misc",
            "item_brand": None,
            "item_variant": None,
            "price": item.price,
            "quantity": item.quantity,
            "list_index": None,
        } for position, item in enumerate(items)]
        return Row(event, item_rows)


def events_table(rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist([r.event for r in rows], schema=EVENTS_SCHEMA)


def items_table(rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist([i for r in rows for i in r.items], schema=ITEMS_SCHEMA)


class PartStore:
    """Parts of hours by key: what `read_table` reads (instead of S3)."""

    def __init__(self) -> None:
        self.tables: dict[str, pa.Table] = {}
        self.reads: list[str] = []

    def add(self, hour: Hour, part: int, rows: list[Row]) -> tuple[str, str]:
        events_key = f"processed/events/{hour.partition}/part-{part:05d}.parquet"
        items_key = f"processed/event_items/{hour.partition}/part-{part:05d}.parquet"
        self.tables[events_key] = events_table(rows)
        self.tables[items_key] = items_table(rows)
        return events_key, items_key

    def read(self, key: str) -> pa.Table:
        self.reads.append(key)
        return self.tables[key]


# ---------------------------------------------------------------------------------------------
# The scenario most tests load: a day of a small shop, spread over several hours.

def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


H_PREVIOUS_DAY = Hour.parse("2026-03-01T23")  # a session on the day before
H_BEFORE = Hour.parse("2026-03-02T09")  # an earlier hour: events the main hour sees again
H_MAIN = Hour.parse("2026-03-02T10")  # the main hour, in two parts
H_LATE = Hour.parse("2026-03-03T05")  # late events for 2026-03-01
H_REFUND = Hour.parse("2026-03-04T08")  # a partial refund of the main hour's order


@dataclass
class Scenario:
    store: PartStore
    parts: dict[Hour, list[tuple[str, str]]]
    quarantine: dict[Hour, dict[tuple[str, str], int]]
    rows: dict[str, Row]  # by label: the versions the warehouse must keep

    @property
    def hours(self) -> list[Hour]:
        return sorted(self.parts)


def scenario() -> Scenario:
    """Every case the warehouse must get right, by name (see each comment)."""
    keep: dict[str, Row] = {}

    def k(label: str, row: Row) -> Row:
        keep[label] = row
        return row

    store = PartStore()
    parts: dict[Hour, list[tuple[str, str]]] = {}

    # 2026-03-01 23:xx: visitor H's session; a late event extends it in H_LATE.
    h = Visit("h", channel="organic_search", referrer_host="google.com")
    h1 = k("h1", h.event("h1", "page_view", at("2026-03-01T23:40:00"), path="/", page_view="h-1"))
    parts[H_PREVIOUS_DAY] = [store.add(H_PREVIOUS_DAY, 0, [h1])]

    # 09:55: visitor G, loaded in H_BEFORE; H_MAIN sees g1 again unchanged (natural duplicate
    # of an earlier hour's row) and g2 changed (synthetic), and g3 is new.
    g = Visit("g", device_class="mobile", browser="Safari", os="iOS")
    g1 = k("g1", g.event("g1", "page_view", at("2026-03-02T09:55:00"), path="/", page_view="g-1"))
    g2 = k("g2", g.event("g2", "page_view", at("2026-03-02T09:56:00"), path="/about", page_view="g-2"))
    parts[H_BEFORE] = [store.add(H_BEFORE, 0, [g1, g2])]
    g1_again = g1.copy(received_ts=at("2026-03-02T10:00:30"), received_hour=H_MAIN.start, request_id="req-g1-retry")
    g2_changed = g2.copy(payload="v2", received_ts=at("2026-03-02T10:00:31"), received_hour=H_MAIN.start,
                         request_id="req-g2-retry", page_title="Changed")
    g3 = k("g3", g.event("g3", "page_view", at("2026-03-02T10:05:00"), path="/contact", page_view="g-3"))

    # S1, visitor A: searches, views, carts, checks out and buys; signs in at checkout.
    a = Visit("a", channel="organic_search", referrer_host="google.com")
    a1 = k("a1", a.event("a1", "page_view", at("2026-03-02T10:00:00"), path="/", page_view="a-1"))
    a2 = k("a2", a.event("a2", "user_engagement", at("2026-03-02T10:00:30"), path="/", page_view="a-1",
                         engaged_ms=30_000))
    a3 = k("a3", a.event("a3", "page_view", at("2026-03-02T10:00:31"), path="/search", page_view="a-2"))
    a4 = k("a4", a.event("a4", "search", at("2026-03-02T10:00:31.500"), path="/search", page_view="a-2",
                         search_term="mug"))
    a5 = k("a5", a.event("a5", "page_view", at("2026-03-02T10:01:00"), path="/products/42", page_view="a-3"))
    mug = Item("42", price=12.5, item_name="Blue mug", item_category="Mugs")
    a6 = k("a6", a.event("a6", "view_item", at("2026-03-02T10:01:01"), path="/products/42", page_view="a-3",
                         items=(mug,)))
    a7 = k("a7", a.event("a7", "add_to_cart", at("2026-03-02T10:02:00"), path="/products/42", page_view="a-3",
                         items=(replace(mug, quantity=2),)))
    a8 = k("a8", a.event("a8", "begin_checkout", at("2026-03-02T10:03:00"), path="/checkout", page_view="a-3",
                         user_id="user-a", items=(replace(mug, quantity=2),)))
    # The purchase reaches the API twice (a retry): a natural duplicate across the parts. The
    # copy in part 1 arrived first, so it is kept, with its items (the copies' server-derived
    # event_time differs by a millisecond, which shows which one was kept).
    a9_late_copy = a.event("a9", "purchase", at("2026-03-02T10:04:00"), path="/checkout", page_view="a-3",
                           user_id="user-a", items=(replace(mug, quantity=2),), value=25.0, transaction_id="T1",
                           received=at("2026-03-02T10:04:09"))
    a9_late_copy.items = [{**i, "transaction_id": "T1"} for i in a9_late_copy.items]
    a9 = k("a9", a9_late_copy.copy(received_ts=at("2026-03-02T10:04:02"), request_id="req-a9-first",
                                   event_time=at("2026-03-02T10:04:00.001")))

    # S2, visitor B: one page, 3 s engaged: a bounce.
    b = Visit("b", device_class="mobile", browser="Safari", os="iOS")
    b1 = k("b1", b.event("b1", "page_view", at("2026-03-02T10:10:00"), path="/", page_view="b-1"))
    b2 = k("b2", b.event("b2", "user_engagement", at("2026-03-02T10:10:03"), path="/", page_view="b-1",
                         engaged_ms=3_000))

    # S3, visitor C (paid search): one page but 15 s engaged, so not a bounce; a search with no
    # product view after it. Its view_item reached the API twice with different payloads (a
    # synthetic duplicate): the earlier one is kept.
    c = Visit("c", channel="paid_search", referrer_host="google.com", utm_source="google", utm_medium="cpc",
              utm_campaign="spring")
    c1 = k("c1", c.event("c1", "page_view", at("2026-03-02T10:20:00"), path="/products/7", page_view="c-1"))
    cup = Item("7", price=8.0, item_name="Red cup", item_category="Cups")
    c2 = k("c2", c.event("c2", "view_item", at("2026-03-02T10:20:00.500"), path="/products/7", page_view="c-1",
                         items=(cup,), received=at("2026-03-02T10:20:01")))
    c2_other = c2.copy(payload="v2", received_ts=at("2026-03-02T10:20:05"), request_id="req-c2-other")
    c2_other.items = [{**i, "price": 9.0} for i in c2_other.items]
    c3 = k("c3", c.event("c3", "user_engagement", at("2026-03-02T10:20:15"), path="/products/7", page_view="c-1",
                         engaged_ms=15_000))
    c4 = k("c4", c.event("c4", "search", at("2026-03-02T10:20:20"), path="/products/7", page_view="c-1",
                         search_term="plate"))

    # S4: a bot; kept in events and sessions, left out of every rollup.
    d = Visit("bot", device_class="bot", browser="Googlebot", os=None, is_bot=True)
    d1 = k("d1", d.event("d1", "page_view", at("2026-03-02T10:30:00"), path="/", page_view="d-1"))
    d2 = k("d2", d.event("d2", "page_view", at("2026-03-02T10:30:01"), path="/products/42", page_view="d-2"))
    d3 = k("d3", d.event("d3", "view_item", at("2026-03-02T10:30:02"), path="/products/42", page_view="d-2",
                         items=(mug,)))

    # S5, visitor E (tablet, referral): the cart comes before the product view, so the funnel
    # stops at step 1; a search followed by a product view; a cart event makes it engaged.
    e = Visit("e", device_class="tablet", channel="referral", referrer_host="blog.example", browser="Firefox",
              os="Android", country="DE")
    e1 = k("e1", e.event("e1", "page_view", at("2026-03-02T10:40:00"), path="/products/7", page_view="e-1"))
    e2 = k("e2", e.event("e2", "search", at("2026-03-02T10:40:01"), path="/products/7", page_view="e-1",
                         search_term="cup"))
    e3 = k("e3", e.event("e3", "add_to_cart", at("2026-03-02T10:40:05"), path="/products/7", page_view="e-1",
                         items=(cup,)))
    e4 = k("e4", e.event("e4", "view_item", at("2026-03-02T10:40:10"), path="/products/7", page_view="e-1",
                         items=(cup,)))
    e5 = k("e5", e.event("e5", "begin_checkout", at("2026-03-02T10:40:20"), path="/checkout", page_view="e-1",
                         items=(cup,)))

    # S6, visitor F: view_item and add_to_cart in the same millisecond: not strictly ordered.
    f = Visit("f")
    plate = Item("9", price=5.5, item_name="Plate", item_category="Plates")
    f1 = k("f1", f.event("f1", "page_view", at("2026-03-02T10:50:00"), path="/products/9", page_view="f-1"))
    f2 = k("f2", f.event("f2", "view_item", at("2026-03-02T10:50:01"), path="/products/9", page_view="f-1",
                         items=(plate,)))
    f3 = k("f3", f.event("f3", "add_to_cart", at("2026-03-02T10:50:01"), path="/products/9", page_view="f-1",
                         items=(plate,)))

    parts[H_MAIN] = [
        store.add(H_MAIN, 0, [a1, a2, a3, a4, a5, a6, a7, a8, a9_late_copy, b1, b2, c2, g1_again, g3]),
        store.add(H_MAIN, 1, [a9, c1, c2_other, c3, c4, d1, d2, d3, e1, e2, e3, e4, e5, f1, f2, f3, g2_changed]),
    ]

    # H_LATE: a late event extends visitor H's session of 2026-03-01, and visitor C turns out
    # to have visited on 2026-03-01 already (C's first visit moves a day earlier).
    h2 = k("h2", h.event("h2", "page_view", at("2026-03-01T23:59:00"), path="/products/7", page_view="h-2",
                         received=at("2026-03-03T05:10:00")))
    c_early = Visit("c-early", anonymous_id=c.anonymous_id, channel="direct")
    c0 = k("c0", c_early.event("c0", "page_view", at("2026-03-01T12:00:00"), path="/", page_view="c-0",
                               received=at("2026-03-03T05:20:00")))
    parts[H_LATE] = [store.add(H_LATE, 0, [h2, c0])]

    # H_REFUND: visitor A, signed in, returns one of the two mugs of order T1.
    a_back = Visit("a-back", anonymous_id=a.anonymous_id)
    r1 = a_back.event("r1", "refund", at("2026-03-04T08:00:00"), path="/account", page_view="r-1",
                      user_id="user-a", items=(replace(mug, quantity=1),), value=12.5, transaction_id="T1")
    r1.items = [{**i, "transaction_id": "T1"} for i in r1.items]
    k("r1", r1)
    parts[H_REFUND] = [store.add(H_REFUND, 0, [r1])]

    quarantine = {hour: {} for hour in parts}
    quarantine[H_MAIN] = {("clean", "synthetic_duplicate"): 1, ("ingest", "invalid_event_name"): 2}
    return Scenario(store, parts, quarantine, keep)


def load_and_refresh(conn: psycopg2.extensions.connection, sc: Scenario, hours: list[Hour] | None = None,
                     **load_kwargs: Any) -> None:
    from clickstream.warehouse.load import load_hour
    from clickstream.warehouse.rollups import refresh

    for hour in hours or sc.hours:
        load_hour(conn, hour, f"run-{hour}", sc.parts[hour], read_table=sc.store.read,
                  quarantine_counts=sc.quarantine[hour], **load_kwargs)
        refresh(conn, hour, f"run-{hour}")
