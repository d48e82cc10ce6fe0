-- Tables derived from events by clickstream.warehouse.rollups.refresh: each run rebuilds the
-- rows of the sessions (and orders, users, visitors) its hour touched, from all their events.
-- Money is numeric (float8 values converted with 15 significant digits), so sums are exact and
-- do not depend on row order.

CREATE TABLE sessions (
    session_id     text           NOT NULL,
    visitor_id     text           NOT NULL,
    user_id        text,
    anonymous_id   text           NOT NULL,
    started_at     timestamptz    NOT NULL,
    ended_at       timestamptz    NOT NULL,
    duration_s     numeric(12, 3) NOT NULL,
    event_count    integer        NOT NULL,
    page_views     integer        NOT NULL,
    engaged_ms     bigint         NOT NULL,
    is_bounce      boolean        NOT NULL,
    is_single_page boolean        NOT NULL,
    landing_path   text,
    second_path    text,
    exit_path      text,
    referrer_host  text,
    channel        text           NOT NULL,
    utm_source     text,
    utm_medium     text,
    utm_campaign   text,
    device_class   text           NOT NULL,
    browser        text,
    os             text,
    country        text,
    is_bot         boolean        NOT NULL,
    has_purchase   boolean        NOT NULL,
    orders         integer        NOT NULL,
    revenue        numeric        NOT NULL,
    funnel_step    smallint       NOT NULL,
    session_date   date           NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (session_id)
);
COMMENT ON TABLE sessions IS
    'One row per SDK session_id, from all its events. Attributes of the landing (first) event: anonymous_id, referrer, channel, UTM, device, browser, os, country.';
COMMENT ON COLUMN sessions.visitor_id IS 'coalesce(user_id, anonymous_id) of the session.';
COMMENT ON COLUMN sessions.user_id IS 'The first verified user_id seen in the session.';
COMMENT ON COLUMN sessions.duration_s IS 'Last event_time minus first event_time, in seconds.';
COMMENT ON COLUMN sessions.page_views IS 'Rows of page_views in the session.';
COMMENT ON COLUMN sessions.engaged_ms IS 'Sum of engaged_ms (user_engagement events).';
COMMENT ON COLUMN sessions.is_bounce IS 'Not engaged: at most 1 page view, no commerce event (add_to_cart, remove_from_cart, view_cart, begin_checkout, add_payment_info, purchase) and engaged_ms < 10000.';
COMMENT ON COLUMN sessions.is_single_page IS 'Exactly one page view.';
COMMENT ON COLUMN sessions.landing_path IS 'Path of the first page view (of the first event when the session has none).';
COMMENT ON COLUMN sessions.second_path IS 'Path of the second page view; null with fewer than two.';
COMMENT ON COLUMN sessions.exit_path IS 'Path of the last page view (of the last event when the session has none).';
COMMENT ON COLUMN sessions.is_bot IS 'Any event of the session came from a bot; bot sessions are left out of every rollup.';
COMMENT ON COLUMN sessions.revenue IS 'Revenue of the session''s orders, net of refunds.';
COMMENT ON COLUMN sessions.funnel_step IS 'Furthest step of view_item -> add_to_cart -> begin_checkout -> purchase reached in order (each step strictly after the one before, by event_time): 0 to 4.';
COMMENT ON COLUMN sessions.session_date IS 'UTC date of started_at: the day the session counts for.';
CREATE INDEX sessions_session_date_idx ON sessions (session_date);
CREATE INDEX sessions_anonymous_id_idx ON sessions (anonymous_id);
CREATE INDEX sessions_visitor_id_idx ON sessions (visitor_id);

CREATE TABLE page_views (
    session_id   text        NOT NULL,
    page_view_id text        NOT NULL,
    event_id     text        NOT NULL,
    visitor_id   text        NOT NULL,
    path         text,
    title        text,
    viewed_at    timestamptz NOT NULL,
    view_number  integer     NOT NULL,
    is_entry     boolean     NOT NULL,
    is_exit      boolean     NOT NULL,
    engaged_ms   bigint      NOT NULL,
    view_date    date        NOT NULL,
    CONSTRAINT page_views_pkey PRIMARY KEY (session_id, page_view_id)
);
COMMENT ON TABLE page_views IS
    'One row per page_view event (several page_view events with one page_view_id count once, the first).';
COMMENT ON COLUMN page_views.page_view_id IS 'The SDK page_view_id, or the event_id of a page_view event without one.';
COMMENT ON COLUMN page_views.view_number IS 'Position of the view in its session, from 1, by (event_time, event_seq, event_id).';
COMMENT ON COLUMN page_views.engaged_ms IS 'Sum of engaged_ms of the session''s events carrying this page_view_id.';
CREATE INDEX page_views_view_date_idx ON page_views (view_date);

CREATE TABLE orders (
    order_id      text        NOT NULL,
    event_id      text        NOT NULL,
    session_id    text        NOT NULL,
    visitor_id    text        NOT NULL,
    user_id       text,
    ordered_at    timestamptz NOT NULL,
    order_date    date        NOT NULL,
    currency      text,
    gross_revenue numeric     NOT NULL,
    refund_amount numeric     NOT NULL,
    revenue       numeric     NOT NULL,
    item_count    integer     NOT NULL,
    quantity      integer     NOT NULL,
    refunded      boolean     NOT NULL,
    refunded_at   timestamptz,
    CONSTRAINT orders_pkey PRIMARY KEY (order_id)
);
COMMENT ON TABLE orders IS
    'One row per transaction_id of purchase events (the first purchase event of an id is the order; later ones are resubmissions), with its refunds.';
COMMENT ON COLUMN orders.gross_revenue IS 'value of the purchase event, else the sum of price * quantity of its items.';
COMMENT ON COLUMN orders.refund_amount IS 'Sum over refund events with the transaction_id of value (else their items'' price * quantity, else the whole order), at most gross_revenue.';
COMMENT ON COLUMN orders.revenue IS 'gross_revenue - refund_amount: revenue net of refunds.';
COMMENT ON COLUMN orders.item_count IS 'Line items of the purchase event.';
COMMENT ON COLUMN orders.quantity IS 'Units bought: sum of the items'' quantity.';
COMMENT ON COLUMN orders.refunded IS 'At least one refund event names the order.';
CREATE INDEX orders_session_id_idx ON orders (session_id);
CREATE INDEX orders_order_date_idx ON orders (order_date);

CREATE TABLE users (
    anonymous_id        text        NOT NULL,
    user_id             text,
    first_seen_at       timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    sessions            integer     NOT NULL,
    first_session_id    text        NOT NULL,
    first_channel       text        NOT NULL,
    first_referrer_host text,
    first_utm_source    text,
    first_utm_medium    text,
    first_utm_campaign  text,
    CONSTRAINT users_pkey PRIMARY KEY (anonymous_id)
);
COMMENT ON TABLE users IS
    'The anonymous_id -> user_id mapping with first touch: one row per anonymous_id (browser), from its sessions.';
COMMENT ON COLUMN users.user_id IS 'The first verified user_id seen with this anonymous_id.';
CREATE INDEX users_user_id_idx ON users (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE visitors (
    visitor_id       text        NOT NULL,
    first_seen_at    timestamptz NOT NULL,
    first_seen_date  date        NOT NULL,
    cohort_week      date        NOT NULL,
    first_session_id text        NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    CONSTRAINT visitors_pkey PRIMARY KEY (visitor_id)
);
COMMENT ON TABLE visitors IS
    'One row per visitor (events.visitor_id) with events in non-bot sessions: first and last seen, for new visitors and retention cohorts.';
COMMENT ON COLUMN visitors.cohort_week IS 'Monday (UTC) of the week of first_seen_at.';
COMMENT ON COLUMN visitors.first_session_id IS 'Session of the visitor''s first event; its device, channel and country are the visitor''s first-visit segment.';
CREATE INDEX visitors_cohort_week_idx ON visitors (cohort_week);
CREATE INDEX visitors_first_session_id_idx ON visitors (first_session_id);
