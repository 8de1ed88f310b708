"""Both transports behave like httpx's own: decoding, redirects (each hop policy-checked), URLs sent
as given, headers, no cookies kept, and failures typed as httpx's exceptions."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest

from ai_connector.context import CallContext
from ai_connector.errors import (
    HostNotAllowedError,
    ProviderTimeoutError,
    StreamInterruptedError,
    UnreachableError,
)
from ai_connector.http import build_client
from ai_connector.runtime.transport import TRANSPORT_ENV, AiohttpTransport, make_transport, resolve
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.urlpolicy import UrlPolicy


async def test_a_gzip_body_is_decoded_once(server: FakeServer, transport: str) -> None:
    body = b'{"hello": "world"}'
    server.add("GET", "/gz", FakeResponse(body=gzip.compress(body), headers={"content-encoding": "gzip"}))
    async with build_client(transport=transport) as client:
        resp = await client.get(server.url + "/gz")
    assert resp.content == body
    assert "gzip" in server.last.headers["accept-encoding"]


async def test_redirects_are_followed_by_httpx_and_each_hop_is_checked(
    server: FakeServer, transport: str
) -> None:
    server.add("GET", "/old", FakeResponse(status=301, headers={"location": "/new"}))
    server.add("GET", "/new", FakeResponse.json({"moved": True}))
    server.add("GET", "/evil", FakeResponse(status=302, headers={"location": "http://localhost:1/steal"}))
    policy = UrlPolicy(["127.0.0.1"])
    async with build_client(policy, transport=transport) as client:
        resp = await client.get(server.url + "/old")
        assert resp.json() == {"moved": True} and len(resp.history) == 1
        with pytest.raises(HostNotAllowedError, match="localhost"):
            await client.get(server.url + "/evil")
    assert [r.path for r in server.requests] == ["/old", "/new", "/evil"]


async def test_the_url_and_headers_are_sent_as_given(server: FakeServer, transport: str) -> None:
    server.add("POST", "/q", FakeResponse.json({}))
    async with build_client(transport=transport) as client:
        await client.post(server.url + "/q?a=%2F%20b&c=d", content=b"raw", headers={"X-Custom": "Yes"})
        await client.post(server.url + "/q")
    first, second = server.requests
    assert first.query_string == "a=%2F%20b&c=d"
    assert first.headers["x-custom"] == "Yes" and first.body == b"raw"
    assert "content-type" not in first.headers  # no made-up octet-stream label
    assert second.body == b"" and "content-type" not in second.headers


async def test_no_cookie_is_kept_between_requests(server: FakeServer, transport: str) -> None:
    server.add(
        "GET",
        "/login",
        FakeResponse(body=b"ok", headers=[("set-cookie", "a=1; Path=/"), ("set-cookie", "b=2")]),
    )
    server.add("GET", "/next", FakeResponse(body=b"ok"))
    async with build_client(transport=transport) as client:
        resp = await client.get(server.url + "/login")
        assert resp.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]
        await client.get(server.url + "/next")
    assert "cookie" not in server.last.headers


async def test_connection_refused_is_a_connect_error(transport: str) -> None:
    async with build_client(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:9/")
        ctx = CallContext(client=client, provider_id="t")
        with pytest.raises(UnreachableError):
            await ctx.request("GET", "http://127.0.0.1:9/")


async def test_a_cut_body_and_a_stalled_body_are_typed(server: FakeServer, transport: str) -> None:
    server.add("GET", "/cut", FakeResponse(chunks=[b"a" * 10, b"b" * 10], abort_after=1))
    server.add("GET", "/stall", FakeResponse(chunks=[b"a", b"b"], chunk_delay=2.0))
    async with build_client(transport=transport) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url + "/cut")
        ctx = CallContext(client=client, provider_id="t", timeout=httpx.Timeout(5.0, read=0.2))
        with pytest.raises(StreamInterruptedError, match="ReadTimeout"):
            async with ctx.stream("GET", server.url + "/stall") as resp:
                async for _ in ctx.iter_bytes(resp):
                    pass


async def test_slow_headers_are_a_read_timeout(server: FakeServer, transport: str) -> None:
    async def slow(_req: object) -> FakeResponse:
        await asyncio.sleep(1.0)
        return FakeResponse(body=b"late")

    server.add("GET", "/slow", slow)
    async with build_client(transport=transport) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url + "/slow", timeout=httpx.Timeout(5.0, read=0.2))
        ctx = CallContext(client=client, provider_id="t", timeout=httpx.Timeout(5.0, read=0.2))
        with pytest.raises(ProviderTimeoutError):
            await ctx.request("GET", server.url + "/slow")


def test_the_aiohttp_transport_survives_a_change_of_event_loop(server: FakeServer) -> None:
    server.add("GET", "/x", FakeResponse(body=b"ok"))
    client = build_client(transport="aiohttp")

    async def get() -> bytes:
        return (await client.get(server.url + "/x")).content

    assert asyncio.run(get()) == b"ok"
    assert asyncio.run(get()) == b"ok"  # a new loop: a new session, not a dead one
    asyncio.run(client.aclose())


def test_auto_means_the_default_unless_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TRANSPORT_ENV, raising=False)
    assert resolve("auto") == "aiohttp" and resolve(None) == "aiohttp"
    assert isinstance(make_transport("auto"), AiohttpTransport)
    assert isinstance(make_transport("httpx"), httpx.AsyncHTTPTransport)
    monkeypatch.setenv(TRANSPORT_ENV, "httpx")
    assert resolve("auto") == "httpx" and resolve("aiohttp") == "aiohttp"
    with pytest.raises(ValueError, match="unknown transport"):
        resolve("curl")
