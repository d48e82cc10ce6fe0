"""The dashboard's query module against a real PostgreSQL loaded with a known data set: each
metric equals the value computed from the generated visits, filters and the comparison
period change the numbers as they must, and hostile filter values match nothing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import date

import pytest

from clickstream.dashboard.definitions import DEFINITIONS
from clickstream.dashboard.filters import MAX_DAYS, Filters, preset_range
from clickstream.dashboard.queries import PAGES, Dashboard, DashboardUnavailable, queries, sentences
from clickstream.warehouse.db import connect
from tests.e2e.conftest_dashboard import FUNNEL, DataSet, build, load
from tests.integration.conftest_warehouse import create_database, database_url, drop_database, template_database

pytest_plugins = ["tests.integration.conftest_warehouse"]

LAST_DAY = date(2026, 3, 8)
INJECTIONS = ["' OR '1'='1", "desktop' OR 1=1 --", "x'); DROP TABLE sessions; --", "%(start)s", "\\'; SELECT 1; --"]


@pytest.fixture(scope="module")
def data() -> DataSet:
    return build(LAST_DAY, days=8)


@pytest.fixture(scope="module")
def dash(wh_server, data: DataSet) -> Iterator[Dashboard]:
    name = create_database(template=template_database())
    conn = connect(database_url(name))
    try:
        load(conn, data)
    finally:
        conn.close()
    dashboard = Dashboard(database_url(name))
    yield dashboard
    dashboard.close()
    drop_database(name)


def f(start: date, end: date, **segment: str | None) -> Filters:
    return Filters(start, end, **segment)


RANGES = [(date(2026, 3, 1), LAST_DAY), (date(2026, 3, 5), date(2026, 3, 7)), (LAST_DAY, LAST_DAY)]
SEGMENT_CASES = [{}, {"device_class": "desktop"}, {"channel": "direct"}, {"country": "DE"},
                 {"country": "(not set)", "device_class": "mobile"}]


def _expected(data: DataSet, start: date, end: date, segment: dict) -> dict:
    return data.expected(start, end, **segment)


@pytest.mark.parametrize("start,end", RANGES)
@pytest.mark.parametrize("segment", SEGMENT_CASES)
def test_traffic_kpis_equal_the_visits(dash: Dashboard, data: DataSet, start, end, segment) -> None:
    # GIVEN the known visits WHEN the traffic numbers are asked for a range and segment
    got = dash.traffic_kpis(f(start, end, **segment))
    exp = _expected(data, start, end, segment)
    # THEN each one equals the count made from the visits themselves
    assert got["sessions"] == exp["sessions"] > 0
    assert got["visitors"] == exp["visitors"]
    assert got["new_visitors"] == exp["new_visitors"]
    assert got["page_views"] == exp["page_views"]
    assert got["events"] == exp["events"]
    assert got["bounces"] == exp["bounces"]
    assert got["bounce_rate"] == pytest.approx(exp["bounces"] / exp["sessions"])
    assert got["avg_session_duration_s"] == pytest.approx(exp["duration_s"] / exp["sessions"])
    assert got["orders"] == exp["orders"]
    assert got["revenue"] == pytest.approx(exp.get("revenue", 0))
    assert got["engagement_s_per_session"] == pytest.approx(exp.get("engaged_ms", 0) / 1000 / exp["sessions"])


@pytest.mark.parametrize("segment", SEGMENT_CASES[:4])
def test_funnel_search_products_equal_the_visits(dash: Dashboard, data: DataSet, segment) -> None:
    start, end = RANGES[0]
    exp = _expected(data, start, end, segment)
    flt = f(start, end, **segment)

    steps = dash.funnel(flt).set_index("step")
    for i, step in enumerate(FUNNEL):
        assert steps.loc[step, "sessions"] == exp.get(f"funnel_{step}", 0)
        if i:
            assert steps.loc[step, "dropoff"] == exp.get(f"funnel_{FUNNEL[i - 1]}", 0) - exp.get(f"funnel_{step}", 0)

    search = dash.search_kpis(flt)
    assert search["searches"] == exp.get("searches", 0)
    assert search["no_view_searches"] == exp.get("searches", 0) - exp.get("with_view_item", 0)
    if exp.get("searches"):
        assert search["search_to_purchase"] == pytest.approx(exp.get("with_purchase", 0) / exp["searches"])
    terms = dash.search_terms(flt)
    assert dict(zip(terms["search_term"], terms["searches"], strict=True)) == exp["terms"]

    products = dash.products(flt).set_index("item_id")
    assert set(products.index) == set(exp["products"])
    for item, values in exp["products"].items():
        assert products.loc[item, "views"] == values.get("views", 0)
        assert products.loc[item, "add_to_carts"] == values.get("add_to_carts", 0)
        assert products.loc[item, "purchases"] == values.get("purchases", 0)
        assert products.loc[item, "revenue"] == pytest.approx(values.get("revenue", 0))
        if values.get("views"):
            assert products.loc[item, "view_to_cart"] == pytest.approx(values.get("add_to_carts", 0) / values["views"])


def test_daily_trend_and_breakdowns_add_up(dash: Dashboard, data: DataSet) -> None:
    flt = f(*RANGES[0])
    exp = data.expected(*RANGES[0])
    trend = dash.traffic_trend(flt)
    assert trend["sessions"].sum() == exp["sessions"]
    assert list(trend["offset"]) == list(range(len(trend)))
    for day, visitors in zip(trend["at"], trend["visitors"], strict=True):
        assert visitors == data.expected(day, day)["visitors"]
    assert dash.sources(flt, limit=1000)["sessions"].sum() == exp["sessions"]
    assert dash.devices(flt)["sessions"].sum() == exp["sessions"]
    assert dash.session_durations(flt)["sessions"].sum() == exp["sessions"]
    assert dash.landing_paths(flt, limit=1000)["sessions"].sum() == exp["sessions"]
    pages = dash.top_pages(flt, limit=1000)
    assert pages["views"].sum() == exp["page_views"]
    assert pages["entries"].sum() == exp["sessions"] == pages["exits"].sum()
    daily = dash.frame("visitors_daily", flt.params())
    assert list(daily["day"]) == list(trend["at"])
    b = dash.behaviour_kpis(flt)
    assert b["new_visitors"] + b["returning_visitors"] == exp["visitors"]
    hourly = dash.traffic_trend(f(LAST_DAY, LAST_DAY))
    assert hourly["sessions"].sum() == data.expected(LAST_DAY, LAST_DAY)["sessions"]


def test_retention_cohorts_start_with_their_whole_size(dash: Dashboard, data: DataSet) -> None:
    retention = dash.retention(f(*RANGES[0]))
    assert not retention.empty
    week0 = retention[retention.week_offset == 0]
    assert (week0["rate"] == 1.0).all()
    # every visitor first seen in the data belongs to exactly one cohort
    assert week0["active_visitors"].sum() == data.expected(date(2000, 1, 1), LAST_DAY)["new_visitors"]


def test_previous_period_is_the_same_length_just_before(dash: Dashboard, data: DataSet) -> None:
    current = f(date(2026, 3, 5), LAST_DAY, channel="direct")
    previous = current.previous()
    assert (previous.start, previous.end, previous.channel) == (date(2026, 3, 1), date(2026, 3, 4), "direct")
    assert dash.traffic_kpis(previous)["sessions"] == data.expected(date(2026, 3, 1), date(2026, 3, 4),
                                                                   channel="direct")["sessions"]
    # a filter narrows: a segment never has more sessions than all of them, and the segments add up
    everything = dash.traffic_kpis(f(*RANGES[0]))["sessions"]
    by_device = [dash.traffic_kpis(f(*RANGES[0], device_class=d))["sessions"] for d in ("desktop", "mobile", "tablet")]
    assert sum(by_device) == everything and all(0 < n < everything for n in by_device)
    # a range with no data answers zeros, not errors
    empty = dash.traffic_kpis(f(date(2020, 1, 1), date(2020, 1, 7)))
    assert empty["sessions"] == 0 and empty["bounce_rate"] is None


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_hostile_filter_values_match_nothing(dash: Dashboard, hostile: str) -> None:
    for segment in ("device_class", "channel", "country"):
        flt = f(*RANGES[0], **{segment: hostile})
        assert dash.traffic_kpis(flt)["sessions"] == 0
        assert dash.sources(flt).empty and dash.products(flt).empty and dash.search_terms(flt).empty
        assert dash.funnel(flt)["sessions"].sum() == 0
    assert dash.product_daily(f(*RANGES[0]), hostile).empty
    with pytest.raises(ValueError):
        dash.funnel_by_segment(f(*RANGES[0]), "device_class; DROP TABLE sessions")
    # and the tables are still there
    assert dash.traffic_kpis(f(*RANGES[0]))["sessions"] > 0


def test_pipeline_health(dash: Dashboard, data: DataSet) -> None:
    flt = f(*RANGES[0])
    summary = dash.pipeline_summary(flt)
    runs = dash.pipeline_runs(flt, limit=1000)
    assert summary["runs"] == len(runs) and summary["failed"] == 1
    assert summary["inserted_events"] == len(data.rows)
    alerts = dash.alerts(flt)
    assert list(alerts["failed_state"]) == ["LoadWarehouse"]
    assert dash.freshness()["last_hour"] is not None
    quarantine = dash.quarantine_hourly(flt)
    assert quarantine["records"].sum() == summary["quarantined"] > 0
    # one row per loaded hour and reason ("stage: error code"), for the chart by hour
    assert not quarantine.duplicated(["hour", "reason"]).any()
    assert set(quarantine["reason"]) == {"ingest: invalid_event_name"}
    assert set(quarantine["hour"]) <= {run for run in runs["hour"]}


def test_funnel_split_adds_up(dash: Dashboard) -> None:
    flt = f(*RANGES[0])
    total = dash.funnel(flt).set_index("step")["sessions"]
    for split in ("device_class", "channel", "country"):
        frame = dash.funnel_by_segment(flt, split)
        for step in FUNNEL:
            assert frame[step].sum() == total[step]


def test_presets_and_unreachable_database() -> None:
    assert preset_range("today", date(2026, 3, 8)) == (date(2026, 3, 8), date(2026, 3, 8))
    assert preset_range("7d", date(2026, 3, 8)) == (date(2026, 3, 2), date(2026, 3, 8))
    assert preset_range("30d", date(2026, 3, 8))[0] == date(2026, 2, 7)
    assert Filters.build(date(2026, 3, 8), date(2026, 3, 1), country="").start == date(2026, 3, 1)
    with pytest.raises(DashboardUnavailable, match="DATABASE_URL"):
        Dashboard("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1").traffic_kpis(f(*RANGES[0]))


def test_definitions_match_the_architecture() -> None:
    assert "coalesce(user_id, anonymous_id)" in DEFINITIONS["visitors"]
    assert "session_id" in DEFINITIONS["sessions"] and "30 minutes" in DEFINITIONS["sessions"]
    for words in ("at most 1 page view", "no commerce", "10 s"):
        assert words in DEFINITIONS["bounce_rate"]
    assert all("%(" not in text or "%(start)s" in text or "%(end)s" in text or "limit" in text
               for text in queries().values())


@pytest.mark.parametrize("start,end", RANGES)
@pytest.mark.parametrize("segment", SEGMENT_CASES)
def test_top_pages_with_engagement_equal_the_visits(dash: Dashboard, data: DataSet, start, end, segment) -> None:
    exp = _expected(data, start, end, segment)["pages"]
    pages = dash.top_pages(f(start, end, **segment), limit=1000).set_index("page_path")
    assert set(pages.index) == set(exp)
    for path, values in exp.items():
        assert pages.loc[path, "views"] == values["views"]
        assert pages.loc[path, "entries"] == values["entries"]
        assert pages.loc[path, "exits"] == values["exits"]
        assert pages.loc[path, "engagement_s_per_view"] == pytest.approx(values["engaged_ms"] / 1000 / values["views"])
    # engaged time is really there: some page has some
    assert any(v["engaged_ms"] for v in exp.values()) or not exp


@pytest.mark.parametrize("segment", [*SEGMENT_CASES, {"device_class": "desktop", "channel": "direct", "country": "DE"},
                                     {"channel": "organic_search", "country": "FR"}])
def test_visitor_counts_of_every_range_equal_the_visits(dash: Dashboard, data: DataSet, segment) -> None:
    # every range of the data (and one day on either side): visitors counted once over the
    # range, through the returns rollup, equal the distinct visitors of the visits
    days = [date(2026, 2, 28), *data.days, date(2026, 3, 9)]
    for i, start in enumerate(days):
        for end in days[i:]:
            got = dash.traffic_kpis(f(start, end, **segment))
            exp = _expected(data, start, end, segment)
            assert (got["visitors"], got["new_visitors"]) == (exp["visitors"], exp["new_visitors"]), (start, end)


def test_ranges_longer_than_a_year_count_visitors_exactly(dash: Dashboard, data: DataSet) -> None:
    # Filters.build caps ranges at MAX_DAYS; a longer one (built directly) reads agg_visitor_days
    long = f(date(2025, 1, 1), LAST_DAY)
    assert long.days > MAX_DAYS
    exp = data.expected(date(2025, 1, 1), LAST_DAY)
    got = dash.traffic_kpis(long)
    assert (got["visitors"], got["new_visitors"]) == (exp["visitors"], exp["new_visitors"])


def test_error_texts_are_single_sentences() -> None:
    # an error text may end with '?', '.' or a newline; joined, no '?.', '..' or ' .'
    assert sentences("could not connect: refused\n\tIs the server running?\n", "Check DATABASE_URL.") == \
        "could not connect: refused. Is the server running? Check DATABASE_URL."
    assert sentences("bad value.", "Check X.") == "bad value. Check X."
    assert sentences("bad value", "", "Check X.") == "bad value. Check X."
    with pytest.raises(DashboardUnavailable) as caught:
        Dashboard("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1").data_extent()
    message = str(caught.value)
    assert "DATABASE_URL" in message and "\n" not in message
    for doubled in ("..", "?.", ".:", ":.", " .", ",."):
        assert doubled not in message.replace("...", ""), message


def test_page_query_times(dash: Dashboard, capsys: pytest.CaptureFixture[str]) -> None:
    flt = f(*RANGES[0])
    medians = {}
    for page, run in PAGES.items():
        times = []
        for _ in range(5):
            started = time.perf_counter()
            run(dash, flt, flt.previous())
            times.append((time.perf_counter() - started) * 1000)
        medians[page] = statistics.median(times)
    with capsys.disabled():
        print("\nmedian query time per page (ms):", {k: round(v, 1) for k, v in medians.items()})
    assert all(ms < 1000 for ms in medians.values()), medians
