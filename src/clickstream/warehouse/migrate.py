"""Schema migrations: `migrations/NNN_name.sql`, applied in order, each once.

Each file runs in its own transaction together with its row in `schema_migrations`
(version, name, checksum, applied_at), so a failed migration leaves nothing behind.
A session advisory lock makes concurrent callers (several tasks starting at once) wait
for one another; the later ones then find nothing to do. An applied file whose content
changed is refused: fix forward with a new file instead.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import psycopg2
import psycopg2.extensions

from clickstream.warehouse.db import LOCK_MIGRATE, LOCK_NAMESPACE, transaction
from clickstream.warehouse.errors import MigrationError, WarehouseError
from clickstream.warehouse.queries import query

_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name without ".sql", e.g. "001_events_and_pipeline"
    sql: str
    checksum: str  # sha256 of the text with "\n" line ends, so a CRLF checkout is the same file


def checksum(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def discover(directory: Path | Traversable | None = None) -> list[Migration]:
    """The migrations in `directory` (default: the package's), in version order."""
    directory = directory if directory is not None else resources.files(__package__).joinpath("migrations")
    found: dict[int, Migration] = {}
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if not match:
            raise MigrationError(f"migration file {entry.name!r} is not named NNN_lowercase_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migration files have version {version:03d}: {found[version].name}, {entry.name}")
        text = entry.read_text(encoding="utf-8")
        found[version] = Migration(version, entry.name[: -len(".sql")], text, checksum(text))
    return [found[v] for v in sorted(found)]


def migrate(conn: psycopg2.extensions.connection, *, directory: Path | Traversable | None = None) -> list[str]:
    """Apply the pending migrations in order; return the names applied (empty when up to date).

    Raises `MigrationError` when an applied migration's file changed or disappeared, or when
    a migration fails (it is rolled back, and the ones before it stay applied).
    """
    migrations = discover(directory)
    applied_now: list[str] = []
    _lock(conn, "lock")
    try:
        with transaction(conn) as cur:
            cur.execute(query("migrate", "create_schema_migrations"))
        with transaction(conn) as cur:
            cur.execute(query("migrate", "applied"))
            applied = {version: (name, digest) for version, name, digest in cur.fetchall()}
        _check_history(migrations, applied)
        for migration in migrations:
            if migration.version in applied:
                continue
            try:
                with transaction(conn) as cur:
                    cur.execute(migration.sql)
                    cur.execute(query("migrate", "record"), {"version": migration.version, "name": migration.name,
                                                             "checksum": migration.checksum})
            except psycopg2.Error as exc:
                raise MigrationError(
                    f"migration {migration.name}.sql failed and was rolled back: {str(exc).strip()}"
                ) from exc
            applied_now.append(migration.name)
    finally:
        # A broken connection releases the lock with its session; the first error matters.
        with suppress(psycopg2.Error, WarehouseError):
            _lock(conn, "unlock")
    return applied_now


def _check_history(migrations: list[Migration], applied: dict[int, tuple[str, str]]) -> None:
    by_version = {m.version: m for m in migrations}
    for version, (name, digest) in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {name} applied, but this code has no file for version {version:03d}: "
                "it is older than the database; deploy the code that added it."
            )
        if migration.checksum != digest:
            raise MigrationError(
                f"migration {migration.name}.sql changed after it was applied (checksum {digest[:12]}… in the database, "
                f"{migration.checksum[:12]}… on disk): restore the file and put the change in a new migration."
            )


def _lock(conn: psycopg2.extensions.connection, which: str) -> None:
    """Take or release the session-level migration lock (it outlives the transactions in between)."""
    if conn.closed:
        return
    with transaction(conn) as cur:
        cur.execute(query("migrate", which), {"namespace": LOCK_NAMESPACE, "key": LOCK_MIGRATE})
