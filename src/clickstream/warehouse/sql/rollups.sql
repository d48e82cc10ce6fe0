-- The rebuild after an hour's load (clickstream.warehouse.rollups.refresh), in one
-- REPEATABLE READ transaction: every statement sees the same events, even while other hours
-- load. The queries run in file order (rollups.STEPS). Temporary rf_* tables hold what the
-- hour touched. Ties in "first"/"last" are broken by (event_time, event_seq, event_id), so a
-- rebuild is a pure function of the events and running it twice changes nothing.

-- name: lock
SELECT pg_advisory_lock(%(namespace)s, %(key)s);

-- name: unlock
SELECT pg_advisory_unlock(%(namespace)s, %(key)s);

-- name: begin
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
SET LOCAL work_mem = '64MB';

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
-- rebuild_all: every session.
CREATE TEMP TABLE rf_sessions ON COMMIT DROP AS SELECT DISTINCT session_id FROM events;
ALTER TABLE rf_sessions ADD PRIMARY KEY (session_id);
ANALYZE rf_sessions;

-- name: affected_orders
CREATE TEMP TABLE rf_orders ON COMMIT DROP AS
SELECT DISTINCT e.transaction_id AS order_id
FROM events e JOIN rf_sessions r ON r.session_id = e.session_id
WHERE e.event_name IN ('purchase', 'refund') AND e.transaction_id IS NOT NULL;
ANALYZE rf_orders;

-- name: affected_people
CREATE TEMP TABLE rf_anonymous ON COMMIT DROP AS
SELECT DISTINCT e.anonymous_id FROM events e JOIN rf_sessions r ON r.session_id = e.session_id;
ANALYZE rf_anonymous;
-- Each visitor's first-visit facts before the rebuild. Where they change (a late event moved
-- the first visit), every day of the visitor's activity is rebuilt too: new-visitor flags
-- and retention cohorts depend on them.
CREATE TEMP TABLE rf_visitors ON COMMIT DROP AS
SELECT a.visitor_id, v.first_seen_date, s.device_class, s.channel, s.country
FROM (SELECT DISTINCT e.visitor_id FROM events e JOIN rf_sessions r ON r.session_id = e.session_id) AS a
LEFT JOIN visitors v ON v.visitor_id = a.visitor_id
LEFT JOIN sessions s ON s.session_id = v.first_session_id;
ANALYZE rf_visitors;

-- name: rebuild_page_views
DELETE FROM page_views p USING rf_sessions r WHERE p.session_id = r.session_id;
INSERT INTO page_views (
    session_id, page_view_id, event_id, visitor_id, path, title, viewed_at, view_number,
    is_entry, is_exit, engaged_ms, view_date
)
WITH ev AS MATERIALIZED (
    SELECT e.session_id, e.event_id, e.event_name, e.event_time, e.event_seq, e.visitor_id,
           e.page_path, e.page_title, e.page_view_id, e.engaged_ms
    FROM events e JOIN rf_sessions r ON r.session_id = e.session_id
), views AS (
    SELECT DISTINCT ON (session_id, coalesce(page_view_id, event_id))
           session_id, coalesce(page_view_id, event_id) AS page_view_id, event_id, visitor_id,
           page_path, page_title, event_time, event_seq
    FROM ev
    WHERE event_name = 'page_view'
    ORDER BY session_id, coalesce(page_view_id, event_id), event_time, event_seq, event_id
), engagement AS (
    SELECT session_id, page_view_id, sum(engaged_ms) AS engaged_ms
    FROM ev
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
DELETE FROM orders o USING rf_orders r WHERE o.order_id = r.order_id;
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
DELETE FROM sessions s USING rf_sessions r WHERE s.session_id = r.session_id;
INSERT INTO sessions (
    session_id, visitor_id, user_id, anonymous_id, started_at, ended_at, duration_s, event_count,
    page_views, engaged_ms, is_bounce, is_single_page, landing_path, second_path, exit_path,
    referrer_host, channel, utm_source, utm_medium, utm_campaign, device_class, browser, os,
    country, is_bot, has_purchase, orders, revenue, funnel_step, session_date
)
WITH ev AS MATERIALIZED (
    SELECT e.session_id, e.event_id, e.event_name, e.event_time, e.event_seq, e.anonymous_id,
           e.user_id, e.page_path, e.referrer_host, e.channel, e.utm_source, e.utm_medium,
           e.utm_campaign, e.device_class, e.browser, e.os, e.country, e.is_bot, e.engaged_ms
    FROM events e JOIN rf_sessions r ON r.session_id = e.session_id
), landing AS (
    SELECT DISTINCT ON (session_id) *
    FROM ev
    ORDER BY session_id, event_time, event_seq, event_id
), last_event AS (
    SELECT DISTINCT ON (session_id) session_id, page_path
    FROM ev
    ORDER BY session_id, event_time DESC, event_seq DESC, event_id DESC
), first_user AS (
    SELECT DISTINCT ON (session_id) session_id, user_id
    FROM ev
    WHERE user_id IS NOT NULL
    ORDER BY session_id, event_time, event_seq, event_id
), totals AS (
    SELECT session_id, min(event_time) AS started_at, max(event_time) AS ended_at,
           count(*) AS event_count, coalesce(sum(engaged_ms), 0) AS engaged_ms,
           bool_or(is_bot) AS is_bot, bool_or(event_name = 'purchase') AS has_purchase,
           -- commerce events make a session engaged (not a bounce)
           bool_or(event_name IN ('add_to_cart', 'remove_from_cart', 'view_cart', 'begin_checkout',
                                  'add_payment_info', 'purchase')) AS has_commerce
    FROM ev
    GROUP BY session_id
), views AS (
    SELECT p.session_id, count(*) AS page_views,
           max(p.path) FILTER (WHERE p.view_number = 1) AS landing_path,
           max(p.path) FILTER (WHERE p.view_number = 2) AS second_path,
           max(p.path) FILTER (WHERE p.is_exit) AS exit_path
    FROM page_views p JOIN rf_sessions r ON r.session_id = p.session_id
    GROUP BY p.session_id
), step1 AS (
    SELECT session_id, min(event_time) AS at FROM ev WHERE event_name = 'view_item' GROUP BY session_id
), step2 AS (
    SELECT s.session_id, min(e.event_time) AS at
    FROM step1 s JOIN ev e ON e.session_id = s.session_id AND e.event_name = 'add_to_cart' AND e.event_time > s.at
    GROUP BY s.session_id
), step3 AS (
    SELECT s.session_id, min(e.event_time) AS at
    FROM step2 s JOIN ev e ON e.session_id = s.session_id AND e.event_name = 'begin_checkout' AND e.event_time > s.at
    GROUP BY s.session_id
), step4 AS (
    SELECT s.session_id, min(e.event_time) AS at
    FROM step3 s JOIN ev e ON e.session_id = s.session_id AND e.event_name = 'purchase' AND e.event_time > s.at
    GROUP BY s.session_id
), sales AS (
    SELECT o.session_id, count(*) AS orders, sum(o.revenue) AS revenue
    FROM orders o JOIN rf_sessions r ON r.session_id = o.session_id
    GROUP BY o.session_id
)
SELECT t.session_id, coalesce(u.user_id, l.anonymous_id), u.user_id, l.anonymous_id,
       t.started_at, t.ended_at, extract(epoch FROM t.ended_at - t.started_at)::numeric(12, 3),
       t.event_count, coalesce(v.page_views, 0), t.engaged_ms,
       coalesce(v.page_views, 0) <= 1 AND NOT t.has_commerce AND t.engaged_ms < 10000,
       coalesce(v.page_views, 0) = 1,
       CASE WHEN v.page_views > 0 THEN v.landing_path ELSE l.page_path END,
       v.second_path,
       CASE WHEN v.page_views > 0 THEN v.exit_path ELSE le.page_path END,
       l.referrer_host, l.channel, l.utm_source, l.utm_medium, l.utm_campaign, l.device_class,
       l.browser, l.os, l.country, t.is_bot, t.has_purchase, coalesce(sa.orders, 0), coalesce(sa.revenue, 0),
       CASE WHEN s4.at IS NOT NULL THEN 4 WHEN s3.at IS NOT NULL THEN 3 WHEN s2.at IS NOT NULL THEN 2
            WHEN s1.at IS NOT NULL THEN 1 ELSE 0 END,
       (t.started_at AT TIME ZONE 'UTC')::date
FROM totals t
JOIN landing l ON l.session_id = t.session_id
JOIN last_event le ON le.session_id = t.session_id
LEFT JOIN first_user u ON u.session_id = t.session_id
LEFT JOIN views v ON v.session_id = t.session_id
LEFT JOIN step1 s1 ON s1.session_id = t.session_id
LEFT JOIN step2 s2 ON s2.session_id = t.session_id
LEFT JOIN step3 s3 ON s3.session_id = t.session_id
LEFT JOIN step4 s4 ON s4.session_id = t.session_id
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

-- name: rebuild_visitors
-- From all events of the visitors, in human sessions only.
DELETE FROM visitors v USING rf_visitors a WHERE v.visitor_id = a.visitor_id;
INSERT INTO visitors (visitor_id, first_seen_at, first_seen_date, cohort_week, first_session_id, last_seen_at)
WITH ev AS MATERIALIZED (
    SELECT e.visitor_id, e.event_time, e.event_seq, e.event_id, e.session_id
    FROM events e
    JOIN rf_visitors a ON a.visitor_id = e.visitor_id
    JOIN sessions s ON s.session_id = e.session_id
    WHERE NOT s.is_bot
), first_event AS (
    SELECT DISTINCT ON (visitor_id) visitor_id, event_time, session_id
    FROM ev
    ORDER BY visitor_id, event_time, event_seq, event_id
), last_seen AS (
    SELECT visitor_id, max(event_time) AS at FROM ev GROUP BY visitor_id
)
SELECT f.visitor_id, f.event_time, (f.event_time AT TIME ZONE 'UTC')::date,
       date_trunc('week', f.event_time AT TIME ZONE 'UTC')::date, f.session_id, l.at
FROM first_event f
JOIN last_seen l ON l.visitor_id = f.visitor_id;

-- name: affected_days
-- The days of the rebuilt sessions' events, and every day of a visitor whose first visit
-- (date or segment) changed.
CREATE TEMP TABLE rf_days ON COMMIT DROP AS
SELECT e.event_date AS day
FROM events e JOIN rf_sessions r ON r.session_id = e.session_id
UNION
SELECT e.event_date
FROM rf_visitors a
LEFT JOIN visitors v ON v.visitor_id = a.visitor_id
LEFT JOIN sessions s ON s.session_id = v.first_session_id
JOIN events e ON e.visitor_id = a.visitor_id
WHERE a.first_seen_date IS NOT NULL
  AND (a.first_seen_date, a.device_class, a.channel, a.country)
      IS DISTINCT FROM (v.first_seen_date, s.device_class, s.channel, s.country);
ALTER TABLE rf_days ADD PRIMARY KEY (day);
ANALYZE rf_days;
CREATE TEMP TABLE rf_weeks ON COMMIT DROP AS
SELECT DISTINCT date_trunc('week', day::timestamp)::date AS week FROM rf_days;
ANALYZE rf_weeks;

-- name: day_events
-- The touched days' events of human sessions, with their session's segment: the input of the
-- event-based rollups.
CREATE TEMP TABLE rf_day_events ON COMMIT DROP AS
SELECT e.event_date AS day, date_trunc('hour', e.event_time, 'UTC') AS hour, e.event_time,
       e.event_name, e.session_id, e.visitor_id, e.search_term, s.device_class, s.channel,
       coalesce(s.country, '(not set)') AS country, v.first_seen_at
FROM events e
JOIN rf_days d ON d.day = e.event_date
JOIN sessions s ON s.session_id = e.session_id
LEFT JOIN visitors v ON v.visitor_id = e.visitor_id
WHERE NOT s.is_bot;
ANALYZE rf_day_events;

-- name: rebuild_visitor_days
-- The visitors the days had before the rebuild too: their later days' previous visit may
-- change (agg_visitor_returns, rebuilt in rebuild_retention_weekly).
CREATE TEMP TABLE rf_day_visitors ON COMMIT DROP AS
SELECT DISTINCT a.visitor_id FROM agg_visitor_days a JOIN rf_days d ON d.day = a.day;
DELETE FROM agg_visitor_days a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_visitor_days (day, visitor_id, device_class, channel, country, is_new)
SELECT day, visitor_id, device_class, channel, country,
       coalesce(bool_or((first_seen_at AT TIME ZONE 'UTC')::date = day), false)
FROM rf_day_events
GROUP BY day, visitor_id, device_class, channel, country;

-- name: rebuild_traffic_hourly
DELETE FROM agg_traffic_hourly a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_traffic_hourly (
    hour, day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions,
    bounces, single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
)
SELECT hour, (hour AT TIME ZONE 'UTC')::date, device_class, channel, country,
       sum(visitors), sum(new_visitors), sum(sessions), sum(engaged_sessions), sum(bounces),
       sum(single_page_sessions), sum(page_views), sum(events), sum(total_duration_s),
       sum(engaged_ms), sum(orders), sum(revenue)
FROM (
    SELECT hour, device_class, channel, country,
           count(DISTINCT visitor_id) AS visitors,
           count(DISTINCT visitor_id) FILTER (WHERE date_trunc('hour', first_seen_at, 'UTC') = hour) AS new_visitors,
           0 AS sessions, 0 AS engaged_sessions, 0 AS bounces, 0 AS single_page_sessions, 0 AS page_views,
           count(*) AS events, 0::numeric AS total_duration_s, 0::numeric AS engaged_ms, 0 AS orders,
           0::numeric AS revenue
    FROM rf_day_events
    GROUP BY hour, device_class, channel, country
    UNION ALL
    SELECT date_trunc('hour', s.started_at, 'UTC'), s.device_class, s.channel, coalesce(s.country, '(not set)'),
           0, 0, count(*), count(*) FILTER (WHERE NOT s.is_bounce), count(*) FILTER (WHERE s.is_bounce),
           count(*) FILTER (WHERE s.is_single_page), 0, 0, sum(s.duration_s), sum(s.engaged_ms), 0, 0
    FROM sessions s JOIN rf_days d ON d.day = s.session_date
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT date_trunc('hour', p.viewed_at, 'UTC'), s.device_class, s.channel, coalesce(s.country, '(not set)'),
           0, 0, 0, 0, 0, 0, count(*), 0, 0, 0, 0, 0
    FROM page_views p JOIN rf_days d ON d.day = p.view_date JOIN sessions s ON s.session_id = p.session_id
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT date_trunc('hour', o.ordered_at, 'UTC'), s.device_class, s.channel, coalesce(s.country, '(not set)'),
           0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), sum(o.revenue)
    FROM orders o JOIN rf_days d ON d.day = o.order_date JOIN sessions s ON s.session_id = o.session_id
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4
) AS x
GROUP BY hour, device_class, channel, country;

-- name: rebuild_traffic_daily
-- Additive metrics are the day's hours; distinct visitors come from agg_visitor_days.
DELETE FROM agg_traffic_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_traffic_daily (
    day, device_class, channel, country, visitors, new_visitors, sessions, engaged_sessions, bounces,
    single_page_sessions, page_views, events, total_duration_s, engaged_ms, orders, revenue
)
SELECT day, device_class, channel, country, sum(visitors), sum(new_visitors), sum(sessions),
       sum(engaged_sessions), sum(bounces), sum(single_page_sessions), sum(page_views), sum(events),
       sum(total_duration_s), sum(engaged_ms), sum(orders), sum(revenue)
FROM (
    SELECT a.day, a.device_class, a.channel, a.country, count(*) AS visitors,
           count(*) FILTER (WHERE a.is_new) AS new_visitors, 0 AS sessions, 0 AS engaged_sessions,
           0 AS bounces, 0 AS single_page_sessions, 0 AS page_views, 0 AS events,
           0::numeric AS total_duration_s, 0 AS engaged_ms, 0 AS orders, 0::numeric AS revenue
    FROM agg_visitor_days a JOIN rf_days d ON d.day = a.day
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT h.day, h.device_class, h.channel, h.country, 0, 0, h.sessions, h.engaged_sessions, h.bounces,
           h.single_page_sessions, h.page_views, h.events, h.total_duration_s, h.engaged_ms, h.orders, h.revenue
    FROM agg_traffic_hourly h JOIN rf_days d ON d.day = h.day
) AS x
GROUP BY day, device_class, channel, country;

-- name: rebuild_sources_daily
DELETE FROM agg_sources_daily a USING rf_days d WHERE a.day = d.day;
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
JOIN rf_days d ON d.day = s.session_date
-- a session can be the first of two visitors (anonymous, then signed in)
CROSS JOIN LATERAL (SELECT count(*) AS n FROM visitors v WHERE v.first_session_id = s.session_id) AS nv
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

-- name: rebuild_pages_daily
DELETE FROM agg_pages_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_pages_daily (
    day, device_class, channel, country, page_path, page_title, views, visitors, entries, exits, engaged_ms
)
SELECT p.view_date, s.device_class, s.channel, coalesce(s.country, '(not set)'), coalesce(p.path, '(not set)'),
       coalesce(max(p.title), '(not set)'), count(*), count(DISTINCT p.visitor_id),
       count(*) FILTER (WHERE p.is_entry), count(*) FILTER (WHERE p.is_exit), sum(p.engaged_ms)
FROM page_views p
JOIN rf_days d ON d.day = p.view_date
JOIN sessions s ON s.session_id = p.session_id
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5;

-- name: rebuild_devices_daily
DELETE FROM agg_devices_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_devices_daily (
    day, device_class, channel, country, browser, os, sessions, visitors, engaged_sessions, bounces,
    page_views, total_duration_s, orders, revenue
)
SELECT s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(s.browser, '(not set)'), coalesce(s.os, '(not set)'), count(*), count(DISTINCT s.visitor_id),
       count(*) FILTER (WHERE NOT s.is_bounce), count(*) FILTER (WHERE s.is_bounce), sum(s.page_views),
       sum(s.duration_s), sum(s.orders), sum(s.revenue)
FROM sessions s
JOIN rf_days d ON d.day = s.session_date
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5, 6;

-- name: rebuild_products_daily
-- Views and carts on the event's day; purchases on the order's day, from the order's items.
-- A refund without items refunds every unit of the order; with items, those units.
DELETE FROM agg_products_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_products_daily (
    day, device_class, channel, country, item_id, item_name, item_category, views, add_to_carts,
    purchases, quantity, refunded_quantity, gross_revenue, revenue
)
WITH bought AS (
    SELECT o.order_id, o.order_date AS day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country,
           i.item_id, max(i.item_name) AS item_name, max(i.item_category) AS item_category,
           sum(i.quantity) AS quantity, coalesce(sum(i.price::numeric * i.quantity), 0) AS gross
    FROM orders o
    JOIN rf_days d ON d.day = o.order_date
    JOIN sessions s ON s.session_id = o.session_id
    JOIN event_items i ON i.event_id = o.event_id
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4, 5, 6
), refund_events AS (
    SELECT e.event_id, e.transaction_id, e.item_count
    FROM events e
    JOIN (SELECT DISTINCT order_id FROM bought) AS b ON b.order_id = e.transaction_id
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
SELECT day, device_class, channel, country, item_id, coalesce(max(item_name), '(not set)'),
       coalesce(max(item_category), '(not set)'), sum(views), sum(add_to_carts), sum(purchases),
       sum(quantity), sum(refunded_quantity), sum(gross_revenue), sum(revenue)
FROM (
    SELECT i.event_date AS day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country,
           i.item_id, i.item_name, i.item_category,
           (i.event_name = 'view_item')::int AS views, (i.event_name = 'add_to_cart')::int AS add_to_carts,
           0 AS purchases, 0 AS quantity, 0 AS refunded_quantity, 0::numeric AS gross_revenue, 0::numeric AS revenue
    FROM event_items i
    JOIN rf_days d ON d.day = i.event_date
    JOIN sessions s ON s.session_id = i.session_id
    WHERE NOT s.is_bot AND i.event_name IN ('view_item', 'add_to_cart')
    UNION ALL
    SELECT day, device_class, channel, country, item_id, item_name, item_category, 0, 0, 1, quantity,
           refunded_quantity, gross,
           gross - CASE WHEN quantity > 0 THEN round(gross * refunded_quantity / quantity, 4) ELSE 0 END
    FROM purchased
) AS x
GROUP BY day, device_class, channel, country, item_id;

-- name: rebuild_funnel_daily
DELETE FROM agg_funnel_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_funnel_daily (day, device_class, channel, country, sessions, view_item, add_to_cart, begin_checkout, purchase)
SELECT s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'), count(*),
       count(*) FILTER (WHERE s.funnel_step >= 1), count(*) FILTER (WHERE s.funnel_step >= 2),
       count(*) FILTER (WHERE s.funnel_step >= 3), count(*) FILTER (WHERE s.funnel_step >= 4)
FROM sessions s
JOIN rf_days d ON d.day = s.session_date
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4;

-- name: rebuild_searches_daily
DELETE FROM agg_searches_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_searches_daily (
    day, device_class, channel, country, search_term, searches, sessions, with_view_item, with_purchase
)
WITH searches AS (
    SELECT x.day, x.device_class, x.channel, x.country, x.search_term, x.session_id,
           EXISTS (SELECT 1 FROM events v WHERE v.session_id = x.session_id AND v.event_name = 'view_item'
                   AND v.event_time > x.event_time) AS viewed,
           EXISTS (SELECT 1 FROM events v WHERE v.session_id = x.session_id AND v.event_name = 'purchase'
                   AND v.event_time > x.event_time) AS bought
    FROM rf_day_events x
    WHERE x.event_name = 'search' AND x.search_term IS NOT NULL AND x.search_term <> ''
)
SELECT day, device_class, channel, country, search_term, count(*), count(DISTINCT session_id),
       count(*) FILTER (WHERE viewed), count(*) FILTER (WHERE bought)
FROM searches
GROUP BY 1, 2, 3, 4, 5;

-- name: rebuild_session_durations_daily
DELETE FROM agg_session_durations_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_session_durations_daily (day, device_class, channel, country, bucket, bucket_label, sessions, bounces, page_views)
SELECT day, device_class, channel, country, bucket,
       (ARRAY['0-10 s', '10-30 s', '30-60 s', '1-3 min', '3-10 min', '10-30 min', '30+ min'])[bucket + 1],
       count(*), count(*) FILTER (WHERE is_bounce), sum(page_views)
FROM (
    SELECT s.session_date AS day, s.device_class, s.channel, coalesce(s.country, '(not set)') AS country,
           width_bucket(s.duration_s, ARRAY[10, 30, 60, 180, 600, 1800]::numeric[]) AS bucket,
           s.is_bounce, s.page_views
    FROM sessions s
    JOIN rf_days d ON d.day = s.session_date
    WHERE NOT s.is_bot
) AS x
GROUP BY day, device_class, channel, country, bucket;

-- name: rebuild_landing_paths_daily
DELETE FROM agg_landing_paths_daily a USING rf_days d WHERE a.day = d.day;
INSERT INTO agg_landing_paths_daily (day, device_class, channel, country, landing_path, second_path, sessions, bounces, orders, revenue)
SELECT s.session_date, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(s.landing_path, '(not set)'), coalesce(s.second_path, '(none)'), count(*),
       count(*) FILTER (WHERE s.is_bounce), sum(s.orders), sum(s.revenue)
FROM sessions s
JOIN rf_days d ON d.day = s.session_date
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5, 6;

-- name: rebuild_retention_weekly
-- Returning visitors, from agg_visitor_days (already rebuilt): retention cohorts for whole
-- activity weeks of the touched days, then agg_visitor_returns.
DELETE FROM agg_retention_weekly a USING rf_weeks w WHERE a.activity_week = w.week;
INSERT INTO agg_retention_weekly (cohort_week, activity_week, week_offset, device_class, channel, country, active_visitors)
SELECT v.cohort_week, w.week, (w.week - v.cohort_week) / 7, f.device_class, f.channel,
       coalesce(f.country, '(not set)'), count(DISTINCT a.visitor_id)
FROM rf_weeks w
JOIN agg_visitor_days a ON a.day >= w.week AND a.day < w.week + 7
JOIN visitors v ON v.visitor_id = a.visitor_id
JOIN sessions f ON f.session_id = v.first_session_id
GROUP BY 1, 2, 3, 4, 5, 6;
-- Returning visitors day by day (agg_visitor_returns, see migrations/004_*): for the touched
-- days and every later day on which a visitor of theirs (before or after the rebuild) was
-- active, since a change on a day moves the previous visit of the visitor's next day.
INSERT INTO rf_day_visitors SELECT DISTINCT a.visitor_id FROM agg_visitor_days a JOIN rf_days d ON d.day = a.day;
ANALYZE rf_day_visitors;
CREATE TEMP TABLE rf_return_days ON COMMIT DROP AS
SELECT day FROM rf_days
UNION
SELECT a.day
FROM agg_visitor_days a
WHERE a.day > (SELECT min(day) FROM rf_days)
  AND a.visitor_id IN (SELECT visitor_id FROM rf_day_visitors);
ALTER TABLE rf_return_days ADD PRIMARY KEY (day);
ANALYZE rf_return_days;
DELETE FROM agg_visitor_returns r USING rf_return_days d WHERE r.day = d.day;
INSERT INTO agg_visitor_returns (grouping, device_class, channel, country, day, prev_day, visitors, new_visitors)
WITH activity AS MATERIALIZED (
    -- the days' visitors, with their activity in the 365 days before
    SELECT a.visitor_id, a.day, a.device_class, a.channel, a.country, a.is_new
    FROM agg_visitor_days a
    WHERE a.day BETWEEN (SELECT min(day) FROM rf_return_days) - 365 AND (SELECT max(day) FROM rf_return_days)
      AND a.visitor_id IN (SELECT r.visitor_id FROM agg_visitor_days r JOIN rf_return_days d ON d.day = r.day)
), projected AS (
    -- each visitor-day once per combination of segment columns (grouping bits: 1 device, 2 channel, 4 country)
    SELECT g.grouping, x.visitor_id, x.day,
           CASE WHEN g.grouping & 1 = 1 THEN x.device_class ELSE '' END AS device_class,
           CASE WHEN g.grouping & 2 = 2 THEN x.channel ELSE '' END AS channel,
           CASE WHEN g.grouping & 4 = 4 THEN x.country ELSE '' END AS country,
           bool_or(x.is_new) AS is_new
    FROM activity x CROSS JOIN generate_series(0, 7) AS g (grouping)
    GROUP BY 1, 2, 3, 4, 5, 6
), with_prev AS (
    SELECT p.*, lag(p.day) OVER (PARTITION BY p.grouping, p.visitor_id, p.device_class, p.channel, p.country
                                 ORDER BY p.day) AS prev_day
    FROM projected p
)
SELECT w.grouping, w.device_class, w.channel, w.country, w.day,
       CASE WHEN w.prev_day >= w.day - 365 THEN w.prev_day ELSE '-infinity'::date END,
       count(*), count(*) FILTER (WHERE w.is_new)
FROM with_prev w JOIN rf_return_days d ON d.day = w.day
GROUP BY 1, 2, 3, 4, 5, 6;

-- name: summary
SELECT (SELECT count(*) FROM rf_sessions), ARRAY(SELECT day FROM rf_days ORDER BY day);
