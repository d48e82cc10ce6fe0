-- Distinct visitors over any date range from a small rollup (the dashboard's visitor counts).
--
-- count(DISTINCT visitor_id) over agg_visitor_days reads one row per visitor and day: ~800 k
-- rows for 30 days of 10 M events, about a second per count. A visitor is counted once in
-- [start, end] on the first day of the range it was active, i.e. on the days whose previous
-- active day is before start. agg_visitor_returns keeps, per day and segment, how many
-- visitors had their previous active day on each earlier day, so
--   visitors(start, end) = sum(visitors) WHERE day BETWEEN start AND end AND prev_day < start
-- reads a few hundred rows. Because a filter on, say, device class alone must not count a
-- visitor twice for using two channels, the rows exist for every combination of the segment
-- columns (grouping), with '' in the columns a combination leaves out.
--
-- rollups.refresh rebuilds it (in its rebuild_retention_weekly step) for the touched days and
-- the later days their visitors came back on; this migration fills it for the data already
-- loaded.

CREATE TABLE agg_visitor_returns (
    grouping     smallint NOT NULL,
    device_class text     NOT NULL,
    channel      text     NOT NULL,
    country      text     NOT NULL,
    day          date     NOT NULL,
    prev_day     date     NOT NULL,
    visitors     bigint   NOT NULL,
    new_visitors bigint   NOT NULL,
    CONSTRAINT agg_visitor_returns_pkey PRIMARY KEY (grouping, device_class, channel, country, day, prev_day),
    CONSTRAINT agg_visitor_returns_grouping_check CHECK (grouping BETWEEN 0 AND 7)
);
COMMENT ON TABLE agg_visitor_returns IS
    'Visitors active on a day (agg_visitor_days) by the day of their previous activity in the same segment: visitors in [start, end] = sum(visitors) WHERE day BETWEEN start AND end AND prev_day < start; new visitors = sum(new_visitors). Exact for ranges of up to 366 days.';
COMMENT ON COLUMN agg_visitor_returns.grouping IS
    'Which segment columns the row is for, as bits: 1 device_class, 2 channel, 4 country; a column not in the grouping holds ''''. 0 = all visitors.';
COMMENT ON COLUMN agg_visitor_returns.prev_day IS
    'The latest earlier day the visitor was active in the row''s segment, or -infinity when none in the 365 days before.';
COMMENT ON COLUMN agg_visitor_returns.new_visitors IS 'Of visitors, those whose first day (visitors.first_seen_date) this is.';

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
