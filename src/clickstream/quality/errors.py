"""`DataQualityError`: the exception that stops the hourly ETL before anything is loaded.

Step Functions' Catch matches the class name, so the name is API. The message is what the
alert (NotifyFailure) shows a person: which critical expectations failed, with examples,
and what to do next.
"""

from __future__ import annotations

import json

from clickstream.errors import ClickstreamError
from clickstream.layout import Hour, quarantine_prefix
from clickstream.quality.model import DqResult, QualityResult

# Step Functions keeps an error's Cause up to 32 KB and the alert must stay readable, so the
# message names at most this many failures (dq_results has them all).
MAX_FAILURES_IN_MESSAGE = 10
MAX_EXAMPLE_CHARS = 200


class DataQualityError(ClickstreamError):
    """Critical data-quality expectations failed for an hour; nothing of it was loaded."""

    def __init__(self, message: str, *, hour: Hour, run_id: str, failures: list[DqResult]) -> None:
        super().__init__(message)
        self.hour = hour
        self.run_id = run_id
        self.failures = failures


def raise_for(result: QualityResult) -> None:
    """Raise `DataQualityError` when a critical expectation failed; return quietly otherwise."""
    if result.passed:
        return
    failures = result.failed_critical
    lines = [f"- {_describe(failure)}" for failure in failures[:MAX_FAILURES_IN_MESSAGE]]
    if len(failures) > MAX_FAILURES_IN_MESSAGE:
        lines.append(f"- … and {len(failures) - MAX_FAILURES_IN_MESSAGE} more")
    hour = result.hour
    message = "\n".join([
        f"data quality failed for hour {hour} (run {result.run_id}): {len(failures)} critical "
        f"expectation(s) failed, so nothing of this hour was loaded.",
        *lines,
        "What to do:",
        f"1. See every result: SELECT * FROM dq_results WHERE run_id = '{result.run_id}' AND NOT success;",
        f"   and the rejected events of the hour under {quarantine_prefix('ingest', hour)} and "
        f"{quarantine_prefix('clean', hour)}.",
        "2. Fix what produced the bad rows: the tracker or integration that sent them, or the clean step "
        "if the raw events are fine.",
        f"3. Re-run the hour: clickstream etl run --hour {hour} --wait",
    ])
    raise DataQualityError(message, hour=hour, run_id=result.run_id, failures=failures)


def _describe(failure: DqResult) -> str:
    text = failure.label
    observed = failure.observed
    if isinstance(observed, dict) and "unexpected_count" in observed:
        text += f": {observed.get('unexpected_count')} of {observed.get('element_count')} rows unexpected"
    elif observed is not None:
        text += f": observed {json.dumps(observed)[:MAX_EXAMPLE_CHARS]}"
    examples = failure.details.get("partial_unexpected_list")
    if examples and any(e is not None for e in examples):  # a not-null check's examples are all null
        text += f", e.g. {json.dumps(examples[:3], ensure_ascii=False)[:MAX_EXAMPLE_CHARS]}"
    if failure.details.get("exception"):
        text += f" (check raised: {str(failure.details['exception'])[:MAX_EXAMPLE_CHARS]})"
    description = failure.details.get("description")
    if description:
        text += f". {description}"
    return text
