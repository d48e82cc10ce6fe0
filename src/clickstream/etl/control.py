"""Starting and inspecting runs of the hourly ETL through the Step Functions API.

The same code drives the local stack (moto) and a deployed one (AWS): only the client's
endpoint and the state machine ARN differ.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickstream.errors import ClickstreamError
from clickstream.layout import Hour

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class Execution:
    arn: str
    name: str
    status: str
    hour: str | None
    started_at: datetime
    stopped_at: datetime | None
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def duration_s(self) -> float | None:
        return (self.stopped_at - self.started_at).total_seconds() if self.stopped_at else None

    @property
    def rows_loaded(self) -> int | None:
        return ((self.output or {}).get("load") or {}).get("inserted_events")

    @property
    def quarantined(self) -> int | None:
        if not self.output:
            return None
        listing = self.output.get("listing") or {}
        total = sum((listing.get("ingest_quarantine") or {}).values())
        for chunk in self.output.get("chunks") or []:
            total += sum((chunk.get("quarantined") or {}).values())
        return total


class EtlControl:
    def __init__(self, sfn_client: Any, state_machine_arn: str) -> None:
        self._sfn = sfn_client
        self.state_machine_arn = state_machine_arn

    def start(self, hour: Hour, *, trigger: str = "manual") -> str:
        name = f"{trigger}-{hour.start:%Y%m%dT%H}-{uuid.uuid4().hex[:8]}"
        return self._sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps({"hour": str(hour)})
        )["executionArn"]

    def start_scheduled(self, scheduled_time: datetime) -> str:
        """What EventBridge Scheduler sends each hour."""
        hour = Hour.containing(scheduled_time).shift(-1)
        return self._sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=f"schedule-{hour.start:%Y%m%dT%H}-{uuid.uuid4().hex[:8]}",
            input=json.dumps({"scheduled_time": scheduled_time.astimezone(UTC).isoformat(timespec="seconds")}),
        )["executionArn"]

    def wait(self, execution_arn: str, *, timeout_s: float = 1800, poll_s: float = 0.5) -> Execution:
        deadline = time.monotonic() + timeout_s
        while True:
            execution = self.describe(execution_arn)
            if execution.status in TERMINAL:
                return execution
            if time.monotonic() > deadline:
                raise ClickstreamError(f"execution {execution_arn} still {execution.status} after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def run(self, hour: Hour, *, timeout_s: float = 1800) -> Execution:
        return self.wait(self.start(hour), timeout_s=timeout_s)

    def backfill(self, hours: Iterable[Hour], *, on_done: Callable[[Execution], None] | None = None) -> list[Execution]:
        """One hour after another, oldest first: each hour's rollups build on the previous."""
        done = []
        for hour in sorted(hours):
            execution = self.run(hour)
            done.append(execution)
            if on_done:
                on_done(execution)
        return done

    def describe(self, execution_arn: str) -> Execution:
        d = self._sfn.describe_execution(executionArn=execution_arn)
        output = json.loads(d["output"]) if d.get("output") else None
        payload = json.loads(d.get("input") or "{}")
        hour = (output or {}).get("run", {}).get("hour") or payload.get("hour")
        name = d.get("name") or d["executionArn"].rsplit(":", 1)[-1]
        return Execution(arn=d["executionArn"], name=name, status=d["status"], hour=hour,
                         started_at=d["startDate"], stopped_at=d.get("stopDate"), output=output,
                         error=d.get("error"), cause=d.get("cause"))

    def history(self, *, limit: int = 20) -> list[Execution]:
        listed = self._sfn.list_executions(stateMachineArn=self.state_machine_arn, maxResults=limit)["executions"]
        return [self.describe(e["executionArn"]) for e in listed]

    def alerts(self, *, limit: int = 20) -> list[dict[str, Any]]:
        """The alert each failed execution published: what NotifyFailure sent to the topic."""
        found = []
        listed = self._sfn.list_executions(stateMachineArn=self.state_machine_arn, statusFilter="FAILED",
                                           maxResults=limit)["executions"]
        for entry in listed:
            events = self._sfn.get_execution_history(executionArn=entry["executionArn"], reverseOrder=True,
                                                     maxResults=100)["events"]
            for event in events:
                details = event.get("stateEnteredEventDetails") or {}
                if details.get("name") == "NotifyFailure":
                    found.append({"stopped_at": entry.get("stopDate"), **json.loads(details["input"]).get("alert", {})})
                    break
        return found
