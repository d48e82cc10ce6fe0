"""Delivery under real browser conditions: an outage, and a tab closed with events still queued."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.e2e.conftest import Visitor, wait_until
from tests.e2e.shop_model import PRODUCTS


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_name"] for e in events]


def test_events_made_offline_arrive_exactly_once_when_the_network_returns(visitor: Visitor) -> None:
    page = visitor.page
    # GIVEN a visitor on a product page whose first events have been delivered
    path = PRODUCTS[0].path
    visitor.open(path)
    visitor.accept_consent()
    visitor.flush()
    delivered = visitor.wait_for_events(lambda ev: {"page_view", "view_item"} <= set(names(ev)), "the first events")
    assert visitor.queued() == []

    # WHEN the network goes away and the visitor keeps shopping on the page
    visitor.context.set_offline(True)
    assert page.evaluate("() => navigator.onLine") is False
    page.select_option("#quantity", "3")
    page.click("#add-to-cart")
    page.click("#wishlist")
    page.fill("#newsletter-email", "offline-reader@example.org")
    page.click("#newsletter-signup")
    visitor.flush()  # fails: no network; the SDK keeps the batch and backs off

    # THEN the events wait in the persistent queue, and none reached the server
    offline = ["add_to_cart", "wishlist_add", "newsletter_signup"]
    assert names(visitor.queued()) == offline
    assert len(visitor.events()) == len(delivered)
    visitor.screenshot("12-offline")

    # WHEN the network comes back (the SDK retries on the browser's `online` event)
    visitor.context.set_offline(False)
    wait_until(lambda: visitor.queued() == [], "the queue to drain after coming back online")
    # AND the visitor goes on to the cart, which sends what that page makes
    visitor.follow("#view-cart", "/cart")
    visitor.flush()

    # THEN every event arrived, and each exactly once across all raw objects
    events = visitor.wait_for_events(
        lambda ev: {"view_cart", *offline} <= set(names(ev)) and "user_engagement" in names(ev),
        "the offline events and the cart page's events",
    )
    counts = Counter(e["event_id"] for e in events)
    assert set(counts.values()) == {1}, f"duplicated: {[i for i, n in counts.items() if n > 1]}"
    assert [e["event_seq"] for e in sorted(events, key=lambda e: e["event_seq"])] == list(range(1, len(events) + 1))
    made_offline = [e for e in events if e["event_name"] in offline]
    assert names(sorted(made_offline, key=lambda e: e["event_seq"])) == offline
    assert all(e["page"]["path"] == path for e in made_offline)
    # event_ts is when it happened, not when it was finally sent
    assert all(e["event_ts"] < e["sent_ts"] for e in made_offline)
    assert len({e["sent_ts"] for e in made_offline}) == 1, "sent together once the network was back"
    assert [e["ecommerce"]["items"][0]["quantity"] for e in events if e["event_name"] == "add_to_cart"] == [3]


def test_closing_the_tab_delivers_the_last_engagement_by_beacon(visitor: Visitor) -> None:
    page = visitor.page
    # GIVEN a visitor on a product page whose first events have been delivered
    visitor.open("/")
    visitor.accept_consent()
    path = PRODUCTS[-1].path
    visitor.open(path)
    visitor.flush()
    visitor.wait_for_events(lambda ev: "view_item" in names(ev), "the product page's first events")
    # AND one more event still queued (the SDK's timer would send it seconds later)
    page.click("#add-to-cart")
    assert names(visitor.queued()) == ["add_to_cart"]

    # WHEN the tab is closed
    page.close(run_before_unload=True)

    # THEN the queued event and the page's engaged time arrive, sent by the browser after the page is gone
    def arrived(events: list[dict[str, Any]]) -> bool:
        ended = [e for e in events if e["event_name"] == "user_engagement" and e["page"]["path"] == path]
        return bool(ended) and "add_to_cart" in names(events)

    events = visitor.wait_for_events(arrived, "the add_to_cart and the closing user_engagement")
    product_view = next(e for e in events if e["event_name"] == "page_view" and e["page"]["path"] == path)
    closing = [e for e in events if e["event_name"] == "user_engagement" and e["page"]["path"] == path]
    add_to_cart = next(e for e in events if e["event_name"] == "add_to_cart")
    for event in (add_to_cart, *closing):
        assert event["page"]["page_view_id"] == product_view["page"]["page_view_id"]
        request = visitor.shop.requests.get(event["server"]["request_id"])
        # a beacon is a no-cors request; the SDK's own fetch is a cors one
        assert request["headers"].get("sec-fetch-mode") == "no-cors", (event["event_name"], request["headers"])
    assert all(e["properties"]["engaged_ms"] > 0 for e in closing)
    counts = Counter(e["event_id"] for e in events)
    assert set(counts.values()) == {1}, f"duplicated: {[i for i, n in counts.items() if n > 1]}"
