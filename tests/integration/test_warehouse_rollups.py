"""Derived tables and rollups equal what an independent Python model computes from the same
events, after every hour (incremental rebuilds, a late event for an earlier day, a refund days
later), and the definitions the dashboard relies on hold on hand-checked cases."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg2.extensions
import pytest

from clickstream.warehouse.rollups import DERIVED_TABLES, ROLLUP_TABLES, rebuild_all, refresh
from tests.integration.conftest_warehouse import (
    H_LATE,
    H_MAIN,
    H_REFUND,
    checksums,
    load_and_refresh,
    rows,
    scenario,
)

pytest_plugins = ["tests.integration.conftest_warehouse"]

# The definitions, restated for the model (not imported from the code under test).
COMMERCE = {"add_to_cart", "remove_from_cart", "view_cart", "begin_checkout", "add_payment_info", "purchase"}
FUNNEL = ("view_item", "add_to_cart", "begin_checkout", "purchase")
DURATION_BOUNDS = [10, 30, 60, 180, 600, 1800]
DURATION_LABELS = ["0-10 s", "10-30 s", "30-60 s", "1-3 min", "3-10 min", "10-30 min", "30+ min"]
NOT_SET = "(not set)"

Record = dict[str, Any]


def money(value: float | None) -> Decimal | None:
    # PostgreSQL turns float8 into numeric with 15 significant digits.
    return None if value is None else Decimal(format(value, ".15g"))


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def order_key(e: Record) -> tuple:
    return (e["event_time"], e["event_seq"], e["event_id"])


def ns(value: str | None) -> str:
    return NOT_SET if value is None else value


class Model:
    """Everything refresh maintains, computed row by row in Python from events and items."""

    def __init__(self, events: list[Record], items: list[Record]) -> None:
        self.events = sorted(events, key=order_key)
        self.items_of: dict[str, list[Record]] = defaultdict(list)
        for item in sorted(items, key=lambda i: (i["event_id"], i["item_position"])):
            self.items_of[item["event_id"]].append(item)
        self.by_session: dict[str, list[Record]] = defaultdict(list)
        for e in self.events:
            self.by_session[e["session_id"]].append(e)
        self.page_views = self._page_views()
        self.orders = self._orders()
        self.sessions = self._sessions()
        self.users = self._users()
        self.visitors = self._visitors()

    # -- derived tables -----------------------------------------------------------------------
    def _page_views(self) -> list[Record]:
        out = []
        for sid, evs in self.by_session.items():
            first_by_key: dict[str, Record] = {}
            for e in evs:
                if e["event_name"] == "page_view":
                    first_by_key.setdefault(e["page_view_id"] or e["event_id"], e)
            views = sorted(first_by_key.items(), key=lambda kv: order_key(kv[1]))
            for n, (key, e) in enumerate(views, 1):
                engaged = sum(x["engaged_ms"] for x in evs if x["page_view_id"] == key and x["engaged_ms"] is not None)
                out.append({"session_id": sid, "page_view_id": key, "event_id": e["event_id"],
                            "visitor_id": e["visitor_id"], "path": e["page_path"], "title": e["page_title"],
                            "viewed_at": e["event_time"], "view_number": n, "is_entry": n == 1,
                            "is_exit": n == len(views), "engaged_ms": engaged, "view_date": e["event_date"]})
        return out

    def _amount(self, event_id: str) -> Decimal | None:
        priced = [money(i["price"]) * i["quantity"] for i in self.items_of[event_id] if i["price"] is not None]
        return sum(priced, Decimal(0)) if priced else None

    def _orders(self) -> list[Record]:
        purchases: dict[str, list[Record]] = defaultdict(list)
        refunds: dict[str, list[Record]] = defaultdict(list)
        for e in self.events:
            if e["transaction_id"] and e["event_name"] == "purchase":
                purchases[e["transaction_id"]].append(e)
            elif e["transaction_id"] and e["event_name"] == "refund":
                refunds[e["transaction_id"]].append(e)
        out = []
        for tid, ps in purchases.items():
            p = ps[0]
            gross = money(p["value"]) if p["value"] is not None else (self._amount(p["event_id"]) or Decimal(0))
            refund = Decimal(0)
            if refunds[tid]:
                refund = min(gross, sum((money(r["value"]) if r["value"] is not None
                                         else self._amount(r["event_id"]) if self._amount(r["event_id"]) is not None
                                         else gross) for r in refunds[tid]))
            out.append({"order_id": tid, "event_id": p["event_id"], "session_id": p["session_id"],
                        "visitor_id": p["visitor_id"], "user_id": p["user_id"], "ordered_at": p["event_time"],
                        "order_date": p["event_date"], "currency": p["currency"], "gross_revenue": gross,
                        "refund_amount": refund, "revenue": gross - refund, "item_count": p["item_count"],
                        "quantity": sum(i["quantity"] for i in self.items_of[p["event_id"]]),
                        "refunded": bool(refunds[tid]),
                        "refunded_at": min((r["event_time"] for r in refunds[tid]), default=None)})
        return out

    def _sessions(self) -> list[Record]:
        out = []
        for sid, evs in self.by_session.items():
            first, last = evs[0], evs[-1]
            user_id = next((e["user_id"] for e in evs if e["user_id"]), None)
            views = sorted((v for v in self.page_views if v["session_id"] == sid), key=lambda v: v["view_number"])
            engaged = sum(e["engaged_ms"] or 0 for e in evs)
            has_commerce = any(e["event_name"] in COMMERCE for e in evs)
            step, after = 0, None
            for name in FUNNEL:
                times = [e["event_time"] for e in evs if e["event_name"] == name and (after is None or e["event_time"] > after)]
                if not times:
                    break
                step, after = step + 1, min(times)
            orders = [o for o in self.orders if o["session_id"] == sid]
            started, ended = first["event_time"], max(e["event_time"] for e in evs)
            out.append({
                "session_id": sid, "visitor_id": user_id or first["anonymous_id"], "user_id": user_id,
                "anonymous_id": first["anonymous_id"], "started_at": started, "ended_at": ended,
                "duration_s": Decimal(str((ended - started).total_seconds())).quantize(Decimal("0.001")),
                "event_count": len(evs), "page_views": len(views), "engaged_ms": engaged,
                "is_bounce": len(views) <= 1 and not has_commerce and engaged < 10_000,
                "is_single_page": len(views) == 1,
                "landing_path": views[0]["path"] if views else first["page_path"],
                "second_path": views[1]["path"] if len(views) > 1 else None,
                "exit_path": views[-1]["path"] if views else last["page_path"],
                "referrer_host": first["referrer_host"], "channel": first["channel"],
                "utm_source": first["utm_source"], "utm_medium": first["utm_medium"],
                "utm_campaign": first["utm_campaign"], "device_class": first["device_class"],
                "browser": first["browser"], "os": first["os"], "country": first["country"],
                "is_bot": any(e["is_bot"] for e in evs), "has_purchase": any(e["event_name"] == "purchase" for e in evs),
                "orders": len(orders), "revenue": sum((o["revenue"] for o in orders), Decimal(0)),
                "funnel_step": step, "session_date": started.date(),
            })
        return out

    def _users(self) -> list[Record]:
        by_anon: dict[str, list[Record]] = defaultdict(list)
        for s in sorted(self.sessions, key=lambda s: (s["started_at"], s["session_id"])):
            by_anon[s["anonymous_id"]].append(s)
        return [{"anonymous_id": anon, "user_id": next((s["user_id"] for s in ss if s["user_id"]), None),
                 "first_seen_at": ss[0]["started_at"], "last_seen_at": max(s["ended_at"] for s in ss),
                 "sessions": len(ss), "first_session_id": ss[0]["session_id"], "first_channel": ss[0]["channel"],
                 "first_referrer_host": ss[0]["referrer_host"], "first_utm_source": ss[0]["utm_source"],
                 "first_utm_medium": ss[0]["utm_medium"], "first_utm_campaign": ss[0]["utm_campaign"]}
                for anon, ss in by_anon.items()]

    def _visitors(self) -> list[Record]:
        human = {s["session_id"] for s in self.sessions if not s["is_bot"]}
        by_visitor: dict[str, list[Record]] = defaultdict(list)
        for e in self.events:
            if e["session_id"] in human:
                by_visitor[e["visitor_id"]].append(e)
        return [{"visitor_id": v, "first_seen_at": evs[0]["event_time"], "first_seen_date": evs[0]["event_date"],
                 "cohort_week": monday(evs[0]["event_date"]), "first_session_id": evs[0]["session_id"],
                 "last_seen_at": max(e["event_time"] for e in evs)} for v, evs in by_visitor.items()]

    # -- rollups ----------------------------------------------------------------------------------
    def session(self, sid: str) -> Record:
        return next(s for s in self.sessions if s["session_id"] == sid)

    def seg(self, sid: str) -> tuple[str, str, str]:
        s = self.session(sid)
        return s["device_class"], s["channel"], ns(s["country"])

    def human_sessions(self) -> list[Record]:
        return [s for s in self.sessions if not s["is_bot"]]

    def human_events(self) -> list[Record]:
        human = {s["session_id"] for s in self.human_sessions()}
        return [e for e in self.events if e["session_id"] in human]

    def visitor(self, vid: str) -> Record:
        return next(v for v in self.visitors if v["visitor_id"] == vid)

    def agg_visitor_days(self) -> list[Record]:
        keys = {(e["event_date"], e["visitor_id"], *self.seg(e["session_id"])) for e in self.human_events()}
        return [{"day": d, "visitor_id": v, "device_class": dc, "channel": ch, "country": co,
                 "is_new": self.visitor(v)["first_seen_date"] == d} for d, v, dc, ch, co in keys]

    def _traffic(self, bucket: Callable[[datetime], Any], first_seen_in: Callable[[Record, Any], bool]) -> dict:
        acc: dict[tuple, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        visitors: dict[tuple, set] = defaultdict(set)
        new: dict[tuple, set] = defaultdict(set)
        for e in self.human_events():
            key = (bucket(e["event_time"]), *self.seg(e["session_id"]))
            acc[key]["events"] += 1
            visitors[key].add(e["visitor_id"])
            if first_seen_in(self.visitor(e["visitor_id"]), key[0]):
                new[key].add(e["visitor_id"])
        for s in self.human_sessions():
            a = acc[(bucket(s["started_at"]), *self.seg(s["session_id"]))]
            a["sessions"] += 1
            a["engaged_sessions"] += not s["is_bounce"]
            a["bounces"] += s["is_bounce"]
            a["single_page_sessions"] += s["is_single_page"]
            a["total_duration_s"] += s["duration_s"]
            a["engaged_ms"] += s["engaged_ms"]
        for v in self.page_views:
            if not self.session(v["session_id"])["is_bot"]:
                acc[(bucket(v["viewed_at"]), *self.seg(v["session_id"]))]["page_views"] += 1
        for o in self.orders:
            if not self.session(o["session_id"])["is_bot"]:
                a = acc[(bucket(o["ordered_at"]), *self.seg(o["session_id"]))]
                a["orders"] += 1
                a["revenue"] += o["revenue"]
        for key, a in acc.items():
            a["visitors"], a["new_visitors"] = len(visitors[key]), len(new[key])
        return acc

    METRICS = ("visitors", "new_visitors", "sessions", "engaged_sessions", "bounces", "single_page_sessions",
               "page_views", "events", "total_duration_s", "engaged_ms", "orders", "revenue")

    def agg_traffic_hourly(self) -> list[Record]:
        acc = self._traffic(hour_of, lambda v, h: hour_of(v["first_seen_at"]) == h)
        return [{"hour": h, "day": h.date(), "device_class": dc, "channel": ch, "country": co,
                 **{m: a[m] for m in self.METRICS}} for (h, dc, ch, co), a in acc.items()]

    def agg_traffic_daily(self) -> list[Record]:
        acc = self._traffic(lambda t: t.date(), lambda v, d: v["first_seen_date"] == d)
        return [{"day": d, "device_class": dc, "channel": ch, "country": co, **{m: a[m] for m in self.METRICS}}
                for (d, dc, ch, co), a in acc.items()]

    def _group(self, records: Iterable[Record], key: Callable[[Record], tuple], **metrics: Callable) -> list[tuple]:
        groups: dict[tuple, list[Record]] = defaultdict(list)
        for r in records:
            groups[key(r)].append(r)
        return [(*k, *(f(rs) for f in metrics.values())) for k, rs in groups.items()]

    def agg_sources_daily(self) -> list[tuple]:
        firsts = Counter(v["first_session_id"] for v in self.visitors)
        return self._group(
            self.human_sessions(),
            lambda s: (s["session_date"], *self.seg(s["session_id"]), ns(s["utm_source"]), ns(s["utm_medium"]),
                       ns(s["utm_campaign"]), ns(s["referrer_host"])),
            sessions=len, visitors=lambda ss: len({s["visitor_id"] for s in ss}),
            new_visitors=lambda ss: sum(firsts[s["session_id"]] for s in ss),
            engaged=lambda ss: sum(not s["is_bounce"] for s in ss), bounces=lambda ss: sum(s["is_bounce"] for s in ss),
            page_views=lambda ss: sum(s["page_views"] for s in ss),
            duration=lambda ss: sum(s["duration_s"] for s in ss), orders=lambda ss: sum(s["orders"] for s in ss),
            revenue=lambda ss: sum(s["revenue"] for s in ss))

    def agg_pages_daily(self) -> list[tuple]:
        views = [v for v in self.page_views if not self.session(v["session_id"])["is_bot"]]
        grouped = self._group(
            views, lambda v: (v["view_date"], *self.seg(v["session_id"]), ns(v["path"])),
            title=lambda vs: ns(max((v["title"] for v in vs if v["title"] is not None), default=None)),
            views=len, visitors=lambda vs: len({v["visitor_id"] for v in vs}),
            entries=lambda vs: sum(v["is_entry"] for v in vs), exits=lambda vs: sum(v["is_exit"] for v in vs),
            engaged=lambda vs: sum(v["engaged_ms"] for v in vs))
        return grouped

    def agg_devices_daily(self) -> list[tuple]:
        return self._group(
            self.human_sessions(),
            lambda s: (s["session_date"], *self.seg(s["session_id"]), ns(s["browser"]), ns(s["os"])),
            sessions=len, visitors=lambda ss: len({s["visitor_id"] for s in ss}),
            engaged=lambda ss: sum(not s["is_bounce"] for s in ss), bounces=lambda ss: sum(s["is_bounce"] for s in ss),
            page_views=lambda ss: sum(s["page_views"] for s in ss),
            duration=lambda ss: sum(s["duration_s"] for s in ss), orders=lambda ss: sum(s["orders"] for s in ss),
            revenue=lambda ss: sum(s["revenue"] for s in ss))

    def agg_products_daily(self) -> list[Record]:
        acc: dict[tuple, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        names: dict[tuple, list] = defaultdict(list)
        for e in self.human_events():
            if e["event_name"] in ("view_item", "add_to_cart"):
                for i in self.items_of[e["event_id"]]:
                    key = (i["event_date"], *self.seg(i["session_id"]), i["item_id"])
                    acc[key]["views" if e["event_name"] == "view_item" else "add_to_carts"] += 1
                    names[key].append(i)
        refunds = [e for e in self.events if e["event_name"] == "refund"]
        for o in self.orders:
            if self.session(o["session_id"])["is_bot"]:
                continue
            mine = [r for r in refunds if r["transaction_id"] == o["order_id"]]
            whole = any(r["item_count"] == 0 for r in mine)
            lines: dict[str, list[Record]] = defaultdict(list)
            for i in self.items_of[o["event_id"]]:
                lines[i["item_id"]].append(i)
            for item_id, its in lines.items():
                key = (o["order_date"], *self.seg(o["session_id"]), item_id)
                quantity = sum(i["quantity"] for i in its)
                gross = sum((money(i["price"]) * i["quantity"] for i in its if i["price"] is not None), Decimal(0))
                returned = sum(i["quantity"] for r in mine for i in self.items_of[r["event_id"]] if i["item_id"] == item_id)
                refunded = quantity if whole else min(quantity, returned)
                a = acc[key]
                a["purchases"] += 1
                a["quantity"] += quantity
                a["refunded_quantity"] += refunded
                a["gross_revenue"] += gross
                a["revenue"] += gross - (round(gross * refunded / quantity, 4) if quantity else 0)
                names[key] += its
        return [{"day": k[0], "device_class": k[1], "channel": k[2], "country": k[3], "item_id": k[4],
                 "item_name": ns(max((i["item_name"] for i in names[k] if i["item_name"]), default=None)),
                 "item_category": ns(max((i["item_category"] for i in names[k] if i["item_category"]), default=None)),
                 **{m: a[m] for m in ("views", "add_to_carts", "purchases", "quantity", "refunded_quantity",
                                      "gross_revenue", "revenue")}} for k, a in acc.items()]

    def agg_funnel_daily(self) -> list[tuple]:
        return self._group(self.human_sessions(), lambda s: (s["session_date"], *self.seg(s["session_id"])),
                           sessions=len, **{name: (lambda step: lambda ss: sum(s["funnel_step"] >= step for s in ss))(n)
                                            for n, name in enumerate(FUNNEL, 1)})

    def agg_searches_daily(self) -> list[tuple]:
        def later(e: Record, name: str) -> bool:
            return any(x["event_name"] == name and x["event_time"] > e["event_time"] for x in self.by_session[e["session_id"]])

        searches = [e for e in self.human_events() if e["event_name"] == "search" and e["search_term"]]
        return self._group(searches, lambda e: (e["event_date"], *self.seg(e["session_id"]), e["search_term"]),
                           searches=len, sessions=lambda es: len({e["session_id"] for e in es}),
                           viewed=lambda es: sum(later(e, "view_item") for e in es),
                           bought=lambda es: sum(later(e, "purchase") for e in es))

    def agg_session_durations_daily(self) -> list[tuple]:
        def bucket(s: Record) -> int:
            return bisect.bisect_right(DURATION_BOUNDS, s["duration_s"])

        grouped = self._group(self.human_sessions(), lambda s: (s["session_date"], *self.seg(s["session_id"]), bucket(s)),
                              sessions=len, bounces=lambda ss: sum(s["is_bounce"] for s in ss),
                              page_views=lambda ss: sum(s["page_views"] for s in ss))
        return [(*g[:5], DURATION_LABELS[g[4]], *g[5:]) for g in grouped]

    def agg_landing_paths_daily(self) -> list[tuple]:
        return self._group(
            self.human_sessions(),
            lambda s: (s["session_date"], *self.seg(s["session_id"]), ns(s["landing_path"]), s["second_path"] or "(none)"),
            sessions=len, bounces=lambda ss: sum(s["is_bounce"] for s in ss),
            orders=lambda ss: sum(s["orders"] for s in ss), revenue=lambda ss: sum(s["revenue"] for s in ss))

    def agg_retention_weekly(self) -> list[tuple]:
        active = {(v["visitor_id"], monday(v["day"])) for v in self.agg_visitor_days()}
        records = []
        for vid, week in active:
            visitor = self.visitor(vid)
            records.append((visitor["cohort_week"], week, (week - visitor["cohort_week"]).days // 7,
                            *self.seg(visitor["first_session_id"]), vid))
        return self._group(records, lambda r: r[:6], active=lambda rs: len({r[6] for r in rs}))


def _as_rows(records: list[Any], columns: list[str]) -> Counter:
    return Counter(tuple(r[c] for c in columns) if isinstance(r, dict) else tuple(r) for r in records)


def assert_warehouse_matches_model(conn: psycopg2.extensions.connection) -> Model:
    model = Model(rows(conn, "events"), rows(conn, "event_items"))
    for table in (*DERIVED_TABLES, *ROLLUP_TABLES):
        actual = rows(conn, table)
        columns = list(actual[0]) if actual else []
        expected = getattr(model, table if table.startswith("agg_") else table)
        expected = expected() if callable(expected) else expected
        assert _as_rows(actual, columns) == _as_rows(expected, columns), table
        assert actual or not expected, table
    return model


def test_every_derived_table_and_rollup_matches_the_model_after_every_hour(
        wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    for hour in sc.hours:
        load_and_refresh(wh_conn, sc, [hour])
        assert_warehouse_matches_model(wh_conn)


def test_definitions_on_hand_checked_cases(wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    load_and_refresh(wh_conn, sc, [h for h in sc.hours if h != H_REFUND])
    sid = {label: sc.rows[label].event["session_id"] for label in ("a1", "b1", "c1", "d1", "e1", "f1", "g1")}
    sessions = {s["session_id"]: s for s in rows(wh_conn, "sessions")}
    # bounce: one page, 3 s engaged; not a bounce: one page but 15 s; one page with a cart event
    assert sessions[sid["b1"]]["is_bounce"] and sessions[sid["b1"]]["is_single_page"]
    assert not sessions[sid["c1"]]["is_bounce"] and sessions[sid["c1"]]["is_single_page"]
    assert not sessions[sid["e1"]]["is_bounce"]
    # funnel strictly ordered: the full path; cart before view; view and cart in the same millisecond
    assert [sessions[sid[k]]["funnel_step"] for k in ("a1", "e1", "f1")] == [4, 1, 1]
    # the signed-in purchase makes user-a the session's visitor; the bot is kept in sessions
    assert sessions[sid["a1"]]["visitor_id"] == "user-a"
    assert sessions[sid["d1"]]["is_bot"]
    # the earlier hour's session was extended by the main hour
    assert sessions[sid["g1"]]["page_views"] == 3 and sessions[sid["g1"]]["exit_path"] == "/contact"
    # bots are in no rollup
    for table in ROLLUP_TABLES:
        if table != "agg_retention_weekly":
            assert not [r for r in rows(wh_conn, table) if r["device_class"] == "bot"], table
    # the order before its refund
    order = rows(wh_conn, "orders")[0]
    assert (order["gross_revenue"], order["revenue"], order["refunded"]) == (25, 25, False)
    # searches: followed by a product view and a purchase / by nothing / by a view only
    searches = {r["search_term"]: (r["searches"], r["with_view_item"], r["with_purchase"])
                for r in rows(wh_conn, "agg_searches_daily")}
    assert searches == {"mug": (1, 1, 1), "plate": (1, 0, 0), "cup": (1, 1, 0)}
    # product: the bot's view of the mug does not count
    mug = next(r for r in rows(wh_conn, "agg_products_daily") if r["item_id"] == "42")
    assert (mug["views"], mug["add_to_carts"], mug["purchases"], mug["quantity"], mug["revenue"]) == (1, 1, 1, 2, 25)


def test_a_late_event_rebuilds_its_earlier_day(wh_conn: psycopg2.extensions.connection) -> None:
    # GIVEN the hours up to the main one loaded and refreshed
    sc = scenario()
    load_and_refresh(wh_conn, sc, [h for h in sc.hours if h < H_LATE])
    day1 = date(2026, 3, 1)
    before = {r["day"]: r for r in _daily_totals(wh_conn)}
    assert before[day1]["page_views"] == 1
    # WHEN an hour two days later brings a late page view of 2026-03-01 and an earlier visit of C
    from clickstream.warehouse.load import load_hour

    load_hour(wh_conn, H_LATE, "late", sc.parts[H_LATE], read_table=sc.store.read, quarantine_counts={})
    result = refresh(wh_conn, H_LATE, "late")
    # THEN 2026-03-01 is rebuilt (h's session grew, C's new session), and so is 2026-03-02,
    # where C stopped being a new visitor
    assert result.days_rebuilt == ["2026-03-01", "2026-03-02"]
    assert result.sessions_rebuilt == 2
    after = {r["day"]: r for r in _daily_totals(wh_conn)}
    assert after[day1]["page_views"] == 3 and after[day1]["sessions"] == 2
    assert after[date(2026, 3, 2)]["new_visitors"] == before[date(2026, 3, 2)]["new_visitors"] - 1
    assert_warehouse_matches_model(wh_conn)


def test_a_refund_days_later_lowers_the_order_day_revenue(wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    load_and_refresh(wh_conn, sc, [h for h in sc.hours if h != H_REFUND])
    day = date(2026, 3, 2)
    assert {r["day"]: r["revenue"] for r in _daily_totals(wh_conn)}[day] == 25
    load_and_refresh(wh_conn, sc, [H_REFUND])
    assert {r["day"]: r["revenue"] for r in _daily_totals(wh_conn)}[day] == Decimal("12.5")
    order = rows(wh_conn, "orders")[0]
    assert (order["refund_amount"], order["revenue"], order["refunded"]) == (Decimal("12.5"), Decimal("12.5"), True)
    mug = next(r for r in rows(wh_conn, "agg_products_daily") if r["item_id"] == "42")
    assert (mug["quantity"], mug["refunded_quantity"], mug["gross_revenue"], mug["revenue"]) == (2, 1, 25, Decimal("12.5"))


def test_refreshing_again_or_rebuilding_everything_changes_nothing(wh_conn: psycopg2.extensions.connection) -> None:
    sc = scenario()
    load_and_refresh(wh_conn, sc)
    once = checksums(wh_conn)
    for hour in sc.hours:
        refresh(wh_conn, hour, "again")
    assert checksums(wh_conn) == once
    result = rebuild_all(wh_conn)
    assert result.days_rebuilt == ["2026-03-01", "2026-03-02", "2026-03-04"]
    assert checksums(wh_conn) == once


def test_an_hour_with_nothing_new_rebuilds_nothing(wh_conn: psycopg2.extensions.connection) -> None:
    result = refresh(wh_conn, H_MAIN, "nothing-loaded")
    assert (result.sessions_rebuilt, result.days_rebuilt) == (0, [])


def _daily_totals(conn: psycopg2.extensions.connection) -> list[dict[str, Any]]:
    totals: dict[date, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for r in rows(conn, "agg_traffic_daily"):
        for k in ("sessions", "page_views", "new_visitors", "revenue"):
            totals[r["day"]][k] += r[k]
    return [{"day": d, **t} for d, t in totals.items()]


@pytest.mark.parametrize("table", ROLLUP_TABLES)
def test_rollup_tables_are_documented(wh_conn: psycopg2.extensions.connection, table: str) -> None:
    # The dashboard shows these comments as the metrics' definitions.
    with wh_conn.cursor() as cur:
        cur.execute("SELECT obj_description(%s::regclass, 'pg_class')", (table,))
        assert len(cur.fetchone()[0] or "") > 40
    wh_conn.rollback()
