-- pipeline_runs, written by clickstream.warehouse.runs.

-- name: record_progress
-- Counts not given (NULL) keep their earlier value; a run that is recorded again after a
-- failure (a redrive) is running again.
INSERT INTO pipeline_runs AS r (
    run_id, hour, trigger, status, started_at, raw_objects, raw_bytes, events_cleaned,
    natural_duplicates, quarantined, inserted_events, dq_critical_failures, dq_warnings
)
VALUES (
    %(run_id)s, %(hour)s, %(trigger)s, 'running', %(started_at)s, %(raw_objects)s, %(raw_bytes)s,
    %(events_cleaned)s, %(natural_duplicates)s, %(quarantined)s, %(inserted_events)s,
    %(dq_critical_failures)s, %(dq_warnings)s
)
ON CONFLICT (run_id) DO UPDATE SET
    hour = EXCLUDED.hour,
    trigger = EXCLUDED.trigger,
    status = 'running',
    started_at = EXCLUDED.started_at,
    finished_at = NULL,
    duration_s = NULL,
    raw_objects = coalesce(EXCLUDED.raw_objects, r.raw_objects),
    raw_bytes = coalesce(EXCLUDED.raw_bytes, r.raw_bytes),
    events_cleaned = coalesce(EXCLUDED.events_cleaned, r.events_cleaned),
    natural_duplicates = coalesce(EXCLUDED.natural_duplicates, r.natural_duplicates),
    quarantined = coalesce(EXCLUDED.quarantined, r.quarantined),
    inserted_events = coalesce(EXCLUDED.inserted_events, r.inserted_events),
    dq_critical_failures = coalesce(EXCLUDED.dq_critical_failures, r.dq_critical_failures),
    dq_warnings = coalesce(EXCLUDED.dq_warnings, r.dq_warnings),
    failed_state = NULL,
    error = NULL,
    cause = NULL;

-- name: record_succeeded
UPDATE pipeline_runs
SET status = 'succeeded',
    finished_at = %(finished_at)s,
    duration_s = round(extract(epoch FROM %(finished_at)s - started_at)::numeric, 3),
    failed_state = NULL,
    error = NULL,
    cause = NULL
WHERE run_id = %(run_id)s
RETURNING run_id;

-- name: record_failed
-- The run may have failed before anything recorded it (e.g. an invalid input hour).
INSERT INTO pipeline_runs AS r (run_id, hour, status, finished_at, failed_state, error, cause)
VALUES (%(run_id)s, %(hour)s, 'failed', %(finished_at)s, %(failed_state)s, %(error)s, %(cause)s)
ON CONFLICT (run_id) DO UPDATE SET
    hour = coalesce(EXCLUDED.hour, r.hour),
    status = 'failed',
    finished_at = EXCLUDED.finished_at,
    duration_s = round(extract(epoch FROM EXCLUDED.finished_at - r.started_at)::numeric, 3),
    failed_state = EXCLUDED.failed_state,
    error = EXCLUDED.error,
    cause = EXCLUDED.cause;

-- name: events_loaded_for_hour
SELECT staged_events FROM load_manifest WHERE hour = %(hour)s;
