"""The shop as a site: what the server answers for each URL, the embed snippet, and the pages nobody buys on."""

from __future__ import annotations

import html
import http.client
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from clickstream.local.static import StaticSite
from tests.e2e import shop_model as shop
from tests.e2e.conftest import ROOT, SHOP_ROOT, Visitor
from tests.support import free_port

CONFIG = {"endpoint": "http://127.0.0.1:9", "appId": "demo-shop",
          "cognito": {"region": "us-east-1", "userPoolId": "us-east-1_x", "clientId": "abc", "endpoint": "http://127.0.0.1:9"}}
CATALOGUE = json.loads((SHOP_ROOT / "catalogue.json").read_text())


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = StaticSite(SHOP_ROOT, free_port(), config=CONFIG)
    yield server.start()
    server.stop()


def title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page)
    assert match, "no <title>"
    return match.group(1)


@pytest.mark.parametrize(("path", "status", "page"), [
    ("/", 200, "home"),
    (shop.CATEGORIES[0].path, 200, "category"),
    ("/search?q=mug", 200, "search"),
    (shop.PRODUCTS[0].path, 200, "product"),
    ("/cart", 200, "cart"),
    ("/checkout", 200, "checkout"),
    ("/checkout/thanks", 200, "thanks"),
    ("/signin?next=%2Fcart", 200, "signin"),
    ("/p/no-such-thing", 404, "notfound"),
    ("/c/no-such-category", 404, "notfound"),
    ("/no/such/page", 404, "notfound"),
])
def test_each_url_is_served_by_its_page(site: str, path: str, status: int, page: str) -> None:
    response = requests.get(site + path, timeout=5)
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f'<body data-page="{page}">' in response.text


@pytest.mark.parametrize(("path", "expected"), [
    ("/", shop.SHOP_NAME),
    (shop.PRODUCTS[0].path, shop.PRODUCTS[0].name),
    (shop.CATEGORIES[-1].path, shop.CATEGORIES[-1].name),
    ("/search?q=desk%20%20lamp", "Search: desk lamp"),
    ("/search?q=%3Cb%3E", "Search: <b>"),
    ("/search", "Search"),
    ("/cart", "Your cart"),
])
def test_each_page_carries_the_title_the_generator_gives_it(site: str, path: str, expected: str) -> None:
    # the title is in the HTML the SDK reads at page_view time, before the page's script runs
    assert title(requests.get(site + path, timeout=5).text) == html.escape(expected, quote=False)


def test_config_script_tells_the_pages_where_the_api_and_cognito_are(site: str) -> None:
    response = requests.get(f"{site}/config.js", timeout=5)
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    prefix = "window.CLICKSTREAM_CONFIG = "
    assert response.text.startswith(prefix)
    assert json.loads(response.text[len(prefix):].rstrip().rstrip(";")) == CONFIG


def test_the_built_sdk_and_the_assets_are_served(site: str) -> None:
    sdk = requests.get(f"{site}/sdk/clickstream.min.js", timeout=5)
    assert sdk.status_code == 200
    assert sdk.content == (ROOT / "web/sdk/dist/clickstream.min.js").read_bytes()
    catalogue = requests.get(f"{site}/catalogue.json", timeout=5)
    assert catalogue.headers["content-type"] == "application/json"
    assert catalogue.json() == CATALOGUE
    assert requests.get(f"{site}/assets/shop.css", timeout=5).headers["content-type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize("path", ["/../../pyproject.toml", "/%2e%2e/%2e%2e/pyproject.toml", "/assets/../../sdk/package.json"])
def test_nothing_outside_the_shop_is_served(site: str, path: str) -> None:
    # http.client sends the path as written (requests would normalise the dots away)
    parts = urlsplit(site)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status == 404
    assert "[project]" not in body and '"devDependencies"' not in body


def test_every_page_embeds_the_sdk_as_its_readme_says() -> None:
    readme = (ROOT / "web/sdk/README.md").read_text()
    snippet = re.search(r"<!-- embed-snippet -->\n```html\n(.*?)```", readme, re.S)
    assert snippet, "web/sdk/README.md lost its embed-snippet markers"
    stub = re.search(r"!function.*?\}\(window\);", snippet.group(1), re.S)
    assert stub
    stub_lines = [line.strip() for line in stub.group(0).splitlines()]
    pages = sorted(SHOP_ROOT.glob("*.html"))
    assert len(pages) == 9
    for page in pages:
        lines = [line.strip() for line in page.read_text().splitlines()]
        start = lines.index(stub_lines[0])
        assert lines[start:start + len(stub_lines)] == stub_lines, f"{page.name}: the stub differs from the README's"
        assert '<script async src="/sdk/clickstream.min.js"></script>' in lines, page.name


def test_the_pages_nobody_buys_on_render(visitor: Visitor) -> None:
    page = visitor.page
    category = shop.CATEGORIES[-1]
    visitor.open(category.path)
    visitor.accept_consent()
    assert page.inner_text("h1") == category.name
    names = page.locator("#products a.card .name").all_inner_texts()
    assert names == [p.name for p in shop.in_category(category)], "most popular first"
    visitor.screenshot("13-category")
    visitor.open("/search?q=zzzz")
    assert page.inner_text("#result-count") == "0 products"
    visitor.screenshot("14-search-no-results")
    visitor.open("/cart")
    assert page.inner_text("h1") == "Your cart is empty"
    visitor.screenshot("15-cart-empty")
    response = page.goto(f"{visitor.shop.url}/p/no-such-thing")
    assert response is not None and response.status == 404
    visitor.ready()
    assert page.inner_text("h1") == "We could not find that page"
    visitor.screenshot("16-not-found")
    visitor.open("/signin")
    page.fill("#signin-email", visitor.shop.resources.demo_user)
    page.fill("#signin-password", "not-the-password")
    page.click("#signin-submit")
    page.wait_for_selector("#signin-error:visible")
    assert "Incorrect username or password" in page.inner_text("#signin-error")
    visitor.screenshot("17-signin-error")
