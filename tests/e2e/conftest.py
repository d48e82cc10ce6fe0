"""End-to-end fixtures: the demo shop in headless Chromium against the local stack.

One stack for the package: a moto server (S3 and the Cognito pool with the demo user),
the real ingest handler behind the local API front with CORS for the shop's origin, and
the shop served by `StaticSite` with the built SDK. Each test gets a fresh browser context:
its own localStorage, so its own `anonymous_id`s, which is how a test finds its own events
in the raw layer. (Not the user agent: Chromium sends a beacon from a closing page with the
browser's own user agent, not a context's override.) The front's requests are logged with
their headers, so a test can tell a beacon (`sec-fetch-mode: no-cors`) from a fetch.
Nothing here sleeps a fixed time: waits poll with a deadline.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from clickstream.local.aws import LocalAws, LocalResources, ingest_environment
from clickstream.local.front import LocalApiFront
from clickstream.local.static import StaticSite, shop_config
from tests.support import free_port, read_lines

ROOT = Path(__file__).resolve().parents[2]
SHOP_ROOT = ROOT / "web" / "shop"
SDK_BUILD = ROOT / "web" / "sdk" / "dist" / "clickstream.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
# ARCHITECTURE "Facts": what Debian's Chromium needs to run headless here.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]

# A page is usable once its script has rendered it and the SDK has loaded: before that the
# snippet's stub queues calls, but autotrack is not listening yet, so a click would be lost.
PAGE_READY = "() => document.body.classList.contains('ready') && !!window.clickstream && !('q' in window.clickstream)"

T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str, timeout_s: float = 15.0, interval_s: float = 0.2) -> T:
    """Polls `probe` until it returns something truthy; fails naming `what` and the last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last value: {value!r}")
        time.sleep(interval_s)


class Bucket:
    """Reads every gzip JSON-lines object of a bucket; objects are immutable, so each is fetched once."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self._lines: dict[str, list[dict[str, Any]]] = {}

    def records(self) -> list[dict[str, Any]]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                if obj["Key"] not in self._lines:
                    self._lines[obj["Key"]] = read_lines(self.s3, self.bucket, obj["Key"])
        return [line for lines in self._lines.values() for line in lines]


class RequestLog:
    """What reached the ingest API: request id, method, headers and status of each request."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.handler = handler
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        result = self.handler(event, context)
        with self._lock:
            self._entries[event["requestContext"]["requestId"]] = {
                "method": event["requestContext"]["http"]["method"],
                "headers": event["headers"],
                "status": result["statusCode"],
            }
        return result

    def get(self, request_id: str) -> dict[str, Any]:
        with self._lock:
            return self._entries[request_id]


@dataclass
class Shop:
    url: str
    api_url: str
    resources: LocalResources
    raw: Bucket
    quarantine: Bucket
    requests: RequestLog
    demo_sub: str


@pytest.fixture(scope="package")
def shop() -> Iterator[Shop]:
    if not SDK_BUILD.is_file():
        pytest.fail(f"{SDK_BUILD.relative_to(ROOT)} is missing: build the SDK first (make sdk)", pytrace=False)
    aws = LocalAws(port=free_port())
    aws.start()
    saved = dict(os.environ)
    try:
        resources = aws.provision(prefix="e2e")
        shop_port = free_port()
        os.environ.update(ingest_environment(resources, cors_allow_origins=f"http://127.0.0.1:{shop_port}"))
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        from tasks import ingest

        # The handler reads its settings once per process; this package's environment is the one.
        _clear_handler_caches(ingest)
        requests = RequestLog(ingest.lambda_handler)
        front = LocalApiFront(requests, port=free_port())
        front.start()
        site = StaticSite(SHOP_ROOT, shop_port, config=shop_config(front.url, resources))
        site.start()
        clients = aws.clients()
        cognito = clients.client("cognito-idp")
        user = cognito.admin_get_user(UserPoolId=resources.user_pool_id, Username=resources.demo_user)
        sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
        s3 = clients.s3()
        try:
            yield Shop(site.url, front.url, resources, Bucket(s3, resources.raw_bucket),
                       Bucket(s3, resources.quarantine_bucket), requests, sub)
        finally:
            site.stop()
            front.stop()
            _clear_handler_caches(ingest)
    finally:
        aws.stop()
        os.environ.clear()
        os.environ.update(saved)


def _clear_handler_caches(ingest: Any) -> None:
    for cached in (ingest._settings, ingest._service, ingest._app):
        cached.cache_clear()


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)", pytrace=False)
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@dataclass
class Visitor:
    """One browser context on the shop: a visitor with their own storage, and their events in S3."""

    shop: Shop
    context: BrowserContext
    page: Page
    # every anonymous_id this browser had (reset() starts a new one), read from the SDK's `cs_a`
    anonymous_ids: set[str] = field(default_factory=set)

    # ---- the browser

    def open(self, path: str) -> None:
        self.page.goto(self.shop.url + path)
        self.ready()

    def ready(self) -> None:
        self.page.wait_for_function(PAGE_READY)
        self.note_identity()

    def note_identity(self) -> None:
        anonymous_id = self.page.evaluate("() => JSON.parse(localStorage.getItem('cs_a'))")
        if anonymous_id:
            self.anonymous_ids.add(anonymous_id)

    def follow(self, selector: str, path: str) -> None:
        """Clicks a link (or a button that navigates) and waits for the next page to be usable."""
        self.page.click(selector)
        self.page.wait_for_url(self.shop.url + path)
        self.ready()

    def accept_consent(self) -> None:
        self.page.click("#consent-accept")
        self.note_identity()

    def flush(self) -> None:
        self.page.evaluate("() => window.clickstream.flush()")
        self.note_identity()

    def queued(self) -> list[dict[str, Any]]:
        """The SDK's persistent queue (`cs_q`, documented in web/sdk/README.md)."""
        return json.loads(self.page.evaluate("() => localStorage.getItem('cs_q')") or "[]")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        # from the top: a full-page shot draws the sticky header wherever the page is scrolled to
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    # ---- the raw layer

    def events(self) -> list[dict[str, Any]]:
        """This visitor's events in S3 raw, one per record (duplicates kept), in time order."""
        mine = [r for r in self.shop.raw.records() if r["anonymous_id"] in self.anonymous_ids]
        return sorted(mine, key=lambda e: (e["event_ts"], e["event_seq"]))

    def quarantined(self) -> list[dict[str, Any]]:
        raw = self.shop.quarantine.records()
        return [r for r in raw if any(a in (r.get("raw") or "") for a in self.anonymous_ids)]

    def wait_for_events(self, done: Callable[[list[dict[str, Any]]], bool], what: str,
                        timeout_s: float = 15.0) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []

        def probe() -> list[dict[str, Any]] | None:
            seen[:] = self.events()
            return seen if done(seen) else None

        try:
            return wait_until(probe, what, timeout_s)
        except AssertionError as exc:
            arrived = [(e["event_seq"], e["event_name"], e["page"]["path"]) for e in seen]
            raise AssertionError(f"{exc}\narrived: {arrived}\nstill queued: {self.queued_names()}") from None

    def queued_names(self) -> list[str] | str:
        try:
            return [e["event_name"] for e in self.queued()]
        except Exception as exc:  # the page may be gone (closed tab)
            return f"(cannot read: {type(exc).__name__})"


@pytest.fixture
def visitor(shop: Shop, browser: Browser) -> Iterator[Visitor]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-IE",
                                  timezone_id="Europe/Dublin")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    visitor = Visitor(shop, context, page)
    try:
        yield visitor
    finally:
        context.close()
    assert not errors, f"the shop's scripts failed: {errors}"
