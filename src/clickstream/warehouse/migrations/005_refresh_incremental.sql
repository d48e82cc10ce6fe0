-- What the incremental rollup refresh (clickstream.warehouse.rollups.refresh) keeps between
-- runs, so that a run costs what its hour touched and not what the touched days hold.
--
-- A refresh rebuilds the derived rows of the sessions its hour touched and then changes every
-- agg_* row by the difference between those sessions' contributions before and after (see
-- sql/rollups.sql). Contributions that come from sessions, page_views and orders are read from
-- those tables before and after their rebuild. Those that come from events are kept here, per
-- session, because the events a session had at its previous refresh cannot be told apart from
-- the ones loaded since. Distinct visitors per hour are a set like agg_visitor_days.
-- None of these tables is read by the dashboard. This migration fills them for the data already
-- loaded, with the same definitions as the refresh.

CREATE TABLE session_hours (
    session_id     text        NOT NULL,
    hour           timestamptz NOT NULL,
    visitor_id     text        NOT NULL,
    events         bigint      NOT NULL,
    first_at       timestamptz NOT NULL,
    first_seq      integer     NOT NULL,
    first_event_id text        NOT NULL,
    last_at        timestamptz NOT NULL,
    CONSTRAINT session_hours_pkey PRIMARY KEY (session_id, hour, visitor_id)
);
COMMENT ON TABLE session_hours IS
    'Events of a session per UTC hour and visitor_id (bot sessions included): count, first event by (event_time, event_seq, event_id), last event_time. Input of visitors, visitor_hours and agg_visitor_days.';
CREATE INDEX session_hours_visitor_id_idx ON session_hours (visitor_id, hour);

CREATE TABLE session_searches (
    session_id     text   NOT NULL,
    day            date   NOT NULL,
    search_term    text   NOT NULL,
    searches       bigint NOT NULL,
    with_view_item bigint NOT NULL,
    with_purchase  bigint NOT NULL,
    CONSTRAINT session_searches_pkey PRIMARY KEY (session_id, day, search_term)
);
COMMENT ON TABLE session_searches IS
    'Search events (non-empty search_term) of a session per event day and term: searches, and of those the ones followed later in the session by a view_item / purchase event. Input of agg_searches_daily.';

CREATE TABLE session_items (
    session_id    text   NOT NULL,
    day           date   NOT NULL,
    item_id       text   NOT NULL,
    views         bigint NOT NULL,
    add_to_carts  bigint NOT NULL,
    item_name     text,
    item_category text,
    CONSTRAINT session_items_pkey PRIMARY KEY (session_id, day, item_id)
);
COMMENT ON TABLE session_items IS
    'Item rows of a session''s view_item / add_to_cart events per event day and item_id, with the greatest item_name and item_category. Input of agg_products_daily.';

CREATE TABLE order_items (
    order_id          text    NOT NULL,
    item_id           text    NOT NULL,
    quantity          bigint  NOT NULL,
    refunded_quantity bigint  NOT NULL,
    gross_revenue     numeric NOT NULL,
    revenue           numeric NOT NULL,
    item_name         text,
    item_category     text,
    CONSTRAINT order_items_pkey PRIMARY KEY (order_id, item_id)
);
COMMENT ON TABLE order_items IS
    'An order''s items per item_id, as agg_products_daily counts them: units bought and refunded (a refund without items refunds the whole order), gross revenue, revenue less the refunded units at their price.';

CREATE TABLE visitor_hours (
    hour         timestamptz NOT NULL,
    visitor_id   text        NOT NULL,
    device_class text        NOT NULL,
    channel      text        NOT NULL,
    country      text        NOT NULL,
    is_new       boolean     NOT NULL,
    events       bigint      NOT NULL,
    CONSTRAINT visitor_hours_pkey PRIMARY KEY (hour, device_class, channel, country, visitor_id)
);
COMMENT ON TABLE visitor_hours IS
    'Each visitor active in a UTC hour, once per segment of their sessions, with its events there (non-bot sessions): the distinct visitors and events of agg_traffic_hourly. is_new: first_seen_at (visitors) is in the hour.';
CREATE INDEX visitor_hours_visitor_id_idx ON visitor_hours (visitor_id, hour);

-- What the refresh looks up among the sessions it leaves alone: a visitor's other page views
-- of the day (distinct visitors of agg_pages_daily), and who else has a page's title or an
-- item's name that day (the greatest one of agg_pages_daily and agg_products_daily).
CREATE INDEX page_views_visitor_id_idx ON page_views (visitor_id, view_date);
CREATE INDEX page_views_view_date_path_idx ON page_views (view_date, path);
CREATE INDEX session_items_day_item_id_idx ON session_items (day, item_id);

INSERT INTO session_hours (session_id, hour, visitor_id, events, first_at, first_seq, first_event_id, last_at)
WITH g AS (
    SELECT session_id, date_trunc('hour', event_time, 'UTC') AS hour, visitor_id, count(*) AS events,
           min(event_time) AS first_at, max(event_time) AS last_at
    FROM events
    GROUP BY 1, 2, 3
)
SELECT DISTINCT ON (g.session_id, g.hour, g.visitor_id)
       g.session_id, g.hour, g.visitor_id, g.events, g.first_at, e.event_seq, e.event_id, g.last_at
FROM g
JOIN events e ON e.session_id = g.session_id AND e.visitor_id = g.visitor_id AND e.event_time = g.first_at
ORDER BY g.session_id, g.hour, g.visitor_id, e.event_seq, e.event_id;

INSERT INTO session_searches (session_id, day, search_term, searches, with_view_item, with_purchase)
WITH later AS (
    SELECT session_id, max(event_time) FILTER (WHERE event_name = 'view_item') AS last_view,
           max(event_time) FILTER (WHERE event_name = 'purchase') AS last_purchase
    FROM events
    WHERE event_name IN ('view_item', 'purchase')
    GROUP BY session_id
)
SELECT x.session_id, x.event_date, x.search_term, count(*), count(*) FILTER (WHERE l.last_view > x.event_time),
       count(*) FILTER (WHERE l.last_purchase > x.event_time)
FROM events x
LEFT JOIN later l ON l.session_id = x.session_id
WHERE x.event_name = 'search' AND x.search_term IS NOT NULL AND x.search_term <> ''
GROUP BY 1, 2, 3;

INSERT INTO session_items (session_id, day, item_id, views, add_to_carts, item_name, item_category)
SELECT i.session_id, i.event_date, i.item_id, count(*) FILTER (WHERE i.event_name = 'view_item'),
       count(*) FILTER (WHERE i.event_name = 'add_to_cart'), max(i.item_name), max(i.item_category)
FROM event_items i
WHERE i.event_name IN ('view_item', 'add_to_cart')
GROUP BY 1, 2, 3;

INSERT INTO order_items (order_id, item_id, quantity, refunded_quantity, gross_revenue, revenue, item_name, item_category)
WITH bought AS (
    SELECT o.order_id, i.item_id, max(i.item_name) AS item_name, max(i.item_category) AS item_category,
           sum(i.quantity) AS quantity, coalesce(sum(i.price::numeric * i.quantity), 0) AS gross
    FROM orders o
    JOIN event_items i ON i.event_id = o.event_id
    GROUP BY 1, 2
), refund_events AS (
    SELECT e.event_id, e.transaction_id, e.item_count
    FROM events e
    JOIN orders o ON o.order_id = e.transaction_id
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

INSERT INTO visitor_hours (hour, visitor_id, device_class, channel, country, is_new, events)
SELECT x.hour, x.visitor_id, s.device_class, s.channel, coalesce(s.country, '(not set)'),
       coalesce(bool_or(date_trunc('hour', v.first_seen_at, 'UTC') = x.hour), false), sum(x.events)
FROM session_hours x
JOIN sessions s ON s.session_id = x.session_id
LEFT JOIN visitors v ON v.visitor_id = x.visitor_id
WHERE NOT s.is_bot
GROUP BY 1, 2, 3, 4, 5;
