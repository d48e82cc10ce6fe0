"""What every number on the dashboard means, shown as tooltips and footnotes.

The wording follows ARCHITECTURE ("Definitions") and the warehouse's table comments: a
test checks that the three core definitions (visitor, session, bounce) say the same thing.
"""

from __future__ import annotations

DEFINITIONS: dict[str, str] = {
    "visitors": "Distinct visitors: a visitor is coalesce(user_id, anonymous_id), so a signed-in person counts once "
                "across browsers. Counted distinct over the whole range (not summed per day). Bots excluded.",
    "new_visitors": "Visitors first seen inside the range (with a segment filter: whose first day had a session "
                    "of that segment).",
    "returning_visitors": "Visitors active in the range who are not new: first seen before it (or, with a segment "
                          "filter, first seen through another segment).",
    "sessions": "Sessions: the SDK's session_id, which ends after 30 minutes of inactivity. A session counts on the "
                "UTC day (hour) it started. Bots excluded.",
    "page_views": "page_view events (several with one page_view_id count once), on the day they happened.",
    "bounce_rate": "Bounces / sessions. A bounce is a session that was not engaged: at most 1 page view, no commerce "
                   "event (add_to_cart, remove_from_cart, view_cart, begin_checkout, add_payment_info, purchase) "
                   "and under 10 s engaged. Single-page sessions are counted separately.",
    "avg_session_duration": "Sum of session durations / sessions; a session's duration is its last event time minus "
                            "its first.",
    "orders": "Distinct transaction_id of purchase events, on the order day.",
    "revenue": "Order value net of refunds, in the shop's currency.",
    "conversion_rate": "Sessions with a purchase / sessions.",
    "pages_per_session": "Page views / sessions in the range.",
    "events_per_session": "Events / sessions in the range.",
    "engagement_time": "Average engaged time per session: sum of engaged_ms of user_engagement events / sessions.",
    "entries": "Sessions whose first page view was this page.",
    "exits": "Sessions whose last page view was this page.",
    "page_engagement": "Average engaged time per view of the page: engaged_ms of the user_engagement events "
                       "carrying the view's page_view_id, summed over the page's views, / views.",
    "product_views": "Item rows of view_item events.",
    "add_to_carts": "Item rows of add_to_cart events.",
    "purchases": "Orders containing the item, on the order day.",
    "view_to_cart": "Add-to-carts / product views.",
    "cart_to_purchase": "Purchases / add-to-carts.",
    "duration_distribution": "Sessions by duration bucket (last event minus first event).",
    "landing_paths": "Sessions by landing page and the page viewed next ('(none)' for one page view or none).",
    "retention": "Share of each first-visit week's visitors (cohort, Monday UTC) active again N weeks later. "
                 "Cohorts shown are those starting in the selected range.",
    "funnel": "Sessions reaching each step of view_item -> add_to_cart -> begin_checkout -> purchase, each step "
              "strictly after the one before (by event time) in the same session.",
    "funnel_dropoff": "Sessions that reached the previous step but not this one.",
    "funnel_conversion": "Sessions reaching the step / sessions reaching view_item.",
    "searches": "search events.",
    "no_view_searches": "Searches not followed later in the same session by a view_item event.",
    "search_to_purchase": "Searches followed later in the same session by a purchase / searches.",
    "runs": "Executions of the hourly ETL whose hour falls in the range (one row per execution).",
    "freshness": "Time from the end of the newest loaded hour to now: how old the newest data is.",
    "quarantined": "Records rejected at the ingest, clean or quality stage, by error code, per hour loaded "
                   "(the chart: per hour and reason).",
    "dq": "Great Expectations results per run: critical failures stop the load, warnings are recorded.",
    "alerts": "Failed runs: what the state machine's NotifyFailure published (hour, failed state, error).",
    "compare": "Compared with the previous period of the same length, with the same segment filters.",
}

FOOTNOTES: dict[str, tuple[str, ...]] = {
    "traffic": ("visitors", "sessions", "bounce_rate", "avg_session_duration", "page_views", "entries", "exits",
                "page_engagement"),
    "products": ("product_views", "add_to_carts", "purchases", "view_to_cart", "cart_to_purchase", "revenue"),
    "behaviour": ("new_visitors", "returning_visitors", "pages_per_session", "events_per_session",
                  "engagement_time", "duration_distribution", "landing_paths", "retention"),
    "funnel": ("funnel", "funnel_dropoff", "funnel_conversion"),
    "search": ("searches", "no_view_searches", "search_to_purchase"),
    "pipeline": ("runs", "freshness", "quarantined", "dq", "alerts"),
}
