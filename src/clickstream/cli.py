"""The `clickstream` command: a thin CLI over the package (local runtime today; ETL and demo next)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from clickstream.errors import ClickstreamError
from clickstream.settings import LocalSettings

_SUMMARY_KEYS = [
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
        try:
            return super().invoke(ctx)
        except ClickstreamError as exc:
            click.echo(f"error: {exc}", err=True)
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
def local_up(detach: bool, timeout: float) -> None:
    """Start everything; in the foreground Ctrl-C stops it all."""
    from clickstream.local import runtime

    settings = LocalSettings.from_env()
    if detach:
        state = runtime.up_detached(settings, timeout_s=timeout)
        click.echo(f"local stack running in the background (pid {state['pid']}):")
        _print_summary(state)
        click.echo("stop it with: clickstream local down")
        return

    def ready(state: dict[str, Any]) -> None:
        click.echo("local stack ready:")
        _print_summary(state)
        click.echo(f"try: curl -s {state['api_url']}/v1/health")
        click.echo("Ctrl-C stops everything.")

    runtime.run_foreground(settings, on_ready=ready)
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


if __name__ == "__main__":
    main()
