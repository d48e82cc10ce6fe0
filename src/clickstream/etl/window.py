"""ResolveWindow: which hour a run processes, from a manual or a scheduled input."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from clickstream.errors import ClickstreamError
from clickstream.layout import Hour


class InvalidRunInput(ClickstreamError):
    """The state machine was started with an input it cannot turn into an hour."""


@dataclass(frozen=True)
class Run:
    hour: str
    run_id: str
    execution_arn: str
    started_at: str
    trigger: str  # "manual" | "schedule"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_run(payload: Any, *, execution_arn: str, execution_name: str, now: datetime) -> Run:
    """`{"hour": "YYYY-MM-DDTHH"}` runs that hour; `{"scheduled_time": ISO}` (EventBridge
    Scheduler) or `{"time": ISO}` (an EventBridge rule) runs the last full hour before that time."""
    if not isinstance(payload, dict):
        raise InvalidRunInput(_usage(f"the input is {type(payload).__name__}, not a JSON object"))
    if "hour" in payload:
        try:
            hour, trigger = Hour.parse(str(payload["hour"])), "manual"
        except ValueError as exc:
            raise InvalidRunInput(_usage(str(exc))) from None
        if hour.start >= Hour.containing(now).start:
            raise InvalidRunInput(f"hour {hour} has not ended yet: only completed hours can be processed.")
    elif "scheduled_time" in payload or "time" in payload:
        text = str(payload.get("scheduled_time") or payload.get("time"))
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRunInput(_usage(f"scheduled time {text!r} is not an ISO-8601 timestamp")) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        hour, trigger = Hour.containing(moment).shift(-1), "schedule"
    else:
        raise InvalidRunInput(_usage(f"the input has neither 'hour' nor 'scheduled_time' (keys: {sorted(payload)})"))
    return Run(hour=str(hour), run_id=execution_name, execution_arn=execution_arn,
               started_at=now.astimezone(UTC).isoformat(timespec="milliseconds"), trigger=trigger)


def _usage(problem: str) -> str:
    return f"{problem}. Start the state machine with {{\"hour\": \"YYYY-MM-DDTHH\"}} (UTC), e.g. {{\"hour\": \"2026-11-25T13\"}}."
