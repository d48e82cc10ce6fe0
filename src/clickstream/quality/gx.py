"""Great Expectations, kept behind three functions: prepare once, validate a table, read results.

Importing `great_expectations` takes 4-6 s, so nothing in this package imports it at module
level: the first `validate()` (or an explicit `prepare()` in a Lambda's init phase) pays for
it, and the ephemeral context, the pandas data source and the suites are built once per
process and cached. The context is ephemeral: suites come from the files in `quality/`,
results go to our own `dq_results` table, and nothing is written to disk.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clickstream.quality.model import DqResult
from clickstream.quality.suites import SUITE_NAMES, column_name, columns_used, load_suite_document

if TYPE_CHECKING:
    import pyarrow as pa

DATASOURCE_NAME = "clickstream_processed"
# How many failing values a result keeps as examples: enough to recognise the problem in
# dq_results and in the error message, few enough to keep rows small.
PARTIAL_UNEXPECTED_COUNT = 10
RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}
# Long lists in an expectation's kwargs (a big value_set) are cut to this many in details.
MAX_LIST_IN_DETAILS = 20
MAX_EXCEPTION_CHARS = 2000
# What a column expectation observed (GX's summary counts); table expectations have observed_value.
_OBSERVED_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent",
                  "unexpected_percent_total", "unexpected_percent_nonmissing")


@dataclass(frozen=True)
class _Runtime:
    """The process-wide Great Expectations objects."""

    context: Any
    batch_definitions: dict[str, Any]


@cache
def _runtime() -> _Runtime:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch under 1 GB (an md5 over pandas' hash of every
    # value) for a batch marker nothing reads, twice per validation. At 1 M events that was
    # 1.2 s and +360 MB of peak memory per suite; a threshold of 0 skips it.
    pandas_execution_engine.HASH_THRESHOLD = 0

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        # tqdm bars on stderr would flood CloudWatch with one line per metric batch.
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas(name=DATASOURCE_NAME)
    definitions = {
        name: source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(name) for name in SUITE_NAMES
    }
    return _Runtime(context=context, batch_definitions=definitions)


@cache
def _suite(name: str, suites_dir: Path | None) -> Any:
    import great_expectations as gx

    document = load_suite_document(name, suites_dir)
    # The document is cached and shared; GX may adjust the dicts it is given.
    expectations = copy.deepcopy(document["expectations"])
    suite = gx.ExpectationSuite(name=name, expectations=expectations, meta=copy.deepcopy(document.get("meta") or {}))
    # GX logs and skips an expectation it cannot build; a silently shorter suite would pass
    # data it should stop, so a mismatch is an error.
    if len(suite.expectations) != len(expectations):
        from clickstream.errors import ConfigurationError

        raise ConfigurationError(
            f"expectation suite {name!r} has {len(expectations)} expectations but Great Expectations "
            f"accepted {len(suite.expectations)}; see the log for the one it rejected."
        )
    return suite


def prepare(suites_dir: Path | None = None) -> None:
    """Import Great Expectations and build the context and suites now (e.g. in Lambda init)."""
    _runtime()
    for name in SUITE_NAMES:
        _suite(name, suites_dir)


def validate(name: str, table: pa.Table, parameters: dict[str, Any], suites_dir: Path | None = None) -> list[DqResult]:
    """Validate one dataset's table against its suite; one `DqResult` per expectation."""
    runtime = _runtime()
    suite = _suite(name, suites_dir)
    # Only the columns the suite reads go to pandas: the events table has 55 columns and
    # converting the rest would cost more than the validation itself. A column the suite
    # names but the table lacks stays missing, and Great Expectations reports that
    # expectation as failed rather than crashing the run.
    needed = [c for c in table.column_names if c in columns_used(load_suite_document(name, suites_dir))]
    frame = table.select(needed).to_pandas()
    # Great Expectations keeps tracebacks of exceptions it handled, and with them this frame,
    # until the next garbage collection: the data must not be among its locals by then.
    del table
    batch = runtime.batch_definitions[name].get_batch(batch_parameters={"dataframe": frame})
    del frame
    outcome = batch.validate(suite, result_format=RESULT_FORMAT, expectation_parameters=parameters)
    # The datasource's execution engine keeps the last batch of each asset, and with it the
    # frame, until that asset's next validation: at 1 M events the events frame would stay
    # in memory while the items are validated, and both after the run in a warm Lambda.
    batches = batch.data.execution_engine.batch_manager
    batches.reset_batch_cache()
    batches.batch_data_cache.clear()
    del batch
    return [_to_result(name, item) for item in outcome.results]


def _to_result(suite_name: str, item: Any) -> DqResult:
    config = item.expectation_config
    meta = dict(config.meta or {})
    raw = dict(item.result or {})
    details: dict[str, Any] = {"description": meta.get("description", "")}
    details["kwargs"] = _shorten(_jsonable({k: v for k, v in config.kwargs.items() if k != "batch_id"}))
    for key in ("partial_unexpected_list", "partial_unexpected_counts"):
        if raw.get(key):
            details[key] = _jsonable(raw[key])
    messages = _exception_messages(item.exception_info)
    if messages:
        details["exception"] = "; ".join(messages)[:MAX_EXCEPTION_CHARS]
    if "observed_value" in raw:
        observed = _jsonable(raw["observed_value"])
    else:
        observed = {k: _jsonable(raw[k]) for k in _OBSERVED_KEYS if k in raw} or None
    return DqResult(
        suite=suite_name,
        expectation=config.type,
        column_name=column_name(config.kwargs),
        severity=meta.get("severity") or str(getattr(config.severity, "value", config.severity)),
        success=bool(item.success),
        observed=observed,
        details=details,
    )


def _exception_messages(info: Any) -> list[str]:
    """What went wrong when a check raised (a missing column, a type GX cannot compare).

    GX reports either one `{raised_exception, exception_message}` or, when a metric failed,
    one such dict per metric.
    """
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        return [str(info.get("exception_message"))] if info.get("raised_exception") else []
    return sorted({m for value in info.values() for m in _exception_messages(value)})


def _shorten(value: Any) -> Any:
    """Cut long lists (the hour's event ids) so a dq_results row stays small."""
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list) and len(value) > MAX_LIST_IN_DETAILS:
        return {"first": value[:MAX_LIST_IN_DETAILS], "count": len(value)}
    return value


def _jsonable(value: Any) -> Any:
    """A plain JSON value: PostgreSQL's jsonb rejects NaN, and json cannot encode datetimes or numpy."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):  # pandas Timestamps are datetimes
        return None if value != value else value.isoformat()  # NaT is the one value unequal to itself
    if hasattr(value, "item") and callable(value.item):  # numpy scalars, without importing numpy
        return _jsonable(value.item())
    if hasattr(value, "to_json_dict"):  # GX objects (row conditions, enums)
        return _jsonable(value.to_json_dict())
    if hasattr(value, "dict") and callable(value.dict):  # pydantic v1 models (GX conditions)
        return _jsonable(value.dict())
    return str(value)
