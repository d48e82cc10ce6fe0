"""De-duplication by event_id within a chunk, computed on Arrow columns (no per-row Python).

The rule (docs/etl.md "Exactly once"): among rows with the same event_id, the kept row is
the earliest received; the others are *natural* duplicates when their payload hash equals
the kept row's (a retry: dropped and counted) and *synthetic* duplicates otherwise (the same
id reused for a different event: quarantined). Ties on received_ts are broken by payload
hash, then by a checksum of the whole raw line, then by input position; rows still tied
after the checksum are byte-identical lines, so which one is kept cannot change the output.
The outcome therefore depends only on the set of lines, not on their order, and applying
it again to its own output changes nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["DEDUP_COLUMNS", "DedupPlan", "plan_dedup"]

# Columns the plan reads: the key, the keep-rule, and the tie-breaks in that order.
DEDUP_COLUMNS = ("event_id", "received_ts", "payload_hash", "_crc", "_row")


class DedupPlan(NamedTuple):
    """Row positions (int64, into the table given to `plan_dedup`)."""

    keep: pa.Array  # one row per distinct event_id
    natural: pa.Array  # dropped: same id and payload as the kept row
    synthetic: pa.Array  # quarantined: same id, different payload
    synthetic_kept: pa.Array  # for each synthetic row, the kept row of its id

    @property
    def natural_duplicates(self) -> int:
        return len(self.natural)


_EMPTY = pa.array([], pa.int64())


def plan_dedup(table: pa.Table) -> DedupPlan:
    """Which rows to keep, drop and quarantine; `table` needs the `DEDUP_COLUMNS`."""
    n = table.num_rows
    ids = table["event_id"]
    if n == 0 or pc.count_distinct(ids, mode="only_valid").as_py() == n:
        # The common case, no duplicate at all: one hash pass, no sort.
        return DedupPlan(pa.array(range(n), pa.int64()), _EMPTY, _EMPTY, _EMPTY)
    # Duplicates are rare (retries): only rows whose id occurs more than once are sorted.
    counts = pc.value_counts(ids)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    in_repeated = pc.is_in(ids, value_set=repeated)
    singles = pc.indices_nonzero(pc.invert(in_repeated))
    candidates = pc.cast(pc.indices_nonzero(in_repeated), pa.int64())
    plan = _plan_sorted(table.select(list(DEDUP_COLUMNS)).take(candidates))
    return DedupPlan(
        keep=pa.concat_arrays([pc.cast(singles, pa.int64()), pc.take(candidates, plan.keep)]),
        natural=pc.take(candidates, plan.natural),
        synthetic=pc.take(candidates, plan.synthetic),
        synthetic_kept=pc.take(candidates, plan.synthetic_kept),
    )


def _plan_sorted(table: pa.Table) -> DedupPlan:
    """The plan by sorting on (DEDUP_COLUMNS): each id's rows form a run whose first row is kept."""
    n = table.num_rows
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in DEDUP_COLUMNS])
    order = pc.cast(order, pa.int64())
    sorted_ids = pc.take(table["event_id"], order).combine_chunks()
    # A row starts a group when its id differs from the previous row's (sorted, so groups are runs).
    starts = pc.not_equal(sorted_ids.slice(1), sorted_ids.slice(0, n - 1))
    is_first = pa.concat_arrays([pa.array([True]), starts])
    group = pc.subtract(pc.cumulative_sum(pc.cast(is_first, pa.int64())), 1)
    first_positions = pc.indices_nonzero(is_first)
    kept_position = pc.take(first_positions, group)  # per sorted row: where its group's kept row is

    hashes = pc.take(table["payload_hash"], order).combine_chunks()
    same_payload = pc.equal(hashes, pc.take(hashes, kept_position))
    duplicate = pc.invert(is_first)
    natural = pc.and_(duplicate, same_payload)
    synthetic = pc.and_(duplicate, pc.invert(same_payload))
    return DedupPlan(
        keep=pc.take(order, first_positions),
        natural=pc.filter(order, natural),
        synthetic=pc.filter(order, synthetic),
        synthetic_kept=pc.take(order, pc.filter(kept_position, synthetic)),
    )
