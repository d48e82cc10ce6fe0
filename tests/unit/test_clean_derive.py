"""Derived columns of the processed layer: channel grouping, campaign parameters, referrer
host, page path, and the small per-property rules."""

from __future__ import annotations

import pytest

from clickstream.etl.derive import (
    CHANNELS,
    PageDeriver,
    UrlCampaign,
    channel,
    device_class,
    engaged_ms,
    host_of,
    page_fields,
    referrer_host,
    search_term,
    url_campaign,
    url_path,
)

# (utm_source, utm_medium, referrer_host, click_id) -> channel
CHANNEL_TABLE = [
    # Direct
    (None, None, None, None, "Direct"),
    ("(direct)", "(none)", None, None, "Direct"),
    ("(direct)", None, None, None, "Direct"),
    ("  ", "", None, "", "Direct"),
    # Email
    ("newsletter", "email", None, None, "Email"),
    ("mailchimp", "E-Mail", None, None, "Email"),
    ("email", None, None, None, "Email"),
    (None, None, "mail.google.com", None, "Email"),
    (None, None, "outlook.live.com", None, "Email"),
    (None, None, "com.google.android.gm", None, "Email"),
    # Affiliates and display
    ("partnerx", "affiliate", None, None, "Affiliates"),
    ("dv360", "display", None, None, "Display"),
    ("adnet", "CPM", None, None, "Display"),
    ("adnet", "banner", None, None, "Display"),
    # Paid
    ("google", "cpc", None, None, "Paid Search"),
    ("bing", "ppc", None, None, "Paid Search"),
    (None, "paid_search", "google.com", None, "Paid Search"),
    ("facebook", "cpc", None, None, "Social"),
    ("instagram", "paid_social", None, None, "Social"),
    ("somenetwork", "cpc", None, None, "Other"),
    (None, None, None, "Cj0KCQ-gclid", "Paid Search"),
    (None, None, "google.com", "Cj0KCQ-gclid", "Paid Search"),
    (None, None, "l.facebook.com", "IwAR-fbclid", "Social"),
    # Social
    (None, None, "l.facebook.com", None, "Social"),
    (None, None, "t.co", None, "Social"),
    (None, None, "x.com", None, "Social"),
    (None, None, "linkedin.com", None, "Social"),
    (None, None, "old.reddit.com", None, "Social"),
    ("twitter", "social", None, None, "Social"),
    ("whatever", "social-network", None, None, "Social"),
    ("ig", None, None, None, "Social"),
    # Organic search
    (None, None, "google.com", None, "Organic Search"),
    (None, None, "google.co.uk", None, "Organic Search"),
    (None, None, "duckduckgo.com", None, "Organic Search"),
    (None, None, "search.brave.com", None, "Organic Search"),
    ("google", "organic", None, None, "Organic Search"),
    ("bing", None, None, None, "Organic Search"),
    # Referral
    (None, None, "news.ycombinator.com", None, "Referral"),
    (None, None, "blog.example.org", None, "Referral"),
    ("partner-site", "referral", None, None, "Referral"),
    # Other
    ("spring", "poster", None, None, "Other"),
    ("qr", None, None, None, "Other"),
]


@pytest.mark.parametrize(("source", "medium", "referrer", "click_id", "expected"), CHANNEL_TABLE)
def test_channel_table(source: str | None, medium: str | None, referrer: str | None, click_id: str | None,
                       expected: str) -> None:
    # GIVEN an event's campaign parameters and referrer WHEN it is grouped THEN it lands in the documented channel
    assert channel(source, medium, referrer, click_id) == expected


def test_channel_only_returns_documented_values() -> None:
    # GIVEN every row of the table THEN each answer is one of CHANNELS, and every channel is reachable
    answers = {channel(s, m, r, c) for s, m, r, c, _ in CHANNEL_TABLE}
    assert answers <= set(CHANNELS)
    assert answers == set(CHANNELS)


def test_channel_ignores_case_and_spaces_of_source_and_medium() -> None:
    assert channel(" Google ", " CPC ", None, None) == channel("google", "cpc", None, None) == "Paid Search"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale",
         UrlCampaign("newsletter", "email", "spring_sale")),
        ("https://shop.example.com/p?UTM_Source=Google&utm_medium=cpc&utm_term=blue%20mug&utm_content=ad+1&gclid=abc",
         UrlCampaign("Google", "cpc", None, "blue mug", "ad 1", "abc")),
        ("https://shop.example.com/p?utm_source=&utm_source=second", UrlCampaign("second")),
        ("https://shop.example.com/p?msclkid=m1&gclid=g1", UrlCampaign(click_id="g1")),
        ("https://shop.example.com/p?fbclid=f1", UrlCampaign(click_id="f1")),
        ("https://shop.example.com/p?q=kettle", UrlCampaign()),
        ("https://shop.example.com/p", UrlCampaign()),
        ("", UrlCampaign()),
        (None, UrlCampaign()),
        ("http://[bad/?utm_source=x", UrlCampaign()),
    ],
)
def test_url_campaign(url: str | None, expected: UrlCampaign) -> None:
    # GIVEN a page URL WHEN its query is read THEN the UTM parameters and the first click id come out
    assert url_campaign(url) == expected


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.com/", "google.com"),
        ("https://WWW.Google.CO.UK/search?q=x", "google.co.uk"),
        ("https://l.facebook.com/l.php?u=x", "l.facebook.com"),
        ("http://blog.example.org:8080/post", "blog.example.org"),
        ("https://www.", None),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("", None),
        (None, None),
        ("not a url", None),
        ("http://[::1", None),
    ],
)
def test_referrer_host(referrer: str | None, expected: str | None) -> None:
    # GIVEN document.referrer WHEN its host is taken THEN it is lowercase, without www. and port
    assert referrer_host(referrer) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example.com/products/42?utm_source=x#top", "/products/42"),
        ("https://shop.example.com", "/"),
        ("https://shop.example.com/", "/"),
        ("/relative/path?x=1", "/relative/path"),
        ("", None),
        (None, None),
        ("http://[bad", None),
    ],
)
def test_url_path(url: str | None, expected: str | None) -> None:
    assert url_path(url) == expected


def test_page_fields_prefer_page_path_and_campaign_fields_then_fall_back_to_the_url() -> None:
    # GIVEN a page with its own path, a campaign with only a source, and UTM parameters in the URL
    url = "https://shop.example.com/landing?utm_source=url_source&utm_medium=cpc&utm_campaign=c1&gclid=g1"
    fields = page_fields(url, "/declared", "https://www.google.com/", ("campaign_source", None, None, None, None, None))
    # THEN each column takes the campaign's value when there is one, else the URL's
    assert fields.page_path == "/declared"
    assert fields.utm_source == "campaign_source"
    assert (fields.utm_medium, fields.utm_campaign, fields.click_id) == ("cpc", "c1", "g1")
    assert fields.referrer_host == "google.com"
    assert fields.channel == "Paid Search"


def test_page_fields_empty_path_falls_back_to_url_path() -> None:
    assert page_fields("https://shop.example.com/c/kitchen", "", None, None).page_path == "/c/kitchen"
    assert page_fields(None, None, None, None).page_path is None


def test_internal_navigation_is_direct_not_referral() -> None:
    # GIVEN a page view whose referrer is another page of the same site
    fields = page_fields("https://www.shop.example.com/cart", "/cart", "https://shop.example.com/p/1", None)
    # THEN the referrer host is kept, but the channel does not count it as a referral
    assert fields.referrer_host == "shop.example.com"
    assert fields.channel == "Direct"


def test_page_deriver_caches_and_matches_page_fields() -> None:
    args = [("https://a.example/x?utm_source=s", None, None, None), ("https://b.example/", "/", None, None),
            ("https://c.example/", "/", "https://t.co/", None),
            # the same URL and referrer in other combinations (URLs and referrers are cached apart)
            ("https://c.example/", "", "https://c.example/p", None), ("https://b.example/", "/", "https://t.co/", None),
            ("https://c.example/", "/", "https://t.co/", ("news", "email", None, None, None, None)),
            (None, None, "https://t.co/", None), (None, None, None, None)]
    for deriver in (PageDeriver(max_entries=2), PageDeriver()):
        for _ in range(2):
            for a in args:
                assert deriver(*a) == page_fields(*a)


@pytest.mark.parametrize(
    ("ua_device", "is_bot", "expected"),
    [("desktop", False, "desktop"), ("mobile", False, "mobile"), ("tablet", False, "tablet"),
     ("desktop", True, "bot"), (None, False, "other"), ("bot", False, "bot"), ("fridge", False, "other")],
)
def test_device_class(ua_device: str | None, is_bot: bool, expected: str) -> None:
    assert device_class(ua_device, is_bot) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("  Blue Kettle ", "blue kettle"), ("", None), ("   ", None), (None, None), (42, "42"), (True, None)],
)
def test_search_term(value: object, expected: str | None) -> None:
    assert search_term(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12850, 12850), (0, 0), (12.9, 12), (-5, None), (True, None), ("100", None), (None, None),
     (float("nan"), None), (float("inf"), None)],
)
def test_engaged_ms(value: object, expected: int | None) -> None:
    assert engaged_ms(value) == expected


def test_host_of_strips_trailing_dot() -> None:
    assert host_of("https://www.example.com./x") == "example.com"
