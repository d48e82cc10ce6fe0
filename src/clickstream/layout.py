"""The S3 layout: every object key the system writes or lists is built here.

    raw/received_date=YYYY-MM-DD/received_hour=HH/<request_id>.jsonl.gz
    processed/events/received_date=.../received_hour=.../part-NNNNN.parquet
    quarantine/stage=ingest|clean|quality/received_date=.../received_hour=.../<name>.jsonl.gz

Partitions are Hive-style so Athena/Glue read the processed layer directly.
"""

from __future__ import annotations

import re
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


def quarantine_key(stage: str, hour: Hour, name: str) -> str:
    return f"{quarantine_prefix(stage, hour)}{_safe_name(name)}.jsonl.gz"


def processed_prefix(dataset: str, hour: Hour) -> str:
    return f"{PROCESSED_PREFIX}/{dataset}/{hour.partition}/"


def processed_key(dataset: str, hour: Hour, part: int) -> str:
    return f"{processed_prefix(dataset, hour)}part-{part:05d}.parquet"


_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


def _safe_name(name: str) -> str:
    """Object names come from request ids; keep them to characters safe in every tool."""
    cleaned = _UNSAFE.sub("_", name)[:200]
    if not cleaned.strip("._"):
        raise ValueError(f"object name {name!r} has no usable characters")
    return cleaned
