"""Contract of the suite files in `quality/`: every expectation is explained and typed, the
files agree with the event schema and the processed layer, and Great Expectations accepts them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from clickstream.errors import ConfigurationError
from clickstream.etl.processed import SCHEMAS
from clickstream.quality import gx
from clickstream.quality.check import CHUNK_COLUMN, ORPHAN_EVENT_ID_COLUMN
from clickstream.quality.suites import (
    SUITE_NAMES,
    column_name,
    columns_used,
    default_suites_dir,
    load_suite_document,
    suite_problems,
)
from clickstream.schema.event import EVENT_NAME_PATTERN, STANDARD_EVENT_NAMES, TRANSACTION_EVENT_NAMES

REPO = Path(__file__).resolve().parents[2]
SUITES_DIR = REPO / "quality"
DERIVED_COLUMNS = {CHUNK_COLUMN, ORPHAN_EVENT_ID_COLUMN}


def _document(name: str) -> dict[str, Any]:
    return json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _expectations() -> list[tuple[str, dict[str, Any]]]:
    return [(name, e) for name in SUITE_NAMES for e in _document(name)["expectations"]]


def _find(name: str, type_: str, column: str) -> dict[str, Any]:
    matches = [e for e in _document(name)["expectations"]
               if e["type"] == type_ and column_name(e["kwargs"]) == column]
    assert len(matches) == 1, f"{name}: expected one {type_} on {column!r}"
    return matches[0]


def test_one_suite_file_per_dataset_and_nothing_else() -> None:
    assert sorted(p.name for p in SUITES_DIR.iterdir()) == sorted(f"{n}.json" for n in SUITE_NAMES)
    assert set(SUITE_NAMES) == set(SCHEMAS)
    assert default_suites_dir() == SUITES_DIR


@pytest.mark.parametrize(("suite", "expectation"), _expectations(),
                         ids=lambda v: v if isinstance(v, str) else f"{v['type']}:{column_name(v['kwargs'])}")
def test_every_expectation_has_a_severity_and_a_description(suite: str, expectation: dict[str, Any]) -> None:
    meta = expectation["meta"]
    assert meta["severity"] in {"critical", "warning"}
    assert isinstance(meta["description"], str) and len(meta["description"]) >= 40
    # GX's own severity field must tell the same story as meta.severity.
    assert expectation["severity"] == meta["severity"]


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_suites_are_valid_and_keys_do_not_collide(name: str) -> None:
    document = _document(name)
    assert suite_problems(document, expected_name=name) == []
    keys = [(e["type"], column_name(e["kwargs"])) for e in document["expectations"]]
    assert len(keys) == len(set(keys)), "(suite, expectation, column_name) is the primary key of dq_results"


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_suites_read_only_columns_of_the_processed_layer(name: str) -> None:
    assert columns_used(load_suite_document(name)) <= set(SCHEMAS[name].names) | DERIVED_COLUMNS


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_great_expectations_accepts_every_expectation(name: str) -> None:
    suite = gx._suite(name, None)
    assert len(suite.expectations) == len(_document(name)["expectations"])
    assert [e.meta["severity"] for e in suite.expectations] == [e["meta"]["severity"] for e in _document(name)["expectations"]]


def test_the_files_agree_with_the_event_schema() -> None:
    regex = _find("events", "expect_column_values_to_match_regex", "event_name")
    assert regex["kwargs"]["regex"] == EVENT_NAME_PATTERN
    standard = _find("events", "expect_column_values_to_be_in_set", "event_name")
    assert set(standard["kwargs"]["value_set"]) == STANDARD_EVENT_NAMES
    transaction = _find("events", "expect_column_values_to_not_be_null", "transaction_id")
    assert set(transaction["kwargs"]["row_condition"]["parameter"]) == TRANSACTION_EVENT_NAMES


# The rules the ETL contract calls critical, each present and critical.
CRITICAL_RULES = [
    ("events", "expect_column_values_to_not_be_null", "event_id"),
    ("events", "expect_compound_columns_to_be_unique", "event_id,chunk"),
    ("events", "expect_column_values_to_not_be_null", "event_name"),
    ("events", "expect_column_values_to_match_regex", "event_name"),
    ("events", "expect_column_values_to_be_between", "event_time"),
    ("events", "expect_column_values_to_be_between", "received_hour"),
    ("events", "expect_table_row_count_to_equal", ""),
    ("events", "expect_column_values_to_be_between", "value"),
    ("events", "expect_column_values_to_not_be_null", "transaction_id"),
    ("event_items", "expect_column_values_to_be_between", "price"),
    ("event_items", "expect_column_values_to_be_between", "quantity"),
    ("event_items", "expect_column_values_to_be_null", "orphan_event_id"),
]


@pytest.mark.parametrize("rule", CRITICAL_RULES, ids=lambda r: ".".join(filter(None, r)))
def test_the_contract_rules_are_critical(rule: tuple[str, str, str]) -> None:
    assert _find(*rule)["meta"]["severity"] == "critical"


def test_problems_are_reported_in_words() -> None:
    document = _document("events")
    broken = copy.deepcopy(document)
    broken["expectations"][0]["meta"] = {"severity": "fatal"}
    broken["expectations"][1]["severity"] = "warning"
    broken["expectations"].append(copy.deepcopy(broken["expectations"][2]))
    broken["expectations"][4]["kwargs"]["min_value"] = {"$PARAMETER": "no_such_parameter"}
    problems = " | ".join(suite_problems(broken, expected_name="events"))
    assert "meta.severity must be one of" in problems
    assert "meta.description must say" in problems
    assert "differs from meta.severity" in problems
    assert "would collide in dq_results" in problems
    assert "unknown $PARAMETER ['no_such_parameter']" in problems
    assert suite_problems(document, expected_name="event_items")  # wrong name for the file


def test_an_invalid_suite_file_stops_with_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "events.json").write_text(json.dumps({"name": "events", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"}, "meta": {}}]}))
    with pytest.raises(ConfigurationError, match="meta.severity"):
        load_suite_document("events", tmp_path)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_suite_document("event_items", tmp_path)
