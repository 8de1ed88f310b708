"""The context's helpers (`ctx.send_json`, `ctx.open_sse`) take the host's short path on the aiohttp
transport: no httpx Request or Response is built, the same bytes go on the wire as through httpx's API,
and every host rule holds as it does there (caps, typed and redacted errors, decoding, closing).
On the httpx transport, or with an event hook set, they go through httpx's API instead."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx
import pytest

from ai_connector.context import CallContext
from ai_connector.errors import (
    AuthenticationError,
    InvalidResponseError,
    ProviderTimeoutError,
    ResponseTooLargeError,
    StreamInterruptedError,
    UnreachableError,
)
from ai_connector.http import build_client
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer

SECRET = "sk-short-path-canary-7e21"


def context(client: httpx.AsyncClient, **kwargs: Any) -> CallContext:
    return CallContext(client=client, provider_id="t", redactor=Redactor([SECRET]), **kwargs)


def refuse_httpx_objects(client: httpx.AsyncClient) -> None:
    """Make building or sending an httpx request through the client fail the test."""

    def refuse(*_args: object, **_kwargs: object) -> Any:
        raise AssertionError("an httpx request was built on the short path")

    client.build_request = refuse  # type: ignore[method-assign]
    client.send = refuse  # type: ignore[method-assign]


async def test_the_helpers_build_no_httpx_objects_on_the_aiohttp_transport(server: FakeServer) -> None:
    server.add("POST", "/json", FakeResponse.json({"ok": True}))
    server.add(
        "POST",
        "/sse",
        FakeResponse(chunks=[b"data: 1\n\n", b"data: 2\n\n"], content_type="text/event-stream"),
    )
    async with build_client(transport="aiohttp") as client:
        assert client.short_path() is not None  # type: ignore[attr-defined]
        refuse_httpx_objects(client)
        ctx = context(client)
        assert await ctx.send_json("POST", server.url + "/json", json={"q": 1}) == {"ok": True}
        async with ctx.open_sse("POST", server.url + "/sse", json={"q": 2}) as events:
            assert [e.data async for e in events] == ["1", "2"]


async def test_httpx_transport_hooks_and_url_credentials_go_through_httpx(server: FakeServer) -> None:
    server.add("GET", "/who", FakeResponse.json({"ok": True}))
    async with build_client(transport="httpx") as client:
        assert client.short_path() is None  # type: ignore[attr-defined]
        assert await context(client).send_json("GET", server.url + "/who") == {"ok": True}
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with build_client(transport="aiohttp") as client:
        client.event_hooks = {"request": [hook], "response": []}
        assert client.short_path() is None  # type: ignore[attr-defined]
        assert await context(client).send_json("GET", server.url + "/who") == {"ok": True}
        client.event_hooks = {"request": [], "response": []}
        user = server.url.replace("http://", "http://u:p@")
        assert await context(client).send_json("GET", user + "/who") == {"ok": True}
    assert seen == ["/who"]
    assert server.last.headers["authorization"].startswith("Basic ")  # as httpx sends URL credentials


CALLS = [
    ("POST", "/v1/chat", {"json": {"a": "é", "b": [1, 2.5, None]}, "headers": {"x-k": "v"}}),
    ("POST", "/v1/chat", {"json": {}, "headers": {"User-Agent": "mine", "content-type": "x/y"}}),
    ("POST", "/p?keep=1", {"content": b"raw", "headers": {"Authorization": "Bearer k"}}),
    ("POST", "/p", {}),
    ("GET", "/p?a=1", {"params": {"alt": "sse", "x": "a b"}, "headers": {"ACCEPT": "text/event-stream"}}),
    ("PUT", "/p/%3A/x", {"json": [1]}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), CALLS)
async def test_the_short_path_sends_what_httpx_sends(
    server: FakeServer, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    server.add("*", "/.*", FakeResponse.json({"ok": True}))
    async with build_client(transport="aiohttp") as client:
        ctx = context(client)
        assert (await ctx.request(method, server.url + path, **kwargs)).status_code == 200
        assert await ctx.send_json(method, server.url + path, **kwargs) == {"ok": True}
    via_httpx, short = server.requests
    assert (short.method, short.raw_path or short.path, short.query_string, short.body) == (
        via_httpx.method,
        via_httpx.raw_path or via_httpx.path,
        via_httpx.query_string,
        via_httpx.body,
    )
    assert dict(short.headers) == dict(via_httpx.headers)


# -- every host rule, on both transports (aiohttp: the short path; httpx: httpx's API) ---------------


async def test_a_gzip_body_is_decoded(server: FakeServer, transport: str) -> None:
    server.add(
        "POST", "/gz", FakeResponse(body=gzip.compress(b'{"z": 1}'), headers={"content-encoding": "gzip"})
    )
    async with build_client(transport=transport) as client:
        assert await context(client).send_json("POST", server.url + "/gz", json={}) == {"z": 1}


async def test_caps_hold_whole_bodies_and_event_lines(server: FakeServer, transport: str) -> None:
    server.add("POST", "/big", FakeResponse(body=b'"' + b"x" * 5000 + b'"'))
    server.add("POST", "/chunked", FakeResponse(chunks=[b'"' + b"x" * 3000, b"x" * 3000 + b'"']))
    line = [b"data: " + b"y" * 3000, b"y" * 3000, b"\n\n"]
    server.add("POST", "/line", FakeResponse(chunks=line, chunk_delay=0.05, content_type="text/event-stream"))
    async with build_client(transport=transport) as client:
        ctx = context(client, max_response_bytes=4096, max_sse_line_bytes=4096)
        for path in ("/big", "/chunked"):
            with pytest.raises(ResponseTooLargeError, match="max_response_bytes"):
                await ctx.send_json("POST", server.url + path, json={})
        with pytest.raises(ResponseTooLargeError, match="max_sse_line_bytes"):
            async with ctx.open_sse("POST", server.url + "/line", json={}) as events:
                async for _ in events:
                    pass


async def test_errors_are_typed_and_redacted(server: FakeServer, transport: str) -> None:
    body = {"error": {"message": f"bad key {SECRET}"}}
    server.add("POST", "/401", FakeResponse.json(body, status=401))
    server.add("POST", "/text", FakeResponse(body=b"not json"))
    async with build_client(transport=transport) as client:
        ctx = context(client)
        for enter in (
            lambda: ctx.send_json("POST", server.url + "/401", json={}),
            lambda: ctx.open_sse("POST", server.url + "/401", json={}).__aenter__(),
        ):
            with pytest.raises(AuthenticationError) as refused:
                await enter()
            assert refused.value.status == 401 and SECRET not in f"{refused.value} {refused.value!r}"
        with pytest.raises(InvalidResponseError, match="not JSON"):
            await ctx.send_json("POST", server.url + "/text", json={})
        with pytest.raises(UnreachableError):
            await ctx.send_json("POST", f"http://127.0.0.1:9/{SECRET}", json={})


async def test_faults_are_typed(server: FakeServer, transport: str) -> None:
    async def slow(_req: object) -> FakeResponse:
        await asyncio.sleep(1.0)
        return FakeResponse.json({})

    server.add("POST", "/slow", slow)
    server.add("POST", "/cut", FakeResponse(chunks=[b"data: 1\n\n", b"data: 2\n\n"], abort_after=1))
    server.add("POST", "/stall", FakeResponse(chunks=[b"data: 1\n\n", b"data: 2\n\n"], chunk_delay=2.0))
    async with build_client(transport=transport) as client:
        ctx = context(client, timeout=httpx.Timeout(5.0, read=0.2))
        with pytest.raises(ProviderTimeoutError):
            await ctx.send_json("POST", server.url + "/slow", json={})
        for path, phrase in (("/cut", "broke off"), ("/stall", "ReadTimeout")):
            with pytest.raises(StreamInterruptedError, match=phrase):
                async with ctx.open_sse("POST", server.url + path, json={}) as events:
                    async for _ in events:
                        pass


async def test_leaving_a_stream_early_closes_the_upstream_request(server: FakeServer, transport: str) -> None:
    events = [b"data: %d\n\n" % i for i in range(400)]
    server.add(
        "POST", "/endless", FakeResponse(chunks=events, chunk_delay=0.05, content_type="text/event-stream")
    )
    async with build_client(transport=transport) as client:
        async with context(client).open_sse("POST", server.url + "/endless", json={}) as stream:
            assert (await anext(stream)).data == "0"
        assert await asyncio.to_thread(server.disconnected.wait, 10)
