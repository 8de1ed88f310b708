"""`_execute` in front of the app's layers (ExecuteLane): the same callers refused with the same
bodies, the same body caps, the same security headers as any other answer, and the disconnect
watch and event stream it runs on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from api_fakes import install
from api_helpers import ALL, ALL_KEY, READ, connector_body, sse_data

from ai_connector.api.routes import ClientDisconnected, KibanaEventStream, until_disconnect

CHAT = {"subAction": "unified_completion", "subActionParams": {"body": {"messages": [
    {"role": "user", "content": "Hello world"}]}}}  # fmt: skip
STREAM = {**CHAT, "subAction": "unified_completion_stream"}
SECURITY = ("x-frame-options", "x-content-type-options", "content-security-policy")


async def _create(client, server) -> str:
    resp = await client.post("/api/actions/connector", headers=ALL, json=connector_body(server))
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def _security(resp: Any) -> list[str]:
    return [resp.headers.get(name) for name in SECURITY]


# ---------------------------------------------------------------------------------------------
# Through the app


async def test_every_execute_answer_carries_the_headers_the_other_routes_carry(client, server):
    cid = await _create(client, server)
    listed = await client.get("/api/actions/connectors", headers=READ)  # through SecurityHeaders
    assert None not in _security(listed)
    url = f"/api/actions/connector/{cid}/_execute"
    answers = [
        await client.post(url, headers=READ, json={"params": CHAT}),
        await client.post(url, headers=READ, json={"params": STREAM}),
        await client.post("/api/actions/connector/nope/_execute", headers=READ, json={"params": CHAT}),
    ]
    assert [r.status_code for r in answers] == [200, 200, 404]
    for resp in answers:
        assert _security(resp) == _security(listed)
        for name in SECURITY:  # once each, not once per layer
            assert len(resp.headers.get_list(name)) == 1


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "missing authentication credentials for REST request [{path}]"),
        ({"Authorization": "ApiKey wrong-key"}, 401, "unable to authenticate with provided credentials"),
        ({"Authorization": f"ApiKey {ALL_KEY}"}, 400, "Request must contain a kbn-xsrf header."),
    ],
)
async def test_a_refused_caller_is_answered_as_on_any_route(client, server, headers, status, message):
    cid = await _create(client, server)
    path = f"/api/actions/connector/{cid}/_execute"
    resp = await client.post(path, headers=headers, json={"params": CHAT})
    assert resp.status_code == status
    assert resp.json()["message"] == message.format(path=path)
    assert None not in _security(resp)
    other = await client.post(f"/api/actions/connector/{cid}/_test", headers=headers, json={})
    assert (other.status_code, other.json()["error"]) == (status, resp.json()["error"])


async def test_two_authorization_headers_are_refused_even_when_both_are_good(client, server):
    cid = await _create(client, server)
    resp = await client.post(
        f"/api/actions/connector/{cid}/_execute",
        headers=[*[("Authorization", f"ApiKey {ALL_KEY}")] * 2, ("kbn-xsrf", "true")],
        content=json.dumps({"params": CHAT}).encode(),
    )
    assert resp.status_code == 400
    assert resp.json()["message"] == "Request must contain exactly one Authorization header."


async def test_the_body_caps_hold_on_the_lane(open_client, server):
    client, _ = await open_client(AI_CONNECTOR_MAX_PAYLOAD_BYTES="512")
    cid = await _create(client, server)
    url = f"/api/actions/connector/{cid}/_execute"
    big = {"params": {**CHAT, "subActionParams": {"body": {"messages": [
        {"role": "user", "content": "x" * 600}]}}}}  # fmt: skip

    async def chunked():  # no Content-Length: the cap is counted as the body arrives
        data = json.dumps(big).encode()
        for i in range(0, len(data), 100):
            yield data[i : i + 100]

    declared = await client.post(url, headers=READ, json=big)
    streamed = await client.post(url, headers={**READ, "content-type": "application/json"}, content=chunked())
    for resp in (declared, streamed):
        assert resp.status_code == 413
        assert resp.json() == {
            "statusCode": 413,
            "error": "Request Entity Too Large",
            "message": "Payload content length greater than maximum allowed: 512",
        }
    deep = b'{"params":{"subAction":"unified_completion","subActionParams":' + b"[" * 101 + b"]" * 101 + b"}}"
    resp = await client.post(url, headers={**READ, "content-type": "application/json"}, content=deep)
    assert resp.status_code == 400
    assert "nested deeper than 100 levels" in resp.json()["message"]
    ok = await client.post(url, headers=READ, json={"params": CHAT})
    assert ok.status_code == 200 and ok.json()["status"] == "ok"


async def test_a_stream_is_one_event_per_chunk_and_non_ascii_text_stays_utf8(client, server):
    cid = await _create(client, server)
    install(server, pieces=("Grüße", " ✓"))
    resp = await client.post(f"/api/actions/connector/{cid}/_execute", headers=READ, json={"params": STREAM})
    events = sse_data(resp.text)
    assert events[-1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in events[:-1] if c["choices"])
    assert text == "Grüße ✓"
    assert "Grüße".encode() in resp.content  # as Kibana's JSON.stringify writes it, not \u-escaped


# ---------------------------------------------------------------------------------------------
# The disconnect watch


def _channel() -> tuple[Any, asyncio.Event]:
    """An ASGI receive channel (body already read) that says `http.disconnect` once `gone` is set."""
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    return receive, gone


async def test_the_call_runs_in_a_task_of_its_own_and_leaves_no_cancellation_behind():
    receive, _ = _channel()
    caller = asyncio.current_task()
    seen: list[Any] = []

    async def call() -> str:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)
        return "answer"

    assert await until_disconnect(receive, call()) == "answer"
    assert len(seen) == 1 and seen[0] is not caller  # resumed without the layers above it
    assert caller is not None and caller.cancelling() == 0
    await asyncio.sleep(0.01)  # the cancelled watcher says nothing later
    assert caller.cancelling() == 0


async def test_a_client_that_leaves_cancels_the_call_and_nothing_else():
    receive, gone = _channel()
    cancelled = asyncio.Event()

    async def call() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    asyncio.get_running_loop().call_later(0.01, gone.set)
    with pytest.raises(ClientDisconnected):
        await until_disconnect(receive, call())
    assert cancelled.is_set()
    caller = asyncio.current_task()
    assert caller is not None and caller.cancelling() == 0
    await asyncio.sleep(0)  # this task goes on as usual
    assert await until_disconnect(_channel()[0], asyncio.sleep(0, "again")) == "again"


async def test_cancelling_the_caller_is_not_mistaken_for_a_client_that_left():
    receive, _ = _channel()
    started = asyncio.Event()

    async def handler() -> None:
        async def call() -> None:
            started.set()
            await asyncio.sleep(30)

        await until_disconnect(receive, call())

    task = asyncio.ensure_future(handler())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# ---------------------------------------------------------------------------------------------
# The event stream


class _Chunks:
    """An async iterator of chunks that can fail after them, and says whether it was closed."""

    def __init__(self, chunks: list[Any], error: Exception | None = None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> Any:
        if self.chunks:
            return self.chunks.pop(0)
        if self.error is not None:
            raise self.error
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


async def _play(response: KibanaEventStream, send: Any) -> None:
    receive, _ = _channel()
    await response({"type": "http"}, receive, send)


async def test_the_stream_ends_with_done_and_closes_its_source():
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    rest = _Chunks([{"n": 2}])
    await _play(KibanaEventStream({"n": 1}, rest), send)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert body == b'data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n'
    assert sent[-1]["more_body"] is False and rest.closed


async def test_a_failure_of_the_source_or_of_a_chunk_is_one_error_event_in_place_of_done():
    for rest in (_Chunks([], RuntimeError("boom")), _Chunks([{"bad": object()}])):
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
            sent.append(message)

        await _play(KibanaEventStream({"n": 1}, rest), send)
        events = sse_data(b"".join(m.get("body", b"") for m in sent[1:]).decode())
        assert events[0] == {"n": 1}
        assert list(events[1]) == ["error"] and len(events) == 2
        assert rest.closed


async def test_a_failing_send_is_the_connections_not_reported_in_the_stream():
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection closed")
        sent.append(message)

    rest = _Chunks([{"n": 2}])
    await _play(KibanaEventStream({"n": 1}, rest), send)  # an ASGI 2.4 server's closed connection
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert rest.closed
