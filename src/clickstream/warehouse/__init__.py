"""The PostgreSQL warehouse: schema migrations, the hourly load, the derived tables and
dashboard rollups, and the pipeline's run records.

    db        the connection (URL or Secrets Manager secret) and transaction helpers
    migrate   applies migrations/NNN_*.sql in order, once, recorded in schema_migrations
    load      one hour of processed Parquet parts -> events/event_items, exactly once
    rollups   sessions, page_views, orders, users, visitors and agg_* for the touched days
    runs      pipeline_runs rows for the pipeline-health page

All SQL lives in `migrations/*.sql` and `sql/*.sql` (named queries, always parameterised).
Every public function that writes runs in its own transaction and commits it.
Importing this package connects to nothing.
"""
