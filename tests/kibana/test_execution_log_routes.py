"""Kibana's execution-log routes over HTTP: bodies, validation texts and answer shapes.

Facts from actions `server/routes/get_global_execution_logs.ts` (body schema: date_start required,
per_page 1..100, page 1..1000, sort by timestamp|execution_duration|schedule_delay) and
`server/lib/get_execution_log_aggregation.ts` (IExecutionLog and the KPI's four outcomes).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from api_helpers import ALL, READ, auth

from ai_connector.host.execlog import ExecutionLog, new_record

LOGS = "/internal/actions/_global_connector_execution_logs"
KPI = "/internal/actions/_global_connector_execution_kpi"


def _seed(service: Any) -> ExecutionLog:
    """A stored log on the service's database with three executions of two connectors."""
    execlog = ExecutionLog.open(service.store.engine)
    service.execlog = execlog
    now = time.time_ns()
    for cid, outcome, ago_s in (("a", "success", 10), ("a", "failure", 20), ("b", "success", 30)):
        execlog.record(
            new_record(
                connector_id=cid,
                connector_name=f"Connector {cid}",
                action="execute",
                started_ns=now - ago_s * 10**9,
                duration_ns=5_000_000,
                outcome=outcome,
                error_kind="rate_limited" if outcome == "failure" else None,
                error_message="an error occurred while running the action: slow down; retry: true"
                if outcome == "failure"
                else None,
                input_tokens=4,
                output_tokens=2,
            )
        )
    return execlog


async def test_the_log_route_answers_kibanas_shape_for_a_read_key(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, service = api
    _seed(service)
    response = await client.post(LOGS, json={"date_start": "now-1h"}, headers=READ)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3
    assert [e["connector_id"] for e in body["data"]] == ["a", "a", "b"]  # newest first
    assert body["data"][1]["message"] == (
        "action execution failure: .inference:a: Connector a - "
        "an error occurred while running the action: slow down; retry: true"
    )
    first = body["data"][0]  # this host's additions, shown by the page's Execution log tab
    assert (first["action"], first["input_tokens"], first["output_tokens"]) == ("execute", 4, 2)


async def test_the_log_route_filters_by_connector_outcome_and_dates(
    api: tuple[httpx.AsyncClient, Any],
) -> None:
    client, service = api
    _seed(service)

    async def total(**body: Any) -> int:
        response = await client.post(LOGS, json={"date_start": "now-1h", **body}, headers=ALL)
        assert response.status_code == 200, response.text
        return response.json()["total"]

    assert await total(filter='kibana.action.id: "a"') == 2
    assert await total(filter="kibana.action.id: a and event.outcome: failure") == 1
    assert await total(date_start="now-25s") == 2
    assert await total(date_start="now-1h", date_end="now-15s") == 2


async def test_the_kpi_route_counts_outcomes(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, service = api
    _seed(service)
    response = await client.post(KPI, json={"date_start": "now-1h"}, headers=READ)
    assert response.json() == {"success": 2, "unknown": 0, "failure": 1, "warning": 0}
    only_b = await client.post(
        KPI, json={"date_start": "now-1h", "filter": "kibana.action.id: b"}, headers=READ
    )
    assert only_b.json() == {"success": 1, "unknown": 0, "failure": 0, "warning": 0}


async def test_bodies_kibana_refuses_are_refused_with_its_texts(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, service = api
    _seed(service)
    start = {"date_start": "now-1h"}
    cases = [
        ({}, "[request body.date_start]: expected value of type [string] but got [undefined]"),
        ({**start, "per_page": 101}, "[request body.per_page]: Value must be equal to or lower than [100]."),
        ({**start, "page": 0}, "[request body.page]: Value must be equal to or greater than [1]."),
        ({**start, "filter": "event.outcome: ("}, "Invalid kuery syntax for filter event.outcome: ("),
        ({"date_start": "someday"}, "[request body.date_start]: Invalid date: someday"),
    ]
    for body, message in cases:
        response = await client.post(LOGS, json=body, headers=ALL)
        assert response.status_code == 400, body
        assert response.json()["message"] == message


async def test_the_routes_need_an_api_key(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = api
    response = await client.post(LOGS, json={"date_start": "now-1h"}, headers={"kbn-xsrf": "true"})
    assert response.status_code == 401
    assert (await client.get("/metrics")).status_code == 401


async def test_the_usage_summary_route(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, service = api
    _seed(service)
    response = await client.get(
        "/internal/actions/connector/a/_execution_summary?date_start=now-1h", headers=READ
    )
    body = response.json()
    assert body["calls"] == 2 and body["errors"] == 1 and body["errors_by_kind"] == {"rate_limited": 1}
    assert body["input_tokens"] == 8 and body["output_tokens"] == 4
    assert body["latency_ms"] == {"p50": 5.0, "p95": 5.0}


async def test_metrics_are_off_by_default(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = api
    response = await client.get("/metrics", headers=auth(xsrf=False))
    assert response.status_code == 404
    assert "AI_CONNECTOR_METRICS=prometheus" in response.json()["message"]
