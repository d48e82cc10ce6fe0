"""The S3 layout: every object key the system writes or lists is built here.

    raw/received_date=YYYY-MM-DD/received_hour=HH/<request_id>.jsonl.gz
    processed/events/received_date=.../received_hour=.../part-NNNNN.parquet
    quarantine/stage=ingest|clean|quality/received_date=.../received_hour=.../<name>[~<code>=<n>...].jsonl.gz

Partitions are Hive-style so Athena/Glue read the processed layer directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RAW_PREFIX = "raw"
PROCESSED_PREFIX = "processed"
QUARANTINE_PREFIX = "quarantine"
QUARANTINE_STAGES = ("ingest", "clean", "quality")

_HOUR_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})$")


@dataclass(frozen=True, order=True)
class Hour:
    """One UTC hour, written `YYYY-MM-DDTHH` (the state machine's input)."""

    start: datetime

    @classmethod
    def parse(cls, text: str) -> Hour:
        match = _HOUR_RE.match(text.strip())
        if not match:
            raise ValueError(f"hour {text!r} is not of the form YYYY-MM-DDTHH (UTC), e.g. 2026-11-25T13")
        year, month, day, hour = (int(g) for g in match.groups())
        try:
            return cls(datetime(year, month, day, hour, tzinfo=UTC))
        except ValueError as exc:
            raise ValueError(f"hour {text!r} is not a real UTC hour: {exc}") from None

    @classmethod
    def containing(cls, moment: datetime) -> Hour:
        moment = moment.astimezone(UTC)
        return cls(moment.replace(minute=0, second=0, microsecond=0))

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=1)

    def shift(self, hours: int) -> Hour:
        return Hour(self.start + timedelta(hours=hours))

    @property
    def partition(self) -> str:
        return f"received_date={self.start:%Y-%m-%d}/received_hour={self.start:%H}"

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%dT%H}"


def raw_prefix(hour: Hour) -> str:
    return f"{RAW_PREFIX}/{hour.partition}/"


def raw_key(hour: Hour, request_id: str) -> str:
    return f"{raw_prefix(hour)}{_safe_name(request_id)}.jsonl.gz"


def quarantine_prefix(stage: str, hour: Hour) -> str:
    if stage not in QUARANTINE_STAGES:
        raise ValueError(f"quarantine stage {stage!r} is not one of {QUARANTINE_STAGES}")
    return f"{QUARANTINE_PREFIX}/stage={stage}/{hour.partition}/"


def quarantine_key(stage: str, hour: Hour, name: str, counts: Mapping[str, int] | None = None) -> str:
    """`quarantine/stage=<stage>/<hour partition>/<name>[~<code>=<n>...].jsonl.gz`.

    With `counts` (records per error code) the key carries them, e.g.
    `req-1~bad_currency=1~stale_timestamp=2.jsonl.gz`: the hour's quarantine is then counted
    from a listing, without reading thousands of small objects, and `aws s3 ls` shows why
    each was kept. Counts that would make the key too long for S3 are left out; such an
    object is counted by reading it.
    """
    base = f"{quarantine_prefix(stage, hour)}{_safe_name(name)}"
    if counts and all(_CODE.fullmatch(code) and n > 0 for code, n in counts.items()):
        tagged = base + "".join(f"{_COUNT_SEPARATOR}{code}={n}" for code, n in sorted(counts.items()))
        if len((tagged + _QUARANTINE_SUFFIX).encode()) <= MAX_KEY_BYTES:
            base = tagged
    return base + _QUARANTINE_SUFFIX


def quarantine_counts_in_key(key: str) -> dict[str, int] | None:
    """The counts `quarantine_key` put in the key, or None when it carries none (read the object)."""
    name = key.rsplit("/", 1)[-1].removesuffix(_QUARANTINE_SUFFIX)
    _, *tags = name.split(_COUNT_SEPARATOR)
    if not tags:
        return None
    counts: dict[str, int] = {}
    for tag in tags:
        code, _, n = tag.partition("=")
        if not (_CODE.fullmatch(code) and n.isdigit()):
            return None
        counts[code] = counts.get(code, 0) + int(n)
    return counts


def processed_prefix(dataset: str, hour: Hour) -> str:
    return f"{PROCESSED_PREFIX}/{dataset}/{hour.partition}/"


def processed_key(dataset: str, hour: Hour, part: int) -> str:
    return f"{processed_prefix(dataset, hour)}part-{part:05d}.parquet"


_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")
# Names never contain "~" (`_safe_name` replaces it), so it can only start a count tag.
_COUNT_SEPARATOR = "~"
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_QUARANTINE_SUFFIX = ".jsonl.gz"
MAX_KEY_BYTES = 1024  # S3's limit on an object key


def _safe_name(name: str) -> str:
    """Object names come from request ids; keep them to characters safe in every tool."""
    cleaned = _UNSAFE.sub("_", name)[:200]
    if not cleaned.strip("._"):
        raise ValueError(f"object name {name!r} has no usable characters")
    return cleaned
