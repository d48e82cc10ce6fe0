"""Derived columns of the processed layer: URL parts, campaign parameters, channel, device.

Pure functions of strings, no I/O. Real traffic repeats a few thousand distinct URLs,
referrers and campaign tuples per hour, so the clean step calls them through caches
(`PageDeriver`) and pays for URL parsing once per distinct value, not once per event.
"""

from __future__ import annotations

import functools
import re
from typing import Final, NamedTuple, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "CHANNELS",
    "CLICK_ID_PARAMS",
    "PageDeriver",
    "PageFields",
    "UrlCampaign",
    "channel",
    "device_class",
    "engaged_ms",
    "host_of",
    "page_fields",
    "referrer_host",
    "search_term",
    "url_campaign",
    "url_path",
]

DIRECT: Final = "Direct"
ORGANIC_SEARCH: Final = "Organic Search"
PAID_SEARCH: Final = "Paid Search"
SOCIAL: Final = "Social"
EMAIL: Final = "Email"
REFERRAL: Final = "Referral"
DISPLAY: Final = "Display"
AFFILIATES: Final = "Affiliates"
OTHER: Final = "Other"
CHANNELS: Final = (DIRECT, ORGANIC_SEARCH, PAID_SEARCH, SOCIAL, EMAIL, REFERRAL, DISPLAY, AFFILIATES, OTHER)

# Ad-network click ids the SDK keeps in the page URL, in the order they are looked for.
CLICK_ID_PARAMS: Final = ("gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "twclid", "li_fat_id", "yclid")
_UTM_PARAMS: Final = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

# Host labels (or utm_source values) that name a search engine or a social network.
# Matched label by label, so "google.co.uk", "www.google.de" and "news.google.com" all count.
_SEARCH_ENGINES: Final = frozenset(
    {"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "qwant", "naver", "startpage",
     "seznam", "sogou", "ask", "aol", "brave", "kagi"}
)
_SOCIAL_NETWORKS: Final = frozenset(
    {"facebook", "fb", "instagram", "ig", "twitter", "x", "t", "linkedin", "lnkd", "pinterest", "reddit",
     "tiktok", "youtube", "snapchat", "tumblr", "whatsapp", "telegram", "vk", "weibo", "threads", "mastodon",
     "quora", "discord", "bsky", "bluesky"}
)
# Labels that look like a network's name but are too generic alone ("t" is t.co, "x" is x.com).
_SHORT_SOCIAL_HOSTS: Final = frozenset({"t.co", "x.com", "fb.com", "fb.me", "lnkd.in", "ig.me", "t.me", "vk.com"})
_WEBMAIL_HOSTS: Final = frozenset(
    {"mail.google.com", "outlook.live.com", "outlook.office.com", "outlook.office365.com", "mail.yahoo.com",
     "mail.aol.com", "mail.proton.me", "mail.yandex.ru", "mail.zoho.com",
     "com.google.android.gm"}  # the Gmail app (android-app:// referrer)
)
_EMAIL_WORDS: Final = frozenset({"email", "e-mail", "e_mail", "e mail", "newsletter", "mail"})
_SOCIAL_MEDIUMS: Final = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media", "social_media"}
)
_DISPLAY_MEDIUMS: Final = frozenset({"display", "banner", "cpm", "expandable", "interstitial", "programmatic"})
_AFFILIATE_MEDIUMS: Final = frozenset({"affiliate", "affiliates", "partner"})
_REFERRAL_MEDIUMS: Final = frozenset({"referral", "app", "link"})
_NONE_MEDIUMS: Final = frozenset({"(none)", "(not set)", "none"})
# GA4's definition of a paid medium.
_PAID_MEDIUM: Final = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")


def channel(utm_source: str | None, utm_medium: str | None, referrer_host: str | None, click_id: str | None) -> str:
    """The default channel grouping of one event (modelled on GA4's), one of `CHANNELS`.

    Source and medium are compared trimmed and lowercased; the referrer host as given
    (`referrer_host()` lowercases it). The first rule that matches wins:

    1. Direct — no source, no medium, no click id and no referrer; or source `(direct)`
       with no medium (or `(none)` / `(not set)`).
    2. Email — source or medium is email/e-mail/e_mail/e mail/newsletter/mail, or the
       referrer is a webmail host (mail.google.com, outlook.live.com, ...).
    3. Affiliates — medium affiliate(s) or partner.
    4. Display — medium display, banner, cpm, expandable, interstitial or programmatic.
    5. Paid — a paid medium (GA4's `^(.*cp.*|ppc|retargeting|paid.*)$`), or no medium but
       an ad click id: Social when the source or referrer is a social network (paid
       social is not split from organic here); Paid Search when it is a search engine,
       or when only a click id says the visit was paid; Other otherwise.
    6. Social — medium social (social-network, social-media, sm ...), or the source or
       referrer is a social network (facebook, instagram, t.co, x.com, linkedin, reddit ...).
    7. Organic Search — medium organic, or the source or referrer is a search engine
       (google, bing, duckduckgo, yahoo, baidu, yandex, ecosia ... by host label).
    8. Referral — medium referral, app or link, or any other referrer with no source
       and no medium.
    9. Other — campaign parameters that none of the rules above recognise.

    The clean step passes no referrer for navigation inside the site itself (referrer
    host = page host), so internal page views count as Direct rather than Referral.
    """
    return _channel(_norm(utm_source), _norm(utm_medium), referrer_host or None, bool(click_id))


def _norm(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


@functools.lru_cache(maxsize=4096)
def _channel(source: str | None, medium: str | None, referrer: str | None, has_click_id: bool) -> str:
    # Cached on normalised inputs with the click id reduced to a flag: click ids are unique
    # per click, while the tuples here repeat on almost every event.
    if source is None and medium is None and not has_click_id and referrer is None:
        return DIRECT
    if source == "(direct)" and (medium is None or medium in _NONE_MEDIUMS):
        return DIRECT
    if source in _EMAIL_WORDS or medium in _EMAIL_WORDS or (referrer is not None and _is_webmail(referrer)):
        return EMAIL
    if medium in _AFFILIATE_MEDIUMS:
        return AFFILIATES
    if medium in _DISPLAY_MEDIUMS:
        return DISPLAY
    social = _is_social(source) or (referrer is not None and _is_social(referrer))
    search = _is_search(source) or (referrer is not None and _is_search(referrer))
    if (medium is not None and _PAID_MEDIUM.match(medium)) or (medium is None and has_click_id):
        if social:
            return SOCIAL
        if search or medium is None:
            return PAID_SEARCH
        return OTHER
    if medium in _SOCIAL_MEDIUMS or social:
        return SOCIAL
    if medium == "organic" or search:
        return ORGANIC_SEARCH
    if medium in _REFERRAL_MEDIUMS or (source is None and medium is None and referrer is not None):
        return REFERRAL
    return OTHER


def _labels(name: str) -> list[str]:
    return [label for label in re.split(r"[.\s]+", name) if label]


def _is_search(name: str | None) -> bool:
    if not name:
        return False
    labels = _labels(name)
    # "mail.google.com" is Gmail, not a search.
    if labels and labels[0] == "mail":
        return False
    return any(label in _SEARCH_ENGINES for label in labels)


def _is_social(name: str | None) -> bool:
    if not name:
        return False
    if name in _SHORT_SOCIAL_HOSTS or any(name.endswith("." + host) for host in _SHORT_SOCIAL_HOSTS):
        return True
    labels = _labels(name)
    if len(labels) == 1:
        # A bare utm_source ("facebook", "ig", "x").
        return labels[0] in _SOCIAL_NETWORKS
    # A host: every label but the top-level domain may name the network ("l.facebook.com").
    return any(label in _SOCIAL_NETWORKS and len(label) > 2 for label in labels[:-1])


def _is_webmail(host: str) -> bool:
    return host in _WEBMAIL_HOSTS or host.startswith("webmail.")


# --------------------------------------------------------------------------- URLs


def host_of(url: str | None) -> str | None:
    """Lowercase host of a URL without a leading "www." and without a port; None when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if not host:
        return None
    if host.startswith("www."):
        host = host[4:]
    return host.rstrip(".") or None


def referrer_host(referrer: str | None) -> str | None:
    """The `referrer_host` column: the referrer's lowercase host without "www.", or None."""
    return host_of(referrer)


def url_path(url: str | None) -> str | None:
    """The path of a URL ("/" for a bare origin), or None when there is no URL or no path to find."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.path:
        return parts.path
    return "/" if parts.netloc else None


class UrlCampaign(NamedTuple):
    """Campaign parameters found in a page URL's query string."""

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    click_id: str | None = None


_NO_CAMPAIGN = UrlCampaign()


def url_campaign(url: str | None) -> UrlCampaign:
    """utm_source, utm_medium, utm_campaign, utm_term, utm_content and the first ad click id
    (`CLICK_ID_PARAMS`) of a URL; parameter names are matched case-insensitively, the first
    non-empty value of each wins, values are trimmed (empty ones are None)."""
    if not url or "?" not in url:
        return _NO_CAMPAIGN
    try:
        query = urlsplit(url.strip()).query
    except ValueError:
        return _NO_CAMPAIGN
    found: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=False):
        key = name.strip().lower()
        value = value.strip()
        if value and key not in found and (key in _UTM_PARAMS or key in CLICK_ID_PARAMS):
            found[key] = value
    if not found:
        return _NO_CAMPAIGN
    click_id = next((found[name] for name in CLICK_ID_PARAMS if name in found), None)
    return UrlCampaign(*(found.get(name) for name in _UTM_PARAMS), click_id)


# --------------------------------------------------------------------------- page + campaign -> columns


class PageFields(NamedTuple):
    """The derived columns that depend only on the page and the campaign of an event."""

    page_path: str | None
    referrer_host: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    click_id: str | None
    channel: str


def page_fields(
    url: str | None,
    path: str | None,
    referrer: str | None,
    campaign: tuple[str | None, str | None, str | None, str | None, str | None, str | None] | None,
) -> PageFields:
    """page_path, referrer_host, the UTM columns, click_id and channel of one event.

    Each campaign column is `campaign.*` when the event has it, else the page URL's
    parameter; an empty page.path falls back to the URL's path.
    """
    return _page_fields(_url_parts(url), referrer_host(referrer), path, campaign)


class _UrlParts(NamedTuple):
    """What page_fields needs of a page URL."""

    campaign: UrlCampaign
    host: str | None
    path: str | None


def _url_parts(url: str | None) -> _UrlParts:
    return _UrlParts(url_campaign(url), host_of(url), url_path(url))


def _page_fields(
    url: _UrlParts,
    ref_host: str | None,
    path: str | None,
    campaign: tuple[str | None, str | None, str | None, str | None, str | None, str | None] | None,
) -> PageFields:
    from_url = url.campaign
    source, medium, name, term, content, click_id = campaign or (None, None, None, None, None, None)
    source = _blank_to_none(source) or from_url.source
    medium = _blank_to_none(medium) or from_url.medium
    name = _blank_to_none(name) or from_url.campaign
    term = _blank_to_none(term) or from_url.term
    content = _blank_to_none(content) or from_url.content
    click_id = _blank_to_none(click_id) or from_url.click_id
    # Navigation inside the site is not a referral (see channel()).
    external = ref_host if ref_host is not None and ref_host != url.host else None
    return PageFields(
        path or url.path, ref_host, source, medium, name, term, content, click_id,
        channel(source, medium, external, click_id),
    )


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


class PageDeriver:
    """`page_fields` behind bounded dictionary caches (each cleared when full: simple, and an
    hour's distinct pages fit many times over).

    An hour has a few thousand distinct URLs and referrers but several times more
    combinations of URL, referrer and campaign, so the URL parsing is cached per URL and per
    referrer, and the combination per (url, path, referrer, campaign).
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._cache: dict[tuple[object, ...], PageFields] = {}
        self._urls: dict[str | None, _UrlParts] = {}
        self._referrers: dict[str | None, str | None] = {}
        self._max = max_entries

    def __call__(
        self,
        url: str | None,
        path: str | None,
        referrer: str | None,
        campaign: tuple[str | None, str | None, str | None, str | None, str | None, str | None] | None,
    ) -> PageFields:
        key = (url, path, referrer, campaign)
        fields = self._cache.get(key)
        if fields is None:
            parts = self._urls.get(url)
            if parts is None:
                parts = _remember(self._urls, url, _url_parts(url), self._max)
            if referrer in self._referrers:
                ref_host = self._referrers[referrer]
            else:
                ref_host = _remember(self._referrers, referrer, referrer_host(referrer), self._max)
            fields = _remember(self._cache, key, _page_fields(parts, ref_host, path, campaign), self._max)
        return fields


_K = TypeVar("_K")
_V = TypeVar("_V")


def _remember(cache: dict[_K, _V], key: _K, value: _V, max_entries: int) -> _V:
    if len(cache) >= max_entries:
        cache.clear()
    cache[key] = value
    return value


# --------------------------------------------------------------------------- other columns

_DEVICE_CLASSES: Final = frozenset({"desktop", "mobile", "tablet", "bot", "other"})
_INT64_MAX: Final = 2**63 - 1


def device_class(ua_device: str | None, is_bot: bool) -> str:
    """desktop|mobile|tablet|bot|other: the server's parse, "bot" for known bots, "other" when unknown."""
    if is_bot:
        return "bot"
    return ua_device if ua_device in _DEVICE_CLASSES else "other"


def search_term(value: object) -> str | None:
    """properties.search_term trimmed and lowercased; numbers as their text; None when empty or absent."""
    if isinstance(value, str):
        term = value.strip().lower()
        return term or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def engaged_ms(value: object) -> int | None:
    """properties.engaged_ms as a non-negative whole number of milliseconds, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        value = int(value)
    return value if 0 <= value <= _INT64_MAX else None
