"""Quarantine keys carry their records' counts by error code, so listing can count them."""

from __future__ import annotations

import pytest

from clickstream.layout import MAX_KEY_BYTES, Hour, quarantine_counts_in_key, quarantine_key, quarantine_prefix

HOUR = Hour.parse("2031-01-01T08")


def test_counts_go_into_the_key_sorted_and_come_back_out() -> None:
    key = quarantine_key("ingest", HOUR, "req-1", {"stale_timestamp": 2, "bad_currency": 1})
    assert key == f"{quarantine_prefix('ingest', HOUR)}req-1~bad_currency=1~stale_timestamp=2.jsonl.gz"
    assert quarantine_counts_in_key(key) == {"bad_currency": 1, "stale_timestamp": 2}


@pytest.mark.parametrize("counts", [None, {}])
def test_without_counts_the_key_is_the_plain_name(counts: dict[str, int] | None) -> None:
    key = quarantine_key("ingest", HOUR, "req-1", counts)
    assert key.endswith("/req-1.jsonl.gz")
    assert quarantine_counts_in_key(key) is None


def test_a_tilde_in_the_name_cannot_pass_for_a_count() -> None:
    # Request ids come from clients: "~bad=9" in one must not be read as nine records.
    key = quarantine_key("ingest", HOUR, "req~bad_value=9")
    assert quarantine_counts_in_key(key) is None
    tagged = quarantine_key("ingest", HOUR, "req~bad_value=9", {"bad_value": 1})
    assert quarantine_counts_in_key(tagged) == {"bad_value": 1}


def test_counts_that_would_make_the_key_too_long_are_left_out() -> None:
    many = {f"code_{i:03d}_{'x' * 40}": i + 1 for i in range(30)}
    key = quarantine_key("ingest", HOUR, "r" * 200, many)
    assert len(key.encode()) <= MAX_KEY_BYTES
    assert quarantine_counts_in_key(key) is None  # counted by reading the object instead


@pytest.mark.parametrize("counts", [{"Bad": 1}, {"bad_value": 0}, {"bad value": 1}])
def test_counts_that_cannot_be_read_back_are_left_out(counts: dict[str, int]) -> None:
    assert quarantine_counts_in_key(quarantine_key("ingest", HOUR, "req-1", counts)) is None


@pytest.mark.parametrize("name", ["req~", "req~bad_value", "req~bad_value=x", "req~=1", "req~Bad=1"])
def test_a_malformed_tag_means_no_counts(name: str) -> None:
    assert quarantine_counts_in_key(f"{quarantine_prefix('ingest', HOUR)}{name}.jsonl.gz") is None
