"""The data-quality result types: one row per checked expectation, and the hour's summary.

Great Expectations results and our own pipeline checks both become `DqResult` rows, so the
warehouse table `dq_results`, the error message and the Step Functions payload are built
from one shape, whatever produced the check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from clickstream.layout import Hour

CRITICAL = "critical"
"""A failure stops the run before anything is loaded."""
WARNING = "warning"
"""A failure is recorded in `dq_results` (and alarmed on), never stops the run."""
SEVERITIES: tuple[str, ...] = (CRITICAL, WARNING)

Severity = Literal["critical", "warning"]

PIPELINE_SUITE = "pipeline"
"""Suite name of the checks that compare the hour with the pipeline's own counts."""


class DqResult(NamedTuple):
    """One checked expectation: a row of `dq_results` without its run id, hour and time.

    `column_name` is "" for table-level and pipeline checks (it is part of the primary key,
    so it is never NULL); compound expectations join their columns with ",".
    `observed` and `details` are plain JSON values (no NaN, no datetimes).
    """

    suite: str
    expectation: str
    column_name: str
    severity: Severity
    success: bool
    observed: Any
    details: dict[str, Any]

    @property
    def label(self) -> str:
        """`suite.expectation(column)`, how people name a check in messages."""
        column = f"({self.column_name})" if self.column_name else ""
        return f"{self.suite}.{self.expectation}{column}"


@dataclass(frozen=True)
class QualityContext:
    """The pipeline's own numbers for the hour that the warnings compare the data with.

    `ingest_quarantined` and `clean_quarantined` count the events the ingest API and the
    clean step rejected for the hour; `same_hour_last_week_events` is the number of events
    loaded for the same hour seven days earlier, None when unknown (no history yet).
    """

    ingest_quarantined: int = 0
    clean_quarantined: int = 0
    same_hour_last_week_events: int | None = None


@dataclass(frozen=True)
class QualityResult:
    """Every check of one hour, and the counts the state machine carries on."""

    hour: Hour
    run_id: str
    results: list[DqResult] = field(default_factory=list)

    @property
    def critical_failures(self) -> int:
        return sum(1 for r in self.results if r.severity == CRITICAL and not r.success)

    @property
    def warnings(self) -> int:
        """Failed warning-level checks (checks that passed are not warnings)."""
        return sum(1 for r in self.results if r.severity == WARNING and not r.success)

    @property
    def evaluated(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> bool:
        """True when no critical expectation failed: the hour may be loaded."""
        return self.critical_failures == 0

    @property
    def failed_critical(self) -> list[DqResult]:
        return [r for r in self.results if r.severity == CRITICAL and not r.success]

    @property
    def failed_warnings(self) -> list[DqResult]:
        return [r for r in self.results if r.severity == WARNING and not r.success]

    def to_dict(self) -> dict[str, Any]:
        """The `$.quality` payload of the state document: counts only, never rows."""
        return {
            "passed": self.passed,
            "critical_failures": self.critical_failures,
            "warnings": self.warnings,
            "evaluated": self.evaluated,
        }
