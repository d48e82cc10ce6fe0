"""One function per metric block of the dashboard, over the warehouse rollups.

Each function takes the `Filters` and returns a dict of numbers or a pandas DataFrame. The
SQL is in `sql/dashboard.sql` (named queries) and always parameterised: filter values are
bound by psycopg2, never formatted into the text; the only identifier that varies (the
funnel's split column) comes from a fixed list.

`Dashboard` owns a few read-only connections to the warehouse. It raises
`DashboardUnavailable` (with the setting to check) when the database cannot be reached and
`DashboardNotReady` when the schema is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from clickstream.dashboard.filters import MAX_DAYS, SEGMENTS, Filters
from clickstream.errors import ClickstreamError, ConfigurationError
from clickstream.settings import Env
from clickstream.warehouse.db import connect, describe
from clickstream.warehouse.errors import WarehouseUnavailable
from clickstream.warehouse.queries import parse

STATEMENT_TIMEOUT_S = 30  # a dashboard query that takes longer is a bug, not a wait
POOL_SIZE = 4
TOP = 20  # rows of the "top" tables
SOURCES_TOP = 50  # source rows the traffic page reads (its channel chart sums them)
PATHS_TOP = 12  # landing paths on the behaviour page
RUNS_SHOWN = 48  # pipeline runs on the pipeline-health page
DEFAULT_SPLIT = "device_class"  # the funnel page's split before the user picks another
FUNNEL_STEPS = ("view_item", "add_to_cart", "begin_checkout", "purchase")
SPLITS = {"device_class": "Device class", "channel": "Channel", "country": "Country"}


class DashboardError(ClickstreamError):
    """A page cannot be answered; the message says what to do."""


class DashboardUnavailable(DashboardError):
    pass


class DashboardNotReady(DashboardError):
    pass


@cache
def queries() -> dict[str, str]:
    text = resources.files(__package__).joinpath("sql", "dashboard.sql").read_text(encoding="utf-8")
    return parse(text)


def query(name: str) -> str:
    try:
        return queries()[name]
    except KeyError:
        raise KeyError(f"no query {name!r} in dashboard/sql/dashboard.sql") from None


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def sentences(*parts: str) -> str:
    """Parts (and the lines of a part) joined as sentences on one line: a full stop only where
    one does not already end (a driver's error text may end in '.', '?' or a line break; never
    '?.' or '..')."""
    out = ""
    for part in parts:
        for line in str(part).splitlines():
            line = " ".join(line.split())
            if not line:
                continue
            if out:
                out += " " if out.endswith((".", "?", "!", ":")) else ". "
            out += line
    return out


def _ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    return None if not denominator else float(numerator or 0) / float(denominator)


class Dashboard:
    """The dashboard's queries against one warehouse URL."""

    def __init__(self, database_url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.database_url = database_url
        self.pool_size = pool_size
        self._idle: list[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()

    # ---- connections

    def _connect(self) -> psycopg2.extensions.connection:
        try:
            conn = connect(self.database_url, application_name="clickstream-dashboard",
                           statement_timeout_s=STATEMENT_TIMEOUT_S)
        except WarehouseUnavailable as exc:
            raise DashboardUnavailable(sentences(
                str(exc), f"Check {Env.DATABASE_URL} (or {Env.DATABASE_SECRET_ARN} on AWS) and that PostgreSQL is "
                "running (`make run` starts one locally)."
            )) from None
        except ConfigurationError as exc:
            raise DashboardUnavailable(str(exc)) from None
        conn.set_session(readonly=True, autocommit=True)
        return conn

    @contextmanager
    def _cursor(self) -> Iterator[psycopg2.extensions.cursor]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = self._connect()
        try:
            with conn.cursor() as cur:
                yield cur
        except psycopg2.errors.UndefinedTable as exc:
            conn.close()
            detail = " ".join((exc.diag.message_primary or str(exc)).split())
            raise DashboardNotReady(
                f"the warehouse at {describe(self.database_url)} has no dashboard tables ({detail}): "
                "run the migrations (`clickstream local up` does) and load data (`clickstream demo seed`)."
            ) from None
        except psycopg2.OperationalError as exc:
            conn.close()
            detail = " ".join(str(exc).split())
            raise DashboardUnavailable(
                f"the warehouse {describe(self.database_url)} stopped answering ({detail}). "
                f"Check {Env.DATABASE_URL} and that PostgreSQL is running."
            ) from None
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def frame(self, name: str, params: dict[str, Any], *, statement: Any = None) -> pd.DataFrame:
        with self._cursor() as cur:
            cur.execute(statement if statement is not None else query(name), params)
            columns = [d.name for d in cur.description]
            rows = [[_plain(v) for v in row] for row in cur.fetchall()]
        return pd.DataFrame(rows, columns=columns)

    def row(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        frame = self.frame(name, params)
        return {k: _plain(v) for k, v in frame.iloc[0].to_dict().items()} if len(frame) else {}

    # ---- data present?

    def data_extent(self) -> dict[str, Any]:
        """{first_day, last_day} of the traffic rollup; both None when nothing is loaded yet."""
        return self.row("data_extent", {})

    def segment_values(self) -> dict[str, list[str]]:
        frame = self.frame("segment_values", {})
        return {dim: sorted(frame.loc[frame.dimension == dim, "value"].tolist()) for dim in SEGMENTS}

    # ---- Traffic

    def traffic_kpis(self, f: Filters) -> dict[str, Any]:
        t = self.row("traffic_totals", f.params())
        # agg_visitor_returns answers ranges of up to MAX_DAYS (all the filters allow) from a few rows
        v = self.row("visitor_totals" if f.days <= MAX_DAYS else "visitor_totals_long", f.params())
        return {
            "visitors": int(v["visitors"]),
            "new_visitors": int(v["new_visitors"]),
            "sessions": int(t["sessions"]),
            "page_views": int(t["page_views"]),
            "events": int(t["events"]),
            "bounces": int(t["bounces"]),
            "bounce_rate": _ratio(t["bounces"], t["sessions"]),
            "avg_session_duration_s": _ratio(t["total_duration_s"], t["sessions"]),
            "orders": int(t["orders"]),
            "revenue": float(t["revenue"]),
            "pages_per_session": _ratio(t["page_views"], t["sessions"]),
            "events_per_session": _ratio(t["events"], t["sessions"]),
            "engagement_s_per_session": _ratio(float(t["engaged_ms"]) / 1000, t["sessions"]),
        }

    def traffic_trend(self, f: Filters) -> pd.DataFrame:
        """Per day (per hour for ranges of up to 2 days): sessions, page_views, bounces, and
        `offset` (days or hours from the start) to overlay the previous period."""
        if f.days <= 2:
            frame = self.frame("traffic_hourly", f.params())
            start = pd.Timestamp(f.start, tz="UTC")
            frame["offset"] = [int((pd.Timestamp(h) - start) / pd.Timedelta(hours=1)) for h in frame["hour"]]
            frame = frame.rename(columns={"hour": "at"})
        else:
            frame = self.frame("traffic_daily", f.params())
            visitors = self.frame("visitors_daily", f.params())
            frame = frame.merge(visitors, on="day", how="left").fillna({"visitors": 0})
            frame["offset"] = [(d - f.start).days for d in frame["day"]]
            frame = frame.rename(columns={"day": "at"})
        frame["bounce_rate"] = [_ratio(b, s) for b, s in zip(frame["bounces"], frame["sessions"], strict=True)]
        return frame

    def sources(self, f: Filters, limit: int = TOP) -> pd.DataFrame:
        frame = self.frame("sources", f.params(limit=limit))
        frame["bounce_rate"] = [_ratio(b, s) for b, s in zip(frame["bounces"], frame["sessions"], strict=True)]
        return frame

    def top_pages(self, f: Filters, limit: int = TOP) -> pd.DataFrame:
        """Top pages by views, with entries, exits and the average engaged time per view (s)."""
        frame = self.frame("top_pages", f.params(limit=limit))
        frame["engagement_s_per_view"] = [_ratio(float(e) / 1000, v) for e, v in zip(frame["engaged_ms"],
                                                                                     frame["views"], strict=True)]
        return frame

    def devices(self, f: Filters) -> pd.DataFrame:
        return self.frame("devices", f.params())

    # ---- Products

    def products(self, f: Filters, limit: int = TOP) -> pd.DataFrame:
        frame = self.frame("products", f.params(limit=limit))
        frame["view_to_cart"] = [_ratio(c, v) for c, v in zip(frame["add_to_carts"], frame["views"], strict=True)]
        frame["cart_to_purchase"] = [_ratio(p, c) for p, c in zip(frame["purchases"], frame["add_to_carts"],
                                                                  strict=True)]
        return frame

    def categories(self, f: Filters) -> pd.DataFrame:
        return self.frame("categories", f.params())

    def product_daily(self, f: Filters, item_id: str) -> pd.DataFrame:
        return self.frame("product_daily", f.params(item_id=item_id))

    # ---- Behaviour

    def behaviour_kpis(self, f: Filters) -> dict[str, Any]:
        k = self.traffic_kpis(f)
        return {
            "visitors": k["visitors"],
            "new_visitors": k["new_visitors"],
            "returning_visitors": k["visitors"] - k["new_visitors"],
            "pages_per_session": k["pages_per_session"],
            "events_per_session": k["events_per_session"],
            "engagement_s_per_session": k["engagement_s_per_session"],
        }

    def session_durations(self, f: Filters) -> pd.DataFrame:
        return self.frame("session_durations", f.params())

    def landing_paths(self, f: Filters, limit: int = TOP) -> pd.DataFrame:
        return self.frame("landing_paths", f.params(limit=limit))

    def retention(self, f: Filters) -> pd.DataFrame:
        """cohort_week, week_offset, active_visitors, cohort_size, rate."""
        frame = self.frame("retention", f.params())
        sizes = frame[frame.week_offset == 0].set_index("cohort_week")["active_visitors"]
        frame["cohort_size"] = [int(sizes.get(c, 0)) for c in frame["cohort_week"]]
        frame["rate"] = [_ratio(a, s) for a, s in zip(frame["active_visitors"], frame["cohort_size"], strict=True)]
        return frame

    # ---- Funnel

    def funnel(self, f: Filters) -> pd.DataFrame:
        """One row per step: sessions reaching it, drop-off from the step before, conversion
        from the first step and from the step before."""
        totals = self.row("funnel_totals", f.params())
        return _funnel_steps(totals)

    def funnel_by_segment(self, f: Filters, split: str) -> pd.DataFrame:
        if split not in SPLITS:
            raise ValueError(f"cannot split the funnel by {split!r}: one of {', '.join(SPLITS)}")
        statement = sql.SQL(query("funnel_by_segment")).format(split=sql.Identifier(split))
        frame = self.frame("funnel_by_segment", f.params(), statement=statement)
        frame["conversion"] = [_ratio(p, v) for p, v in zip(frame["purchase"], frame["view_item"], strict=True)]
        return frame

    # ---- Search

    def search_kpis(self, f: Filters) -> dict[str, Any]:
        t = self.row("search_totals", f.params())
        searches = int(t["searches"])
        return {
            "searches": searches,
            "terms": int(t["terms"]),
            "no_view_searches": searches - int(t["with_view_item"]),
            "no_view_rate": _ratio(searches - int(t["with_view_item"]), searches),
            "search_to_purchase": _ratio(t["with_purchase"], searches),
        }

    def search_terms(self, f: Filters, limit: int = TOP) -> pd.DataFrame:
        frame = self.frame("search_terms", f.params(limit=limit))
        frame["no_view"] = frame["searches"] - frame["with_view_item"]
        frame["purchase_rate"] = [_ratio(p, s) for p, s in zip(frame["with_purchase"], frame["searches"],
                                                               strict=True)]
        return frame

    def search_daily(self, f: Filters) -> pd.DataFrame:
        return self.frame("search_daily", f.params())

    # ---- Pipeline health (date range only: runs are per hour, not per segment)

    def pipeline_summary(self, f: Filters) -> dict[str, Any]:
        return self.row("pipeline_summary", f.params())

    def pipeline_runs(self, f: Filters, limit: int = RUNS_SHOWN) -> pd.DataFrame:
        return self.frame("pipeline_runs", f.params(limit=limit))

    def freshness(self) -> dict[str, Any]:
        row = self.row("freshness", {})
        lag = row.get("lag")
        # clocks of the loader and of this host may differ a little: never show a negative age
        row["lag_s"] = None if lag is None or pd.isna(lag) else max(0.0, pd.Timedelta(lag).total_seconds())
        return row

    def quarantine_hourly(self, f: Filters) -> pd.DataFrame:
        """hour, reason ("stage: error_code"), records: what each loaded hour quarantined."""
        return self.frame("quarantine_hourly", f.params())

    def dq_summary(self, f: Filters) -> pd.DataFrame:
        return self.frame("dq_summary", f.params())

    def alerts(self, f: Filters, limit: int = 20) -> pd.DataFrame:
        return self.frame("alerts", f.params(limit=limit))


def _funnel_steps(totals: dict[str, Any]) -> pd.DataFrame:
    rows = []
    first = int(totals.get("view_item") or 0)
    previous: int | None = None
    for step in FUNNEL_STEPS:
        reached = int(totals.get(step) or 0)
        rows.append({
            "step": step,
            "sessions": reached,
            "dropoff": None if previous is None else previous - reached,
            "step_conversion": None if previous is None else _ratio(reached, previous),
            "conversion": _ratio(reached, first),
        })
        previous = reached
    frame = pd.DataFrame(rows)
    frame.attrs["all_sessions"] = int(totals.get("sessions") or 0)
    return frame


# ---- whole pages: exactly what the app asks for to draw a page (the benchmark times these)


def traffic_page(d: Dashboard, f: Filters, previous: Filters | None) -> dict[str, Any]:
    return {"kpis": d.traffic_kpis(f), "prev_kpis": d.traffic_kpis(previous) if previous else None,
            "trend": d.traffic_trend(f), "prev_trend": d.traffic_trend(previous) if previous else None,
            "sources": d.sources(f, limit=SOURCES_TOP), "pages": d.top_pages(f), "devices": d.devices(f)}


def products_page(d: Dashboard, f: Filters, previous: Filters | None) -> dict[str, Any]:
    # the KPIs total every product: from the category rollup (the top table has only the top)
    return {"products": d.products(f), "categories": d.categories(f),
            "prev_categories": d.categories(previous) if previous else None}


def first_product(page: dict[str, Any]) -> str | None:
    """The product the drill-down shows before the user picks one: the top one."""
    frame = page["products"]
    return str(frame["item_id"].iloc[0]) if len(frame) else None


def behaviour_page(d: Dashboard, f: Filters, previous: Filters | None) -> dict[str, Any]:
    return {"kpis": d.behaviour_kpis(f), "prev_kpis": d.behaviour_kpis(previous) if previous else None,
            "durations": d.session_durations(f), "paths": d.landing_paths(f, limit=PATHS_TOP),
            "retention": d.retention(f)}


def funnel_page(d: Dashboard, f: Filters, previous: Filters | None) -> dict[str, Any]:
    return {"steps": d.funnel(f), "prev_steps": d.funnel(previous) if previous else None}


def search_page(d: Dashboard, f: Filters, previous: Filters | None) -> dict[str, Any]:
    return {"kpis": d.search_kpis(f), "prev_kpis": d.search_kpis(previous) if previous else None,
            "terms": d.search_terms(f), "daily": d.search_daily(f)}


def pipeline_page(d: Dashboard, f: Filters, previous: Filters | None = None) -> dict[str, Any]:
    """Date range only (runs are per hour, not per segment); no comparison."""
    return {"summary": d.pipeline_summary(f), "freshness": d.freshness(), "runs": d.pipeline_runs(f),
            "quarantine": d.quarantine_hourly(f), "dq": d.dq_summary(f), "alerts": d.alerts(f)}


def _products_render(d: Dashboard, f: Filters, previous: Filters | None) -> Any:
    page = products_page(d, f, previous)
    item = first_product(page)
    return page, d.product_daily(f, item) if item else None


# Page -> every query of one render with the inputs' defaults: the page's data, plus the
# product drill-down of the top product and the funnel split by device class. The app calls
# the same functions, so the benchmark times what a user waits for.
PAGES: dict[str, Callable[[Dashboard, Filters, Filters | None], Any]] = {
    "traffic": traffic_page,
    "products": _products_render,
    "behaviour": behaviour_page,
    "funnel": lambda d, f, p: (funnel_page(d, f, p), d.funnel_by_segment(f, DEFAULT_SPLIT)),
    "search": search_page,
    "pipeline": pipeline_page,
}
# What a browser session asks once, before any page: the data's extent and the filter choices.
SESSION_START: Callable[[Dashboard], Any] = lambda d: (d.data_extent(), d.segment_values())  # noqa: E731


def from_settings(settings: Any) -> Dashboard:
    """A `Dashboard` on the warehouse of `DashboardSettings` (DATABASE_URL, or the secret at
    DATABASE_SECRET_ARN). Raises `DashboardUnavailable` naming the setting to fix."""
    from clickstream.aws import AwsClients
    from clickstream.warehouse.db import database_url

    try:
        return Dashboard(database_url(settings.warehouse, AwsClients(settings.aws)))
    except (ConfigurationError, WarehouseUnavailable) as exc:
        raise DashboardUnavailable(str(exc)) from None


def from_env() -> Dashboard:
    from clickstream.settings import DashboardSettings

    try:
        settings = DashboardSettings.from_env()
    except ConfigurationError as exc:
        raise DashboardUnavailable(str(exc)) from None
    return from_settings(settings)
