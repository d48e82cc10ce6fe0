"""A visit through the demo shop lands in the raw layer as exactly the events it made.

Browse, search, open a product from the results, add it to the cart, check out, sign in
against the local Cognito pool, sign up for the newsletter, sign out: every event the SDK
made arrives once, in order, with the page it happened on, the e-commerce payloads the shop
built, and `user_id` (the demo user's Cognito `sub`, set by the server from the token) on
exactly the events made while signed in.

`user_engagement` is checked on its own: the SDK reports it once per page hide, and on
`reset()` for the time signed in; the few milliseconds between sign-out and leaving the page
are reported under the new anonymous visitor.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from tests.e2e import shop_model as shop
from tests.e2e.conftest import Visitor

NEWSLETTER_EMAIL = "reader-e2e@example.org"
DELIVERY = {"#name": "Ada Lovelace", "#street": "12 Marlborough Road", "#postcode": "K1A 0B9", "#city": "Berlin"}


def sessions_of(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Events grouped by session_id, each in event_seq order, sessions in the order they started."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_session[event["session_id"]].append(event)
    sessions = [sorted(s, key=lambda e: e["event_seq"]) for s in by_session.values()]
    return sorted(sessions, key=lambda s: s[0]["event_ts"])


def without_engagement(session: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in session if e["event_name"] != "user_engagement"]


def test_a_visit_arrives_as_exactly_the_events_it_made(visitor: Visitor) -> None:
    page = visitor.page
    url = visitor.shop.url
    query = shop.a_search_term()
    results = shop.search(query)
    chosen = results[1]  # not the first: the list index must travel with select_item
    related = shop.in_category(chosen.category)
    related = [p for p in related if p != chosen][:4]
    home_list = shop.popular(shop.PRODUCTS)[:8]
    viewed_variant = chosen.variants[0] if chosen.variants else None
    variant = chosen.variants[-1] if chosen.variants else None  # the visitor picks another option
    quantity = 2
    value = shop.money(chosen.price * quantity)
    shipping = shop.shipping_for(value)

    # GIVEN a first visit: the shop asks for consent before the SDK stores or sends anything
    visitor.open("/")
    visitor.screenshot("01-home-consent")
    assert visitor.queued() == []
    visitor.accept_consent()
    visitor.screenshot("02-home")

    # WHEN the visitor searches, opens the second result, picks an option and adds two to the cart
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_url(f"{url}/search?q={query}")
    visitor.ready()
    visitor.screenshot("03-search")
    visitor.follow("#products a.card[data-index='1']", chosen.path)
    if variant:
        page.select_option("#variant", variant)
    page.select_option("#quantity", str(quantity))
    page.click("#add-to-cart")
    page.wait_for_selector("#view-cart")
    visitor.screenshot("04-product")
    visitor.follow("#view-cart", "/cart")
    visitor.screenshot("05-cart")

    # AND checks out: delivery, payment (PayPal), review, place the order
    visitor.follow("#checkout-button", "/checkout")
    page.fill("#email", "ada@example.org")
    for selector, text in DELIVERY.items():
        page.fill(selector, text)
    visitor.screenshot("06-checkout-delivery")
    page.click("#to-payment")
    page.check("input[value='paypal']")
    visitor.screenshot("07-checkout-payment")
    page.click("#to-review")
    visitor.screenshot("08-checkout-review")
    page.click("#place-order")
    page.wait_for_url(f"{url}/checkout/thanks")
    visitor.ready()
    order_id = page.inner_text("#order-id")
    visitor.screenshot("09-order-complete")

    # AND signs in as the demo user, subscribes to the newsletter, and signs out
    visitor.follow("#sign-in", "/signin?next=%2Fcheckout%2Fthanks")
    page.fill("#signin-email", visitor.shop.resources.demo_user)
    page.fill("#signin-password", visitor.shop.resources.demo_password)
    visitor.screenshot("10-signin")
    page.click("#signin-submit")
    page.wait_for_selector("#sign-out")
    page.fill("#newsletter-email", NEWSLETTER_EMAIL)
    page.click("#newsletter-signup")
    page.wait_for_selector("#newsletter-thanks:visible")
    visitor.screenshot("11-signed-in")
    visitor.follow("#sign-out", "/")
    visitor.flush()

    # THEN the raw layer holds two sessions (sign-out starts a new visitor) with every event once
    signed_in_names = ["login", "newsletter_signup", "sign_out"]
    product = chosen.path
    expected_first = [
        ("page_view", "/"), ("view_item_list", "/"),
        ("page_view", "/search"), ("search", "/search"), ("view_item_list", "/search"),
        ("click", "/search"), ("select_item", "/search"),
        ("page_view", product), ("view_item", product), *([("view_item_list", product)] if related else []),
        ("add_to_cart", product), ("click", product),
        ("page_view", "/cart"), ("view_cart", "/cart"), ("click", "/cart"),
        ("page_view", "/checkout"), ("begin_checkout", "/checkout"), ("add_payment_info", "/checkout"),
        ("purchase", "/checkout"),
        ("page_view", "/checkout/thanks"), ("click", "/checkout/thanks"),
        ("page_view", "/signin"), *((name, "/signin") for name in signed_in_names),
    ]
    expected_second = [("page_view", "/"), ("view_item_list", "/")]
    titles = {"/": shop.SHOP_NAME, "/search": f"Search: {query}", product: chosen.name, "/cart": "Your cart",
              "/checkout": "Checkout", "/checkout/thanks": "Thank you", "/signin": "Sign in"}
    left_pages = 7  # every page view but the last one ended, so each reported its engaged time

    def complete(events: list[dict[str, Any]]) -> bool:
        sessions = sessions_of(events)
        ended = {e["page"]["page_view_id"] for e in events if e["event_name"] == "user_engagement"}
        return [len(without_engagement(s)) for s in sessions] == [len(expected_first), len(expected_second)] and (
            len(ended) >= left_pages
        )

    events = visitor.wait_for_events(complete, "the visit's events in the raw layer")
    first, second = sessions_of(events)

    assert [(e["event_name"], e["page"]["path"]) for e in without_engagement(first)] == expected_first
    assert [(e["event_name"], e["page"]["path"]) for e in without_engagement(second)] == expected_second
    counts = Counter(e["event_id"] for e in events)
    assert max(counts.values()) == 1, f"sent more than once: {[i for i, n in counts.items() if n > 1]}"
    for session in (first, second):
        assert [e["event_seq"] for e in session] == list(range(1, len(session) + 1)), "an event went missing"
    assert not visitor.quarantined()

    # identity: one anonymous visitor per session; user_id only while signed in, from the token
    assert len({e["anonymous_id"] for e in first}) == 1
    assert len({e["anonymous_id"] for e in second}) == 1
    assert first[0]["anonymous_id"] != second[0]["anonymous_id"]
    login_at = next(i for i, e in enumerate(first) if e["event_name"] == "login")
    assert all("user_id" not in e for e in first[:login_at] + second)
    assert [e["event_name"] for e in without_engagement(first[login_at:])] == signed_in_names
    assert {e.get("user_id") for e in first[login_at:]} == {visitor.shop.demo_sub}

    # every event: consent given, scrubbed URLs, the page's own title, one page view id per page
    for e in events:
        assert e["consent"] == {"analytics": True}
        assert e["app_id"] == "demo-shop" and e["platform"] == "web" and e["schema_version"] == 1
        assert e["page"]["url"] == url + e["page"]["path"], "query strings must not leave the page"
        assert e["page"]["title"] == titles[e["page"]["path"]]
    page_views = [e for e in events if e["event_name"] == "page_view"]
    assert len({e["page"]["page_view_id"] for e in page_views}) == len(page_views)
    assert page_views[2]["page"]["referrer"] == f"{url}/search", "the referrer is scrubbed too"

    # engaged time: every page left reported it, against its own page view
    engagements = [e for e in events if e["event_name"] == "user_engagement"]
    views = {e["page"]["page_view_id"]: e["page"]["path"] for e in page_views}
    assert {e["page"]["page_view_id"] for e in engagements} == set(list(views)[:left_pages])
    for e in engagements:
        assert e["properties"]["engaged_ms"] > 0
        assert e["page"]["path"] == views[e["page"]["page_view_id"]]

    # site search and the lists: positions, list names, the product chosen
    by_name = defaultdict(list)
    for e in first:
        by_name[e["event_name"]].append(e)
    assert by_name["search"][0]["properties"] == {"search_term": query}
    home, found, *rest = by_name["view_item_list"]
    assert home["properties"] == {"item_list_id": "popular_products", "item_list_name": "Popular right now"}
    assert home["ecommerce"] == {"currency": "EUR", "items": [shop.item(p, index=i) for i, p in enumerate(home_list)]}
    assert found["properties"] == {"item_list_id": "search_results", "item_list_name": "Search results"}
    assert found["ecommerce"]["items"] == [shop.item(p, index=i) for i, p in enumerate(results)]
    if related:
        assert rest[0]["properties"] == {"item_list_id": "related_products", "item_list_name": "You may also like"}
        assert rest[0]["ecommerce"]["items"] == [shop.item(p, index=i) for i, p in enumerate(related)]
    selected = by_name["select_item"][0]
    assert selected["ecommerce"] == {"currency": "EUR", "items": [shop.item(chosen, index=1)]}
    assert selected["properties"]["item_list_id"] == "search_results"
    product_click, view_cart_click, checkout_click, signin_click = by_name["click"]
    assert product_click["properties"]["element_id"] == f"product-{chosen.item_id.lower()}"
    assert product_click["properties"]["link_url"] == url + chosen.path
    assert view_cart_click["properties"] == {"element_id": "view-cart", "element_text": "View cart",
                                             "link_url": f"{url}/cart"}
    assert checkout_click["properties"] == {"element_id": "checkout-button", "element_text": "Checkout",
                                            "link_url": f"{url}/checkout"}
    assert signin_click["properties"]["link_url"] == f"{url}/signin", "next= must be scrubbed"

    # the product, cart and checkout payloads
    assert by_name["view_item"][0]["ecommerce"] == {"currency": "EUR", "value": chosen.price,
                                                    "items": [shop.item(chosen, viewed_variant)]}
    line = {"currency": "EUR", "value": value, "items": [shop.item(chosen, variant, quantity=quantity)]}
    for name in ("add_to_cart", "view_cart", "begin_checkout", "add_payment_info"):
        assert by_name[name][0]["ecommerce"] == line, name
    assert by_name["add_payment_info"][0]["properties"] == {"payment_type": "paypal"}
    purchase = by_name["purchase"][0]
    assert purchase["ecommerce"] == {**line, "transaction_id": order_id}
    assert purchase["properties"] == {"shipping": shipping, "tax": shop.tax_in(value), "payment_type": "paypal"}
    assert by_name["login"][0]["properties"] == {"method": "password"}
    assert by_name["newsletter_signup"][0]["properties"] == {"element_id": "newsletter-signup",
                                                             "element_text": "Subscribe"}
    assert by_name["sign_out"][0]["properties"] == {"element_id": "sign-out", "element_text": "Sign out"}

    # nothing typed into a form ever left the browser
    stored = json.dumps(events)
    for typed in (NEWSLETTER_EMAIL, "ada@example.org", *DELIVERY.values(), visitor.shop.resources.demo_password):
        assert typed not in stored


def test_a_signed_in_visitor_moving_to_another_page_leaves_nothing_behind(visitor: Visitor) -> None:
    # GIVEN a signed-in visitor whose queue is empty
    visitor.open("/signin")
    visitor.accept_consent()
    visitor.page.fill("#signin-email", visitor.shop.resources.demo_user)
    visitor.page.fill("#signin-password", visitor.shop.resources.demo_password)
    visitor.page.click("#signin-submit")
    visitor.page.wait_for_selector("#sign-out")
    visitor.flush()
    assert visitor.queued() == []

    # WHEN they go on to another page and the SDK is told to send
    visitor.follow("#continue", "/")
    visitor.flush()

    # THEN nothing is left in the queue: what the sign-in page sent on leaving is done with
    assert [e["event_name"] for e in visitor.queued()] == []
