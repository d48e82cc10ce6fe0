"""How numbers are shown: formats, comparisons with the previous period, table columns."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: Any) -> str:
    if _missing(value):
        return "–"
    value = float(value)
    return f"{value:,.0f}" if value == int(value) or abs(value) >= 100 else f"{value:,.2f}"


def percent(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value) * 100:.1f}%"


def seconds(value: Any) -> str:
    if _missing(value):
        return "–"
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def money(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value):,.2f}"


def hour(value: Any) -> str:
    """An hour as 'YYYY-MM-DD HH:00 UTC' (timestamps of the pipeline tables are UTC)."""
    if _missing(value) or value is pd.NaT:
        return "–"
    moment = pd.Timestamp(value)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


FORMATS = {"number": number, "percent": percent, "seconds": seconds, "money": money, "hour": hour}


def fmt(value: Any, kind: str) -> str:
    return FORMATS[kind](value)


def delta(current: Any, previous: Any, kind: str) -> str:
    """'+12.5% vs 1,234' (for rates: '+1.2 pts vs 34.0%'); '' when there is nothing to compare."""
    if _missing(current) or _missing(previous):
        return "previous period: –" if not _missing(current) else ""
    if kind == "percent":
        return f"{(float(current) - float(previous)) * 100:+.1f} pts vs {percent(previous)}"
    if float(previous) == 0:
        return f"vs {fmt(previous, kind)}"
    change = (float(current) - float(previous)) / abs(float(previous))
    return f"{change * 100:+.1f}% vs {fmt(previous, kind)}"


def table(frame: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """The columns to show, renamed, formatted: {column: (header, kind)}; kind "text" as is."""
    out = pd.DataFrame()
    for column, (header, kind) in columns.items():
        values = frame[column] if column in frame else pd.Series([None] * len(frame))
        out[header] = [("" if _missing(v) else str(v)) if kind == "text" else fmt(v, kind) for v in values]
    return out
