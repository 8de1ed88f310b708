"""A connector's contextWindowLength refuses an over-long request before any network call, with the
figures in the message; the estimate is documented and deterministic."""

from __future__ import annotations

import pytest
from runtime_fakes import hello_params, hello_stream, make_connector

from ai_connector.errors import ContextWindowExceededError
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import Runtime
from ai_connector.runtime.tokens import check_context_window, estimate_prompt_tokens
from ai_connector.testing import FakeServer
from ai_connector.types import ChatRequest


def request(text: str, **kw: object) -> ChatRequest:
    return ChatRequest(messages=({"role": "user", "content": text},), **kw)  # type: ignore[arg-type]


def test_the_estimate_is_the_documented_formula() -> None:
    # ceil(ascii / 3) + non-ascii + 4 per message + 3: "user" + 30 chars = 34 ascii -> 12, + 4 + 3
    assert estimate_prompt_tokens(request("x" * 30)) == 19
    # every non-ASCII character is a whole token: "user" -> 2, + 5 + 4 + 3
    assert estimate_prompt_tokens(request("日本語です")) == 14
    tools = ({"type": "function", "function": {"name": "f"}},)
    assert estimate_prompt_tokens(request("x", tools=tools)) > estimate_prompt_tokens(request("x"))
    parts = ChatRequest(messages=({"role": "user", "content": [{"type": "text", "text": "x" * 30}]},))
    assert estimate_prompt_tokens(parts) == 19
    calls = ChatRequest(
        messages=(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
            },
        )
    )
    assert estimate_prompt_tokens(calls) == 4 + 4 + 3  # "assistant" + "f" + "{}" = 12 chars -> 4


def test_the_estimate_is_deterministic() -> None:
    r = request("The sky above the port was the color of television tuned to a dead channel.")
    assert len({estimate_prompt_tokens(r) for _ in range(5)}) == 1


def test_boundary_n_minus_one_n_n_plus_one() -> None:
    r = request("x" * 30, max_tokens=10)  # 19 + 10 = 29
    check_context_window(r, 30)
    check_context_window(r, 29)
    with pytest.raises(ContextWindowExceededError) as info:
        check_context_window(r, 28)
    assert (info.value.estimated_prompt_tokens, info.value.max_tokens, info.value.context_window) == (
        19,
        10,
        28,
    )
    check_context_window(r, None)


async def test_an_over_long_request_is_refused_before_any_request(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("never"))
    connector = make_connector(registry, server.url, context_window=100)
    params = hello_params("word " * 100, max_tokens=20)
    with pytest.raises(ContextWindowExceededError) as info:
        await runtime.execute(connector, "unified_completion", params)
    message = str(info.value)
    assert "175 prompt tokens + 20 completion tokens = 195" in message
    assert "context window length of 100 tokens" in message
    with pytest.raises(ContextWindowExceededError):
        async for _ in runtime.stream(connector, params):
            pass
    assert server.requests == []


async def test_a_request_that_fits_is_sent(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/chat", hello_stream("fits"))
    connector = make_connector(registry, server.url, context_window=4096)
    answer = await runtime.execute(connector, "unified_completion", hello_params(max_tokens=1000))
    assert answer["choices"][0]["message"]["content"] == "fits"
