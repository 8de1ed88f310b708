"""End to end with the real OpenAI plugin against its wire-exact fake: the runtime's answers are
Kibana's shapes whatever provider produced the stream."""

from __future__ import annotations

import pytest

from ai_connector.manager import default_registry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.testing import FakeServer
from ai_connector.validation import validate_connector

openai_testing = pytest.importorskip("ai_connector_openai.testing")


def openai_connector(url: str) -> object:
    provider_config, provider_secrets = openai_testing.connector(url)
    doc = {
        "name": "openai",
        "connector_type_id": ".inference",
        "config": {
            "provider": "openai",
            "taskType": "chat_completion",
            "inferenceId": "openai-e2e",
            "providerConfig": provider_config,
        },
        "secrets": {"providerSecrets": provider_secrets},
    }
    return validate_connector(doc, default_registry(), connector_id="e2e")


async def test_openai_chat_aggregated_and_streamed(server: FakeServer, transport: str) -> None:
    openai_testing.serve_chat(server, ["Hello", ", ", "world"], prompt_tokens=5, completion_tokens=3)
    connector = openai_connector(server.url)
    async with Runtime(default_registry(), RuntimeSettings(transport=transport)) as runtime:
        answer = await runtime.execute(
            connector, "unified_completion", {"body": {"messages": [{"role": "user", "content": "Hi"}]}}
        )
        chunks = [
            c
            async for c in runtime.stream(
                connector, {"body": {"messages": [{"role": "user", "content": "Hi"}]}}
            )
        ]
        result = await runtime.test(connector)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "Hello, world"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {"completion_tokens": 3, "prompt_tokens": 5, "total_tokens": 8}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        == "Hello, world"
    )
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 8
    assert result.ok


async def test_no_generator_is_left_for_the_event_loop_to_finalise(
    server: FakeServer, transport: str
) -> None:
    """Every generator of a call (the plugin's, the runtime's) is finished or closed by the call
    itself, read to the end or closed early: none is handed to the loop's finaliser (a task each).
    httpx's own transport is the exception: its and httpcore's body generators of a response closed before
    its last byte (a stream left at `[DONE]`) are always finalised that way."""
    import gc
    import sys

    openai_testing.serve_chat(server, ["Hello", ", ", "world"])
    connector = openai_connector(server.url)
    params = {"body": {"messages": [{"role": "user", "content": "Hi"}]}}
    firstiter, finalizer = sys.get_asyncgen_hooks()
    finalised: list[object] = []

    def counting(agen: object) -> None:
        finalised.append(agen)
        finalizer(agen)  # type: ignore[misc]

    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=counting)
    try:
        async with Runtime(default_registry(), RuntimeSettings(transport=transport)) as runtime:
            for _ in range(3):
                await runtime.execute(connector, "unified_completion", params)
                assert len([c async for c in runtime.stream(connector, params)]) == 6
                stream = runtime.stream(connector, params)
                await anext(stream)
                await stream.aclose()
                assert (await runtime.test(connector)).ok
            gc.collect()
    finally:
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
    transport_files = ("/httpcore/", "/httpx/_transports/")  # httpx's own transport's generators
    ours = [
        agen
        for agen in finalised
        if not any(part in agen.ag_code.co_filename for part in transport_files)  # type: ignore[attr-defined]
    ]
    assert ours == []
    assert len(finalised) == 0 or transport == "httpx"
