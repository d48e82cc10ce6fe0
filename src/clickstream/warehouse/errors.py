"""Errors of the warehouse. Step Functions Retry/Catch match class names, so they are API:
`WarehouseUnavailable` is a `TransientError` (retry), the others are not."""

from __future__ import annotations

from clickstream.errors import ClickstreamError, TransientError


class WarehouseError(ClickstreamError):
    """The warehouse refused work in a way a retry will not fix."""


class WarehouseUnavailable(TransientError):
    """PostgreSQL (or the secret naming it) could not be reached right now."""


class MigrationError(WarehouseError):
    """A migration could not be applied, or the applied history does not match the files."""


class LoadInputError(WarehouseError):
    """A processed Parquet part does not match the processed-layer contract or the hour."""
