"""The processed layer's contract: the Arrow schemas of the Parquet files the clean step writes.

Cleaning produces them, data quality checks them, the warehouse loads them (its `events`
and `event_items` tables have these columns, in this order), and Athena/Glue can read them
from `processed/<dataset>/received_date=…/received_hour=…/part-NNNNN.parquet`.
Timestamps are UTC with millisecond precision.
"""

from __future__ import annotations

import pyarrow as pa

EVENTS_DATASET = "events"
ITEMS_DATASET = "event_items"

_TS = pa.timestamp("ms", tz="UTC")

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),  # canonical lowercase UUID
        pa.field("event_name", pa.string(), nullable=False),
        pa.field("event_time", _TS, nullable=False),  # server.derived_ts: the analytic event time
        pa.field("event_date", pa.date32(), nullable=False),  # UTC date of event_time
        pa.field("event_hour", pa.int8(), nullable=False),  # UTC hour of event_time
        pa.field("client_ts", _TS, nullable=False),  # event_ts as the device said
        pa.field("sent_ts", _TS),
        pa.field("received_ts", _TS, nullable=False),
        pa.field("received_hour", _TS, nullable=False),  # start of the raw partition's hour (the run's hour)
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("app_id", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("sdk_name", pa.string(), nullable=False),
        pa.field("sdk_version", pa.string(), nullable=False),
        pa.field("schema_version", pa.int16(), nullable=False),
        pa.field("anonymous_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string()),  # from a verified token only
        pa.field("claimed_user_id", pa.string()),
        pa.field("visitor_id", pa.string(), nullable=False),  # coalesce(user_id, anonymous_id)
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("event_seq", pa.int32(), nullable=False),
        pa.field("page_url", pa.string()),  # as sent (the SDK strips all but UTM/click-id params)
        pa.field("page_path", pa.string()),  # page.path, else the URL's path
        pa.field("page_title", pa.string()),
        pa.field("page_referrer", pa.string()),
        pa.field("referrer_host", pa.string()),  # lowercase host of the referrer, without "www."
        pa.field("page_view_id", pa.string()),
        pa.field("utm_source", pa.string()),  # campaign.*, else the page URL's utm_* parameters
        pa.field("utm_medium", pa.string()),
        pa.field("utm_campaign", pa.string()),
        pa.field("utm_term", pa.string()),
        pa.field("utm_content", pa.string()),
        pa.field("click_id", pa.string()),
        pa.field("channel", pa.string(), nullable=False),  # default channel grouping, see clean.channel()
        pa.field("device_class", pa.string(), nullable=False),  # desktop|mobile|tablet|bot|other
        pa.field("browser", pa.string()),
        pa.field("os", pa.string()),
        pa.field("is_bot", pa.bool_(), nullable=False),
        pa.field("country", pa.string()),  # ISO 3166-1 alpha-2 when known (null today)
        pa.field("ip_trunc", pa.string()),
        pa.field("language", pa.string()),
        pa.field("tz_offset_min", pa.int16()),
        pa.field("screen_w", pa.int32()),
        pa.field("screen_h", pa.int32()),
        pa.field("viewport_w", pa.int32()),
        pa.field("viewport_h", pa.int32()),
        pa.field("consent_analytics", pa.bool_()),
        pa.field("search_term", pa.string()),  # properties.search_term (search events), trimmed, lowercased
        pa.field("engaged_ms", pa.int64()),  # properties.engaged_ms (user_engagement events)
        pa.field("currency", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("transaction_id", pa.string()),
        pa.field("item_count", pa.int32(), nullable=False),  # len(ecommerce.items), 0 when none
        pa.field("properties", pa.string()),  # the flat properties map as JSON text, null when empty
        pa.field("payload_hash", pa.string(), nullable=False),  # see clean: identifies natural duplicates
    ]
)

ITEMS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("item_position", pa.int16(), nullable=False),  # position in ecommerce.items, from 0
        pa.field("event_name", pa.string(), nullable=False),
        pa.field("event_time", _TS, nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("received_hour", _TS, nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("visitor_id", pa.string(), nullable=False),
        pa.field("transaction_id", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("item_name", pa.string()),
        pa.field("item_category", pa.string()),
        pa.field("item_brand", pa.string()),
        pa.field("item_variant", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("quantity", pa.int32(), nullable=False),  # absent in the event = 1
        pa.field("list_index", pa.int32()),  # the item's `index` (position in a list the user saw)
    ]
)

SCHEMAS = {EVENTS_DATASET: EVENTS_SCHEMA, ITEMS_DATASET: ITEMS_SCHEMA}
