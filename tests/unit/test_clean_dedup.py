"""Property tests of de-duplication by event_id: the outcome depends only on the set of raw
lines (not their order, not how they are split into objects, not how often each appears),
no duplicate id survives, the keep-rule is the documented one, and cleaning the kept lines
again changes nothing."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickstream.etl.clean import CleanedChunk, payload_hash
from clickstream.etl.dedup import plan_dedup
from clickstream.schema import validate_record
from tests.support import make_event
from tests.unit.test_clean_support import HOUR, clean, quarantine, raw_line, rows

VARIANT_NAMES = ("page_view", "view_item", "click")


class Copy:
    """One generated raw line and what the test knows about it."""

    def __init__(self, event: dict[str, Any], line: bytes, received_ms: int, request_id: str) -> None:
        self.event_id = event["event_id"].lower()
        self.line = line
        self.received_ms = received_ms
        self.request_id = request_id
        self.hash = payload_hash(validate_record(line))  # type: ignore[arg-type]


copy_spec = st.tuples(
    st.integers(0, len(VARIANT_NAMES) - 1),  # which payload
    st.integers(0, 3_599_999),  # received, ms into the hour
    st.integers(0, 5_000),  # extra client wait before sending (ms): retries differ here
)
id_spec = st.tuples(st.uuids(version=4), st.booleans(), st.lists(copy_spec, min_size=1, max_size=4))
lines_spec = st.lists(id_spec, min_size=1, max_size=5, unique_by=lambda spec: spec[0])


def build(spec: list[tuple[Any, bool, list[tuple[int, int, int]]]]) -> list[Copy]:
    copies: list[Copy] = []
    for uid, upper, copy_specs in spec:
        base = make_event(at=HOUR.start - timedelta(minutes=5))
        base["event_id"] = str(uid).upper() if upper else str(uid)
        for n, (variant, received_ms, wait_ms) in enumerate(copy_specs):
            event = dict(base, event_name=VARIANT_NAMES[variant], properties={"variant": variant})
            sent = HOUR.start - timedelta(minutes=5) + timedelta(milliseconds=wait_ms)
            event["sent_ts"] = sent.isoformat()
            request_id = f"req-{uid}-{n}"
            received = HOUR.start + timedelta(milliseconds=received_ms)
            copies.append(Copy(event, raw_line(event, received, request_id=request_id), received_ms, request_id))
    return copies


def groups(lines: list[bytes], sizes: list[int]) -> list[list[bytes]]:
    """Split lines into consecutive objects of the given sizes (the rest in one last object)."""
    out, start = [], 0
    for size in sizes:
        if start >= len(lines):
            break
        out.append(lines[start:start + size])
        start += size
    if start < len(lines):
        out.append(lines[start:])
    return out


def outcome(chunk: CleanedChunk) -> tuple[Any, ...]:
    """Everything that must not depend on input order: output bytes, counts, quarantined lines."""
    quarantined = Counter((r["error_code"], r["event_id"], r["raw"]) for r in quarantine(chunk))
    return chunk.events_parquet.to_pybytes(), chunk.items_parquet.to_pybytes(), chunk.natural_duplicates, \
        chunk.quarantined, quarantined


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(spec=lines_spec, data=st.data())
def test_shuffling_and_regrouping_lines_gives_the_same_output(spec: Any, data: st.DataObject) -> None:
    # GIVEN raw lines with retries and reused ids
    copies = build(spec)
    lines = [c.line for c in copies]
    # WHEN they are cleaned in another order and split into other objects
    shuffled = data.draw(st.permutations(lines))
    sizes = data.draw(st.lists(st.integers(1, 4), max_size=6))
    # THEN the Parquet bytes, the counts and the quarantined lines are the same
    assert outcome(clean(*groups(shuffled, sizes))) == outcome(clean(lines))


@SETTINGS
@given(spec=lines_spec)
def test_no_duplicate_id_survives_and_the_earliest_copy_is_kept(spec: Any) -> None:
    copies = build(spec)
    chunk = clean([c.line for c in copies])
    result = rows(chunk.events_parquet)
    # THEN each event_id appears once
    ids = [r["event_id"] for r in result]
    assert len(ids) == len(set(ids)) == len({c.event_id for c in copies})
    # AND the kept copy is the earliest received, ties broken by the smaller payload hash
    for row in result:
        candidates = [c for c in copies if c.event_id == row["event_id"]]
        earliest = min(c.received_ms for c in candidates)
        expected = min((c for c in candidates if c.received_ms == earliest), key=lambda c: c.hash)
        # copies tied on time and payload are interchangeable (the code breaks the tie by a line checksum)
        tied = {c.request_id for c in candidates if c.received_ms == earliest and c.hash == expected.hash}
        assert row["payload_hash"] == expected.hash and row["request_id"] in tied
        # AND the others are natural duplicates (same payload) or quarantined (different payload)
        natural = sum(1 for c in candidates if c.hash == expected.hash) - 1
        synthetic = sum(1 for c in candidates if c.hash != expected.hash)
        quarantined = [q for q in quarantine(chunk) if q["event_id"].lower() == row["event_id"]]
        assert len(quarantined) == synthetic
        assert all(q["error_code"] == "synthetic_duplicate" for q in quarantined)
        row["_natural"] = natural
    assert chunk.natural_duplicates == sum(r["_natural"] for r in result)
    assert chunk.events + chunk.natural_duplicates + sum(chunk.quarantined.values()) == len(copies)


@SETTINGS
@given(spec=lines_spec, times=st.integers(2, 3))
def test_repeating_every_line_only_adds_natural_and_synthetic_duplicates(spec: Any, times: int) -> None:
    copies = build(spec)
    lines = [c.line for c in copies]
    once, repeated = clean(lines), clean(lines * times)
    # THEN the same rows come out, every extra copy of a kept line is a natural duplicate,
    # and every extra copy of a quarantined line is quarantined again
    assert repeated.events_parquet.equals(once.events_parquet)
    assert repeated.items_parquet.equals(once.items_parquet)
    assert repeated.natural_duplicates == once.natural_duplicates + (times - 1) * (once.events + once.natural_duplicates)
    assert repeated.quarantined == {code: n * times for code, n in once.quarantined.items()}


@SETTINGS
@given(spec=lines_spec)
def test_cleaning_the_kept_lines_again_changes_nothing(spec: Any) -> None:
    copies = build(spec)
    chunk = clean([c.line for c in copies])
    kept = {(r["event_id"], r["request_id"]) for r in rows(chunk.events_parquet)}
    kept_lines = [c.line for c in copies if (c.event_id, c.request_id) in kept]
    again = clean(kept_lines)
    assert again.events_parquet.equals(chunk.events_parquet)
    assert again.natural_duplicates == 0 and again.quarantined == {}


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.sampled_from("xy")), max_size=12),
       st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_plan_dedup_partitions_rows_and_is_order_independent(
    rows_spec: list[tuple[str, int, str]], rnd: Any
) -> None:
    # GIVEN a bare table of (id, received, hash) rows, in two orders
    def plan_of(order: list[int]) -> tuple[set[tuple[Any, ...]], ...]:
        spec = [rows_spec[i] for i in order]
        t = pa.table({
            "event_id": pa.array([s[0] for s in spec], pa.string()),
            "received_ts": pa.array([s[1] for s in spec], pa.int64()),
            "payload_hash": pa.array([s[2] for s in spec], pa.string()),
            "_crc": pa.array([0] * len(spec), pa.int64()),
            "_row": pa.array(range(len(spec)), pa.int64()),
        })
        plan = plan_dedup(t)
        positions = [p.to_pylist() for p in (plan.keep, plan.natural, plan.synthetic)]
        # THEN keep, natural and synthetic partition the rows
        assert sorted(sum(positions, [])) == list(range(len(spec)))
        return tuple(Counter(spec[i] for i in p).items() for p in positions)  # type: ignore[misc]

    order = list(range(len(rows_spec)))
    shuffled = order[:]
    rnd.shuffle(shuffled)
    first, second = plan_of(order), plan_of(shuffled)
    assert [sorted(x) for x in first] == [sorted(x) for x in second]
    kept_ids = [spec for spec, n in first[0] for _ in range(n)]
    assert len({k[0] for k in kept_ids}) == len(kept_ids)  # one kept row per id


def test_raw_lines_are_json_records() -> None:
    # The builder makes lines the validator accepts (a guard for the properties above).
    copies = build([(__import__("uuid").uuid4(), False, [(0, 0, 0), (1, 5, 5)])])
    assert all(json.loads(c.line)["server"]["request_id"] == c.request_id for c in copies)
