"""A local stand-in for API Gateway HTTP API: HTTP in, payload-v2 event to the real handler, HTTP out.

It mirrors what the managed service does in front of the ingest Lambda: request ids,
base64 for binary bodies, lowercase headers, its 10 MB payload limit, token-bucket
throttling (429), and 500 when the function itself fails. Lambda runs one request per
execution environment at a time, and the Powertools resolver relies on that, so calls
into the handler are serialised here.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from clickstream.local.lambda_context import LocalLambdaContext
from clickstream.local.loopback import LoopbackServer
from clickstream.observability import get_logger

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API's own limit
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


class TokenBucket:
    """API Gateway's throttling model: a steady rate with a burst allowance."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def build_event(method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    path, _, query = raw_path.partition("?")
    content_type = headers.get("content-type", "")
    is_text = any(marker in content_type for marker in _TEXT_TYPES)
    try:
        text = body.decode("utf-8") if is_text else None
    except UnicodeDecodeError:
        text = None
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": text is None and bool(body),
    }
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
    if query:
        event["queryStringParameters"] = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
    return event


class LocalApiFront(LoopbackServer):
    def __init__(
        self,
        handler: Handler,
        *,
        port: int,
        host: str = "127.0.0.1",
        function_name: str = "clickstream-ingest",
        throttle: TokenBucket | None = None,
    ) -> None:
        self.handler = handler
        self.function_name = function_name
        self.throttle = throttle or TokenBucket(rate_per_s=1000, burst=2000)
        self._invoke_lock = threading.Lock()
        super().__init__(_make_request_handler(self), host=host, port=port, name="local-api-front")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._invoke_lock:
            context = LocalLambdaContext(function_name=self.function_name, timeout_s=10)
            try:
                result = self.handler(event, context)
            except Exception:
                get_logger().exception("ingest handler raised; answering 500 as API Gateway does")
                return {"statusCode": 500, "body": json.dumps({"message": "Internal Server Error"}),
                        "headers": {"content-type": "application/json"}}
        if not isinstance(result, dict) or "statusCode" not in result:
            return {"statusCode": 500, "body": json.dumps({"message": "Internal Server Error"})}
        return result


def _make_request_handler(front: LocalApiFront) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "clickstream-local-api"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the handler logs; one line per request here would drown it

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                self._send(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}',
                           close=True)
                return
            body = self.rfile.read(length) if length else b""
            if not front.throttle.take():
                self._send(429, {"content-type": "application/json", "retry-after": "1"},
                           b'{"message":"Too Many Requests"}')
                return
            headers: dict[str, str] = {}
            for key, value in self.headers.items():
                key = key.lower()
                headers[key] = f"{headers[key]},{value}" if key in headers else value
            event = build_event(self.command, self.path, headers, body, self.client_address[0])
            result = front.invoke(event)
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode("utf-8")
            out_headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
            for name, values in (result.get("multiValueHeaders") or {}).items():
                out_headers[name.lower()] = ",".join(str(v) for v in values)
            out_headers["apigw-requestid"] = event["requestContext"]["requestId"]
            self._send(int(result["statusCode"]), out_headers, data, cookies=result.get("cookies") or [])

        def _send(self, status: int, headers: dict[str, str], data: bytes, *, cookies: list[str] | None = None,
                  close: bool = False) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key not in ("content-length", "connection"):
                    self.send_header(key, value)
            for cookie in cookies or []:
                self.send_header("set-cookie", cookie)
            self.send_header("content-length", str(len(data)))
            if close:
                self.send_header("connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the browser left (e.g. a page closed mid-answer)

        def __getattr__(self, name: str) -> Any:
            # API Gateway hands every method to the function (TRACE, PROPFIND, ...); so do we.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

    return RequestHandler
