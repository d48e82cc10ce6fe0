"""IP truncation and User-Agent parsing, on real addresses and real browsers' and bots' headers."""

from __future__ import annotations

import ipaddress
import random
import threading

import pytest

from clickstream.ingest.enrich import MAX_USER_AGENT_CHARS, UserAgent, UserAgentParser, truncate_ip

# -- IP truncation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("203.0.113.0", "203.0.113.0"),
        ("203.0.113.255", "203.0.113.0"),
        ("10.1.2.3", "10.1.2.0"),
        ("255.255.255.255", "255.255.255.0"),
        ("0.0.0.0", "0.0.0.0"),
        ("  198.51.100.9\n", "198.51.100.0"),
        ("198.51.100.9:443", "198.51.100.0"),
    ],
)
def test_ipv4_is_cut_to_its_24(ip: str, expected: str) -> None:
    # GIVEN an IPv4 client address  WHEN it is truncated  THEN only its /24 network remains
    assert truncate_ip(ip) == expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("2001:db8:abcd:1234::1", "2001:db8:abcd::"),
        ("2001:0db8:abcd:1234:5678:9abc:def0:1234", "2001:db8:abcd::"),
        ("2001:DB8:ABCD:FFFF:FFFF:FFFF:FFFF:FFFF", "2001:db8:abcd::"),
        ("2001:db8::1", "2001:db8::"),
        ("::1", "::"),
        ("fe80::1%eth0", "fe80::"),
        ("fe80::abcd:1%3", "fe80::"),
        ("[2001:db8:abcd:1234::1]", "2001:db8:abcd::"),
        ("[2001:db8:abcd:1234::1]:8443", "2001:db8:abcd::"),
    ],
)
def test_ipv6_is_cut_to_its_48(ip: str, expected: str) -> None:
    # GIVEN an IPv6 client address (with brackets, a port or a zone id as proxies write them)
    # WHEN it is truncated  THEN only its /48 network remains, without the zone id
    assert truncate_ip(ip) == expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("::ffff:203.0.113.77", "203.0.113.0"),
        ("::FFFF:192.0.2.200", "192.0.2.0"),
        ("::ffff:cb00:714d", "203.0.113.0"),
        ("[::ffff:203.0.113.77]:443", "203.0.113.0"),
    ],
)
def test_ipv4_mapped_ipv6_is_treated_as_ipv4(ip: str, expected: str) -> None:
    # GIVEN an IPv4 client seen through a dual-stack socket
    # WHEN it is truncated  THEN it is cut like IPv4 (a /48 would keep the whole address)
    assert truncate_ip(ip) == expected


@pytest.mark.parametrize(
    "ip",
    [
        None,
        "",
        "   ",
        "not an ip",
        "203.0.113",
        "203.0.113.256",
        "203.0.113.77.1",
        "010.1.1.1",
        "203.0.113.77/24",
        "203.0.113.77:",
        "203.0.113.77:https",
        "203.0.113.7, 10.0.0.1",
        "2001:db8::g",
        "2001:db8:::1",
        "[2001:db8::1",
        "[2001:db8::1]x",
        "[203.0.113.77]:80",
        "unknown",
        "localhost",
    ],
)
def test_anything_but_one_address_gives_none(ip: str | None) -> None:
    # GIVEN something that is not a single IP address
    # WHEN it is truncated  THEN nothing is stored
    assert truncate_ip(ip) is None


@pytest.mark.parametrize(
    "ip",
    ["203.0.113.77", "198.51.100.1", "2001:db8:abcd:1234::1", "2a00:1450:4001:82b::200e", "::ffff:203.0.113.77"],
)
def test_never_returns_the_full_address(ip: str) -> None:
    # GIVEN a routable address  WHEN it is truncated
    truncated = truncate_ip(ip)
    # THEN the result is a different address, the network part of the original
    assert truncated is not None and truncated != ip
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    assert address in ipaddress.ip_network(f"{truncated}/{prefix}")


def _truncate_with_ipaddress(ip: str) -> str | None:
    """The reference: what `ipaddress` makes of the text (the fast path for IPv4 must agree)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


_OCTETS = [str(i) for i in range(0, 300, 7)] + [
    "0", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "00", "01", "007", "0255", "1000", "",
    " 1", "+1", "-1", "0x1", "1e2", "\u0663", "\u00b2", "\uff11",
]


def test_dotted_quads_are_truncated_exactly_as_ipaddress_does() -> None:
    # GIVEN dotted quads of valid and invalid octets (leading zeros, non-ASCII digits, signs ...)
    texts = [text for o in _OCTETS for text in (f"{o}.2.3.4", f"1.{o}.3.4", f"1.2.{o}.4", f"1.2.3.{o}")]
    rng = random.Random(7)
    texts += [".".join(rng.choice(_OCTETS) for _ in range(4)) for _ in range(3000)]
    texts += ["1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.4.", " 1.2.3.4\n", "1.2.3.4\n"]
    # WHEN each is truncated THEN the answer is the one `ipaddress` gives (None if it is no address)
    for text in texts:
        assert truncate_ip(text) == _truncate_with_ipaddress(text), text


# -- User-Agent parsing ----------------------------------------------------------------

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15"
)
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0"
)
CHROME_OS = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Mobile/15E148 Safari/604.1"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36"
)
# Chrome's reduced User-Agent: model "K", the "Mobile" token is what tells phone from tablet.
ANDROID_PHONE_REDUCED = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET_REDUCED = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
CUBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 11; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/96.0.4664.104 Mobile Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
GALAXY_TAB = (
    "Mozilla/5.0 (Linux; Android 12; SM-T970) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/24.0 Chrome/117.0.0.0 Safari/537.36"
)
KINDLE_FIRE = (
    "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Silk/124.2.1 like Chrome/124.0.6367.82 Safari/537.36"
)
FIREFOX_ANDROID_TABLET = "Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0"
SMART_TV = (
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
)
FIRE_TV = (
    "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/70.0.3538.110 Mobile Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SMARTPHONE = (
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36"
)
LIGHTHOUSE = (
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"
)


@pytest.fixture(scope="module")
def parser() -> UserAgentParser:
    return UserAgentParser()


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (CHROME_WINDOWS, UserAgent("Chrome", "Windows", "desktop", False)),
        (FIREFOX_LINUX, UserAgent("Firefox", "Ubuntu", "desktop", False)),
        (FIREFOX_WINDOWS, UserAgent("Firefox", "Windows", "desktop", False)),
        (SAFARI_MAC, UserAgent("Safari", "Mac OS X", "desktop", False)),
        (EDGE_WINDOWS, UserAgent("Edge", "Windows", "desktop", False)),
        (CHROME_OS, UserAgent("Chrome", "Chrome OS", "desktop", False)),
    ],
)
def test_desktop_browsers(parser: UserAgentParser, user_agent: str, expected: UserAgent) -> None:
    # GIVEN a desktop browser's User-Agent  WHEN it is parsed  THEN browser, OS and class are right
    assert parser.parse(user_agent) == expected


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (IPHONE, UserAgent("Mobile Safari", "iOS", "mobile", False)),
        (ANDROID_PHONE, UserAgent("Chrome Mobile", "Android", "mobile", False)),
        (ANDROID_PHONE_REDUCED, UserAgent("Chrome Mobile", "Android", "mobile", False)),
        (FIREFOX_ANDROID, UserAgent("Firefox Mobile", "Android", "mobile", False)),
        (CUBOT_PHONE, UserAgent("Chrome Mobile", "Android", "mobile", False)),
    ],
)
def test_phones(parser: UserAgentParser, user_agent: str, expected: UserAgent) -> None:
    # GIVEN a phone's User-Agent (a CUBOT is a phone brand, not a robot)
    # WHEN it is parsed  THEN it is a mobile, not a bot
    assert parser.parse(user_agent) == expected


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (IPAD, UserAgent("Mobile Safari", "iOS", "tablet", False)),
        (GALAXY_TAB, UserAgent("Samsung Internet", "Android", "tablet", False)),
        (ANDROID_TABLET_REDUCED, UserAgent("Chrome", "Android", "tablet", False)),
        (KINDLE_FIRE, UserAgent("Amazon Silk", "Android", "tablet", False)),
        (FIREFOX_ANDROID_TABLET, UserAgent("Firefox Mobile", "Android", "tablet", False)),
    ],
)
def test_tablets(parser: UserAgentParser, user_agent: str, expected: UserAgent) -> None:
    # GIVEN a tablet's User-Agent (iPad, or Android without the "Mobile" token)
    # WHEN it is parsed  THEN it is a tablet
    assert parser.parse(user_agent) == expected


@pytest.mark.parametrize(
    ("user_agent", "browser"),
    [
        (GOOGLEBOT, "Googlebot"),
        (GOOGLEBOT_SMARTPHONE, "Googlebot"),
        (BINGBOT, "bingbot"),
        (HEADLESS_CHROME, "HeadlessChrome"),
        (LIGHTHOUSE, "Chrome Mobile"),
        ("curl/8.5.0", "curl"),
        ("python-requests/2.32.3", "Python Requests"),
        ("python-httpx/0.27.0", None),
        ("Wget/1.21.4", "Wget"),
        ("Go-http-client/1.1", "Go-http-client"),
        ("okhttp/4.12.0", "okhttp"),
        ("Java/17.0.2", "Java"),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "FacebookBot"),
        ("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", "Yahoo! Slurp"),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", None),
    ],
)
def test_bots_and_automation(parser: UserAgentParser, user_agent: str, browser: str | None) -> None:
    # GIVEN a crawler's or an HTTP library's User-Agent
    # WHEN it is parsed
    parsed = parser.parse(user_agent)
    # THEN it is flagged as a bot, whatever it pretends to run on
    assert parsed.is_bot is True
    assert parsed.device == "bot"
    if browser is not None:
        assert parsed.browser == browser


@pytest.mark.parametrize("user_agent", [None, "", "x", "Mozilla/5.0"])
def test_empty_or_unknown_user_agent(parser: UserAgentParser, user_agent: str | None) -> None:
    # GIVEN no User-Agent, or one that says nothing
    # WHEN it is parsed  THEN everything is unknown, and it is not called a bot on that alone
    assert parser.parse(user_agent) == UserAgent(browser=None, os=None, device="other", is_bot=False)


@pytest.mark.parametrize(
    "user_agent",
    [
        SMART_TV,
        FIRE_TV,
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.0 Safari/605.1.15",
    ],
)
def test_tvs_and_consoles_are_neither_desktop_nor_mobile(parser: UserAgentParser, user_agent: str) -> None:
    # GIVEN a TV's or a console's browser (Fire TV even claims "Mobile")
    # WHEN it is parsed  THEN its class is "other", and it is no bot
    assert parser.parse(user_agent)[2:] == ("other", False)


def test_device_is_one_of_the_five_classes(parser: UserAgentParser) -> None:
    # GIVEN every User-Agent of this file  WHEN parsed  THEN the class is one the warehouse knows
    user_agents = [value for name, value in globals().items() if name.isupper() and isinstance(value, str)]
    assert len(user_agents) > 15
    assert {parser.parse(ua).device for ua in user_agents} <= {"desktop", "mobile", "tablet", "bot", "other"}


# -- the cache -------------------------------------------------------------------------


def test_same_user_agent_is_parsed_once() -> None:
    # GIVEN a fresh parser
    parser = UserAgentParser()
    # WHEN the same User-Agent arrives 1,000 times
    results = {parser.parse(CHROME_WINDOWS) for _ in range(1000)}
    # THEN it was parsed once and answered 999 times from the cache
    assert results == {UserAgent("Chrome", "Windows", "desktop", False)}
    info = parser.cache_info()
    assert (info.hits, info.misses, info.currsize) == (999, 1, 1)


def test_cache_is_bounded_by_maxsize() -> None:
    # GIVEN a parser whose cache holds 50 entries
    parser = UserAgentParser(maxsize=50)
    # WHEN 200 distinct User-Agents arrive
    for version in range(200):
        parser.parse(CHROME_WINDOWS.replace("124.0.0.0", f"{version}.0.0.0"))
    # THEN the cache never grows past 50
    info = parser.cache_info()
    assert (info.maxsize, info.currsize, info.misses) == (50, 50, 200)
    # AND the least recently used entries were evicted, the recent ones kept
    parser.parse(CHROME_WINDOWS.replace("124.0.0.0", "199.0.0.0"))
    parser.parse(CHROME_WINDOWS.replace("124.0.0.0", "0.0.0.0"))
    assert parser.cache_info().hits == 1
    assert parser.cache_info().misses == 201


def test_huge_user_agent_is_cached_by_its_prefix() -> None:
    # GIVEN User-Agents that differ only after the first MAX_USER_AGENT_CHARS characters
    parser = UserAgentParser()
    prefix = CHROME_WINDOWS + " " + "x" * MAX_USER_AGENT_CHARS
    # WHEN both are parsed
    first, second = parser.parse(prefix + "a" * 50_000), parser.parse(prefix + "b")
    # THEN they share one cache entry of bounded size
    assert first == second
    assert parser.cache_info().currsize == 1


def test_parser_is_safe_to_share_between_threads(parser: UserAgentParser) -> None:
    # GIVEN one fresh parser and 8 threads parsing a mix of User-Agents
    user_agents = [CHROME_WINDOWS, IPHONE, IPAD, GOOGLEBOT, ANDROID_PHONE, SAFARI_MAC]
    expected = {ua: parser.parse(ua) for ua in user_agents}
    parser = UserAgentParser(maxsize=100)
    errors: list[str] = []

    def work() -> None:
        for _ in range(200):
            for ua in user_agents:
                if parser.parse(ua) != expected[ua]:
                    errors.append(ua)

    # WHEN they run at once
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # THEN every answer is right and the cache holds each string once
    assert errors == []
    assert parser.cache_info().currsize == len(user_agents)


def test_maxsize_must_be_positive() -> None:
    # GIVEN / WHEN a cache of no size is asked for  THEN it is refused
    with pytest.raises(ValueError):
        UserAgentParser(maxsize=0)
