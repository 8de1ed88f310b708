"""SyncRuntime: the same calls, blocking, for host applications that are not async."""

from __future__ import annotations

import pytest
from runtime_fakes import HOOK_CALLS, endless_stream, hello_params, hello_stream, make_connector

from ai_connector.errors import AuthenticationError, ConfigValidationError
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import RuntimeSettings, SyncRuntime
from ai_connector.testing import FakeResponse, FakeServer


@pytest.fixture
def sync_runtime(registry: ProviderRegistry, transport: str):  # type: ignore[no-untyped-def]
    with SyncRuntime(registry, RuntimeSettings(transport=transport, timeout=10)) as rt:
        yield rt


def test_execute_stream_and_test_block_and_answer(
    sync_runtime: SyncRuntime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("Hello", " world"))
    connector = make_connector(registry, server.url)
    answer = sync_runtime.execute(connector, "unified_completion", hello_params())
    assert answer["choices"][0]["message"]["content"] == "Hello world"
    chunks = list(sync_runtime.stream(connector, hello_params()))
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello world"
    )
    stream = sync_runtime.execute(connector, "unified_completion_stream", hello_params())
    assert len(list(stream)) == len(chunks)
    result = sync_runtime.test(connector)
    assert result.ok and result.latency_ms is not None


def test_errors_are_raised_in_the_calling_thread(
    sync_runtime: SyncRuntime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/completion", FakeResponse.json({"error": {"message": "bad key"}}, 401))
    connector = make_connector(registry, server.url, "completion")
    with pytest.raises(AuthenticationError, match="bad key"):
        sync_runtime.execute(connector, "completion", {"input": "x"})
    with pytest.raises(ConfigValidationError):
        sync_runtime.execute(connector, "completion", {"input": ""})


def test_leaving_a_stream_early_closes_the_upstream_request(
    sync_runtime: SyncRuntime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", endless_stream())
    stream = sync_runtime.stream(make_connector(registry, server.url), hello_params())
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    assert server.disconnected.wait(10)


def test_hooks_run_and_close_is_idempotent(registry: ProviderRegistry, server: FakeServer) -> None:
    server.add("POST", "/hook", FakeResponse.json({}))
    connector = make_connector(registry, server.url)
    rt = SyncRuntime(registry)
    HOOK_CALLS.clear()
    rt.run_hook(connector, "on_save", is_update=True)
    rt.run_hook(connector, "on_delete")
    assert HOOK_CALLS == [("on_save", True), ("on_delete", "fakellm-chat_completion-test")]
    assert rt.url_policy.is_allowed(server.url) and rt.settings.max_attempts == 3
    assert rt.context(connector).provider_id == "fakellm"
    rt.close()
    rt.close()
    with pytest.raises(RuntimeError, match="closed"):
        rt.test(connector)
