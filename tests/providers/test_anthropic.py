"""The Anthropic provider against its wire-exact local fake: what it sends to the Messages API, how it
translates Anthropic's SSE (the documented transcripts included) and errors, Save & test, and that
the key never leaks."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import ai_connector_anthropic as anthropic_plugin
import ai_connector_anthropic.testing as anthropic_testing
from ai_connector.context import CallContext
from ai_connector.descriptor import service_descriptor
from ai_connector.errors import UnreachableError
from ai_connector.http import build_client
from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    StreamInterruptedError,
    TaskType,
    ToolCallDelta,
    Usage,
)
from ai_connector.redaction import Redactor
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector_anthropic.testing import (
    DEFAULT_MODEL,
    FakeAnthropic,
    error_response,
    stream_events,
    stream_response,
)
from ai_connector_anthropic.wire import translate_messages

CANARY = "canary-anthropic-5f2e9c0d7b41"
STREAMS = Path("/work/shared/wire-samples/streams")
PROVIDER = anthropic_plugin.PROVIDER


@pytest.fixture
def fake(server: FakeServer) -> FakeAnthropic:
    return FakeAnthropic(server, api_key=CANARY)


def endpoint(
    url: str,
    task: TaskType = TaskType.CHAT_COMPLETION,
    *,
    settings: Mapping[str, Any] | None = None,
    task_settings: Mapping[str, Any] | None = None,
    secret: str | None = CANARY,
    headers: Mapping[str, str] | None = None,
) -> InferenceEndpoint:
    return InferenceEndpoint(
        inference_id="anthropic-test",
        task_type=task,
        settings={"model_id": DEFAULT_MODEL, "url": url, **(settings or {})},
        secrets=Secrets({"api_key": secret} if secret else {}),
        task_settings=dict(task_settings or {}),
        headers=dict(headers or {}),
    )


@asynccontextmanager
async def context() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id="anthropic", redactor=Redactor([CANARY]))


async def collect(ep: InferenceEndpoint, request: ChatRequest) -> list[ChatChunk]:
    async with context() as ctx:
        return [c async for c in PROVIDER.chat_completion_stream(ep, request, ctx)]


async def complete(ep: InferenceEndpoint, text: str = "What is Elastic?") -> list[str]:
    async with context() as ctx:
        return await PROVIDER.completion(ep, CompletionRequest(input=text), ctx)


def hello(**kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "Hello world"}], **kwargs)


def assert_no_canary(*texts: Any) -> None:
    for text in texts:
        assert CANARY not in str(text)


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(c.content or "" for c in chunks)


def tool_calls(chunks: list[ChatChunk]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in chunk.tool_calls:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += delta.name or ""
            call["arguments"] += delta.arguments or ""
    return calls


# ---------------------------------------------------------------------------------------------
# Declaration


def test_declares_anthropic_with_es_fields() -> None:
    assert PROVIDER.id == "anthropic" and PROVIDER.name == "Anthropic"
    assert PROVIDER.task_types == {TaskType.COMPLETION, TaskType.CHAT_COMPLETION}
    assert PROVIDER.default_requests_per_minute[TaskType.COMPLETION] == 50
    desc = service_descriptor(PROVIDER)["configurations"]
    assert desc["model_id"]["label"] == "Model ID" and desc["model_id"]["required"]
    assert desc["api_key"] == {
        "description": "API Key for the provider you're connecting to.",
        "label": "API Key",
        "required": True,
        "sensitive": True,
        "updatable": True,
        "type": "str",
        "supported_task_types": ["completion", "chat_completion"],
    }
    rate = desc["rate_limit.requests_per_minute"]
    assert rate["label"] == "Rate Limit" and rate["type"] == "int" and not rate["updatable"]
    assert desc["url"]["default_value"] == "https://api.anthropic.com" and not desc["url"]["required"]
    task = PROVIDER.task_settings_schemas[TaskType.COMPLETION]["properties"]
    assert task["max_tokens"]["title"] == "Max Tokens" and task["max_tokens"]["default"] == 1024
    assert set(task) == {"max_tokens", "temperature", "top_p", "top_k"}


def test_urls_and_base_url_forms() -> None:
    assert PROVIDER.urls is not None
    assert PROVIDER.urls(endpoint(""), {}) == ["https://api.anthropic.com/v1/messages"]
    for base in (
        "http://proxy:8080",
        "http://proxy:8080/",
        "http://proxy:8080/v1",
        "http://proxy:8080/v1/messages",
    ):
        assert anthropic_plugin.messages_url(endpoint(base)) == "http://proxy:8080/v1/messages"


# ---------------------------------------------------------------------------------------------
# Chat completion


async def test_chat_streams_unified_chunks_and_sends_the_documented_request(
    server: FakeServer, fake: FakeAnthropic
) -> None:
    ep = endpoint(server.url, headers={"X-Team": "search", "x-api-key": "must-not-win"})
    request = ChatRequest(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello world"}]
    )
    chunks = await collect(ep, request)

    sent = server.last
    assert (sent.method, sent.path, sent.query_string) == ("POST", "/v1/messages", "")
    assert sent.headers["x-api-key"] == CANARY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-team"] == "search"
    assert sent.json() == {
        "model": DEFAULT_MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello world"}],
        "system": "Be brief.",
        "stream": True,
    }
    assert chunks[0].role == "assistant" and chunks[0].model == DEFAULT_MODEL
    assert text_of(chunks) == "Hello!"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1] == ChatChunk(usage=Usage(prompt_tokens=25, completion_tokens=15))
    assert chunks[-1].is_usage_only


async def test_task_settings_and_request_parameters(server: FakeServer, fake: FakeAnthropic) -> None:
    ep = endpoint(server.url, task_settings={"max_tokens": 200, "temperature": 0.2, "top_p": 0.9, "top_k": 5})
    await collect(ep, hello())
    body = server.last.json()
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["top_k"]) == (200, 0.2, 0.9, 5)

    await collect(ep, hello(max_tokens=7, temperature=0.5, top_p=0.1, stop=["END"], user="u-1"))
    body = server.last.json()
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["top_k"]) == (7, 0.5, 0.1, 5)
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u-1"}


def test_openai_messages_tools_and_results_translate_to_anthropic() -> None:
    system, messages = translate_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {"role": "user", "content": "Weather in SF and NYC?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "w", "arguments": '{"c":"SF"}'},
                    },
                    {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "25C"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
        ]
    )
    assert system == "Be brief.\n\nUse tools."
    assert messages == [
        {"role": "user", "content": "Weather in SF and NYC?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "w", "input": {"c": "SF"}},
                {"type": "tool_use", "id": "call_2", "name": "w", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_1",
                    "content": [{"type": "text", "text": "18C"}],
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "25C"}],
                },
                {"type": "text", "text": "And this?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
async def test_tools_and_tool_choice(
    server: FakeServer, fake: FakeAnthropic, choice: Any, expected: dict[str, Any]
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        {"type": "function", "function": {"name": "now"}},
    ]
    await collect(endpoint(server.url), hello(tools=tools, tool_choice=choice))
    body = server.last.json()
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert body["tool_choice"] == expected


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}],
        [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}]}],
        [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}],
        [{"role": "function", "content": "x"}],
    ],
)
async def test_untranslatable_requests_fail_before_any_network_call(
    server: FakeServer, fake: FakeAnthropic, messages: list[dict[str, Any]]
) -> None:
    with pytest.raises(InvalidRequestError):
        await collect(endpoint(server.url), ChatRequest(messages=messages))
    assert server.requests == []


async def test_unknown_tool_choice_is_refused(server: FakeServer, fake: FakeAnthropic) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    with pytest.raises(InvalidRequestError, match="tool_choice"):
        await collect(endpoint(server.url), hello(tools=tools, tool_choice="sometimes"))
    assert server.requests == []


async def test_streamed_tool_use_becomes_tool_call_deltas(server: FakeServer, fake: FakeAnthropic) -> None:
    fake.then(
        stream_response(
            stream_events(
                ["Let me look."],
                stop_reason="tool_use",
                tool_calls=[
                    ("toolu_A", "get_weather", ['{"city":', ' "SF"}']),
                    ("toolu_B", "get_time", ["{}"]),
                ],
            )
        )
    )
    chunks = await collect(endpoint(server.url), hello())
    assert text_of(chunks) == "Let me look."
    assert tool_calls(chunks) == {
        0: {"id": "toolu_A", "name": "get_weather", "arguments": '{"city": "SF"}'},
        1: {"id": "toolu_B", "name": "get_time", "arguments": "{}"},
    }
    first = next(c for c in chunks if c.tool_calls)
    assert first.tool_calls == (ToolCallDelta(index=0, id="toolu_A", name="get_weather", arguments=""),)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
    ],
)
async def test_stop_reasons_map_to_openai_finish_reasons(
    server: FakeServer, fake: FakeAnthropic, stop_reason: str, finish: str
) -> None:
    fake.then(stream_response(stream_events(["x"], stop_reason=stop_reason)))
    chunks = await collect(endpoint(server.url), hello())
    assert [c.finish_reason for c in chunks if c.finish_reason] == [finish]


# ---------------------------------------------------------------------------------------------
# The documented transcripts, replayed byte for byte


async def replay(server: FakeServer, name: str) -> list[ChatChunk]:
    raw = (STREAMS / name).read_bytes()
    if not raw.endswith(b"\n\n"):
        # The docs' code blocks drop the blank line that ends the last event on the wire; without
        # it a conforming SSE parser never dispatches that event.
        raw += b"\n"
    # Split in awkward places so events straddle reads.
    server.add("POST", "/v1/messages", FakeResponse(chunks=[raw[i : i + 97] for i in range(0, len(raw), 97)]))
    return await collect(endpoint(server.url), hello())


async def test_transcript_basic(server: FakeServer) -> None:
    chunks = await replay(server, "anthropic.txt")
    assert chunks[0] == ChatChunk(
        role="assistant", id="msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", model="claude-sonnet-4-5-20250929"
    )
    assert [c.content for c in chunks if c.content] == ["Hello", "!"]
    assert chunks[-2] == ChatChunk(finish_reason="stop")
    assert chunks[-1] == ChatChunk(usage=Usage(prompt_tokens=25, completion_tokens=15))


async def test_transcript_tool_use(server: FakeServer) -> None:
    chunks = await replay(server, "anthropic-tool-use.txt")
    assert text_of(chunks) == "Okay, let's check the weather for San Francisco, CA:"
    calls = tool_calls(chunks)
    assert calls == {
        0: {
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "get_weather",
            "arguments": '{"location": "San Francisco, CA", "unit": "fahrenheit"}',
        }
    }
    assert json.loads(calls[0]["arguments"]) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert chunks[-2].finish_reason == "tool_calls"
    assert chunks[-1].usage == Usage(prompt_tokens=472, completion_tokens=89)


async def test_transcript_extended_thinking_drops_thinking(server: FakeServer) -> None:
    chunks = await replay(server, "anthropic-extended-thinking.txt")
    assert text_of(chunks) == "27 * 453 = 12,231"
    assert chunks[0].role == "assistant"
    assert chunks[-1] == ChatChunk(finish_reason="stop")  # this transcript reports no usage


async def test_transcript_error_event(server: FakeServer) -> None:
    with pytest.raises(StreamInterruptedError) as info:
        await replay(server, "anthropic-error-event.txt")
    assert info.value.provider_message == "Overloaded" and info.value.code == "overloaded_error"
    assert not info.value.retryable


# ---------------------------------------------------------------------------------------------
# Completion


async def test_completion_reads_one_message(server: FakeServer, fake: FakeAnthropic) -> None:
    ep = endpoint(server.url, TaskType.COMPLETION, task_settings={"max_tokens": 64, "top_k": 3})
    assert await complete(ep) == ["Hello!"]
    sent = server.last
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == CANARY
    assert sent.json() == {
        "model": DEFAULT_MODEL,
        "max_tokens": 64,
        "top_k": 3,
        "messages": [{"role": "user", "content": "What is Elastic?"}],
    }


async def test_completion_joins_text_blocks_and_skips_others(server: FakeServer, fake: FakeAnthropic) -> None:
    body = {
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "x"},
            {"type": "text", "text": "Elastic "},
            {"type": "text", "text": "is search."},
        ],
    }
    fake.then(FakeResponse.json(body))
    assert await complete(endpoint(server.url, TaskType.COMPLETION)) == ["Elastic is search."]


# ---------------------------------------------------------------------------------------------
# Errors, for both calls


async def call(task: TaskType, ep: InferenceEndpoint) -> Any:
    if task is TaskType.CHAT_COMPLETION:
        return await collect(ep, hello())
    return await complete(ep)


TASKS = [TaskType.CHAT_COMPLETION, TaskType.COMPLETION]


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, InvalidRequestError, False),
        (401, AuthenticationError, False),
        (403, AuthenticationError, False),
        (402, RateLimitError, False),
        (413, InvalidRequestError, False),
        (500, ProviderServerError, True),
        (504, ProviderServerError, True),
        (529, ProviderServerError, True),
    ],
)
async def test_documented_error_bodies_are_typed(
    server: FakeServer,
    fake: FakeAnthropic,
    caplog: pytest.LogCaptureFixture,
    task: TaskType,
    status: int,
    cls: type[ProviderError],
    retryable: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.then(error_response(status))
    with pytest.raises(cls) as info:
        await call(task, endpoint(server.url, task))
    err = info.value
    assert type(err) is cls and err.status == status and err.retryable is retryable
    assert err.code is not None and err.provider_message
    assert err.provider_message in err.message
    assert_no_canary(err, repr(err), caplog.text)


@pytest.mark.parametrize("task", TASKS)
async def test_wrong_key_is_a_credentials_error(
    server: FakeServer, fake: FakeAnthropic, task: TaskType
) -> None:
    with pytest.raises(AuthenticationError) as info:
        await call(task, endpoint(server.url, task, secret="sk-ant-wrong-key-000"))
    assert info.value.provider_message == "invalid x-api-key" and info.value.code == "authentication_error"
    assert info.value.kind is FailureKind.CREDENTIALS


@pytest.mark.parametrize("task", TASKS)
async def test_unknown_model_is_model_not_found(
    server: FakeServer, fake: FakeAnthropic, task: TaskType
) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        await call(task, endpoint(server.url, task, settings={"model_id": "claude-x"}))
    assert info.value.provider_message == "model: claude-x" and info.value.code == "not_found_error"


@pytest.mark.parametrize("task", TASKS)
async def test_rate_limit_honours_retry_after(
    server: FakeServer, fake: FakeAnthropic, task: TaskType
) -> None:
    fake.then(error_response(429, retry_after=7))
    with pytest.raises(RateLimitError) as info:
        await call(task, endpoint(server.url, task))
    assert info.value.retry_after == 7.0 and info.value.retryable and info.value.code == "rate_limit_error"
    assert "per-minute rate limit" in (info.value.provider_message or "")


@pytest.mark.parametrize("task", TASKS)
async def test_a_non_json_error_body_keeps_its_text(
    server: FakeServer, fake: FakeAnthropic, task: TaskType
) -> None:
    fake.then(FakeResponse(status=502, body="<html>Bad Gateway</html>", content_type="text/html"))
    with pytest.raises(ProviderServerError, match="Bad Gateway"):
        await call(task, endpoint(server.url, task))


@pytest.mark.parametrize("task", TASKS)
async def test_an_echoed_key_is_redacted(server: FakeServer, fake: FakeAnthropic, task: TaskType) -> None:
    fake.then(error_response(403, f"key {CANARY} may not use this model"))
    with pytest.raises(AuthenticationError) as info:
        await call(task, endpoint(server.url, task))
    assert_no_canary(info.value, repr(info.value), info.value.provider_message)
    assert "may not use this model" in str(info.value)


@pytest.mark.parametrize("task", TASKS)
async def test_unreachable_host(task: TaskType, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UnreachableError) as info:
        await call(task, endpoint("http://127.0.0.1:9", task))
    assert_no_canary(info.value, caplog.text)


@pytest.mark.parametrize("task", TASKS)
async def test_missing_key_fails_as_credentials_without_a_request(
    server: FakeServer, fake: FakeAnthropic, task: TaskType
) -> None:
    with pytest.raises(AuthenticationError, match="api_key"):
        await call(task, endpoint(server.url, task, secret=None))
    assert server.requests == []


async def test_completion_malformed_json(server: FakeServer, fake: FakeAnthropic) -> None:
    fake.then(FakeResponse(body='{"type": "message", "content": [', content_type="application/json"))
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await complete(endpoint(server.url, TaskType.COMPLETION))
    fake.then(FakeResponse.json({"type": "message", "content": "nope"}))
    with pytest.raises(InvalidResponseError):
        await complete(endpoint(server.url, TaskType.COMPLETION))
    fake.then(FakeResponse.json({"content": [{"type": "text"}]}))
    with pytest.raises(InvalidResponseError):
        await complete(endpoint(server.url, TaskType.COMPLETION))


async def test_stream_malformed_event(server: FakeServer, fake: FakeAnthropic) -> None:
    events = ["event: message_start\ndata: {not json\n\n"]
    fake.then(FakeResponse(chunks=events, content_type="text/event-stream"))
    with pytest.raises(InvalidResponseError, match="message_start"):
        await collect(endpoint(server.url), hello())
    events = [
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}\n\n'
    ]
    fake.then(FakeResponse(chunks=events, content_type="text/event-stream"))
    with pytest.raises(InvalidResponseError):
        await collect(endpoint(server.url), hello())


async def test_stream_that_breaks_halfway(server: FakeServer, fake: FakeAnthropic) -> None:
    fake.then(stream_response(stream_events(["Hel", "lo", " there"]), abort_after=4))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError):
        async with context() as ctx:
            async for chunk in PROVIDER.chat_completion_stream(endpoint(server.url), hello(), ctx):
                received.append(chunk)
    assert received[0].role == "assistant" and text_of(received) == "Hel"


async def test_stream_that_ends_before_message_stop(server: FakeServer, fake: FakeAnthropic) -> None:
    fake.then(stream_response(stream_events(["Hello"])[:-1]))
    with pytest.raises(StreamInterruptedError, match="message_stop"):
        await collect(endpoint(server.url), hello())


async def test_mid_stream_error_event(
    server: FakeServer, fake: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events = stream_events(["Hello", " wor"])[:4]
    events.append({"type": "error", "error": {"type": "api_error", "message": f"boom near {CANARY}"}})
    fake.then(stream_response(events))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError) as info:
        async with context() as ctx:
            async for chunk in PROVIDER.chat_completion_stream(endpoint(server.url), hello(), ctx):
                received.append(chunk)
    assert text_of(received) == "Hello"
    assert info.value.code == "api_error" and "boom near" in (info.value.provider_message or "")
    assert_no_canary(info.value, repr(info.value), info.value.provider_message, caplog.text)


async def test_unknown_events_and_pings_are_ignored(server: FakeServer, fake: FakeAnthropic) -> None:
    events = stream_events(["Hi"])
    events.insert(2, {"type": "some_future_event", "payload": {"x": 1}})
    events.insert(4, {"type": "ping"})
    events.insert(
        4, {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {}}}
    )
    fake.then(stream_response(events))
    chunks = await collect(endpoint(server.url), hello())
    assert text_of(chunks) == "Hi" and chunks[-1].usage is not None


def _block(index: int, block: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    """One content block's events: start, its deltas, stop."""
    return [
        {"type": "content_block_start", "index": index, "content_block": block},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


async def test_content_blocks_the_connector_did_not_request_are_skipped(
    server: FakeServer, fake: FakeAnthropic
) -> None:
    # Block kinds from Anthropic's streaming docs (server tools, MCP connector) plus one from the
    # future: none of them, nor their deltas, reaches the caller or breaks the stream.
    events = stream_events(
        ["Searching."], stop_reason="tool_use", tool_calls=[("toolu_C", "get_weather", ['{"city": "SF"}'])]
    )
    client_tool = next(
        i for i, e in enumerate(events) if e.get("content_block", {}).get("type") == "tool_use"
    )
    for event in events[client_tool:]:
        if "index" in event:
            event["index"] += 5
    foreign = [
        *_block(
            1,
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"query": "weather"}'},
        ),
        *_block(
            2,
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        ),
        *_block(
            3,
            {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "echo", "server_name": "s", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"x": 1}'},
        ),
        *_block(4, {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "content": []}),
        *_block(
            5,
            {"type": "some_future_block", "text": "not for you"},
            {"type": "text_delta", "text": " nor this"},
            {"type": "some_future_delta", "x": 1},
        ),
    ]
    events[client_tool:client_tool] = foreign
    fake.then(stream_response(events))
    chunks = await collect(endpoint(server.url), hello())
    assert text_of(chunks) == "Searching."
    assert tool_calls(chunks) == {0: {"id": "toolu_C", "name": "get_weather", "arguments": '{"city": "SF"}'}}
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None


# ---------------------------------------------------------------------------------------------
# Save & test


@pytest.mark.parametrize("task", TASKS)
async def test_save_and_test_sends_a_one_token_hello(
    server: FakeServer, fake: FakeAnthropic, task: TaskType
) -> None:
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(server.url, task), ctx)
    assert result.ok and result.failure is None and result.latency_ms is not None
    body = server.last.json()
    assert body["max_tokens"] == 1 and body["messages"] == [{"role": "user", "content": "Hello world"}]
    assert body.get("stream", False) is (task is TaskType.CHAT_COMPLETION)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(
    ("answer", "settings", "secret", "failure"),
    [
        (None, {}, "sk-ant-wrong-key-000", FailureKind.CREDENTIALS),
        (error_response(403), {}, CANARY, FailureKind.CREDENTIALS),
        (None, {"model_id": "claude-nope"}, CANARY, FailureKind.MODEL_NOT_FOUND),
        (error_response(429, retry_after=3), {}, CANARY, FailureKind.RATE_LIMITED),
        (error_response(529), {}, CANARY, FailureKind.PROVIDER_ERROR),
        (
            FakeResponse(body="{oops", content_type="text/event-stream"),
            {},
            CANARY,
            FailureKind.INVALID_RESPONSE,
        ),
    ],
)
async def test_save_and_test_failures_have_the_right_kind(
    server: FakeServer,
    fake: FakeAnthropic,
    caplog: pytest.LogCaptureFixture,
    task: TaskType,
    answer: FakeResponse | None,
    settings: dict[str, Any],
    secret: str,
    failure: FailureKind,
) -> None:
    caplog.set_level(logging.DEBUG)
    if answer is not None:
        fake.then(answer)
    if failure is FailureKind.INVALID_RESPONSE and task is TaskType.CHAT_COMPLETION:
        fake.queued[-1] = FakeResponse(chunks=["event: message_start\ndata: {oops\n\n"])
    async with context() as ctx:
        result = await PROVIDER.test(endpoint(server.url, task, settings=settings, secret=secret), ctx)
    assert not result.ok and result.failure is failure, result
    assert_no_canary(result.message, repr(result), result.to_dict(), caplog.text)


@pytest.mark.parametrize("task", TASKS)
async def test_save_and_test_unreachable(task: TaskType) -> None:
    async with context() as ctx:
        result = await PROVIDER.test(endpoint("http://127.0.0.1:9", task), ctx)
    assert not result.ok and result.failure is FailureKind.UNREACHABLE
    assert_no_canary(result.message, repr(result))


# ---------------------------------------------------------------------------------------------
# The shared contract kit


class TestContract(ProviderContract):
    provider_id = "anthropic"
    fake = anthropic_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return {"model_id": DEFAULT_MODEL, "url": base_url}, {"api_key": self.canary}

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        server.add("*", "/.*", error_response(401))
