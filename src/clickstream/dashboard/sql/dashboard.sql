-- The dashboard's queries, one per metric block (clickstream.dashboard.queries runs them).
--
-- Every query reads the rollups (agg_*) or the pipeline tables, never events. Parameters are
-- always the same named set: %(start)s and %(end)s (dates, both included) and the segment
-- filters %(device_class)s, %(channel)s, %(country)s, each NULL for "all". Bots are already
-- left out of every rollup.

-- name: traffic_totals
SELECT coalesce(sum(sessions), 0)          AS sessions,
       coalesce(sum(engaged_sessions), 0)  AS engaged_sessions,
       coalesce(sum(bounces), 0)           AS bounces,
       coalesce(sum(page_views), 0)        AS page_views,
       coalesce(sum(events), 0)            AS events,
       coalesce(sum(total_duration_s), 0)  AS total_duration_s,
       coalesce(sum(engaged_ms), 0)        AS engaged_ms,
       coalesce(sum(orders), 0)            AS orders,
       coalesce(sum(revenue), 0)           AS revenue
FROM agg_traffic_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)

-- name: visitor_totals
-- Distinct visitors of the range (up to 366 days): a visitor counts on its first active day in
-- the range, the day whose previous activity (in the filtered segment) is before the range.
-- agg_visitor_returns has a row set per combination of filtered columns (grouping bits: 1
-- device class, 2 channel, 4 country; '' in a column left out).
SELECT coalesce(sum(visitors) FILTER (WHERE prev_day < %(start)s), 0) AS visitors,
       coalesce(sum(new_visitors), 0)                                 AS new_visitors
FROM agg_visitor_returns
WHERE grouping = CASE WHEN %(device_class)s::text IS NULL THEN 0 ELSE 1 END
               + CASE WHEN %(channel)s::text IS NULL THEN 0 ELSE 2 END
               + CASE WHEN %(country)s::text IS NULL THEN 0 ELSE 4 END
  AND device_class = coalesce(%(device_class)s::text, '')
  AND channel = coalesce(%(channel)s::text, '')
  AND country = coalesce(%(country)s::text, '')
  AND day BETWEEN %(start)s AND %(end)s

-- name: visitor_totals_long
-- The same over any range (agg_visitor_returns is exact up to 366 days): one row per visitor and day.
SELECT count(DISTINCT visitor_id)                           AS visitors,
       count(DISTINCT visitor_id) FILTER (WHERE is_new)     AS new_visitors
FROM agg_visitor_days
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)

-- name: visitors_daily
-- Distinct visitors per day: every visitor active on the day, whatever its previous visit.
SELECT day, sum(visitors) AS visitors
FROM agg_visitor_returns
WHERE grouping = CASE WHEN %(device_class)s::text IS NULL THEN 0 ELSE 1 END
               + CASE WHEN %(channel)s::text IS NULL THEN 0 ELSE 2 END
               + CASE WHEN %(country)s::text IS NULL THEN 0 ELSE 4 END
  AND device_class = coalesce(%(device_class)s::text, '')
  AND channel = coalesce(%(channel)s::text, '')
  AND country = coalesce(%(country)s::text, '')
  AND day BETWEEN %(start)s AND %(end)s
GROUP BY day
ORDER BY day

-- name: traffic_daily
SELECT day,
       sum(sessions)         AS sessions,
       sum(page_views)       AS page_views,
       sum(bounces)          AS bounces,
       sum(total_duration_s) AS total_duration_s
FROM agg_traffic_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY day
ORDER BY day

-- name: traffic_hourly
SELECT hour,
       sum(sessions)   AS sessions,
       sum(page_views) AS page_views,
       sum(bounces)    AS bounces
FROM agg_traffic_hourly
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY hour
ORDER BY hour

-- name: sources
SELECT channel, utm_source, utm_medium, utm_campaign,
       sum(sessions)   AS sessions,
       sum(bounces)    AS bounces,
       sum(page_views) AS page_views,
       sum(orders)     AS orders,
       sum(revenue)    AS revenue
FROM agg_sources_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY channel, utm_source, utm_medium, utm_campaign
ORDER BY sessions DESC, channel, utm_source, utm_medium, utm_campaign
LIMIT %(limit)s

-- name: top_pages
SELECT page_path,
       max(page_title)  AS page_title,
       sum(views)       AS views,
       sum(entries)     AS entries,
       sum(exits)       AS exits,
       sum(engaged_ms)  AS engaged_ms
FROM agg_pages_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY page_path
ORDER BY views DESC, page_path
LIMIT %(limit)s

-- name: devices
SELECT device_class, browser, os,
       sum(sessions) AS sessions,
       sum(bounces)  AS bounces,
       sum(orders)   AS orders
FROM agg_devices_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY device_class, browser, os
ORDER BY sessions DESC, device_class, browser, os

-- name: products
SELECT item_id,
       max(item_name)      AS item_name,
       max(item_category)  AS item_category,
       sum(views)          AS views,
       sum(add_to_carts)   AS add_to_carts,
       sum(purchases)      AS purchases,
       sum(quantity)       AS quantity,
       sum(revenue)        AS revenue
FROM agg_products_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY item_id
ORDER BY revenue DESC, views DESC, item_id
LIMIT %(limit)s

-- name: categories
SELECT item_category,
       sum(views)        AS views,
       sum(add_to_carts) AS add_to_carts,
       sum(purchases)    AS purchases,
       sum(revenue)      AS revenue
FROM agg_products_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY item_category
ORDER BY revenue DESC, views DESC, item_category

-- name: product_daily
SELECT day,
       sum(views)        AS views,
       sum(add_to_carts) AS add_to_carts,
       sum(purchases)    AS purchases,
       sum(revenue)      AS revenue
FROM agg_products_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND item_id = %(item_id)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY day
ORDER BY day

-- name: session_durations
SELECT bucket, max(bucket_label) AS bucket_label, sum(sessions) AS sessions, sum(bounces) AS bounces
FROM agg_session_durations_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY bucket
ORDER BY bucket

-- name: landing_paths
SELECT landing_path, second_path, sum(sessions) AS sessions, sum(bounces) AS bounces, sum(orders) AS orders
FROM agg_landing_paths_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY landing_path, second_path
ORDER BY sessions DESC, landing_path, second_path
LIMIT %(limit)s

-- name: retention
-- Cohorts whose first-visit week starts within the range (weeks are Mondays, UTC).
SELECT cohort_week, week_offset, sum(active_visitors) AS active_visitors
FROM agg_retention_weekly
WHERE cohort_week BETWEEN date_trunc('week', %(start)s::date)::date AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY cohort_week, week_offset
ORDER BY cohort_week, week_offset

-- name: funnel_totals
SELECT coalesce(sum(sessions), 0)       AS sessions,
       coalesce(sum(view_item), 0)      AS view_item,
       coalesce(sum(add_to_cart), 0)    AS add_to_cart,
       coalesce(sum(begin_checkout), 0) AS begin_checkout,
       coalesce(sum(purchase), 0)       AS purchase
FROM agg_funnel_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)

-- name: funnel_by_segment
-- {split} is one of the segment column names, chosen from a fixed list in code (never input).
SELECT {split}               AS segment,
       sum(sessions)         AS sessions,
       sum(view_item)        AS view_item,
       sum(add_to_cart)      AS add_to_cart,
       sum(begin_checkout)   AS begin_checkout,
       sum(purchase)         AS purchase
FROM agg_funnel_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY {split}
ORDER BY sessions DESC, segment

-- name: search_terms
SELECT search_term,
       sum(searches)       AS searches,
       sum(sessions)       AS sessions,
       sum(with_view_item) AS with_view_item,
       sum(with_purchase)  AS with_purchase
FROM agg_searches_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY search_term
ORDER BY searches DESC, search_term
LIMIT %(limit)s

-- name: search_totals
SELECT coalesce(sum(searches), 0)       AS searches,
       coalesce(sum(with_view_item), 0) AS with_view_item,
       coalesce(sum(with_purchase), 0)  AS with_purchase,
       count(DISTINCT search_term)      AS terms
FROM agg_searches_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)

-- name: search_daily
SELECT day, sum(searches) AS searches, sum(with_view_item) AS with_view_item, sum(with_purchase) AS with_purchase
FROM agg_searches_daily
WHERE day BETWEEN %(start)s AND %(end)s
  AND (%(device_class)s::text IS NULL OR device_class = %(device_class)s)
  AND (%(channel)s::text IS NULL OR channel = %(channel)s)
  AND (%(country)s::text IS NULL OR country = %(country)s)
GROUP BY day
ORDER BY day

-- name: segment_values
-- The values the segment filters offer: those present in the rollups.
SELECT 'device_class' AS dimension, device_class AS value FROM agg_traffic_daily GROUP BY device_class
UNION ALL
SELECT 'channel', channel FROM agg_traffic_daily GROUP BY channel
UNION ALL
SELECT 'country', country FROM agg_traffic_daily GROUP BY country
ORDER BY 1, 2

-- name: data_extent
SELECT min(day) AS first_day, max(day) AS last_day FROM agg_traffic_daily

-- name: pipeline_runs
-- Pipeline health ignores the segment filters: runs are per hour, not per segment.
SELECT run_id, hour, trigger, status, started_at, finished_at, duration_s, events_cleaned,
       inserted_events, quarantined, dq_critical_failures, dq_warnings, failed_state, error
FROM pipeline_runs
WHERE coalesce(hour, started_at) >= %(start)s::date
  AND coalesce(hour, started_at) < %(end)s::date + 1
ORDER BY coalesce(hour, started_at) DESC, started_at DESC NULLS LAST, run_id
LIMIT %(limit)s

-- name: pipeline_summary
SELECT count(*)                                          AS runs,
       count(*) FILTER (WHERE status = 'succeeded')      AS succeeded,
       count(*) FILTER (WHERE status = 'failed')         AS failed,
       count(*) FILTER (WHERE status = 'running')        AS running,
       coalesce(sum(inserted_events), 0)                 AS inserted_events,
       coalesce(sum(quarantined), 0)                     AS quarantined,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_s) AS median_duration_s
FROM pipeline_runs
WHERE coalesce(hour, started_at) >= %(start)s::date
  AND coalesce(hour, started_at) < %(end)s::date + 1

-- name: freshness
-- The newest loaded hour, when it was loaded, and how far behind now the data is.
SELECT max(hour)                                  AS last_hour,
       max(loaded_at)                             AS last_loaded_at,
       now() - (max(hour) + interval '1 hour')    AS lag,
       count(*)                                   AS hours_loaded
FROM load_manifest

-- name: quarantine_hourly
-- Rejected records per loaded hour and reason (stage: error code), for the stacked chart.
SELECT hour, stage || ': ' || error_code AS reason, sum(count) AS records
FROM quarantine_counts
WHERE hour >= %(start)s::date AND hour < %(end)s::date + 1
GROUP BY hour, stage, error_code
ORDER BY hour, reason

-- name: dq_summary
SELECT suite, expectation, column_name, severity,
       count(*)                              AS checks,
       count(*) FILTER (WHERE NOT success)   AS failures,
       max(checked_at) FILTER (WHERE NOT success) AS last_failure
FROM dq_results
WHERE hour >= %(start)s::date AND hour < %(end)s::date + 1
GROUP BY suite, expectation, column_name, severity
ORDER BY failures DESC, severity, suite, expectation, column_name

-- name: alerts
-- A failed run is what NotifyFailure published to the alerts topic (execution, hour, state, error).
SELECT run_id, hour, finished_at, failed_state, error, left(cause, 500) AS cause
FROM pipeline_runs
WHERE status = 'failed'
  AND coalesce(hour, started_at, finished_at) >= %(start)s::date
  AND coalesce(hour, started_at, finished_at) < %(end)s::date + 1
ORDER BY coalesce(finished_at, started_at, hour) DESC NULLS LAST, run_id
LIMIT %(limit)s
