"""The dashboard in headless Chromium: every page renders its charts with data, a filter
change updates them, no error shows; the empty and error states say what to do. Screenshots
of every page go to test-artifacts/dashboard/.

Waits are on conditions, never on time: Shiny's own busy/idle events (counted in the page by
an init script) and every chart of the page drawn by plotly. The charts' front-end bundle is
fetched once per page (clickstream.dashboard.widgets), so a console error from anywidget
("Failed to initialize model", its 2 s limit for a widget's module) fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from clickstream.dashboard.filters import today_utc
from clickstream.dashboard.widgets import BUNDLE_FILE
from tests.e2e.conftest_dashboard import run_app
from tests.integration.conftest_warehouse import create_database, database_url, drop_database, template_database

pytest_plugins = ["tests.integration.conftest_warehouse", "tests.e2e.conftest_dashboard"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PAGES = {"traffic": 4, "products": 3, "behaviour": 4, "funnel": 2, "search": 2, "pipeline": 2}
TABS = {"pipeline": "Pipeline health"}
TIMEOUT_MS = 20_000

# Counts Shiny's busy -> idle cycles (jQuery events, so bound once jQuery is there).
TRACK_SHINY = """
window.__cs = {idle: 0, busy: false};
document.addEventListener("DOMContentLoaded", () => {
  $(document).on("shiny:busy", () => { window.__cs.busy = true; });
  $(document).on("shiny:idle", () => { window.__cs.busy = false; window.__cs.idle += 1; });
});
"""
# The section's outputs all drawn: Shiny idle, nothing recalculating, and every chart output
# holding a plotly plot that has finished its layout.
SECTION_DRAWN = """(section) => {
  if (!window.__cs || window.__cs.busy || window.__cs.idle === 0) return false;
  const root = document.querySelector(`.tab-pane.active .cs-${section}`);
  if (!root || root.querySelector(".recalculating")) return false;
  const outputs = Array.from(root.querySelectorAll(".shiny-ipywidget-output"));
  return outputs.length > 0 && outputs.every(o => {
    const plot = o.querySelector(".js-plotly-plot");
    return plot && plot._fullLayout && Array.isArray(plot.data);
  });
}"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(TRACK_SHINY)
    page = context.new_page()
    errors: list[str] = []
    bundles: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda request: bundles.append(request.url) if request.url.endswith(BUNDLE_FILE) else None)
    page.bundle_requests = bundles  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    # the dashboard's own states are banners, not console errors; a failed chart is one
    errors = [e for e in errors if "Failed to load resource" not in e or BUNDLE_FILE in e]
    assert not errors, f"the dashboard's scripts failed: {errors}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def idle_count(page: Page) -> int:
    return page.evaluate("() => window.__cs ? window.__cs.idle : 0")


def drawn(page: Page, section: str, after: int = 0) -> None:
    """Waits until Shiny went idle more than `after` times and the section's charts are drawn."""
    page.wait_for_function(
        f"(section) => window.__cs && window.__cs.idle > {after} && ({SECTION_DRAWN})(section)",
        arg=section,
        timeout=TIMEOUT_MS,
    )


def plotted_points(page: Page, section: str) -> int:
    """Data points drawn by the section's plotly charts (every trace of every chart)."""
    return page.evaluate(
        """(section) => Array.from(document.querySelectorAll(`.tab-pane.active .cs-${section} .js-plotly-plot`))
             .map(el => (el.data || []).reduce((n, t) => n + ((t.x || t.values || t.z || []).length), 0))
             .reduce((a, b) => a + b, 0)""",
        section,
    )


def kpi(page: Page, section: str, key: str) -> str:
    return page.locator(f"#kpi-{section}-{key}").inner_text()


def open_page(page: Page, section: str) -> None:
    before = idle_count(page)
    if section != "traffic" or page.locator(".tab-pane.active .cs-traffic").count() == 0:
        page.get_by_role("tab", name=TABS.get(section, section.title())).click()
    expect(page.locator(f".tab-pane.active .cs-{section} .shiny-ipywidget-output")).to_have_count(
        PAGES[section], timeout=TIMEOUT_MS
    )
    drawn(page, section, after=before)


def no_error_shown(page: Page) -> None:
    assert page.locator("#cs-error").count() == 0
    assert page.locator(".shiny-output-error:visible").count() == 0, page.locator(
        ".shiny-output-error:visible"
    ).first.inner_text()


def test_every_page_renders_charts_with_data(page: Page, dashboard_app: Any, dashboard_data: Any) -> None:
    data, _ = dashboard_data
    page.goto(dashboard_app.url)
    for section in PAGES:
        open_page(page, section)
        assert page.locator(f".tab-pane.active .cs-{section} .js-plotly-plot").count() == PAGES[section]
        assert plotted_points(page, section) > 0, f"{section}: no data drawn"
        no_error_shown(page)
        shot(page, section)
    # plotly's widget bundle came once for the whole visit, not once per chart
    assert len(page.bundle_requests) == 1, page.bundle_requests  # type: ignore[attr-defined]
    # the numbers on the page are the warehouse's (the query tests check those against the visits)
    open_page(page, "traffic")
    expected = data.expected(today_utc() - timedelta(days=6), today_utc())
    assert kpi(page, "traffic", "sessions") == f"{expected['sessions']:,}"
    assert kpi(page, "traffic", "visitors") == f"{expected['visitors']:,}"
    # the top pages table shows engagement per view, with its definition
    table = page.locator("#traffic_pages")
    expect(table).to_contain_text("Avg. engagement")
    expect(page.locator(".cs-traffic .card-header").filter(has_text="Top pages")).to_contain_text("avg. engagement")


def test_a_filter_change_updates_the_charts(page: Page, dashboard_app: Any, dashboard_data: Any) -> None:
    data, _ = dashboard_data
    page.goto(dashboard_app.url)
    open_page(page, "traffic")
    before = kpi(page, "traffic", "sessions")
    # WHEN the device filter narrows to desktop
    idle = idle_count(page)
    page.select_option("#device_class", "desktop")
    desktop = data.expected(today_utc() - timedelta(days=6), today_utc(), device_class="desktop")
    expect(page.locator("#kpi-traffic-sessions")).to_have_text(f"{desktop['sessions']:,}", timeout=TIMEOUT_MS)
    drawn(page, "traffic", after=idle)
    assert kpi(page, "traffic", "sessions") != before
    assert plotted_points(page, "traffic") > 0
    # and the funnel page follows the same filter
    open_page(page, "funnel")
    assert kpi(page, "funnel", "view_item") == f"{int(desktop.get('funnel_view_item', 0)):,}"
    # a preset change moves the range: today only
    idle = idle_count(page)
    page.get_by_label("Today").check()
    today = data.expected(today_utc(), today_utc(), device_class="desktop")
    expect(page.locator("#kpi-funnel-view_item")).to_have_text(
        f"{int(today.get('funnel_view_item', 0)):,}", timeout=TIMEOUT_MS
    )
    drawn(page, "funnel", after=idle)
    no_error_shown(page)
    shot(page, "funnel-desktop-today")


def test_empty_warehouse_says_how_to_seed(page: Page, empty_app: Any) -> None:
    page.goto(empty_app.url)
    expect(page.locator("#cs-empty")).to_contain_text("clickstream demo seed", timeout=TIMEOUT_MS)
    expect(page.locator("#cs-empty")).to_contain_text("make run")
    # pipeline health still answers (no runs yet): its page draws without an error
    open_page(page, "pipeline")
    no_error_shown(page)
    shot(page, "empty-state")


def test_unreachable_database_names_the_setting(page: Page, unreachable_app: Any) -> None:
    page.goto(unreachable_app.url)
    banner = page.locator("#cs-error")
    expect(banner).to_contain_text("DATABASE_URL", timeout=TIMEOUT_MS)
    text = banner.inner_text()
    for doubled in ("..", "?.", ".:", ":.", " ."):
        assert doubled not in text, text
    shot(page, "error-state")


# The two apps without data start while the data app's warehouse loads (each takes seconds).


@pytest.fixture(scope="module")
def _side_apps(wh_server: Any) -> Iterator[dict[str, Any]]:
    from tests.support import free_port

    name = create_database(template=template_database())
    apps = {
        "empty": run_app(database_url(name), wait=False),
        "unreachable": run_app(f"postgresql://nobody@127.0.0.1:{free_port()}/warehouse?connect_timeout=2", wait=False),
    }
    try:
        yield apps
    finally:
        for proc in apps.values():
            proc.close()
        drop_database(name)


@pytest.fixture
def empty_app(_side_apps: dict[str, Any]) -> Any:
    proc = _side_apps["empty"]
    proc.wait_until_ready(30)
    return proc


@pytest.fixture
def unreachable_app(_side_apps: dict[str, Any]) -> Any:
    proc = _side_apps["unreachable"]
    proc.wait_until_ready(30)
    return proc


@pytest.fixture(scope="module", autouse=True)
def _start_side_apps_first(_side_apps: dict[str, Any]) -> None:
    """Module-scoped and autouse: the side apps start before the data set is built."""
