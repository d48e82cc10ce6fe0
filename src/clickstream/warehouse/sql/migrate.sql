-- Bookkeeping of clickstream.warehouse.migrate.

-- name: lock
SELECT pg_advisory_lock(%(namespace)s, %(key)s);

-- name: unlock
SELECT pg_advisory_unlock(%(namespace)s, %(key)s);

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: applied
SELECT version, name, checksum FROM schema_migrations ORDER BY version;

-- name: record
INSERT INTO schema_migrations (version, name, checksum) VALUES (%(version)s, %(name)s, %(checksum)s);
