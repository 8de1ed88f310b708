"""`_execute` without FastAPI's machinery: a well-formed call is answered by ExecuteFastPath, every
other body by the FastAPI route with its exact 400s, and both answer the same Kibana bodies."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from api_helpers import ALL, READ, connector_body, sse_data

from ai_connector.api.app import ExecuteFastPath
from ai_connector.api.auth import Principal
from ai_connector.api.routes import execute_body

CHAT = {"subAction": "unified_completion", "subActionParams": {"body": {"messages": [
    {"role": "user", "content": "Hello world"}]}}}  # fmt: skip


async def _create(client, server) -> str:
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


# ---------------------------------------------------------------------------------------------
# Through the app: the same answers either way


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"params": {}, "extra": 1}', "[request body.extra]: definition for this key is missing"),
        (b"{}", "[request body.params]: expected value of type [Object] but got [undefined]"),
        (b'{"params": []}', "[request body.params]: expected value of type [Object] but got [Array]"),
        (b"{not json", "[request body]: Invalid JSON in the request body"),
    ],
)
async def test_bodies_the_fast_path_declines_get_the_routes_exact_400(client, server, content, message):
    cid = await _create(client, server)
    resp = await client.post(
        f"/api/actions/connector/{cid}/_execute",
        headers={**READ, "content-type": "application/json"},
        content=content,
    )
    assert resp.status_code == 400
    assert resp.json() == {"statusCode": 400, "error": "Bad Request", "message": message}


async def test_a_json_body_under_another_content_type_is_left_to_the_route(client, server):
    cid = await _create(client, server)
    declined = await client.post(
        f"/api/actions/connector/{cid}/_execute",
        headers={**READ, "content-type": "text/plain"},
        content=json.dumps({"params": CHAT}).encode(),
    )
    assert declined.status_code == 400  # FastAPI does not read text/plain as JSON
    charset = await client.post(
        f"/api/actions/connector/{cid}/_execute",
        headers={**READ, "content-type": "application/json; charset=utf-8"},
        content=json.dumps({"params": CHAT}).encode(),
    )
    assert charset.status_code == 200 and charset.json()["status"] == "ok"


async def test_the_answers_are_kibanas_bodies_with_content_length(client, server):
    cid = await _create(client, server)
    resp = await client.post(f"/api/actions/connector/{cid}/_execute", headers=READ, json={"params": CHAT})
    assert resp.headers["content-type"] == "application/json"
    assert int(resp.headers["content-length"]) == len(resp.content)
    body = resp.json()
    assert (body["status"], body["connector_id"]) == ("ok", cid)
    assert body["data"]["choices"][0]["message"]["content"] == "Hello world"
    assert set(resp.json()) == {"status", "connector_id", "data"}
    stream = await client.post(
        f"/api/actions/connector/{cid}/_execute",
        headers=READ,
        json={"params": {**CHAT, "subAction": "unified_completion_stream"}},
    )
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert sse_data(stream.text)[-1] == "[DONE]"


async def test_the_openapi_document_still_describes_the_route(client):
    spec = (await client.get("/api/openapi.json")).json()
    post = spec["paths"]["/api/actions/connector/{id}/_execute"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ExecuteRequest")
    ok = post["responses"]["200"]["content"]
    assert ok["application/json"]["schema"]["$ref"].endswith("/ExecuteResponse")
    assert "text/event-stream" in ok


# ---------------------------------------------------------------------------------------------
# The layer itself


class _State:
    def __init__(self, service: Any) -> None:
        self.service = service


class _Api:
    def __init__(self, service: Any) -> None:
        self.state = _State(service)


class _Service:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def execute(self, connector_id, sub_action, params, *, user=None):
        self.calls.append((connector_id, sub_action, params, user))
        return {"status": "ok", "connector_id": connector_id, "data": {"n": 1}, "_private": "never sent"}


def _scope(path: str, principal: Any, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": headers if headers is not None else [(b"content-type", b"application/json")],
        "state": {"principal": principal},
    }


async def _call(layer: ExecuteFastPath, scope: dict[str, Any], body: bytes) -> list[dict[str, Any]]:
    messages = [{"type": "http.request", "body": body[:5], "more_body": True},
                {"type": "http.request", "body": body[5:], "more_body": False}]  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await layer(scope, receive, send)
    return sent


async def test_a_well_formed_call_never_reaches_fastapi():
    svc = _Service()

    async def fastapi(scope, receive, send):
        raise AssertionError("the fast path should have answered")

    layer = ExecuteFastPath(fastapi, _Api(svc))  # type: ignore[arg-type]
    who = Principal("api_key:abc", "read")
    sent = await _call(layer, _scope("/api/actions/connector/c%201/_execute", who),
                       json.dumps({"params": CHAT}).encode())  # fmt: skip
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"status": "ok", "connector_id": "c%201", "data": {"n": 1}}
    assert svc.calls == [("c%201", "unified_completion", CHAT["subActionParams"], "api_key:abc")]


@pytest.mark.parametrize(
    ("path", "principal", "headers", "body"),
    [
        ("/api/actions/connector/c1/_test", "who", None, b'{"params": {}}'),  # another route
        ("/api/actions/connector/c1/_execute", None, None, b'{"params": {}}'),  # not authenticated
        ("/api/actions/connector/c1/_execute", "who", [(b"content-type", b"text/plain")], b'{"params": {}}'),
        ("/api/actions/connector/c1/_execute", "who", None, b'{"params": {}, "x": 1}'),
        ("/api/actions/connector/c1/_execute", "who", None, b'{"params": "no"}'),
        ("/api/actions/connector/c1/_execute", "who", None, b"[1]"),
    ],
)
async def test_anything_else_goes_to_fastapi_with_the_body_replayed(path, principal, headers, body):
    seen: list[bytes] = []

    async def fastapi(scope, receive, send):
        message = await receive()
        seen.append(message.get("body", b""))
        while message.get("more_body"):
            message = await receive()
            seen[-1] += message.get("body", b"")

    who = Principal("api_key:abc", "read") if principal else None
    layer = ExecuteFastPath(fastapi, _Api(_Service()))  # type: ignore[arg-type]
    await _call(layer, _scope(path, who, headers), body)
    assert seen == [body]


def test_an_answer_carries_only_kibanas_fields_and_valid_json():
    out = execute_body({"status": "ok", "connector_id": "c1", "data": [math.nan], "secret": "sk-x"})
    assert json.loads(out.body) == {"status": "ok", "connector_id": "c1", "data": [None]}
    assert b"sk-x" not in out.body
