"""Synthetic clickstream of the demo shop, as HTTP batches exactly as the SDK would send them.

`generate(start, end)` simulates visits to the shop in `CATALOGUE` and yields one `Request`
per `POST /v1/events` the browsers would have made, in the order the server would have
received them. It is deterministic: the same seed and arguments give the same requests,
byte for byte. The traffic of an hour depends only on the seed, the visit rate and the
hour itself (plus the hour before, whose visits run over), not on where `start` is, so
seeding overlapping ranges writes identical requests for the hours they share. The one
exception is refunds: they come from orders placed inside the range, so a range that starts
later lacks the refunds of orders placed before it (it never holds different ones).

What is simulated, and why it looks the way it does:

- visitors: new ones and a fixed population of returning ones (some registered; a
  registered visitor is often signed in, which the generator marks with `signed_in_sub`:
  the SDK never sends `user_id`, the server takes it from the token);
- acquisition: direct, organic search (Google, Bing), paid search (UTM + gclid/msclkid),
  social (referrer, sometimes UTM + fbclid), e-mail campaigns, referrals;
- ~300 distinct User-Agents over desktop, mobile and tablet, with matching screens;
- sessions (a new `session_id` per visit, no gap of 30 minutes inside one) that browse
  categories, search (some terms find nothing and are never followed by a product view),
  view products, add to and remove from the cart, check out and buy (about 2-3 % of visits),
  with the occasional refund up to a day and a half later; `user_engagement` with engaged time
  whenever a page is left;
- daily and weekly seasonality in Central European time (evenings busiest, weekends
  flatter and later);
- batching as the SDK does it: a request 5 s after the first queued event, at 20 events,
  and when a page is left (`Batching`); `sent_ts` stamped at each send;
- `Noise`, each at a configurable rate: crawler visits, malformed events (each labelled
  with the rejection code `validate_event` must give), client retries that send a batch
  again (natural duplicates, same `event_id`), events re-sent under an old `event_id` with
  another payload (synthetic duplicates), visits delivered hours late (within 72 h), a few
  delivered too late (rejected), and devices whose clocks are off.

Speed matters because the 1 M-event benchmark shares this module: events are plain dicts
built from per-visit templates, nested objects that do not change within a visit (sdk,
device, consent, campaign, page) are shared between its events rather than copied, and
timestamps are formatted through a per-second cache. Treat the yielded events as
read-only (copy before mutating). `python bench/traffic.py` reports the rate.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from clickstream.demo import devices
from clickstream.demo.catalogue import CATALOGUE, CATEGORIES, CURRENCY, SHOP_NAME, Category, Product, search_words
from clickstream.schema import Code

__all__ = [
    "APP_ID",
    "BENCH_HOUR",
    "CATALOGUE",
    "DEFAULT_NOISE",
    "DEFAULT_VISITORS_PER_HOUR",
    "FREE_SHIPPING_FROM",
    "MAX_REQUEST_BYTES",
    "MAX_REQUEST_EVENTS",
    "SDK",
    "SDK_BATCHING",
    "SEARCH_TERMS",
    "SHIPPING_FEE",
    "SHOP_ORIGIN",
    "VAT_RATE",
    "Batching",
    "Noise",
    "Request",
    "generate",
    "generate_events",
    "generate_requests",
    "hourly_weight",
    "search_results",
]

SHOP_ORIGIN: Final = "https://shop.example.com"
APP_ID: Final = "demo-shop"
SDK: Final[dict[str, str]] = {"name": "clickstream-web", "version": "0.1.0"}
CONSENT: Final[dict[str, bool]] = {"analytics": True}
# The request limits the SDK keeps to (fetch keepalive and sendBeacon cap bodies at 64 KB).
MAX_REQUEST_EVENTS: Final = 50
MAX_REQUEST_BYTES: Final = 64 * 1024
# Enough for a dashboard with every page populated (about 2,900 visits and 65 orders in
# three days) while three days seed through the ingest path in well under a minute.
DEFAULT_VISITORS_PER_HOUR: Final = 40.0
BENCH_HOUR: Final = datetime(2026, 11, 24, 19, tzinfo=UTC)  # a Tuesday evening, the busiest kind of hour

# Visits are cut at 50 minutes and no page is kept open more than 15, so (with retries
# under a minute) a visit ends within the hour after it starts: simulating the hour before
# `start` is enough to make any range start independent. 15 < 30 also keeps every visit one
# session under the SDK's 30-minute rule.
_MAX_SESSION_S: Final = 50 * 60
_MAX_DWELL_S: Final = 15 * 60
_MAX_PAGES: Final = 25
_LATE_MAX_S: Final = 70 * 3600
_REFUND_RATE: Final = 0.08  # share of orders refunded (returns run 5-10 % in home goods)
# The shop's terms (web/shop reads the same): delivery and the VAT included in prices.
FREE_SHIPPING_FROM: Final = 50.0
SHIPPING_FEE: Final = 4.95
VAT_RATE: Final = 0.19
# Product lists the shop shows besides categories: (item_list_id, item_list_name).
_POPULAR_LIST: Final = {"item_list_id": "popular_products", "item_list_name": "Popular right now"}
_SEARCH_LIST: Final = {"item_list_id": "search_results", "item_list_name": "Search results"}
_RELATED_LIST: Final = {"item_list_id": "related_products", "item_list_name": "You may also like"}
_HOUR: Final = 3600.0

_encode = msgspec.json.Encoder().encode


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class Noise:
    """The imperfections a real pipeline sees, each as a rate (0 turns it off).

    bots: share of visits made by crawlers (valid events; the server flags them is_bot).
    malformed: malformed events added per valid event; each breaks one rule.
    retries: share of requests the client sends a second time (its answer was lost).
    conflicts: events re-sent under an earlier event's id with another payload, per valid event.
    late: share of visits whose events reach the server 1-70 hours after they happened.
    too_late: share of visits that arrive more than 72 hours late (all rejected as stale).
    skewed_clocks: share of visitors whose device clock is minutes to hours off (valid:
    the server corrects with sent_ts).
    """

    bots: float = 0.03
    malformed: float = 0.003
    retries: float = 0.01
    conflicts: float = 0.0005
    late: float = 0.01
    too_late: float = 0.001
    skewed_clocks: float = 0.05

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Noise.{name} is a rate between 0 and 1, not {value!r}")
        if self.late + self.too_late > 1.0:
            raise ValueError("Noise.late + Noise.too_late cannot exceed 1")

    @classmethod
    def none(cls) -> Noise:
        """Clean traffic: every event valid, no duplicates, nothing late, no bots."""
        return cls(bots=0.0, malformed=0.0, retries=0.0, conflicts=0.0, late=0.0, too_late=0.0, skewed_clocks=0.0)


@dataclass(frozen=True, slots=True)
class Batching:
    """When the simulated SDK sends: `max_events` queued, `interval_s` after the first queued
    event, and (with `on_page_leave`) whenever a page is left. Defaults are the SDK's."""

    max_events: int = 20
    interval_s: float = 5.0
    on_page_leave: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.max_events <= MAX_REQUEST_EVENTS:
            raise ValueError(f"Batching.max_events must be 1..{MAX_REQUEST_EVENTS}, not {self.max_events}")
        if self.interval_s <= 0:
            raise ValueError(f"Batching.interval_s must be positive, not {self.interval_s}")


@dataclass(frozen=True, slots=True)
class Request:
    """One `POST /v1/events` as a browser sent it, and what the generator knows about it.

    `events` are in the SDK's wire format; `body()` is the exact request body. `key` is unique
    and stable for the seed (the seeder derives request ids from it). The labels say what the
    pipeline must make of the events: `rejections` maps an event's index to the code
    `validate_event` gives it, `duplicates` are indices of events sent before with the same id
    and payload (apart from `sent_ts`, which the SDK stamps at every attempt), `conflicts` are
    indices of events that reuse an earlier event's id with another payload. `bot`: a crawler
    sent it; `retry`: it repeats an earlier request; `late`: its events happened 1-70 hours
    before it was sent.
    """

    received_at: datetime
    events: list[dict[str, Any]]
    user_agent: str
    source_ip: str
    signed_in_sub: str | None
    key: str
    bot: bool = False
    retry: bool = False
    late: bool = False
    rejections: Mapping[int, Code] = field(default_factory=dict)
    duplicates: tuple[int, ...] = ()
    conflicts: tuple[int, ...] = ()

    def body(self) -> bytes:
        """The request body, `{"events": [...]}`, as the SDK serialises it."""
        return _encode({"events": self.events})


DEFAULT_NOISE: Final = Noise()
SDK_BATCHING: Final = Batching()


# --------------------------------------------------------------------------- seasonality

# Relative visits by local hour (Central European time), weekdays and weekends: a night
# trough, a lunch bump, the evening peak after work; weekends start later and spread out.
_WEEKDAY = (0.30, 0.18, 0.11, 0.08, 0.08, 0.12, 0.28, 0.52, 0.72, 0.82, 0.88, 0.95,
            1.08, 1.02, 0.95, 0.94, 0.98, 1.10, 1.32, 1.62, 1.78, 1.62, 1.18, 0.62)
_WEEKEND = (0.40, 0.26, 0.16, 0.10, 0.08, 0.08, 0.14, 0.28, 0.52, 0.80, 1.02, 1.16,
            1.22, 1.20, 1.18, 1.14, 1.14, 1.18, 1.28, 1.44, 1.50, 1.36, 1.02, 0.58)
_DAY_FACTOR = (1.0, 1.02, 1.0, 0.98, 0.90, 0.88, 1.08)  # Monday .. Sunday
_MEAN_WEIGHT = sum(f * sum(_WEEKEND if d >= 5 else _WEEKDAY) for d, f in enumerate(_DAY_FACTOR)) / 168


def hourly_weight(moment: datetime) -> float:
    """Visits in the hour of `moment` relative to the weekly mean (the mean over a week is 1)."""
    moment = moment.astimezone(UTC)
    local = moment + timedelta(minutes=devices.tz_offset_min("eu", moment))
    day = local.weekday()
    profile = _WEEKEND if day >= 5 else _WEEKDAY
    return profile[local.hour] * _DAY_FACTOR[day] / _MEAN_WEIGHT


# --------------------------------------------------------------------------- small fast helpers

_UUID_CLEAR: Final = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_SET: Final = (0x4 << 76) | (0x2 << 62)


def _uuid4(rng: random.Random) -> str:
    # uuid.uuid4() reads os.urandom (not reproducible) and uuid.UUID(int=...) is ~3x slower.
    h = ((rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET).to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Clock:
    """ISO-8601 UTC with milliseconds and Z (the SDK's format), cached per whole second:
    strftime costs more than everything else an event needs."""

    __slots__ = ("_seconds",)

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def iso(self, ts: float) -> str:
        second = math.floor(ts)
        base = self._seconds.get(second)
        if base is None:
            if len(self._seconds) > 200_000:
                self._seconds.clear()
            base = self._seconds[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{base}.{int((ts - second) * 1000):03d}Z"


def _pick(rng: random.Random, options: tuple[tuple[float, Any], ...]) -> Any:
    """The value of the first option whose cumulative probability exceeds a draw; None (leave
    the site) when the probabilities sum to less than the draw."""
    r = rng.random()
    for probability, value in options:
        r -= probability
        if r < 0:
            return value
    return None


def _dwell(rng: random.Random, median_s: float, sigma: float = 0.9) -> float:
    return min(_MAX_DWELL_S, max(1.0, rng.lognormvariate(math.log(median_s), sigma)))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 60:  # normal approximation; exact enough for visit counts
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _hour_tag(ts: float) -> str:
    return time.strftime("%Y%m%dT%H", time.gmtime(ts))


# --------------------------------------------------------------------------- catalogue views


def _item(product: Product, variant: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"item_id": product.item_id, "item_name": product.name,
                            "item_category": product.category.name, "item_brand": product.brand}
    if variant:
        item["item_variant"] = variant
    item["price"] = product.price
    return item


def _listed(products: list[Product]) -> list[dict[str, Any]]:
    return [{**_item(p), "quantity": 1, "index": i} for i, p in enumerate(products)]


def _money(amount: float) -> float:
    return round(amount + 1e-9, 2)  # 1e-9: 0.125 -> 0.13 as a till would, despite binary floats


# Site-search terms with relative frequencies; the last group finds nothing in the catalogue.
SEARCH_TERMS: Final[tuple[tuple[str, float], ...]] = (
    ("kettle", 6), ("mug", 5), ("coffee", 5), ("tea", 4), ("coffee grinder", 3), ("french press", 3),
    ("espresso", 3), ("teapot", 2), ("knife", 3), ("skillet", 2), ("towel", 4), ("lamp", 5), ("desk lamp", 3),
    ("candle", 3), ("blanket", 3), ("duvet cover", 2), ("pillow", 2), ("rug", 3), ("curtains", 2),
    ("planter", 2), ("watering can", 1), ("notebook", 2), ("pen", 1), ("office chair", 3), ("keyboard", 2),
    ("mouse", 2), ("plates", 2), ("wine glasses", 2), ("cutlery", 2), ("napkins", 1), ("bathrobe", 2),
    ("bath mat", 1), ("string lights", 2), ("cushion", 2), ("linen", 2), ("scale", 1), ("frother", 1),
    ("garden chair", 1), ("bulb", 1), ("oak", 1),
    ("sofa", 2), ("gift card", 2), ("iphone case", 1), ("dishwasher", 1), ("mattress", 1), ("tv stand", 1),
    ("vacuum", 1), ("nespresso pods", 1), ("bbq", 1), ("kettel", 1), ("ikea", 1), ("air fryer", 1),
)


def search_results(term: str) -> list[Product]:
    """What the demo shop's search box finds: products whose name, brand or category hold
    every word of the term (popular first, at most 12)."""
    words = search_words(term)
    found = [p for p in CATALOGUE if words and words <= p.search_text]
    return sorted(found, key=lambda p: -p.popularity)[:12]


# --------------------------------------------------------------------------- acquisition

_SEARCH_ENGINES = (
    (0.55, "https://www.google.com/"), (0.30, "local-google"), (0.12, "https://www.bing.com/"),
    (0.03, "https://duckduckgo.com/"),
)
_LOCAL_GOOGLE = {"de": "https://www.google.de/", "fr": "https://www.google.fr/", "nl": "https://www.google.nl/",
                 "en-GB": "https://www.google.co.uk/", "es": "https://www.google.es/", "it": "https://www.google.it/",
                 "pl": "https://www.google.pl/", "sv": "https://www.google.se/", "de-AT": "https://www.google.at/"}
_SOCIAL = (
    (0.34, ("facebook", "https://l.facebook.com/")), (0.10, ("facebook", "https://m.facebook.com/")),
    (0.26, ("instagram", "https://l.instagram.com/")), (0.14, ("pinterest", "https://www.pinterest.com/")),
    (0.10, ("reddit", "https://www.reddit.com/")), (0.06, ("twitter", "https://t.co/")),
)
_SOCIAL_CAMPAIGNS = ("autumn_home", "new_in_lighting", "cosy_textiles", "coffee_week")
_REFERRALS = (
    "https://www.cosyhome-journal.net/best-kettles-2026/", "https://www.kitchenreviews.org/coffee-grinders-tested",
    "https://forum.homebarista.net/t/which-grinder/48213", "https://www.reddit.com/r/BuyItForLife/",
    "https://www.smallflat-living.com/desk-setup/", "https://news.ycombinator.com/",
    "https://www.gardenersblog.eu/balcony-herbs", "https://www.lightingdesign-mag.com/paper-lamps",
)
_EMAIL_CAMPAIGNS = ("winter_sale", "new_arrivals", "abandoned_cart", "loyalty_10")
_EMAIL_CONTENT = ("hero_banner", "product_grid", "footer_link", "cta_button")
# channel -> (share of new visitors' visits, of returning visitors' visits, purchase propensity)
_CHANNELS = (
    ("direct", 0.22, 0.38, 1.3), ("organic", 0.33, 0.22, 1.0), ("paid", 0.11, 0.08, 1.2),
    ("social", 0.14, 0.08, 0.5), ("email", 0.05, 0.16, 1.6), ("referral", 0.15, 0.08, 0.8),
)
_DEVICE_PROPENSITY = {"desktop": 1.2, "mobile": 0.75, "tablet": 0.95}


def _click_id(rng: random.Random, prefix: str, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


# --------------------------------------------------------------------------- malformed events

# (kind, relative frequency): what buggy integrations and hand-written calls get wrong.
_MALFORMED_KINDS = (
    (Code.bad_event_name, 3), (Code.missing_field, 3), (Code.bad_currency, 2), (Code.negative_amount, 2),
    (Code.missing_currency, 2), (Code.missing_transaction_id, 1), (Code.item_without_id, 1),
    (Code.unknown_field, 2), (Code.bad_event_id, 1), (Code.bad_timestamp, 1), (Code.bad_type, 1),
)
_MALFORMED_CODES = tuple(k for k, _ in _MALFORMED_KINDS)
_MALFORMED_WEIGHTS = tuple(itertools.accumulate(w for _, w in _MALFORMED_KINDS))


def _malformed(event: dict[str, Any], code: Code, rng: random.Random, clock_iso: str) -> dict[str, Any]:
    """A copy of a valid event broken so that validate_event answers exactly `code`."""
    bad = dict(event)
    bad["event_id"] = _uuid4(rng)
    product = rng.choice(CATALOGUE)
    if code is Code.bad_event_name:
        bad["event_name"] = rng.choice(("Add To Cart", "addToCart", "page-view", "Purchase", "1st_visit", ""))
    elif code is Code.missing_field:
        del bad[rng.choice(("session_id", "anonymous_id", "event_ts", "app_id", "sdk"))]
    elif code is Code.bad_currency:
        bad["event_name"] = "add_to_cart"
        bad["ecommerce"] = {"currency": rng.choice(("EURO", "eur", "€", "Euro", "EU")), "value": product.price,
                            "items": [{**_item(product), "quantity": 1}]}
    elif code is Code.negative_amount:
        bad["event_name"] = "add_to_cart"
        bad["ecommerce"] = {"currency": CURRENCY, "value": product.price,
                            "items": [{**_item(product), "price": -product.price, "quantity": 1}]}
    elif code is Code.missing_currency:
        bad["event_name"] = "view_item"
        bad["ecommerce"] = {"value": product.price, "items": [{**_item(product), "quantity": 1}]}
    elif code is Code.missing_transaction_id:
        bad["event_name"] = "purchase"
        bad["ecommerce"] = {"currency": CURRENCY, "value": product.price, "items": [{**_item(product), "quantity": 1}]}
    elif code is Code.item_without_id:
        item = {k: v for k, v in _item(product).items() if k != "item_id"}
        if rng.random() < 0.5:
            item = {"item_id": "", **item}
        bad["event_name"] = "view_item"
        bad["ecommerce"] = {"currency": CURRENCY, "value": product.price, "items": [item]}
    elif code is Code.unknown_field:
        bad[rng.choice(("userId", "customer_email", "pageTitle", "revenue"))] = rng.choice(("12345", "x", 1))
    elif code is Code.bad_event_id:
        bad["event_id"] = rng.choice(("evt-000123", "1", "null", "3f6c2a4e8b1d4c5e9f7a2d3b4c5d6e7f"))
    elif code is Code.bad_timestamp:
        bad["event_ts"] = rng.choice((clock_iso.replace("T", " ")[:19], clock_iso[:19], "yesterday", ""))
    elif code is Code.bad_type:
        bad["event_seq"] = str(event.get("event_seq", 1))
    else:  # pragma: no cover - the table above lists every kind
        raise AssertionError(code)
    return bad


# --------------------------------------------------------------------------- visitors


@dataclass(slots=True)
class _Visitor:
    anonymous_id: str
    agent: devices.Agent
    screen: tuple[int, int, int, int]
    locale: devices.Locale
    ip: str
    skew_s: float  # device clock minus true time
    sub: str | None  # registered visitors' Cognito sub
    returning: bool


# Labels carried beside events until they are batched; an entry without an event is a
# marker: the page was left (the SDK flushes unless told otherwise), or a flush() call.
_CONFLICT: Final = "conflict"
_LEAVE: Final = "leave"
_FLUSH: Final = "flush"


class _Visit:
    """One session in the making: its identity and page, its clock, and its timeline of
    (true time, event, label) entries."""

    __slots__ = ("anonymous_id", "campaign", "cart", "client_offset", "clock", "device", "followups", "last",
                 "nrng", "noise", "page", "pages", "propensity", "referrer", "rng", "seq", "session_id", "signin_t", "t",
                 "t0", "timeline", "too_late", "valid", "visitor")

    def __init__(self, sim: _Simulation, rng: random.Random, nrng: random.Random, t0: float, visitor: _Visitor,
                 *, campaign: dict[str, str] | None, referrer: str | None, shift_s: float, too_late: bool) -> None:
        self.rng, self.nrng, self.noise, self.clock = rng, nrng, sim.noise, sim.clock
        self.t0 = self.t = self.last = t0
        self.visitor = visitor
        self.anonymous_id = visitor.anonymous_id
        self.session_id = _uuid4(rng)
        self.seq = 0
        self.campaign = campaign
        self.referrer = referrer
        # event_ts is the device's clock at the event: true time + skew, minus the delay of
        # a late delivery (the events happened shift_s before they are sent).
        self.client_offset = visitor.skew_s - shift_s
        self.too_late = too_late
        self.page: dict[str, Any] = {}
        self.pages = 0
        w, h, vw, vh = visitor.screen
        moment = datetime.fromtimestamp(t0 - shift_s, UTC)
        self.device = {"screen_w": w, "screen_h": h, "viewport_w": vw, "viewport_h": vh,
                       "language": visitor.locale.language,
                       "tz_offset_min": devices.tz_offset_min(visitor.locale.zone, moment)}
        self.timeline: list[tuple[float, dict[str, Any] | None, Any]] = []
        self.valid: list[dict[str, Any]] = []
        self.cart: list[list[Any]] = []  # [product, variant, quantity]
        self.followups: list[tuple[float, str, Request]] = []  # later visits this one causes (refunds)
        self.signin_t = math.inf
        self.propensity = 1.0

    # -- events

    def emit(self, name: str, dt: float = 0.0, properties: dict[str, Any] | None = None,
             ecommerce: dict[str, Any] | None = None) -> None:
        # Events are stamped and numbered in the order they happen: never before the last one.
        t = self.last = max(self.t + dt, self.last + 0.005)
        self.seq += 1
        event: dict[str, Any] = {
            "event_id": _uuid4(self.rng), "event_name": name, "event_ts": self.clock.iso(t + self.client_offset),
            "app_id": APP_ID, "platform": "web", "sdk": SDK, "schema_version": 1,
            "anonymous_id": self.anonymous_id, "session_id": self.session_id, "event_seq": self.seq,
            "page": self.page,
        }
        if self.campaign is not None:
            event["campaign"] = self.campaign
        event["device"] = self.device
        event["consent"] = CONSENT
        if properties:
            event["properties"] = properties
        if ecommerce:
            event["ecommerce"] = ecommerce
        if self.too_late:
            self.timeline.append((t, event, Code.stale_timestamp))
            return
        self.timeline.append((t, event, None))
        self.valid.append(event)
        noise, nrng = self.noise, self.nrng
        if noise.malformed and nrng.random() < noise.malformed:
            code = nrng.choices(_MALFORMED_CODES, cum_weights=_MALFORMED_WEIGHTS)[0]
            self.timeline.append((t, _malformed(event, code, nrng, event["event_ts"]), code))
        if noise.conflicts and len(self.valid) > 1 and nrng.random() < noise.conflicts:
            self.timeline.append((t, self._conflicting(nrng.choice(self.valid[:-1]), t), _CONFLICT))

    def _conflicting(self, original: dict[str, Any], t: float) -> dict[str, Any]:
        # A buggy client (or a tag manager replaying its own cache) reusing an id for a new
        # event: same id, new time and sequence number, different properties.
        copy = dict(original)
        copy["event_ts"] = self.clock.iso(t + self.client_offset)
        copy["event_seq"] = self.seq
        copy["properties"] = {**original.get("properties", {}), "replayed": True}
        return copy

    def open(self, path: str, title: str, query: str = "") -> None:
        """A page load: the page object its events share, then its page_view."""
        url = SHOP_ORIGIN + path + query
        page: dict[str, Any] = {"url": url, "path": path, "title": title}
        if self.referrer:
            page["referrer"] = self.referrer
        page["page_view_id"] = _uuid4(self.rng)
        self.page = page
        self.referrer = url
        self.emit("page_view")

    def leave(self, dwell: float, click: tuple[str | None, str, str] | None = None, *, engaged: bool = True) -> None:
        """The visitor leaves the page after `dwell` seconds, by a link (`click`) or not."""
        rng = self.rng
        if engaged and rng.random() < 0.003:  # the footer's newsletter form (a data-cs-event click)
            self.emit("newsletter_signup", dwell * 0.9, {"element_id": "newsletter-signup", "element_text": "Subscribe"})
        if click is not None:
            element_id, text, path = click
            properties: dict[str, Any] = {"element_id": element_id} if element_id else {}
            properties["element_text"] = text
            properties["link_url"] = SHOP_ORIGIN + path
            self.emit("click", dwell - 0.05, properties)
        if engaged:
            # engaged_ms counts time visible *and* focused, so it is below the dwell time.
            self.emit("user_engagement", dwell, {"engaged_ms": int(dwell * 1000 * rng.uniform(0.45, 1.0))})
        left = self.last = max(self.t + dwell, self.last)
        self.timeline.append((left, None, _LEAVE))
        self.t = left + rng.uniform(0.2, 1.5)  # the next page loads
        self.pages += 1

    def flush(self, t: float) -> None:
        """The page calls the SDK's flush() at true time `t`: what is queued goes out now."""
        self.timeline.append((max(t, self.last), None, _FLUSH))

    # -- the cart

    def cart_value(self, lines: list[list[Any]] | None = None) -> float:
        return _money(sum(p.price * q for p, _, q in (self.cart if lines is None else lines)))

    def cart_ecommerce(self, lines: list[list[Any]] | None = None, **extra: Any) -> dict[str, Any]:
        lines = self.cart if lines is None else lines
        items = [{**_item(p, v), "quantity": q, "index": i} for i, (p, v, q) in enumerate(lines)]
        return {"currency": CURRENCY, "value": self.cart_value(lines), **extra, "items": items}

    def signed_in(self) -> bool:
        return self.signin_t <= self.t


# --------------------------------------------------------------------------- the simulation


class _Simulation:
    """Everything that does not change between visits: catalogue views, weights, population."""

    def __init__(self, seed: int, visitors_per_hour: float, noise: Noise, batching: Batching) -> None:
        if visitors_per_hour < 0:
            raise ValueError(f"visitors_per_hour must not be negative, not {visitors_per_hour}")
        self.seed, self.noise, self.batching = seed, noise, batching
        self.clock = _Clock()
        # Returning visitors are drawn from about four days of visits' worth of people, with a
        # skew: a few regulars come back every day or two, most people once in a while.
        self.population = max(200, int(visitors_per_hour * 96))
        self._visitors: dict[int, _Visitor] = {}
        humans, bots = devices.agents(), devices.bot_agents()
        self.agents, self.agent_weights = humans, list(itertools.accumulate(a.weight for a in humans))
        self.bots, self.bot_weights = bots, list(itertools.accumulate(a.weight for a in bots))
        self.locales = devices.locales()
        self.locale_weights = list(itertools.accumulate(loc.weight for loc in self.locales))
        self.products = CATALOGUE
        self.product_weights = list(itertools.accumulate(p.popularity for p in CATALOGUE))
        self.by_category: dict[Category, list[Product]] = {
            c: sorted((p for p in CATALOGUE if p.category == c), key=lambda p: -p.popularity) for c in CATEGORIES
        }
        self.category_lists = {c: _listed(ps) for c, ps in self.by_category.items()}
        self.popular = sorted(CATALOGUE, key=lambda p: -p.popularity)[:8]
        self.popular_list = _listed(self.popular)
        self.related = {p: [q for q in self.by_category[p.category] if q is not p][:4] for p in CATALOGUE}
        self.related_lists = {p: _listed(r) for p, r in self.related.items()}
        self.category_weights = list(itertools.accumulate(
            sum(p.popularity for p in self.by_category[c]) for c in CATEGORIES))
        self.terms = [t for t, _ in SEARCH_TERMS]
        self.term_weights = list(itertools.accumulate(w for _, w in SEARCH_TERMS))
        self.results = {t: search_results(t) for t in self.terms}
        self.result_lists = {t: _listed(ps) for t, ps in self.results.items()}
        self.found_terms = [t for t in self.terms if self.results[t]]
        # Ad keywords per product: the search terms that find it.
        self.keywords = {p: [t for t in self.found_terms if p in self.results[t]] for p in CATALOGUE}
        self.channel_weights = (
            list(itertools.accumulate(c[1] for c in _CHANNELS)),
            list(itertools.accumulate(c[2] for c in _CHANNELS)),
        )

    # -- visitors

    def _new_visitor(self, rng: random.Random, *, returning: bool, registered: bool) -> _Visitor:
        agent = rng.choices(self.agents, cum_weights=self.agent_weights)[0]
        locale = rng.choices(self.locales, cum_weights=self.locale_weights)[0]
        roll = rng.random()
        skewed = self.noise.skewed_clocks
        if roll < skewed * 0.75:
            skew = rng.choice((-1, 1)) * rng.uniform(30, 900)
        elif roll < skewed:
            skew = rng.choice((-1, 1)) * rng.uniform(3600, 5 * 3600)
        else:
            skew = rng.gauss(0, 0.8)
        return _Visitor(
            anonymous_id=_uuid4(rng), agent=agent, screen=devices.screen_for(agent.device, rng), locale=locale,
            ip=devices.random_ip(rng), skew_s=skew, sub=_uuid4(rng) if registered else None, returning=returning,
        )

    def _returning_visitor(self, k: int) -> _Visitor:
        visitor = self._visitors.get(k)
        if visitor is None:
            if len(self._visitors) > 500_000:
                self._visitors.clear()
            # Its own stream, so a returning visitor is the same person whenever they come back.
            rng = random.Random(f"{self.seed}:visitor:{k}")
            visitor = self._visitors[k] = self._new_visitor(rng, returning=True, registered=k % 5 < 2)
        return visitor

    # -- one visit

    def session(self, key: str, t0: float) -> list[tuple[float, str, Request]]:
        """The requests of the visit named `key` starting at `t0`, as (received, key, request)."""
        rng = random.Random(f"{self.seed}:{key}")
        nrng = random.Random(f"{self.seed}:{key}:noise")
        noise = self.noise
        if noise.bots and nrng.random() < noise.bots:
            return self._bot(rng, nrng, key, t0)
        if rng.random() < 0.4:
            # Returning visitors: a skewed draw, so some come back often and most rarely.
            visitor = self._returning_visitor(int(self.population * rng.random() ** 1.6))
        else:
            visitor = self._new_visitor(rng, returning=False, registered=False)
        roll = nrng.random()
        if roll < noise.too_late:
            shift, too_late = rng.uniform(72 * 3600 + 600, 120 * 3600), True
        elif roll < noise.too_late + noise.late:
            shift, too_late = min(_LATE_MAX_S, 3600 + rng.expovariate(1 / (8 * 3600))), False
        else:
            shift, too_late = 0.0, False
        channel_index = rng.choices(range(len(_CHANNELS)), cum_weights=self.channel_weights[visitor.returning])[0]
        channel, _, _, channel_propensity = _CHANNELS[channel_index]
        referrer, campaign, query, landing = self._acquisition(rng, channel, visitor, t0 - shift)
        visit = _Visit(self, rng, nrng, t0, visitor, campaign=campaign, referrer=referrer, shift_s=shift,
                       too_late=too_late)
        if visitor.sub and rng.random() < 0.55:
            visit.signin_t = -math.inf  # still signed in from an earlier visit
        visit.propensity = (channel_propensity * _DEVICE_PROPENSITY[visitor.agent.device]
                            * (1.4 if visitor.returning else 1.0) * (1.3 if visit.signed_in() else 1.0))
        self._browse(visit, landing, query)
        return self._requests(visit, key, bot=False, late=shift > 0 and not too_late) + visit.followups

    def _acquisition(self, rng: random.Random, channel: str, visitor: _Visitor, t: float
                     ) -> tuple[str | None, dict[str, str] | None, str, tuple[str, Any]]:
        """Referrer, campaign (as the SDK reads it from the landing URL), landing query, landing page."""
        product = rng.choices(self.products, cum_weights=self.product_weights)[0]
        category = rng.choices(CATEGORIES, cum_weights=self.category_weights)[0]
        if channel == "direct":
            return None, None, "", _pick(rng, ((0.62, ("home", None)), (0.25, ("product", product)))) or (
                "category", category)
        if channel == "organic":
            engine = _pick(rng, _SEARCH_ENGINES)
            if engine == "local-google":
                language = visitor.locale.language
                engine = _LOCAL_GOOGLE.get(language, _LOCAL_GOOGLE.get(language[:2], "https://www.google.com/"))
            return engine, None, "", _pick(rng, ((0.5, ("product", product)), (0.3, ("category", category)))) or (
                "home", None)
        if channel == "paid":
            category = product.category
            name = _pick(rng, ((0.25, "brand_search"), (0.25, "shopping_all"))) or f"generic_{category.slug}"
            keywords = self.keywords[product]
            term = rng.choice(keywords) if keywords and rng.random() < 0.6 else category.name.lower().replace(" & ", " ")
            if rng.random() < 0.85:
                source, click_key, click = "google", "gclid", _click_id(rng, "Cj0KCQiA", rng.randrange(60, 80))
                referrer = "https://www.google.com/"
            else:
                source, click_key, click = "bing", "msclkid", f"{rng.getrandbits(128):032x}"
                referrer = "https://www.bing.com/"
            campaign = {"click_id": click, "source": source, "medium": "cpc", "name": name, "term": term}
            query = (f"?utm_source={source}&utm_medium=cpc&utm_campaign={name}&utm_term={term.replace(' ', '+')}"
                     f"&{click_key}={click}")
            landing = ("product", product) if rng.random() < 0.55 else ("category", category)
            return referrer, campaign, query, landing
        if channel == "social":
            network, referrer = _pick(rng, _SOCIAL) or ("facebook", "https://l.facebook.com/")
            campaign: dict[str, str] = {}
            params: list[str] = []
            if network in ("facebook", "instagram"):
                campaign["click_id"] = _click_id(rng, "IwAR", rng.randrange(50, 60))
            if rng.random() < 0.45 and network in ("facebook", "instagram", "pinterest"):
                medium = "paid_social" if rng.random() < 0.5 else "social"
                name = rng.choice(_SOCIAL_CAMPAIGNS)
                campaign.update(source=network, medium=medium, name=name)
                params += [f"utm_source={network}", f"utm_medium={medium}", f"utm_campaign={name}"]
            if "click_id" in campaign:
                params.append(f"fbclid={campaign['click_id']}")
            query = "?" + "&".join(params) if params else ""
            landing = _pick(rng, ((0.7, ("product", product)), (0.2, ("category", category)))) or ("home", None)
            return referrer, campaign or None, query, landing
        if channel == "email":
            iso_year, iso_week, _ = datetime.fromtimestamp(t, UTC).isocalendar()
            name = f"weekly_{iso_year}_{iso_week:02d}" if rng.random() < 0.7 else rng.choice(_EMAIL_CAMPAIGNS)
            content = rng.choice(_EMAIL_CONTENT)
            campaign = {"source": "newsletter", "medium": "email", "name": name, "content": content}
            query = f"?utm_source=newsletter&utm_medium=email&utm_campaign={name}&utm_content={content}"
            landing = _pick(rng, ((0.5, ("category", category)), (0.3, ("product", product)))) or ("home", None)
            return None, campaign, query, landing
        # referral
        referrer = rng.choice(_REFERRALS)
        return referrer, None, "", _pick(rng, ((0.6, ("product", product)), (0.2, ("category", category)))) or (
            "home", None)

    # -- pages: each handler shows a page, emits its events, leaves it, and says where to go next.
    # They mirror web/shop: the same URLs, lists (ids and names), element ids, search rule,
    # delivery charge and checkout steps, so seeded and real clicks read the same.

    def _browse(self, visit: _Visit, landing: tuple[str, Any], query: str) -> None:
        handlers = {"home": self._home, "category": self._category, "product": self._product,
                    "search": self._search, "cart": self._cart, "signin": self._signin,
                    "checkout": self._checkout, "thanks": self._thanks}
        step: tuple[str, Any] | None = landing
        while step is not None:
            kind, arg = step
            step = handlers[kind](visit, arg, query)
            query = ""  # only the landing URL carries the campaign parameters
            if visit.pages >= _MAX_PAGES or visit.t - visit.t0 > _MAX_SESSION_S:
                break

    @staticmethod
    def _time_on_page(visit: _Visit, median_s: float, *, leaving: bool, sigma: float = 0.9) -> float:
        # Most visitors who leave from the page they landed on decide within seconds (GA4's
        # "not engaged"); everyone else reads for a while.
        if leaving and visit.pages == 0 and visit.rng.random() < 0.7:
            return _dwell(visit.rng, 5.0, 0.7)
        return _dwell(visit.rng, median_s, sigma)

    def _exit_bias(self, visit: _Visit) -> float:
        # Landing pages lose more visitors than later ones; buyers stay longer.
        return (1.25 if visit.pages == 0 else 1.0) / max(0.6, visit.propensity) ** 0.3

    def _select(self, visit: _Visit, dwell: float, products: list[Product], listed: list[dict[str, Any]],
                list_id: str, list_name: str, decay: float) -> Product:
        """A click on a product card: select_item with the card's position, then the link click."""
        index = min(int(visit.rng.expovariate(decay)), len(listed) - 1)  # people click the top of a list
        product = products[index]
        visit.emit("select_item", dwell - 0.1, {"item_list_id": list_id, "item_list_name": list_name},
                   {"currency": CURRENCY, "items": [listed[index]]})
        visit.leave(dwell, (None, f"{product.brand} {product.name} €{product.price:.2f}", product.path))
        return product

    def _home(self, visit: _Visit, _: Any, query: str) -> tuple[str, Any] | None:
        rng = visit.rng
        visit.open("/", SHOP_NAME, query)
        visit.emit("view_item_list", rng.uniform(0.2, 0.8), dict(_POPULAR_LIST),
                   {"currency": CURRENCY, "items": self.popular_list})
        stay = 1 - 0.3 * self._exit_bias(visit)
        step = _pick(rng, ((0.5 * stay, "category"), (0.22 * stay, "search"), (0.22 * stay, "product"),
                           (0.06 * stay if visit.cart else 0.0, "cart")))
        dwell = self._time_on_page(visit, 14, leaving=step is None)
        if step == "category":
            category = rng.choices(CATEGORIES, cum_weights=self.category_weights)[0]
            element = f"tile-{category.slug}" if rng.random() < 0.5 else f"nav-{category.slug}"
            visit.leave(dwell, (element, category.name, category.path))
            return "category", category
        if step == "product":
            return "product", self._select(visit, dwell, self.popular, self.popular_list, *_POPULAR_LIST.values(),
                                           decay=0.35)
        if step == "cart":
            visit.leave(dwell, ("cart-link", "Cart", "/cart"))
            return "cart", None
        visit.leave(dwell)
        return ("search", None) if step == "search" else None

    def _category(self, visit: _Visit, category: Category, query: str) -> tuple[str, Any] | None:
        rng = visit.rng
        visit.open(category.path, category.name, query)
        listed = self.category_lists[category]
        visit.emit("view_item_list", rng.uniform(0.2, 0.8),
                   {"item_list_id": category.slug, "item_list_name": category.name},
                   {"currency": CURRENCY, "items": listed})
        stay = 1 - 0.32 * self._exit_bias(visit)
        step = _pick(rng, ((0.8 * stay, "select"), (0.12 * stay, "category"), (0.08 * stay, "search")))
        dwell = self._time_on_page(visit, 22, leaving=step is None)
        if step == "select":
            return "product", self._select(visit, dwell, self.by_category[category], listed, category.slug,
                                           category.name, decay=0.45)
        if step == "category":
            other = rng.choice([c for c in CATEGORIES if c != category])
            visit.leave(dwell, (f"nav-{other.slug}", other.name, other.path))
            return "category", other
        visit.leave(dwell)
        return ("search", None) if step == "search" else None

    def _search(self, visit: _Visit, term: str | None, query: str) -> tuple[str, Any] | None:
        rng = visit.rng
        if term is None:
            term = rng.choices(self.terms, cum_weights=self.term_weights)[0]
        results = self.results[term]
        typed = term.capitalize() if rng.random() < 0.15 else term
        # The SDK keeps only UTM and click-id parameters, so the URL loses ?q=...; its
        # autotrack sends the term as the search event (and nothing about the results: a
        # search that found nothing is one without a search_results list on its page view).
        visit.open("/search", "Search", query)
        visit.emit("search", 0.05, {"search_term": typed})
        if not results:
            # Nothing found: never a product view next; another try, a category, or gone.
            step = _pick(rng, ((0.35, "again"), (0.1, "category")))
            dwell = self._time_on_page(visit, 8, leaving=step is None)
            if step == "category":
                category = rng.choice(CATEGORIES)
                visit.leave(dwell, (None, category.name, category.path))  # the page suggests the categories
                return "category", category
            visit.leave(dwell)
            return ("search", rng.choice(self.found_terms)) if step == "again" else None
        listed = self.result_lists[term]
        visit.emit("view_item_list", rng.uniform(0.2, 0.6), dict(_SEARCH_LIST), {"currency": CURRENCY, "items": listed})
        stay = 1 - 0.3 * self._exit_bias(visit)
        step = _pick(rng, ((0.85 * stay, "select"), (0.1 * stay, "again")))
        dwell = self._time_on_page(visit, 12, leaving=step is None)
        if step == "select":
            return "product", self._select(visit, dwell, results, listed, *_SEARCH_LIST.values(), decay=0.6)
        visit.leave(dwell)
        return ("search", rng.choice(self.found_terms)) if step == "again" else None

    def _product(self, visit: _Visit, product: Product, query: str) -> tuple[str, Any] | None:
        rng = visit.rng
        visit.open(product.path, product.name, query)
        variant = rng.choice(product.variants) if product.variants else None
        item = _item(product, variant)
        visit.emit("view_item", rng.uniform(0.2, 0.7), None,
                   {"currency": CURRENCY, "value": product.price, "items": [{**item, "quantity": 1, "index": 0}]})
        related = self.related[product]
        visit.emit("view_item_list", rng.uniform(0.7, 1.0), dict(_RELATED_LIST),
                   {"currency": CURRENCY, "items": self.related_lists[product]})
        if rng.random() < min(0.5, 0.075 * visit.propensity):
            dwell = _dwell(rng, 35)
            quantity = _pick(rng, ((0.86, 1), (0.11, 2))) or 3
            visit.emit("add_to_cart", dwell * rng.uniform(0.4, 0.9), None,
                       {"currency": CURRENCY, "value": _money(product.price * quantity),
                        "items": [{**item, "quantity": quantity, "index": 0}]})
            for line in visit.cart:
                if line[0] is product and line[1] == variant:
                    line[2] += quantity
                    break
            else:
                visit.cart.append([product, variant, quantity])
            step = _pick(rng, ((0.55, "cart"), (0.15, "category"), (0.1, "search"), (0.08, "related")))
            cart_link = ("view-cart", "View cart", "/cart") if rng.random() < 0.6 else ("cart-link", "Cart", "/cart")
        else:
            stay = 1 - 0.38 * self._exit_bias(visit)
            step = _pick(rng, ((0.38 * stay, "related"), (0.22 * stay, "category"), (0.12 * stay, "search"),
                               (0.06 * stay, "home"), (0.22 * stay if visit.cart else 0.0, "cart")))
            dwell = self._time_on_page(visit, 35, leaving=step is None)
            cart_link = ("cart-link", "Cart", "/cart")
            if rng.random() < 0.03:  # the shop's "Save for later" button (a data-cs-event click)
                visit.emit("wishlist_add", dwell * 0.6, {"element_id": "wishlist", "element_text": "Save for later"})
        if step == "cart":
            visit.leave(dwell, cart_link)
            return "cart", None
        if step == "related" and related:
            return "product", self._select(visit, dwell, related, self.related_lists[product],
                                           *_RELATED_LIST.values(), decay=0.5)
        if step == "category":
            category = product.category
            visit.leave(dwell, (f"breadcrumb-{category.slug}", category.name, category.path))
            return "category", category
        if step == "home":
            visit.leave(dwell, ("logo", SHOP_NAME, "/"))
            return "home", None
        visit.leave(dwell)
        return ("search", None) if step == "search" else None

    def _cart(self, visit: _Visit, _: Any, query: str) -> tuple[str, Any] | None:
        rng = visit.rng
        visit.open("/cart", "Your cart", query)
        visit.emit("view_cart", rng.uniform(0.2, 0.6), None, visit.cart_ecommerce())
        dwell = _dwell(rng, 25)
        if visit.cart and rng.random() < 0.14:  # the line's "Remove" button
            index = rng.randrange(len(visit.cart))
            removed = visit.cart.pop(index)
            visit.emit("remove_from_cart", dwell * 0.5, None,
                       {"currency": CURRENCY, "value": visit.cart_value([removed]),
                        "items": [{**_item(removed[0], removed[1]), "quantity": removed[2], "index": index}]})
        if not visit.cart:
            visit.leave(dwell)
            return ("category", rng.choice(CATEGORIES)) if rng.random() < 0.3 else None
        step = _pick(rng, ((min(0.85, 0.5 * visit.propensity ** 0.5), "checkout"), (0.2, "shop")))
        if step == "checkout":
            visit.leave(dwell, ("checkout", "Go to checkout", "/checkout"))
            if visit.visitor.sub and not visit.signed_in() and rng.random() < 0.65:
                return "signin", "/checkout"  # a customer with an account signs in first
            return "checkout", None
        if step == "shop":
            visit.leave(dwell, ("logo", SHOP_NAME, "/"))
            return "home", None
        visit.leave(dwell)
        return None

    def _signin(self, visit: _Visit, then: str, query: str) -> tuple[str, Any] | None:
        rng = visit.rng
        visit.open("/signin", "Sign in", query)  # the ?next=... parameter is scrubbed by the SDK
        dwell = _dwell(rng, 20, 0.5)
        # As the shop does: flush what is queued (it goes out anonymous), then identify, so
        # exactly the part of the visit after signing in carries the token; then `login`.
        signed_in = visit.t + dwell * 0.8
        visit.flush(signed_in)
        visit.signin_t = signed_in
        visit.emit("login", dwell * 0.8 + 0.01, {"method": "password"})
        visit.leave(dwell, ("continue", "Continue where you were", then))
        return "checkout", None

    def _checkout(self, visit: _Visit, _: Any, query: str) -> tuple[str, Any] | None:
        rng = visit.rng
        visit.open("/checkout", "Checkout", query)
        visit.emit("begin_checkout", rng.uniform(0.2, 0.6), None, visit.cart_ecommerce())
        dwell = _dwell(rng, 95, 0.6)
        if rng.random() >= 0.74:  # gave up at the delivery form
            visit.leave(dwell)
            return ("cart", None) if rng.random() < 0.2 else None
        method = _pick(rng, ((0.6, "card"), (0.28, "paypal"))) or "klarna"
        visit.emit("add_payment_info", dwell * 0.6, {"payment_type": method}, visit.cart_ecommerce())
        if rng.random() >= 0.84:  # gave up at the review
            visit.leave(dwell)
            return None
        # The order is placed from the review step; the thank-you page only confirms it.
        order = f"ORD-{_hour_tag(visit.t0)}-{visit.session_id[:8].upper()}"
        value = visit.cart_value()
        properties = {"shipping": 0.0 if value >= FREE_SHIPPING_FROM else SHIPPING_FEE,
                      "tax": _money(value * VAT_RATE / (1 + VAT_RATE)), "payment_type": method}
        visit.emit("purchase", dwell * 0.95, properties, visit.cart_ecommerce(transaction_id=order))
        bought = [list(line) for line in visit.cart]
        visit.cart.clear()
        visit.leave(dwell)
        if rng.random() < _REFUND_RATE:
            self._schedule_refund(visit, order, bought)
        return "thanks", None

    def _thanks(self, visit: _Visit, _: Any, query: str) -> tuple[str, Any] | None:
        visit.open("/checkout/thanks", "Thank you", query)
        if visit.rng.random() < 0.15:
            visit.leave(_dwell(visit.rng, 15), ("continue-shopping", "Continue shopping", "/"))
            return "home", None
        visit.leave(_dwell(visit.rng, 15))
        return None

    def _schedule_refund(self, visit: _Visit, order: str, bought: list[list[Any]]) -> None:
        """A refund a few hours to a day and a half later, from the visitor's order page (a new session)."""
        rng = visit.rng
        start = visit.t + rng.uniform(2 * 3600, 36 * 3600)
        refund = _Visit(self, random.Random(f"{self.seed}:{order}:refund"), visit.nrng, start, visit.visitor,
                        campaign=None, referrer=None, shift_s=0.0, too_late=False)
        if visit.visitor.sub:
            refund.signin_t = -math.inf
        refund.open("/account", "Your account")
        refund.leave(_dwell(refund.rng, 8), ("orders-link", "Your orders", f"/account/orders/{order}"))
        refund.open(f"/account/orders/{order}", f"Order {order}")
        lines = bought if len(bought) == 1 or refund.rng.random() < 0.4 else [refund.rng.choice(bought)]
        reason = refund.rng.choice(("damaged", "not_as_described", "changed_mind"))
        refund.emit("refund", refund.rng.uniform(5, 20), {"reason": reason},
                    refund.cart_ecommerce(lines, transaction_id=order))
        refund.leave(_dwell(refund.rng, 25))
        visit.followups += self._requests(refund, f"{order}-refund", bot=False, late=False)

    # -- crawlers

    def _bot(self, rng: random.Random, nrng: random.Random, key: str, t0: float) -> list[tuple[float, str, Request]]:
        agent = rng.choices(self.bots, cum_weights=self.bot_weights)[0]
        mobile = "Mobile" in agent.user_agent
        visitor = _Visitor(anonymous_id=_uuid4(rng), agent=agent,
                           screen=(412, 732, 412, 732) if mobile else (1024, 1024, 1024, 1024),
                           locale=devices.Locale("en-US", "us", 1.0), ip=devices.random_ip(rng, ipv6_share=0.1),
                           skew_s=0.0, sub=None, returning=False)
        visit = _Visit(self, rng, nrng, t0, visitor, campaign=None, referrer=None, shift_s=0.0, too_late=False)
        visit.device["tz_offset_min"] = 0
        # Crawlers walk many pages fast and never focus a page (no engagement, no clicks);
        # the shop's own scripts still fire view_item and view_item_list on load.
        for _ in range(rng.randint(3, 40)):
            if rng.random() < 0.7:
                product = rng.choice(self.products)
                visit.open(product.path, product.name)
                visit.emit("view_item", 0.3, None, {"currency": CURRENCY, "value": product.price,
                                                    "items": [{**_item(product), "quantity": 1, "index": 0}]})
                visit.emit("view_item_list", 0.4, dict(_RELATED_LIST),
                           {"currency": CURRENCY, "items": self.related_lists[product]})
            else:
                category = rng.choice(CATEGORIES)
                visit.open(category.path, category.name)
                visit.emit("view_item_list", 0.3, {"item_list_id": category.slug, "item_list_name": category.name},
                           {"currency": CURRENCY, "items": self.category_lists[category]})
            visit.leave(rng.uniform(0.5, 4.0), engaged=False)
        return self._requests(visit, key, bot=True, late=False)

    # -- batching into requests

    def _batches(self, visit: _Visit) -> list[tuple[float, list[tuple[dict[str, Any], Any]]]]:
        """The SDK's sends: at max_events, interval_s after the first queued event, on page leave."""
        batching = self.batching
        timeline = visit.timeline
        timeline.sort(key=lambda entry: entry[0])  # stable: same-time entries keep their order
        batches: list[tuple[float, list[tuple[dict[str, Any], Any]]]] = []
        pending: list[tuple[dict[str, Any], Any]] = []
        deadline = math.inf
        last = visit.t0
        for t, event, label in timeline:
            if t >= deadline and pending:
                batches.append((deadline, pending))
                pending, deadline = [], math.inf
            last = t
            if event is None:
                if pending and (label is _FLUSH or batching.on_page_leave):
                    batches.append((t, pending))
                    pending, deadline = [], math.inf
                continue
            pending.append((event, label))
            if deadline == math.inf:
                deadline = t + batching.interval_s
            if len(pending) >= batching.max_events:
                batches.append((t, pending))
                pending, deadline = [], math.inf
        if pending:  # the tab is closed: the SDK sends what is left on page hide
            batches.append((last, pending))
        return [part for batch in batches for part in _fit(batch)]

    def _requests(self, visit: _Visit, key: str, *, bot: bool, late: bool) -> list[tuple[float, str, Request]]:
        rng, nrng, noise, clock = visit.rng, visit.nrng, self.noise, self.clock
        visitor = visit.visitor
        out: list[tuple[float, str, Request]] = []
        for number, (send_t, entries) in enumerate(self._batches(visit)):
            sent = clock.iso(send_t + visitor.skew_s)
            events: list[dict[str, Any]] = []
            rejections: dict[int, Code] = {}
            conflicts: list[int] = []
            for index, (event, label) in enumerate(entries):
                event["sent_ts"] = sent
                events.append(event)
                if label is _CONFLICT:
                    conflicts.append(index)
                elif label is not None:
                    rejections[index] = label
            received = math.floor((send_t + 0.03 + min(3.0, rng.expovariate(8.0))) * 1000) / 1000
            sub = visitor.sub if send_t >= visit.signin_t else None
            request_key = f"{key}-{number:03d}"
            out.append((received, request_key, Request(
                received_at=datetime.fromtimestamp(received, UTC), events=events, user_agent=visitor.agent.user_agent,
                source_ip=visitor.ip, signed_in_sub=sub, key=request_key, bot=bot, late=late,
                rejections=rejections, conflicts=tuple(conflicts),
            )))
            if noise.retries and nrng.random() < noise.retries:
                # The answer was lost (a connection dropped after the server had the body):
                # the SDK sends the same events again after its backoff, with a new sent_ts.
                resend_t = received + nrng.uniform(0.5, 20.0)
                resent = clock.iso(resend_t + visitor.skew_s)
                again = math.floor((resend_t + 0.03 + min(3.0, rng.expovariate(8.0))) * 1000) / 1000
                retry_key = f"{request_key}r"
                out.append((again, retry_key, Request(
                    received_at=datetime.fromtimestamp(again, UTC),
                    events=[{**event, "sent_ts": resent} for event in events], user_agent=visitor.agent.user_agent,
                    source_ip=visitor.ip, signed_in_sub=visitor.sub if resend_t >= visit.signin_t else None,
                    key=retry_key, bot=bot, retry=True, late=late, rejections=dict(rejections),
                    # A re-sent conflict stays a conflict: its id's first payload was another.
                    duplicates=tuple(i for i in range(len(events)) if i not in rejections and i not in conflicts),
                    conflicts=tuple(conflicts),
                )))
        return out


# Rough serialised sizes, to avoid encoding every batch just to measure it.
_EVENT_BYTES_ESTIMATE: Final = 1100
_ITEM_BYTES_ESTIMATE: Final = 190


def _fit(batch: tuple[float, list[tuple[dict[str, Any], Any]]]
         ) -> list[tuple[float, list[tuple[dict[str, Any], Any]]]]:
    """Split a batch until each body is within MAX_REQUEST_BYTES, as the SDK's queue does."""
    send_t, entries = batch
    estimate = sum(_EVENT_BYTES_ESTIMATE + _ITEM_BYTES_ESTIMATE * len((e.get("ecommerce") or {}).get("items", ()))
                   for e, _ in entries)
    if estimate < MAX_REQUEST_BYTES // 2 or len(entries) == 1:
        return [batch]
    size = len(_encode({"events": [e for e, _ in entries]})) + 30 * len(entries)  # + room for sent_ts
    if size <= MAX_REQUEST_BYTES:
        return [batch]
    half = len(entries) // 2
    return _fit((send_t, entries[:half])) + _fit((send_t + 0.001, entries[half:]))


# --------------------------------------------------------------------------- public entry points


def _epoch(moment: datetime, name: str) -> float:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime(..., tzinfo=UTC)), not {moment!r}")
    return moment.timestamp()


def generate(
    start: datetime,
    end: datetime,
    *,
    seed: int = 7,
    visitors_per_hour: float = DEFAULT_VISITORS_PER_HOUR,
    noise: Noise = DEFAULT_NOISE,
    batching: Batching = SDK_BATCHING,
) -> Iterator[Request]:
    """The requests received in [start, end), in the order they arrive.

    `visitors_per_hour` is the mean number of visits (sessions, crawlers included) started
    per hour over a week; each hour gets it times `hourly_weight`. Visits that start before
    `start` but send inside the range are included; what they sent earlier is not, nor is
    anything sent at or after `end`.
    """
    lo, hi = _epoch(start, "start"), _epoch(end, "end")
    sim = _Simulation(seed, visitors_per_hour, noise, batching)
    pending: list[tuple[float, str, Request]] = []
    hour = math.floor(lo / _HOUR) * _HOUR - _HOUR  # the hour before: its visits run over into `start`
    while hour < hi:
        tag = _hour_tag(hour)
        hour_rng = random.Random(f"{seed}:{tag}")
        count = _poisson(hour_rng, visitors_per_hour * hourly_weight(datetime.fromtimestamp(hour, UTC)))
        for number, offset in enumerate(sorted(hour_rng.random() * _HOUR for _ in range(count))):
            t0 = hour + offset
            # No visit starting at t0 or later sends anything before t0.
            while pending and pending[0][0] < t0:
                yield heapq.heappop(pending)[2]
            for entry in sim.session(f"{tag}-{number:05d}", t0):
                if lo <= entry[0] < hi:
                    heapq.heappush(pending, entry)
        hour += _HOUR
    while pending:
        yield heapq.heappop(pending)[2]


def _mean_events_per_visit(sim: _Simulation, seed: int) -> float:
    """A pilot of 2,000 visits: how many events a visit sends with this noise and batching."""
    total = 0
    for number in range(2000):
        total += sum(len(r.events) for _, _, r in sim.session(f"pilot-{seed}-{number:05d}", BENCH_HOUR.timestamp()))
    return max(1.0, total / 2000)


def generate_requests(
    n_events: int,
    *,
    seed: int = 7,
    hour: datetime = BENCH_HOUR,
    noise: Noise = DEFAULT_NOISE,
    batching: Batching = SDK_BATCHING,
) -> Iterator[Request]:
    """Requests holding exactly `n_events` events in all, every one received within `hour`
    (for benchmarks: "1 M events in one hour"). Visits start evenly over the hour with no
    seasonality; the last request is cut so the total is exact. Streams: memory stays
    bounded by the visits in progress, not by `n_events`.
    """
    if n_events < 0:
        raise ValueError(f"n_events must not be negative, not {n_events}")
    if n_events == 0:
        return
    lo = math.floor(_epoch(hour, "hour") / _HOUR) * _HOUR
    hi = lo + _HOUR
    sim = _Simulation(seed, 1.0, noise, batching)
    per_visit = _mean_events_per_visit(sim, seed)
    # 10 % more visits than the pilot's mean asks for: the pilot is a sample, and running
    # short would squeeze the last visits into the hour's end.
    planned = math.ceil(n_events / per_visit * 1.1) + 1
    sim.population = max(200, planned)
    tag = _hour_tag(lo)
    rng = random.Random(f"{seed}:bench:{tag}")
    pending: list[tuple[float, str, Request]] = []
    remaining = n_events

    def starts() -> Iterator[float]:
        # Evenly over the first 55 minutes; should the estimate fall short, more visits in
        # the minutes after (still in order, so requests keep coming out in arrival order).
        spread = 3300.0 / planned
        for number in range(planned):
            yield lo + (number + rng.random()) * spread
        t = lo + 3300.0
        while t < hi - 120.0:
            yield t
            t += 0.25

    for number, t0 in enumerate(starts()):
        while pending and pending[0][0] < t0 and remaining > 0:
            request = heapq.heappop(pending)[2]
            if len(request.events) > remaining:
                request = _truncated(request, remaining)
            remaining -= len(request.events)
            yield request
        if remaining <= 0:
            return
        for entry in sim.session(f"{tag}-b{number:07d}", t0):
            if entry[0] < hi:
                heapq.heappush(pending, entry)
    while pending and remaining > 0:
        request = heapq.heappop(pending)[2]
        if len(request.events) > remaining:
            request = _truncated(request, remaining)
        remaining -= len(request.events)
        yield request
    if remaining > 0:
        raise RuntimeError(f"{n_events} events do not fit in one hour of simulated traffic; {remaining} short")


def _truncated(request: Request, keep: int) -> Request:
    return Request(
        received_at=request.received_at, events=request.events[:keep], user_agent=request.user_agent,
        source_ip=request.source_ip, signed_in_sub=request.signed_in_sub, key=request.key, bot=request.bot,
        retry=request.retry, late=request.late,
        rejections={i: c for i, c in request.rejections.items() if i < keep},
        duplicates=tuple(i for i in request.duplicates if i < keep),
        conflicts=tuple(i for i in request.conflicts if i < keep),
    )


def generate_events(
    n: int,
    *,
    seed: int = 7,
    hour: datetime = BENCH_HOUR,
    noise: Noise = DEFAULT_NOISE,
    batching: Batching = SDK_BATCHING,
) -> Iterator[dict[str, Any]]:
    """Exactly `n` events in the SDK's wire format, in the order they are received (the
    events of `generate_requests`, flattened). Shared nested objects: treat as read-only."""
    for request in generate_requests(n, seed=seed, hour=hour, noise=noise, batching=batching):
        yield from request.events
