"""The event contract, schema version 1, as msgspec Structs.

`Event` is what a client sends (one element of `{"events": [...]}`); `RawRecord` is one line
the ingest server writes to S3 raw: the event plus what the server adds. Every constraint
msgspec can check while decoding lives here as a `Meta`, so decoding *is* most of the
validation (about 2 µs an event); the rules that need more than one field (time window,
currency, transaction id) are in `validate.py`. The JSON Schema files are generated from
these classes (`jsonschema.py`), so this file is the single source of the contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from msgspec import Meta, Struct

SCHEMA_VERSION = 1

MAX_EVENT_BYTES = 16 * 1024
MAX_EVENTS_PER_BATCH = 500
MAX_BODY_BYTES = 256 * 1024
# A raw record is an event plus the server context (user agent capped at 1 KB), so it may
# be a little larger than the event the client sent.
MAX_RECORD_BYTES = MAX_EVENT_BYTES + 4 * 1024

LATE_LIMIT = timedelta(hours=72)
FUTURE_LIMIT = timedelta(minutes=5)
# Browsers stamp event_ts and sent_ts from the same clock a few ms apart; a second of slack
# keeps rounding (and coarse clocks) from turning into rejections.
SENT_TS_TOLERANCE = timedelta(seconds=1)

MAX_ITEMS = 200
MAX_PROPERTIES = 50
MAX_PROPERTY_KEY_CHARS = 64
MAX_PROPERTY_STRING_CHARS = 1024
# Amounts are finite and bounded so they fit the warehouse's numeric columns; 10^15 is far
# above any real order even in currencies with large nominal values (IRR, VND).
MAX_AMOUNT = 1e15
# Integers a JavaScript client can represent exactly.
MAX_SAFE_INT = 2**53 - 1

STANDARD_EVENT_NAMES: frozenset[str] = frozenset(
    {
        "page_view",
        "user_engagement",
        "click",
        "search",
        "view_item_list",
        "select_item",
        "view_item",
        "add_to_cart",
        "remove_from_cart",
        "view_cart",
        "begin_checkout",
        "add_payment_info",
        "purchase",
        "refund",
    }
)
# Events that record money changing hands and so must name the transaction.
TRANSACTION_EVENT_NAMES: frozenset[str] = frozenset({"purchase", "refund"})

# ISO 4217 list one (currencies and funds), as published by SIX Group, 2025 edition.
ISO_4217_CURRENCIES: frozenset[str] = frozenset(
    ["AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAD", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG"]
)
# Codes withdrawn recently or in their changeover period (ANG -> XCG, BGN -> EUR,
# HRK -> EUR, SLL -> SLE, ZWL -> ZWG, CUC). Shops and payment providers keep sending them
# for a while; rejecting a real purchase for that would lose revenue data, so they stay
# accepted. Drop a code here once its changeover is long over.
ISO_4217_TRANSITIONAL: frozenset[str] = frozenset({"ANG", "BGN", "CUC", "HRK", "SLL", "ZWL"})
CURRENCIES: frozenset[str] = ISO_4217_CURRENCIES | ISO_4217_TRANSITIONAL

# Python's `$` also matches before a trailing newline; the look-ahead keeps "page_view\n"
# out and means the same in ECMA-262, so the generated JSON Schema stays exact.
EVENT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}(?!\n)$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# Reusable field types. Limits are generous for real traffic and small enough that one
# event stays well under MAX_EVENT_BYTES in ordinary use.
Uuid = Annotated[str, Meta(min_length=36, max_length=36, pattern=UUID_PATTERN)]
EventName = Annotated[str, Meta(min_length=1, max_length=40, pattern=EVENT_NAME_PATTERN)]
Timestamp = Annotated[datetime, Meta(tz=True)]
Id64 = Annotated[str, Meta(min_length=1, max_length=64)]
Id128 = Annotated[str, Meta(min_length=1, max_length=128)]
Url = Annotated[str, Meta(max_length=2048)]
Text256 = Annotated[str, Meta(max_length=256)]
Text512 = Annotated[str, Meta(max_length=512)]
Amount = Annotated[float, Meta(ge=0, le=MAX_AMOUNT)]
Pixels = Annotated[int, Meta(ge=0, le=100_000)]
Currency = Literal[tuple(sorted(CURRENCIES))]  # type: ignore[valid-type]  # built from the table above
PropertyKey = Annotated[str, Meta(min_length=1, max_length=MAX_PROPERTY_KEY_CHARS)]
PropertyValue = (
    Annotated[str, Meta(max_length=MAX_PROPERTY_STRING_CHARS)]
    | Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
    | float
    | bool
    | None
)


class _Strict(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True, gc=False):
    """Shared config: unknown fields are errors (typos must not vanish silently).

    msgspec inherits forbid_unknown_fields and omit_defaults, but kw_only only covers the
    fields of the class that sets it, so every subclass repeats it.
    """


def _doc(text: str) -> Meta:
    """A description for the generated JSON Schema (and for readers of this file)."""
    return Meta(description=text)


class Sdk(_Strict, kw_only=True):
    """The tracker that sent the event."""

    name: Annotated[str, Meta(min_length=1, max_length=64), _doc("SDK name, e.g. clickstream-js.")]
    version: Annotated[str, Meta(min_length=1, max_length=32), _doc("SDK version, e.g. 1.4.0.")]


class Page(_Strict, kw_only=True):
    """Where the event happened (web)."""

    url: Annotated[Url | None, _doc("Full page URL (location.href).")] = None
    path: Annotated[Url | None, _doc("URL path without query string.")] = None
    title: Annotated[Text512 | None, _doc("document.title.")] = None
    referrer: Annotated[Url | None, _doc("document.referrer; empty when there is none.")] = None
    page_view_id: Annotated[Id64 | None, _doc("Id shared by all events of one page view.")] = None


class Campaign(_Strict, kw_only=True):
    """Where the visit came from: UTM parameters and ad click ids."""

    source: Annotated[Text256 | None, _doc("utm_source.")] = None
    medium: Annotated[Text256 | None, _doc("utm_medium.")] = None
    name: Annotated[Text256 | None, _doc("utm_campaign.")] = None
    term: Annotated[Text256 | None, _doc("utm_term.")] = None
    content: Annotated[Text256 | None, _doc("utm_content.")] = None
    click_id: Annotated[Text256 | None, _doc("gclid, fbclid, msclkid ... as sent by the ad network.")] = None


class Device(_Strict, kw_only=True):
    """Screen and locale of the client."""

    screen_w: Annotated[Pixels | None, _doc("screen.width in CSS pixels.")] = None
    screen_h: Annotated[Pixels | None, _doc("screen.height in CSS pixels.")] = None
    viewport_w: Annotated[Pixels | None, _doc("window.innerWidth.")] = None
    viewport_h: Annotated[Pixels | None, _doc("window.innerHeight.")] = None
    language: Annotated[Annotated[str, Meta(max_length=35)] | None, _doc("BCP 47 tag, e.g. en-GB.")] = None
    tz_offset_min: Annotated[
        Annotated[int, Meta(ge=-840, le=840)] | None,
        _doc("Minutes east of UTC, e.g. 60 for UTC+1 (minus JavaScript's getTimezoneOffset())."),
    ] = None


class Consent(_Strict, kw_only=True):
    """What the visitor agreed to."""

    analytics: Annotated[bool, _doc("Whether the visitor consented to analytics.")]


class Item(_Strict, kw_only=True):
    """One product in an e-commerce event (GA4's item)."""

    item_id: Annotated[Id128, _doc("Product id or SKU; required and non-empty.")]
    item_name: Text256 | None = None
    item_category: Text256 | None = None
    item_brand: Annotated[str, Meta(max_length=128)] | None = None
    item_variant: Annotated[str, Meta(max_length=128)] | None = None
    price: Annotated[Amount | None, _doc("Unit price in ecommerce.currency; not negative.")] = None
    quantity: Annotated[int, Meta(ge=0, le=1_000_000), _doc("Number of units; 1 when absent.")] = 1
    index: Annotated[
        Annotated[int, Meta(ge=0, le=1_000_000)] | None, _doc("Position in the list the item was shown in.")
    ] = None


class Ecommerce(_Strict, kw_only=True):
    """Money and products. currency is required once value or any item price is given."""

    currency: Annotated[Currency | None, _doc("ISO 4217 code in upper case, e.g. USD.")] = None
    value: Annotated[Amount | None, _doc("Total value of the event in currency; not negative.")] = None
    transaction_id: Annotated[Id128 | None, _doc("Order id; required for purchase and refund.")] = None
    items: Annotated[list[Item], Meta(max_length=MAX_ITEMS), _doc("The products, at most 200.")] = []


class Event(_Strict, kw_only=True):
    """One event as a client sends it (schema version 1)."""

    event_id: Annotated[Uuid, _doc("UUID made once on the client and kept across retries (the dedup key).")]
    event_name: Annotated[EventName, _doc("GA4 recommended name (page_view, purchase ...) or a custom snake_case name.")]
    event_ts: Annotated[Timestamp, _doc("Client time of the event, ISO-8601 with a timezone.")]
    sent_ts: Annotated[Timestamp | None, _doc("Client time the batch was sent; used to correct clock skew.")] = None
    app_id: Annotated[Id64, _doc("Which site or app sent the event.")]
    platform: Annotated[str, Meta(min_length=1, max_length=32), _doc("web, ios, android ...")]
    sdk: Sdk
    schema_version: Annotated[Literal[1], _doc("Always 1 for this schema.")]
    anonymous_id: Annotated[Uuid, _doc("First-party visitor id (UUID) kept by the SDK.")]
    user_id: Annotated[Id128 | None, _doc("Signed-in user; only trusted when a valid token backs it.")] = None
    session_id: Annotated[Id64, _doc("Session kept by the SDK (30 minutes of inactivity end it).")]
    event_seq: Annotated[int, Meta(ge=0, le=MAX_SAFE_INT), _doc("Per-session event counter.")]
    page: Page | None = None
    campaign: Campaign | None = None
    device: Device | None = None
    consent: Consent | None = None
    properties: Annotated[
        dict[PropertyKey, PropertyValue],
        Meta(max_length=MAX_PROPERTIES),
        _doc("Small flat map of extra data (search_term, element_id, engaged_ms ...): at most 50 keys.")
    ] = {}
    ecommerce: Ecommerce | None = None


class ServerContext(_Strict, kw_only=True):
    """What the ingest server adds to each event; clients never send it."""

    received_ts: Annotated[Timestamp, _doc("Server time the request arrived (UTC).")]
    request_id: Annotated[Id128, _doc("Id of the ingest request (API Gateway request id).")]
    ip_trunc: Annotated[
        Annotated[str, Meta(max_length=64)] | None, _doc("Client IP with the host part zeroed; never a full IP.")
    ] = None
    user_agent: Annotated[Annotated[str, Meta(max_length=1024)] | None, _doc("User-Agent header, cut to 1 KB.")] = None
    ua_browser: Annotated[str, Meta(max_length=128)] | None = None
    ua_os: Annotated[str, Meta(max_length=128)] | None = None
    ua_device: Literal["desktop", "mobile", "tablet", "bot", "other"] | None = None
    is_bot: Annotated[bool, _doc("True when the user agent is a known crawler or bot.")]
    derived_ts: Annotated[Timestamp, _doc("event_ts corrected for client clock skew (see derived_time).")]


class RawRecord(Event, kw_only=True):
    """One line of S3 raw: the event as sent, the user id it claimed, and the server context."""

    claimed_user_id: Annotated[Id128 | None, _doc("user_id the client sent that no valid token backed.")] = None
    server: ServerContext
