"""Cancelling the caller's task, closing a stream early, or running out of time closes the upstream
request promptly: the fake server sees the connection closed, whichever way the plugin streams
(httpx's API or the context's helper, the short path on the aiohttp transport)."""

from __future__ import annotations

import asyncio

import pytest
from runtime_fakes import endless_stream, hello_params, make_connector

from ai_connector.errors import ProviderTimeoutError
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import Runtime
from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest


async def server_saw_disconnect(server: FakeServer) -> bool:
    return await asyncio.to_thread(server.disconnected.wait, 10)


async def until(predicate, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(limit / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


async def test_cancelling_the_callers_task_closes_the_upstream_request(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, way: str
) -> None:
    server.add("POST", "/chat", endless_stream())
    task = asyncio.create_task(
        runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    )
    await until(lambda: server.requests)
    await asyncio.sleep(0.1)  # a few chunks are on their way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await server_saw_disconnect(server)


async def test_closing_a_stream_early_closes_the_upstream_request(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, way: str
) -> None:
    server.add("POST", "/chat", endless_stream())
    stream = runtime.stream(make_connector(registry, server.url), hello_params())
    first = await anext(stream)
    assert first["choices"][0]["delta"]["role"] == "assistant"
    await anext(stream)
    await stream.aclose()
    assert await server_saw_disconnect(server)
    assert server.disconnects == 1


async def test_cancelling_a_task_that_consumes_a_stream_closes_it(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, way: str
) -> None:
    server.add("POST", "/chat", endless_stream())
    got: list[dict] = []

    async def consume() -> None:
        async for c in runtime.stream(make_connector(registry, server.url), hello_params()):
            got.append(c)

    task = asyncio.create_task(consume())
    await until(lambda: len(got) >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await server_saw_disconnect(server)


async def test_a_trickling_body_ends_at_the_total_deadline(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, way: str
) -> None:
    server.add("POST", "/chat", endless_stream(delay=0.05))
    with pytest.raises(ProviderTimeoutError, match=r"no answer within 0\.5 seconds"):
        await runtime.execute(
            make_connector(registry, server.url), "unified_completion", hello_params(), timeout=0.5
        )
    assert await server_saw_disconnect(server)


async def test_slow_headers_time_out(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, way: str
) -> None:
    async def slow(_req: RecordedRequest) -> FakeResponse:
        await asyncio.sleep(1.0)
        return FakeResponse.json({"completion": [{"result": "late"}]})

    server.add("POST", "/completion", slow)
    connector = make_connector(registry, server.url, "completion")
    with pytest.raises(ProviderTimeoutError):
        await runtime.execute(connector, "completion", {"input": "x"}, timeout=0.3)
    assert len(server.requests) == 1  # a timeout that used the whole budget is not retried
