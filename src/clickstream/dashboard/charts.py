"""Plotly figures of the dashboard, built from the query module's frames (no I/O here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from clickstream.dashboard.filters import Filters

CURRENT = "#2563eb"
PREVIOUS = "#94a3b8"
PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"]


def _clean(values: Any) -> list[Any]:
    """Plain values for the widget's JSON (which refuses NaN): missing becomes None."""
    return [None if v is None or (isinstance(v, float) and v != v) or v is pd.NaT else
            (float(v) if hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "f" else v) for v in values]


def _layout(fig: go.Figure, title: str, *, height: int = 320, **kwargs: Any) -> go.Figure:
    for trace in fig.data:
        for attr in ("x", "y", "z", "values", "customdata"):
            value = getattr(trace, attr, None)
            if value is not None and not isinstance(value, str):
                setattr(trace, attr, [_clean(v) if isinstance(v, (list, tuple)) else _clean([v])[0] for v in value])
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=height, template="plotly_white",
                      margin={"l": 40, "r": 10, "t": 40, "b": 30}, colorway=PALETTE,
                      **{"legend": {"orientation": "h", "y": -0.15}, **kwargs})
    return fig


def empty(title: str, message: str = "No data in this range") -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 13, "color": "#64748b"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title)


def trend(current: pd.DataFrame, previous: pd.DataFrame | None, f: Filters, metric: str, label: str) -> go.Figure:
    """The metric over the range; the previous period drawn on the same x positions (dashed)."""
    title = f"{label} by {'hour' if f.days <= 2 else 'day'}"
    if current.empty and (previous is None or previous.empty):
        return empty(title)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(current["at"]), y=_clean(current[metric]), mode="lines+markers",
                             name="this period", line={"color": CURRENT}))
    if previous is not None and not previous.empty:
        step = timedelta(hours=1) if f.days <= 2 else timedelta(days=1)
        base = pd.Timestamp(f.start, tz="UTC") if f.days <= 2 else f.start
        xs = [base + step * int(o) for o in previous["offset"]]
        fig.add_trace(go.Scatter(x=xs, y=_clean(previous[metric]), mode="lines", name="previous period",
                                 line={"color": PREVIOUS, "dash": "dash"}))
    return _layout(fig, title)


def bar(frame: pd.DataFrame, x: str, ys: list[tuple[str, str]], title: str, *, horizontal: bool = False,
        barmode: str = "group", percent: bool = False) -> go.Figure:
    if frame.empty:
        return empty(title)
    fig = go.Figure()
    for column, name in ys:
        labels, values = list(frame[x].astype(str)), _clean(frame[column])
        fig.add_trace(go.Bar(y=labels, x=values, name=name, orientation="h") if horizontal
                      else go.Bar(x=labels, y=values, name=name))
    fig = _layout(fig, title, barmode=barmode)
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    if percent:
        (fig.update_xaxes if horizontal else fig.update_yaxes)(tickformat=".0%")
    return fig


def pie(labels: list[str], values: list[float], title: str) -> go.Figure:
    if not any(values):
        return empty(title)
    return _layout(go.Figure(go.Pie(labels=labels, values=values, hole=0.5)), title)


def funnel(steps: pd.DataFrame, previous: pd.DataFrame | None, title: str) -> go.Figure:
    if steps.empty or not steps["sessions"].any():
        return empty(title)
    fig = go.Figure(go.Funnel(y=list(steps["step"]), x=list(steps["sessions"]), name="this period",
                              textinfo="value+percent initial", marker={"color": CURRENT}))
    if previous is not None and previous["sessions"].any():
        fig.add_trace(go.Funnel(y=list(previous["step"]), x=list(previous["sessions"]), name="previous period",
                                textinfo="value", marker={"color": PREVIOUS}))
    return _layout(fig, title)


def heatmap(retention: pd.DataFrame, title: str) -> go.Figure:
    if retention.empty:
        return empty(title)
    table = retention.pivot_table(index="cohort_week", columns="week_offset", values="rate", aggfunc="sum")
    sizes = retention[retention.week_offset == 0].set_index("cohort_week")["active_visitors"]
    labels = [f"{c} ({int(sizes.get(c, 0))})" for c in table.index]
    fig = go.Figure(go.Heatmap(z=[_clean(row) for row in table.values.tolist()], x=[f"week {int(c)}" for c in table.columns], y=labels,
                               colorscale="Blues", zmin=0, zmax=1, texttemplate="%{z:.0%}",
                               hovertemplate="%{y} %{x}: %{z:.1%}<extra></extra>"))
    fig = _layout(fig, title)
    fig.update_yaxes(autorange="reversed")
    return fig


def stacked_over_time(frame: pd.DataFrame, x: str, series: str, value: str, title: str) -> go.Figure:
    if frame.empty:
        return empty(title, "Nothing in this range")
    fig = go.Figure()
    for name, part in frame.groupby(series, sort=True):
        fig.add_trace(go.Bar(x=list(part[x]), y=list(part[value]), name=str(name)))
    # The legend names the series even when there is only one (e.g. one quarantine reason). It
    # hangs below the time axis (the plot shrinks to make room): a dozen names would cover it.
    return _layout(fig, title, barmode="stack", showlegend=True,
                   legend={"orientation": "h", "yanchor": "top", "y": -0.3, "font": {"size": 10},
                           "entrywidth": 0.5, "entrywidthmode": "fraction"})


def runs(frame: pd.DataFrame, title: str) -> go.Figure:
    if frame.empty:
        return empty(title, "No runs in this range")
    colors = {"succeeded": "#16a34a", "failed": "#dc2626", "running": "#f59e0b"}
    fig = go.Figure()
    for status, part in frame.groupby("status", sort=True):
        fig.add_trace(go.Bar(x=list(part["hour"]), y=[float(v or 0) for v in part["duration_s"]], name=str(status),
                             marker={"color": colors.get(str(status), "#64748b")},
                             customdata=list(part["inserted_events"].fillna(0)),
                             hovertemplate="%{x}: %{y:.1f} s, %{customdata} rows<extra></extra>"))
    fig = _layout(fig, title, barmode="overlay")
    fig.update_yaxes(title="seconds")
    return fig
