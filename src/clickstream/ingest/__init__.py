"""The ingest path: an HTTP batch of events validated, enriched and written to S3 raw/quarantine."""

from __future__ import annotations

from clickstream.aws import AwsClients
from clickstream.ingest.auth import TokenVerifier
from clickstream.ingest.enrich import UserAgentParser
from clickstream.ingest.service import IngestRequest, IngestResponse, IngestService
from clickstream.ingest.sink import S3EventSink
from clickstream.settings import IngestSettings

__all__ = ["IngestRequest", "IngestResponse", "IngestService", "build_ingest_service"]


def build_ingest_service(settings: IngestSettings, *, aws: AwsClients | None = None) -> IngestService:
    """The composition root of the ingest path: real adapters from settings."""
    aws = aws or AwsClients(settings.aws)
    sink = S3EventSink(aws.s3(), raw_bucket=settings.raw_bucket, quarantine_bucket=settings.quarantine_bucket)
    return IngestService(sink, TokenVerifier(settings.auth), UserAgentParser())
