"""Dashboard query timings: every page's queries on 10 M events over 30 days (issue 7, item 4).

Needs `clickstream.dashboard` (the page queries module). Until it exists the figure is null
with the reason; once it does, this is where the per-page median/p95 timings go.
"""

from __future__ import annotations

import importlib.util
from typing import Any


def run() -> dict[str, Any]:
    if importlib.util.find_spec("clickstream.dashboard") is None:
        return {"max_page_median_ms": None,
                "reason": "module clickstream.dashboard (the dashboard's page queries) does not exist yet; "
                          "the dashboard is being built in parallel"}
    return {"max_page_median_ms": None,
            "reason": "clickstream.dashboard exists but its page-query benchmark is not wired in yet (10 M events "
                      "over 30 days to generate and load)"}
