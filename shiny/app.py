"""The Clickstream Analytics dashboard (Shiny for Python): UI and server wiring only.

Numbers come from `clickstream.dashboard.queries` (tested against PostgreSQL), figures from
`clickstream.dashboard.charts`, definitions from `clickstream.dashboard.definitions`. The
warehouse is the one DATABASE_URL (or DATABASE_SECRET_ARN) names, read at the first session,
not at import. Run it with `clickstream dashboard` or `shiny run shiny/app.py`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import date
from typing import Any

from shinywidgets import output_widget, render_plotly

from clickstream.dashboard import charts, present, queries, widgets
from clickstream.dashboard.definitions import DEFINITIONS, FOOTNOTES
from clickstream.dashboard.filters import PRESETS, Filters, preset_range, today_utc
from clickstream.dashboard.queries import SPLITS, Dashboard, DashboardError, DashboardNotReady, from_env
from shiny import App, reactive, render, req, ui

EMPTY_HELP = ("No data has been loaded yet. Locally, run `make run` (it seeds demo traffic on first start) or, "
              "with the stack up, `clickstream demo seed`; on AWS, wait for the hourly ETL or run "
              "`clickstream etl run --hour YYYY-MM-DDTHH`.")

_dashboard: Dashboard | None = None
_dashboard_lock = threading.Lock()


def dashboard() -> Dashboard:
    """The process's Dashboard, made at first use; a failure is not cached (fix the setting, reload)."""
    global _dashboard
    with _dashboard_lock:
        if _dashboard is None:
            _dashboard = from_env()
        return _dashboard


# ---------------------------------------------------------------------------------------------
# UI

def info(key: str) -> ui.Tag:
    return ui.tooltip(ui.span("ⓘ", class_="cs-info", tabindex="0"), DEFINITIONS[key])


def footnotes(page: str) -> ui.Tag:
    return ui.tags.details(
        ui.tags.summary("Definitions"),
        ui.tags.dl(*[item for key in (*FOOTNOTES[page], "compare")
                     for item in (ui.tags.dt(key.replace("_", " ")), ui.tags.dd(DEFINITIONS[key]))]),
        class_="cs-footnotes", open="",
    )


def chart(id: str) -> ui.Tag:
    return ui.card(output_widget(id), class_="cs-chart", full_screen=True)


def grid(id: str, title: str, key: str | None = None, columns: tuple[tuple[str, str], ...] = ()) -> ui.Tag:
    """A table card: the title's definition, then "column ⓘ" for each (label, key) of `columns`."""
    header: list[Any] = [title, " ", info(key)] if key else [title]
    header += [ui.span(" · ", label, info(k), class_="small text-muted") for label, k in columns]
    return ui.card(ui.card_header(*header), ui.output_data_frame(id))


def plot(fn: Callable[[], Any]) -> Any:
    """`@render_plotly` for a function returning a plotly Figure, sent as the light widget
    (plotly's 4.9 MB front-end bundle loaded once per page, not once per chart)."""

    @functools.wraps(fn)
    def render_widget() -> Any:
        return widgets.as_widget(fn())

    return render_plotly(render_widget)


def page(id: str, title: str, *children: Any) -> ui.NavPanel:
    return ui.nav_panel(title, ui.div(ui.output_ui(f"{id}_kpis"), *children, footnotes(id), class_=f"cs-page cs-{id}"),
                        value=id)


ALL_CHOICE = {"": "All"}

app_ui = ui.page_navbar(
    page("traffic", "Traffic",
         ui.layout_columns(chart("traffic_trend"), chart("traffic_channels"), col_widths=(8, 4)),
         ui.layout_columns(grid("traffic_sources", "Sources / medium / campaign", "sessions"),
                           grid("traffic_pages", "Top pages", "page_views", (("entries", "entries"), ("exits", "exits"),
                                                                      ("avg. engagement", "page_engagement"))),
                           col_widths=(6, 6)),
         ui.layout_columns(chart("traffic_devices"), chart("traffic_browsers"), col_widths=(6, 6))),
    page("products", "Products",
         ui.layout_columns(chart("products_top"), chart("products_categories"), col_widths=(7, 5)),
         grid("products_table", "Product popularity", "view_to_cart"),
         ui.card(ui.card_header("Product drill-down"),
                 ui.input_select("product", None, choices={}, width="100%"),
                 output_widget("products_drill"))),
    page("behaviour", "Behaviour",
         ui.layout_columns(chart("behaviour_new_returning"), chart("behaviour_durations"), col_widths=(4, 8)),
         ui.layout_columns(chart("behaviour_paths"), chart("behaviour_retention"), col_widths=(6, 6))),
    page("funnel", "Funnel",
         ui.layout_columns(chart("funnel_chart"), grid("funnel_table", "Steps", "funnel"), col_widths=(6, 6)),
         ui.card(ui.input_radio_buttons("funnel_split", "Split by", SPLITS, inline=True),
                 output_widget("funnel_segments"))),
    page("search", "Search",
         ui.layout_columns(chart("search_top"), chart("search_daily"), col_widths=(6, 6)),
         grid("search_table", "Top queries", "no_view_searches")),
    page("pipeline", "Pipeline health",
         ui.layout_columns(chart("pipeline_runs_chart"), chart("pipeline_quarantine"), col_widths=(6, 6)),
         grid("pipeline_runs", "Last runs", "runs"),
         ui.layout_columns(grid("pipeline_dq", "Data-quality results", "dq"),
                           grid("pipeline_alerts", "Alerts (failed runs)", "alerts"), col_widths=(6, 6))),
    title="Clickstream Analytics",
    id="page",
    sidebar=ui.sidebar(
        ui.input_radio_buttons("preset", "Date range", PRESETS, selected="7d"),
        ui.input_date_range("dates", None, start=preset_range("7d")[0], end=preset_range("7d")[1]),
        ui.input_checkbox("compare", "Compare with previous period", value=True),
        ui.input_select("device_class", "Device class", ALL_CHOICE),
        ui.input_select("channel", "Channel / source", ALL_CHOICE),
        ui.input_select("country", "Country", ALL_CHOICE),
        ui.output_ui("range_note"),
        width=260,
    ),
    header=ui.div(
        widgets.head(),
        ui.tags.style(
            ".cs-info{cursor:help;color:#64748b;font-size:.85em;margin-left:.25em}"
            ".cs-footnotes{font-size:.85em;color:#475569;margin:1em 0}.cs-footnotes dt{text-transform:capitalize}"
            ".cs-footnotes dd{margin-left:1em}.cs-kpis .value-box-value{font-size:1.6rem}"
            ".cs-delta{font-size:.8rem;color:#475569}.cs-banner{margin:.5em 1em}"
        ),
        ui.output_ui("status_banner"),
    ),
    fillable=False,
    window_title="Clickstream Analytics",
)


# ---------------------------------------------------------------------------------------------
# Server

KPIS: dict[str, list[tuple[str, str, str, str]]] = {
    # page: [(value key, label, format, definition key)]
    "traffic": [("visitors", "Visitors", "number", "visitors"), ("sessions", "Sessions", "number", "sessions"),
                ("page_views", "Page views", "number", "page_views"),
                ("bounce_rate", "Bounce rate", "percent", "bounce_rate"),
                ("avg_session_duration_s", "Avg. session duration", "seconds", "avg_session_duration"),
                ("revenue", "Revenue", "money", "revenue")],
    "behaviour": [("new_visitors", "New visitors", "number", "new_visitors"),
                  ("returning_visitors", "Returning visitors", "number", "returning_visitors"),
                  ("pages_per_session", "Pages / session", "number", "pages_per_session"),
                  ("events_per_session", "Events / session", "number", "events_per_session"),
                  ("engagement_s_per_session", "Engagement / session", "seconds", "engagement_time")],
    "search": [("searches", "Searches", "number", "searches"),
               ("no_view_searches", "Without a product view", "number", "no_view_searches"),
               ("no_view_rate", "Share without a product view", "percent", "no_view_searches"),
               ("search_to_purchase", "Search → purchase", "percent", "search_to_purchase")],
    "funnel": [("view_item", "Viewed a product", "number", "funnel"),
               ("purchase", "Purchased after", "number", "funnel"),
               ("conversion", "View → purchase", "percent", "funnel_conversion")],
    "products": [("views", "Product views", "number", "product_views"),
                 ("add_to_carts", "Add-to-carts", "number", "add_to_carts"),
                 ("purchases", "Purchases", "number", "purchases"),
                 ("view_to_cart", "View → cart", "percent", "view_to_cart"),
                 ("cart_to_purchase", "Cart → purchase", "percent", "cart_to_purchase"),
                 ("revenue", "Product revenue", "money", "revenue")],
    "pipeline": [("runs", "Runs", "number", "runs"), ("failed", "Failed runs", "number", "alerts"),
                 ("freshness", "Data freshness", "seconds", "freshness"),
                 ("quarantined", "Quarantined records", "number", "quarantined")],
}


def kpi_row(page: str, current: dict[str, Any], previous: dict[str, Any] | None) -> ui.Tag:
    boxes = []
    for key, label, kind, definition in KPIS[page]:
        note = present.delta(current.get(key), previous.get(key), kind) if previous is not None else ""
        boxes.append(ui.value_box(
            ui.span(label, info(definition)),
            ui.span(present.fmt(current.get(key), kind), id=f"kpi-{page}-{key}", class_="cs-kpi-value"),
            ui.span(note, class_="cs-delta"),
        ))
    return ui.layout_column_wrap(*boxes, width=f"{max(160, 1000 // len(boxes))}px", class_="cs-kpis")


def _product_totals(frame: Any) -> dict[str, Any]:
    totals = {c: float(frame[c].sum()) if len(frame) else 0.0 for c in ("views", "add_to_carts", "purchases", "revenue")}
    totals["view_to_cart"] = totals["add_to_carts"] / totals["views"] if totals["views"] else None
    totals["cart_to_purchase"] = totals["purchases"] / totals["add_to_carts"] if totals["add_to_carts"] else None
    return totals


def _funnel_kpis(steps: Any) -> dict[str, Any]:
    by_step = dict(zip(steps["step"], steps["sessions"], strict=True))
    return {"view_item": by_step["view_item"], "purchase": by_step["purchase"],
            "conversion": by_step["purchase"] / by_step["view_item"] if by_step["view_item"] else None}


def server(input: Any, output: Any, session: Any) -> None:
    @reactive.calc
    def status() -> dict[str, Any]:
        try:
            d = dashboard()
            extent, segments = queries.SESSION_START(d)
        except DashboardNotReady as exc:
            return {"kind": "error", "title": "The warehouse is not set up.", "message": str(exc)}
        except DashboardError as exc:
            return {"kind": "error", "title": "The warehouse cannot be reached.", "message": str(exc)}
        if extent.get("last_day") is None:
            return {"kind": "empty", "message": EMPTY_HELP, "segments": segments}
        return {"kind": "ok", "extent": extent, "segments": segments}

    @reactive.effect
    def _segment_choices() -> None:
        segments = status().get("segments")
        if segments:
            for name, values in segments.items():
                ui.update_select(name, choices={**ALL_CHOICE, **{v: v for v in values}},
                                 selected=input[name]() if input[name]() in values else "")

    @reactive.effect
    @reactive.event(input.preset)
    def _preset_dates() -> None:
        if input.preset() != "custom":
            start, end = preset_range(input.preset(), today_utc())
            ui.update_date_range("dates", start=start, end=end)

    @reactive.effect
    @reactive.event(input.dates)
    def _custom_dates() -> None:
        dates = input.dates()
        if input.preset() != "custom" and dates and all(dates) and tuple(dates) != preset_range(input.preset()):
            ui.update_radio_buttons("preset", selected="custom")

    @reactive.calc
    def filters() -> Filters:
        if input.preset() == "custom":
            dates = input.dates()
            req(dates and all(dates))
            start, end = date.fromisoformat(str(dates[0])), date.fromisoformat(str(dates[1]))
        else:
            start, end = preset_range(input.preset(), today_utc())
        return Filters.build(start, end, device_class=input.device_class(), channel=input.channel(),
                             country=input.country())

    def previous() -> Filters | None:
        return filters().previous() if input.compare() else None

    # The filters each page was last drawn with. Only the page on screen takes the sidebar's
    # filters (the others wait until their tab is opened: their queries and widgets are not
    # free), and leaving a page does not touch it: going back with the same filters shows it
    # again at once, without a query or a new widget.
    shown: dict[str, reactive.Value[tuple[Filters, Filters | None] | None]] = {
        name: reactive.value(None) for name in KPIS}

    @reactive.effect
    def _show_page() -> None:
        name, kind = input.page(), status()["kind"]
        if name in shown and (kind == "ok" or (kind == "empty" and name == "pipeline")):
            wanted = (filters(), previous())
            with reactive.isolate():
                if shown[name]() != wanted:
                    shown[name].set(wanted)

    def ready(page: str) -> tuple[Dashboard, Filters, Filters | None]:
        """The dashboard and the page's filters (current, previous period or None), once the
        page has been opened with data to show."""
        inputs = shown[page]()
        req(inputs is not None)
        return dashboard(), *inputs

    @render.ui
    def status_banner() -> Any:
        s = status()
        if s["kind"] == "error":
            return ui.div(ui.strong(s["title"]), " ", queries.sentences(s["message"]),
                          class_="alert alert-danger cs-banner", id="cs-error")
        if s["kind"] == "empty":
            return ui.div(ui.strong("No data yet."), " ", s["message"], class_="alert alert-info cs-banner",
                          id="cs-empty")
        return None

    @render.ui
    def range_note() -> Any:
        s = status()
        if s["kind"] != "ok":
            return None
        f = filters()
        extent = s["extent"]
        text = f"Showing {f.describe()}. Data from {extent['first_day']} to {extent['last_day']} (UTC)."
        if f.end < extent["first_day"] or f.start > extent["last_day"]:
            return ui.div(text, " Nothing falls in this range: choose another.", class_="alert alert-warning small")
        return ui.p(text, class_="small text-muted")

    # Each page reads its data in one reactive calc, through the same function the benchmark
    # times (clickstream.dashboard.queries.PAGES); its outputs only draw.

    # ---- Traffic

    @reactive.calc
    def traffic() -> dict[str, Any]:
        d, f, p = ready("traffic")
        return {**queries.traffic_page(d, f, p), "filters": f}

    @render.ui
    def traffic_kpis() -> Any:
        t = traffic()
        return kpi_row("traffic", t["kpis"], t["prev_kpis"])

    @plot
    def traffic_trend() -> Any:
        t = traffic()
        return charts.trend(t["trend"], t["prev_trend"], t["filters"], "sessions", "Sessions")

    @plot
    def traffic_channels() -> Any:
        frame = traffic()["sources"]
        by_channel = frame.groupby("channel", as_index=False)["sessions"].sum().sort_values("sessions",
                                                                                             ascending=False)
        return charts.bar(by_channel, "channel", [("sessions", "sessions")], "Sessions by channel", horizontal=True)

    @render.data_frame
    def traffic_sources() -> Any:
        return present.table(traffic()["sources"], {
            "channel": ("Channel", "text"), "utm_source": ("Source", "text"), "utm_medium": ("Medium", "text"),
            "utm_campaign": ("Campaign", "text"), "sessions": ("Sessions", "number"),
            "bounce_rate": ("Bounce", "percent"), "orders": ("Orders", "number"), "revenue": ("Revenue", "money")})

    @render.data_frame
    def traffic_pages() -> Any:
        return present.table(traffic()["pages"], {
            "page_path": ("Page", "text"), "views": ("Views", "number"), "entries": ("Entries", "number"),
            "exits": ("Exits", "number"), "engagement_s_per_view": ("Avg. engagement", "seconds")})

    @plot
    def traffic_devices() -> Any:
        frame = traffic()["devices"].groupby("device_class", as_index=False)["sessions"].sum()
        return charts.pie(list(frame["device_class"]), list(frame["sessions"]), "Sessions by device class")

    @plot
    def traffic_browsers() -> Any:
        frame = traffic()["devices"].groupby(["browser", "os"], as_index=False)["sessions"].sum()
        frame["label"] = frame["browser"] + " / " + frame["os"]
        return charts.bar(frame.sort_values("sessions", ascending=False).head(10), "label",
                          [("sessions", "sessions")], "Sessions by browser / OS", horizontal=True)

    # ---- Products

    @reactive.calc
    def products() -> dict[str, Any]:
        return queries.products_page(*ready("products"))

    @render.ui
    def products_kpis() -> Any:
        p = products()
        # totals over every product: the category rollup covers them all, the top table does not
        return kpi_row("products", _product_totals(p["categories"]),
                       _product_totals(p["prev_categories"]) if p["prev_categories"] is not None else None)

    @plot
    def products_top() -> Any:
        frame = products()["products"].head(10)
        frame = frame.assign(label=frame["item_name"])
        return charts.bar(frame, "label", [("views", "views"), ("add_to_carts", "add to cart"),
                                           ("purchases", "purchases")], "Top products (by revenue)")

    @plot
    def products_categories() -> Any:
        return charts.bar(products()["categories"], "item_category", [("revenue", "revenue")],
                          "Revenue by category", horizontal=True)

    @render.data_frame
    def products_table() -> Any:
        return present.table(products()["products"], {
            "item_name": ("Product", "text"), "item_category": ("Category", "text"), "views": ("Views", "number"),
            "add_to_carts": ("Add to cart", "number"), "purchases": ("Purchases", "number"),
            "view_to_cart": ("View → cart", "percent"), "cart_to_purchase": ("Cart → purchase", "percent"),
            "revenue": ("Revenue", "money")})

    @reactive.effect
    def _product_choices() -> None:
        frame = products()["products"]
        choices = {str(i): f"{n} ({i})" for i, n in zip(frame["item_id"], frame["item_name"], strict=True)}
        current = input.product()
        ui.update_select("product", choices=choices,
                         selected=current if current in choices else next(iter(choices), None))

    @plot
    def products_drill() -> Any:
        # the top product until the choices arrive (the same one the select then shows)
        item = input.product() or queries.first_product(products())
        if not item:
            return charts.empty("Product by day", "No product viewed in this range")
        d, f, _ = ready("products")
        frame = d.product_daily(f, item)
        return charts.bar(frame, "day", [("views", "views"), ("add_to_carts", "add to cart"),
                                         ("purchases", "purchases")], f"Product {item} by day")

    # ---- Behaviour

    @reactive.calc
    def behaviour() -> dict[str, Any]:
        return queries.behaviour_page(*ready("behaviour"))

    @render.ui
    def behaviour_kpis() -> Any:
        b = behaviour()
        return kpi_row("behaviour", b["kpis"], b["prev_kpis"])

    @plot
    def behaviour_new_returning() -> Any:
        k = behaviour()["kpis"]
        return charts.pie(["new", "returning"], [k["new_visitors"], k["returning_visitors"]],
                          "New vs returning visitors")

    @plot
    def behaviour_durations() -> Any:
        return charts.bar(behaviour()["durations"], "bucket_label", [("sessions", "sessions"), ("bounces", "bounces")],
                          "Session duration")

    @plot
    def behaviour_paths() -> Any:
        frame = behaviour()["paths"]
        frame = frame.assign(label=frame["landing_path"] + " → " + frame["second_path"])
        return charts.bar(frame, "label", [("sessions", "sessions")], "Common paths from the landing page",
                          horizontal=True)

    @plot
    def behaviour_retention() -> Any:
        return charts.heatmap(behaviour()["retention"], "Retention by first-visit week (cohort size)")

    # ---- Funnel

    @reactive.calc
    def funnel() -> dict[str, Any]:
        return queries.funnel_page(*ready("funnel"))

    @render.ui
    def funnel_kpis() -> Any:
        fu = funnel()
        return kpi_row("funnel", _funnel_kpis(fu["steps"]),
                       _funnel_kpis(fu["prev_steps"]) if fu["prev_steps"] is not None else None)

    @plot
    def funnel_chart() -> Any:
        fu = funnel()
        return charts.funnel(fu["steps"], fu["prev_steps"], "Sessions by funnel step")

    @render.data_frame
    def funnel_table() -> Any:
        return present.table(funnel()["steps"], {
            "step": ("Step", "text"), "sessions": ("Sessions", "number"), "dropoff": ("Drop-off", "number"),
            "step_conversion": ("From previous step", "percent"), "conversion": ("From view_item", "percent")})

    @plot
    def funnel_segments() -> Any:
        split = input.funnel_split() or queries.DEFAULT_SPLIT
        d, f, _ = ready("funnel")
        frame = d.funnel_by_segment(f, split)
        return charts.bar(frame, "segment", [("view_item", "view_item"), ("add_to_cart", "add_to_cart"),
                                             ("begin_checkout", "begin_checkout"), ("purchase", "purchase")],
                          f"Funnel by {SPLITS[split].lower()}")

    # ---- Search

    @reactive.calc
    def search() -> dict[str, Any]:
        return queries.search_page(*ready("search"))

    @render.ui
    def search_kpis() -> Any:
        s = search()
        return kpi_row("search", s["kpis"], s["prev_kpis"])

    @plot
    def search_top() -> Any:
        return charts.bar(search()["terms"].head(10), "search_term", [("searches", "searches"),
                                                                      ("no_view", "no product view after")],
                          "Top queries", horizontal=True)

    @plot
    def search_daily() -> Any:
        return charts.bar(search()["daily"], "day", [("searches", "searches"),
                                                     ("with_purchase", "followed by a purchase")], "Searches by day")

    @render.data_frame
    def search_table() -> Any:
        return present.table(search()["terms"], {
            "search_term": ("Query", "text"), "searches": ("Searches", "number"),
            "no_view": ("No product view after", "number"), "with_purchase": ("Purchase after", "number"),
            "purchase_rate": ("Search → purchase", "percent")})

    # ---- Pipeline health (date range only; shown even before any traffic is loaded)

    @reactive.calc
    def pipeline() -> dict[str, Any]:
        d, f, _ = ready("pipeline")  # date range only: no comparison
        return queries.pipeline_page(d, f)

    @render.ui
    def pipeline_kpis() -> Any:
        p = pipeline()
        summary, fresh = p["summary"], p["freshness"]
        values = {"runs": summary.get("runs"), "failed": summary.get("failed"),
                  "quarantined": summary.get("quarantined"), "freshness": fresh.get("lag_s")}
        return kpi_row("pipeline", values, None)

    @plot
    def pipeline_runs_chart() -> Any:
        return charts.runs(pipeline()["runs"], "Run duration by hour")

    @plot
    def pipeline_quarantine() -> Any:
        return charts.stacked_over_time(pipeline()["quarantine"], "hour", "reason", "records",
                                        "Quarantined records by reason, per hour")

    @render.data_frame
    def pipeline_runs() -> Any:
        return present.table(pipeline()["runs"], {
            "hour": ("Hour", "hour"), "status": ("Status", "text"), "duration_s": ("Duration", "seconds"),
            "inserted_events": ("Rows loaded", "number"), "quarantined": ("Quarantined", "number"),
            "dq_critical_failures": ("DQ critical", "number"), "dq_warnings": ("DQ warnings", "number"),
            "failed_state": ("Failed state", "text")})

    @render.data_frame
    def pipeline_dq() -> Any:
        return present.table(pipeline()["dq"], {
            "suite": ("Suite", "text"), "expectation": ("Expectation", "text"), "column_name": ("Column", "text"),
            "severity": ("Severity", "text"), "checks": ("Checks", "number"), "failures": ("Failures", "number")})

    @render.data_frame
    def pipeline_alerts() -> Any:
        return present.table(pipeline()["alerts"], {
            "hour": ("Hour", "hour"), "failed_state": ("Failed state", "text"), "error": ("Error", "text"),
            "cause": ("Cause", "text")})


app = App(app_ui, server, static_assets=widgets.static_assets())
