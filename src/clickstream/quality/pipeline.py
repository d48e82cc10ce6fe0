"""Warnings that compare the hour with the pipeline's own numbers rather than with a column.

They are not column expectations (they need the quarantine counts and last week's volume,
which are not in the Parquet files), so they are plain functions; each returns a `DqResult`
of suite "pipeline" so they are stored and counted exactly like the Great Expectations ones.
All are warnings: they are recorded and alarmed on, never stop a run.
"""

from __future__ import annotations

from clickstream.quality.model import PIPELINE_SUITE, WARNING, DqResult, QualityContext

MAX_QUARANTINE_RATIO = 0.05
"""Warn when more than 5 % of the hour's events were quarantined (ingest + clean) — the
ratio is quarantined / (quarantined + clean events). A healthy tracker loses well under
1 %; more means a tracker release or an integration sends events the schema rejects."""

MAX_BOT_SHARE = 0.30
"""Warn when more than 30 % of the hour's events come from known bots (`is_bot`). Bots are
kept and flagged, not dropped; a share this high usually means a crawler or a load test is
skewing traffic reports."""

MIN_VOLUME_RATIO_VS_LAST_WEEK = 0.5
"""Warn when the hour has fewer than 50 % of the events of the same hour a week earlier
(same weekday and time of day, so daily and weekly cycles cancel out): a tracker that
stopped firing on some pages, a broken release or an outage of the ingest API."""

MIN_LAST_WEEK_EVENTS = 100
"""The volume comparison needs at least 100 events in last week's hour; below that, normal
noise easily halves the count and the warning would cry wolf."""

QUARANTINE_RATIO = "expect_quarantine_ratio_to_be_at_most"
BOT_SHARE = "expect_bot_share_to_be_at_most"
VOLUME_VS_LAST_WEEK = "expect_volume_to_hold_vs_last_week"
HOUR_HAS_EVENTS = "expect_hour_to_have_events"
CHECKS: tuple[str, ...] = (QUARANTINE_RATIO, BOT_SHARE, VOLUME_VS_LAST_WEEK, HOUR_HAS_EVENTS)


def _result(expectation: str, success: bool, observed: object, details: dict[str, object]) -> DqResult:
    return DqResult(PIPELINE_SUITE, expectation, "", WARNING, success, observed, details)


def quarantine_ratio(events: int, context: QualityContext) -> DqResult:
    quarantined = context.ingest_quarantined + context.clean_quarantined
    total = quarantined + events
    ratio = quarantined / total if total else 0.0
    return _result(QUARANTINE_RATIO, ratio <= MAX_QUARANTINE_RATIO, round(ratio, 6), {
        "description": "At most 5 % of the hour's events are quarantined (ingest + clean); more means a "
                       "producer sends events the schema rejects: see quarantine/ for their error codes.",
        "threshold": MAX_QUARANTINE_RATIO,
        "ingest_quarantined": context.ingest_quarantined,
        "clean_quarantined": context.clean_quarantined,
        "events": events,
    })


def bot_share(events: int, bots: int) -> DqResult:
    share = bots / events if events else 0.0
    return _result(BOT_SHARE, share <= MAX_BOT_SHARE, round(share, 6), {
        "description": "At most 30 % of the hour's events come from known bots; more usually means a crawler "
                       "or a load test is skewing the traffic reports.",
        "threshold": MAX_BOT_SHARE,
        "bot_events": bots,
        "events": events,
    })


def volume_vs_last_week(events: int, context: QualityContext) -> DqResult:
    baseline = context.same_hour_last_week_events
    details: dict[str, object] = {
        "description": "The hour has at least half the events of the same hour last week; fewer suggests a "
                       "tracker that stopped firing, a broken release or an ingest outage.",
        "threshold": MIN_VOLUME_RATIO_VS_LAST_WEEK,
        "min_last_week_events": MIN_LAST_WEEK_EVENTS,
        "events": events,
        "same_hour_last_week_events": baseline,
    }
    if baseline is None or baseline < MIN_LAST_WEEK_EVENTS:
        # Recorded as a pass with the reason, so dq_results shows the check ran and why it said nothing.
        details["skipped"] = "no history for last week" if baseline is None else "last week's hour is too small to compare"
        return _result(VOLUME_VS_LAST_WEEK, True, None, details)
    ratio = events / baseline
    return _result(VOLUME_VS_LAST_WEEK, ratio >= MIN_VOLUME_RATIO_VS_LAST_WEEK, round(ratio, 6), details)


def hour_has_events(events: int) -> DqResult:
    # An empty hour is legitimate (a quiet night, a new install), so it warns rather than fails.
    return _result(HOUR_HAS_EVENTS, events > 0, events, {
        "description": "The hour has at least one event; none at all is possible at night on a small site, "
                       "otherwise check that the tracker and the ingest API are up.",
    })


def pipeline_checks(events: int, bots: int, context: QualityContext) -> list[DqResult]:
    """Every pipeline check of one hour, in a fixed order."""
    return [
        quarantine_ratio(events, context),
        bot_share(events, bots),
        volume_vs_last_week(events, context),
        hour_has_events(events),
    ]
