"""The hourly ETL end to end: the real ASL in moto's engine, the real handlers, real PostgreSQL.

Events go in through the ingest handler (as API Gateway delivers them, in a past hour); the
warehouse must then equal an oracle computed here, independently, from what was sent.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from clickstream.layout import Hour
from tests.integration.conftest import EtlStack
from tests.support import iso, keys_for_request, make_event, read_lines

ROOT = Path(__file__).resolve().parents[2]
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# Tables whose content must not change when an hour is run again.
STABLE_TABLES = ["events", "event_items", "sessions", "page_views", "orders", "users"]


@dataclass
class Sent:
    """What the test sent to one hour, and what it therefore expects in the warehouse."""

    hour: Hour
    events: dict[str, dict] = field(default_factory=dict)  # valid events by event_id
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (event_id, code)
    request_ids: list[str] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(len((e.get("ecommerce") or {}).get("items") or []) for e in self.events.values())

    @property
    def sessions(self) -> set[str]:
        return {e["session_id"] for e in self.events.values()}

    @property
    def orders(self) -> dict[str, float]:
        return {e["ecommerce"]["transaction_id"]: e["ecommerce"]["value"]
                for e in self.events.values() if e["event_name"] == "purchase"}


def _visit(start: datetime, *, product: str, price: float, buy: bool) -> list[dict]:
    """One session: land, view a product, maybe buy it."""
    session, anonymous = str(uuid.uuid4()), str(uuid.uuid4())
    common = {"session_id": session, "anonymous_id": anonymous}
    item = {"item_id": product, "item_name": f"Product {product}", "item_category": "Mugs", "price": price,
            "quantity": 2}
    events = [
        make_event("page_view", at=start, event_seq=1, **common),
        make_event("view_item", at=start + timedelta(seconds=20), event_seq=2,
                   ecommerce={"currency": "EUR", "value": price, "items": [{**item, "quantity": 1}]}, **common),
    ]
    if buy:
        events += [
            make_event("add_to_cart", at=start + timedelta(seconds=40), event_seq=3,
                       ecommerce={"currency": "EUR", "value": 2 * price, "items": [item]}, **common),
            make_event("begin_checkout", at=start + timedelta(seconds=60), event_seq=4,
                       ecommerce={"currency": "EUR", "value": 2 * price, "items": [item]}, **common),
            make_event("purchase", at=start + timedelta(seconds=90), event_seq=5,
                       ecommerce={"currency": "EUR", "value": 2 * price, "transaction_id": f"T-{uuid.uuid4().hex[:8]}",
                                  "items": [item]}, **common),
        ]
    return events


def _send(etl: EtlStack, sent: Sent, events: list[dict], *, at: datetime, user_agent: str | None = None) -> dict:
    for event in events:  # the SDK sends within seconds of the event
        event["sent_ts"] = iso(at)
    answer = etl.send(events, received_at=at, **({"user_agent": user_agent} if user_agent else {}))
    rejected = {r["index"]: r["code"] for r in answer.get("rejected", [])}
    for index, event in enumerate(events):
        if index in rejected:
            sent.rejected.append((event.get("event_id"), rejected[index]))
        else:
            sent.events[event["event_id"]] = event
    sent.request_ids.append(answer["request_id"])
    return answer


def _seed_hour(etl: EtlStack, hour: Hour) -> Sent:
    sent = Sent(hour)
    t0 = hour.start + timedelta(minutes=5)
    for n in range(6):
        visit = _visit(t0 + timedelta(minutes=7 * n), product=f"SKU-{n % 3}", price=10.0 + n, buy=n % 2 == 0)
        _send(etl, sent, visit, at=t0 + timedelta(minutes=7 * n + 2))
    # a retry re-sends a batch already delivered: natural duplicates, one row each in the warehouse
    retry = list(sent.events.values())[:3]
    _send(etl, sent, [dict(e) for e in retry], at=t0 + timedelta(minutes=50))
    # invalid events never reach the warehouse; they are quarantined with their code
    _send(etl, sent, [make_event("Bad Name", at=t0), make_event("purchase", at=t0, ecommerce={"currency": "EUR"})],
          at=t0 + timedelta(minutes=51))
    # a crawler: kept in events, flagged as a bot
    _send(etl, sent, [make_event("page_view", at=t0 + timedelta(minutes=52))], at=t0 + timedelta(minutes=53),
          user_agent=BOT_UA)
    return sent


def _query(etl: EtlStack, sql: str, params: tuple | None = None) -> list[tuple]:
    with psycopg2.connect(etl.database_url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _checksums(etl: EtlStack, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every row, per table."""
    sums = {}
    for table in tables:
        ((count, digest),) = _query(
            etl, f"SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {table} t"
        )
        sums[table] = (count, digest)
    return sums


def _rollup_tables(etl: EtlStack) -> list[str]:
    return [r[0] for r in _query(etl, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'agg\\_%' ORDER BY 1")]


@pytest.fixture(scope="module")
def seeded(etl_stack: EtlStack) -> Sent:
    hour = Hour.containing(datetime.now(UTC)).shift(-5)
    return _seed_hour(etl_stack, hour)


@pytest.fixture(scope="module")
def first_run(etl_stack: EtlStack, seeded: Sent) -> Any:
    execution = etl_stack.control.run(seeded.hour, timeout_s=300)
    assert execution.status == "SUCCEEDED", f"{execution.error}: {execution.cause}"
    return execution


def test_an_hour_lands_in_the_warehouse_exactly_as_sent(etl_stack: EtlStack, seeded: Sent, first_run: Any) -> None:
    hour = seeded.hour
    ids = {r[0] for r in _query(etl_stack, "SELECT event_id FROM events WHERE received_hour = %s", (hour.start,))}
    assert ids == set(seeded.events), "every accepted event once, nothing else"
    ((items,),) = _query(etl_stack, "SELECT count(*) FROM event_items WHERE received_hour = %s", (hour.start,))
    assert items == seeded.items
    sessions = {r[0] for r in _query(etl_stack, "SELECT session_id FROM sessions WHERE session_id = ANY(%s)",
                                     (list(seeded.sessions),))}
    assert sessions == seeded.sessions
    orders = dict(_query(etl_stack, "SELECT order_id, revenue::float FROM orders WHERE order_id = ANY(%s)",
                         (list(seeded.orders),)))
    assert orders == pytest.approx(seeded.orders)
    ((bots,),) = _query(etl_stack, "SELECT count(*) FROM events WHERE received_hour = %s AND is_bot", (hour.start,))
    assert bots == 1
    # the execution's own report agrees
    assert first_run.rows_loaded == len(seeded.events)
    assert first_run.output["load"]["natural_duplicates"] + sum(
        c["natural_duplicates"] for c in first_run.output["chunks"]) == 3


def test_rejected_events_are_in_quarantine_with_their_codes(etl_stack: EtlStack, seeded: Sent, first_run: Any) -> None:
    resources = etl_stack.api.resources
    quarantined = []
    for request_id in seeded.request_ids:
        for key in keys_for_request(etl_stack.api.s3, resources.quarantine_bucket, request_id):
            quarantined += [(q["event_id"], q["error_code"])
                            for q in read_lines(etl_stack.api.s3, resources.quarantine_bucket, key)]
    assert sorted(quarantined) == sorted(seeded.rejected)
    assert {code for _, code in seeded.rejected} == {"bad_event_name", "missing_transaction_id"}
    counts = dict(_query(etl_stack, "SELECT error_code, count FROM quarantine_counts WHERE hour = %s AND stage = 'ingest'",
                         (seeded.hour.start,)))
    assert counts == {"bad_event_name": 1, "missing_transaction_id": 1}


def test_the_run_is_recorded_for_the_pipeline_health_page(etl_stack: EtlStack, seeded: Sent, first_run: Any) -> None:
    ((status, inserted),) = _query(etl_stack, "SELECT status, inserted_events FROM pipeline_runs WHERE run_id = %s",
                                   (first_run.name,))
    assert (status, inserted) == ("succeeded", len(seeded.events))
    ((results,),) = _query(etl_stack, "SELECT count(*) FROM dq_results WHERE run_id = %s", (first_run.name,))
    assert results > 5
    ((manifest,),) = _query(etl_stack, "SELECT inserted_events FROM load_manifest WHERE hour = %s", (seeded.hour.start,))
    assert manifest == len(seeded.events)


def test_running_the_same_hour_again_changes_nothing(etl_stack: EtlStack, seeded: Sent, first_run: Any) -> None:
    tables = STABLE_TABLES + _rollup_tables(etl_stack)
    before = _checksums(etl_stack, tables)
    for _ in range(2):
        again = etl_stack.control.run(seeded.hour, timeout_s=300)
        assert again.status == "SUCCEEDED", again.cause
        assert again.rows_loaded == 0
    assert _checksums(etl_stack, tables) == before
    history = etl_stack.control.history(limit=50)
    assert sum(e.hour == str(seeded.hour) and e.status == "SUCCEEDED" for e in history) >= 3


@contextmanager
def _etl_env(**values: str) -> Iterator[None]:
    """Run the ETL tasks with extra settings (they are read once per process, so rebuild them)."""
    from clickstream.etl.pipeline import deps_from_env

    os.environ.update(values)
    deps_from_env.cache_clear()
    try:
        yield
    finally:
        for key in values:
            os.environ.pop(key, None)
        deps_from_env.cache_clear()


def _hour_is_empty(etl: EtlStack, hour: Hour) -> bool:
    ((events,),) = _query(etl, "SELECT count(*) FROM events WHERE received_hour = %s", (hour.start,))
    ((manifests,),) = _query(etl, "SELECT count(*) FROM load_manifest WHERE hour = %s", (hour.start,))
    return events == 0 and manifests == 0


def test_a_critical_quality_failure_loads_nothing_and_alerts_once(etl_stack: EtlStack, tmp_path: Path) -> None:
    # GIVEN a team rule the hour breaks: only the app "another-app" may send events
    suites = tmp_path / "quality"
    shutil.copytree(ROOT / "quality", suites)
    document = json.loads((suites / "events.json").read_text())
    document["expectations"].append({
        "type": "expect_column_values_to_be_in_set", "kwargs": {"column": "app_id", "value_set": ["another-app"]},
        "meta": {"severity": "critical", "description": "Only another-app sends events."}, "severity": "critical",
    })
    (suites / "events.json").write_text(json.dumps(document))
    hour = Hour.containing(datetime.now(UTC)).shift(-7)
    sent = _seed_hour(etl_stack, hour)
    etl_stack.alerts()  # drain

    # WHEN the hour runs
    with _etl_env(QUALITY_SUITES_DIR=str(suites)):
        execution = etl_stack.control.run(hour, timeout_s=300)

    # THEN it failed at CheckQuality, nothing was loaded, and exactly one alert says why
    assert execution.status == "FAILED"
    assert _hour_is_empty(etl_stack, hour)
    (alert,) = etl_stack.alerts()
    assert alert["failed_state"] == "CheckQuality" and alert["error"] == "DataQualityError"
    assert alert["hour"] == str(hour) and alert["execution_id"] == execution.arn and "app_id" in alert["cause"]
    ((status, state),) = _query(etl_stack, "SELECT status, failed_state FROM pipeline_runs WHERE run_id = %s",
                                (execution.name,))
    assert (status, state) == ("failed", "CheckQuality")
    failing = _query(etl_stack, "SELECT column_name FROM dq_results WHERE run_id = %s AND NOT success AND "
                                "severity = 'critical'", (execution.name,))
    assert failing == [("app_id",)]
    assert etl_stack.control.alerts(limit=50)[0]["failed_state"] == "CheckQuality"

    # AND with the rule removed, the same hour loads in full
    retry = etl_stack.control.run(hour, timeout_s=300)
    assert retry.status == "SUCCEEDED" and retry.rows_loaded == len(sent.events)


@pytest.mark.parametrize("point", ["before_copy", "after_copy", "after_merge", "before_commit"])
def test_a_load_stopped_at_any_point_leaves_nothing_and_a_rerun_loads_everything_once(
    etl_stack: EtlStack, point: str
) -> None:
    hour = Hour.containing(datetime.now(UTC)).shift(-10 - ["before_copy", "after_copy", "after_merge",
                                                           "before_commit"].index(point))
    sent = _seed_hour(etl_stack, hour)
    etl_stack.alerts()
    with _etl_env(FAULT_INJECTION=point):
        crashed = etl_stack.control.run(hour, timeout_s=300)
    assert crashed.status == "FAILED"
    assert _hour_is_empty(etl_stack, hour), f"a load stopped at {point} left rows behind"
    (alert,) = etl_stack.alerts()
    assert alert["failed_state"] == "LoadWarehouse" and alert["error"] == "InjectedFault"

    recovered = etl_stack.control.run(hour, timeout_s=300)
    assert recovered.status == "SUCCEEDED", recovered.cause
    ids = [r[0] for r in _query(etl_stack, "SELECT event_id FROM events WHERE received_hour = %s", (hour.start,))]
    assert sorted(ids) == sorted(sent.events), "nothing lost, nothing doubled"


def test_late_events_rebuild_the_days_they_belong_to(etl_stack: EtlStack) -> None:
    # GIVEN events that happened 30 h before the hour they were received in (a phone offline)
    hour = Hour.containing(datetime.now(UTC)).shift(-4)
    happened = hour.start - timedelta(hours=30)
    sent = Sent(hour)
    visit = _visit(happened, product="SKU-LATE", price=99.0, buy=True)
    _send(etl_stack, sent, visit, at=hour.start + timedelta(minutes=10))
    day = happened.date()
    before = _query(etl_stack, "SELECT coalesce(sum(sessions), 0), coalesce(sum(revenue), 0)::float "
                               "FROM agg_traffic_daily WHERE day = %s", (day,))[0]

    execution = etl_stack.control.run(hour, timeout_s=300)

    assert execution.status == "SUCCEEDED", execution.cause
    assert day.isoformat() in execution.output["load"]["days_touched"]
    after = _query(etl_stack, "SELECT sum(sessions), sum(revenue)::float FROM agg_traffic_daily WHERE day = %s",
                   (day,))[0]
    assert after[0] == before[0] + 1
    assert after[1] == pytest.approx(before[1] + 2 * 99.0)
    ((views,),) = _query(etl_stack, "SELECT coalesce(sum(purchases), 0) FROM agg_products_daily "
                                    "WHERE day = %s AND item_id = 'SKU-LATE'", (day,))
    assert views == 1
