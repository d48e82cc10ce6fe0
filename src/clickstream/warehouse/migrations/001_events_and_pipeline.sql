-- The loaded facts and the pipeline's own records.
--
-- `events` and `event_items` have exactly the columns of the processed Parquet files
-- (clickstream.etl.processed: EVENTS_SCHEMA, ITEMS_SCHEMA), in the same order, with the
-- PostgreSQL type ADBC's binary COPY writes for each Arrow type (int8 -> smallint,
-- timestamp[ms, UTC] -> timestamptz). A test compares them column by column.

CREATE TABLE events (
    event_id          text             NOT NULL,
    event_name        text             NOT NULL,
    event_time        timestamptz      NOT NULL,
    event_date        date             NOT NULL,
    event_hour        smallint         NOT NULL,
    client_ts         timestamptz      NOT NULL,
    sent_ts           timestamptz,
    received_ts       timestamptz      NOT NULL,
    received_hour     timestamptz      NOT NULL,
    request_id        text             NOT NULL,
    app_id            text             NOT NULL,
    platform          text             NOT NULL,
    sdk_name          text             NOT NULL,
    sdk_version       text             NOT NULL,
    schema_version    smallint         NOT NULL,
    anonymous_id      text             NOT NULL,
    user_id           text,
    claimed_user_id   text,
    visitor_id        text             NOT NULL,
    session_id        text             NOT NULL,
    event_seq         integer          NOT NULL,
    page_url          text,
    page_path         text,
    page_title        text,
    page_referrer     text,
    referrer_host     text,
    page_view_id      text,
    utm_source        text,
    utm_medium        text,
    utm_campaign      text,
    utm_term          text,
    utm_content       text,
    click_id          text,
    channel           text             NOT NULL,
    device_class      text             NOT NULL,
    browser           text,
    os                text,
    is_bot            boolean          NOT NULL,
    country           text,
    ip_trunc          text,
    language          text,
    tz_offset_min     smallint,
    screen_w          integer,
    screen_h          integer,
    viewport_w        integer,
    viewport_h        integer,
    consent_analytics boolean,
    search_term       text,
    engaged_ms        bigint,
    currency          text,
    value             double precision,
    transaction_id    text,
    item_count        integer          NOT NULL,
    properties        text,
    payload_hash      text             NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (event_id)
);
COMMENT ON TABLE events IS
    'Every clean event, loaded exactly once (first load wins: ON CONFLICT DO NOTHING). Bots are kept here (is_bot) and left out of every rollup.';
COMMENT ON COLUMN events.visitor_id IS 'coalesce(user_id, anonymous_id): the visitor definition used everywhere.';
COMMENT ON COLUMN events.received_hour IS 'The raw partition''s hour, i.e. the hourly run that loaded the row.';

-- What the hourly rebuilds look up: the hour's rows, all events of a session, a day's
-- events, a visitor's events, and the purchase/refund events of an order.
CREATE INDEX events_received_hour_idx ON events (received_hour);
CREATE INDEX events_session_id_idx ON events (session_id);
CREATE INDEX events_event_date_idx ON events (event_date);
CREATE INDEX events_visitor_id_idx ON events (visitor_id);
CREATE INDEX events_transaction_id_idx ON events (transaction_id) WHERE transaction_id IS NOT NULL;

CREATE TABLE event_items (
    event_id       text             NOT NULL,
    item_position  smallint         NOT NULL,
    event_name     text             NOT NULL,
    event_time     timestamptz      NOT NULL,
    event_date     date             NOT NULL,
    received_hour  timestamptz      NOT NULL,
    session_id     text             NOT NULL,
    visitor_id     text             NOT NULL,
    transaction_id text,
    currency       text,
    item_id        text             NOT NULL,
    item_name      text,
    item_category  text,
    item_brand     text,
    item_variant   text,
    price          double precision,
    quantity       integer          NOT NULL,
    list_index     integer,
    CONSTRAINT event_items_pkey PRIMARY KEY (event_id, item_position)
);
COMMENT ON TABLE event_items IS
    'The ecommerce items of events, one row per position; loaded only with (or for) the event version kept in events.';
CREATE INDEX event_items_event_date_idx ON event_items (event_date);
CREATE INDEX event_items_received_hour_idx ON event_items (received_hour);

CREATE TABLE load_manifest (
    hour                 timestamptz NOT NULL,
    run_id               text        NOT NULL,
    loaded_at            timestamptz NOT NULL,
    files                integer     NOT NULL,
    staged_events        bigint      NOT NULL,
    inserted_events      bigint      NOT NULL,
    inserted_items       bigint      NOT NULL,
    natural_duplicates   bigint      NOT NULL,
    synthetic_duplicates bigint      NOT NULL,
    days_touched         date[]      NOT NULL,
    CONSTRAINT load_manifest_pkey PRIMARY KEY (hour)
);
COMMENT ON TABLE load_manifest IS
    'One row per loaded hour, written in the same transaction as the hour''s events. Counts describe the warehouse, so re-running an hour rewrites the same numbers; run_id and loaded_at name the latest run.';
COMMENT ON COLUMN load_manifest.files IS 'Number of Parquet parts (events files) loaded.';
COMMENT ON COLUMN load_manifest.staged_events IS 'Rows in the hour''s Parquet parts, duplicates included.';
COMMENT ON COLUMN load_manifest.inserted_events IS 'Rows of events that this hour''s loads inserted (received_hour = hour); the same after any number of runs.';
COMMENT ON COLUMN load_manifest.inserted_items IS 'Rows of event_items that this hour''s loads inserted.';
COMMENT ON COLUMN load_manifest.natural_duplicates IS 'Staged rows with the same event_id and payload_hash as the row kept (across parts, or loaded by an earlier hour).';
COMMENT ON COLUMN load_manifest.synthetic_duplicates IS 'Staged rows with the event_id of the row kept but another payload_hash (dropped).';
COMMENT ON COLUMN load_manifest.days_touched IS 'Distinct event_date of the events this hour inserted.';

CREATE TABLE pipeline_runs (
    run_id               text        NOT NULL,
    hour                 timestamptz,
    trigger              text,
    status               text        NOT NULL,
    started_at           timestamptz,
    finished_at          timestamptz,
    duration_s           numeric(12, 3),
    raw_objects          bigint,
    raw_bytes            bigint,
    events_cleaned       bigint,
    natural_duplicates   bigint,
    quarantined          bigint,
    inserted_events      bigint,
    dq_critical_failures integer,
    dq_warnings          integer,
    failed_state         text,
    error                text,
    cause                text,
    CONSTRAINT pipeline_runs_pkey PRIMARY KEY (run_id),
    CONSTRAINT pipeline_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed'))
);
COMMENT ON TABLE pipeline_runs IS
    'One row per execution of the hourly ETL (run_id = execution name): progress, outcome and counts, for the pipeline-health page.';
CREATE INDEX pipeline_runs_hour_idx ON pipeline_runs (hour);
CREATE INDEX pipeline_runs_started_at_idx ON pipeline_runs (started_at);

CREATE TABLE dq_results (
    run_id      text        NOT NULL,
    hour        timestamptz NOT NULL,
    suite       text        NOT NULL,
    expectation text        NOT NULL,
    column_name text        NOT NULL DEFAULT '',
    severity    text        NOT NULL,
    success     boolean     NOT NULL,
    observed    jsonb,
    details     jsonb,
    checked_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dq_results_pkey PRIMARY KEY (run_id, suite, expectation, column_name),
    CONSTRAINT dq_results_severity_check CHECK (severity IN ('critical', 'warning'))
);
COMMENT ON TABLE dq_results IS 'Data-quality expectation results, one row per run and expectation.';
COMMENT ON COLUMN dq_results.column_name IS 'The column the expectation checks; empty string for table-level expectations.';
CREATE INDEX dq_results_hour_idx ON dq_results (hour);

CREATE TABLE quarantine_counts (
    hour       timestamptz NOT NULL,
    stage      text        NOT NULL,
    error_code text        NOT NULL,
    count      bigint      NOT NULL,
    CONSTRAINT quarantine_counts_pkey PRIMARY KEY (hour, stage, error_code),
    CONSTRAINT quarantine_counts_stage_check CHECK (stage IN ('ingest', 'clean', 'quality'))
);
COMMENT ON TABLE quarantine_counts IS
    'Rejected records per hour, stage and error code; replaced whole for the hour by each load.';
