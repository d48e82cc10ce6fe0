"""Visitors' browsers, clocks and addresses: the server must see them as the generator meant them."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime

import pytest

from clickstream.demo.devices import (
    BOT_USER_AGENTS,
    agents,
    bot_agents,
    distinct_user_agents,
    random_ip,
    screen_for,
    tz_offset_min,
)
from clickstream.ingest.enrich import UserAgentParser


@pytest.fixture(scope="module")
def parser() -> UserAgentParser:
    return UserAgentParser()


def test_a_few_hundred_distinct_user_agents_mostly_desktop_and_mobile() -> None:
    assert 250 <= distinct_user_agents() <= 400
    shares = {device: sum(a.weight for a in agents() if a.device == device) for device in ("desktop", "mobile", "tablet")}
    assert shares["desktop"] == pytest.approx(0.45) and shares["mobile"] == pytest.approx(0.47)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_the_server_classifies_every_human_user_agent_as_intended(parser: UserAgentParser) -> None:
    wrong = [(a.user_agent, a.device, parser.parse(a.user_agent)) for a in agents()
             if parser.parse(a.user_agent).device != a.device or parser.parse(a.user_agent).is_bot]
    assert wrong == []


def test_the_server_flags_every_crawler(parser: UserAgentParser) -> None:
    assert len(bot_agents()) == len(BOT_USER_AGENTS)
    assert [ua for ua in BOT_USER_AGENTS if not parser.parse(ua).is_bot] == []


@pytest.mark.parametrize(("zone", "moment", "offset"), [
    ("eu", datetime(2026, 1, 15, 12, tzinfo=UTC), 60),
    ("eu", datetime(2026, 7, 15, 12, tzinfo=UTC), 120),
    ("eu", datetime(2026, 3, 29, 0, 59, tzinfo=UTC), 60),  # the night summer time starts
    ("eu", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 120),
    ("eu", datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 60),  # and ends
    ("uk", datetime(2026, 7, 15, 12, tzinfo=UTC), 60),
    ("uk", datetime(2026, 12, 1, 12, tzinfo=UTC), 0),
    ("us", datetime(2026, 3, 8, 7, 0, tzinfo=UTC), -240),
    ("us", datetime(2026, 11, 1, 6, 0, tzinfo=UTC), -300),
])
def test_time_zone_offsets_follow_daylight_saving(zone: str, moment: datetime, offset: int) -> None:
    assert tz_offset_min(zone, moment) == offset


def test_addresses_and_screens_are_plausible() -> None:
    rng = random.Random(1)
    networks = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
    addresses = [ipaddress.ip_address(random_ip(rng)) for _ in range(500)]
    assert all(any(a in n for n in networks) for a in addresses)
    assert 0.15 < sum(a.version == 6 for a in addresses) / 500 < 0.45
    for device in ("desktop", "mobile", "tablet"):
        for _ in range(50):
            width, height, viewport_w, viewport_h = screen_for(device, rng)
            assert 0 < viewport_w <= width and 0 < viewport_h < height
            assert (width > height) == (device == "desktop")
