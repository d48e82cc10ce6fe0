"""`clickstream local up|down|status`: the whole stack on 127.0.0.1, in one process.

The foreground process owns every part (moto server, embedded PostgreSQL, the ingest
front) and stops them all on Ctrl-C or SIGTERM. `--detach` starts that same foreground
process in its own session, waits until it reports ready, and returns; `down` signals it.
Its state (pid, URLs, resource names) is in `<home>/state.json`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickstream.errors import ClickstreamError, ConfigurationError
from clickstream.local.aws import LocalAws, ingest_environment
from clickstream.local.front import LocalApiFront
from clickstream.local.postgres import EmbeddedPostgres
from clickstream.local.static import REPO_SHOP_ROOT, StaticSite, shop_config
from clickstream.observability import get_logger
from clickstream.settings import Env, LocalSettings

STATE_FILE = "state.json"
LOG_FILE = "local.log"
ALERTS_FILE = "alerts.jsonl"
EVENTS_EXIST_SQL = "SELECT EXISTS (SELECT 1 FROM events)"


class AlreadyRunning(ClickstreamError):
    pass


def state_path(settings: LocalSettings) -> Path:
    return settings.home / STATE_FILE


def read_state(settings: LocalSettings) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_state(settings: LocalSettings, state: dict[str, Any]) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    tmp = state_path(settings).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(state_path(settings))


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_port_free(port: int, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise ConfigurationError(
                f"port {port} on 127.0.0.1 is already in use: stop what uses it "
                f"(another `clickstream local up`? try `clickstream local down`) or set {setting} to a free port."
            ) from None


def _quiet_console() -> None:
    """Keep the console for what a user needs: moto's per-request access log and a
    harmless Powertools warning would bury it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")


class LocalStack:
    """Starts the parts in order and stops those already started if a later one fails."""

    def __init__(self, settings: LocalSettings, *, seed_days: int = 0) -> None:
        self.settings = settings
        self.seed_days = seed_days
        self._stops: list[Callable[[], None]] = []

    def start(self) -> dict[str, Any]:
        _quiet_console()
        s = self.settings
        running = read_state(s)
        if running and pid_alive(running.get("pid")) and running.get("pid") != os.getpid():
            raise AlreadyRunning(
                f"the local stack is already running (pid {running['pid']}, API {running.get('api_url')}); "
                "stop it first with `clickstream local down`."
            )
        for port, setting in ((s.aws_port, Env.LOCAL_AWS_PORT), (s.api_port, Env.LOCAL_API_PORT),
                              (s.shop_port, Env.LOCAL_SHOP_PORT), (s.dashboard_port, Env.LOCAL_DASHBOARD_PORT)):
            _check_port_free(port, setting)
        s.home.mkdir(parents=True, exist_ok=True)
        try:
            database_url = s.database_url or self._start_postgres()
            aws = LocalAws(port=s.aws_port)
            aws.start()
            self._stops.append(aws.stop)
            resources = aws.provision()
            os.environ.update(ingest_environment(resources, cors_allow_origins=",".join(s.shop_origins)))
            os.environ[Env.DATABASE_URL] = database_url
            # Metrics would print an EMF blob per request to the console; CloudWatch reads them on AWS only.
            os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
            from tasks.ingest import lambda_handler  # after the environment is set: settings are read once

            front = LocalApiFront(lambda_handler, port=s.api_port)
            api_url = front.start()
            self._stops.append(front.stop)
            shop = StaticSite(REPO_SHOP_ROOT, s.shop_port, config=shop_config(api_url, resources))
            shop_url = shop.start()
            self._stops.append(shop.stop)
            etl = self._start_etl(aws, resources.alerts_topic_arn, database_url)
            from clickstream.dashboard.serve import DashboardServer  # reads DATABASE_URL, set above

            dashboard = DashboardServer(port=s.dashboard_port)
            dashboard_url = dashboard.start()
            self._stops.append(dashboard.stop)
        except BaseException:
            self.stop()
            raise
        return {
            **etl,
            "pid": os.getpid(),
            "status": "ready",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "home": str(s.home),
            "log_file": str(s.home / LOG_FILE),
            "api_url": api_url,
            "shop_url": shop_url,
            "dashboard_url": dashboard_url,
            "database_url": database_url,
            **resources.as_dict(),
        }

    def _start_etl(self, aws: LocalAws, alerts_topic_arn: str, database_url: str) -> dict[str, Any]:
        """The warehouse schema, the task functions and the state machine in the local AWS, the
        alert watcher and the hourly scheduler."""
        from clickstream.etl.control import EtlControl
        from clickstream.local.etl import AlertWatcher, HourlyScheduler, deploy_state_machine
        from clickstream.local.lambdas import install_in_process_invoke, register_functions
        from clickstream.warehouse.db import connect
        from clickstream.warehouse.migrate import migrate

        conn = connect(database_url)
        try:
            migrate(conn)
        finally:
            conn.close()
        install_in_process_invoke()
        clients = aws.clients()
        function_arns = register_functions(clients, dict(os.environ))
        state_machine_arn = deploy_state_machine(clients, function_arns, alerts_topic_arn)
        alerts_file = self.settings.home / ALERTS_FILE
        watcher = AlertWatcher(clients, alerts_topic_arn, alerts_file)
        watcher.start()
        self._stops.append(watcher.stop)
        control = EtlControl(clients.client("stepfunctions"), state_machine_arn)
        scheduler = HourlyScheduler(control)
        scheduler.start()
        self._stops.append(scheduler.stop)
        if self.seed_days and _warehouse_is_empty(database_url):
            threading.Thread(target=_seed_demo, args=(self.seed_days, control), name="demo-seed", daemon=True).start()
        return {"state_machine_arn": state_machine_arn, "alerts_file": str(alerts_file)}

    def _start_postgres(self) -> str:
        postgres = EmbeddedPostgres(data_dir=self.settings.home / "postgres", port=self.settings.pg_port)
        if not postgres.is_running():
            _check_port_free(self.settings.pg_port, Env.LOCAL_PG_PORT)
        url = postgres.start()
        self._stops.append(postgres.stop)
        return url

    def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as exc:  # keep stopping the rest; report what failed
                print(f"warning: stopping a local component failed: {exc}", file=sys.stderr)


def _warehouse_is_empty(database_url: str) -> bool:
    from clickstream.warehouse.db import connect

    conn = connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(EVENTS_EXIST_SQL)
            return not cur.fetchone()[0]
    finally:
        conn.close()


def _seed_demo(days: int, control: Any) -> None:
    """First start: demo traffic for the past days through the ingest code, then each hour loaded."""
    from clickstream.demo.seed import seed_and_backfill
    from clickstream.settings import IngestSettings

    log = get_logger()
    log.info("seeding %d days of demo traffic, then loading each hour (the dashboard fills as hours land)", days)
    try:
        result, executions = seed_and_backfill(
            days, settings=IngestSettings.from_env(), control=control,
            on_hour=lambda e: log.info("demo hour %s %s (%s rows)", e.hour, e.status, e.rows_loaded),
        )
    except Exception:
        log.exception("demo seeding failed; run `clickstream demo seed --days %d` to retry", days)
        return
    failed = sum(e.status != "SUCCEEDED" for e in executions)
    log.info("demo data ready: %d events sent, %d hours loaded, %d failed", result.events_sent,
             len(executions) - failed, failed)


def run_foreground(settings: LocalSettings, *, seed_days: int = 0,
                   on_ready: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run until SIGINT/SIGTERM, then stop every part and remove the state file."""
    stop_requested = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop_requested.set())
    stack = LocalStack(settings, seed_days=seed_days)
    state = stack.start()
    try:
        _write_state(settings, state)
        if on_ready:
            on_ready(state)
        stop_requested.wait()
    finally:
        stack.stop()
        current = read_state(settings)
        if current and current.get("pid") == os.getpid():
            state_path(settings).unlink(missing_ok=True)


def up_detached(settings: LocalSettings, *, seed_days: int = 0, timeout_s: float = 120.0) -> dict[str, Any]:
    """Start the foreground runtime in its own session; return its state once it is ready."""
    running = read_state(settings)
    if running and pid_alive(running.get("pid")):
        raise AlreadyRunning(
            f"the local stack is already running (pid {running['pid']}); `clickstream local down` stops it."
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    log_path = settings.home / LOG_FILE
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "clickstream.cli", "local", "up", "--seed-days", str(seed_days)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, Env.CLICKSTREAM_HOME: str(settings.home)},
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_state(settings)
        if state and state.get("pid") == child.pid and state.get("status") == "ready":
            return state
        if child.poll() is not None:
            break
        time.sleep(0.2)
    if child.poll() is None:
        child.terminate()
    tail = log_path.read_text(errors="replace")[-3000:]
    raise ClickstreamError(f"the local stack did not become ready; the end of {log_path}:\n{tail}")


def down(settings: LocalSettings, *, timeout_s: float = 30.0) -> bool:
    """Stop a running stack; True if one was running. Cleans up after a crashed one too."""
    state = read_state(settings)
    pid = state.get("pid") if state else None
    was_running = pid_alive(pid)
    if was_running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    # A killed or crashed runtime leaves PostgreSQL running: stop it by its data directory.
    postgres = EmbeddedPostgres(data_dir=settings.home / "postgres", port=settings.pg_port)
    if (settings.home / "postgres" / "data").exists() and postgres.is_running():
        postgres.stop()
    state_path(settings).unlink(missing_ok=True)
    return was_running


def status(settings: LocalSettings) -> dict[str, Any]:
    state = read_state(settings) or {}
    running = pid_alive(state.get("pid"))
    return {**state, "running": running} if running else {"running": False, "home": str(settings.home)}
