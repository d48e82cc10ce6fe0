"""Embedded PostgreSQL for the local runtime and the tests, from the binaries pgserver ships.

pgserver's own server object listens on a Unix socket only; we run its `initdb`/`pg_ctl`
ourselves so the database listens on 127.0.0.1 and `DATABASE_URL` is an ordinary TCP URL.
PostgreSQL refuses to run as root, so as root the cluster belongs to a system user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2

from clickstream.errors import ConfigurationError

SYSTEM_USER = "pgserver"
SUPERUSER = "postgres"


def _pgserver() -> Any:
    """pgserver, imported lazily (the local extra is absent on Lambda) and without its
    harmless warning about XDG_RUNTIME_DIR."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver._commands
        import pgserver.utils

    return pgserver


def _bin(name: str) -> str:
    return str(_pgserver()._commands.POSTGRES_BIN_PATH / name)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    database: str = "clickstream"
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{self.database}"

    @property
    def _pgdata(self) -> Path:
        return self.data_dir / "data"

    @property
    def _log(self) -> Path:
        return self.data_dir / "postgres.log"

    def start(self, timeout_s: float = 30.0) -> str:
        """Initialise the cluster on first use, start it, create the database; returns the URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        run_as = self._prepare_ownership()
        if not (self._pgdata / "PG_VERSION").exists():
            self._run([_bin("initdb"), "-D", str(self._pgdata), "-U", SUPERUSER, "--auth=trust",
                       "--encoding=UTF8", "--locale=C"], run_as)
        if not self.is_running():
            self._run([_bin("pg_ctl"), "-D", str(self._pgdata), "-l", str(self._log), "-w", "-t", str(int(timeout_s)),
                       "-o", f"-h {self.host} -p {self.port} -k {self._pgdata}", "start"], run_as)
        self._ensure_database()
        return self.url

    def stop(self) -> None:
        if (self._pgdata / "postmaster.pid").exists():
            self._run([_bin("pg_ctl"), "-D", str(self._pgdata), "-m", "fast", "-w", "stop"], self._prepare_ownership(),
                      check=False)

    def is_running(self) -> bool:
        result = subprocess.run([_bin("pg_ctl"), "-D", str(self._pgdata), "status"], capture_output=True, text=True)
        return result.returncode == 0

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _ensure_database(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = psycopg2.connect(host=self.host, port=self.port, user=SUPERUSER, dbname="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()

    def _prepare_ownership(self) -> str | None:
        """As root, hand the data directory to an unprivileged user and run the server as that user."""
        if os.geteuid() != 0:
            return None
        utils = _pgserver().utils
        entry = utils.ensure_user_exists(SYSTEM_USER)
        if entry is None:
            raise ConfigurationError("could not create the system user that runs the embedded PostgreSQL")
        utils.ensure_prefix_permissions(self.data_dir)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return SYSTEM_USER

    def _run(self, args: list[str], user: str | None, *, check: bool = True) -> None:
        result = subprocess.run(args, user=user, capture_output=True, text=True, cwd="/")
        if check and result.returncode != 0:
            log_tail = self._log.read_text()[-2000:] if self._log.exists() else ""
            raise ConfigurationError(
                f"embedded PostgreSQL failed: {' '.join(Path(args[0]).name.split())} exited {result.returncode}.\n"
                f"{result.stderr.strip()}\n{log_tail}\nIs port {self.port} free? Set DATABASE_URL to use another server."
            )
