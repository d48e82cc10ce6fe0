"""Chunk planning and manifest naming of ListRawObjects (no S3: the S3 side is in
tests/integration/test_clean_s3.py)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickstream.etl.clean import CleanResult
from clickstream.etl.listing import Listing, Manifest, ManifestObject, manifest_key, plan_chunks
from clickstream.layout import Hour

HOUR = Hour.parse("2025-05-01T12")


def test_no_objects_no_chunks() -> None:
    assert plan_chunks([]) == []


def test_objects_are_cut_by_size_in_key_order() -> None:
    objects = [("raw/c", 40), ("raw/a", 60), ("raw/b", 50), ("raw/d", 10)]
    chunks = plan_chunks(objects, target_chunk_bytes=100)
    assert [[o.key for o in c] for c in chunks] == [["raw/a"], ["raw/b", "raw/c", "raw/d"]]


def test_an_object_larger_than_the_target_is_a_chunk_of_its_own() -> None:
    chunks = plan_chunks([("a", 5), ("b", 500), ("c", 5)], target_chunk_bytes=100)
    assert [[o.key for o in c] for c in chunks] == [["a"], ["b"], ["c"]]


def test_chunks_are_also_capped_by_object_count() -> None:
    chunks = plan_chunks([(f"k{i:02d}", 1) for i in range(10)], target_chunk_bytes=10**9, max_chunk_objects=4)
    assert [len(c) for c in chunks] == [4, 4, 2]


@pytest.mark.parametrize(("target", "cap"), [(0, 1), (1, 0), (-1, 5)])
def test_limits_must_be_positive(target: int, cap: int) -> None:
    with pytest.raises(ValueError):
        plan_chunks([("a", 1)], target, cap)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(0, 300), max_size=40),
       st.integers(1, 400), st.integers(1, 10))
def test_chunks_cover_every_object_once_in_order_and_stay_near_the_target(
    objects: dict[str, int], target: int, cap: int
) -> None:
    pairs = list(objects.items())
    chunks = plan_chunks(pairs, target, cap)
    flat = [(o.key, o.size) for c in chunks for o in c]
    assert flat == sorted(pairs)
    assert plan_chunks(list(reversed(pairs)), target, cap) == chunks  # deterministic
    for chunk in chunks:
        assert chunk and len(chunk) <= cap
        assert len(chunk) == 1 or sum(o.size for o in chunk) <= target


def test_manifest_key_and_run_id_sanitising() -> None:
    assert manifest_key(HOUR, "exec-1") == "processed/_manifests/2025-05-01T12/exec-1.json"
    assert manifest_key(HOUR, "a/b c") == "processed/_manifests/2025-05-01T12/a_b_c.json"
    with pytest.raises(ValueError):
        manifest_key(HOUR, "///")


def test_manifest_json_shape_matches_the_contract() -> None:
    manifest = Manifest(hour="2025-05-01T12", run_id="r", chunks=[[ManifestObject("raw/a", 3)]])
    assert msgspec.json.decode(msgspec.json.encode(manifest)) == {
        "hour": "2025-05-01T12", "run_id": "r", "chunks": [[{"key": "raw/a", "size": 3}]]}


def test_results_serialise_to_the_state_document_shapes() -> None:
    listing = Listing(manifest_key="m", object_count=2, raw_bytes=10, chunks=[0], ingest_quarantine={"bad_value": 1})
    assert listing.to_dict() == {"manifest_key": "m", "object_count": 2, "raw_bytes": 10, "chunks": [0],
                                 "ingest_quarantine": {"bad_value": 1}}
    result = CleanResult(chunk=0, events=1, items=0, natural_duplicates=0, quarantined={}, events_key="e",
                         items_key="i")
    assert result.to_dict() == {"chunk": 0, "events": 1, "items": 0, "natural_duplicates": 0, "quarantined": {},
                                "events_key": "e", "items_key": "i"}
