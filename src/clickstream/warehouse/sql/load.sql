-- The hourly load (clickstream.warehouse.load.load_hour), all in one transaction.
-- Column lists are spelled out; a test checks them against clickstream.etl.processed.

-- name: settings
-- The de-duplicating sort and the merge's joins of a large hour fit in memory.
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

-- name: merge_events
-- One staged row per event_id: the earliest received. The other sort keys only break ties,
-- so that the choice never depends on the order of the parts (rows still tied come from the
-- same raw line and are equal). The output is in key order, which fills the primary-key
-- index in order.
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
SELECT DISTINCT ON (event_id)
    event_id, event_name, event_time, event_date, event_hour, client_ts, sent_ts, received_ts,
    received_hour, request_id, app_id, platform, sdk_name, sdk_version, schema_version,
    anonymous_id, user_id, claimed_user_id, visitor_id, session_id, event_seq, page_url,
    page_path, page_title, page_referrer, referrer_host, page_view_id, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, click_id, channel, device_class, browser, os, is_bot,
    country, ip_trunc, language, tz_offset_min, screen_w, screen_h, viewport_w, viewport_h,
    consent_analytics, search_term, engaged_ms, currency, value, transaction_id, item_count,
    properties, payload_hash
FROM stage_events
ORDER BY event_id, received_ts, payload_hash, request_id, sent_ts NULLS LAST, part_no
ON CONFLICT (event_id) DO NOTHING;

-- name: keep_earliest
-- The same choice as merge_events, narrow: which part and payload each event_id kept.
CREATE TEMP TABLE stage_kept ON COMMIT DROP AS
SELECT DISTINCT ON (event_id) event_id, part_no, payload_hash
FROM stage_events
ORDER BY event_id, received_ts, payload_hash, request_id, sent_ts NULLS LAST, part_no;
ANALYZE stage_kept;

-- name: merge_items
-- The items of the kept version of each event (same part), and only where events holds that
-- version (inserted now, or loaded before with the same payload_hash). Which versions events
-- holds is settled first, in its own analysed table: joined in one statement, the two
-- near-unique equalities on (event_id, payload_hash) make the planner expect a single row,
-- and a nested loop over the staged items then takes minutes instead of a second.
CREATE TEMP TABLE stage_held ON COMMIT DROP AS
SELECT k.event_id, k.part_no
FROM stage_kept k
JOIN events e ON e.event_id = k.event_id AND e.payload_hash = k.payload_hash;
ANALYZE stage_held;
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
JOIN stage_held h ON h.event_id = i.event_id AND h.part_no = i.part_no
ORDER BY i.event_id, i.item_position
ON CONFLICT (event_id, item_position) DO NOTHING;

-- name: count_duplicates
-- Every staged row against the row events now holds for its id. Rows this hour inserted
-- (now or in an earlier run of the hour) are originals once per id; all other rows with the
-- same payload_hash are natural duplicates, rows with another payload_hash synthetic ones.
-- Counting against the final state keeps the numbers the same on every re-run.
SELECT
    count(*) FILTER (WHERE s.payload_hash = e.payload_hash)
        - count(DISTINCT s.event_id) FILTER (WHERE s.payload_hash = e.payload_hash AND e.received_hour = %(hour)s),
    count(*) FILTER (WHERE s.payload_hash <> e.payload_hash)
FROM stage_events s
JOIN events e ON e.event_id = s.event_id;

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
