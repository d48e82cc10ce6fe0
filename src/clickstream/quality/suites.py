"""The expectation suites in `quality/`: where they live, how they are read, what they need.

A suite is a Great Expectations 1.x suite JSON file, one per processed dataset
(`quality/events.json`, `quality/event_items.json`). Every expectation carries
`meta.severity` ("critical" or "warning") and `meta.description` (what it protects, for the
person reading `dq_results`). Values that change per run (the hour's time window and start,
the cleaned row count) are `{"$PARAMETER": name}` placeholders that `suite_parameters()`
fills. Suites may name two columns the checker adds (see `clickstream.quality.check`):
`chunk` and, for items, `orphan_event_id`.

Reading a suite is plain JSON work: nothing here imports Great Expectations, so contract
tests and the rest of the package stay fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from clickstream.errors import ConfigurationError
from clickstream.etl.processed import EVENTS_DATASET, ITEMS_DATASET
from clickstream.layout import Hour
from clickstream.quality.model import SEVERITIES
from clickstream.schema.event import FUTURE_LIMIT, LATE_LIMIT

SUITE_NAMES: tuple[str, ...] = (EVENTS_DATASET, ITEMS_DATASET)
"""One suite per processed dataset; the suite's file and `name` are the dataset's name."""

SUITES_DIRNAME = "quality"

# Parameter names used as {"$PARAMETER": ...} in the suite files.
PARAM_HOUR_START = "hour_start"
PARAM_EARLIEST_EVENT_TIME = "earliest_event_time"
PARAM_LATEST_EVENT_TIME = "latest_event_time"
PARAM_EXPECTED_EVENTS = "expected_events"
PARAMETERS: frozenset[str] = frozenset(
    {PARAM_HOUR_START, PARAM_EARLIEST_EVENT_TIME, PARAM_LATEST_EVENT_TIME, PARAM_EXPECTED_EVENTS}
)


def default_suites_dir() -> Path:
    """The `quality/` folder: beside `src/` in a checkout, else in the working directory.

    A Lambda package puts `quality/` at the root of the zip, which is the working directory
    (`/var/task`) when the handler runs.
    """
    checkout = Path(__file__).resolve().parents[3] / SUITES_DIRNAME
    candidates = [checkout, Path.cwd() / SUITES_DIRNAME]
    for candidate in candidates:
        if (candidate / f"{SUITE_NAMES[0]}.json").is_file():
            return candidate
    raise ConfigurationError(
        f"the expectation suites were not found (looked in {', '.join(str(c) for c in candidates)}). "
        f"Package the repository's {SUITES_DIRNAME}/ folder beside the code, or pass suites_dir."
    )


def suite_path(name: str, suites_dir: Path | None = None) -> Path:
    if name not in SUITE_NAMES:
        raise ValueError(f"unknown suite {name!r}; the suites are {SUITE_NAMES}")
    return (suites_dir or default_suites_dir()) / f"{name}.json"


def load_suite_document(name: str, suites_dir: Path | None = None) -> dict[str, Any]:
    """The suite file as JSON, checked for what this package relies on."""
    return _load(suite_path(name, suites_dir))


@cache
def _load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"expectation suite {path} cannot be read: {exc}") from None
    problems = suite_problems(document, expected_name=path.stem)
    if problems:
        raise ConfigurationError(f"expectation suite {path} is not valid: " + "; ".join(problems))
    return document


def suite_problems(document: Any, *, expected_name: str) -> list[str]:
    """Why a suite document cannot be used (empty when it can). Shared with the contract test."""
    if not isinstance(document, dict):
        return ["the file must hold a JSON object"]
    problems: list[str] = []
    if document.get("name") != expected_name:
        problems.append(f"name must be {expected_name!r} (the file's name), not {document.get('name')!r}")
    expectations = document.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        return [*problems, "expectations must be a non-empty list"]
    seen: set[tuple[str, str]] = set()
    for index, expectation in enumerate(expectations):
        where = f"expectations[{index}]"
        if not isinstance(expectation, dict) or not isinstance(expectation.get("type"), str):
            problems.append(f"{where} must be an object with a type")
            continue
        where = f"{where} ({expectation['type']})"
        meta = expectation.get("meta") or {}
        severity = meta.get("severity")
        if severity not in SEVERITIES:
            problems.append(f"{where}: meta.severity must be one of {SEVERITIES}, not {severity!r}")
        # GX has its own severity field (default "critical"); it must not tell another story.
        if expectation.get("severity", severity) != severity:
            problems.append(f"{where}: severity {expectation.get('severity')!r} differs from meta.severity {severity!r}")
        description = meta.get("description")
        if not isinstance(description, str) or len(description.strip()) < 10:
            problems.append(f"{where}: meta.description must say in words what the expectation protects")
        key = (expectation["type"], column_name(expectation.get("kwargs") or {}))
        if key in seen:
            # (suite, expectation, column_name) is the primary key of dq_results.
            problems.append(f"{where}: a second {key[0]} on column {key[1]!r}; results would collide in dq_results")
        seen.add(key)
        unknown = parameters_used(expectation.get("kwargs") or {}) - PARAMETERS
        if unknown:
            problems.append(f"{where}: unknown $PARAMETER {sorted(unknown)}; known: {sorted(PARAMETERS)}")
    return problems


def column_name(kwargs: Mapping[str, Any]) -> str:
    """The `column_name` of a result: the column, the columns joined by ",", or "" for the table."""
    if isinstance(kwargs.get("column"), str):
        return kwargs["column"]
    if isinstance(kwargs.get("column_list"), list):
        return ",".join(str(c) for c in kwargs["column_list"])
    if "column_A" in kwargs and "column_B" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return ""


def columns_used(document: Mapping[str, Any]) -> set[str]:
    """Every column a suite reads, row conditions included: only these go to pandas."""
    columns: set[str] = set()
    for expectation in document["expectations"]:
        kwargs = expectation.get("kwargs") or {}
        named = column_name(kwargs)
        columns.update(c for c in named.split(",") if c)
        columns.update(_condition_columns(kwargs.get("row_condition")))
    return columns


def _condition_columns(condition: Any) -> Iterable[str]:
    if isinstance(condition, dict):
        column = condition.get("column")
        if isinstance(column, dict) and isinstance(column.get("name"), str):
            yield column["name"]
        for sub in condition.get("conditions") or []:
            yield from _condition_columns(sub)


def parameters_used(value: Any) -> set[str]:
    """The `$PARAMETER` names inside an expectation's kwargs."""
    if isinstance(value, dict):
        if isinstance(value.get("$PARAMETER"), str):
            return {value["$PARAMETER"]}
        return set().union(*(parameters_used(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(parameters_used(v) for v in value)) if value else set()
    return set()


def time_window(hour: Hour) -> tuple[Any, Any]:
    """The event times an hour may hold: late events up to 72 h, clock skew up to 5 min ahead.

    The clean step drops events outside `[received - LATE_LIMIT, received + FUTURE_LIMIT]`;
    received times fall inside the hour, so every event of the hour is inside this window.
    """
    return hour.start - LATE_LIMIT, hour.end + FUTURE_LIMIT


def suite_parameters(hour: Hour, expected_events: int) -> dict[str, Any]:
    """The `$PARAMETER` values of one run."""
    earliest, latest = time_window(hour)
    return {
        PARAM_HOUR_START: hour.start,
        PARAM_EARLIEST_EVENT_TIME: earliest,
        PARAM_LATEST_EVENT_TIME: latest,
        PARAM_EXPECTED_EVENTS: expected_events,
    }
