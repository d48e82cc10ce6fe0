"""The hourly ETL in the local AWS: the state machine from the one ASL file, an observable alert
topic, and a scheduler standing in for EventBridge Scheduler (moto never fires schedules)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clickstream.aws import AwsClients
from clickstream.etl.control import EtlControl
from clickstream.etl.statemachine import definition_values, load_manifest, render
from clickstream.local.aws import service_role
from clickstream.local.loopback import BackgroundLoop
from clickstream.observability import get_logger

SCHEDULE_OFFSET = timedelta(minutes=5)  # the manifest's cron(5 * * * ? *)
STATES_ROLE = "clickstream-local-states"


def deploy_state_machine(aws: AwsClients, function_arns: dict[str, str], alerts_topic_arn: str) -> str:
    manifest = load_manifest()
    definition = render(manifest.definition_path.read_text(), definition_values(function_arns, alerts_topic_arn))
    sfn = aws.client("stepfunctions")
    role_arn = service_role(aws, STATES_ROLE, "states.amazonaws.com")
    name = manifest.state_machine["name"]
    existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name]
    if existing:
        sfn.update_state_machine(stateMachineArn=existing[0], definition=definition, roleArn=role_arn)
        return existing[0]
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn, type="STANDARD")["stateMachineArn"]


def subscribe_queue(aws: AwsClients, topic_arn: str, queue_name: str) -> str:
    """An SQS queue receiving the topic's messages as they were published; returns its URL."""
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                                Attributes={"RawMessageDelivery": "true"})
    return queue_url


class AlertWatcher(BackgroundLoop):
    """Subscribes a queue to the alert topic and copies every alert to the log and a file."""

    def __init__(self, aws: AwsClients, topic_arn: str, alerts_file: Path) -> None:
        self._sqs = aws.client("sqs")
        self._alerts_file = alerts_file
        self.queue_url = subscribe_queue(aws, topic_arn, "clickstream-local-alerts")
        super().__init__("alert-watcher")

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                messages = self._sqs.receive_message(QueueUrl=self.queue_url, WaitTimeSeconds=1,
                                                     MaxNumberOfMessages=10).get("Messages", [])
            except Exception:  # the server is stopping
                return
            for message in messages:
                get_logger().error("ALERT: hourly ETL failed: %s", message["Body"])
                with self._alerts_file.open("a") as out:
                    out.write(json.dumps({"received_at": datetime.now(UTC).isoformat(), "alert": json.loads(message["Body"])}) + "\n")
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


class HourlyScheduler(BackgroundLoop):
    """Starts the state machine at five past every hour with EventBridge Scheduler's input."""

    def __init__(self, control: EtlControl) -> None:
        self._control = control
        super().__init__("hourly-scheduler")

    @staticmethod
    def next_fire(now: datetime) -> datetime:
        fire = now.replace(minute=0, second=0, microsecond=0) + SCHEDULE_OFFSET
        return fire if fire > now else fire + timedelta(hours=1)

    def run(self, stop: threading.Event) -> None:
        while True:
            fire = self.next_fire(datetime.now(UTC))
            if stop.wait((fire - datetime.now(UTC)).total_seconds()):
                return
            try:
                arn = self._control.start_scheduled(fire)
                get_logger().info("scheduler started %s", arn)
            except Exception as exc:
                get_logger().error("scheduler could not start the hourly run: %s", exc)


def control_from_state(state: dict[str, Any]) -> EtlControl:
    from clickstream.local.aws import local_clients

    aws = local_clients(state["aws_endpoint_url"], state["region"])
    return EtlControl(aws.client("stepfunctions"), state["state_machine_arn"])
