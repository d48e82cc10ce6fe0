-- Dashboard rollups (agg_*), rebuilt by clickstream.warehouse.rollups.refresh for the days a
-- run touched (delete the day's rows, insert them again from the derived tables).
--
-- Conventions, the same in every agg_* table:
-- * day: UTC date. Session metrics count on the session's start day (sessions.session_date),
--   page views on their view day, events on their event day, orders on their order day.
-- * Segment columns device_class, channel, country are the session's (its landing event's),
--   so every filter means "sessions from this device/channel/country". Unknown values of
--   any text dimension are '(not set)'.
-- * Bot sessions are left out. Revenue is net of refunds, in the shop's currency (one
--   currency is assumed; orders keeps each order's currency).
-- * Additive columns (sessions, page_views, bounces, revenue, ...) can be summed over days
--   and segments. Distinct visitor counts (visitors, new_visitors) are exact for the row's own
--   day (or hour) and segment only; for a date range or several segments count distinct
--   visitor_id in agg_visitor_days instead.

CREATE TABLE agg_visitor_days (
    day          date    NOT NULL,
    visitor_id   text    NOT NULL,
    device_class text    NOT NULL,
    channel      text    NOT NULL,
    country      text    NOT NULL,
    is_new       boolean NOT NULL,
    CONSTRAINT agg_visitor_days_pkey PRIMARY KEY (day, device_class, channel, country, visitor_id)
);
COMMENT ON TABLE agg_visitor_days IS
    'Each visitor active on a day, once per segment of their sessions that day: SELECT count(DISTINCT visitor_id) ... WHERE day BETWEEN ... [AND segment filters] gives exact visitors over any range; add AND is_new for new visitors.';
COMMENT ON COLUMN agg_visitor_days.is_new IS 'The day is the visitor''s first_seen_date (visitors).';
CREATE INDEX agg_visitor_days_visitor_id_idx ON agg_visitor_days (visitor_id);

CREATE TABLE agg_traffic_hourly (
    hour                 timestamptz NOT NULL,
    day                  date        NOT NULL,
    device_class         text        NOT NULL,
    channel              text        NOT NULL,
    country              text        NOT NULL,
    visitors             bigint      NOT NULL,
    new_visitors         bigint      NOT NULL,
    sessions             bigint      NOT NULL,
    engaged_sessions     bigint      NOT NULL,
    bounces              bigint      NOT NULL,
    single_page_sessions bigint      NOT NULL,
    page_views           bigint      NOT NULL,
    events               bigint      NOT NULL,
    total_duration_s     numeric     NOT NULL,
    engaged_ms           bigint      NOT NULL,
    orders               bigint      NOT NULL,
    revenue              numeric     NOT NULL,
    CONSTRAINT agg_traffic_hourly_pkey PRIMARY KEY (hour, device_class, channel, country)
);
COMMENT ON TABLE agg_traffic_hourly IS
    'Traffic per UTC hour and segment. visitors: distinct visitor_id with events in the hour; new_visitors: of those, first seen in the hour; sessions, engaged_sessions (not bounced), bounces, single_page_sessions, total_duration_s, engaged_ms: sessions started in the hour; page_views, events, orders, revenue: in the hour.';
CREATE INDEX agg_traffic_hourly_day_idx ON agg_traffic_hourly (day);

CREATE TABLE agg_traffic_daily (
    day                  date    NOT NULL,
    device_class         text    NOT NULL,
    channel              text    NOT NULL,
    country              text    NOT NULL,
    visitors             bigint  NOT NULL,
    new_visitors         bigint  NOT NULL,
    sessions             bigint  NOT NULL,
    engaged_sessions     bigint  NOT NULL,
    bounces              bigint  NOT NULL,
    single_page_sessions bigint  NOT NULL,
    page_views           bigint  NOT NULL,
    events               bigint  NOT NULL,
    total_duration_s     numeric NOT NULL,
    engaged_ms           bigint  NOT NULL,
    orders               bigint  NOT NULL,
    revenue              numeric NOT NULL,
    CONSTRAINT agg_traffic_daily_pkey PRIMARY KEY (day, device_class, channel, country)
);
COMMENT ON TABLE agg_traffic_daily IS
    'agg_traffic_hourly summed per day; visitors and new_visitors are distinct for the day and segment (from agg_visitor_days). Bounce rate = bounces / sessions; average session duration = total_duration_s / sessions.';

CREATE TABLE agg_sources_daily (
    day              date    NOT NULL,
    device_class     text    NOT NULL,
    channel          text    NOT NULL,
    country          text    NOT NULL,
    utm_source       text    NOT NULL,
    utm_medium       text    NOT NULL,
    utm_campaign     text    NOT NULL,
    referrer_host    text    NOT NULL,
    sessions         bigint  NOT NULL,
    visitors         bigint  NOT NULL,
    new_visitors     bigint  NOT NULL,
    engaged_sessions bigint  NOT NULL,
    bounces          bigint  NOT NULL,
    page_views       bigint  NOT NULL,
    total_duration_s numeric NOT NULL,
    orders           bigint  NOT NULL,
    revenue          numeric NOT NULL,
    CONSTRAINT agg_sources_daily_pkey
        PRIMARY KEY (day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host)
);
COMMENT ON TABLE agg_sources_daily IS
    'Sessions by traffic source (the landing event''s channel, UTM and referrer host). visitors: distinct sessions.visitor_id of the row; new_visitors: sessions that are a visitor''s first (additive).';

CREATE TABLE agg_pages_daily (
    day          date   NOT NULL,
    device_class text   NOT NULL,
    channel      text   NOT NULL,
    country      text   NOT NULL,
    page_path    text   NOT NULL,
    page_title   text   NOT NULL,
    views        bigint NOT NULL,
    visitors     bigint NOT NULL,
    entries      bigint NOT NULL,
    exits        bigint NOT NULL,
    engaged_ms   bigint NOT NULL,
    CONSTRAINT agg_pages_daily_pkey PRIMARY KEY (day, device_class, channel, country, page_path)
);
COMMENT ON TABLE agg_pages_daily IS
    'Page views per path: views, distinct visitors of the row, entries (first view of a session), exits (last view), engaged_ms. page_title: the greatest title seen for the path that day.';

CREATE TABLE agg_devices_daily (
    day              date    NOT NULL,
    device_class     text    NOT NULL,
    channel          text    NOT NULL,
    country          text    NOT NULL,
    browser          text    NOT NULL,
    os               text    NOT NULL,
    sessions         bigint  NOT NULL,
    visitors         bigint  NOT NULL,
    engaged_sessions bigint  NOT NULL,
    bounces          bigint  NOT NULL,
    page_views       bigint  NOT NULL,
    total_duration_s numeric NOT NULL,
    orders           bigint  NOT NULL,
    revenue          numeric NOT NULL,
    CONSTRAINT agg_devices_daily_pkey PRIMARY KEY (day, device_class, channel, country, browser, os)
);
COMMENT ON TABLE agg_devices_daily IS 'Sessions by device class, browser and OS (of the landing event).';

CREATE TABLE agg_products_daily (
    day               date    NOT NULL,
    device_class      text    NOT NULL,
    channel           text    NOT NULL,
    country           text    NOT NULL,
    item_id           text    NOT NULL,
    item_name         text    NOT NULL,
    item_category     text    NOT NULL,
    views             bigint  NOT NULL,
    add_to_carts      bigint  NOT NULL,
    purchases         bigint  NOT NULL,
    quantity          bigint  NOT NULL,
    refunded_quantity bigint  NOT NULL,
    gross_revenue     numeric NOT NULL,
    revenue           numeric NOT NULL,
    CONSTRAINT agg_products_daily_pkey PRIMARY KEY (day, device_class, channel, country, item_id)
);
COMMENT ON TABLE agg_products_daily IS
    'Product performance. views / add_to_carts: item rows of view_item / add_to_cart events; purchases: orders containing the item (on the order day); quantity: units bought; refunded_quantity: units refunded (a refund without items refunds the whole order); gross_revenue: price * quantity; revenue: gross_revenue less the refunded units at their price. item_name, item_category: the greatest seen that day.';

CREATE TABLE agg_funnel_daily (
    day            date   NOT NULL,
    device_class   text   NOT NULL,
    channel        text   NOT NULL,
    country        text   NOT NULL,
    sessions       bigint NOT NULL,
    view_item      bigint NOT NULL,
    add_to_cart    bigint NOT NULL,
    begin_checkout bigint NOT NULL,
    purchase       bigint NOT NULL,
    CONSTRAINT agg_funnel_daily_pkey PRIMARY KEY (day, device_class, channel, country)
);
COMMENT ON TABLE agg_funnel_daily IS
    'Sessions reaching each step of view_item -> add_to_cart -> begin_checkout -> purchase, each step strictly after the previous one by event_time (sessions.funnel_step); sessions: all sessions.';

CREATE TABLE agg_searches_daily (
    day            date   NOT NULL,
    device_class   text   NOT NULL,
    channel        text   NOT NULL,
    country        text   NOT NULL,
    search_term    text   NOT NULL,
    searches       bigint NOT NULL,
    sessions       bigint NOT NULL,
    with_view_item bigint NOT NULL,
    with_purchase  bigint NOT NULL,
    CONSTRAINT agg_searches_daily_pkey PRIMARY KEY (day, device_class, channel, country, search_term)
);
COMMENT ON TABLE agg_searches_daily IS
    'Search events per term: searches; distinct sessions; with_view_item / with_purchase: searches followed later in the same session by a view_item / purchase event. Searches without a following product view = searches - with_view_item.';

CREATE TABLE agg_session_durations_daily (
    day          date     NOT NULL,
    device_class text     NOT NULL,
    channel      text     NOT NULL,
    country      text     NOT NULL,
    bucket       smallint NOT NULL,
    bucket_label text     NOT NULL,
    sessions     bigint   NOT NULL,
    bounces      bigint   NOT NULL,
    page_views   bigint   NOT NULL,
    CONSTRAINT agg_session_durations_daily_pkey PRIMARY KEY (day, device_class, channel, country, bucket)
);
COMMENT ON TABLE agg_session_durations_daily IS
    'Session-duration distribution: bucket 0 = [0, 10 s), 1 = [10, 30 s), 2 = [30, 60 s), 3 = [1, 3 min), 4 = [3, 10 min), 5 = [10, 30 min), 6 = 30 min or more.';

CREATE TABLE agg_landing_paths_daily (
    day          date    NOT NULL,
    device_class text    NOT NULL,
    channel      text    NOT NULL,
    country      text    NOT NULL,
    landing_path text    NOT NULL,
    second_path  text    NOT NULL,
    sessions     bigint  NOT NULL,
    bounces      bigint  NOT NULL,
    orders       bigint  NOT NULL,
    revenue      numeric NOT NULL,
    CONSTRAINT agg_landing_paths_daily_pkey PRIMARY KEY (day, device_class, channel, country, landing_path, second_path)
);
COMMENT ON TABLE agg_landing_paths_daily IS
    'Common paths from the landing page: sessions by landing path and the next page''s path (''(none)'' when the session has one page view or none).';

CREATE TABLE agg_retention_weekly (
    cohort_week     date    NOT NULL,
    activity_week   date    NOT NULL,
    week_offset     integer NOT NULL,
    device_class    text    NOT NULL,
    channel         text    NOT NULL,
    country         text    NOT NULL,
    active_visitors bigint  NOT NULL,
    CONSTRAINT agg_retention_weekly_pkey PRIMARY KEY (cohort_week, activity_week, device_class, channel, country)
);
COMMENT ON TABLE agg_retention_weekly IS
    'Retention by first-visit week (Monday, UTC): visitors of the cohort active in activity_week (week_offset weeks later). The cohort size is active_visitors at week_offset 0. Segment columns are the visitor''s first session''s, so rows add up across segments.';
CREATE INDEX agg_retention_weekly_activity_week_idx ON agg_retention_weekly (activity_week);
