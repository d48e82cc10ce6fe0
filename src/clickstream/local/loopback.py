"""Small building blocks of the local runtime: an HTTP server on loopback and a background loop."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away mid-request (a browser closing a tab, wrk ending its run) is
        not an error of ours: socketserver would print a traceback on the console for it."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP server for one local part (API front, shop), started and stopped with the stack."""

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], *, host: str, port: int, name: str) -> None:
        self.name = name
        self._server = _Server((host, port), handler_class)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True).start()
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class BackgroundLoop:
    """A daemon thread running `run(stop)` until `stop()`; `run` must return soon after `stop` is set."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name=name, daemon=True)

    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
