"""The call context's HTTP helpers and the SSE parser, against the shipped local fake server."""

from __future__ import annotations

import httpx
import pytest

from ai_connector.context import CallContext
from ai_connector.errors import (
    HostNotAllowedError,
    InvalidResponseError,
    StreamInterruptedError,
    UnreachableError,
    error_for_status,
    parse_retry_after,
)
from ai_connector.http import build_client
from ai_connector.redaction import Redactor
from ai_connector.sse import aiter_sse, iter_sse_text
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.urlpolicy import UrlPolicy


@pytest.fixture
def server():
    with FakeServer() as srv:
        yield srv


async def test_request_reads_body_and_records_what_was_sent(server: FakeServer) -> None:
    server.add("POST", "/v1/echo", FakeResponse.json({"ok": True}))
    async with build_client() as client:
        ctx = CallContext(client=client, provider_id="t")
        resp = await ctx.request("POST", server.url + "/v1/echo", json={"a": 1}, headers={"x-k": "v"})
    assert resp.status_code == 200 and resp.json() == {"ok": True}
    assert server.last.json() == {"a": 1} and server.last.headers["x-k"] == "v"


async def test_body_over_the_cap_is_refused(server: FakeServer) -> None:
    server.add("GET", "/big", FakeResponse(body=b"x" * 5000))
    server.add("GET", "/bigstream", FakeResponse(chunks=[b"x" * 3000, b"y" * 3000]))
    async with build_client() as client:
        ctx = CallContext(client=client, provider_id="t", max_response_bytes=4096)
        with pytest.raises(InvalidResponseError, match="4096"):
            await ctx.request("GET", server.url + "/big")
        with pytest.raises(InvalidResponseError, match="limit"):
            await ctx.request("GET", server.url + "/bigstream")


async def test_policy_refuses_before_sending_and_on_redirect(server: FakeServer) -> None:
    server.add("GET", "/hop", FakeResponse(status=302, headers={"location": "http://localhost:1/evil"}))
    policy = UrlPolicy(["127.0.0.1"])
    async with build_client(policy) as client:
        ctx = CallContext(client=client, provider_id="t", url_policy=policy)
        with pytest.raises(HostNotAllowedError, match="localhost"):
            await ctx.request("GET", server.url + "/hop")
        with pytest.raises(HostNotAllowedError):
            await ctx.request("GET", "http://example.com/")
    assert [r.path for r in server.requests] == ["/hop"]


async def test_unreachable_host_is_typed_and_redacted() -> None:
    async with build_client() as client:
        ctx = CallContext(client=client, provider_id="t", redactor=Redactor(["canary-secret-123"]))
        with pytest.raises(UnreachableError) as info:
            await ctx.request("GET", "http://127.0.0.1:9/x?key=canary-secret-123")
    assert "canary-secret-123" not in str(info.value)


async def test_truncated_stream_raises_stream_interrupted(server: FakeServer) -> None:
    server.add("POST", "/s", FakeResponse(chunks=["data: {}\n\n", 'data: {"a"'], abort_after=1))
    async with build_client() as client:
        ctx = CallContext(client=client, provider_id="t")
        events = []
        with pytest.raises(StreamInterruptedError):
            async with ctx.stream("POST", server.url + "/s") as resp:
                async for ev in aiter_sse(ctx.iter_bytes(resp)):
                    events.append(ev)
    assert [e.data for e in events] == ["{}"]


def test_sse_line_endings_comments_and_multiline_data() -> None:
    text = ": comment\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata:x\rid: 7\r\rdata: cut"
    events = list(iter_sse_text([text[:17], text[17:18], text[18:]]))
    assert [(e.event, e.data, e.id) for e in events] == [("a", "1\n2", None), ("message", "x", "7")]


def test_sse_split_crlf_across_chunks() -> None:
    events = list(iter_sse_text(["data: 1\r", "\n\r", "\ndata: 2\r\n\r\n"]))
    assert [e.data for e in events] == ["1", "2"]


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_error_for_status_maps_kinds() -> None:
    err = error_for_status(429, "slow down", provider="p", headers=httpx.Headers({"retry-after": "3"}))
    assert err.kind.value == "rate_limited" and err.retryable and err.retry_after == 3.0
    assert error_for_status(401, "no", provider="p").kind.value == "credentials"
    assert not error_for_status(404, "no", provider="p").retryable
    assert error_for_status(503, "down", provider="p").retryable


def test_redactor_masks_literals_and_patterns() -> None:
    r = Redactor(["s3cr3t-value"])
    out = r('key s3cr3t-value; Authorization: Bearer abcdefghijkl; "api_key": "zzzzzzzz"; sk-abcdefghijkl')
    assert "s3cr3t-value" not in out and "abcdefghijkl" not in out and "zzzzzzzz" not in out


async def test_run_test_maps_errors_to_failure_kinds() -> None:
    from ai_connector.errors import ConfigValidationError, FieldError, RateLimitError
    from ai_connector.routines import run_test

    async def limited() -> None:
        raise RateLimitError("p returned status 429: slow", status=429)

    async def misconfigured() -> None:
        raise ConfigValidationError(
            [FieldError("config.providerConfig.url", "url", "URL", "URL is required")]
        )

    async def fine() -> None:
        return None

    assert (await run_test(limited)).to_dict() | {"latency_ms": None} == {
        "status": "failed",
        "message": "p returned status 429: slow",
        "latency_ms": None,
        "failure": "rate_limited",
        "status_code": 429,
    }
    assert (await run_test(misconfigured)).failure.value == "config"
    assert (await run_test(fine)).ok


# -- CallContext builds requests exactly as the client does ---------------------------------------


class _Recorder(httpx.AsyncBaseTransport):
    """Records the requests it is handed; answers each with an empty 200 (or `answers`, in order)."""

    def __init__(self, answers: list[httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = answers or []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            return self.answers.pop(0)
        return httpx.Response(200, content=b"ok")


_BUILD_CASES = [
    ("POST", "http://h.test/v1/chat", {"json": {"a": "é", "b": [1, 2.5, None]}, "headers": {"x-k": "v"}}),
    ("POST", "http://h.test/v1/chat", {"json": {}, "headers": {"User-Agent": "mine", "content-type": "x/y"}}),
    ("POST", "https://h.test:8443/p?keep=1", {"content": b"raw"}),
    ("POST", "https://h.test/p", {"content": "text ü"}),
    ("POST", "https://h.test/p", {}),
    ("PUT", "https://h.test/p", {"headers": {"Content-Length": "0"}}),
    ("GET", "https://h.test/p?a=1", {"params": {"alt": "sse", "x": "a b"}}),
    ("GET", "http://[::1]:8080/p", {"headers": {"Host": "other", "ACCEPT": "text/event-stream"}}),
    ("DELETE", "https://h.test/p", {"timeout": 3.5}),
    ("patch", "https://h.test/p", {"content": b"", "timeout": httpx.Timeout(1.0, read=9.0)}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), _BUILD_CASES)
async def test_requests_are_built_as_the_client_builds_them(
    method: str, url: str, kwargs: dict[str, object]
) -> None:
    recorder = _Recorder()
    async with build_client(transport=recorder) as client:
        ctx = CallContext(client=client, provider_id="t", timeout=httpx.Timeout(7.0, connect=2.0))
        resp = await ctx.request(method, url, **kwargs)  # type: ignore[arg-type]
        expected = client.build_request(method, url, **{"timeout": ctx.timeout, **kwargs})  # type: ignore[arg-type]
    (sent,) = recorder.requests
    assert resp.request is sent and resp.content == b"ok"
    assert (sent.method, str(sent.url), sent.headers.raw) == (
        expected.method,
        str(expected.url),
        expected.headers.raw,
    )
    assert sent.content == expected.read() and sent.extensions == expected.extensions


async def test_clients_with_hooks_auth_or_no_policy_still_work(server: FakeServer) -> None:
    server.add("GET", "/who", FakeResponse.json({"ok": True}))
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with build_client() as client:
        client.event_hooks = {"request": [hook], "response": []}
        ctx = CallContext(client=client, provider_id="t")
        assert (await ctx.request("GET", server.url + "/who")).json() == {"ok": True}
        user = server.url.replace("http://", "http://u:p@")
        await ctx.request("GET", user + "/who")
    assert seen == ["/who", "/who"]
    assert server.last.headers["authorization"].startswith("Basic ")
    async with httpx.AsyncClient() as plain:
        ctx = CallContext(client=plain, provider_id="t")
        async with ctx.stream("GET", server.url + "/who") as resp:
            assert b"".join([c async for c in ctx.iter_bytes(resp)]) == b'{"ok": true}'


@pytest.mark.parametrize("seed", range(20))
async def test_sse_events_do_not_depend_on_how_the_bytes_are_split(seed: int) -> None:
    import random

    rng = random.Random(seed)
    lines = [
        ": note",
        "event: delta",
        'data: {"a": 1}',
        "data:second line",
        "",
        "id: 7",
        "retry: 150",
        "data: é ü 漢",
        "",
        "",
        "data",
        "data:  two spaces",
        "",
        "event: only an event",
        "",
        "data: cut off at the end",
    ]
    text = ""
    for line in lines:  # mixed line ends; a blank line after a CR must not start with LF (CRLF)
        ends = ["\r", "\r\n"] if text.endswith("\r") and not line else ["\n", "\r\n", "\r"]
        text += line + rng.choice(ends)
    whole = list(iter_sse_text(text))
    data = text.encode()
    cuts = sorted(rng.sample(range(1, len(data)), 12))
    parts = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]

    async def chunks():  # an async iterable of the parts
        for part in parts:
            yield part

    split = [event async for event in aiter_sse(chunks())]
    assert split == whole
    assert [(e.event, e.data, e.id, e.retry) for e in whole] == [
        ("delta", '{"a": 1}\nsecond line', None, None),
        ("message", "é ü 漢", "7", 150),
        ("message", "\n two spaces", "7", None),
        ("message", "cut off at the end", "7", None),  # its line whole, its blank line missing: kept
    ]
