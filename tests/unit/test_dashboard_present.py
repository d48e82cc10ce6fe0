"""How the dashboard shows values in tables: formats per kind, missing values, UTC hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

from clickstream.dashboard import present


def test_hours_are_shown_short_and_in_utc_whatever_the_offset_they_come_with() -> None:
    assert present.hour(datetime(2026, 11, 25, 3, tzinfo=UTC)) == "2026-11-25 03:00 UTC"
    assert present.hour(datetime(2026, 11, 25, 4, tzinfo=timezone(timedelta(hours=1)))) == "2026-11-25 03:00 UTC"
    assert present.hour(pd.Timestamp("2026-11-25T03:00:00")) == "2026-11-25 03:00 UTC"  # naive means UTC


def test_missing_values_show_a_dash() -> None:
    for kind in present.FORMATS:
        assert present.fmt(None, kind) == "–"
    assert present.hour(pd.NaT) == "–"


def test_a_table_formats_each_column_by_its_kind() -> None:
    frame = pd.DataFrame({"hour": [datetime(2026, 11, 25, 3, tzinfo=UTC)], "duration_s": [1.25], "status": ["ok"]})
    out = present.table(frame, {"hour": ("Hour", "hour"), "duration_s": ("Duration", "seconds"),
                                "status": ("Status", "text")})
    assert out.to_dict("records") == [{"Hour": "2026-11-25 03:00 UTC", "Duration": "1.2 s", "Status": "ok"}]
