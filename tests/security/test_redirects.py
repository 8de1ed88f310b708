"""The host's redirect policy, a property of the shared client's transport (issue 12): a model call
never follows a redirect to another origin, never one that would turn it into a GET without its
body, never a loop or more than five hops; the allowed-hosts check applies on every hop; and none of
it can be forgotten by a plugin, whether it uses `CallContext` or `ctx.client` directly. Each rule is
checked on both ways out of the context: httpx's API (`ctx.request`/`ctx.stream`) and the helpers
(`ctx.send_json`/`ctx.open_sse`), which take the host's short path on the aiohttp transport.

A second fake server stands for the other origin and records everything it is sent: every test
asserts it was sent nothing, so no credential header (Authorization, x-api-key, api-key,
x-goog-api-key, a connector's custom header) and no prompt can reach it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ai_connector.context import CallContext
from ai_connector.errors import HostNotAllowedError, RedirectError
from ai_connector.http import build_client
from ai_connector.manager import default_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import TaskType
from ai_connector.urlpolicy import UrlPolicy
from ai_connector.validation import validate_connector

CANARY = "canary-redirect-7f3a9c"
CREDENTIALS = {
    "Authorization": f"Bearer {CANARY}",
    "x-api-key": CANARY,
    "api-key": CANARY,
    "x-goog-api-key": CANARY,
    "x-custom-secret": CANARY,  # a connector's own `headers` entry
}
STATUSES = (301, 302, 303, 307, 308)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
TRANSPORTS = ("aiohttp", "httpx")
WAYS = ("httpx-api", "helpers")
BODY = {"messages": [{"role": "user", "content": "the prompt"}]}


@pytest.fixture(scope="module")
def first() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def second() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def servers(first: FakeServer, second: FakeServer) -> tuple[FakeServer, FakeServer]:
    for srv in (first, second):
        srv.reset()
        srv.add("*", "/.*", FakeResponse.json({"ok": True}))
    return first, second


def other_origin(server: FakeServer) -> str:
    """The second server under another allowed host name (`localhost`, not `127.0.0.1`)."""
    return server.url.replace("127.0.0.1", "localhost")


def redirect(status: int, location: str) -> FakeResponse:
    return FakeResponse(status=status, headers={"location": location}, body=b"moved")


def context(client: httpx.AsyncClient, policy: UrlPolicy) -> CallContext:
    return CallContext(client=client, provider_id="t", url_policy=policy)


ALLOWED = UrlPolicy(["127.0.0.1", "localhost"])


async def send(
    ctx: CallContext, way: str, method: str, url: str, body: bytes | None = None, headers: Any = None
) -> None:
    """One call that must succeed, through `way`: httpx's API, or the helpers (the short path)."""
    if way == "httpx-api":
        assert (await ctx.request(method, url, content=body, headers=headers)).status_code == 200
    elif method == "HEAD":  # no JSON to parse: the event-stream helper reads the head alone
        async with ctx.open_sse(method, url, headers=headers):
            pass
    else:
        assert await ctx.send_json(method, url, content=body, headers=headers) == {"ok": True}


def assert_clean(error: BaseException) -> None:
    """The error names no credential and no query string of the refused target."""
    text = f"{error} {error!r} {getattr(error, 'provider_message', '')}"
    assert CANARY not in text and "token=" not in text


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", STATUSES)
async def test_every_status_and_method_same_and_cross_origin(
    servers: tuple[FakeServer, FakeServer], status: int, method: str, transport: str, way: str
) -> None:
    a, b = servers
    body = None if method in ("GET", "HEAD") else b'{"prompt": "x"}'
    a.add(method, "/same", redirect(status, "/landed"))
    a.add(method, "/cross", redirect(status, other_origin(b) + f"/steal?token={CANARY}"))
    async with build_client(ALLOWED, transport=transport) as client:
        ctx = context(client, ALLOWED)
        # same origin: followed only when the method and body survive the hop
        keeps = status in (307, 308) or method in ("GET", "HEAD")
        if keeps:
            await send(ctx, way, method, a.url + "/same", body, CREDENTIALS)
            assert [(r.method, r.path) for r in a.requests] == [(method, "/same"), (method, "/landed")]
            assert a.last.body == (body or b"")
        else:
            with pytest.raises(RedirectError) as refused:
                await send(ctx, way, method, a.url + "/same", body, CREDENTIALS)
            assert refused.value.code == "method_changing_redirect" and not refused.value.retryable
            assert f"{status} redirect of a {method}" in str(refused.value)
            assert [r.path for r in a.requests] == ["/same"]
        # another origin (both hosts allowed): never followed, nothing sent there
        with pytest.raises(RedirectError) as refused:
            await send(ctx, way, method, a.url + "/cross", body, CREDENTIALS)
    error = refused.value
    assert error.code == "cross_origin_redirect" and not error.retryable and error.status == status
    assert other_origin(b) in str(error) and "/steal" not in str(error)
    assert_clean(error)
    assert b.requests == []


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_credentials_never_reach_another_origin_even_between_allowed_hosts(
    servers: tuple[FakeServer, FakeServer], transport: str, way: str
) -> None:
    a, b = servers
    targets = {
        "/port": b.url + "/p",  # another port
        "/host": other_origin(b) + "/h",  # another allowed host
        "/scheme": a.url.replace("http://", "https://") + "/s",  # same host, https
        "/userinfo": other_origin(b).replace("http://", f"http://u:{CANARY}@") + "/u",
    }
    for path, target in targets.items():
        a.add("POST", path, redirect(307, target))
    async with build_client(ALLOWED, transport=transport) as client:
        ctx = context(client, ALLOWED)
        for path in targets:
            opened = ctx.stream if way == "httpx-api" else ctx.open_sse
            with pytest.raises(RedirectError, match="another origin") as refused:
                async with opened("POST", a.url + path, json=BODY, headers=CREDENTIALS):
                    pass
            assert_clean(refused.value)
    assert b.requests == []  # no header, no prompt: nothing at all reached the other origin
    assert [r.headers["x-api-key"] for r in a.requests] == [CANARY] * 4  # the first hop had them


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_plugin_using_the_client_directly_cannot_follow_one(
    servers: tuple[FakeServer, FakeServer], transport: str
) -> None:
    a, b = servers
    a.add("POST", "/v1/chat", redirect(302, other_origin(b) + "/v1/chat"))
    a.add("POST", "/v1/moved", redirect(308, b.url + "/v1/moved"))
    async with build_client(ALLOWED, transport=transport, follow_redirects=False) as client:
        request = client.build_request("POST", a.url + "/v1/chat", json=BODY, headers=CREDENTIALS)
        with pytest.raises(RedirectError, match="another origin"):
            await client.send(request, follow_redirects=True)
        with pytest.raises(RedirectError, match="another origin"):
            await client.post(a.url + "/v1/moved", json=BODY, headers=CREDENTIALS, follow_redirects=True)
        with pytest.raises(RedirectError):  # not following it itself does not hand it the Location
            await client.post(a.url + "/v1/moved", json=BODY, headers=CREDENTIALS)
    assert b.requests == []


@pytest.mark.parametrize("way", WAYS)
async def test_a_refused_host_on_a_hop_is_checked_before_the_origin(
    servers: tuple[FakeServer, FakeServer], way: str
) -> None:
    a, b = servers
    only_first = UrlPolicy(["127.0.0.1"])
    a.add("GET", "/hop", redirect(307, other_origin(b) + f"/x?token={CANARY}"))
    async with build_client(only_first) as client:
        with pytest.raises(HostNotAllowedError, match="localhost") as refused:
            await send(context(client, only_first), way, "GET", a.url + "/hop")
    assert_clean(refused.value)
    assert b.requests == []


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_loops_and_long_chains_are_typed(
    servers: tuple[FakeServer, FakeServer], transport: str, way: str
) -> None:
    a, _ = servers
    a.add("GET", "/loop-a", redirect(307, "/loop-b"))
    a.add("GET", "/loop-b", redirect(307, "/loop-a"))
    a.add("GET", r"/chain(\d+)", lambda r: redirect(302, f"/chain{int(r.path[6:]) + 1}"))
    async with build_client(ALLOWED, transport=transport) as client:
        ctx = context(client, ALLOWED)
        with pytest.raises(RedirectError) as loop:
            await send(ctx, way, "GET", a.url + "/loop-a")
        assert loop.value.code == "redirect_loop" and not loop.value.retryable
        assert [r.path for r in a.requests] == ["/loop-a", "/loop-b"]
        a.requests.clear()
        with pytest.raises(RedirectError) as chain:
            await send(ctx, way, "GET", a.url + "/chain0")
        assert chain.value.code == "too_many_redirects" and not chain.value.retryable
        assert len(a.requests) == 6  # the call and five hops
        a.requests.clear()
        # the same request object sent again starts afresh (no false loop)
        a.add("GET", "/twice", redirect(307, "/done"))
        request = client.build_request("GET", a.url + "/twice")
        for _ in range(2):
            assert (await client.send(request)).json() == {"ok": True}
        assert [r.path for r in a.requests] == ["/twice", "/done"] * 2


# -- every built-in provider's own calls obey it, through the Runtime, with no retry --------------

PROVIDERS = (
    "openai",
    "azureopenai",
    "amazonbedrock",
    "googlevertexai",
    "googleaistudio",
    "elastic",
    "anthropic",
)


def provider_connector(provider_id: str, base_url: str) -> Any:
    import importlib

    registry = default_registry()
    provider = registry.get(provider_id)
    task = (
        TaskType.CHAT_COMPLETION if TaskType.CHAT_COMPLETION in provider.task_types else TaskType.COMPLETION
    )
    testing = importlib.import_module(f"ai_connector_{provider_id}.testing")
    config, secrets = testing.connector(base_url, task.value, secret=CANARY)
    doc = {
        "name": "redirected",
        "connector_type_id": ".inference",
        "config": {
            "provider": provider_id,
            "taskType": task.value,
            "inferenceId": f"{provider_id}-redirected",
            "providerConfig": config,
        },
        "secrets": {"providerSecrets": secrets},
    }
    return registry, validate_connector(doc, registry, connector_id=f"{provider_id}-1"), task


@pytest.mark.parametrize("provider_id", PROVIDERS)
async def test_each_built_in_provider_obeys_it(
    servers: tuple[FakeServer, FakeServer], provider_id: str
) -> None:
    a, b = servers
    a.add("*", "/.*", lambda r: redirect(307, other_origin(b) + r.path))
    registry, connector, task = provider_connector(provider_id, a.url)
    settings = RuntimeSettings(allowed_hosts=("127.0.0.1", "localhost"), timeout=20.0)
    async with Runtime(registry, settings) as runtime:
        result = await runtime.test(connector)
        assert not result.ok and "another origin" in result.message and CANARY not in result.message
        first_calls = len(a.requests)
        sub_action = "unified_completion" if task is TaskType.CHAT_COMPLETION else "completion"
        params = {"body": BODY} if task is TaskType.CHAT_COMPLETION else {"input": "the prompt"}
        with pytest.raises(RedirectError) as refused:
            await runtime.execute(connector, sub_action, params)
    assert_clean(refused.value)
    assert len(a.requests) == 2 * first_calls == 2  # one request each: a redirect is never retried
    assert b.requests == []


async def test_a_loop_is_not_retried_as_a_fresh_attempt(servers: tuple[FakeServer, FakeServer]) -> None:
    a, _ = servers
    a.add("POST", "/v1/chat/completions", redirect(307, "/v1/elsewhere"))
    a.add("POST", "/v1/elsewhere", redirect(307, "/v1/chat/completions"))
    registry, connector, _ = provider_connector("openai", a.url)
    async with Runtime(registry, RuntimeSettings(max_attempts=3, timeout=20.0)) as runtime:
        with pytest.raises(RedirectError) as refused:
            await runtime.execute(connector, "unified_completion", {"body": BODY})
    assert refused.value.code == "redirect_loop"
    assert [r.path for r in a.requests] == ["/v1/chat/completions", "/v1/elsewhere"]  # one attempt
