"""The execution log's table and queries, on SQLite and on a real PostgreSQL server.

Shapes and texts are Kibana's: actions `lib/get_execution_log_aggregation.ts` (IExecutionLog fields,
`message - error.message` for failures, the KPI's four outcomes, the invalid sort and kuery texts)
and `lib/action_executor.ts` (the `action executed: <type>:<id>: <name>` messages).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from ai_connector.host.errors import BadRequestError
from ai_connector.host.execlog import ExecutionLog, executions_table, new_record
from ai_connector.host.execlog_query import (
    DateRange,
    execution_kpi,
    execution_logs,
    parse_date,
    usage_summary,
)
from ai_connector.host.store import ConnectorStore
from ai_connector.redaction import cap

HOUR_NS = 3600 * 10**9


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'connectors.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    store = ConnectorStore.open(database_url)  # the store's engine, SQLite pragmas included
    yield store.engine
    with store.engine.begin() as conn:  # a shared server database may outlive the test
        executions_table.drop(conn, checkfirst=True)
    store.close()


def _rec(cid: str = "c1", *, ago_h: float = 0, outcome: str = "success", ms: float = 10, **kw):
    now = time.time_ns()
    return new_record(
        connector_id=cid,
        connector_name=kw.pop("name", "My connector"),
        action=kw.pop("action", "execute"),
        sub_action=kw.pop("sub_action", "unified_completion"),
        started_ns=now - int(ago_h * HOUR_NS),
        duration_ns=int(ms * 1_000_000),
        outcome=outcome,
        **kw,
    )


def test_an_execution_is_served_in_kibanas_iexecutionlog_shape(engine: Engine) -> None:
    execlog = ExecutionLog.open(engine)
    rec = _rec("abc", ms=1234.5, input_tokens=7, output_tokens=3, request_body_bytes=42)
    execlog.record(rec)
    out = execution_logs(execlog, dates=DateRange.parse("now-1h", None))
    assert out["total"] == 1
    entry = out["data"][0]
    assert set(entry) == {
        "id", "timestamp", "duration_ms", "status", "message", "version", "source",
        "schedule_delay_ms", "space_ids", "connector_name", "connector_id", "timed_out",
        # this host's additions, shown per row by the page's Execution log tab
        "action", "input_tokens", "output_tokens",
    }  # fmt: skip
    assert (entry["action"], entry["input_tokens"], entry["output_tokens"]) == ("execute", 7, 3)
    assert uuid.UUID(entry["id"]) and entry["status"] == "success"  # drawn when the row is written
    assert entry["duration_ms"] == 1234.5
    assert entry["message"] == "action executed: .inference:abc: My connector"
    assert entry["connector_id"] == "abc" and entry["connector_name"] == "My connector"
    assert entry["timestamp"].endswith("Z") and entry["timed_out"] is False
    assert entry["schedule_delay_ms"] == 0 and entry["space_ids"] == ["default"]


def test_a_failure_message_is_kibanas_message_dash_error_message(engine: Engine) -> None:
    execlog = ExecutionLog.open(engine)
    execlog.record(
        _rec(
            "f1",
            outcome="failure",
            error_kind="timeout",
            error_message="an error occurred while running the action: boom; retry: true",
        )
    )
    [entry] = execution_logs(execlog, dates=DateRange.parse("now-1h", None))["data"]
    assert entry["status"] == "failure" and entry["timed_out"] is True
    assert entry["message"] == (
        "action execution failure: .inference:f1: My connector - "
        "an error occurred while running the action: boom; retry: true"
    )


def test_filters_connector_id_outcome_and_date_range(engine: Engine) -> None:
    execlog = ExecutionLog.open(engine)
    for rec in (
        _rec("a", ago_h=0.1),
        _rec("a", ago_h=0.2, outcome="failure", error_kind="rate_limited"),
        _rec("b", ago_h=0.3),
        _rec("a", ago_h=30),  # outside the last day
    ):
        execlog.record(rec)
    day = DateRange.parse("now-1d", None)

    def total(kql: str | None, dates: DateRange = day) -> int:
        return execution_logs(execlog, dates=dates, filter=kql)["total"]

    assert total(None) == 3
    assert total('kibana.action.id: "a"') == 2
    assert total("kibana.action.id: a and event.outcome: failure") == 1
    assert total("event.outcome: (success or failure) and not kibana.action.id: b") == 2
    assert total("kibana.action.id: *") == 3
    assert total(None, DateRange.parse("now-2d", None)) == 4
    assert total("kibana.action.id: a", DateRange.parse("now-2d", "now-1d")) == 1
    with pytest.raises(BadRequestError, match=r"^Invalid kuery syntax for filter kibana.action.id: \($"):
        execution_logs(execlog, dates=day, filter="kibana.action.id: (")


def test_pages_sort_and_kibanas_invalid_sort_text(engine: Engine) -> None:
    execlog = ExecutionLog.open(engine)
    for i in range(5):
        execlog.record(_rec(f"c{i}", ago_h=i / 100, ms=10 * (5 - i)))
    day = DateRange.parse("now-1d", None)
    newest = execution_logs(execlog, dates=day, per_page=2, page=1)
    assert newest["total"] == 5 and [e["connector_id"] for e in newest["data"]] == ["c0", "c1"]
    last = execution_logs(execlog, dates=day, per_page=2, page=3)
    assert [e["connector_id"] for e in last["data"]] == ["c4"]
    fastest = execution_logs(execlog, dates=day, sort=[{"execution_duration": {"order": "asc"}}], per_page=1)
    assert fastest["data"][0]["connector_id"] == "c4"
    with pytest.raises(BadRequestError) as err:
        execution_logs(execlog, dates=day, sort=[{"status": {"order": "asc"}}])
    assert err.value.message == (
        'Invalid sort field "status" - must be one of [timestamp,execution_duration,schedule_delay]'
    )


def test_kpi_counts_kibanas_four_outcomes(engine: Engine) -> None:
    execlog = ExecutionLog.open(engine)
    for outcome in ("success", "success", "failure"):
        execlog.record(_rec("k", outcome=outcome))
    execlog.record(_rec("k", action="test", outcome="failure"))  # a Save & test is not an execution
    kpi = execution_kpi(execlog, dates=DateRange.parse("now-1h", None))
    assert kpi == {"success": 2, "unknown": 0, "failure": 1, "warning": 0}
    assert execution_kpi(execlog, dates=DateRange.parse("now-1h", None), filter="kibana.action.id: x") == {
        "success": 0, "unknown": 0, "failure": 0, "warning": 0,
    }  # fmt: skip


def test_usage_summary_calls_errors_tokens_and_latency_percentiles(engine: Engine) -> None:
    execlog = ExecutionLog.open(engine)
    for ms in range(1, 101):  # 1..100 ms
        execlog.record(_rec("u", ms=ms, input_tokens=2, output_tokens=1))
    execlog.record(_rec("u", outcome="failure", error_kind="rate_limited", ms=500))
    execlog.record(_rec("u", outcome="failure", error_kind="credentials", ms=1))
    execlog.record(_rec("other", ms=9999, input_tokens=1000))
    summary = usage_summary(execlog, "u", dates=DateRange.parse("now-1h", None))
    assert summary["calls"] == 102 and summary["errors"] == 2
    assert summary["errors_by_kind"] == {"credentials": 1, "rate_limited": 1}
    assert summary["input_tokens"] == 200 and summary["output_tokens"] == 100
    assert summary["latency_ms"] == {"p50": 50.0, "p95": 96.0}  # nearest rank over 102 durations
    empty = usage_summary(execlog, "nobody", dates=DateRange.parse("now-1h", None))
    assert empty["calls"] == 0 and empty["latency_ms"] == {"p50": None, "p95": None}


def test_rows_survive_a_restart_and_are_shared_by_hosts_on_one_database(
    engine: Engine, database_url: str
) -> None:
    first = ExecutionLog.open(engine, flush_interval=60)
    rec = _rec("shared")
    first.record(rec)  # outside an event loop: written at once
    first.close()
    other_engine = create_engine(database_url)  # another host (or the same one after a restart)
    try:
        second = ExecutionLog.open(other_engine)
        out = execution_logs(second, dates=DateRange.parse("now-1h", None))
        assert [e["connector_id"] for e in out["data"]] == [rec.connector_id]
        second.record(_rec("from-second"))
        assert execution_logs(first.engine, dates=DateRange.parse("now-1h", None))["total"] == 2
    finally:
        other_engine.dispose()


async def test_records_wait_in_memory_until_the_flush_interval(engine: Engine) -> None:
    execlog = ExecutionLog.open(engine, flush_interval=60)
    execlog.record(_rec("deferred"))
    with engine.connect() as conn:
        assert conn.execute(select(executions_table.c.id)).all() == []  # nothing written yet
    # a query flushes this host's waiting rows first
    assert execution_logs(execlog, dates=DateRange.parse("now-1h", None))["total"] == 1
    execlog.close()


def test_error_messages_are_capped_like_kibanas_upstream_bodies() -> None:
    # stack_connectors inference helpers.test.ts: 1000 kept as is, 1001 capped with the marker
    assert cap("x" * 1000) == "x" * 1000
    capped = cap("x" * 1001)
    assert len(capped) == 1000 and capped.endswith("... [truncated]")
    assert _rec(outcome="failure", error_message="y" * 5000).error_message == "y" * 985 + "... [truncated]"


def test_dates_are_iso_8601_or_relative_and_refused_otherwise() -> None:
    assert parse_date("2026-01-02T03:04:05Z", "date_start") == parse_date("2026-01-02T03:04:05+00:00", "x")
    assert abs(parse_date("now", "date_end") - time.time_ns()) < 60 * 10**9
    with pytest.raises(BadRequestError, match=r"^\[request body.date_start\]: Invalid date: yesterday$"):
        parse_date("yesterday", "date_start")
