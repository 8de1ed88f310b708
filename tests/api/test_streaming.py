"""`unified_completion_stream` answers as server-sent events (`data: {chunk}` ... `data: [DONE]`);
an error mid-stream is one `data: {"error": ...}` event; a failure before the first chunk is the
same HTTP 200 `status: "error"` body as a non-streamed run; and a client that disconnects cancels
the upstream call (a real uvicorn server in front, the FakeServer behind sees the close)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from api_fakes import sse_events
from api_helpers import ALL, READ, LiveApp, audit_lines, connector_body, sse_data

from ai_connector.api import create_app
from ai_connector.testing import FakeResponse

BODY = {"body": {"messages": [{"role": "user", "content": "Hello world"}]}}
STREAM = {"params": {"subAction": "unified_completion_stream", "subActionParams": BODY}}


async def _create(client, server) -> str:
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def _chunk(first: dict, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": first["id"],
        "object": "chat.completion.chunk",
        "created": first["created"],
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def test_a_stream_is_server_sent_events_ending_with_done(client, server) -> None:
    cid = await _create(client, server)
    resp = await client.post(f"/api/actions/connector/{cid}/_execute", headers=READ, json=STREAM)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-cache"
    events = sse_data(resp.text)
    first = events[0]
    assert events == [
        _chunk(first, {"role": "assistant"}),
        _chunk(first, {"content": "Hello"}),
        _chunk(first, {"content": " world"}),
        _chunk(first, {}, "stop"),
        {
            "id": first["id"],
            "object": "chat.completion.chunk",
            "created": first["created"],
            "model": "fake-model",
            "choices": [],
            "usage": {"completion_tokens": 2, "prompt_tokens": 3, "total_tokens": 5},
        },
        "[DONE]",
    ]
    assert resp.text.endswith("data: [DONE]\n\n")


async def test_an_error_mid_stream_is_one_error_event(client, server) -> None:
    cid = await _create(client, server)
    chunks = [*sse_events(["Hel"], done=False), f"data: {json.dumps({'error': 'boom'})}\n\n"]
    server.add("POST", "/chat", FakeResponse(chunks=chunks, content_type="text/event-stream"))
    resp = await client.post(f"/api/actions/connector/{cid}/_execute", headers=READ, json=STREAM)
    assert resp.status_code == 200
    events = sse_data(resp.text)
    first = events[0]
    assert events == [
        _chunk(first, {"role": "assistant"}),
        _chunk(first, {"content": "Hel"}),
        {"error": {"message": "fake: boom", "type": "provider_error", "status": None, "retry": False}},
    ]
    assert "[DONE]" not in resp.text


async def test_a_stream_refused_before_its_first_chunk_is_a_connector_error(client, server) -> None:
    cid = await _create(client, server)
    server.add("POST", "/chat", FakeResponse.json({"error": "invalid api key"}, 401))
    resp = await client.post(f"/api/actions/connector/{cid}/_execute", headers=READ, json=STREAM)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {
        "status": "error",
        "connector_id": cid,
        "message": "an error occurred while running the action",
        "service_message": "Inference endpoint [fake-chat_completion-1] returned status code 401: "
        '{"error": "invalid api key"}',
        "retry": True,  # Kibana's action executor: every thrown error
        "errorSource": "user",
    }


async def test_stream_params_are_validated_like_a_run(client, server) -> None:
    cid = await _create(client, server)
    params = {"params": {"subAction": "unified_completion_stream", "subActionParams": {"body": {}}}}
    resp = await client.post(f"/api/actions/connector/{cid}/_execute", headers=READ, json=params)
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "error",
        "connector_id": cid,
        # Kibana's sub-action framework: its schema's refusal is thrown as the user's error
        "message": "an error occurred while running the action",
        "service_message": "Request validation failed (Error: [body.messages]: Messages is required)",
        "retry": True,
        "errorSource": "user",
    }
    assert server.requests == []


async def test_streaming_an_unknown_connector_is_a_404(client) -> None:
    resp = await client.post("/api/actions/connector/nope/_execute", headers=READ, json=STREAM)
    assert resp.status_code == 404
    assert resp.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Saved object [action/nope] not found",
    }


# --- client disconnects (a real server) ---------------------------------------------------------


def _slow_stream(server, count: int = 200, delay: float = 0.05) -> None:
    chunks = sse_events([f"tok{i} " for i in range(count)])
    server.add(
        "POST", "/chat", FakeResponse(chunks=chunks, content_type="text/event-stream", chunk_delay=delay)
    )


@pytest.fixture
def live(make_settings, registry):
    with LiveApp(create_app(settings=make_settings(), registry=registry)) as app:
        yield app


def _create_live(live, server) -> str:
    resp = httpx.post(f"{live.url}/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def test_a_client_that_disconnects_mid_stream_cancels_the_upstream_call(live, server, home) -> None:
    cid = _create_live(live, server)
    server.reset()
    _slow_stream(server)
    seen = []
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST", f"{live.url}/api/actions/connector/{cid}/_execute", headers=READ, json=STREAM
        ) as resp,
    ):
        assert resp.status_code == 200
        for line in resp.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
            if len(seen) == 3:
                break  # leaving the block closes the connection mid-stream
    assert seen[2]["choices"][0]["delta"] == {"content": "tok1 "}
    assert server.disconnected.wait(5), "the upstream call was not cancelled"
    assert len(server.requests) == 1
    # The audit line is written once the cancelled run unwinds, which can finish just after the
    # upstream sees its connection close (the audit writer is also buffered): wait for it.
    deadline = time.monotonic() + 5
    while True:
        events = [e for e in audit_lines(home) if e["event"]["action"] == "connector_execute"]
        if (events and events[-1]["event"]["outcome"] == "failure") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert events[-1]["event"]["outcome"] == "failure"
    # the service records the cancelled run (CancelledError reaches it through the stream)
    assert events[-1]["error"]["code"] in ("CancelledError", "StreamCancelled")


def test_a_client_that_gives_up_on_a_run_cancels_the_upstream_call(live, server) -> None:
    cid = _create_live(live, server)
    server.reset()
    _slow_stream(server)
    params = {"params": {"subAction": "unified_completion", "subActionParams": BODY}}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{live.url}/api/actions/connector/{cid}/_execute", headers=READ, json=params, timeout=0.5)
    assert server.disconnected.wait(5), "the upstream call was not cancelled"
