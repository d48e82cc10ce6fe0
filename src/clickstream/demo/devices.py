"""Who visits the demo shop: browsers (User-Agent strings), screens, locales, clocks and addresses.

About 250 distinct, real-looking User-Agent strings: current and slightly old Chrome, Edge,
Firefox, Safari, Samsung Internet and Opera on desktops, phones and tablets, weighted so
that new versions and Chrome dominate as they do in real traffic, plus the crawlers that
execute JavaScript (and so send events) or at least fetch pages. The server classifies
them with ua-parser; a unit test checks that each string here lands in the device class it
is filed under, so the dashboard's device split is what the generator intended.

Client addresses come from the documentation ranges only (RFC 5737 and RFC 3849), so no
generated record ever names a real network.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

__all__ = [
    "BOT_USER_AGENTS",
    "Agent",
    "Locale",
    "agents",
    "bot_agents",
    "distinct_user_agents",
    "locales",
    "random_ip",
    "screen_for",
    "tz_offset_min",
]

DeviceClass = Literal["desktop", "mobile", "tablet"]


@dataclass(frozen=True, slots=True)
class Agent:
    """A User-Agent string, the device class it stands for, and how common it is."""

    user_agent: str
    device: DeviceClass
    weight: float


@dataclass(frozen=True, slots=True)
class Locale:
    language: str
    zone: Literal["eu", "uk", "us"]  # which daylight-saving rule applies
    weight: float


# --------------------------------------------------------------------------- user agents

_WINDOWS = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_LINUX = "X11; Linux x86_64"
_CHROME = "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
_CHROME_MOBILE = "Mozilla/5.0 (Linux; Android {android}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36"
_CHROME_TABLET = "Mozilla/5.0 (Linux; Android {android}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
_EDGE = "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.{build}.{patch}"
_OPERA = "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 OPR/{opr}.0.0.0"
_FIREFOX = "Mozilla/5.0 ({os}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
_FIREFOX_ANDROID = "Mozilla/5.0 (Android {android}; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0"
_SAFARI_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15"
_SAFARI_IOS = "Mozilla/5.0 ({device}; CPU {cpu} {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1"
_CHROME_IOS = "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{v}.0.{build}.{patch} Mobile/15E148 Safari/604.1"
_SAMSUNG = "Mozilla/5.0 (Linux; Android {android}; {model}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{v}.0 Chrome/{chrome}.0.0.0 Mobile Safari/537.36"

_CHROME_VERSIONS = range(118, 132)  # the newest last; weights grow towards it
_FIREFOX_VERSIONS = (115, *range(120, 134))
_IOS_VERSIONS = ("16_6_1", "16_7_10", "17_0_3", "17_1_2", "17_2_1", "17_3_1", "17_4_1", "17_5_1", "17_6_1", "17_7",
                 "18_0_1", "18_1", "18_1_1", "18_2")
_PHONES = ("SM-S918B", "SM-S921B", "SM-A546B", "SM-A155F", "Pixel 7", "Pixel 8", "Pixel 8a", "2201117TY", "CPH2451",
           "moto g84 5G")
_ANDROID_TABLETS = ("SM-X710", "SM-X200", "SM-X510", "Lenovo TB-X6C6F")


def _recency(position: int, count: int) -> float:
    """Weight of the position-th of count versions (oldest first): browsers auto-update, so
    the newest versions carry most traffic and old ones a thin tail."""
    return 0.15 + 2.0 ** (position - count + 1) * 4


def _desktop() -> list[Agent]:
    found: list[Agent] = []
    n = len(_CHROME_VERSIONS)
    for i, v in enumerate(_CHROME_VERSIONS):
        w = _recency(i, n)
        found += [
            Agent(_CHROME.format(os=_WINDOWS, v=v), "desktop", 6.0 * w),
            Agent(_CHROME.format(os=_MAC, v=v), "desktop", 2.0 * w),
            Agent(_CHROME.format(os=_LINUX, v=v), "desktop", 0.4 * w),
            Agent(_CHROME.format(os="X11; CrOS x86_64 14541.0.0", v=v), "desktop", 0.2 * w),
            Agent(_EDGE.format(os=_WINDOWS, v=v, build=2000 + v * 7 % 900, patch=40 + v % 50), "desktop", 2.0 * w),
        ]
        if v >= 124:
            found.append(Agent(_OPERA.format(os=_WINDOWS, v=v, opr=v - 15), "desktop", 0.3 * w))
    n = len(_FIREFOX_VERSIONS)
    for i, v in enumerate(_FIREFOX_VERSIONS):
        w = _recency(i, n) + (0.5 if v == 115 else 0.0)  # 115 is an ESR: companies keep it
        found += [
            Agent(_FIREFOX.format(os=_WINDOWS, v=v), "desktop", 1.2 * w),
            Agent(_FIREFOX.format(os="Macintosh; Intel Mac OS X 10.15", v=v), "desktop", 0.4 * w),
            Agent(_FIREFOX.format(os="X11; Ubuntu; Linux x86_64", v=v), "desktop", 0.4 * w),
        ]
    safari = ("16.6", "17.0", "17.1", "17.2.1", "17.3.1", "17.4.1", "17.5", "17.6", "18.0", "18.0.1", "18.1", "18.1.1", "18.2")
    found += [Agent(_SAFARI_MAC.format(v=v), "desktop", 1.5 * _recency(i, len(safari))) for i, v in enumerate(safari)]
    return found


def _safari_version(ios: str) -> str:
    major, minor = ios.split("_")[:2]
    return f"{major}.{minor}" if minor != "0" else major


def _mobile() -> list[Agent]:
    found: list[Agent] = []
    n = len(_IOS_VERSIONS)
    for i, ios in enumerate(_IOS_VERSIONS):
        w = _recency(i, n)
        found.append(Agent(_SAFARI_IOS.format(device="iPhone", cpu="iPhone OS", ios=ios, v=_safari_version(ios)),
                           "mobile", 8.0 * w))
        if ios >= "17":
            v = 118 + i
            found.append(Agent(_CHROME_IOS.format(ios=ios, v=v, build=6000 + v * 13 % 900, patch=20 + v % 60),
                               "mobile", 1.0 * w))
    n = len(_CHROME_VERSIONS)
    for i, v in enumerate(_CHROME_VERSIONS):
        w = _recency(i, n)
        # Chrome's reduced User-Agent: every Android phone says "Android 10; K".
        found.append(Agent(_CHROME_MOBILE.format(android="10", model="K", v=v), "mobile", 6.0 * w))
        if v >= 126:
            for j, model in enumerate(_PHONES):
                found.append(Agent(_CHROME_MOBILE.format(android=13 + (j + v) % 2, model=model, v=v), "mobile", 0.3 * w))
    for i, v in enumerate(range(23, 27)):
        for model in ("SM-S918B", "SM-A546B", "SM-S921B"):
            found.append(Agent(_SAMSUNG.format(android=14, model=model, v=v, chrome=115 + 2 * i), "mobile",
                               0.6 * _recency(i, 4)))
    for i, v in enumerate(range(128, 134)):
        found.append(Agent(_FIREFOX_ANDROID.format(android=14, v=v), "mobile", 0.4 * _recency(i, 6)))
    return found


def _tablet() -> list[Agent]:
    found: list[Agent] = []
    ipad = ("16_7_10", "17_4_1", "17_5_1", "17_6_1", "17_7", "18_0_1", "18_1", "18_1_1", "18_2")
    for i, ios in enumerate(ipad):
        found.append(Agent(_SAFARI_IOS.format(device="iPad", cpu="OS", ios=ios, v=_safari_version(ios)), "tablet",
                           2.0 * _recency(i, len(ipad))))
    for i, v in enumerate(range(126, 132)):
        for j, model in enumerate(_ANDROID_TABLETS):
            found.append(Agent(_CHROME_TABLET.format(android=13 + j % 2, model=model, v=v), "tablet",
                               0.4 * _recency(i, 6)))
    return found


# Crawlers and tools. Those that render pages run the shop's JavaScript and so send events;
# the server flags every one of them is_bot from its User-Agent.
BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.6778.69 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.29 Safari/537.36",
    "Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
)
# How often each crawler comes (Google and Bing render the most pages).
_BOT_WEIGHTS: tuple[float, ...] = (5, 4, 3, 1, 2, 2, 1, 1, 1.5, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5)


@functools.cache
def agents() -> tuple[Agent, ...]:
    """Every human User-Agent, weights scaled so desktop:mobile:tablet is about 45:47:8."""
    shares = {"desktop": 0.45, "mobile": 0.47, "tablet": 0.08}
    found: list[Agent] = []
    for group in (_desktop(), _mobile(), _tablet()):
        total = sum(a.weight for a in group)
        found += [Agent(a.user_agent, a.device, a.weight / total * shares[a.device]) for a in group]
    unique = {a.user_agent: a for a in found}  # generated combinations may coincide; keep one
    return tuple(unique.values())


@functools.cache
def bot_agents() -> tuple[Agent, ...]:
    return tuple(Agent(ua, "desktop", w) for ua, w in zip(BOT_USER_AGENTS, _BOT_WEIGHTS, strict=True))


# --------------------------------------------------------------------------- screens

# (width, height, weight) in CSS pixels, by device class.
_SCREENS: dict[str, tuple[tuple[int, int, float], ...]] = {
    "desktop": ((1920, 1080, 9), (1536, 864, 4), (1366, 768, 3), (2560, 1440, 3), (1440, 900, 3), (1280, 800, 1),
                (1680, 1050, 1), (1280, 720, 1), (3440, 1440, 0.5), (1600, 900, 1)),
    "mobile": ((390, 844, 6), (393, 873, 3), (412, 915, 4), (375, 667, 2), (360, 800, 4), (430, 932, 3),
               (414, 896, 2), (384, 832, 1), (393, 852, 3)),
    "tablet": ((810, 1080, 3), (820, 1180, 3), (768, 1024, 2), (800, 1280, 2), (1024, 1366, 1), (834, 1194, 1)),
}


def screen_for(device: str, rng: random.Random) -> tuple[int, int, int, int]:
    """screen_w, screen_h, viewport_w, viewport_h for a device class (viewport = screen minus browser chrome)."""
    choices = _SCREENS[device]
    width, height, _ = rng.choices(choices, weights=[c[2] for c in choices])[0]
    if device == "desktop":
        # Maximised or not, minus tabs/toolbars, minus a scrollbar on Windows.
        viewport_w = width - rng.choice((0, 0, 15, 17)) - (rng.randrange(0, width // 3) if rng.random() < 0.2 else 0)
        viewport_h = height - rng.randrange(80, 160)
    else:
        viewport_w = width
        viewport_h = height - rng.randrange(60, 200)
    return width, height, viewport_w, viewport_h


# --------------------------------------------------------------------------- locales and clocks

_LOCALES: tuple[Locale, ...] = (
    Locale("de-DE", "eu", 0.24), Locale("en-GB", "uk", 0.17), Locale("fr-FR", "eu", 0.11),
    Locale("nl-NL", "eu", 0.09), Locale("de-AT", "eu", 0.04), Locale("es-ES", "eu", 0.07),
    Locale("it-IT", "eu", 0.07), Locale("pl-PL", "eu", 0.05), Locale("sv-SE", "eu", 0.04),
    Locale("en-US", "us", 0.06), Locale("en-IE", "uk", 0.03), Locale("de", "eu", 0.03),
)


def locales() -> tuple[Locale, ...]:
    return _LOCALES


@functools.lru_cache(maxsize=64)
def _dst_bounds(zone: str, year: int) -> tuple[datetime, datetime]:
    if zone == "us":  # second Sunday of March 07:00 UTC to first Sunday of November 06:00 UTC
        march = datetime(year, 3, 1, 7, tzinfo=UTC)
        start = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
        november = datetime(year, 11, 1, 6, tzinfo=UTC)
        return start, november + timedelta(days=(6 - november.weekday()) % 7)
    # EU and UK: last Sunday of March to last Sunday of October, both at 01:00 UTC.
    march_end = datetime(year, 3, 31, 1, tzinfo=UTC)
    october_end = datetime(year, 10, 31, 1, tzinfo=UTC)
    return (march_end - timedelta(days=(march_end.weekday() + 1) % 7),
            october_end - timedelta(days=(october_end.weekday() + 1) % 7))


def tz_offset_min(zone: str, moment: datetime) -> int:
    """Minutes east of UTC at `moment` for the zone's standard time and daylight-saving rule."""
    standard = {"eu": 60, "uk": 0, "us": -300}[zone]
    start, end = _dst_bounds(zone, moment.year)
    return standard + (60 if start <= moment < end else 0)


# --------------------------------------------------------------------------- addresses

_V4_NETWORKS = ("192.0.2", "198.51.100", "203.0.113")


def random_ip(rng: random.Random, *, ipv6_share: float = 0.3) -> str:
    """A client address from the documentation ranges: IPv4 TEST-NETs or 2001:db8::/32."""
    if rng.random() < ipv6_share:
        groups = (rng.getrandbits(16) for _ in range(6))
        return "2001:db8:" + ":".join(f"{g:x}" for g in groups)
    return f"{rng.choice(_V4_NETWORKS)}.{rng.randrange(1, 255)}"


def distinct_user_agents() -> int:
    """How many distinct User-Agent strings the generator can send (humans and bots)."""
    return len({a.user_agent for a in itertools.chain(agents(), bot_agents())})
