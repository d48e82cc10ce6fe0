"""Critical expectations: a clean hour passes, and breaking one rule fails exactly that rule.

Each case starts from `clean_hour()` (no failure, no warning) and breaks one thing; the run
must fail with that expectation, and nothing else, reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from clickstream.quality import CRITICAL, QualityContext, check_hour, columns_to_read
from clickstream.schema.event import FUTURE_LIMIT, LATE_LIMIT
from tests.unit.test_quality_builder import (
    HOUR,
    RUN_ID,
    Key,
    Row,
    clean_hour,
    event_row,
    events_table,
    failed,
    item_row,
    items_table,
    run_check,
)

EVENTS = "events"
ITEMS = "event_items"
NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"


def _first(rows: list[Row], event_name: str) -> Row:
    return next(r for r in rows if r["event_name"] == event_name)


def test_clean_hour_passes_without_any_failure() -> None:
    # GIVEN an hour that breaks no rule WHEN it is checked THEN nothing fails, not even a warning
    events, items = clean_hour()
    result = run_check(events, items)
    assert failed(result) == set()
    assert result.passed and result.critical_failures == 0 and result.warnings == 0
    assert result.evaluated == len(result.results) > 20
    assert {r.suite for r in result.results} == {EVENTS, ITEMS, "pipeline"}


# Each case: how to break the clean hour, and the one expectation that must report it.
Breaker = Callable[[list[Row], list[Row]], int | None]


def _null_event_id(events: list[Row], items: list[Row]) -> None:
    _first(events, "page_view")["event_id"] = None


def _duplicate_event(events: list[Row], items: list[Row]) -> int:
    events.append(dict(_first(events, "page_view")))
    return len(events)


def _null_event_name(events: list[Row], items: list[Row]) -> None:
    _first(events, "click")["event_name"] = None


def _late_event(events: list[Row], items: list[Row]) -> None:
    _first(events, "page_view")["event_time"] = HOUR.start - LATE_LIMIT - timedelta(milliseconds=1)


def _future_event(events: list[Row], items: list[Row]) -> None:
    _first(events, "page_view")["event_time"] = HOUR.end + FUTURE_LIMIT + timedelta(milliseconds=1)


def _event_from_other_hour(events: list[Row], items: list[Row]) -> None:
    _first(events, "page_view")["received_hour"] = HOUR.shift(1).start


def _more_rows_than_reported(events: list[Row], items: list[Row]) -> int:
    return len(events) - 1


def _fewer_rows_than_reported(events: list[Row], items: list[Row]) -> int:
    return len(events) + 1


def _negative_value(events: list[Row], items: list[Row]) -> None:
    _first(events, "purchase")["value"] = -0.01


def _purchase_without_transaction(events: list[Row], items: list[Row]) -> None:
    purchase = _first(events, "purchase")
    purchase["transaction_id"] = None
    for item in items:
        if item["event_id"] == purchase["event_id"]:
            item["transaction_id"] = None


def _refund_without_transaction(events: list[Row], items: list[Row]) -> None:
    click = _first(events, "click")
    click.update(event_name="refund", currency="EUR", value=10.0, transaction_id=None)


def _null_item_event_id(events: list[Row], items: list[Row]) -> None:
    items[0]["event_id"] = None


def _duplicate_item(events: list[Row], items: list[Row]) -> None:
    items.append(dict(items[0]))


def _orphan_item(events: list[Row], items: list[Row]) -> None:
    items.append(item_row(event_row(10_000, "add_to_cart")))


def _null_item_id(events: list[Row], items: list[Row]) -> None:
    items[0]["item_id"] = None


def _negative_price(events: list[Row], items: list[Row]) -> None:
    items[0]["price"] = -1.0


def _negative_quantity(events: list[Row], items: list[Row]) -> None:
    items[0]["quantity"] = -1


def _item_from_other_hour(events: list[Row], items: list[Row]) -> None:
    items[0]["received_hour"] = HOUR.shift(-1).start


CASES: dict[str, tuple[Breaker, Key]] = {
    "event_id null": (_null_event_id, (EVENTS, NOT_NULL, "event_id")),
    "event_id twice": (_duplicate_event, (EVENTS, "expect_compound_columns_to_be_unique", "event_id,chunk")),
    "event_name null": (_null_event_name, (EVENTS, NOT_NULL, "event_name")),
    "event_time too late": (_late_event, (EVENTS, BETWEEN, "event_time")),
    "event_time in the future": (_future_event, (EVENTS, BETWEEN, "event_time")),
    "received_hour of another hour": (_event_from_other_hour, (EVENTS, BETWEEN, "received_hour")),
    "more rows than reported": (_more_rows_than_reported, (EVENTS, "expect_table_row_count_to_equal", "")),
    "fewer rows than reported": (_fewer_rows_than_reported, (EVENTS, "expect_table_row_count_to_equal", "")),
    "negative value": (_negative_value, (EVENTS, BETWEEN, "value")),
    "purchase without transaction_id": (_purchase_without_transaction, (EVENTS, NOT_NULL, "transaction_id")),
    "refund without transaction_id": (_refund_without_transaction, (EVENTS, NOT_NULL, "transaction_id")),
    "item event_id null": (_null_item_event_id, (ITEMS, NOT_NULL, "event_id")),
    "item twice": (_duplicate_item, (ITEMS, "expect_compound_columns_to_be_unique", "event_id,item_position,chunk")),
    "item of an event not in the hour": (_orphan_item, (ITEMS, "expect_column_values_to_be_null", "orphan_event_id")),
    "item_id null": (_null_item_id, (ITEMS, NOT_NULL, "item_id")),
    "negative price": (_negative_price, (ITEMS, BETWEEN, "price")),
    "negative quantity": (_negative_quantity, (ITEMS, BETWEEN, "quantity")),
    "item received_hour of another hour": (_item_from_other_hour, (ITEMS, BETWEEN, "received_hour")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_breaking_one_rule_fails_exactly_that_expectation(case: str) -> None:
    # GIVEN a clean hour with one rule broken
    breaker, expected = CASES[case]
    events, items = clean_hour()
    reported = breaker(events, items)
    # WHEN it is checked
    result = run_check(events, items, expected_events=reported)
    # THEN exactly that expectation failed, it is critical, and the run does not pass
    assert failed(result) == {expected}
    (failure,) = result.failed_critical
    assert failure.severity == CRITICAL and not failure.success
    assert not result.passed and result.critical_failures == 1 and result.warnings == 0


@pytest.mark.parametrize("name", ["PageView", "page view", "1st_visit", "_private", "a" * 41, "page_view\n", "café"])
def test_an_invalid_event_name_fails_only_the_pattern(name: str) -> None:
    events, items = clean_hour()
    _first(events, "click")["event_name"] = name
    result = run_check(events, items)
    assert failed(result) == {(EVENTS, "expect_column_values_to_match_regex", "event_name")}
    (failure,) = result.failed_critical
    assert failure.details["partial_unexpected_list"] == [name]


def test_custom_event_names_of_valid_shape_pass() -> None:
    events, items = clean_hour()
    _first(events, "click")["event_name"] = "newsletter_signup"
    _first(events, "search")["event_name"] = "a" * 40
    assert failed(run_check(events, items)) == set()


def test_the_time_window_includes_its_edges() -> None:
    # 72 h late and 5 min ahead of the hour's end are still accepted by the clean step.
    events, items = clean_hour()
    page_views = [r for r in events if r["event_name"] == "page_view"]
    page_views[0]["event_time"] = HOUR.start - LATE_LIMIT
    page_views[1]["event_time"] = HOUR.end + FUTURE_LIMIT
    assert failed(run_check(events, items)) == set()


def test_the_same_event_in_two_chunks_passes_but_twice_in_one_chunk_fails() -> None:
    # SDK retries land in different raw objects: across chunks a repeat is legitimate and
    # collapses at load; within a chunk cleaning should have removed it.
    events, items = clean_hour()
    first, second = events_table(events[:30]), events_table(events[25:])
    items_first = items_table([i for i in items if i["event_id"] in {e["event_id"] for e in events[:30]}])
    items_second = items_table([i for i in items if i["event_id"] in {e["event_id"] for e in events[25:]}])
    across = check_hour(
        HOUR,
        RUN_ID,
        events=[first, second],
        items=[items_first, items_second],
        expected_events=first.num_rows + second.num_rows,
        context=QualityContext(),
    )
    assert failed(across) == set()

    doubled = events_table(events + events[:1])
    within = check_hour(
        HOUR,
        RUN_ID,
        events=[doubled],
        items=[items_table(items)],
        expected_events=doubled.num_rows,
        context=QualityContext(),
    )
    assert failed(within) == {(EVENTS, "expect_compound_columns_to_be_unique", "event_id,chunk")}


def test_a_missing_column_is_a_critical_failure_not_a_crash() -> None:
    events, items = clean_hour()
    table = events_table(events).drop_columns(["event_time"])
    result = check_hour(
        HOUR, RUN_ID, events=table, items=items_table(items), expected_events=len(events), context=QualityContext()
    )
    assert failed(result) == {(EVENTS, BETWEEN, "event_time")}
    assert "event_time" in result.failed_critical[0].details["exception"]


def test_an_empty_hour_passes_with_one_warning() -> None:
    # No events at all is possible (a quiet night): recorded, never a failure.
    result = run_check([], [])
    assert result.passed
    assert failed(result) == {("pipeline", "expect_hour_to_have_events", "")}
    assert result.to_dict() == {"passed": True, "critical_failures": 0, "warnings": 1, "evaluated": result.evaluated}


def test_an_hour_without_chunks_is_an_empty_hour() -> None:
    result = check_hour(HOUR, RUN_ID, events=[], items=[], expected_events=0, context=QualityContext())
    assert result.passed and failed(result) == {("pipeline", "expect_hour_to_have_events", "")}


def test_several_broken_rules_are_all_reported() -> None:
    events, items = clean_hour()
    _negative_value(events, items)
    _orphan_item(events, items)
    _null_event_id(events, items)
    result = run_check(events, items)
    assert {f.label for f in result.failed_critical} == {
        "events.expect_column_values_to_be_between(value)",
        "event_items.expect_column_values_to_be_null(orphan_event_id)",
        "events.expect_column_values_to_not_be_null(event_id)",
    }
    assert result.critical_failures == 3


def test_only_the_columns_to_read_give_the_same_results_as_whole_tables() -> None:
    # CheckQuality reads only `columns_to_read` from Parquet: the verdict must not change.
    events, items = clean_hour()
    _negative_value(events, items)
    _orphan_item(events, items)
    whole_events, whole_items = events_table(events), items_table(items)
    event_columns, item_columns = columns_to_read(EVENTS), columns_to_read(ITEMS)
    assert event_columns is not None and item_columns is not None
    assert len(event_columns) < whole_events.num_columns // 2
    projected = check_hour(
        HOUR,
        RUN_ID,
        events=whole_events.select(event_columns),
        items=whole_items.select(item_columns),
        expected_events=len(events),
        context=QualityContext(),
    )
    whole = check_hour(
        HOUR, RUN_ID, events=whole_events, items=whole_items, expected_events=len(events), context=QualityContext()
    )
    assert [(r.label, r.success, r.observed) for r in projected.results] == [
        (r.label, r.success, r.observed) for r in whole.results
    ]
    assert {f.label for f in projected.failed_critical} and not projected.passed


def test_a_suite_about_the_columns_themselves_reads_every_column(tmp_path: Path) -> None:
    import json
    import shutil

    from clickstream.quality.suites import default_suites_dir

    for name in (EVENTS, ITEMS):
        shutil.copy(default_suites_dir() / f"{name}.json", tmp_path / f"{name}.json")
    suite = json.loads((tmp_path / f"{EVENTS}.json").read_text())
    suite["expectations"].append(
        {
            "type": "expect_table_column_count_to_equal",
            "kwargs": {"value": 55},
            "meta": {"severity": "warning", "description": "the processed layout"},
        }
    )
    (tmp_path / f"{EVENTS}.json").write_text(json.dumps(suite))
    assert columns_to_read(EVENTS, tmp_path) is None
    assert columns_to_read(ITEMS, tmp_path) is not None


def test_an_hour_without_chunks_read_projected_is_an_empty_hour() -> None:
    from clickstream.etl.processed import EVENTS_SCHEMA

    columns = columns_to_read(EVENTS)
    assert columns is not None
    empty = pa.schema([EVENTS_SCHEMA.field(c) for c in columns]).empty_table()
    result = check_hour(HOUR, RUN_ID, events=[empty], items=[], expected_events=0, context=QualityContext())
    assert result.passed and failed(result) == {("pipeline", "expect_hour_to_have_events", "")}


def test_readers_give_the_same_results_and_events_are_let_go_before_items_are_read() -> None:
    # CheckQuality passes readers so the hour's events and items are never in memory together
    # (at 1 M events that is what keeps the task under 1 GB).
    events, items = clean_hour()
    _orphan_item(events, items)
    given = check_hour(
        HOUR, RUN_ID, events=events_table(events), items=items_table(items), expected_events=len(events),
        context=QualityContext(),
    )
    padding = 8 << 20  # an 8 MB column the suites do not read, to see the events' memory go
    before: list[int] = []

    def read_events() -> list[pa.Table]:
        table = events_table(events)
        before.append(pa.total_allocated_bytes())
        return [table.append_column("padding", pa.array([b"x" * (padding // table.num_rows)] * table.num_rows))]

    def read_items() -> list[pa.Table]:
        held = pa.total_allocated_bytes() - before[0]
        assert held < padding // 4, f"{held} bytes of the events were still held when the items were read"
        return [items_table(items)]

    read = check_hour(HOUR, RUN_ID, events=read_events, items=read_items, expected_events=len(events),
                      context=QualityContext())
    assert [(r.label, r.success, r.observed) for r in read.results] == [
        (r.label, r.success, r.observed) for r in given.results
    ]
    assert {f.label for f in read.failed_critical} == {"event_items.expect_column_values_to_be_null(orphan_event_id)"}
