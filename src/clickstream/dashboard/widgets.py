"""Plotly charts as light widgets: plotly's front-end bundle is loaded once per page, not per chart.

plotly >= 6 draws a `FigureWidget` through anywidget, whose front-end module (`_esm`) is a
widget state field. plotly sets it to the text of its whole widget bundle (4.9 MB), so every
chart of every render sent 4.9 MB over the websocket and the browser compiled that module
again for each chart (a fresh blob URL each time, so nothing is cached). Under CPU load that
took more than anywidget's 2 s for a model to initialise ("[anywidget] Failed to initialize
model") and charts took seconds to appear.

`FigureWidget` here sends a loader of a few hundred bytes instead: it imports plotly's own
bundle by URL from the app's static files (`BUNDLE_ROUTE`), which the browser fetches and
evaluates once per page and then serves from its module map; `head()` preloads it while the
page loads. The bundle served is the installed plotly's, so front end and Python always match.
"""

from __future__ import annotations

from pathlib import Path

import plotly
import plotly.graph_objects as go
from htmltools import Tag, TagList, tags

BUNDLE_ROUTE = "/plotly-widget"  # the app serves plotly's package_data here (App(static_assets=...))
BUNDLE_DIR = Path(plotly.__file__).resolve().parent / "package_data"
BUNDLE_FILE = "widgetbundle.js"
# Relative to the page, so it works under any path prefix (Shiny Server mounts apps below one).
_BUNDLE_URL_JS = f'new URL("{BUNDLE_ROUTE.lstrip("/")}/{BUNDLE_FILE}", document.baseURI).href'
LOADER_ESM = f"""// plotly's widget module, loaded once per page (clickstream.dashboard.widgets)
const bundle = await import({_BUNDLE_URL_JS});
export default bundle.default;
"""


class FigureWidget(go.FigureWidget):
    """plotly's FigureWidget with a small `_esm` that imports the shared bundle."""

    # multi-line, so anywidget takes it as module text (not as a file path to read)
    _esm = LOADER_ESM


def as_widget(figure: go.Figure) -> FigureWidget:
    """The figure as a light widget (for `@render_plotly` / `@render_widget`)."""
    return FigureWidget(figure)


def static_assets() -> dict[str, Path]:
    """What `shiny.App(static_assets=...)` must serve for the widgets."""
    if not (BUNDLE_DIR / BUNDLE_FILE).is_file():
        raise FileNotFoundError(f"plotly's widget bundle {BUNDLE_DIR / BUNDLE_FILE} is missing: reinstall plotly")
    return {BUNDLE_ROUTE: BUNDLE_DIR}


def head() -> Tag | TagList:
    """For the page head: fetch and evaluate the bundle while the page loads, before the first
    chart's model asks for it."""
    href = f"{BUNDLE_ROUTE.lstrip('/')}/{BUNDLE_FILE}"
    return TagList(
        tags.link(rel="modulepreload", href=href),
        tags.script(f"import({_BUNDLE_URL_JS}).catch(() => {{}});", type="module"),
    )
