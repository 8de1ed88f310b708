"""A provider's rate limit reaches an OpenAI client as 429 with `retry-after` on every route that
calls a provider (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`), and a provider's
overload (503) carries its `retry-after` the same way, so the SDK's backoff works on all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai_route_helpers import READ_KEY, Serve, check_schema

from ai_connector.testing import FakeResponse, FakeServer

HELLO = [{"role": "user", "content": "Say hello"}]

# route of the OpenAI fake the connector calls -> the SDK call that reaches it through the host
CALLS: dict[str, tuple[str, Callable[[openai.OpenAI], Any]]] = {
    "chat": (
        "/v1/chat/completions",
        lambda c: c.chat.completions.create(model="chat-openai", messages=HELLO),
    ),
    "chat-stream": (
        "/v1/chat/completions",
        lambda c: list(c.chat.completions.create(model="chat-openai", messages=HELLO, stream=True)),
    ),
    "completions": (
        "/v1/chat/completions",  # OpenAI's completion task is a one-piece chat call
        lambda c: c.completions.create(model="complete-openai", prompt="Say hello"),
    ),
    "completions-stream": (
        "/v1/chat/completions",
        lambda c: list(c.completions.create(model="complete-openai", prompt="Say hello", stream=True)),
    ),
    "embeddings": (
        "/v1/embeddings",
        lambda c: c.embeddings.create(model="embed-openai", input="x", encoding_format="float"),
    ),
}


def client(serve: Serve) -> openai.OpenAI:
    return openai.OpenAI(base_url=serve.base_url, api_key=READ_KEY, max_retries=0, timeout=60)


@pytest.mark.parametrize("call", list(CALLS))
def test_a_provider_rate_limit_is_429_with_retry_after(serve: Serve, fake: FakeServer, call: str) -> None:
    from ai_connector_openai.testing import rate_limit_response

    route, run = CALLS[call]
    fake.add("POST", route, rate_limit_response(retry_after="19"))
    with pytest.raises(openai.RateLimitError) as caught:
        run(client(serve))
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "19"
    body = caught.value.response.json()
    check_schema("ErrorResponse", body)
    assert body["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("call", ["chat", "completions", "embeddings"])
def test_an_overloaded_provider_is_503_with_its_retry_after(
    serve: Serve, fake: FakeServer, call: str
) -> None:
    route, run = CALLS[call]
    overloaded = FakeResponse.json(
        {"error": {"message": "The engine is currently overloaded", "type": "server_error"}},
        503,
        headers={"retry-after": "7"},
    )
    fake.add("POST", route, overloaded)
    with pytest.raises(openai.InternalServerError) as caught:
        run(client(serve))
    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "7"
