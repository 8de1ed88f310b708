"""The hook specs: named `ai_connector_*`, documented, and the example plugin in each docstring runs."""

from __future__ import annotations

import inspect
import textwrap
import types

import pytest

from ai_connector.context import CallContext
from ai_connector.hookspecs import AIConnectorSpecs
from ai_connector.http import build_client
from ai_connector.manager import load_registry
from ai_connector.plugin import ChatRequest, TaskType
from ai_connector.testing import FakeResponse, FakeServer

SPECS = [name for name, _ in inspect.getmembers(AIConnectorSpecs, inspect.isfunction)]


def example_code(doc: str) -> str:
    """The indented code block after the `::` line of a docstring."""
    block = doc.split("::", 1)[1]
    return textwrap.dedent(block)


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_is_prefixed_and_carries_an_example_plugin(name: str) -> None:
    assert name.startswith("ai_connector_")
    doc = getattr(AIConnectorSpecs, name).__doc__
    assert doc and "@hookimpl" in example_code(doc)


async def test_the_providers_hookspec_example_is_a_working_plugin() -> None:
    module = types.ModuleType("ai_connector_echo_example")
    exec(
        compile(example_code(AIConnectorSpecs.ai_connector_providers.__doc__), "<example>", "exec"),
        module.__dict__,
    )
    registry = load_registry(entry_points=False, plugins=[("echo", module)])
    provider = registry.get("echo")
    assert provider.task_types == {TaskType.CHAT_COMPLETION}

    from ai_connector.validation import validate_connector

    with FakeServer() as server:
        server.add("POST", "/chat", FakeResponse.json({"text": "Hello back"}))
        connector = validate_connector(
            {
                "name": "echo",
                "config": {
                    "provider": "echo",
                    "taskType": "chat_completion",
                    "providerConfig": {"model_id": "m", "url": server.url},
                },
                "secrets": {"providerSecrets": {"api_key": "k-123456"}},
            },
            registry,
        )
        async with build_client() as client:
            ctx = CallContext(client=client, provider_id="echo")
            chunks = [
                c
                async for c in provider.chat_completion_stream(
                    connector.endpoint(), ChatRequest(messages=[{"role": "user", "content": "hi"}]), ctx
                )
            ]
            result = await provider.test(connector.endpoint(), ctx)
        assert server.requests[0].headers["authorization"] == "Bearer k-123456"
    assert [c.content for c in chunks] == ["Hello back", None] and chunks[-1].finish_reason == "stop"
    assert result.ok
