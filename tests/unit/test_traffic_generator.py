"""The demo traffic generator: deterministic, valid where it means to be, broken where it means
to be (with the code the server will give), and shaped like a real shop's traffic."""

from __future__ import annotations

import collections
import ipaddress
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from clickstream.demo.traffic import (
    APP_ID,
    MAX_REQUEST_BYTES,
    MAX_REQUEST_EVENTS,
    SDK,
    Batching,
    Noise,
    Request,
    generate,
    generate_events,
    generate_requests,
    hourly_weight,
)
from clickstream.schema import STANDARD_EVENT_NAMES, Code, Rejection, parse_batch, validate_event

START = datetime(2026, 11, 16, 0, tzinfo=UTC)  # a Monday
END = START + timedelta(days=2)
# Rates well above the defaults, so that two days hold enough of each kind to measure.
NOISE = Noise(bots=0.05, malformed=0.02, retries=0.05, conflicts=0.01, late=0.05, too_late=0.01, skewed_clocks=0.1)
DOCUMENTATION_NETWORKS = [ipaddress.ip_network(n) for n in
                          ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
_encode = msgspec.json.Encoder().encode


@pytest.fixture(scope="module")
def noisy() -> list[Request]:
    return list(generate(START, END, seed=11, visitors_per_hour=40, noise=NOISE))


@pytest.fixture(scope="module")
def clean() -> list[Request]:
    return list(generate(START, START + timedelta(days=4), seed=5, visitors_per_hour=40, noise=Noise.none()))


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _originals(requests: list[Request]) -> list[Request]:
    return [r for r in requests if not r.retry]


def _valid_events(requests: list[Request]) -> list[dict[str, Any]]:
    """Each valid event once: no retries, no conflicting re-sends, no rejected events."""
    return [e for r in _originals(requests) for i, e in enumerate(r.events)
            if i not in r.rejections and i not in r.conflicts]


def _assert_rate(observed: int, trials: int, rate: float) -> None:
    # The output is deterministic; the bound says the rate is the configured one, give or
    # take four standard deviations of a binomial count.
    expected = trials * rate
    slack = 4 * math.sqrt(trials * rate * (1 - rate)) + 1
    assert abs(observed - expected) <= slack, f"{observed} of {trials} is not about {rate:.2%}"


# --------------------------------------------------------------------------- determinism and shape


def test_same_seed_gives_identical_requests() -> None:
    # GIVEN two runs with the same arguments, and one with another seed
    start, end = START + timedelta(hours=18), START + timedelta(hours=21)
    first = list(generate(start, end, seed=3, noise=NOISE))
    second = list(generate(start, end, seed=3, noise=NOISE))
    other = list(generate(start, end, seed=4, noise=NOISE))
    # THEN the same seed gives the same requests byte for byte, another seed other ones
    assert [(r.key, r.received_at, r.body(), r.user_agent, r.source_ip, r.signed_in_sub) for r in first] == [
        (r.key, r.received_at, r.body(), r.user_agent, r.source_ip, r.signed_in_sub) for r in second]
    assert [r.body() for r in first] != [r.body() for r in other]


def test_an_hour_is_the_same_whatever_range_it_is_generated_in() -> None:
    # GIVEN the same hours generated as the tail of a longer range and on their own
    long = list(generate(START + timedelta(hours=10), START + timedelta(hours=14), seed=3, noise=NOISE))
    short = list(generate(START + timedelta(hours=12), START + timedelta(hours=14), seed=3, noise=NOISE))
    # THEN the requests they share are identical (re-seeding overlapping days rewrites, never adds)
    tail = [r for r in long if r.received_at >= START + timedelta(hours=12)]
    assert [(r.key, r.body()) for r in tail] == [(r.key, r.body()) for r in short]


def test_requests_are_in_the_range_in_arrival_order_with_unique_keys(noisy: list[Request]) -> None:
    assert noisy
    assert all(START <= r.received_at < END for r in noisy)
    assert all(a.received_at <= b.received_at for a, b in zip(noisy, noisy[1:], strict=False))
    assert len({r.key for r in noisy}) == len(noisy)


@pytest.mark.parametrize("batching", [Batching(), Batching(max_events=50, interval_s=3600.0, on_page_leave=False)],
                         ids=["sdk-defaults", "whole-visits"])
def test_requests_respect_the_sdk_limits(batching: Batching) -> None:
    requests = list(generate(START + timedelta(hours=18), START + timedelta(hours=22), seed=2, noise=NOISE,
                             batching=batching, visitors_per_hour=60))
    for request in requests:
        body = request.body()
        assert 1 <= len(request.events) <= min(MAX_REQUEST_EVENTS, batching.max_events)
        assert len(body) <= MAX_REQUEST_BYTES
        assert len(parse_batch(body)) == len(request.events)  # the server reads the body as sent
        assert len({e.get("sent_ts") for e in request.events}) == 1  # stamped once per send


def test_events_have_the_sdk_wire_shape(clean: list[Request]) -> None:
    events = _valid_events(clean)
    # every standard name, plus the shop's own: sign-in and its data-cs-event buttons
    assert {e["event_name"] for e in events} - STANDARD_EVENT_NAMES == {"login", "wishlist_add", "newsletter_signup"}
    assert {e["event_name"] for e in events} >= STANDARD_EVENT_NAMES
    for event in events:
        assert event["app_id"] == APP_ID and event["platform"] == "web" and event["sdk"] == SDK
        assert event["schema_version"] == 1 and event["consent"] == {"analytics": True}
        assert "user_id" not in event  # the server derives it from the token
        assert event["page"]["url"].startswith("https://shop.example.com/")
        assert set(event["device"]) == {"screen_w", "screen_h", "viewport_w", "viewport_h", "language",
                                        "tz_offset_min"}
        assert all(value is not None for value in event.values())  # absent, not null, as the SDK does
        assert _ts(event["event_ts"]) <= _ts(event["sent_ts"])


# --------------------------------------------------------------------------- valid and invalid


def test_every_unlabelled_event_is_accepted_and_every_labelled_one_gets_its_code(noisy: list[Request]) -> None:
    # GIVEN every event of the noisy sample WHEN the server validates it at its receive time
    outcomes: collections.Counter[str] = collections.Counter()
    for request in noisy:
        for index, event in enumerate(request.events):
            outcome = validate_event(_encode(event), received_at=request.received_at)
            expected = request.rejections.get(index)
            # THEN it is accepted exactly when it carries no label, and refused with its label's code
            if expected is None:
                assert not isinstance(outcome, Rejection), (outcome, event)
            else:
                assert isinstance(outcome, Rejection) and outcome.code == expected, (outcome, event)
                outcomes[expected] += 1
    malformed = {Code.bad_event_name, Code.missing_field, Code.bad_currency, Code.negative_amount,
                 Code.missing_currency, Code.missing_transaction_id, Code.item_without_id, Code.unknown_field,
                 Code.bad_event_id, Code.bad_timestamp, Code.bad_type}
    assert malformed <= set(outcomes), f"kinds never generated: {malformed - set(outcomes)}"
    assert outcomes[Code.stale_timestamp] > 0


def test_clean_traffic_has_no_noise_at_all(clean: list[Request]) -> None:
    assert not any(r.rejections or r.duplicates or r.conflicts or r.retry or r.late or r.bot for r in clean)
    ids = [e["event_id"] for r in clean for e in r.events]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- noise rates


def test_noise_rates_are_the_configured_ones(noisy: list[Request]) -> None:
    originals = _originals(noisy)
    valid = _valid_events(noisy)
    # Crawler visits, per visit.
    sessions = {e["session_id"] for e in valid}
    bot_sessions = {e["session_id"] for r in originals if r.bot for e in r.events if "session_id" in e}
    _assert_rate(len(bot_sessions), len(sessions), NOISE.bots)
    # Retries, per request sent.
    _assert_rate(sum(r.retry for r in noisy), len(originals), NOISE.retries)
    # Malformed and conflicting events, per valid event.
    malformed = sum(1 for r in originals for c in r.rejections.values() if c is not Code.stale_timestamp)
    _assert_rate(malformed, len(valid), NOISE.malformed)
    _assert_rate(sum(len(r.conflicts) for r in originals), len(valid), NOISE.conflicts)
    # Late and too-late deliveries, per human visit.
    human = sessions - bot_sessions
    late = {e["session_id"] for r in originals if r.late for e in r.events if "session_id" in e}
    stale = {e["session_id"] for r in originals for i, e in enumerate(r.events)
             if r.rejections.get(i) is Code.stale_timestamp}
    _assert_rate(len(late), len(human | stale), NOISE.late)
    _assert_rate(len(stale), len(human | stale), NOISE.too_late)


def test_retries_resend_the_same_events_and_conflicts_reuse_an_id_with_another_payload(
        noisy: list[Request]) -> None:
    def payload(event: dict[str, Any]) -> bytes:
        return _encode({k: v for k, v in event.items() if k != "sent_ts"})  # the SDK restamps sent_ts

    seen: dict[str, bytes] = {}
    for request in noisy:
        for index, event in enumerate(request.events):
            if index in request.rejections:
                continue
            event_id = event["event_id"]
            if index in request.duplicates:
                assert seen[event_id] == payload(event)  # a natural duplicate: sent before, identical
            elif index in request.conflicts:
                assert event_id in seen and seen[event_id] != payload(event)  # a synthetic duplicate
            else:
                assert event_id not in seen  # everything else is new
                seen[event_id] = payload(event)
    assert sum(len(r.duplicates) for r in noisy) > 0 and sum(len(r.conflicts) for r in noisy) > 0


def test_late_events_are_hours_old_but_within_72_hours_and_others_are_fresh(noisy: list[Request]) -> None:
    late_lags, fresh_lags = [], []
    for request in noisy:
        for index, event in enumerate(request.events):
            if index in request.rejections:
                continue
            lag = _ts(event["sent_ts"]) - _ts(event["event_ts"])
            (late_lags if request.late else fresh_lags).append(lag)
    assert late_lags and min(late_lags) >= timedelta(hours=1) and max(late_lags) < timedelta(hours=72)
    assert max(fresh_lags) < timedelta(hours=1)


def test_crawlers_send_valid_events_with_crawler_user_agents(noisy: list[Request]) -> None:
    from clickstream.ingest.enrich import UserAgentParser

    parser = UserAgentParser()
    assert {parser.parse(r.user_agent).is_bot for r in noisy if r.bot} == {True}
    assert {parser.parse(r.user_agent).is_bot for r in noisy if not r.bot} == {False}


# --------------------------------------------------------------------------- a realistic shop


def test_the_funnel_narrows_and_about_two_to_three_percent_of_visits_buy(clean: list[Request]) -> None:
    steps = ("view_item", "add_to_cart", "begin_checkout", "purchase")
    sessions: dict[str, set[str]] = collections.defaultdict(set)
    first_seen: set[str] = set()
    for event in _valid_events(clean):
        sessions[event["session_id"]].add(event["event_name"])
        if event["event_seq"] == 1:
            first_seen.add(event["session_id"])
    reached = [sum(1 for names in sessions.values() if step in names) for step in steps]
    assert reached == sorted(reached, reverse=True) and reached[-1] > 0
    # Every visit seen from its start that bought went through each step before.
    for session_id in first_seen:
        names = sessions[session_id]
        for later, earlier in zip(steps[1:], steps, strict=False):
            assert later not in names or earlier in names, (session_id, names)
    conversion = reached[-1] / len(sessions)
    assert 0.015 <= conversion <= 0.04, conversion


def test_money_adds_up_in_every_ecommerce_event(clean: list[Request]) -> None:
    orders = 0
    for event in _valid_events(clean):
        ecommerce = event.get("ecommerce")
        if ecommerce is None or "value" not in ecommerce:
            continue
        items = ecommerce["items"]
        assert ecommerce["currency"] == "EUR" and items
        assert ecommerce["value"] == round(sum(i["price"] * i["quantity"] for i in items) + 1e-9, 2), event
        if event["event_name"] in ("purchase", "refund"):
            assert ecommerce["transaction_id"].startswith("ORD-")
            orders += event["event_name"] == "purchase"
    transaction_ids = [e["ecommerce"]["transaction_id"] for e in _valid_events(clean) if e["event_name"] == "purchase"]
    assert orders > 0 and len(transaction_ids) == len(set(transaction_ids))


def test_refunds_return_part_or_all_of_an_earlier_order(clean: list[Request]) -> None:
    purchases: dict[str, dict[str, Any]] = {}
    refunds = 0
    for event in _valid_events(clean):
        ecommerce = event.get("ecommerce") or {}
        if event["event_name"] == "purchase":
            purchases[ecommerce["transaction_id"]] = event
        elif event["event_name"] == "refund":
            refunds += 1
            order = purchases[ecommerce["transaction_id"]]  # bought before, in this traffic
            bought = {(i["item_id"], i.get("item_variant"), i["quantity"]) for i in order["ecommerce"]["items"]}
            assert {(i["item_id"], i.get("item_variant"), i["quantity"]) for i in ecommerce["items"]} <= bought
            assert ecommerce["value"] <= order["ecommerce"]["value"]
            assert event["anonymous_id"] == order["anonymous_id"] and event["session_id"] != order["session_id"]
    assert 0 < refunds < 0.2 * len(purchases)


def test_sessions_follow_the_sdk_rules(clean: list[Request]) -> None:
    by_session: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for event in _valid_events(clean):
        by_session[event["session_id"]].append(event)
    for events in by_session.values():
        events.sort(key=lambda e: e["event_seq"])
        times = [_ts(e["event_ts"]) for e in events]
        # event_seq counts up in time; no 30-minute gap inside a session; one visitor per session
        assert times == sorted(times)
        assert all(b - a < timedelta(minutes=30) for a, b in zip(times, times[1:], strict=False))
        assert len({e["anonymous_id"] for e in events}) == 1
        assert len({e.get("campaign", {}).get("name") for e in events}) == 1
        # every event belongs to a page view whose page_view event came first (when the visit
        # is seen from its start; the range may cut a visit that began before it)
        if events[0]["event_seq"] == 1:
            assert {e["page"]["page_view_id"] for e in events} == {
                e["page"]["page_view_id"] for e in events if e["event_name"] == "page_view"}


def test_searches_that_find_nothing_are_not_followed_by_a_product_view(clean: list[Request]) -> None:
    # As on the live shop, the SDK's search event carries only the term; a search found
    # something when its page view shows a search_results list.
    events = _valid_events(clean)
    with_results = {e["page"]["page_view_id"] for e in events if e["event_name"] == "view_item_list"
                    and e["properties"]["item_list_id"] == "search_results"}
    by_session: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for event in events:
        by_session[event["session_id"]].append(event)
    searches = empty = followed = 0
    for session in by_session.values():
        session.sort(key=lambda e: e["event_seq"])
        for position, event in enumerate(session):
            if event["event_name"] != "search":
                continue
            assert set(event["properties"]) == {"search_term"}
            searches += 1
            if event["page"]["page_view_id"] not in with_results:
                empty += 1
                later = [e for e in session[position + 1:] if e["event_name"] == "page_view"]
                followed += bool(later) and later[0]["page"]["path"].startswith("/p/")
    assert 0.05 < empty / searches < 0.3 and followed == 0


def test_traffic_sources_devices_and_identities_look_real(clean: list[Request]) -> None:
    valid = _valid_events(clean)
    landing = [e for e in valid if e["event_seq"] == 1]
    referrers = collections.Counter((e["page"].get("referrer") or "").split("/")[2] if e["page"].get("referrer")
                                    else "" for e in landing)
    assert referrers[""] > 0 and referrers["www.google.com"] > 0 and referrers["www.bing.com"] > 0
    media = collections.Counter(e.get("campaign", {}).get("medium") for e in landing)
    assert media["cpc"] > 0 and media["email"] > 0 and media["social"] + media["paid_social"] > 0
    paid = [e for e in landing if e.get("campaign", {}).get("medium") == "cpc"]
    assert all(e["campaign"]["click_id"] and "utm_source=" in e["page"]["url"] for e in paid)
    # A few hundred user agents; documentation addresses only
    assert len({r.user_agent for r in clean}) >= 150
    for request in clean:
        address = ipaddress.ip_address(request.source_ip)
        assert any(address in network for network in DOCUMENTATION_NETWORKS), request.source_ip
    # Returning visitors come back; signed-in visits are marked, one user per visitor
    visits_per_visitor = collections.Counter(e["anonymous_id"] for e in landing)
    assert max(visits_per_visitor.values()) > 1
    users: dict[str, set[str]] = collections.defaultdict(set)
    for request in clean:
        if request.signed_in_sub:
            users[request.signed_in_sub] |= {e["anonymous_id"] for e in request.events}
    assert users and all(len(anonymous) == 1 for anonymous in users.values())
    assert 0.02 < sum(r.signed_in_sub is not None for r in clean) / len(clean) < 0.3


def test_more_visits_in_the_evening_than_at_night_and_weekends_differ() -> None:
    week = [START + timedelta(hours=h) for h in range(168)]
    assert sum(hourly_weight(h) for h in week) / 168 == pytest.approx(1.0, abs=0.01)
    evening = hourly_weight(datetime(2026, 11, 18, 19, tzinfo=UTC))  # 20:00 in Berlin
    night = hourly_weight(datetime(2026, 11, 18, 3, tzinfo=UTC))
    assert evening > 5 * night
    weekday_morning = hourly_weight(datetime(2026, 11, 18, 7, tzinfo=UTC))
    sunday_morning = hourly_weight(datetime(2026, 11, 22, 7, tzinfo=UTC))
    assert weekday_morning > sunday_morning
    # and the generated volume follows the weights
    evening_requests = sum(1 for _ in generate(datetime(2026, 11, 18, 18, tzinfo=UTC),
                                               datetime(2026, 11, 18, 21, tzinfo=UTC), noise=Noise.none()))
    night_requests = sum(1 for _ in generate(datetime(2026, 11, 18, 1, tzinfo=UTC),
                                             datetime(2026, 11, 18, 4, tzinfo=UTC), noise=Noise.none()))
    assert evening_requests > 3 * night_requests


# --------------------------------------------------------------------------- the benchmark helpers


def test_generate_requests_makes_exactly_n_events_inside_the_hour() -> None:
    hour = datetime(2026, 11, 24, 19, tzinfo=UTC)
    requests = list(generate_requests(5_000, seed=9, hour=hour))
    assert sum(len(r.events) for r in requests) == 5_000
    assert all(hour <= r.received_at < hour + timedelta(hours=1) for r in requests)
    assert all(a.received_at <= b.received_at for a, b in zip(requests, requests[1:], strict=False))
    assert sum(1 for _ in generate_events(1_234, seed=9, hour=hour)) == 1_234


def test_generate_requests_is_deterministic_and_noisy_by_default() -> None:
    first = list(generate_requests(3_000, seed=1))
    again = list(generate_requests(3_000, seed=1))
    assert [r.body() for r in first] == [r.body() for r in again]
    assert any(r.rejections for r in first) or any(r.retry for r in first) or any(r.bot for r in first)


@pytest.mark.parametrize("bad", [
    {"start": datetime(2026, 1, 1), "end": datetime(2026, 1, 2, tzinfo=UTC)},
    {"visitors_per_hour": -1},
])
def test_bad_arguments_are_refused(bad: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"start": START, "end": START + timedelta(hours=1), **bad}
    with pytest.raises(ValueError):
        list(generate(arguments.pop("start"), arguments.pop("end"), **arguments))


@pytest.mark.parametrize("factory", [lambda: Noise(bots=1.5), lambda: Noise(late=0.7, too_late=0.5),
                                     lambda: Batching(max_events=51), lambda: Batching(interval_s=0)])
def test_bad_configuration_is_refused(factory: Any) -> None:
    with pytest.raises(ValueError):
        factory()


def test_signing_in_splits_a_visit_into_an_anonymous_part_and_a_signed_in_part(clean: list[Request]) -> None:
    # GIVEN visits in which the visitor signs in (the shop flushes, then identifies, then sends `login`)
    login_seq = {e["session_id"]: e["event_seq"] for r in clean for e in r.events if e["event_name"] == "login"}
    assert login_seq
    for request in clean:
        for event in request.events:
            session = event["session_id"]
            if session in login_seq:
                # THEN what happened before goes out anonymous and the rest with the token
                assert (request.signed_in_sub is not None) == (event["event_seq"] >= login_seq[session]), event
