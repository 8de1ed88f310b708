"""Every chat-capable provider's stream becomes the same unified chunk shape (one table, one test).

Each provider's own reusable fake (`ai_connector_<id>.testing`) streams the same text in that
provider's wire format; what comes out must be indistinguishable.
"""

from __future__ import annotations

import importlib
import logging

import pytest

from ai_connector.context import CallContext
from ai_connector.http import build_client
from ai_connector.manager import default_registry
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeServer
from ai_connector.types import ChatRequest, TaskType
from ai_connector.validation import validate_connector

CHAT_PROVIDERS = ["openai", "azureopenai", "amazonbedrock", "googlevertexai", "elastic", "anthropic"]
PIECES = ["Hello", ", wor", "ld", "! \u00e9\u00e8 \U0001f600", '\n"quoted"']
CANARY = "canary-secret-unified-31a5"


@pytest.mark.parametrize("provider_id", CHAT_PROVIDERS)
async def test_the_same_text_streams_as_the_same_unified_chunks(
    provider_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    testing = importlib.import_module(f"ai_connector_{provider_id}.testing")
    registry = default_registry()
    provider = registry.get(provider_id)
    assert TaskType.CHAT_COMPLETION in provider.task_types
    with FakeServer() as server:
        testing.serve_chat(server, PIECES, prompt_tokens=5, completion_tokens=7)
        settings, secrets = testing.connector(server.url, "chat_completion", secret=CANARY)
        connector = validate_connector(
            {
                "name": "u",
                "config": {
                    "provider": provider_id,
                    "taskType": "chat_completion",
                    "providerConfig": settings,
                },
                "secrets": {"providerSecrets": secrets},
            },
            registry,
        )
        async with build_client() as client:
            ctx = CallContext(
                client=client,
                provider_id=provider_id,
                redactor=Redactor(connector.secrets.values_for_redaction()),
            )
            request = ChatRequest(messages=[{"role": "user", "content": "Say hello"}])
            chunks = [c async for c in provider.chat_completion_stream(connector.endpoint(), request, ctx)]

    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "".join(PIECES)
    finishes = [c.finish_reason for c in chunks if c.finish_reason is not None]
    assert finishes == ["stop"]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and chunks[-1].is_usage_only
    assert usage[0].to_dict() == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    assert not any(c.tool_calls for c in chunks)
    rendered = [c.to_openai(id="chatcmpl-1", model="m", created=1) for c in chunks]
    for chunk in rendered:
        assert chunk["object"] == "chat.completion.chunk"
        assert set(chunk) <= {"id", "object", "created", "model", "choices", "usage"}
    assert rendered[-1]["choices"] == []
    assert CANARY not in caplog.text
