"""The `clickstream` command: a thin CLI over the package (local runtime today; ETL and demo next)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from clickstream.errors import ClickstreamError
from clickstream.settings import LocalSettings

_SUMMARY_KEYS = [
    ("dashboard_url", "dashboard"),
    ("shop_url", "demo shop"),
    ("api_url", "ingest API"),
    ("aws_endpoint_url", "local AWS (moto)"),
    ("database_url", "warehouse"),
    ("raw_bucket", "raw bucket"),
    ("quarantine_bucket", "quarantine bucket"),
    ("processed_bucket", "processed bucket"),
    ("user_pool_id", "Cognito user pool"),
    ("demo_user", "demo user"),
    ("log_file", "log"),
]


def _print_summary(state: dict[str, Any]) -> None:
    width = max(len(label) for _, label in _SUMMARY_KEYS)
    for key, label in _SUMMARY_KEYS:
        if state.get(key):
            click.echo(f"  {label:<{width}}  {state[key]}")


class _Cli(click.Group):
    """Turns our own errors into one clear line and exit code 1 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return super().invoke(ctx)
        except ClickstreamError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (BotoCoreError, ClientError) as exc:
            click.echo(f"error: an AWS call failed: {exc}. Locally, check `clickstream local status`; on AWS, "
                       "check your credentials, AWS_REGION and STATE_MACHINE_ARN.", err=True)
            sys.exit(1)


@click.group(cls=_Cli)
@click.version_option(package_name="clickstream")
def main() -> None:
    """Clickstream Analytics: collect, clean, check and load clickstream events into your PostgreSQL."""


@main.group()
def local() -> None:
    """Run the whole system on this machine (moto as AWS, embedded PostgreSQL)."""


@local.command("up")
@click.option("--detach", is_flag=True, help="Start in the background and return once ready.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for --detach to be ready.")
@click.option("--seed-days", default=0, show_default=True, type=click.IntRange(0, 30),
              help="On first start (empty warehouse), seed this many days of demo traffic and load them.")
def local_up(detach: bool, timeout: float, seed_days: int) -> None:
    """Start everything; in the foreground Ctrl-C stops it all."""
    from clickstream.local import runtime

    settings = LocalSettings.from_env()
    if detach:
        state = runtime.up_detached(settings, seed_days=seed_days, timeout_s=timeout)
        click.echo(f"local stack running in the background (pid {state['pid']}):")
        _print_summary(state)
        click.echo("stop it with: clickstream local down")
        return

    def ready(state: dict[str, Any]) -> None:
        click.echo("local stack ready:")
        _print_summary(state)
        click.echo(f"try: curl -s {state['api_url']}/v1/health")
        click.echo("Ctrl-C stops everything.")

    runtime.run_foreground(settings, seed_days=seed_days, on_ready=ready)
    click.echo("local stack stopped.")


@local.command("down")
def local_down() -> None:
    """Stop a stack started with `local up` (foreground or --detach)."""
    from clickstream.local import runtime

    was_running = runtime.down(LocalSettings.from_env())
    click.echo("local stack stopped." if was_running else "no local stack was running.")


@local.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def local_status(as_json: bool) -> None:
    """Show whether the stack runs and where its parts are. Exit code 1 when it is not running."""
    from clickstream.local import runtime

    state = runtime.status(LocalSettings.from_env())
    if as_json:
        click.echo(json.dumps(state, indent=2, sort_keys=True))
    elif state["running"]:
        click.echo(f"running (pid {state['pid']}, since {state['started_at']}):")
        _print_summary(state)
    else:
        click.echo("not running; start it with `clickstream local up` or `make run`.")
    sys.exit(0 if state["running"] else 1)


def _etl_control() -> Any:
    """The local stack's state machine, or a deployed one when STATE_MACHINE_ARN is set."""
    import os

    from clickstream.settings import Env

    arn = os.environ.get(Env.STATE_MACHINE_ARN)
    if arn:  # a deployed stack: nothing of the local runtime (moto, pgserver) is needed or imported
        from clickstream.aws import AwsClients
        from clickstream.etl.control import EtlControl
        from clickstream.settings import AwsSettings

        return EtlControl(AwsClients(AwsSettings.from_env()).client("stepfunctions"), arn)
    from clickstream.local import runtime
    from clickstream.local.etl import control_from_state

    state = runtime.status(LocalSettings.from_env())
    if not state["running"]:
        raise ClickstreamError(
            "no local stack is running and STATE_MACHINE_ARN is not set: start one with "
            "`clickstream local up --detach`, or set STATE_MACHINE_ARN (and AWS credentials) to drive AWS."
        )
    return control_from_state(state)


def _parse_hour(_: Any, __: Any, value: str | None) -> Any:
    from clickstream.layout import Hour

    if value is None:
        return None
    try:
        return Hour.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _execution_line(execution: Any) -> str:
    duration = f"{execution.duration_s:6.1f}s" if execution.duration_s is not None else "      -"
    rows = execution.rows_loaded if execution.rows_loaded is not None else "-"
    quarantined = execution.quarantined if execution.quarantined is not None else "-"
    return f"{execution.hour or '?':<14} {execution.status:<10} {duration}  rows {rows!s:>7}  quarantined {quarantined!s:>5}  {execution.name}"


@main.group()
def etl() -> None:
    """Run and inspect the hourly ETL (local stack, or AWS when STATE_MACHINE_ARN is set)."""


@etl.command("run")
@click.option("--hour", required=True, callback=_parse_hour, help="UTC hour, YYYY-MM-DDTHH.")
@click.option("--wait", is_flag=True, help="Wait for the end; exit 1 unless it succeeded.")
def etl_run(hour: Any, wait: bool) -> None:
    """Process one hour (a manual re-run of any hour is safe: nothing is doubled)."""
    control = _etl_control()
    arn = control.start(hour)
    click.echo(f"started {arn}")
    if wait:
        execution = control.wait(arn)
        click.echo(_execution_line(execution))
        if execution.status != "SUCCEEDED":
            click.echo(f"error: {execution.error}: {execution.cause}", err=True)
            sys.exit(1)


@etl.command("backfill")
@click.option("--from", "start", required=True, callback=_parse_hour, help="First UTC hour, YYYY-MM-DDTHH.")
@click.option("--to", "end", required=True, callback=_parse_hour, help="Last UTC hour (included).")
def etl_backfill(start: Any, end: Any) -> None:
    """Process every hour in a range, oldest first, with a progress bar; exit 1 if any failed."""
    if end < start:
        raise click.BadParameter("--to is before --from")
    hours = []
    hour = start
    while hour <= end:
        hours.append(hour)
        hour = hour.shift(1)
    control = _etl_control()
    failed = []
    with click.progressbar(length=len(hours), label="backfilling", item_show_func=lambda e: e and e.hour) as bar:
        def done(execution: Any) -> None:
            if execution.status != "SUCCEEDED":
                failed.append(execution)
            bar.update(1, execution)

        control.backfill(hours, on_done=done)
    click.echo(f"{len(hours) - len(failed)} of {len(hours)} hours succeeded")
    for execution in failed:
        click.echo(f"failed: {_execution_line(execution)}", err=True)
    sys.exit(1 if failed else 0)


@etl.command("history")
@click.option("--limit", default=20, show_default=True)
def etl_history(limit: int) -> None:
    """Recent executions: hour, status, duration, rows loaded, quarantined."""
    executions = _etl_control().history(limit=limit)
    if not executions:
        click.echo("no executions yet; start one with `clickstream etl run --hour YYYY-MM-DDTHH --wait`.")
    for execution in executions:
        click.echo(_execution_line(execution))


@etl.command("alerts")
@click.option("--limit", default=20, show_default=True)
def etl_alerts(limit: int) -> None:
    """The alerts failed executions published (execution, hour, failed state, error, cause)."""
    alerts = _etl_control().alerts(limit=limit)
    if not alerts:
        click.echo("no alerts.")
    for alert in alerts:
        click.echo(json.dumps(alert, default=str))


@main.group()
def demo() -> None:
    """Demo traffic for the local stack."""


@demo.command("seed")
@click.option("--days", default=3, show_default=True, type=click.IntRange(1, 30), help="Days of traffic before now.")
def demo_seed(days: int) -> None:
    """Send realistic demo traffic for the past days through the ingest code, then load those hours."""
    from clickstream.demo.seed import seed_and_backfill
    from clickstream.local import runtime
    from clickstream.local.aws import ingest_environment_from_state, local_clients
    from clickstream.local.etl import control_from_state
    from clickstream.settings import IngestSettings

    state = runtime.status(LocalSettings.from_env())
    if not state["running"]:
        raise ClickstreamError("the local stack is not running: start it with `clickstream local up --detach`.")
    settings = IngestSettings.from_env(ingest_environment_from_state(state))
    aws = local_clients(state["aws_endpoint_url"], state["region"])
    with click.progressbar(length=days * 24, label=f"seeding {days} days and loading each hour") as bar:
        result, executions = seed_and_backfill(days, settings=settings, control=control_from_state(state),
                                               on_hour=lambda _: bar.update(1), aws=aws)
    failed = [e for e in executions if e.status != "SUCCEEDED"]
    click.echo(f"sent {result.events_sent} events in {result.requests} requests ({result.accepted} accepted, "
               f"{result.rejected} rejected into quarantine); loaded {len(executions) - len(failed)} of "
               f"{len(executions)} hours.")
    for execution in failed:
        click.echo(f"failed: {_execution_line(execution)}", err=True)
    sys.exit(1 if failed else 0)



@main.command("dashboard")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
def dashboard(port: int, host: str) -> None:
    """Serve the dashboard alone against DATABASE_URL (or DATABASE_SECRET_ARN); Ctrl-C stops it."""
    from clickstream.dashboard.serve import serve
    from clickstream.settings import DashboardSettings

    DashboardSettings.from_env()  # fail now, naming the variable, rather than in the browser
    click.echo(f"dashboard on http://{host}:{port} (Ctrl-C stops it)")
    serve(host=host, port=port)

if __name__ == "__main__":
    main()
