"""Generated documents match the code, and the README documents every code and setting."""

from __future__ import annotations

from pathlib import Path

from clickstream.gendocs import codes_table
from clickstream.ingest.openapi import DOCUMENT_PATH, render
from clickstream.schema import DESCRIPTIONS, Code
from clickstream.settings import Env

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_committed_openapi_document_is_the_generated_one() -> None:
    assert DOCUMENT_PATH.read_text() == render(), "docs/openapi.json is stale: run `make generate` and commit it"


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_path(DOCUMENT_PATH)  # validates the document against the OpenAPI spec
    operations = {f"{op.method.upper()} {op.path}" for op in (r.ok() for r in schema.get_all_operations())}
    assert operations == {"POST /v1/events", "GET /v1/health"}


def test_the_readme_documents_every_rejection_code() -> None:
    assert set(DESCRIPTIONS) == set(Code), "every code needs a description"
    assert codes_table() in README, "README 'Rejection codes' is stale: run `make generate`"


def test_the_readme_documents_every_environment_variable() -> None:
    names = {value for key, value in vars(Env).items() if key.isupper() and not value.endswith("_")}
    missing = {name for name in names if f"`{name}`" not in README}
    assert not missing, f"README 'Configuration' lacks {sorted(missing)}"
