"""The benchmark's buffered-raw what-if regroups the same raw objects without changing a line."""

from __future__ import annotations

import gzip

from bench.etl_bench import buffered_raw
from clickstream.ingest.sink import gunzip_lines

PREFIX = "raw/received_date=2026-11-24/received_hour=10"


def _raw(n: int) -> list[tuple[str, bytes]]:
    return [(f"{PREFIX}/req-{i:04d}.jsonl.gz", gzip.compress(b"".join(b'{"n":%d,"line":%d}\n' % (i, j) for j in range(3))))
            for i in range(n)]


def test_every_line_kept_in_order_in_the_asked_number_of_objects() -> None:
    raw = _raw(100)
    buffered = buffered_raw(raw, 12)
    assert len(buffered) == 12
    assert all(key.startswith(PREFIX + "/buffered-") and key.endswith(".jsonl.gz") for key, _ in buffered)
    assert len({key for key, _ in buffered}) == 12
    lines = [line for _, body in buffered for line in gunzip_lines(body)]
    assert lines == [line for _, body in raw for line in gunzip_lines(body)]
    assert len(lines) == 300


def test_fewer_objects_than_asked_when_there_are_fewer_to_group() -> None:
    raw = _raw(5)
    assert [len(gunzip_lines(body)) for _, body in buffered_raw(raw, 12)] == [3] * 5
