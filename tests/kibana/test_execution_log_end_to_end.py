"""The execution log end to end: every `_execute` and `_test` through the HTTP API and the Python API
is recorded as Kibana's event log records it (platform/test/alerting_api_integration/spaces_only/
tests/actions/execute.ts validateEventLog: `action executed: <type>:<id>: <name>`, the failure's
`error.message`, source `http_request`), survives a restart, is shared by hosts on one PostgreSQL,
and never holds a prompt, an answer or a secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from api_fakes import CANARY, install
from api_helpers import ALL, READ, connector_body
from sqlalchemy import select

from ai_connector.host.execlog import executions_table
from ai_connector.testing import FakeResponse, FakeServer

LOGS = "/internal/actions/_global_connector_execution_logs"
PROMPT = "prompt-canary-41d7 what is the meaning of life"
ANSWER = ("answer-canary-", "9c2e")
CHAT = {
    "subAction": "unified_completion",
    "subActionParams": {"body": {"messages": [{"role": "user", "content": PROMPT}]}},
}


async def _create(client: httpx.AsyncClient, server: FakeServer, name: str = "My fake") -> str:
    response = await client.post(
        "/api/actions/connector", json=connector_body(server, name=name), headers=ALL
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def _logs(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(LOGS, json={"date_start": "now-1h", **body}, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def _rows(service: Any) -> list[dict[str, Any]]:
    service.execlog.flush()
    with service.store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(executions_table))]


async def test_an_http_execution_is_logged_as_kibana_logs_it(
    api: tuple[httpx.AsyncClient, Any], server: FakeServer
) -> None:
    client, service = api
    cid = await _create(client, server)
    run = await client.post(f"/api/actions/connector/{cid}/_execute", json={"params": CHAT}, headers=READ)
    assert run.json()["status"] == "ok"
    [entry] = (await _logs(client))["data"]
    assert entry["status"] == "success" and entry["source"] == "http_request"
    assert entry["message"] == f"action executed: .inference:{cid}: My fake"
    [row] = _rows(service)
    assert (row["input_tokens"], row["output_tokens"]) == (3, 2)  # the fake's usage chunk
    assert row["request_body_bytes"] > len(PROMPT) and row["sub_action"] == "unified_completion"


async def test_a_failed_execution_carries_kibanas_error_message(
    api: tuple[httpx.AsyncClient, Any], server: FakeServer
) -> None:
    client, _ = api
    cid = await _create(client, server)
    server.add("POST", "/chat", FakeResponse.json({"error": "overloaded"}, 503))
    run = (
        await client.post(f"/api/actions/connector/{cid}/_execute", json={"params": CHAT}, headers=READ)
    ).json()
    [entry] = (await _logs(client, filter="event.outcome: failure"))["data"]
    assert entry["message"] == (
        f"action execution failure: .inference:{cid}: My fake - "
        f"an error occurred while running the action: {run['service_message']}; retry: true"
    )


async def test_streams_and_tests_are_logged_too(
    api: tuple[httpx.AsyncClient, Any], server: FakeServer
) -> None:
    client, service = api
    cid = await _create(client, server)
    stream = {**CHAT, "subAction": "unified_completion_stream"}
    response = await client.post(
        f"/api/actions/connector/{cid}/_execute", json={"params": stream}, headers=READ
    )
    assert "[DONE]" in response.text
    tested = await client.post(f"/api/actions/connector/{cid}/_test", headers=READ)
    assert tested.json()["status"] == "succeeded"
    rows = sorted(_rows(service), key=lambda r: r["action"])
    assert [(r["action"], r["outcome"]) for r in rows] == [("execute", "success"), ("test", "success")]
    assert rows[0]["sub_action"] == "unified_completion_stream" and rows[0]["output_tokens"] == 2
    assert (await _logs(client, filter="event.action: test"))["data"][0]["message"] == (
        f"action tested: .inference:{cid}: My fake"
    )


async def test_no_prompt_answer_or_secret_is_stored(
    api: tuple[httpx.AsyncClient, Any], server: FakeServer
) -> None:
    client, service = api
    install(server, pieces=ANSWER)
    cid = await _create(client, server)
    await client.post(f"/api/actions/connector/{cid}/_execute", json={"params": CHAT}, headers=READ)
    server.add("POST", "/chat", FakeResponse.json({"error": f"bad key {CANARY}"}, 401))
    await client.post(f"/api/actions/connector/{cid}/_execute", json={"params": CHAT}, headers=READ)
    stored = repr(_rows(service))
    assert "canary" not in stored.lower() and PROMPT not in stored and "".join(ANSWER) not in stored
    assert CANARY not in (await client.post(LOGS, json={"date_start": "now-1h"}, headers=READ)).text


async def test_the_python_api_is_logged_with_its_own_source(
    api: tuple[httpx.AsyncClient, Any], server: FakeServer
) -> None:
    client, service = api
    cid = await _create(client, server)
    assert (await service.execute(cid, CHAT["subAction"], CHAT["subActionParams"]))["status"] == "ok"
    assert [r["source"] for r in _rows(service)] == ["python"]


async def test_the_log_survives_a_restart(open_client: Callable[..., Any], server: FakeServer) -> None:
    client, service = await open_client()
    cid = await _create(client, server)
    await client.post(f"/api/actions/connector/{cid}/_execute", json={"params": CHAT}, headers=READ)
    await service.aclose()  # the waiting row is written on close
    client2, _ = await open_client()
    assert [e["connector_id"] for e in (await _logs(client2))["data"]] == [cid]


async def test_hosts_on_one_postgresql_share_the_log(
    open_client: Callable[..., Any], server: FakeServer, postgres_url: str
) -> None:
    first, _ = await open_client(AI_CONNECTOR_DATABASE_URL=postgres_url)
    second, _ = await open_client(AI_CONNECTOR_DATABASE_URL=postgres_url)
    cid = await _create(first, server)
    await first.post(f"/api/actions/connector/{cid}/_execute", json={"params": CHAT}, headers=READ)
    first_rows = (await _logs(first))["data"]  # flushes the first host's waiting row
    assert (
        [e["connector_id"] for e in (await _logs(second))["data"]]
        == [cid]
        == [e["connector_id"] for e in first_rows]
    )


async def test_prometheus_metrics_when_turned_on(
    open_client: Callable[..., Any], server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_CONNECTOR_METRICS", "prometheus")
    client, _ = await open_client()
    cid = await _create(client, server)
    await client.post(f"/api/actions/connector/{cid}/_execute", json={"params": CHAT}, headers=READ)
    metrics = await client.get("/metrics", headers={"Authorization": READ["Authorization"]})
    assert metrics.status_code == 200
    assert (
        f'ai_connector_executions_total{{action="execute",connector_id="{cid}",outcome="success"}} 1.0'
        in metrics.text
    )
