"""Save & test, lifecycle hooks, the call context, and the runtime's promise that no error leaving
it carries a secret (the connector's or the host's), whatever the provider or its plugin did."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from runtime_fakes import API_KEY, HOOK_CALLS, FakeClock, hello_params, hello_stream, make_connector

from ai_connector.errors import AuthenticationError, HostNotAllowedError, ProviderError, RateLimitError
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.types import FailureKind

HOST_SECRET = "host-level-secret-4242"


async def test_save_and_test_succeeds_with_kibanas_default_input(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("Hi!"))
    result = await runtime.test(make_connector(registry, server.url))
    assert result.ok and result.failure is None and result.latency_ms is not None
    assert server.last.json()["messages"] == [{"role": "user", "content": "Hello world"}]


async def test_a_refused_key_fails_the_test_as_credentials_without_the_key(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST",
        "/chat",
        FakeResponse.json({"error": {"message": f"Incorrect API key provided: {API_KEY}"}}, 401),
    )
    result = await runtime.test(make_connector(registry, server.url))
    assert not result.ok and result.failure is FailureKind.CREDENTIALS and result.status_code == 401
    assert "Incorrect API key provided" in result.message and API_KEY not in result.message
    assert len(server.requests) == 1


async def test_a_hanging_provider_fails_the_test_at_the_timeout(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    async def hang(_req: RecordedRequest) -> FakeResponse:
        await asyncio.sleep(2)
        return FakeResponse.json({})

    server.add("POST", "/chat", hang)
    result = await runtime.test(make_connector(registry, server.url), timeout=0.3)
    assert not result.ok and result.failure is FailureKind.TIMEOUT
    assert result.message == "fakellm: no answer within 0.3 seconds"  # the same words as a run's


async def test_a_blocked_host_fails_the_test_and_the_call(
    registry: ProviderRegistry, server: FakeServer
) -> None:
    settings = RuntimeSettings(allowed_hosts=("api.example.com",), transport="httpx")
    async with Runtime(registry, settings) as rt:
        connector = make_connector(registry, server.url + f"/v1?key={API_KEY}", "completion")
        result = await rt.test(connector)
        assert not result.ok and result.failure is FailureKind.HOST_NOT_ALLOWED
        with pytest.raises(HostNotAllowedError) as info:
            await rt.execute(connector, "completion", {"input": "x"})
    assert API_KEY not in str(info.value) and API_KEY not in result.message
    assert server.requests == []


async def test_a_plugin_bug_becomes_a_provider_error_without_the_key(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    connector = make_connector(registry, server.url, "completion")
    with pytest.raises(ProviderError) as info:
        await runtime.execute(connector, "completion", {"input": "crash"})
    assert "failed unexpectedly (KeyError" in str(info.value)
    assert API_KEY not in str(info.value) and info.value.__cause__ is None and info.value.__context__ is None


async def test_host_secrets_are_redacted_too(
    registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add(
        "POST", "/completion", FakeResponse.json({"error": {"message": f"bad token {HOST_SECRET}"}}, 403)
    )
    settings = RuntimeSettings(provider_settings={"fakellm": {"url": "http://es", "api_key": HOST_SECRET}})
    async with Runtime(registry, settings, clock=clock, sleep=clock.sleep) as rt:
        connector = make_connector(registry, server.url, "completion")
        assert rt.context(connector).host_settings["url"] == "http://es"
        with pytest.raises(AuthenticationError) as info:
            await rt.execute(connector, "completion", {"input": "x"})
    assert "bad token" in str(info.value) and HOST_SECRET not in str(info.value)
    assert HOST_SECRET not in (info.value.provider_message or "")


async def test_the_call_context_carries_the_hosts_rules(runtime: Runtime, registry: ProviderRegistry) -> None:
    connector = make_connector(registry, "http://127.0.0.1:1")
    ctx = runtime.context(connector, timeout=7)
    assert ctx.client is runtime.client and ctx.url_policy is runtime.url_policy
    assert ctx.timeout == httpx.Timeout(7, connect=7) and ctx.max_response_bytes == 1_048_576
    assert ctx.redact(f"key={API_KEY}") == "key=[REDACTED]" and ctx.redact(API_KEY) == "[REDACTED]"
    assert runtime.context(connector).timeout == httpx.Timeout(10, connect=10)


async def test_hooks_run_with_is_update_and_absent_hooks_are_no_ops(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/hook", FakeResponse.json({}))
    HOOK_CALLS.clear()
    connector = make_connector(registry, server.url)
    await runtime.run_hook(connector, "on_save", is_update=False)
    await runtime.run_hook(connector, "on_delete")
    assert HOOK_CALLS == [("on_save", False), ("on_delete", "fakellm-chat_completion-test")]
    assert server.last.json() == {"hook": "on_save", "is_update": False}
    await runtime.run_hook(
        make_connector(registry, server.url, "text_embedding", provider="fakeembed"), "on_save"
    )
    with pytest.raises(ValueError, match="unknown hook"):
        await runtime.run_hook(connector, "on_update")


async def test_a_failing_save_hook_raises_redacted(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add(
        "POST", "/hook", FakeResponse.json({"error": {"message": f"endpoint exists; key {API_KEY}"}}, 400)
    )
    with pytest.raises(ProviderError, match="endpoint exists") as info:
        await runtime.run_hook(make_connector(registry, server.url), "on_save")
    assert API_KEY not in str(info.value)


async def test_an_explicit_rate_limit_error_from_the_queue_is_typed(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("a"))
    connector = make_connector(registry, server.url, rpm=1)
    await runtime.execute(connector, "unified_completion", hello_params())
    with pytest.raises(RateLimitError) as info:
        async for _ in runtime.stream(connector, hello_params(), timeout=1):
            pass
    assert info.value.kind is FailureKind.RATE_LIMITED and info.value.retry_after == pytest.approx(60.0)
