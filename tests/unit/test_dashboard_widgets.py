"""The dashboard's plotly widgets send a small loader, and the app serves the bundle it loads."""

from __future__ import annotations

import asyncio
from typing import Any

import plotly.graph_objects as go

from clickstream.dashboard import widgets
from clickstream.dashboard.serve import load_app


def get(app: Any, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET through the ASGI app (no HTTP client needed)."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the response is complete
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_chart_sends_a_loader_not_plotlys_bundle() -> None:
    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    state = widgets.as_widget(fig).get_state()
    # plotly's own FigureWidget sends the whole bundle (~5 MB) with every chart
    assert len(go.FigureWidget(fig).get_state()["_esm"]) > 1_000_000
    assert len(state["_esm"]) < 1_000
    assert f'"{widgets.BUNDLE_ROUTE.lstrip("/")}/{widgets.BUNDLE_FILE}", document.baseURI' in state["_esm"]
    assert "export default" in state["_esm"]
    # the figure itself is intact
    assert state["_widget_data"][0]["y"] == [1, 2]


def test_the_app_serves_the_installed_plotly_bundle_once_per_url() -> None:
    bundle = widgets.BUNDLE_DIR / widgets.BUNDLE_FILE
    assert "export{" in bundle.read_text(encoding="utf-8")[-200_000:]  # an ES module with exports
    assert widgets.static_assets() == {widgets.BUNDLE_ROUTE: widgets.BUNDLE_DIR}
    head = str(widgets.head())
    assert 'rel="modulepreload"' in head and f"{widgets.BUNDLE_ROUTE.lstrip('/')}/{widgets.BUNDLE_FILE}" in head
    app = load_app()
    status, headers, body = get(app, f"{widgets.BUNDLE_ROUTE}/{widgets.BUNDLE_FILE}")
    assert status == 200
    assert "javascript" in headers["content-type"]
    assert len(body) == bundle.stat().st_size
    # a page loads it as a module, relative to itself (so under any path prefix)
    status, _, page = get(app, "/")
    assert status == 200
    assert f'href="{widgets.BUNDLE_ROUTE.lstrip("/")}/{widgets.BUNDLE_FILE}"'.encode() in page
