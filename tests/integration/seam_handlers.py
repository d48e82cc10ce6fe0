"""Handlers used only by test_local_lambdas.py to exercise the in-process Lambda seam."""

from __future__ import annotations

from typing import Any

from clickstream.errors import StorageUnavailable

CALLS: dict[str, int] = {}


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"event": event, "function": context.function_name, "remaining_ms": context.get_remaining_time_in_millis()}


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    key = event["key"]
    CALLS[key] = CALLS.get(key, 0) + 1
    if CALLS[key] < 3:
        raise StorageUnavailable("S3 blinked")
    return {"attempts": CALLS[key]}


class BadInput(Exception):
    pass


def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise BadInput("this input can never work")
