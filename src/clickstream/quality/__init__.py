"""Data quality of the hourly ETL: Great Expectations suites from `quality/` plus pipeline warnings.

    result = check_hour(hour, run_id, events=events, items=items,
                        expected_events=cleaned, context=QualityContext(...))
    store_results(conn, run_id, hour, result.results)   # dq_results, replaced per run
    raise_for(result)                                   # DataQualityError on a critical failure
    return result.to_dict()                             # {passed, critical_failures, warnings, evaluated}

Critical expectations stop the run before anything is loaded; warnings are only recorded.
Importing this package does not import Great Expectations (4-6 s); the first check does,
or `prepare()` when called during a Lambda's init phase.
"""

from __future__ import annotations

from clickstream.quality.check import CHUNK_COLUMN, check_hour, columns_to_read
from clickstream.quality.errors import DataQualityError, raise_for
from clickstream.quality.gx import prepare
from clickstream.quality.model import (
    CRITICAL,
    PIPELINE_SUITE,
    WARNING,
    DqResult,
    QualityContext,
    QualityResult,
)
from clickstream.quality.pipeline import (
    MAX_BOT_SHARE,
    MAX_QUARANTINE_RATIO,
    MIN_LAST_WEEK_EVENTS,
    MIN_VOLUME_RATIO_VS_LAST_WEEK,
)
from clickstream.quality.store import store_results

__all__ = [
    "CHUNK_COLUMN",
    "CRITICAL",
    "MAX_BOT_SHARE",
    "MAX_QUARANTINE_RATIO",
    "MIN_LAST_WEEK_EVENTS",
    "MIN_VOLUME_RATIO_VS_LAST_WEEK",
    "PIPELINE_SUITE",
    "WARNING",
    "DataQualityError",
    "DqResult",
    "QualityContext",
    "QualityResult",
    "check_hour",
    "columns_to_read",
    "prepare",
    "raise_for",
    "store_results",
]
