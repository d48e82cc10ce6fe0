-- The hourly load (clickstream.warehouse.load.load_hour), all in one transaction.
-- Column lists are spelled out; a test checks them against clickstream.etl.processed.

-- name: settings
-- keep_earliest looks events up only once the merge lock is granted, so each statement needs a
-- snapshot of its own, taken after the previous holder committed: READ COMMITTED, whatever the
-- database's default (this must be the transaction's first statement). The narrow sort and the
-- hash joins of a 1 M-event hour fit in 128 MB; the sort of the wide rows in merge_events spills
-- to disk (about 600 MB), which costs less than the memory it would need on a small warehouse host.
SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
SET LOCAL work_mem = '128MB';

-- name: lock
SELECT pg_advisory_xact_lock(%(namespace)s, %(key)s);

-- name: create_staging
-- part_no (which Parquet part a row came from) pairs an event version with its items.
CREATE TEMP TABLE stage_events (LIKE events) ON COMMIT DROP;
ALTER TABLE stage_events ADD COLUMN part_no integer NOT NULL DEFAULT 0;
CREATE TEMP TABLE stage_items (LIKE event_items) ON COMMIT DROP;
ALTER TABLE stage_items ADD COLUMN part_no integer NOT NULL DEFAULT 0;

-- name: set_part
-- COPY leaves part_no out, so each part's rows take this default.
ALTER TABLE stage_events ALTER COLUMN part_no SET DEFAULT %(part_no)s;
ALTER TABLE stage_items ALTER COLUMN part_no SET DEFAULT %(part_no)s;

-- name: copy_events
COPY stage_events (
    event_id, event_name, event_time, event_date, event_hour, client_ts, sent_ts, received_ts,
    received_hour, request_id, app_id, platform, sdk_name, sdk_version, schema_version,
    anonymous_id, user_id, claimed_user_id, visitor_id, session_id, event_seq, page_url,
    page_path, page_title, page_referrer, referrer_host, page_view_id, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, click_id, channel, device_class, browser, os, is_bot,
    country, ip_trunc, language, tz_offset_min, screen_w, screen_h, viewport_w, viewport_h,
    consent_analytics, search_term, engaged_ms, currency, value, transaction_id, item_count,
    properties, payload_hash
) FROM STDIN WITH (FORMAT binary);

-- name: copy_items
COPY stage_items (
    event_id, item_position, event_name, event_time, event_date, received_hour, session_id,
    visitor_id, transaction_id, currency, item_id, item_name, item_category, item_brand,
    item_variant, price, quantity, list_index
) FROM STDIN WITH (FORMAT binary);

-- name: analyze_staging
-- Statistics of the join keys only: enough for the plans below, and cheap.
ANALYZE stage_events (event_id, part_no, payload_hash);
ANALYZE stage_items (event_id, part_no);

-- name: keep_earliest
-- One staged row per event_id: the earliest received. The other sort keys only break ties, so
-- that the choice never depends on the order of the parts (rows still tied come from the same
-- raw line and are equal). With it: how many rows the hour staged for the id (a window over the
-- same order, so one sort serves both), and the version events already holds for it, loaded by
-- an earlier hour or an earlier run of this one (NULL: none). The look-up is a LATERAL subquery
-- with LIMIT, so it stays one primary-key probe per id, in key order, however large events
-- grows; a hash or merge join would read all of events. It runs under the merge lock, so events
-- gains no row before this transaction ends but those merge_events inserts.
CREATE TEMP TABLE stage_kept ON COMMIT DROP AS
SELECT k.event_id, k.part_no, k.payload_hash, k.staged, e.payload_hash AS held_hash, e.received_hour AS held_hour
FROM (
    SELECT DISTINCT ON (event_id)
        event_id, part_no, payload_hash,
        count(*) OVER (PARTITION BY event_id
                       ORDER BY received_ts, payload_hash, request_id, sent_ts NULLS LAST, part_no
                       ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS staged
    FROM stage_events
    ORDER BY event_id, received_ts, payload_hash, request_id, sent_ts NULLS LAST, part_no
) AS k
LEFT JOIN LATERAL (
    SELECT e.payload_hash, e.received_hour FROM events e WHERE e.event_id = k.event_id LIMIT 1
) AS e ON true;
ANALYZE stage_kept;

-- name: merge_events
-- The kept rows of the ids events does not hold yet. A plain INSERT: keep_earliest saw every
-- id events holds, under the merge lock, so no row can conflict; one that did (a writer that
-- skipped the lock) would fail the load whole rather than be dropped. The sort by event_id
-- fills the primary-key index in order.
INSERT INTO events (
    event_id, event_name, event_time, event_date, event_hour, client_ts, sent_ts, received_ts,
    received_hour, request_id, app_id, platform, sdk_name, sdk_version, schema_version,
    anonymous_id, user_id, claimed_user_id, visitor_id, session_id, event_seq, page_url,
    page_path, page_title, page_referrer, referrer_host, page_view_id, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, click_id, channel, device_class, browser, os, is_bot,
    country, ip_trunc, language, tz_offset_min, screen_w, screen_h, viewport_w, viewport_h,
    consent_analytics, search_term, engaged_ms, currency, value, transaction_id, item_count,
    properties, payload_hash
)
SELECT
    s.event_id, s.event_name, s.event_time, s.event_date, s.event_hour, s.client_ts, s.sent_ts, s.received_ts,
    s.received_hour, s.request_id, s.app_id, s.platform, s.sdk_name, s.sdk_version, s.schema_version,
    s.anonymous_id, s.user_id, s.claimed_user_id, s.visitor_id, s.session_id, s.event_seq, s.page_url,
    s.page_path, s.page_title, s.page_referrer, s.referrer_host, s.page_view_id, s.utm_source, s.utm_medium,
    s.utm_campaign, s.utm_term, s.utm_content, s.click_id, s.channel, s.device_class, s.browser, s.os, s.is_bot,
    s.country, s.ip_trunc, s.language, s.tz_offset_min, s.screen_w, s.screen_h, s.viewport_w, s.viewport_h,
    s.consent_analytics, s.search_term, s.engaged_ms, s.currency, s.value, s.transaction_id, s.item_count,
    s.properties, s.payload_hash
FROM stage_events s
JOIN stage_kept k ON k.event_id = s.event_id AND k.part_no = s.part_no
WHERE k.held_hash IS NULL
ORDER BY s.event_id;

-- name: merge_items
-- The items of the kept version (same part) of each event inserted now: none can exist yet
-- (items are written only here, in the transaction that inserts their event). DISTINCT ON
-- keeps one row per position.
INSERT INTO event_items (
    event_id, item_position, event_name, event_time, event_date, received_hour, session_id,
    visitor_id, transaction_id, currency, item_id, item_name, item_category, item_brand,
    item_variant, price, quantity, list_index
)
SELECT DISTINCT ON (i.event_id, i.item_position)
    i.event_id, i.item_position, i.event_name, i.event_time, i.event_date, i.received_hour,
    i.session_id, i.visitor_id, i.transaction_id, i.currency, i.item_id, i.item_name,
    i.item_category, i.item_brand, i.item_variant, i.price, i.quantity, i.list_index
FROM stage_items i
JOIN stage_kept k ON k.event_id = i.event_id AND k.part_no = i.part_no
WHERE k.held_hash IS NULL
ORDER BY i.event_id, i.item_position;

-- name: merge_held_items
-- The items of kept versions events already held (same payload_hash), in case the load that
-- inserted the event lacked some: those that exist are left alone. Few rows, except on a
-- re-run of the hour.
INSERT INTO event_items (
    event_id, item_position, event_name, event_time, event_date, received_hour, session_id,
    visitor_id, transaction_id, currency, item_id, item_name, item_category, item_brand,
    item_variant, price, quantity, list_index
)
SELECT DISTINCT ON (i.event_id, i.item_position)
    i.event_id, i.item_position, i.event_name, i.event_time, i.event_date, i.received_hour,
    i.session_id, i.visitor_id, i.transaction_id, i.currency, i.item_id, i.item_name,
    i.item_category, i.item_brand, i.item_variant, i.price, i.quantity, i.list_index
FROM stage_items i
JOIN stage_kept k ON k.event_id = i.event_id AND k.part_no = i.part_no
WHERE k.held_hash = k.payload_hash
ORDER BY i.event_id, i.item_position
ON CONFLICT (event_id, item_position) DO NOTHING;

-- name: count_duplicates
-- Every staged row against the row events now holds for its id: the version held before
-- (held_hash, held_hour), else the kept row this load inserted. Rows this hour inserted (now
-- or in an earlier run of the hour) are originals once per id; all other rows with the same
-- payload_hash are natural duplicates, rows with another payload_hash synthetic ones. Counting
-- against the final state keeps the numbers the same on every re-run. An id staged once and
-- inserted now is its own original and counts nothing, so only ids staged more than once or
-- held before are joined: usually a few thousand rows, all of them on a re-run.
SELECT
    count(*) FILTER (WHERE s.payload_hash = f.payload_hash)
        - count(DISTINCT s.event_id) FILTER (WHERE s.payload_hash = f.payload_hash AND f.received_hour = %(hour)s),
    count(*) FILTER (WHERE s.payload_hash <> f.payload_hash)
FROM stage_events s
JOIN stage_kept k ON k.event_id = s.event_id
CROSS JOIN LATERAL (
    SELECT coalesce(k.held_hash, k.payload_hash) AS payload_hash, coalesce(k.held_hour, %(hour)s) AS received_hour
) AS f
WHERE k.staged > 1 OR k.held_hash IS NOT NULL;

-- name: upsert_manifest
-- Counts of what the warehouse holds for the hour, so that every run of the hour writes the
-- same row (only run_id and loaded_at name the latest run).
INSERT INTO load_manifest AS m (
    hour, run_id, loaded_at, files, staged_events, inserted_events, inserted_items,
    natural_duplicates, synthetic_duplicates, days_touched
)
SELECT %(hour)s, %(run_id)s, now(), %(files)s, %(staged_events)s, ev.n, it.n,
       %(natural_duplicates)s, %(synthetic_duplicates)s, ev.days
FROM (SELECT count(*) AS n, coalesce(array_agg(DISTINCT event_date ORDER BY event_date), '{}') AS days
      FROM events WHERE received_hour = %(hour)s) AS ev,
     (SELECT count(*) AS n FROM event_items WHERE received_hour = %(hour)s) AS it
ON CONFLICT (hour) DO UPDATE SET
    run_id = EXCLUDED.run_id,
    loaded_at = EXCLUDED.loaded_at,
    files = EXCLUDED.files,
    staged_events = EXCLUDED.staged_events,
    inserted_events = EXCLUDED.inserted_events,
    inserted_items = EXCLUDED.inserted_items,
    natural_duplicates = EXCLUDED.natural_duplicates,
    synthetic_duplicates = EXCLUDED.synthetic_duplicates,
    days_touched = EXCLUDED.days_touched
RETURNING days_touched;

-- name: delete_quarantine_counts
DELETE FROM quarantine_counts WHERE hour = %(hour)s;

-- name: insert_quarantine_count
INSERT INTO quarantine_counts (hour, stage, error_code, count)
VALUES (%(hour)s, %(stage)s, %(error_code)s, %(count)s);
