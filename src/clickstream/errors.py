"""Typed errors. Step Functions Retry/Catch match on these class names, so names are API.

Every message says what happened and what to do about it.
"""

from __future__ import annotations


class ClickstreamError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(ClickstreamError):
    """A setting is missing or invalid; raised at start, before any work is done."""


class TransientError(ClickstreamError):
    """A dependency failed in a way that a retry may fix (Retry policies match this name)."""


class StorageError(TransientError):
    """S3 (or the local stand-in) did not store or return an object."""


class StorageUnavailable(StorageError):
    """S3 could not be reached, refused the request, or answered with a server error."""


class StorageThrottled(StorageError):
    """S3 asked us to slow down."""


class AuthUnavailable(TransientError):
    """The token issuer's keys could not be fetched, so no token can be verified right now."""


class InvalidTokenError(ClickstreamError):
    """A bearer token failed verification. The message is safe to show to the client."""

    def __init__(self, message: str, *, reason: str = "invalid_token") -> None:
        super().__init__(message)
        self.reason = reason
