"""The dashboard in headless Chromium: every page renders its charts with data, a filter
change updates them, no error shows; the empty and error states say what to do. Screenshots
of every page go to test-artifacts/dashboard/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest_dashboard import run_app
from tests.integration.conftest_warehouse import create_database, database_url, drop_database, template_database

pytest_plugins = ["tests.integration.conftest_warehouse", "tests.e2e.conftest_dashboard"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
PAGES = {"traffic": 4, "products": 3, "behaviour": 4, "funnel": 2, "search": 2, "pipeline": 2}
TIMEOUT_MS = 15_000
ANYWIDGET_SLOW_INIT = "[anywidget] Failed to initialize model."


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    # anywidget gives a widget 2 s to initialise and then reports this even though the widget
    # goes on to render (the tests count the points drawn); under a loaded test machine it fires.
    errors = [e for e in errors if e != ANYWIDGET_SLOW_INIT]
    assert not errors, f"the dashboard's scripts failed: {errors}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def idle(page: Page) -> None:
    """Waits until Shiny has nothing left to compute or send."""
    page.wait_for_function("() => window.Shiny && Shiny.shinyapp && !document.documentElement.classList"
                           ".contains('shiny-busy')", timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.documentElement.classList.contains('shiny-busy')", timeout=TIMEOUT_MS)


def plots(page: Page, section: str) -> Any:
    return page.locator(f".cs-{section} .js-plotly-plot")


def plotted_points(page: Page, section: str) -> int:
    """Data points drawn by the section's plotly charts (every trace of every chart)."""
    return page.evaluate(
        """(section) => Array.from(document.querySelectorAll(`.cs-${section} .js-plotly-plot`))
             .map(el => (el.data || []).reduce((n, t) => n + ((t.x || t.values || t.z || []).length), 0))
             .reduce((a, b) => a + b, 0)""", section)


def kpi(page: Page, section: str, key: str) -> str:
    return page.locator(f"#kpi-{section}-{key}").inner_text()


def open_page(page: Page, app_url: str, section: str) -> None:
    if section != "traffic":
        page.get_by_role("tab", name={"pipeline": "Pipeline health"}.get(section, section.title())).click()
    expect(plots(page, section)).to_have_count(PAGES[section], timeout=TIMEOUT_MS)
    idle(page)


def no_error_shown(page: Page) -> None:
    assert page.locator("#cs-error").count() == 0
    assert page.locator(".shiny-output-error:visible").count() == 0, page.locator(
        ".shiny-output-error:visible").first.inner_text()


def test_every_page_renders_charts_with_data(page: Page, dashboard_app: Any, dashboard_data: Any) -> None:
    data, _ = dashboard_data
    page.goto(dashboard_app.url)
    idle(page)
    for section in PAGES:
        open_page(page, dashboard_app.url, section)
        assert plotted_points(page, section) > 0, f"{section}: no data drawn"
        no_error_shown(page)
        shot(page, section)
    # the numbers on the page are the warehouse's (the query tests check those against the visits)
    page.get_by_role("tab", name="Traffic").click()
    idle(page)
    from datetime import timedelta

    from clickstream.dashboard.filters import today_utc

    expected = data.expected(today_utc() - timedelta(days=6), today_utc())
    assert kpi(page, "traffic", "sessions") == f"{expected['sessions']:,}"
    assert kpi(page, "traffic", "visitors") == f"{expected['visitors']:,}"


def test_a_filter_change_updates_the_charts(page: Page, dashboard_app: Any, dashboard_data: Any) -> None:
    data, _ = dashboard_data
    page.goto(dashboard_app.url)
    open_page(page, dashboard_app.url, "traffic")
    before = kpi(page, "traffic", "sessions")
    points_before = plotted_points(page, "traffic")
    # WHEN the device filter narrows to desktop
    page.select_option("#device_class", "desktop")
    expect(page.locator("#kpi-traffic-sessions")).not_to_have_text(before, timeout=TIMEOUT_MS)
    idle(page)
    after = kpi(page, "traffic", "sessions")
    from datetime import timedelta

    from clickstream.dashboard.filters import today_utc

    desktop = data.expected(today_utc() - timedelta(days=6), today_utc(), device_class="desktop")
    assert after == f"{desktop['sessions']:,}" != before
    assert plotted_points(page, "traffic") != points_before or plotted_points(page, "traffic") > 0
    # and the funnel page follows the same filter
    open_page(page, dashboard_app.url, "funnel")
    assert kpi(page, "funnel", "view_item") == f"{int(desktop.get('funnel_view_item', 0)):,}"
    # a preset change moves the range: today only
    page.get_by_label("Today").check()
    today = data.expected(today_utc(), today_utc(), device_class="desktop")
    expect(page.locator("#kpi-funnel-view_item")).to_have_text(f"{int(today.get('funnel_view_item', 0)):,}",
                                                               timeout=TIMEOUT_MS)
    idle(page)
    no_error_shown(page)
    shot(page, "funnel-desktop-today")


def test_empty_warehouse_says_how_to_seed(page: Page, wh_server: Any) -> None:
    name = create_database(template=template_database())
    proc = run_app(database_url(name))
    try:
        page.goto(proc.url)
        expect(page.locator("#cs-empty")).to_contain_text("clickstream demo seed", timeout=TIMEOUT_MS)
        expect(page.locator("#cs-empty")).to_contain_text("make run")
        shot(page, "empty-state")
    finally:
        proc.close()
        drop_database(name)


def test_unreachable_database_names_the_setting(page: Page) -> None:
    from tests.support import free_port

    proc = run_app(f"postgresql://nobody@127.0.0.1:{free_port()}/warehouse?connect_timeout=2")
    try:
        page.goto(proc.url)
        expect(page.locator("#cs-error")).to_contain_text("DATABASE_URL", timeout=TIMEOUT_MS)
        shot(page, "error-state")
    finally:
        proc.close()
