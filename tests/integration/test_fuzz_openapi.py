"""Fuzzing the running ingest API from its OpenAPI document (schemathesis, positive and negative data).

Passes only with zero server errors and zero responses outside the document: status codes,
content types, headers and bodies must all be the documented ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clickstream.ingest.openapi import DOCUMENT_PATH
from tests.integration.conftest import IngestApi

CASES_PER_OPERATION = 1000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]

schema = schemathesis.openapi.from_path(DOCUMENT_PATH)
schema.config.generation.update(
    max_examples=CASES_PER_OPERATION,
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    deterministic=True,
)
_sent: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def enough_cases_were_sent() -> Iterator[None]:
    yield
    print(f"\nfuzz cases sent per operation: {dict(_sent)}")
    # An operation with inputs must really have been exercised; one without (health) has a single case.
    assert _sent["POST /v1/events"] >= CASES_PER_OPERATION, _sent


@pytest.mark.fuzz
@schema.parametrize()
def test_no_input_breaks_the_api_or_its_contract(case: schemathesis.Case, ingest_api: IngestApi) -> None:
    _sent[f"{case.method.upper()} {case.path}"] += 1
    case.call_and_validate(base_url=ingest_api.url, checks=CHECKS)
