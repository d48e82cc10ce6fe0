"""The local runtime's HTTP servers: a client that resets its connection is no console traceback."""

from __future__ import annotations

import http.client
import socket
import struct
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from clickstream.local.loopback import LoopbackServer


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/boom":
            raise RuntimeError("a bug in a handler")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


def _reset(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST


@pytest.fixture
def server() -> LoopbackServer:
    srv = LoopbackServer(_Hello, host="127.0.0.1", port=0, name="test-loopback")
    srv.start()
    yield srv
    srv.stop()


def test_a_reset_connection_prints_nothing_and_the_server_keeps_serving(
        server: LoopbackServer, capfd: pytest.CaptureFixture[str]) -> None:
    for _ in range(5):
        _reset(server.url)
    time.sleep(0.3)
    with urllib.request.urlopen(server.url + "/") as r:
        assert r.read() == b"hello"
    assert "Traceback" not in capfd.readouterr().err


def test_a_handler_bug_still_prints_its_traceback(server: LoopbackServer, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(server.url + "/boom")
    time.sleep(0.3)
    err = capfd.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug in a handler" in err
