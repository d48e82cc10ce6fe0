-- The rebuild after an hour's load (clickstream.warehouse.rollups.refresh), in one
-- REPEATABLE READ transaction: every statement sees the same events, even while other hours
-- load. The queries run in the order of rollups.py's step lists. Temporary rf_* tables hold what
-- the hour touched. Ties in "first"/"last" are broken by (event_time, event_seq, event_id), so a
-- rebuild is a pure function of the events and running it twice changes nothing.
--
-- refresh: the touched sessions' events are read once (rf_events); their rows of the derived
-- tables (and of the per-session inputs of migrations/005_*) are rebuilt, the old rows kept in
-- rf_old_*. Every agg_* row is then changed by the difference between the touched sessions'
-- contributions before and after (delta_* steps): sums add up; a distinct visitor is counted in
-- or out only where no untouched session of theirs keeps them there; agg_visitor_days and
-- visitor_hours are recomputed for the touched (day or hour, visitor) pairs. Where a difference
-- cannot settle a value (a greatest title whose record went away, the scale of a numeric sum
-- whose longest-scaled part went away), the rollup's day is rebuilt whole instead (rf_fix,
-- day_* steps): rare, and exact either way.
-- rebuild_all: every derived row, then every rollup day by the day_* steps.

-- name: lock
SELECT pg_advisory_lock(%(namespace)s, %(key)s);

-- name: unlock
SELECT pg_advisory_unlock(%(namespace)s, %(key)s);

-- name: begin
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
SET LOCAL work_mem = '64MB';
-- the rollups whose days are rebuilt whole (day_* steps)
CREATE TEMP TABLE rf_fix (tbl text NOT NULL, day date NOT NULL, PRIMARY KEY (tbl, day)) ON COMMIT DROP;

-- name: affected_sessions
-- Sessions with events received in the hour, plus every session holding a purchase or refund
-- of an order those sessions name: a late refund changes its order, and so the session and
-- the day of the purchase.
CREATE TEMP TABLE rf_sessions ON COMMIT DROP AS
WITH hour_sessions AS (
    SELECT DISTINCT session_id FROM events WHERE received_hour = %(hour)s
), hour_orders AS (
    SELECT DISTINCT e.transaction_id
    FROM events e JOIN hour_sessions h ON h.session_id = e.session_id
    WHERE e.event_name IN ('purchase', 'refund') AND e.transaction_id IS NOT NULL
)
SELECT session_id FROM hour_sessions
UNION
SELECT e.session_id
FROM events e JOIN hour_orders o ON o.transaction_id = e.transaction_id
WHERE e.event_name IN ('purchase', 'refund') AND e.transaction_id IS NOT NULL;
ALTER TABLE rf_sessions ADD PRIMARY KEY (session_id);
ANALYZE rf_sessions;

-- name: all_sessions
-- rebuild_all: every session, from empty tables (rows of deleted events go too).
DELETE FROM page_views;
DELETE FROM orders;
DELETE FROM sessions;
DELETE FROM users;
DELETE FROM visitors;
DELETE FROM session_hours;
DELETE FROM session_searches;
DELETE FROM session_items;
DELETE FROM order_items;
DELETE FROM visitor_hours;
DELETE FROM agg_visitor_days;
DELETE FROM agg_traffic_hourly;
DELETE FROM agg_traffic_daily;
DELETE FROM agg_sources_daily;
DELETE FROM agg_pages_daily;
DELETE FROM agg_devices_daily;
DELETE FROM agg_products_daily;
DELETE FROM agg_funnel_daily;
DELETE FROM agg_searches_daily;
DELETE FROM agg_session_durations_daily;
DELETE FROM agg_landing_paths_daily;
DELETE FROM agg_retention_weekly;
DELETE FROM agg_visitor_returns;
CREATE TEMP TABLE rf_sessions ON COMMIT DROP AS SELECT DISTINCT session_id FROM events;
ALTER TABLE rf_sessions ADD PRIMARY KEY (session_id);
ANALYZE rf_sessions;

-- name: affected_events
-- The sessions' events, read once for every step after.
CREATE TEMP TABLE rf_events ON COMMIT DROP AS
SELECT e.session_id, e.event_id, e.event_name, e.event_time, e.event_seq, e.event_date, e.anonymous_id,
       e.user_id, e.visitor_id, e.page_path, e.page_title, e.page_view_id, e.engaged_ms, e.referrer_host,
       e.channel, e.utm_source, e.utm_medium, e.utm_campaign, e.device_class, e.browser, e.os, e.country,
       e.is_bot, e.search_term, e.transaction_id
FROM events e JOIN rf_sessions r ON r.session_id = e.session_id;
ANALYZE rf_events (session_id, event_name, event_time, visitor_id, anonymous_id);
CREATE TEMP TABLE rf_orders ON COMMIT DROP AS
SELECT DISTINCT transaction_id AS order_id
FROM rf_events
WHERE event_name IN ('purchase', 'refund') AND transaction_id IS NOT NULL;
ALTER TABLE rf_orders ADD PRIMARY KEY (order_id);
ANALYZE rf_orders;
CREATE TEMP TABLE rf_anonymous ON COMMIT DROP AS SELECT DISTINCT anonymous_id FROM rf_events;
ANALYZE rf_anonymous;
-- Each visitor's first-visit facts before the rebuild: where they change, new-visitor flags,
-- retention cohorts and first-visit segments move.
CREATE TEMP TABLE rf_visitors ON COMMIT DROP AS
SELECT a.visitor_id, v.first_seen_at, v.first_seen_date, v.cohort_week, v.first_session_id,
       s.device_class, s.channel, s.country
FROM (SELECT DISTINCT visitor_id FROM rf_events) AS a
LEFT JOIN visitors v ON v.visitor_id = a.visitor_id
LEFT JOIN sessions s ON s.session_id = v.first_session_id;
ALTER TABLE rf_visitors ADD PRIMARY KEY (visitor_id);
ANALYZE rf_visitors;

-- name: rebuild_page_views
CREATE TEMP TABLE rf_old_page_views (LIKE page_views) ON COMMIT DROP;
WITH gone AS (DELETE FROM page_views p USING rf_sessions r WHERE p.session_id = r.session_id RETURNING p.*)
INSERT INTO rf_old_page_views SELECT * FROM gone;
INSERT INTO page_views (
    session_id, page_view_id, event_id, visitor_id, path, title, viewed_at, view_number,
    is_entry, is_exit, engaged_ms, view_date
)
WITH views AS (
    SELECT DISTINCT ON (session_id, coalesce(page_view_id, event_id))
           session_id, coalesce(page_view_id, event_id) AS page_view_id, event_id, visitor_id,
           page_path, page_title, event_time, event_seq
    FROM rf_events
    WHERE event_name = 'page_view'
    ORDER BY session_id, coalesce(page_view_id, event_id), event_time, event_seq, event_id
), engagement AS (
    SELECT session_id, page_view_id, sum(engaged_ms) AS engaged_ms
    FROM rf_events
    WHERE page_view_id IS NOT NULL AND engaged_ms IS NOT NULL
    GROUP BY session_id, page_view_id
), numbered AS (
    SELECT v.*,
           row_number() OVER (PARTITION BY session_id ORDER BY event_time, event_seq, event_id) AS view_number,
           count(*) OVER (PARTITION BY session_id) AS views_in_session
    FROM views v
)
SELECT n.session_id, n.page_view_id, n.event_id, n.visitor_id, n.page_path, n.page_title, n.event_time,
       n.view_number, n.view_number = 1, n.view_number = n.views_in_session,
       coalesce(g.engaged_ms, 0), (n.event_time AT TIME ZONE 'UTC')::date
FROM numbered n
LEFT JOIN engagement g ON g.session_id = n.session_id AND g.page_view_id = n.page_view_id;

-- name: rebuild_orders
-- An order is the first purchase event of its transaction_id; refunds lower its revenue.
CREATE TEMP TABLE rf_old_orders (LIKE orders) ON COMMIT DROP;
WITH gone AS (DELETE FROM orders o USING rf_orders r WHERE o.order_id = r.order_id RETURNING o.*)
INSERT INTO rf_old_orders SELECT * FROM gone;
INSERT INTO orders (
    order_id, event_id, session_id, visitor_id, user_id, ordered_at, order_date, currency,
    gross_revenue, refund_amount, revenue, item_count, quantity, refunded, refunded_at
)
WITH oe AS MATERIALIZED (
    SELECT e.transaction_id, e.event_id, e.event_name, e.event_time, e.event_seq, e.session_id,
           e.visitor_id, e.user_id, e.currency, e.value::numeric AS value, e.item_count
    FROM events e JOIN rf_orders r ON r.order_id = e.transaction_id
    WHERE e.event_name IN ('purchase', 'refund') AND e.transaction_id IS NOT NULL
), items AS (
    SELECT i.event_id, sum(i.price::numeric * i.quantity) AS amount, sum(i.quantity) AS quantity
    FROM event_items i JOIN oe ON oe.event_id = i.event_id
    GROUP BY i.event_id
), purchase AS (
    SELECT DISTINCT ON (oe.transaction_id)
           oe.*, coalesce(oe.value, it.amount, 0) AS gross, coalesce(it.quantity, 0) AS quantity
    FROM oe LEFT JOIN items it ON it.event_id = oe.event_id
    WHERE oe.event_name = 'purchase'
    ORDER BY oe.transaction_id, oe.event_time, oe.event_seq, oe.event_id
), refunded AS (
    -- A refund is worth its value, else its items, else the whole order; together at most the order.
    SELECT p.transaction_id, least(p.gross, sum(coalesce(oe.value, it.amount, p.gross))) AS amount,
           min(oe.event_time) AS first_at
    FROM purchase p
    JOIN oe ON oe.transaction_id = p.transaction_id AND oe.event_name = 'refund'
    LEFT JOIN items it ON it.event_id = oe.event_id
    GROUP BY p.transaction_id, p.gross
)
SELECT p.transaction_id, p.event_id, p.session_id, p.visitor_id, p.user_id, p.event_time,
       (p.event_time AT TIME ZONE 'UTC')::date, p.currency, p.gross, coalesce(f.amount, 0),
       p.gross - coalesce(f.amount, 0), p.item_count, p.quantity, f.transaction_id IS NOT NULL, f.first_at
FROM purchase p
LEFT JOIN refunded f ON f.transaction_id = p.transaction_id;

-- name: rebuild_sessions
-- Landing, last and first-user events are found among the events at the session's first, last
-- and first-user event_time (one or a few each), not by sorting all events. Each part is an
-- analysed temporary table: joins on event_time are beyond the planner's estimates.
CREATE TEMP TABLE rf_old_sessions (LIKE sessions) ON COMMIT DROP;
WITH gone AS (DELETE FROM sessions s USING rf_sessions r WHERE s.session_id = r.session_id RETURNING s.*)
INSERT INTO rf_old_sessions SELECT * FROM gone;
ALTER TABLE rf_old_sessions ADD PRIMARY KEY (session_id);
ANALYZE rf_old_sessions;
CREATE TEMP TABLE rf_totals ON COMMIT DROP AS
SELECT session_id, min(event_time) AS started_at, max(event_time) AS ended_at,
       count(*) AS event_count, coalesce(sum(engaged_ms), 0) AS engaged_ms,
       bool_or(is_bot) AS is_bot, bool_or(event_name = 'purchase') AS has_purchase,
       -- commerce events make a session engaged (not a bounce)
       bool_or(event_name IN ('add_to_cart', 'remove_from_cart', 'view_cart', 'begin_checkout',
                              'add_payment_info', 'purchase')) AS has_commerce,
       min(event_time) FILTER (WHERE user_id IS NOT NULL) AS user_at,
       min(event_time) FILTER (WHERE event_name = 'view_item') AS step1
FROM rf_events
GROUP BY session_id;
ALTER TABLE rf_totals ADD PRIMARY KEY (session_id);
ANALYZE rf_totals;
CREATE TEMP TABLE rf_landing ON COMMIT DROP AS
SELECT DISTINCT ON (e.session_id) e.*
FROM rf_events e JOIN rf_totals t ON t.session_id = e.session_id AND t.started_at = e.event_time
ORDER BY e.session_id, e.event_time, e.event_seq, e.event_id;
ANALYZE rf_landing;
CREATE TEMP TABLE rf_ends ON COMMIT DROP AS
SELECT DISTINCT ON (e.session_id) e.session_id, 'last' AS what, e.page_path AS value
FROM rf_events e JOIN rf_totals t ON t.session_id = e.session_id AND t.ended_at = e.event_time
ORDER BY e.session_id, e.event_time DESC, e.event_seq DESC, e.event_id DESC;
INSERT INTO rf_ends
SELECT DISTINCT ON (e.session_id) e.session_id, 'user', e.user_id
FROM rf_events e JOIN rf_totals t ON t.session_id = e.session_id AND t.user_at = e.event_time
WHERE e.user_id IS NOT NULL
ORDER BY e.session_id, e.event_time, e.event_seq, e.event_id;
CREATE TEMP TABLE rf_steps ON COMMIT DROP AS
WITH funnel AS MATERIALIZED (
    SELECT session_id, event_name, event_time
    FROM rf_events
    WHERE event_name IN ('add_to_cart', 'begin_checkout', 'purchase')
), step2 AS (
    SELECT t.session_id, min(e.event_time) AS at
    FROM rf_totals t JOIN funnel e ON e.session_id = t.session_id AND e.event_name = 'add_to_cart' AND e.event_time > t.step1
    GROUP BY t.session_id
), step3 AS (
    SELECT s.session_id, min(e.event_time) AS at
    FROM step2 s JOIN funnel e ON e.session_id = s.session_id AND e.event_name = 'begin_checkout' AND e.event_time > s.at
    GROUP BY s.session_id
), step4 AS (
    SELECT s.session_id, min(e.event_time) AS at
    FROM step3 s JOIN funnel e ON e.session_id = s.session_id AND e.event_name = 'purchase' AND e.event_time > s.at
    GROUP BY s.session_id
)
SELECT s2.session_id, CASE WHEN s4.at IS NOT NULL THEN 4 WHEN s3.at IS NOT NULL THEN 3 ELSE 2 END AS step
FROM step2 s2
LEFT JOIN step3 s3 ON s3.session_id = s2.session_id
LEFT JOIN step4 s4 ON s4.session_id = s2.session_id;
ANALYZE rf_ends;
ANALYZE rf_steps;
INSERT INTO sessions (
    session_id, visitor_id, user_id, anonymous_id, started_at, ended_at, duration_s, event_count,
    page_views, engaged_ms, is_bounce, is_single_page, landing_path, second_path, exit_path,
    referrer_host, channel, utm_source, utm_medium, utm_campaign, device_class, browser, os,
    country, is_bot, has_purchase, orders, revenue, funnel_step, session_date
)
WITH views AS (
    SELECT p.session_id, count(*) AS page_views,
           max(p.path) FILTER (WHERE p.view_number = 1) AS landing_path,
           max(p.path) FILTER (WHERE p.view_number = 2) AS second_path,
           max(p.path) FILTER (WHERE p.is_exit) AS exit_path
    FROM page_views p JOIN rf_sessions r ON r.session_id = p.session_id
    GROUP BY p.session_id
), sales AS (
    SELECT o.session_id, count(*) AS orders, sum(o.revenue) AS revenue
    FROM orders o JOIN rf_sessions r ON r.session_id = o.session_id
    GROUP BY o.session_id
)
SELECT t.session_id, coalesce(u.value, l.anonymous_id), u.value, l.anonymous_id,
       t.started_at, t.ended_at, extract(epoch FROM t.ended_at - t.started_at)::numeric(12, 3),
       t.event_count, coalesce(v.page_views, 0), t.engaged_ms,
       coalesce(v.page_views, 0) <= 1 AND NOT t.has_commerce AND t.engaged_ms < 10000,
       coalesce(v.page_views, 0) = 1,
       CASE WHEN v.page_views > 0 THEN v.landing_path ELSE l.page_path END,
       v.second_path,
       CASE WHEN v.page_views > 0 THEN v.exit_path ELSE le.value END,
       l.referrer_host, l.channel, l.utm_source, l.utm_medium, l.utm_campaign, l.device_class,
       l.browser, l.os, l.country, t.is_bot, t.has_purchase, coalesce(sa.orders, 0), coalesce(sa.revenue, 0),
       coalesce(st.step, CASE WHEN t.step1 IS NOT NULL THEN 1 ELSE 0 END),
       (t.started_at AT TIME ZONE 'UTC')::date
FROM rf_totals t
JOIN rf_landing l ON l.session_id = t.session_id
JOIN rf_ends le ON le.session_id = t.session_id AND le.what = 'last'
LEFT JOIN rf_ends u ON u.session_id = t.session_id AND u.what = 'user'
LEFT JOIN views v ON v.session_id = t.session_id
LEFT JOIN rf_steps st ON st.session_id = t.session_id
LEFT JOIN sales sa ON sa.session_id = t.session_id;

-- name: rebuild_users
DELETE FROM users u USING rf_anonymous a WHERE u.anonymous_id = a.anonymous_id;
INSERT INTO users (
    anonymous_id, user_id, first_seen_at, last_seen_at, sessions, first_session_id, first_channel,
    first_referrer_host, first_utm_source, first_utm_medium, first_utm_campaign
)
WITH s AS MATERIALIZED (
    SELECT s.* FROM sessions s JOIN rf_anonymous a ON a.anonymous_id = s.anonymous_id
), first_session AS (
    SELECT DISTINCT ON (anonymous_id) * FROM s ORDER BY anonymous_id, started_at, session_id
), first_user AS (
    SELECT DISTINCT ON (anonymous_id) anonymous_id, user_id
    FROM s
    WHERE user_id IS NOT NULL
    ORDER BY anonymous_id, started_at, session_id
), totals AS (
    SELECT anonymous_id, min(started_at) AS first_seen_at, max(ended_at) AS last_seen_at, count(*) AS sessions
    FROM s
    GROUP BY anonymous_id
)
SELECT t.anonymous_id, u.user_id, t.first_seen_at, t.last_seen_at, t.sessions, f.session_id, f.channel,
       f.referrer_host, f.utm_source, f.utm_medium, f.utm_campaign
FROM totals t
JOIN first_session f ON f.anonymous_id = t.anonymous_id
LEFT JOIN first_user u ON u.anonymous_id = t.anonymous_id;

-- name: rebuild_session_facts
-- The per-session inputs of the event-based rollups (migrations/005_*), old rows kept.
DELETE FROM session_hours x USING rf_sessions r WHERE x.session_id = r.session_id;
INSERT INTO session_hours (session_id, hour, visitor_id, events, first_at, first_seq, first_event_id, last_at)
WITH g AS MATERIALIZED (
    SELECT session_id, date_trunc('hour', event_time, 'UTC') AS hour, visitor_id, count(*) AS events,
           min(event_time) AS first_at, max(event_time) AS last_at
    FROM rf_events
    GROUP BY 1, 2, 3
)
SELECT DISTINCT ON (g.session_id, g.hour, g.visitor_id)
       g.session_id, g.hour, g.visitor_id, g.events, g.first_at, e.event_seq, e.event_id, g.last_at
FROM g
JOIN rf_events e ON e.session_id = g.session_id AND e.visitor_id = g.visitor_id AND e.event_time = g.first_at
ORDER BY g.session_id, g.hour, g.visitor_id, e.event_seq, e.event_id;
CREATE TEMP TABLE rf_old_searches (LIKE session_searches) ON COMMIT DROP;
WITH gone AS (DELETE FROM session_searches x USING rf_sessions r WHERE x.session_id = r.session_id RETURNING x.*)
INSERT INTO rf_old_searches SELECT * FROM gone;
INSERT INTO session_searches (session_id, day, search_term, searches, with_view_item, with_purchase)
WITH later AS (
    SELECT session_id, max(event_time) FILTER (WHERE event_name = 'view_item') AS last_view,
           max(event_time) FILTER (WHERE event_name = 'purchase') AS last_purchase
    FROM rf_events
    WHERE event_name IN ('view_item', 'purchase')
    GROUP BY session_id
)
SELECT x.session_id, x.event_date, x.search_term, count(*), count(*) FILTER (WHERE l.last_view > x.event_time),
       count(*) FILTER (WHERE l.last_purchase > x.event_time)
FROM rf_events x
LEFT JOIN later l ON l.session_id = x.session_id
WHERE x.event_name = 'search' AND x.search_term IS NOT NULL AND x.search_term <> ''
GROUP BY 1, 2, 3;
CREATE TEMP TABLE rf_old_items (LIKE session_items) ON COMMIT DROP;
WITH gone AS (DELETE FROM session_items x USING rf_sessions r WHERE x.session_id = r.session_id RETURNING x.*)
INSERT INTO rf_old_items SELECT * FROM gone;
INSERT INTO session_items (session_id, day, item_id, views, add_to_carts, item_name, item_category)
SELECT i.session_id, i.event_date, i.item_id, count(*) FILTER (WHERE i.event_name = 'view_item'),
       count(*) FILTER (WHERE i.event_name = 'add_to_cart'), max(i.item_name), max(i.item_category)
FROM rf_events e
JOIN event_items i ON i.event_id = e.event_id
WHERE e.event_name IN ('view_item', 'add_to_cart') AND i.event_name IN ('view_item', 'add_to_cart')
GROUP BY 1, 2, 3;
CREATE TEMP TABLE rf_old_order_items (LIKE order_items) ON COMMIT DROP;
WITH gone AS (DELETE FROM order_items x USING rf_orders r WHERE x.order_id = r.order_id RETURNING x.*)
INSERT INTO rf_old_order_items SELECT * FROM gone;
-- Views and carts count on the event's day; purchases on the order's day, from the order's items.
-- A refund without items refunds every unit of the order; with items, those units.
INSERT INTO order_items (order_id, item_id, quantity, refunded_quantity, gross_revenue, revenue, item_name, item_category)
WITH bought AS (
    SELECT o.order_id, i.item_id, max(i.item_name) AS item_name, max(i.item_category) AS item_category,
           sum(i.quantity) AS quantity, coalesce(sum(i.price::numeric * i.quantity), 0) AS gross
    FROM orders o
    JOIN rf_orders r ON r.order_id = o.order_id
    JOIN event_items i ON i.event_id = o.event_id
    GROUP BY 1, 2
), refund_events AS (
    SELECT e.event_id, e.transaction_id, e.item_count
    FROM events e
    JOIN rf_orders r ON r.order_id = e.transaction_id
    WHERE e.event_name = 'refund' AND e.transaction_id IS NOT NULL
), whole_orders AS (
    SELECT DISTINCT transaction_id FROM refund_events WHERE item_count = 0
), refunded_units AS (
    SELECT r.transaction_id, i.item_id, sum(i.quantity) AS quantity
    FROM refund_events r JOIN event_items i ON i.event_id = r.event_id
    GROUP BY 1, 2
), purchased AS (
    SELECT b.*,
           CASE WHEN w.transaction_id IS NOT NULL THEN b.quantity
                ELSE least(b.quantity, coalesce(u.quantity, 0)) END AS refunded_quantity
    FROM bought b
    LEFT JOIN whole_orders w ON w.transaction_id = b.order_id
    LEFT JOIN refunded_units u ON u.transaction_id = b.order_id AND u.item_id = b.item_id
)
SELECT order_id, item_id, quantity, refunded_quantity, gross,
       gross - CASE WHEN quantity > 0 THEN round(gross * refunded_quantity / quantity, 4) ELSE 0 END,
       item_name, item_category
FROM purchased;

-- name: rebuild_visitors
-- From all events of the visitors, in human sessions only (through session_hours).
DELETE FROM visitors v USING rf_visitors a WHERE v.visitor_id = a.visitor_id;
INSERT INTO visitors (visitor_id, first_seen_at, first_seen_date, cohort_week, first_session_id, last_seen_at)
WITH h AS (
    SELECT x.visitor_id, x.session_id, x.first_at, x.first_seq, x.first_event_id,
           max(x.last_at) OVER (PARTITION BY x.visitor_id) AS last_at
    FROM session_hours x
    JOIN rf_visitors a ON a.visitor_id = x.visitor_id
    JOIN sessions s ON s.session_id = x.session_id
    WHERE NOT s.is_bot
)
SELECT DISTINCT ON (visitor_id) visitor_id, first_at, (first_at AT TIME ZONE 'UTC')::date,
       date_trunc('week', first_at AT TIME ZONE 'UTC')::date, session_id, last_at
FROM h
ORDER BY visitor_id, first_at, first_seq, first_event_id;

-- name: affected_pairs
-- The (hour, visitor) and (day, visitor) pairs whose visitor_hours / agg_visitor_days rows can
-- change: those of the sessions' events (a session only gains events, so its old pairs are
-- among them), and a visitor's old and new first hour where the first visit moved.
CREATE TEMP TABLE rf_moved ON COMMIT DROP AS
SELECT a.visitor_id, a.first_seen_at AS old_first_at, v.first_seen_at AS new_first_at
FROM rf_visitors a
LEFT JOIN visitors v ON v.visitor_id = a.visitor_id
LEFT JOIN sessions s ON s.session_id = v.first_session_id
WHERE (a.first_seen_at, a.first_session_id, a.device_class, a.channel, a.country)
      IS DISTINCT FROM (v.first_seen_at, v.first_session_id, s.device_class, s.channel, s.country);
CREATE TEMP TABLE rf_pairs_h ON COMMIT DROP AS
SELECT DISTINCT x.hour, x.visitor_id FROM session_hours x JOIN rf_sessions r ON r.session_id = x.session_id
UNION
SELECT date_trunc('hour', m.old_first_at, 'UTC'), m.visitor_id FROM rf_moved m WHERE m.old_first_at IS NOT NULL
UNION
SELECT date_trunc('hour', m.new_first_at, 'UTC'), m.visitor_id FROM rf_moved m WHERE m.new_first_at IS NOT NULL;
ANALYZE rf_pairs_h;
CREATE TEMP TABLE rf_pairs_d ON COMMIT DROP AS
SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date AS day, visitor_id FROM rf_pairs_h;
ANALYZE rf_pairs_d;
-- The days whose rollups change (the refresh's days_rebuilt).
CREATE TEMP TABLE rf_days ON COMMIT DROP AS SELECT DISTINCT day FROM rf_pairs_d;
-- Every row of the pairs' visitors in agg_visitor_days, before and (update_visitor_sets) after:
-- retention and agg_visitor_returns are differences of the two.
CREATE TEMP TABLE rf_pair_visitors ON COMMIT DROP AS
SELECT visitor_id, min(day) AS from_day FROM rf_pairs_d GROUP BY visitor_id;
ALTER TABLE rf_pair_visitors ADD PRIMARY KEY (visitor_id);
ANALYZE rf_pair_visitors;
CREATE TEMP TABLE rf_old_vd ON COMMIT DROP AS
SELECT a.* FROM agg_visitor_days a JOIN rf_pair_visitors p ON p.visitor_id = a.visitor_id;
ANALYZE rf_old_vd;

-- name: update_visitor_sets
CREATE TEMP TABLE rf_old_vh (LIKE visitor_hours) ON COMMIT DROP;
WITH gone AS (
    DELETE FROM visitor_hours a USING rf_pairs_h p WHERE a.visitor_id = p.visitor_id AND a.hour = p.hour RETURNING a.*
)
INSERT INTO rf_old_vh SELECT * FROM gone;
CREATE TEMP TABLE rf_new_vh (LIKE visitor_hours) ON COMMIT DROP;
WITH added AS (
    INSERT INTO visitor_hours (hour, visitor_id, device_class, channel, country, is_new, events)
    SELECT p.hour, p.visitor_id, s.device_class, s.channel, coalesce(s.country, '(not set)'),
           coalesce(bool_or(date_trunc('hour', v.first_seen_at, 'UTC') = p.hour), false), sum(x.events)
    FROM rf_pairs_h p
    JOIN session_hours x ON x.visitor_id = p.visitor_id AND x.hour = p.hour
    JOIN sessions s ON s.session_id = x.session_id
    LEFT JOIN visitors v ON v.visitor_id = p.visitor_id
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4, 5
    RETURNING *
)
INSERT INTO rf_new_vh SELECT * FROM added;
DELETE FROM agg_visitor_days a USING rf_pairs_d p WHERE a.visitor_id = p.visitor_id AND a.day = p.day;
INSERT INTO agg_visitor_days (day, visitor_id, device_class, channel, country, is_new)
SELECT p.day, p.visitor_id, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(bool_or(v.first_seen_date = p.day), false)
FROM rf_pairs_d p
JOIN session_hours x ON x.visitor_id = p.visitor_id
                    AND x.hour >= p.day::timestamp AT TIME ZONE 'UTC'
                    AND x.hour < (p.day + 1)::timestamp AT TIME ZONE 'UTC'
JOIN sessions s ON s.session_id = x.session_id
LEFT JOIN visitors v ON v.visitor_id = p.visitor_id
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5;
CREATE TEMP TABLE rf_new_vd ON COMMIT DROP AS
SELECT a.* FROM agg_visitor_days a JOIN rf_pair_visitors p ON p.visitor_id = a.visitor_id;
ANALYZE rf_new_vd;

-- name: delta_inputs
-- The touched sessions' contributions before (sign -1) and after (+1), bot sessions left out,
-- each with the segment of its session as it was then.
CREATE TEMP TABLE rf_old_seg ON COMMIT DROP AS
SELECT session_id, session_date, device_class, channel, country, utm_source, utm_medium, utm_campaign,
       referrer_host, is_bot
FROM rf_old_sessions
UNION ALL
SELECT s.session_id, s.session_date, s.device_class, s.channel, s.country, s.utm_source, s.utm_medium,
       s.utm_campaign, s.referrer_host, s.is_bot
FROM sessions s
WHERE s.session_id IN (SELECT session_id FROM rf_old_orders UNION SELECT first_session_id FROM rf_visitors)
  AND s.session_id NOT IN (SELECT session_id FROM rf_sessions);
ALTER TABLE rf_old_seg ADD PRIMARY KEY (session_id);
ANALYZE rf_old_seg;
CREATE TEMP TABLE rf_d_sessions ON COMMIT DROP AS
SELECT sign, session_id, visitor_id, session_date AS day, date_trunc('hour', started_at, 'UTC') AS hour,
       device_class, channel, coalesce(country, '(not set)') AS country,
       coalesce(utm_source, '(not set)') AS utm_source, coalesce(utm_medium, '(not set)') AS utm_medium,
       coalesce(utm_campaign, '(not set)') AS utm_campaign, coalesce(referrer_host, '(not set)') AS referrer_host,
       coalesce(browser, '(not set)') AS browser, coalesce(os, '(not set)') AS os,
       coalesce(landing_path, '(not set)') AS landing_path, coalesce(second_path, '(none)') AS second_path,
       is_bounce, is_single_page, duration_s, engaged_ms, page_views, orders, revenue, funnel_step
FROM (
    SELECT -1 AS sign, o.* FROM rf_old_sessions o
    UNION ALL
    SELECT 1, s.* FROM sessions s JOIN rf_sessions r ON r.session_id = s.session_id
) AS x
WHERE NOT is_bot;
ANALYZE rf_d_sessions;
-- Visitors whose first session a session is (agg_sources_daily.new_visitors).
CREATE TEMP TABLE rf_d_first ON COMMIT DROP AS
SELECT -1 AS sign, s.session_date AS day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country,
       coalesce(s.utm_source, '(not set)') AS utm_source, coalesce(s.utm_medium, '(not set)') AS utm_medium,
       coalesce(s.utm_campaign, '(not set)') AS utm_campaign, coalesce(s.referrer_host, '(not set)') AS referrer_host
FROM rf_visitors a JOIN rf_old_seg s ON s.session_id = a.first_session_id
WHERE NOT s.is_bot
UNION ALL
SELECT 1, s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(s.utm_source, '(not set)'), coalesce(s.utm_medium, '(not set)'),
       coalesce(s.utm_campaign, '(not set)'), coalesce(s.referrer_host, '(not set)')
FROM visitors v JOIN rf_visitors a ON a.visitor_id = v.visitor_id JOIN sessions s ON s.session_id = v.first_session_id
WHERE NOT s.is_bot;
CREATE TEMP TABLE rf_d_page_views ON COMMIT DROP AS
SELECT -1 AS sign, p.view_date AS day, date_trunc('hour', p.viewed_at, 'UTC') AS hour, s.device_class, s.channel,
       coalesce(s.country, '(not set)') AS country, coalesce(p.path, '(not set)') AS path, p.title, p.visitor_id,
       p.is_entry, p.is_exit, p.engaged_ms
FROM rf_old_page_views p JOIN rf_old_sessions s ON s.session_id = p.session_id
WHERE NOT s.is_bot
UNION ALL
SELECT 1, p.view_date, date_trunc('hour', p.viewed_at, 'UTC'), s.device_class, s.channel,
       coalesce(s.country, '(not set)'), coalesce(p.path, '(not set)'), p.title, p.visitor_id,
       p.is_entry, p.is_exit, p.engaged_ms
FROM page_views p JOIN rf_sessions r ON r.session_id = p.session_id JOIN sessions s ON s.session_id = p.session_id
WHERE NOT s.is_bot;
ANALYZE rf_d_page_views;
CREATE TEMP TABLE rf_d_orders ON COMMIT DROP AS
SELECT -1 AS sign, o.order_id, o.order_date AS day, date_trunc('hour', o.ordered_at, 'UTC') AS hour,
       s.device_class, s.channel, coalesce(s.country, '(not set)') AS country, o.revenue
FROM rf_old_orders o JOIN rf_old_seg s ON s.session_id = o.session_id
WHERE NOT s.is_bot
UNION ALL
SELECT 1, o.order_id, o.order_date, date_trunc('hour', o.ordered_at, 'UTC'), s.device_class, s.channel,
       coalesce(s.country, '(not set)'), o.revenue
FROM orders o JOIN rf_orders r ON r.order_id = o.order_id JOIN sessions s ON s.session_id = o.session_id
WHERE NOT s.is_bot;

-- name: delta_traffic_hourly
-- Sessions by start hour, page views, orders and events by their hour; visitors from
-- visitor_hours before and after. A row holds events whenever it holds anything.
CREATE TEMP TABLE rf_dx_hourly ON COMMIT DROP AS
SELECT hour, (hour AT TIME ZONE 'UTC')::date AS day, device_class, channel, country,
       sum(visitors) AS visitors, sum(new_visitors) AS new_visitors, sum(sessions) AS sessions,
       sum(engaged_sessions) AS engaged_sessions, sum(bounces) AS bounces,
       sum(single_page_sessions) AS single_page_sessions, sum(page_views) AS page_views, sum(events) AS events,
       sum(total_duration_s) AS total_duration_s, sum(engaged_ms) AS engaged_ms, sum(orders) AS orders,
       sum(revenue) AS revenue,
       -- a numeric sum keeps the longest scale of its parts: where the longest-scaled part went
       -- and no part as long came, only a rebuild gives the scale back
       coalesce(max(old_scale) > coalesce(max(new_scale), 0), false) AS rescale
FROM (
    SELECT hour, device_class, channel, country, 0 AS visitors, 0 AS new_visitors, sum(sign) AS sessions,
           sum(sign * (NOT is_bounce)::int) AS engaged_sessions, sum(sign * is_bounce::int) AS bounces,
           sum(sign * is_single_page::int) AS single_page_sessions, 0 AS page_views, 0 AS events,
           sum(sign * duration_s) AS total_duration_s, sum(sign * engaged_ms) AS engaged_ms, 0 AS orders,
           0::numeric AS revenue, NULL::int AS old_scale, NULL::int AS new_scale
    FROM rf_d_sessions
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT hour, device_class, channel, country, 0, 0, 0, 0, 0, 0, sum(sign), 0, 0::numeric, 0, 0, 0::numeric,
           NULL, NULL
    FROM rf_d_page_views
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT hour, device_class, channel, country, 0, 0, 0, 0, 0, 0, 0, 0, 0::numeric, 0, sum(sign),
           sum(sign * revenue), max(scale(revenue)) FILTER (WHERE sign < 0), max(scale(revenue)) FILTER (WHERE sign > 0)
    FROM rf_d_orders
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT hour, device_class, channel, country, sum(sign), sum(sign * is_new::int), 0, 0, 0, 0, 0,
           sum(sign * events), 0::numeric, 0, 0, 0::numeric, NULL, NULL
    FROM (SELECT -1 AS sign, * FROM rf_old_vh UNION ALL SELECT 1, * FROM rf_new_vh) AS vh
    GROUP BY 1, 2, 3, 4
) AS x
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO agg_traffic_hourly AS a (
    hour, day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions,
    bounces, single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
)
SELECT hour, day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions, bounces,
       single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
FROM rf_dx_hourly
ON CONFLICT ON CONSTRAINT agg_traffic_hourly_pkey DO UPDATE SET
    visitors = a.visitors + excluded.visitors, new_visitors = a.new_visitors + excluded.new_visitors,
    sessions = a.sessions + excluded.sessions, engaged_sessions = a.engaged_sessions + excluded.engaged_sessions,
    bounces = a.bounces + excluded.bounces, single_page_sessions = a.single_page_sessions + excluded.single_page_sessions,
    page_views = a.page_views + excluded.page_views, events = a.events + excluded.events,
    total_duration_s = a.total_duration_s + excluded.total_duration_s, engaged_ms = a.engaged_ms + excluded.engaged_ms,
    orders = a.orders + excluded.orders, revenue = a.revenue + excluded.revenue;
DELETE FROM agg_traffic_hourly a USING rf_dx_hourly x
WHERE (a.hour, a.device_class, a.channel, a.country) = (x.hour, x.device_class, x.channel, x.country) AND a.events = 0;
-- durations are numeric(12, 3): the sum has scale 3 with sessions, 0 without
UPDATE agg_traffic_hourly a SET total_duration_s = 0 FROM rf_dx_hourly x
WHERE (a.hour, a.device_class, a.channel, a.country) = (x.hour, x.device_class, x.channel, x.country)
  AND a.sessions = 0 AND scale(a.total_duration_s) > 0;
INSERT INTO rf_fix SELECT DISTINCT 'agg_traffic_hourly', day FROM rf_dx_hourly WHERE rescale ON CONFLICT DO NOTHING;

-- name: delta_traffic_daily
-- The hours' differences by day, distinct visitors from agg_visitor_days before and after.
CREATE TEMP TABLE rf_dx_daily ON COMMIT DROP AS
SELECT day, device_class, channel, country, sum(visitors) AS visitors, sum(new_visitors) AS new_visitors,
       sum(sessions) AS sessions, sum(engaged_sessions) AS engaged_sessions, sum(bounces) AS bounces,
       sum(single_page_sessions) AS single_page_sessions, sum(page_views) AS page_views, sum(events) AS events,
       sum(total_duration_s) AS total_duration_s, sum(engaged_ms) AS engaged_ms, sum(orders) AS orders,
       sum(revenue) AS revenue
FROM (
    SELECT day, device_class, channel, country, 0 AS visitors, 0 AS new_visitors, sessions, engaged_sessions,
           bounces, single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
    FROM rf_dx_hourly
    UNION ALL
    SELECT day, device_class, channel, country, sum(sign), sum(sign * is_new::int), 0, 0, 0, 0, 0, 0,
           0::numeric, 0, 0, 0::numeric
    FROM (SELECT -1 AS sign, * FROM rf_old_vd UNION ALL SELECT 1, * FROM rf_new_vd) AS vd
    GROUP BY 1, 2, 3, 4
) AS x
GROUP BY 1, 2, 3, 4;
INSERT INTO agg_traffic_daily AS a (
    day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions, bounces,
    single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
)
SELECT day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions, bounces,
       single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
FROM rf_dx_daily
ON CONFLICT ON CONSTRAINT agg_traffic_daily_pkey DO UPDATE SET
    visitors = a.visitors + excluded.visitors, new_visitors = a.new_visitors + excluded.new_visitors,
    sessions = a.sessions + excluded.sessions, engaged_sessions = a.engaged_sessions + excluded.engaged_sessions,
    bounces = a.bounces + excluded.bounces, single_page_sessions = a.single_page_sessions + excluded.single_page_sessions,
    page_views = a.page_views + excluded.page_views, events = a.events + excluded.events,
    total_duration_s = a.total_duration_s + excluded.total_duration_s, engaged_ms = a.engaged_ms + excluded.engaged_ms,
    orders = a.orders + excluded.orders, revenue = a.revenue + excluded.revenue;
DELETE FROM agg_traffic_daily a USING rf_dx_daily x
WHERE (a.day, a.device_class, a.channel, a.country) = (x.day, x.device_class, x.channel, x.country) AND a.events = 0;
UPDATE agg_traffic_daily a SET total_duration_s = 0 FROM rf_dx_daily x
WHERE (a.day, a.device_class, a.channel, a.country) = (x.day, x.device_class, x.channel, x.country)
  AND a.sessions = 0 AND scale(a.total_duration_s) > 0;
-- the daily sums are the hours' sums: the same rescale
INSERT INTO rf_fix SELECT 'agg_traffic_daily', day FROM rf_fix WHERE tbl = 'agg_traffic_hourly' ON CONFLICT DO NOTHING;

-- name: delta_sources_daily
-- Distinct visitors: a (row, visitor) pair that the touched sessions gain or lose counts only
-- where none of the visitor's other sessions holds it.
CREATE TEMP TABLE rf_dx_sources ON COMMIT DROP AS
WITH pairs AS (
    SELECT day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host, visitor_id,
           CASE WHEN bool_or(sign > 0) THEN 1 ELSE -1 END AS d
    FROM rf_d_sessions
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    HAVING bool_or(sign > 0) <> bool_or(sign < 0)
), visitor_changes AS (
    SELECT p.day, p.device_class, p.channel, p.country, p.utm_source, p.utm_medium, p.utm_campaign,
           p.referrer_host, sum(p.d) AS visitors
    FROM pairs p
    WHERE NOT EXISTS (
        SELECT 1 FROM sessions s
        WHERE s.visitor_id = p.visitor_id AND s.session_date = p.day AND NOT s.is_bot
          AND s.device_class = p.device_class AND s.channel = p.channel
          AND coalesce(s.country, '(not set)') = p.country AND coalesce(s.utm_source, '(not set)') = p.utm_source
          AND coalesce(s.utm_medium, '(not set)') = p.utm_medium
          AND coalesce(s.utm_campaign, '(not set)') = p.utm_campaign
          AND coalesce(s.referrer_host, '(not set)') = p.referrer_host
          AND NOT EXISTS (SELECT 1 FROM rf_sessions r WHERE r.session_id = s.session_id))
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
)
SELECT day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host,
       sum(sessions) AS sessions, sum(visitors) AS visitors, sum(new_visitors) AS new_visitors,
       sum(engaged_sessions) AS engaged_sessions, sum(bounces) AS bounces, sum(page_views) AS page_views,
       sum(total_duration_s) AS total_duration_s, sum(orders) AS orders, sum(revenue) AS revenue,
       coalesce(max(old_scale) > coalesce(max(new_scale), 0), false) AS rescale
FROM (
    SELECT day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host,
           sum(sign) AS sessions, 0 AS visitors, 0 AS new_visitors, sum(sign * (NOT is_bounce)::int) AS engaged_sessions,
           sum(sign * is_bounce::int) AS bounces, sum(sign * page_views) AS page_views,
           sum(sign * duration_s) AS total_duration_s, sum(sign * orders) AS orders, sum(sign * revenue) AS revenue,
           max(scale(revenue)) FILTER (WHERE sign < 0) AS old_scale,
           max(scale(revenue)) FILTER (WHERE sign > 0) AS new_scale
    FROM rf_d_sessions
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    UNION ALL
    SELECT day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host,
           0, visitors, 0, 0, 0, 0, 0::numeric, 0, 0::numeric, NULL, NULL
    FROM visitor_changes
    UNION ALL
    SELECT day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host,
           0, 0, sum(sign), 0, 0, 0, 0::numeric, 0, 0::numeric, NULL, NULL
    FROM rf_d_first
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
) AS x
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
INSERT INTO agg_sources_daily AS a (
    day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host,
    sessions, visitors, new_visitors, engaged_sessions, bounces, page_views, total_duration_s, orders, revenue
)
SELECT day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host,
       sessions, visitors, new_visitors, engaged_sessions, bounces, page_views, total_duration_s, orders, revenue
FROM rf_dx_sources
ON CONFLICT ON CONSTRAINT agg_sources_daily_pkey DO UPDATE SET
    sessions = a.sessions + excluded.sessions, visitors = a.visitors + excluded.visitors,
    new_visitors = a.new_visitors + excluded.new_visitors, engaged_sessions = a.engaged_sessions + excluded.engaged_sessions,
    bounces = a.bounces + excluded.bounces, page_views = a.page_views + excluded.page_views,
    total_duration_s = a.total_duration_s + excluded.total_duration_s, orders = a.orders + excluded.orders,
    revenue = a.revenue + excluded.revenue;
DELETE FROM agg_sources_daily a USING rf_dx_sources x
WHERE (a.day, a.device_class, a.channel, a.country, a.utm_source, a.utm_medium, a.utm_campaign, a.referrer_host)
    = (x.day, x.device_class, x.channel, x.country, x.utm_source, x.utm_medium, x.utm_campaign, x.referrer_host)
  AND a.sessions = 0;
INSERT INTO rf_fix SELECT DISTINCT 'agg_sources_daily', day FROM rf_dx_sources WHERE rescale ON CONFLICT DO NOTHING;

-- name: delta_pages_daily
-- page_title is the greatest title: it can only grow, unless a title that went away was the
-- greatest; then the day is rebuilt.
CREATE TEMP TABLE rf_dx_pages ON COMMIT DROP AS
WITH pairs AS (
    SELECT day, device_class, channel, country, path, visitor_id, CASE WHEN bool_or(sign > 0) THEN 1 ELSE -1 END AS d
    FROM rf_d_page_views
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING bool_or(sign > 0) <> bool_or(sign < 0)
), visitor_changes AS (
    SELECT p.day, p.device_class, p.channel, p.country, p.path, sum(p.d) AS visitors
    FROM pairs p
    WHERE NOT EXISTS (
        SELECT 1 FROM page_views v JOIN sessions s ON s.session_id = v.session_id
        WHERE v.visitor_id = p.visitor_id AND v.view_date = p.day AND coalesce(v.path, '(not set)') = p.path
          AND NOT s.is_bot AND s.device_class = p.device_class AND s.channel = p.channel
          AND coalesce(s.country, '(not set)') = p.country
          AND NOT EXISTS (SELECT 1 FROM rf_sessions r WHERE r.session_id = v.session_id))
    GROUP BY 1, 2, 3, 4, 5
), removed_titles AS (
    SELECT day, device_class, channel, country, path, max(title) AS title
    FROM (SELECT day, device_class, channel, country, path, title
          FROM rf_d_page_views WHERE title IS NOT NULL
          GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(sign) < 0) AS t
    GROUP BY 1, 2, 3, 4, 5
), views AS (
    SELECT day, device_class, channel, country, path, sum(sign) AS views, sum(sign * is_entry::int) AS entries,
           sum(sign * is_exit::int) AS exits, sum(sign * engaged_ms) AS engaged_ms,
           max(title) FILTER (WHERE sign > 0) AS added_title
    FROM rf_d_page_views
    GROUP BY 1, 2, 3, 4, 5
)
SELECT w.day, w.device_class, w.channel, w.country, w.path AS page_path,
       coalesce(w.added_title, '(not set)') AS page_title, w.views, coalesce(v.visitors, 0) AS visitors,
       w.entries, w.exits, w.engaged_ms, r.title AS removed_title, w.added_title
FROM views w
LEFT JOIN visitor_changes v USING (day, device_class, channel, country, path)
LEFT JOIN removed_titles r USING (day, device_class, channel, country, path);
-- rows whose greatest title went with no title as great coming: rebuilt, unless a page view
-- of another session still has the title; '(not set)' stands for no title, so a title spelt
-- so, or sorting above it, is ambiguous
CREATE TEMP TABLE rf_retitle ON COMMIT DROP AS
SELECT x.day, x.device_class, x.channel, x.country, x.page_path, a.page_title
FROM rf_dx_pages x
JOIN agg_pages_daily a ON (a.day, a.device_class, a.channel, a.country, a.page_path)
                        = (x.day, x.device_class, x.channel, x.country, x.page_path)
WHERE coalesce(x.removed_title >= a.page_title AND NOT coalesce(x.added_title >= a.page_title, false), false);
ANALYZE rf_retitle;
INSERT INTO rf_fix
SELECT 'agg_pages_daily', c.day
FROM rf_retitle c
WHERE NOT EXISTS (
    SELECT 1 FROM page_views v JOIN sessions s ON s.session_id = v.session_id
    WHERE v.view_date = c.day AND (v.path = c.page_path OR (v.path IS NULL AND c.page_path = '(not set)'))
      AND v.title = c.page_title AND NOT s.is_bot AND s.device_class = c.device_class
      AND s.channel = c.channel AND coalesce(s.country, '(not set)') = c.country
      AND NOT EXISTS (SELECT 1 FROM rf_sessions r WHERE r.session_id = v.session_id))
UNION
SELECT 'agg_pages_daily', x.day
FROM rf_dx_pages x
LEFT JOIN agg_pages_daily a ON (a.day, a.device_class, a.channel, a.country, a.page_path)
                             = (x.day, x.device_class, x.channel, x.country, x.page_path)
WHERE x.added_title = '(not set)' OR x.removed_title = '(not set)'
   OR (a.page_title = '(not set)' AND x.added_title IS NOT NULL AND greatest(a.page_title, x.added_title) <> x.added_title)
ON CONFLICT DO NOTHING;
INSERT INTO agg_pages_daily AS a (
    day, device_class, channel, country, page_path, page_title, views, visitors, entries, exits, engaged_ms
)
SELECT day, device_class, channel, country, page_path, page_title, views, visitors, entries, exits, engaged_ms
FROM rf_dx_pages
ON CONFLICT ON CONSTRAINT agg_pages_daily_pkey DO UPDATE SET
    page_title = CASE WHEN excluded.page_title = '(not set)' THEN a.page_title
                      ELSE greatest(a.page_title, excluded.page_title) END,
    views = a.views + excluded.views, visitors = a.visitors + excluded.visitors,
    entries = a.entries + excluded.entries, exits = a.exits + excluded.exits,
    engaged_ms = a.engaged_ms + excluded.engaged_ms;
DELETE FROM agg_pages_daily a USING rf_dx_pages x
WHERE (a.day, a.device_class, a.channel, a.country, a.page_path) = (x.day, x.device_class, x.channel, x.country, x.page_path)
  AND a.views = 0;

-- name: delta_devices_daily
CREATE TEMP TABLE rf_dx_devices ON COMMIT DROP AS
WITH pairs AS (
    SELECT day, device_class, channel, country, browser, os, visitor_id,
           CASE WHEN bool_or(sign > 0) THEN 1 ELSE -1 END AS d
    FROM rf_d_sessions
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING bool_or(sign > 0) <> bool_or(sign < 0)
), visitor_changes AS (
    SELECT p.day, p.device_class, p.channel, p.country, p.browser, p.os, sum(p.d) AS visitors
    FROM pairs p
    WHERE NOT EXISTS (
        SELECT 1 FROM sessions s
        WHERE s.visitor_id = p.visitor_id AND s.session_date = p.day AND NOT s.is_bot
          AND s.device_class = p.device_class AND s.channel = p.channel
          AND coalesce(s.country, '(not set)') = p.country AND coalesce(s.browser, '(not set)') = p.browser
          AND coalesce(s.os, '(not set)') = p.os
          AND NOT EXISTS (SELECT 1 FROM rf_sessions r WHERE r.session_id = s.session_id))
    GROUP BY 1, 2, 3, 4, 5, 6
)
SELECT day, device_class, channel, country, browser, os, sum(sessions) AS sessions, sum(visitors) AS visitors,
       sum(engaged_sessions) AS engaged_sessions, sum(bounces) AS bounces, sum(page_views) AS page_views,
       sum(total_duration_s) AS total_duration_s, sum(orders) AS orders, sum(revenue) AS revenue,
       coalesce(max(old_scale) > coalesce(max(new_scale), 0), false) AS rescale
FROM (
    SELECT day, device_class, channel, country, browser, os, sum(sign) AS sessions, 0 AS visitors,
           sum(sign * (NOT is_bounce)::int) AS engaged_sessions, sum(sign * is_bounce::int) AS bounces,
           sum(sign * page_views) AS page_views, sum(sign * duration_s) AS total_duration_s,
           sum(sign * orders) AS orders, sum(sign * revenue) AS revenue,
           max(scale(revenue)) FILTER (WHERE sign < 0) AS old_scale,
           max(scale(revenue)) FILTER (WHERE sign > 0) AS new_scale
    FROM rf_d_sessions
    GROUP BY 1, 2, 3, 4, 5, 6
    UNION ALL
    SELECT day, device_class, channel, country, browser, os, 0, visitors, 0, 0, 0, 0::numeric, 0, 0::numeric,
           NULL, NULL
    FROM visitor_changes
) AS x
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO agg_devices_daily AS a (
    day, device_class, channel, country, browser, os, sessions, visitors, engaged_sessions, bounces,
    page_views, total_duration_s, orders, revenue
)
SELECT day, device_class, channel, country, browser, os, sessions, visitors, engaged_sessions, bounces,
       page_views, total_duration_s, orders, revenue
FROM rf_dx_devices
ON CONFLICT ON CONSTRAINT agg_devices_daily_pkey DO UPDATE SET
    sessions = a.sessions + excluded.sessions, visitors = a.visitors + excluded.visitors,
    engaged_sessions = a.engaged_sessions + excluded.engaged_sessions, bounces = a.bounces + excluded.bounces,
    page_views = a.page_views + excluded.page_views, total_duration_s = a.total_duration_s + excluded.total_duration_s,
    orders = a.orders + excluded.orders, revenue = a.revenue + excluded.revenue;
DELETE FROM agg_devices_daily a USING rf_dx_devices x
WHERE (a.day, a.device_class, a.channel, a.country, a.browser, a.os)
    = (x.day, x.device_class, x.channel, x.country, x.browser, x.os)
  AND a.sessions = 0;
INSERT INTO rf_fix SELECT DISTINCT 'agg_devices_daily', day FROM rf_dx_devices WHERE rescale ON CONFLICT DO NOTHING;

-- name: delta_products_daily
-- From session_items and order_items before and after; item_name and item_category as
-- page_title in delta_pages_daily, the numeric sums as in delta_traffic_hourly.
CREATE TEMP TABLE rf_d_products ON COMMIT DROP AS
SELECT -1 AS sign, i.day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country, i.item_id,
       i.views, i.add_to_carts, 0 AS purchases, 0::bigint AS quantity, 0::bigint AS refunded_quantity,
       NULL::numeric AS gross_revenue, NULL::numeric AS revenue, i.item_name, i.item_category
FROM rf_old_items i JOIN rf_old_sessions s ON s.session_id = i.session_id
WHERE NOT s.is_bot
UNION ALL
SELECT 1, i.day, s.device_class, s.channel, coalesce(s.country, '(not set)'), i.item_id, i.views, i.add_to_carts,
       0, 0, 0, NULL, NULL, i.item_name, i.item_category
FROM session_items i JOIN rf_sessions r ON r.session_id = i.session_id JOIN sessions s ON s.session_id = i.session_id
WHERE NOT s.is_bot
UNION ALL
SELECT -1, o.order_date, s.device_class, s.channel, coalesce(s.country, '(not set)'), i.item_id, 0, 0, 1,
       i.quantity, i.refunded_quantity, i.gross_revenue, i.revenue, i.item_name, i.item_category
FROM rf_old_order_items i JOIN rf_old_orders o ON o.order_id = i.order_id JOIN rf_old_seg s ON s.session_id = o.session_id
WHERE NOT s.is_bot
UNION ALL
SELECT 1, o.order_date, s.device_class, s.channel, coalesce(s.country, '(not set)'), i.item_id, 0, 0, 1,
       i.quantity, i.refunded_quantity, i.gross_revenue, i.revenue, i.item_name, i.item_category
FROM order_items i JOIN rf_orders r ON r.order_id = i.order_id JOIN orders o ON o.order_id = i.order_id
JOIN sessions s ON s.session_id = o.session_id
WHERE NOT s.is_bot;
CREATE TEMP TABLE rf_dx_products ON COMMIT DROP AS
WITH removed AS (
    SELECT day, device_class, channel, country, item_id, max(name) FILTER (WHERE what = 'n') AS name,
           max(name) FILTER (WHERE what = 'c') AS category
    FROM (SELECT day, device_class, channel, country, item_id, 'n' AS what, item_name AS name
          FROM rf_d_products WHERE item_name IS NOT NULL
          GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(sign) < 0
          UNION ALL
          SELECT day, device_class, channel, country, item_id, 'c', item_category
          FROM rf_d_products WHERE item_category IS NOT NULL
          GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(sign) < 0) AS t
    GROUP BY 1, 2, 3, 4, 5
), sums AS (
    SELECT day, device_class, channel, country, item_id,
           max(item_name) FILTER (WHERE sign > 0) AS added_name,
           max(item_category) FILTER (WHERE sign > 0) AS added_category,
           sum(sign * views) AS views, sum(sign * add_to_carts) AS add_to_carts, sum(sign * purchases) AS purchases,
           sum(sign * quantity) AS quantity, sum(sign * refunded_quantity) AS refunded_quantity,
           coalesce(sum(sign * gross_revenue), 0) AS gross_revenue, coalesce(sum(sign * revenue), 0) AS revenue,
           greatest(max(scale(gross_revenue)) FILTER (WHERE sign < 0) > coalesce(max(scale(gross_revenue)) FILTER (WHERE sign > 0), 0),
                    max(scale(revenue)) FILTER (WHERE sign < 0) > coalesce(max(scale(revenue)) FILTER (WHERE sign > 0), 0)) AS rescale
    FROM rf_d_products
    GROUP BY 1, 2, 3, 4, 5
)
SELECT s.day, s.device_class, s.channel, s.country, s.item_id,
       coalesce(s.added_name, '(not set)') AS item_name, coalesce(s.added_category, '(not set)') AS item_category,
       s.views, s.add_to_carts, s.purchases, s.quantity, s.refunded_quantity, s.gross_revenue, s.revenue,
       coalesce(s.rescale, false) AS rescale, s.added_name, s.added_category, r.name AS removed_name,
       r.category AS removed_category
FROM sums s
LEFT JOIN removed r USING (day, device_class, channel, country, item_id);
-- item_name and item_category as page_title in delta_pages_daily
CREATE TEMP TABLE rf_rename ON COMMIT DROP AS
SELECT x.day, x.device_class, x.channel, x.country, x.item_id, 'n' AS what, a.item_name AS name
FROM rf_dx_products x
JOIN agg_products_daily a ON (a.day, a.device_class, a.channel, a.country, a.item_id)
                           = (x.day, x.device_class, x.channel, x.country, x.item_id)
WHERE coalesce(x.removed_name >= a.item_name AND NOT coalesce(x.added_name >= a.item_name, false), false)
UNION ALL
SELECT x.day, x.device_class, x.channel, x.country, x.item_id, 'c', a.item_category
FROM rf_dx_products x
JOIN agg_products_daily a ON (a.day, a.device_class, a.channel, a.country, a.item_id)
                           = (x.day, x.device_class, x.channel, x.country, x.item_id)
WHERE coalesce(x.removed_category >= a.item_category AND NOT coalesce(x.added_category >= a.item_category, false),
               false);
ANALYZE rf_rename;
INSERT INTO rf_fix
SELECT 'agg_products_daily', c.day
FROM rf_rename c
WHERE NOT EXISTS (
          SELECT 1 FROM session_items i JOIN sessions s ON s.session_id = i.session_id
          WHERE i.day = c.day AND i.item_id = c.item_id AND NOT s.is_bot
            AND CASE c.what WHEN 'n' THEN i.item_name ELSE i.item_category END = c.name
            AND s.device_class = c.device_class AND s.channel = c.channel AND coalesce(s.country, '(not set)') = c.country
            AND NOT EXISTS (SELECT 1 FROM rf_sessions r WHERE r.session_id = i.session_id))
  AND NOT EXISTS (
          SELECT 1 FROM orders o JOIN order_items i ON i.order_id = o.order_id JOIN sessions s ON s.session_id = o.session_id
          WHERE o.order_date = c.day AND i.item_id = c.item_id AND NOT s.is_bot
            AND CASE c.what WHEN 'n' THEN i.item_name ELSE i.item_category END = c.name
            AND s.device_class = c.device_class AND s.channel = c.channel AND coalesce(s.country, '(not set)') = c.country
            AND NOT EXISTS (SELECT 1 FROM rf_orders r WHERE r.order_id = o.order_id))
UNION
SELECT 'agg_products_daily', x.day
FROM rf_dx_products x
LEFT JOIN agg_products_daily a ON (a.day, a.device_class, a.channel, a.country, a.item_id)
                             = (x.day, x.device_class, x.channel, x.country, x.item_id)
WHERE x.rescale OR '(not set)' IN (x.added_name, x.added_category, x.removed_name, x.removed_category)
   OR (a.item_name = '(not set)' AND x.added_name IS NOT NULL AND greatest(a.item_name, x.added_name) <> x.added_name)
   OR (a.item_category = '(not set)' AND x.added_category IS NOT NULL
       AND greatest(a.item_category, x.added_category) <> x.added_category)
ON CONFLICT DO NOTHING;
INSERT INTO agg_products_daily AS a (
    day, device_class, channel, country, item_id, item_name, item_category, views, add_to_carts,
    purchases, quantity, refunded_quantity, gross_revenue, revenue
)
SELECT day, device_class, channel, country, item_id, item_name, item_category, views, add_to_carts,
       purchases, quantity, refunded_quantity, gross_revenue, revenue
FROM rf_dx_products
ON CONFLICT ON CONSTRAINT agg_products_daily_pkey DO UPDATE SET
    item_name = CASE WHEN excluded.item_name = '(not set)' THEN a.item_name
                     ELSE greatest(a.item_name, excluded.item_name) END,
    item_category = CASE WHEN excluded.item_category = '(not set)' THEN a.item_category
                         ELSE greatest(a.item_category, excluded.item_category) END,
    views = a.views + excluded.views, add_to_carts = a.add_to_carts + excluded.add_to_carts,
    purchases = a.purchases + excluded.purchases, quantity = a.quantity + excluded.quantity,
    refunded_quantity = a.refunded_quantity + excluded.refunded_quantity,
    gross_revenue = a.gross_revenue + excluded.gross_revenue, revenue = a.revenue + excluded.revenue;
DELETE FROM agg_products_daily a USING rf_dx_products x
WHERE (a.day, a.device_class, a.channel, a.country, a.item_id) = (x.day, x.device_class, x.channel, x.country, x.item_id)
  AND a.views = 0 AND a.add_to_carts = 0 AND a.purchases = 0;

-- name: delta_funnel_daily
CREATE TEMP TABLE rf_dx_funnel ON COMMIT DROP AS
SELECT day, device_class, channel, country, sum(sign) AS sessions,
       sum(sign * (funnel_step >= 1)::int) AS view_item, sum(sign * (funnel_step >= 2)::int) AS add_to_cart,
       sum(sign * (funnel_step >= 3)::int) AS begin_checkout, sum(sign * (funnel_step >= 4)::int) AS purchase
FROM rf_d_sessions
GROUP BY 1, 2, 3, 4;
INSERT INTO agg_funnel_daily AS a (day, device_class, channel, country, sessions, view_item, add_to_cart, begin_checkout, purchase)
SELECT day, device_class, channel, country, sessions, view_item, add_to_cart, begin_checkout, purchase
FROM rf_dx_funnel
ON CONFLICT ON CONSTRAINT agg_funnel_daily_pkey DO UPDATE SET
    sessions = a.sessions + excluded.sessions, view_item = a.view_item + excluded.view_item,
    add_to_cart = a.add_to_cart + excluded.add_to_cart, begin_checkout = a.begin_checkout + excluded.begin_checkout,
    purchase = a.purchase + excluded.purchase;
DELETE FROM agg_funnel_daily a USING rf_dx_funnel x
WHERE (a.day, a.device_class, a.channel, a.country) = (x.day, x.device_class, x.channel, x.country) AND a.sessions = 0;

-- name: delta_searches_daily
CREATE TEMP TABLE rf_dx_searches ON COMMIT DROP AS
SELECT day, device_class, channel, country, search_term, sum(sign * searches) AS searches, sum(sign) AS sessions,
       sum(sign * with_view_item) AS with_view_item, sum(sign * with_purchase) AS with_purchase
FROM (
    SELECT -1 AS sign, x.day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country, x.search_term,
           x.searches, x.with_view_item, x.with_purchase
    FROM rf_old_searches x JOIN rf_old_sessions s ON s.session_id = x.session_id
    WHERE NOT s.is_bot
    UNION ALL
    SELECT 1, x.day, s.device_class, s.channel, coalesce(s.country, '(not set)'), x.search_term,
           x.searches, x.with_view_item, x.with_purchase
    FROM session_searches x JOIN rf_sessions r ON r.session_id = x.session_id JOIN sessions s ON s.session_id = x.session_id
    WHERE NOT s.is_bot
) AS d
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO agg_searches_daily AS a (
    day, device_class, channel, country, search_term, searches, sessions, with_view_item, with_purchase
)
SELECT day, device_class, channel, country, search_term, searches, sessions, with_view_item, with_purchase
FROM rf_dx_searches
ON CONFLICT ON CONSTRAINT agg_searches_daily_pkey DO UPDATE SET
    searches = a.searches + excluded.searches, sessions = a.sessions + excluded.sessions,
    with_view_item = a.with_view_item + excluded.with_view_item, with_purchase = a.with_purchase + excluded.with_purchase;
DELETE FROM agg_searches_daily a USING rf_dx_searches x
WHERE (a.day, a.device_class, a.channel, a.country, a.search_term) = (x.day, x.device_class, x.channel, x.country, x.search_term)
  AND a.searches = 0;

-- name: delta_session_durations_daily
CREATE TEMP TABLE rf_dx_durations ON COMMIT DROP AS
SELECT day, device_class, channel, country, bucket,
       (ARRAY['0-10 s', '10-30 s', '30-60 s', '1-3 min', '3-10 min', '10-30 min', '30+ min'])[bucket + 1] AS bucket_label,
       sum(sign) AS sessions, sum(sign * is_bounce::int) AS bounces, sum(sign * page_views) AS page_views
FROM (
    SELECT sign, day, device_class, channel, country, is_bounce, page_views,
           width_bucket(duration_s, ARRAY[10, 30, 60, 180, 600, 1800]::numeric[]) AS bucket
    FROM rf_d_sessions
) AS x
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO agg_session_durations_daily AS a (day, device_class, channel, country, bucket, bucket_label, sessions, bounces, page_views)
SELECT day, device_class, channel, country, bucket, bucket_label, sessions, bounces, page_views
FROM rf_dx_durations
ON CONFLICT ON CONSTRAINT agg_session_durations_daily_pkey DO UPDATE SET
    sessions = a.sessions + excluded.sessions, bounces = a.bounces + excluded.bounces,
    page_views = a.page_views + excluded.page_views;
DELETE FROM agg_session_durations_daily a USING rf_dx_durations x
WHERE (a.day, a.device_class, a.channel, a.country, a.bucket) = (x.day, x.device_class, x.channel, x.country, x.bucket)
  AND a.sessions = 0;

-- name: delta_landing_paths_daily
CREATE TEMP TABLE rf_dx_landing ON COMMIT DROP AS
SELECT day, device_class, channel, country, landing_path, second_path, sum(sign) AS sessions,
       sum(sign * is_bounce::int) AS bounces, sum(sign * orders) AS orders, sum(sign * revenue) AS revenue,
       coalesce(max(scale(revenue)) FILTER (WHERE sign < 0) > coalesce(max(scale(revenue)) FILTER (WHERE sign > 0), 0),
                false) AS rescale
FROM rf_d_sessions
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO agg_landing_paths_daily AS a (day, device_class, channel, country, landing_path, second_path, sessions, bounces, orders, revenue)
SELECT day, device_class, channel, country, landing_path, second_path, sessions, bounces, orders, revenue
FROM rf_dx_landing
ON CONFLICT ON CONSTRAINT agg_landing_paths_daily_pkey DO UPDATE SET
    sessions = a.sessions + excluded.sessions, bounces = a.bounces + excluded.bounces,
    orders = a.orders + excluded.orders, revenue = a.revenue + excluded.revenue;
DELETE FROM agg_landing_paths_daily a USING rf_dx_landing x
WHERE (a.day, a.device_class, a.channel, a.country, a.landing_path, a.second_path)
    = (x.day, x.device_class, x.channel, x.country, x.landing_path, x.second_path)
  AND a.sessions = 0;
INSERT INTO rf_fix SELECT DISTINCT 'agg_landing_paths_daily', day FROM rf_dx_landing WHERE rescale ON CONFLICT DO NOTHING;

-- name: delta_retention_weekly
-- The pairs' visitors' active weeks before (old cohort and first-visit segment) and after.
CREATE TEMP TABLE rf_dx_retention ON COMMIT DROP AS
SELECT cohort_week, week AS activity_week, (week - cohort_week) / 7 AS week_offset, device_class, channel, country,
       sum(sign) AS active_visitors
FROM (
    SELECT DISTINCT -1 AS sign, a.visitor_id, date_trunc('week', a.day::timestamp)::date AS week, o.cohort_week,
           o.device_class, o.channel, coalesce(o.country, '(not set)') AS country
    FROM rf_old_vd a JOIN rf_visitors o ON o.visitor_id = a.visitor_id
    WHERE o.cohort_week IS NOT NULL
    UNION ALL
    SELECT DISTINCT 1, a.visitor_id, date_trunc('week', a.day::timestamp)::date, v.cohort_week,
           f.device_class, f.channel, coalesce(f.country, '(not set)')
    FROM rf_new_vd a JOIN visitors v ON v.visitor_id = a.visitor_id JOIN sessions f ON f.session_id = v.first_session_id
) AS x
GROUP BY 1, 2, 3, 4, 5, 6
HAVING sum(sign) <> 0;
INSERT INTO agg_retention_weekly AS a (cohort_week, activity_week, week_offset, device_class, channel, country, active_visitors)
SELECT cohort_week, activity_week, week_offset, device_class, channel, country, active_visitors
FROM rf_dx_retention
ON CONFLICT ON CONSTRAINT agg_retention_weekly_pkey DO UPDATE SET
    active_visitors = a.active_visitors + excluded.active_visitors;
DELETE FROM agg_retention_weekly a USING rf_dx_retention x
WHERE (a.cohort_week, a.activity_week, a.device_class, a.channel, a.country)
    = (x.cohort_week, x.activity_week, x.device_class, x.channel, x.country)
  AND a.active_visitors = 0;

-- name: delta_visitor_returns
-- Each pairs' visitor's rows (see migrations/004_*) from their first touched day on, before
-- and after: a change on a day moves only that day's and later days' previous visit. Their
-- activity from 366 days before is enough for the previous visit within 365 days.
CREATE TEMP TABLE rf_dx_returns ON COMMIT DROP AS
WITH activity AS MATERIALIZED (
    SELECT -1 AS sign, a.visitor_id, a.day, a.device_class, a.channel, a.country, a.is_new, p.from_day
    FROM rf_old_vd a JOIN rf_pair_visitors p ON p.visitor_id = a.visitor_id
    WHERE a.day >= p.from_day - 366
    UNION ALL
    SELECT 1, a.visitor_id, a.day, a.device_class, a.channel, a.country, a.is_new, p.from_day
    FROM rf_new_vd a JOIN rf_pair_visitors p ON p.visitor_id = a.visitor_id
    WHERE a.day >= p.from_day - 366
), projected AS (
    -- each visitor-day once per combination of segment columns (grouping bits: 1 device, 2 channel, 4 country)
    SELECT x.sign, g.grouping, x.visitor_id, x.day, x.from_day,
           CASE WHEN g.grouping & 1 = 1 THEN x.device_class ELSE '' END AS device_class,
           CASE WHEN g.grouping & 2 = 2 THEN x.channel ELSE '' END AS channel,
           CASE WHEN g.grouping & 4 = 4 THEN x.country ELSE '' END AS country,
           bool_or(x.is_new) AS is_new
    FROM activity x CROSS JOIN generate_series(0, 7) AS g (grouping)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
), with_prev AS (
    SELECT p.*, lag(p.day) OVER (PARTITION BY p.sign, p.grouping, p.visitor_id, p.device_class, p.channel, p.country
                                 ORDER BY p.day) AS prev_day
    FROM projected p
)
SELECT grouping, device_class, channel, country, day,
       CASE WHEN prev_day >= day - 365 THEN prev_day ELSE '-infinity'::date END AS prev_day,
       sum(sign) AS visitors, sum(sign * is_new::int) AS new_visitors
FROM with_prev
WHERE day >= from_day
GROUP BY 1, 2, 3, 4, 5, 6
HAVING sum(sign) <> 0 OR sum(sign * is_new::int) <> 0;
INSERT INTO agg_visitor_returns AS a (grouping, device_class, channel, country, day, prev_day, visitors, new_visitors)
SELECT grouping, device_class, channel, country, day, prev_day, visitors, new_visitors
FROM rf_dx_returns
ON CONFLICT ON CONSTRAINT agg_visitor_returns_pkey DO UPDATE SET
    visitors = a.visitors + excluded.visitors, new_visitors = a.new_visitors + excluded.new_visitors;
DELETE FROM agg_visitor_returns a USING rf_dx_returns x
WHERE (a.grouping, a.device_class, a.channel, a.country, a.day, a.prev_day)
    = (x.grouping, x.device_class, x.channel, x.country, x.day, x.prev_day)
  AND a.visitors = 0;

-- name: fix_days
-- The days the day_* steps rebuild.
SELECT tbl, day FROM rf_fix;

-- name: all_days
-- rebuild_all: every rollup, every day with events, from the rebuilt derived tables.
INSERT INTO visitor_hours (hour, visitor_id, device_class, channel, country, is_new, events)
SELECT x.hour, x.visitor_id, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(bool_or(date_trunc('hour', v.first_seen_at, 'UTC') = x.hour), false), sum(x.events)
FROM session_hours x
JOIN sessions s ON s.session_id = x.session_id
LEFT JOIN visitors v ON v.visitor_id = x.visitor_id
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO agg_visitor_days (day, visitor_id, device_class, channel, country, is_new)
SELECT (x.hour AT TIME ZONE 'UTC')::date, x.visitor_id, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(bool_or(v.first_seen_date = (x.hour AT TIME ZONE 'UTC')::date), false)
FROM session_hours x
JOIN sessions s ON s.session_id = x.session_id
LEFT JOIN visitors v ON v.visitor_id = x.visitor_id
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5;
CREATE TEMP TABLE rf_days ON COMMIT DROP AS SELECT DISTINCT (hour AT TIME ZONE 'UTC')::date AS day FROM session_hours;
INSERT INTO rf_fix
SELECT t.tbl, d.day
FROM rf_days d
CROSS JOIN (VALUES ('agg_traffic_hourly'), ('agg_traffic_daily'), ('agg_sources_daily'), ('agg_pages_daily'),
                   ('agg_devices_daily'), ('agg_products_daily'), ('agg_funnel_daily'), ('agg_searches_daily'),
                   ('agg_session_durations_daily'), ('agg_landing_paths_daily')) AS t (tbl);
-- retention for every week, agg_visitor_returns as its migration fills it
INSERT INTO agg_retention_weekly (cohort_week, activity_week, week_offset, device_class, channel, country, active_visitors)
SELECT v.cohort_week, w.week, (w.week - v.cohort_week) / 7, f.device_class, f.channel,
       coalesce(f.country, '(not set)'), count(DISTINCT a.visitor_id)
FROM (SELECT visitor_id, date_trunc('week', day::timestamp)::date AS week FROM agg_visitor_days) AS w
JOIN agg_visitor_days a ON a.visitor_id = w.visitor_id AND a.day >= w.week AND a.day < w.week + 7
JOIN visitors v ON v.visitor_id = a.visitor_id
JOIN sessions f ON f.session_id = v.first_session_id
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO agg_visitor_returns (grouping, device_class, channel, country, day, prev_day, visitors, new_visitors)
WITH projected AS (
    SELECT g.grouping, a.visitor_id, a.day,
           CASE WHEN g.grouping & 1 = 1 THEN a.device_class ELSE '' END AS device_class,
           CASE WHEN g.grouping & 2 = 2 THEN a.channel ELSE '' END AS channel,
           CASE WHEN g.grouping & 4 = 4 THEN a.country ELSE '' END AS country,
           bool_or(a.is_new) AS is_new
    FROM agg_visitor_days a CROSS JOIN generate_series(0, 7) AS g (grouping)
    GROUP BY 1, 2, 3, 4, 5, 6
), with_prev AS (
    SELECT p.*, lag(p.day) OVER (PARTITION BY p.grouping, p.visitor_id, p.device_class, p.channel, p.country
                                 ORDER BY p.day) AS prev_day
    FROM projected p
)
SELECT grouping, device_class, channel, country, day,
       CASE WHEN prev_day >= day - 365 THEN prev_day ELSE '-infinity'::date END,
       count(*), count(*) FILTER (WHERE is_new)
FROM with_prev
GROUP BY 1, 2, 3, 4, 5, 6;

-- name: day_traffic_hourly
-- The day_* steps rebuild a rollup's days in rf_fix whole, from the derived tables.
DELETE FROM agg_traffic_hourly a USING rf_fix f WHERE f.tbl = 'agg_traffic_hourly' AND a.day = f.day;
INSERT INTO agg_traffic_hourly (
    hour, day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions,
    bounces, single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
)
WITH d AS (
    SELECT day, day::timestamp AT TIME ZONE 'UTC' AS from_ts, (day + 1)::timestamp AT TIME ZONE 'UTC' AS to_ts
    FROM rf_fix WHERE tbl = 'agg_traffic_hourly'
)
SELECT hour, (hour AT TIME ZONE 'UTC')::date, device_class, channel, country,
       sum(visitors), sum(new_visitors), sum(sessions), sum(engaged_sessions), sum(bounces),
       sum(single_page_sessions), sum(page_views), sum(events), sum(total_duration_s),
       sum(engaged_ms), sum(orders), sum(revenue)
FROM (
    SELECT h.hour, h.device_class, h.channel, h.country, count(*) AS visitors,
           count(*) FILTER (WHERE h.is_new) AS new_visitors,
           0 AS sessions, 0 AS engaged_sessions, 0 AS bounces, 0 AS single_page_sessions, 0 AS page_views,
           sum(h.events) AS events, 0::numeric AS total_duration_s, 0::numeric AS engaged_ms, 0 AS orders,
           0::numeric AS revenue
    FROM visitor_hours h JOIN d ON h.hour >= d.from_ts AND h.hour < d.to_ts
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT date_trunc('hour', s.started_at, 'UTC'), s.device_class, s.channel, coalesce(s.country, '(not set)'),
           0, 0, count(*), count(*) FILTER (WHERE NOT s.is_bounce), count(*) FILTER (WHERE s.is_bounce),
           count(*) FILTER (WHERE s.is_single_page), 0, 0, sum(s.duration_s), sum(s.engaged_ms), 0, 0
    FROM sessions s JOIN d ON d.day = s.session_date
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT date_trunc('hour', p.viewed_at, 'UTC'), s.device_class, s.channel, coalesce(s.country, '(not set)'),
           0, 0, 0, 0, 0, 0, count(*), 0, 0, 0, 0, 0
    FROM page_views p JOIN d ON d.day = p.view_date JOIN sessions s ON s.session_id = p.session_id
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT date_trunc('hour', o.ordered_at, 'UTC'), s.device_class, s.channel, coalesce(s.country, '(not set)'),
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), sum(o.revenue)
    FROM orders o JOIN d ON d.day = o.order_date JOIN sessions s ON s.session_id = o.session_id
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4
) AS x
GROUP BY hour, device_class, channel, country;

-- name: day_traffic_daily
-- Additive metrics are the day's hours; distinct visitors come from agg_visitor_days.
DELETE FROM agg_traffic_daily a USING rf_fix f WHERE f.tbl = 'agg_traffic_daily' AND a.day = f.day;
INSERT INTO agg_traffic_daily (
    day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions, bounces,
    single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
)
WITH d AS (SELECT day FROM rf_fix WHERE tbl = 'agg_traffic_daily')
SELECT day, device_class, channel, country, sum(visitors), sum(new_visitors), sum(sessions),
       sum(engaged_sessions), sum(bounces), sum(single_page_sessions), sum(page_views), sum(events),
       sum(total_duration_s), sum(engaged_ms), sum(orders), sum(revenue)
FROM (
    SELECT a.day, a.device_class, a.channel, a.country, count(*) AS visitors,
           count(*) FILTER (WHERE a.is_new) AS new_visitors, 0 AS sessions, 0 AS engaged_sessions,
           0 AS bounces, 0 AS single_page_sessions, 0 AS page_views, 0 AS events,
           0::numeric AS total_duration_s, 0 AS engaged_ms, 0 AS orders, 0::numeric AS revenue
    FROM agg_visitor_days a JOIN d ON d.day = a.day
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT h.day, h.device_class, h.channel, h.country, 0, 0, h.sessions, h.engaged_sessions, h.bounces,
           h.single_page_sessions, h.page_views, h.events, h.total_duration_s, h.engaged_ms, h.orders, h.revenue
    FROM agg_traffic_hourly h JOIN d ON d.day = h.day
) AS x
GROUP BY day, device_class, channel, country;

-- name: day_sources_daily
DELETE FROM agg_sources_daily a USING rf_fix f WHERE f.tbl = 'agg_sources_daily' AND a.day = f.day;
INSERT INTO agg_sources_daily (
    day, device_class, channel, country, utm_source, utm_medium, utm_campaign, referrer_host,
    sessions, visitors, new_visitors, engaged_sessions, bounces, page_views, total_duration_s, orders, revenue
)
SELECT s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(s.utm_source, '(not set)'), coalesce(s.utm_medium, '(not set)'),
       coalesce(s.utm_campaign, '(not set)'), coalesce(s.referrer_host, '(not set)'),
       count(*), count(DISTINCT s.visitor_id), sum(nv.n), count(*) FILTER (WHERE NOT s.is_bounce),
       count(*) FILTER (WHERE s.is_bounce), sum(s.page_views), sum(s.duration_s), sum(s.orders), sum(s.revenue)
FROM sessions s
JOIN rf_fix f ON f.tbl = 'agg_sources_daily' AND f.day = s.session_date
-- a session can be the first of two visitors (anonymous, then signed in)
CROSS JOIN LATERAL (SELECT count(*) AS n FROM visitors v WHERE v.first_session_id = s.session_id) AS nv
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- name: day_pages_daily
DELETE FROM agg_pages_daily a USING rf_fix f WHERE f.tbl = 'agg_pages_daily' AND a.day = f.day;
INSERT INTO agg_pages_daily (
    day, device_class, channel, country, page_path, page_title, views, visitors, entries, exits, engaged_ms
)
SELECT p.view_date, s.device_class, s.channel, coalesce(s.country, '(not set)'), coalesce(p.path, '(not set)'),
       coalesce(max(p.title), '(not set)'), count(*), count(DISTINCT p.visitor_id),
       count(*) FILTER (WHERE p.is_entry), count(*) FILTER (WHERE p.is_exit), sum(p.engaged_ms)
FROM page_views p
JOIN rf_fix f ON f.tbl = 'agg_pages_daily' AND f.day = p.view_date
JOIN sessions s ON s.session_id = p.session_id
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5;

-- name: day_devices_daily
DELETE FROM agg_devices_daily a USING rf_fix f WHERE f.tbl = 'agg_devices_daily' AND a.day = f.day;
INSERT INTO agg_devices_daily (
    day, device_class, channel, country, browser, os, sessions, visitors, engaged_sessions, bounces,
    page_views, total_duration_s, orders, revenue
)
SELECT s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(s.browser, '(not set)'), coalesce(s.os, '(not set)'), count(*), count(DISTINCT s.visitor_id),
       count(*) FILTER (WHERE NOT s.is_bounce), count(*) FILTER (WHERE s.is_bounce), sum(s.page_views),
       sum(s.duration_s), sum(s.orders), sum(s.revenue)
FROM sessions s
JOIN rf_fix f ON f.tbl = 'agg_devices_daily' AND f.day = s.session_date
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5, 6;

-- name: day_products_daily
-- Views and carts on the event's day (session_items); purchases on the order's day (order_items).
DELETE FROM agg_products_daily a USING rf_fix f WHERE f.tbl = 'agg_products_daily' AND a.day = f.day;
INSERT INTO agg_products_daily (
    day, device_class, channel, country, item_id, item_name, item_category, views, add_to_carts,
    purchases, quantity, refunded_quantity, gross_revenue, revenue
)
SELECT day, device_class, channel, country, item_id, coalesce(max(item_name), '(not set)'),
       coalesce(max(item_category), '(not set)'), sum(views), sum(add_to_carts), sum(purchases),
       sum(quantity), sum(refunded_quantity), sum(gross_revenue), sum(revenue)
FROM (
    SELECT i.day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country,
           i.item_id, i.item_name, i.item_category, i.views, i.add_to_carts, 0 AS purchases, 0 AS quantity,
           0 AS refunded_quantity, 0::numeric AS gross_revenue, 0::numeric AS revenue
    FROM session_items i
    JOIN rf_fix f ON f.tbl = 'agg_products_daily' AND f.day = i.day
    JOIN sessions s ON s.session_id = i.session_id
    WHERE NOT s.is_bot
    UNION ALL
    SELECT o.order_date, s.device_class, s.channel, coalesce(s.country, '(not set)'), i.item_id, i.item_name,
           i.item_category, 0, 0, 1, i.quantity, i.refunded_quantity, i.gross_revenue, i.revenue
    FROM orders o
    JOIN rf_fix f ON f.tbl = 'agg_products_daily' AND f.day = o.order_date
    JOIN sessions s ON s.session_id = o.session_id
    JOIN order_items i ON i.order_id = o.order_id
    WHERE NOT s.is_bot
) AS x
GROUP BY day, device_class, channel, country, item_id;

-- name: day_funnel_daily
DELETE FROM agg_funnel_daily a USING rf_fix f WHERE f.tbl = 'agg_funnel_daily' AND a.day = f.day;
INSERT INTO agg_funnel_daily (day, device_class, channel, country, sessions, view_item, add_to_cart, begin_checkout, purchase)
SELECT s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'), count(*),
       count(*) FILTER (WHERE s.funnel_step >= 1), count(*) FILTER (WHERE s.funnel_step >= 2),
       count(*) FILTER (WHERE s.funnel_step >= 3), count(*) FILTER (WHERE s.funnel_step >= 4)
FROM sessions s
JOIN rf_fix f ON f.tbl = 'agg_funnel_daily' AND f.day = s.session_date
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4;

-- name: day_searches_daily
DELETE FROM agg_searches_daily a USING rf_fix f WHERE f.tbl = 'agg_searches_daily' AND a.day = f.day;
INSERT INTO agg_searches_daily (
    day, device_class, channel, country, search_term, searches, sessions, with_view_item, with_purchase
)
SELECT x.day, s.device_class, s.channel, coalesce(s.country, '(not set)'), x.search_term, sum(x.searches),
       count(*), sum(x.with_view_item), sum(x.with_purchase)
FROM session_searches x
JOIN rf_fix f ON f.tbl = 'agg_searches_daily' AND f.day = x.day
JOIN sessions s ON s.session_id = x.session_id
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5;

-- name: day_session_durations_daily
DELETE FROM agg_session_durations_daily a USING rf_fix f WHERE f.tbl = 'agg_session_durations_daily' AND a.day = f.day;
INSERT INTO agg_session_durations_daily (day, device_class, channel, country, bucket, bucket_label, sessions, bounces, page_views)
SELECT day, device_class, channel, country, bucket,
       (ARRAY['0-10 s', '10-30 s', '30-60 s', '1-3 min', '3-10 min', '10-30 min', '30+ min'])[bucket + 1],
       count(*), count(*) FILTER (WHERE is_bounce), sum(page_views)
FROM (
    SELECT s.session_date AS day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country,
           width_bucket(s.duration_s, ARRAY[10, 30, 60, 180, 600, 1800]::numeric[]) AS bucket,
           s.is_bounce, s.page_views
    FROM sessions s
    JOIN rf_fix f ON f.tbl = 'agg_session_durations_daily' AND f.day = s.session_date
    WHERE NOT s.is_bot
) AS x
GROUP BY day, device_class, channel, country, bucket;

-- name: day_landing_paths_daily
DELETE FROM agg_landing_paths_daily a USING rf_fix f WHERE f.tbl = 'agg_landing_paths_daily' AND a.day = f.day;
INSERT INTO agg_landing_paths_daily (day, device_class, channel, country, landing_path, second_path, sessions, bounces, orders, revenue)
SELECT s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(s.landing_path, '(not set)'), coalesce(s.second_path, '(none)'), count(*),
       count(*) FILTER (WHERE s.is_bounce), sum(s.orders), sum(s.revenue)
FROM sessions s
JOIN rf_fix f ON f.tbl = 'agg_landing_paths_daily' AND f.day = s.session_date
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5, 6;

-- name: summary
SELECT (SELECT count(*) FROM rf_sessions), ARRAY(SELECT day FROM rf_days ORDER BY day);
