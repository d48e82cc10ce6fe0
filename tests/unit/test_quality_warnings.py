"""Warnings fire at their thresholds, are recorded, and never fail the run."""

from __future__ import annotations

import pytest

from clickstream.quality import (
    MAX_BOT_SHARE,
    MAX_QUARANTINE_RATIO,
    MIN_LAST_WEEK_EVENTS,
    MIN_VOLUME_RATIO_VS_LAST_WEEK,
    PIPELINE_SUITE,
    WARNING,
    QualityContext,
)
from clickstream.quality import pipeline as checks
from tests.unit.test_quality_builder import Row, clean_hour, failed, run_check

QUARANTINE = (PIPELINE_SUITE, checks.QUARANTINE_RATIO, "")
BOTS = (PIPELINE_SUITE, checks.BOT_SHARE, "")
VOLUME = (PIPELINE_SUITE, checks.VOLUME_VS_LAST_WEEK, "")
NO_EVENTS = (PIPELINE_SUITE, checks.HOUR_HAS_EVENTS, "")


def test_thresholds_are_the_agreed_ones() -> None:
    assert (MAX_QUARANTINE_RATIO, MAX_BOT_SHARE, MIN_VOLUME_RATIO_VS_LAST_WEEK, MIN_LAST_WEEK_EVENTS) == (
        0.05, 0.30, 0.5, 100)


# Pipeline checks as plain functions: exact edges.

@pytest.mark.parametrize(("ingest", "clean", "events", "fires"), [
    (0, 0, 0, False),     # nothing at all: no ratio to speak of
    (3, 2, 95, False),    # exactly 5 %
    (4, 2, 95, True),     # 6 / 101 > 5 %
    (0, 6, 94, True),     # clean-step quarantine counts too
    (1, 0, 0, True),      # everything quarantined
])
def test_quarantine_ratio(ingest: int, clean: int, events: int, fires: bool) -> None:
    result = checks.quarantine_ratio(events, QualityContext(ingest_quarantined=ingest, clean_quarantined=clean))
    assert result.success is not fires
    assert result.severity == WARNING and result.column_name == ""


@pytest.mark.parametrize(("events", "bots", "fires"), [(0, 0, False), (100, 30, False), (100, 31, True),
                                                       (3, 1, True)])
def test_bot_share(events: int, bots: int, fires: bool) -> None:
    assert checks.bot_share(events, bots).success is not fires


@pytest.mark.parametrize(("events", "last_week", "fires"), [
    (50, 100, False),     # exactly half
    (49, 100, True),      # below half
    (0, 1000, True),
    (0, 99, False),       # too small a baseline to compare
    (0, None, False),     # no history
    (5000, 100, False),   # growth is never a warning
])
def test_volume_against_the_same_hour_last_week(events: int, last_week: int | None, fires: bool) -> None:
    result = checks.volume_vs_last_week(events, QualityContext(same_hour_last_week_events=last_week))
    assert result.success is not fires
    if last_week is None or last_week < MIN_LAST_WEEK_EVENTS:
        assert result.observed is None and "skipped" in result.details


def test_no_events() -> None:
    assert not checks.hour_has_events(0).success
    assert checks.hour_has_events(1).success


# Through check_hour: the warning is recorded and the run still passes.

def _check_warns_only(events: list[Row], items: list[Row], expected: set[tuple[str, str, str]], *,
                      context: QualityContext | None = None) -> None:
    result = run_check(events, items, context=context)
    assert failed(result) == expected
    assert result.passed and result.critical_failures == 0 and result.warnings == len(expected)
    assert all(r.severity == WARNING for r in result.failed_warnings)


def test_quarantine_ratio_warns_without_failing_the_run() -> None:
    events, items = clean_hour(40)
    _check_warns_only(events, items, set(), context=QualityContext(ingest_quarantined=1, clean_quarantined=1))
    _check_warns_only(events, items, {QUARANTINE}, context=QualityContext(ingest_quarantined=2, clean_quarantined=1))


def test_bot_share_warns_without_failing_the_run() -> None:
    events, items = clean_hour(40)
    for row in events[:12]:  # 12 / 40 = 30 %: still fine
        row.update(is_bot=True, device_class="bot")
    _check_warns_only(events, items, set())
    events[12].update(is_bot=True, device_class="bot")
    _check_warns_only(events, items, {BOTS})


def test_volume_drop_warns_without_failing_the_run() -> None:
    events, items = clean_hour(60)
    _check_warns_only(events, items, set(), context=QualityContext(same_hour_last_week_events=120))
    _check_warns_only(events, items, {VOLUME}, context=QualityContext(same_hour_last_week_events=121))


def test_an_hour_without_events_warns_without_failing_the_run() -> None:
    _check_warns_only([], [], {NO_EVENTS}, context=QualityContext(same_hour_last_week_events=None))


# Column warnings from the suite files ("mostly" expectations).

def test_page_views_without_path_warn_above_one_percent() -> None:
    events, items = clean_hour(250)  # 100 page views
    page_views = [r for r in events if r["event_name"] == "page_view"]
    assert len(page_views) == 100
    page_views[0]["page_path"] = None  # 99 % have a path: fine
    _check_warns_only(events, items, set())
    page_views[1]["page_path"] = None
    _check_warns_only(events, items, {("events", "expect_column_values_to_not_be_null", "page_path")})


def test_mostly_custom_event_names_warn() -> None:
    events, items = clean_hour(40)
    non_commerce = [r for r in events if r["item_count"] == 0 and r["event_name"] != "purchase"]
    for row in non_commerce[:20]:  # exactly half custom: fine
        row["event_name"] = "custom_thing"
    _check_warns_only(events, items, set())
    non_commerce[20]["event_name"] = "custom_thing"
    _check_warns_only(events, items, {("events", "expect_column_values_to_be_in_set", "event_name")})


def test_purchases_without_value_warn() -> None:
    events, items = clean_hour(40)
    next(r for r in events if r["event_name"] == "purchase")["value"] = None
    _check_warns_only(events, items, {("events", "expect_column_values_to_not_be_null", "value")})


def test_purchased_items_without_price_warn() -> None:
    events, items = clean_hour(40)
    next(i for i in items if i["event_name"] == "purchase")["price"] = None
    _check_warns_only(events, items, {("event_items", "expect_column_values_to_not_be_null", "price")})


def test_warnings_and_a_critical_failure_are_counted_apart() -> None:
    events, items = clean_hour(40)
    events[0]["event_id"] = None
    result = run_check(events, items, context=QualityContext(ingest_quarantined=100))
    assert (result.critical_failures, result.warnings, result.passed) == (1, 1, False)
