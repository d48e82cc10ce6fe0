"""Serving the Shiny app (`shiny/app.py`) on a host and port: in the foreground for
`clickstream dashboard`, or in a background thread for the local runtime."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

from clickstream.errors import ClickstreamError

APP_FILE = Path(__file__).resolve().parents[3] / "shiny" / "app.py"


def load_app(path: Path = APP_FILE) -> Any:
    """The `app` object of shiny/app.py (the app reads DATABASE_URL at its first session)."""
    if not path.is_file():
        raise ClickstreamError(f"the dashboard app {path} is missing: run from a checkout of the repository.")
    spec = importlib.util.spec_from_file_location("clickstream_dashboard_app", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the dashboard in the foreground until Ctrl-C."""
    import uvicorn

    uvicorn.run(load_app(), host=host, port=port, log_level="warning")


class DashboardServer:
    """The dashboard on a uvicorn server in a daemon thread; `stop()` ends it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8000) -> None:
        import uvicorn

        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(uvicorn.Config(load_app(), host=host, port=port, log_level="warning"))
        # the runtime's thread cannot take signals: the runtime stops us instead
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, name="dashboard", daemon=True)

    def start(self, timeout_s: float = 20.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ClickstreamError(f"the dashboard did not start on {self.url} (is the port in use?)")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
