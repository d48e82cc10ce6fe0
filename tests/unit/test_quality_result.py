"""What check_hour hands on: the small Step Functions payload, JSON-clean rows, the error
that stops the run, and a package import that does not pay for Great Expectations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clickstream.errors import ClickstreamError
from clickstream.quality import (
    CRITICAL,
    WARNING,
    DataQualityError,
    DqResult,
    QualityResult,
    raise_for,
)
from clickstream.quality.gx import _jsonable
from tests.unit.test_quality_builder import HOUR, RUN_ID, clean_hour, run_check

REPO = Path(__file__).resolve().parents[2]


def _row(expectation: str, severity: str, success: bool, column: str = "") -> DqResult:
    return DqResult("events", expectation, column, severity, success, None, {"description": "why it matters"})


def test_to_dict_carries_counts_only() -> None:
    result = QualityResult(HOUR, RUN_ID, [
        _row("a", CRITICAL, True), _row("b", CRITICAL, False), _row("c", WARNING, False), _row("d", WARNING, True)])
    assert result.to_dict() == {"passed": False, "critical_failures": 1, "warnings": 1, "evaluated": 4}
    assert len(json.dumps(result.to_dict())) < 100


def test_a_passing_result_does_not_raise() -> None:
    events, items = clean_hour()
    raise_for(run_check(events, items))
    raise_for(QualityResult(HOUR, RUN_ID, [_row("c", WARNING, False)]))  # warnings never stop a run


def test_a_critical_failure_raises_data_quality_error_saying_what_to_do() -> None:
    events, items = clean_hour()
    next(r for r in events if r["event_name"] == "purchase")["transaction_id"] = None
    events[0]["value"] = -5.0
    result = run_check(events, items)
    with pytest.raises(DataQualityError) as caught:
        raise_for(result)
    error = caught.value
    # Step Functions' Catch matches this exact class name.
    assert type(error).__name__ == "DataQualityError" and isinstance(error, ClickstreamError)
    assert error.hour == HOUR and error.run_id == RUN_ID and len(error.failures) == 2
    message = str(error)
    assert f"hour {HOUR}" in message and RUN_ID in message and "2 critical" in message
    assert "events.expect_column_values_to_not_be_null(transaction_id)" in message
    assert "events.expect_column_values_to_be_between(value)" in message and "-5.0" in message
    assert "dq_results" in message and "quarantine/stage=clean" in message
    assert f"clickstream etl run --hour {HOUR}" in message
    assert "nothing of this hour was loaded" in message


def test_the_message_stays_short_with_many_failures() -> None:
    failures = [_row(f"expect_{i}", CRITICAL, False, f"col_{i}") for i in range(50)]
    with pytest.raises(DataQualityError) as caught:
        raise_for(QualityResult(HOUR, RUN_ID, failures))
    message = str(caught.value)
    assert "and 40 more" in message and len(message) < 8_000


def test_every_observed_value_and_detail_is_strict_json() -> None:
    # A null transaction id shows up in GX's examples as NaN; jsonb would reject it.
    events, items = clean_hour()
    next(r for r in events if r["event_name"] == "purchase")["transaction_id"] = None
    events[1]["received_hour"] = HOUR.shift(2).start
    result = run_check(events, items)
    for row in result.results:
        json.dumps([row.observed, row.details], allow_nan=False)
    by_column = {r.column_name: r for r in result.failed_critical}
    assert by_column["transaction_id"].details["partial_unexpected_list"] == [None]
    assert by_column["received_hour"].details["partial_unexpected_list"] == [HOUR.shift(2).start.isoformat()]
    assert by_column["received_hour"].observed["unexpected_count"] == 1


def test_jsonable_handles_what_gx_returns() -> None:
    import numpy as np
    import pandas as pd

    assert _jsonable({"a": float("nan"), "b": np.int64(3), "c": pd.Timestamp("2026-01-01", tz="UTC"),
                      "d": pd.NaT, "e": (1, 2), "f": {1, 2}}) == {
        "a": None, "b": 3, "c": "2026-01-01T00:00:00+00:00", "d": None, "e": [1, 2], "f": [1, 2]}


def test_importing_the_package_does_not_import_great_expectations() -> None:
    code = ("import sys, time; t = time.perf_counter(); import clickstream.quality; "
            "print(time.perf_counter() - t); "
            "assert 'great_expectations' not in sys.modules, 'great_expectations imported at module level'; "
            "assert 'pandas' not in sys.modules, 'pandas imported at module level'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 2.0
