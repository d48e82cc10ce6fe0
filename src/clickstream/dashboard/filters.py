"""The dashboard's global filters: a date range (from a preset or custom), the previous
period to compare with, and the segment (device class, channel, country; None = all)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

PRESETS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom"}
SEGMENTS = ("device_class", "channel", "country")
ALL = ""  # what the filter inputs send for "all values"
MAX_DAYS = 366  # a longer custom range is cut to its last year: keeps every query bounded


def today_utc() -> date:
    return datetime.now(UTC).date()


def preset_range(preset: str, today: date | None = None) -> tuple[date, date]:
    """(start, end) of a preset, both included, ending today (UTC)."""
    today = today or today_utc()
    days = {"today": 1, "7d": 7, "30d": 30}.get(preset)
    if days is None:
        raise ValueError(f"unknown preset {preset!r}: one of {', '.join(p for p in PRESETS if p != 'custom')}")
    return today - timedelta(days=days - 1), today


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    device_class: str | None = None
    channel: str | None = None
    country: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the range ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def build(cls, start: date, end: date, *, device_class: str | None = None, channel: str | None = None,
              country: str | None = None) -> Filters:
        """From raw inputs: swaps a reversed range, caps it at MAX_DAYS, maps "" to all."""
        if end < start:
            start, end = end, start
        start = max(start, end - timedelta(days=MAX_DAYS - 1))
        return cls(start, end, device_class or None, channel or None, country or None)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of the same length just before, with the same segment."""
        end = self.start - timedelta(days=1)
        return replace(self, start=end - timedelta(days=self.days - 1), end=end)

    def params(self, **extra: Any) -> dict[str, Any]:
        """The named parameters every dashboard query takes."""
        return {"start": self.start, "end": self.end, "device_class": self.device_class,
                "channel": self.channel, "country": self.country, **extra}

    def describe(self) -> str:
        segment = ", ".join(f"{name.replace('_', ' ')} = {value}" for name in SEGMENTS
                            if (value := getattr(self, name)) is not None)
        period = f"{self.start}" if self.days == 1 else f"{self.start} to {self.end}"
        return f"{period} ({self.days} day{'s' if self.days != 1 else ''})" + (f"; {segment}" if segment else "")
