"""The OpenAI provider against its wire-exact local fake: what it sends, what it makes of OpenAI's
answers and errors, Save & test, and that the key never leaks."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import ai_connector_openai as openai_plugin
import ai_connector_openai.testing as openai_testing
from ai_connector.context import CallContext
from ai_connector.errors import UnreachableError
from ai_connector.http import build_client
from ai_connector.openai_kit import chat_chunks
from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    InferenceEndpoint,
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
from ai_connector.sse import iter_sse_text
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.testing.contract import ProviderContract
from ai_connector.types import FailureKind, Secrets
from ai_connector.validation import check_provider_schemas, effective_schema
from ai_connector_openai import testing as fake

CANARY = "canary-secret-0000"
STREAMS = Path("/work/shared/wire-samples/streams")
CHAT, COMPLETION, EMBED = TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING
HELLO = ChatRequest(messages=({"role": "user", "content": "Hello world"},))


@pytest.fixture
def openai(server: FakeServer) -> fake.OpenAIFake:
    return fake.OpenAIFake(server, api_key=CANARY).install()


@pytest.fixture
async def ctx() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id="openai", redactor=Redactor([CANARY]))


def endpoint(
    base_url: str,
    task: TaskType = CHAT,
    *,
    key: str | None = CANARY,
    url: str | None = None,
    **settings: Any,
) -> InferenceEndpoint:
    config, secrets = fake.connector(base_url, task.value, secret=key or "")
    if url is not None:
        config["url"] = url
    config.update(settings)
    task_settings = {"user": config.pop("user")} if "user" in config else {}
    headers = config.pop("headers", {})
    return InferenceEndpoint(
        inference_id=f"openai-{task.value}-test",
        task_type=task,
        settings=config,
        secrets=Secrets(secrets),
        task_settings=task_settings,
        headers=headers,
    )


async def chat(ep: InferenceEndpoint, ctx: CallContext, request: ChatRequest = HELLO) -> list[ChatChunk]:
    return [c async for c in openai_plugin.PROVIDER.chat_completion_stream(ep, request, ctx)]


async def run_task(ep: InferenceEndpoint, ctx: CallContext) -> Any:
    if ep.task_type is CHAT:
        return await chat(ep, ctx)
    if ep.task_type is COMPLETION:
        return await openai_plugin.PROVIDER.completion(ep, CompletionRequest(input="What is Elastic?"), ctx)
    return await openai_plugin.PROVIDER.text_embedding(ep, EmbeddingRequest(input=("a", "b")), ctx)


def path_for(task: TaskType) -> str:
    return "/v1/embeddings" if task is EMBED else "/v1/chat/completions"


def assert_no_canary(*texts: object) -> None:
    for text in texts:
        assert CANARY not in str(text)


# ---------------------------------------------------------------------------------------------
# Declaration


def test_provider_declaration_matches_elasticsearch() -> None:
    p = openai_plugin.PROVIDER
    assert (p.id, p.name) == ("openai", "OpenAI")
    assert p.task_types == {CHAT, COMPLETION, EMBED}
    assert check_provider_schemas(p) == []
    assert p.auth_schema["properties"]["api_key"]["x-sensitive"] is True
    assert p.settings_schema["properties"]["url"]["default"] == "https://api.openai.com/v1/chat/completions"
    assert p.default_requests_per_minute == {EMBED: 3000, COMPLETION: 500, CHAT: 500}
    # `dimensions` is an embeddings-only field, as ES's supported_task_types says.
    assert "dimensions" in effective_schema(p.settings_schema, EMBED)["properties"]
    assert "dimensions" not in effective_schema(p.settings_schema, CHAT)["properties"]


def test_importing_the_plugin_loads_no_heavy_module() -> None:
    code = (
        "import sys, ai_connector_openai, ai_connector_openai.testing\n"
        "heavy = {'botocore', 'google.auth', 'cryptography', 'aiohttp', 'fastapi', 'sqlalchemy'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_url_is_the_task_endpoint_with_the_es_default_per_task_type() -> None:
    def ep(task: TaskType, url: str | None) -> InferenceEndpoint:
        settings = {"model_id": "m"} if url is None else {"model_id": "m", "url": url}
        return InferenceEndpoint(inference_id="x", task_type=task, settings=settings)

    default = "https://api.openai.com/v1/chat/completions"
    assert openai_plugin.request_url(ep(CHAT, None)) == default
    assert openai_plugin.request_url(ep(COMPLETION, default)) == default
    assert openai_plugin.request_url(ep(EMBED, None)) == "https://api.openai.com/v1/embeddings"
    assert openai_plugin.request_url(ep(EMBED, default)) == "https://api.openai.com/v1/embeddings"
    proxy = "https://llm.example.com/openai/v1/embeddings"
    assert openai_plugin.request_url(ep(EMBED, proxy)) == proxy
    assert openai_plugin.PROVIDER.urls is not None
    assert list(openai_plugin.PROVIDER.urls(ep(EMBED, None), {})) == ["https://api.openai.com/v1/embeddings"]


# ---------------------------------------------------------------------------------------------
# Chat completion


async def test_chat_stream_sends_openai_request_and_yields_unified_chunks(
    server: FakeServer, openai: fake.OpenAIFake, ctx: CallContext
) -> None:
    ep = endpoint(server.url, organization_id="org-123", user="kibana-user", headers={"X-Trace": "t1"})
    request = ChatRequest(
        messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello world"}),
        max_tokens=50,
        temperature=0.2,
        stop=["\n\n"],
    )
    chunks = await chat(ep, ctx, request)

    sent = server.last
    assert (sent.method, sent.path, sent.query_string) == ("POST", "/v1/chat/completions", "")
    assert sent.headers["authorization"] == f"Bearer {CANARY}"
    assert sent.headers["openai-organization"] == "org-123"
    assert sent.headers["x-trace"] == "t1"
    assert sent.json() == {
        "model": fake.CHAT_MODEL,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello world"}],
        "max_completion_tokens": 50,
        "temperature": 0.2,
        "stop": ["\n\n"],
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "kibana-user",
    }
    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "Hello there!"
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].is_usage_only and chunks[-1].usage == Usage(
        prompt_tokens=5, completion_tokens=3, total_tokens=8
    )
    assert sum(1 for c in chunks if c.usage is not None) == 1


async def test_chat_request_model_overrides_the_connector_model_and_tools_pass_through(
    server: FakeServer, ctx: CallContext
) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    first_call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather"}}
    first_call["function"]["arguments"] = ""
    events = fake.sse(
        [
            fake.chat_chunk({"role": "assistant", "content": None, "tool_calls": [first_call]}),
            fake.chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
            fake.chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
            fake.chat_chunk({}, "tool_calls"),
            "[DONE]",
        ]
    )
    server.add("POST", "/v1/chat/completions", fake.stream_response(events))
    earlier_call = {
        "id": "call_0",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    request = ChatRequest(
        messages=(
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": [earlier_call]},
            {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
        ),
        model="gpt-4o",
        tools=tools,
        tool_choice="auto",
    )
    chunks = await chat(endpoint(server.url), ctx, request)

    body = server.last.json()
    assert body["model"] == "gpt-4o" and body["tools"] == tools and body["tool_choice"] == "auto"
    assert body["messages"][1]["tool_calls"][0]["id"] == "call_0"
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_0", "content": "sunny"}
    calls = [t for c in chunks for t in c.tool_calls]
    assert calls[0] == ToolCallDelta(index=0, id="call_1", name="get_weather", arguments="")
    assert "".join(t.arguments or "" for t in calls) == '{"city":"Paris"}'
    assert chunks[-1].finish_reason == "tool_calls"  # no usage asked of this stream's server


async def test_recorded_openai_stream_replays_exactly(server: FakeServer, ctx: CallContext) -> None:
    raw = (STREAMS / "openai.txt").read_bytes()
    pieces = [raw[i : i + 97] for i in range(0, len(raw), 97)]  # chunk edges fall mid-line
    server.add("POST", "/v1/chat/completions", FakeResponse(chunks=pieces, content_type="text/event-stream"))
    chunks = await chat(endpoint(server.url), ctx)

    assert chunks[0].role == "assistant" and chunks[0].model == "gpt-4o-2024-08-06"
    text = "".join(c.content or "" for c in chunks)
    assert text.startswith("I'm unable to provide real-time weather updates.")
    assert text.endswith("reliable weather website or a weather app.")
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].is_usage_only
    assert chunks[-1].usage == Usage(prompt_tokens=14, completion_tokens=30, total_tokens=44)


async def test_spec_example_without_data_prefix_is_refused_as_invalid(
    server: FakeServer, ctx: CallContext
) -> None:
    # The spec's example lists bare chunk JSON (no `data: `, no [DONE]): not an event stream.
    raw = (STREAMS / "openai-spec-example.txt").read_bytes()
    server.add("POST", "/v1/chat/completions", FakeResponse(chunks=[raw], content_type="text/event-stream"))
    with pytest.raises(InvalidResponseError, match="not an event stream"):
        await chat(endpoint(server.url), ctx)


async def test_spec_example_chunks_parse_once_framed_as_sse(ctx: CallContext) -> None:
    lines = (STREAMS / "openai-spec-example.txt").read_text().splitlines()
    framed = "".join(f"data: {line}\n\n" for line in lines if line.startswith("{")) + "data: [DONE]\n\n"

    async def events() -> AsyncIterator[Any]:
        for event in iter_sse_text(framed):
            yield event

    chunks = [c async for c in chat_chunks(events(), ctx=ctx)]
    # Two example streams back to back: one role first and one finish reason, as the unified stream has.
    assert "".join(c.content or "" for c in chunks) == "HelloHello"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert [c.role for c in chunks if c.role] == ["assistant"] and chunks[0].role == "assistant"


async def test_azure_style_empty_choices_and_late_usage_on_the_finish_chunk(ctx: CallContext) -> None:
    text = (
        'data: {"choices":[],"prompt_filter_results":[{"prompt_index":0}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"content_filter_results":{},"finish_reason":null}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        '"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}\n\n'
        "data: [DONE]\n\n"
    )

    async def events() -> AsyncIterator[Any]:
        for event in iter_sse_text(text):
            yield event

    chunks = [c async for c in chat_chunks(events(), ctx=ctx)]
    assert [(c.role, c.content, c.finish_reason, c.usage) for c in chunks] == [
        ("assistant", None, None, None),
        (None, "Hi", None, None),
        (None, None, "stop", None),
        (None, None, None, Usage(prompt_tokens=2, completion_tokens=1, total_tokens=3)),
    ]


# ---------------------------------------------------------------------------------------------
# Completion and embeddings


async def test_completion_is_one_non_streaming_chat_call(
    server: FakeServer, openai: fake.OpenAIFake, ctx: CallContext
) -> None:
    ep = endpoint(server.url, COMPLETION, user="u-1")
    result = await openai_plugin.PROVIDER.completion(ep, CompletionRequest(input="What is Elastic?"), ctx)

    assert result == ["Hello there!"]
    sent = server.last
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == f"Bearer {CANARY}"
    assert sent.json() == {
        "model": fake.CHAT_MODEL,
        "messages": [{"role": "user", "content": "What is Elastic?"}],
        "n": 1,
        "user": "u-1",
    }


async def test_completion_returns_a_refusal_as_the_answer(server: FakeServer, ctx: CallContext) -> None:
    body = fake.chat_completion_body("x")
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "refusal": "I can't help with that.",
    }
    server.add("POST", "/v1/chat/completions", FakeResponse.json(body))
    ep = endpoint(server.url, COMPLETION)
    assert await openai_plugin.PROVIDER.completion(ep, CompletionRequest(input="x"), ctx) == [
        "I can't help with that."
    ]


async def test_text_embedding_posts_to_embeddings_with_dimensions_and_user(
    server: FakeServer, openai: fake.OpenAIFake, ctx: CallContext
) -> None:
    ep = endpoint(server.url, EMBED, dimensions=3, user="u-2")
    vectors = await openai_plugin.PROVIDER.text_embedding(
        ep, EmbeddingRequest(input=("a", "b"), input_type="ingest"), ctx
    )

    sent = server.last
    assert (sent.path, sent.headers["authorization"]) == ("/v1/embeddings", f"Bearer {CANARY}")
    assert sent.json() == {"model": fake.EMBEDDING_MODEL, "input": ["a", "b"], "dimensions": 3, "user": "u-2"}
    assert vectors == [[0.1, 0.11, 0.12], [0.2, 0.21, 0.22]]


async def test_embeddings_come_back_in_input_order(server: FakeServer, ctx: CallContext) -> None:
    body = fake.embeddings_body([[1.0], [2.0], [3.0]], order=[2, 0, 1])
    server.add("POST", "/v1/embeddings", FakeResponse.json(body))
    vectors = await openai_plugin.PROVIDER.text_embedding(
        endpoint(server.url, EMBED), EmbeddingRequest(("a", "b", "c")), ctx
    )
    assert vectors == [[1.0], [2.0], [3.0]]


async def test_embeddings_count_mismatch_is_an_invalid_response(server: FakeServer, ctx: CallContext) -> None:
    server.add("POST", "/v1/embeddings", FakeResponse.json(fake.embeddings_body([[1.0]])))
    with pytest.raises(InvalidResponseError, match="asked for 2 embeddings, got 1"):
        await openai_plugin.PROVIDER.text_embedding(
            endpoint(server.url, EMBED), EmbeddingRequest(("a", "b")), ctx
        )


# ---------------------------------------------------------------------------------------------
# Errors, for every task type


ERRORS = [
    pytest.param(fake.invalid_api_key_response("sk-wrong-key-1234567890"), AuthenticationError, 401,
                 "invalid_api_key", False, None, id="401-invalid_api_key"),
    pytest.param(fake.model_not_found_response("gpt-9"), ModelNotFoundError, 404,
                 "model_not_found", False, None, id="404-model_not_found"),
    pytest.param(fake.rate_limit_response(retry_after="7"), RateLimitError, 429,
                 "rate_limit_exceeded", True, 7.0, id="429-retry-after"),
    pytest.param(fake.rate_limit_response(retry_after="7", retry_after_ms="1500"), RateLimitError, 429,
                 "rate_limit_exceeded", True, 1.5, id="429-retry-after-ms"),
    pytest.param(fake.insufficient_quota_response(), RateLimitError, 429,
                 "insufficient_quota", False, None, id="429-insufficient_quota"),
    pytest.param(fake.server_error_response(), ProviderServerError, 500,
                 "server_error", True, None, id="500"),
]  # fmt: skip


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
@pytest.mark.parametrize(("answer", "cls", "status", "code", "retryable", "retry_after"), ERRORS)
async def test_documented_error_bodies_become_typed_errors(
    server: FakeServer,
    ctx: CallContext,
    task: TaskType,
    answer: FakeResponse,
    cls: type[ProviderError],
    status: int,
    code: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    server.add("POST", path_for(task), answer)
    with pytest.raises(cls) as info:
        await run_task(endpoint(server.url, task), ctx)
    err = info.value
    assert (err.status, err.code, err.retryable, err.retry_after) == (status, code, retryable, retry_after)
    assert err.provider == "openai" and err.provider_message and err.provider_message in str(err)
    assert_no_canary(err, repr(err), err.provider_message)


async def test_a_wrong_key_is_refused_by_the_fake_with_openais_masked_echo(
    server: FakeServer, openai: fake.OpenAIFake, ctx: CallContext
) -> None:
    with pytest.raises(AuthenticationError) as info:
        await chat(endpoint(server.url, key="sk-proj-abcdefghijklmnop-wjh3"), ctx)
    assert "Incorrect API key provided: sk-proj-***...wjh3" in str(info.value)
    assert "abcdefghijklmnop" not in str(info.value)


async def test_an_echoed_secret_is_redacted_from_provider_messages(
    server: FakeServer, ctx: CallContext
) -> None:
    body = fake.error_body(
        f"Incorrect API key provided: {CANARY}.", "invalid_request_error", "invalid_api_key"
    )
    server.add("POST", "/v1/chat/completions", FakeResponse.json(body, 401))
    with pytest.raises(AuthenticationError) as info:
        await chat(endpoint(server.url), ctx)
    assert_no_canary(info.value, info.value.provider_message)


async def test_x_should_retry_overrides_the_default(server: FakeServer, ctx: CallContext) -> None:
    answer = fake.server_error_response()
    answer.headers = {"x-should-retry": "false"}
    server.add("POST", "/v1/chat/completions", answer)
    with pytest.raises(ProviderServerError) as info:
        await chat(endpoint(server.url), ctx)
    assert info.value.retryable is False


@pytest.mark.parametrize("task", [COMPLETION, EMBED], ids=lambda t: t.value)
async def test_malformed_json_body_is_an_invalid_response(
    server: FakeServer, ctx: CallContext, task: TaskType
) -> None:
    server.add("POST", path_for(task), fake.malformed_json_response())
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await run_task(endpoint(server.url, task), ctx)


async def test_completion_without_choices_is_an_invalid_response(
    server: FakeServer, ctx: CallContext
) -> None:
    server.add("POST", "/v1/chat/completions", FakeResponse.json({"id": "x", "choices": []}))
    with pytest.raises(InvalidResponseError, match="choices"):
        await run_task(endpoint(server.url, COMPLETION), ctx)


async def test_malformed_json_in_a_stream_event_is_an_invalid_response(
    server: FakeServer, ctx: CallContext
) -> None:
    events = [*fake.chat_stream_events(["Hi"])[:2], 'data: {"id": "chatcmpl-1", "choi\n\n']
    server.add("POST", "/v1/chat/completions", fake.stream_response(events))
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await chat(endpoint(server.url), ctx)


async def test_a_chunk_of_the_wrong_shape_is_an_invalid_response(
    server: FakeServer, ctx: CallContext
) -> None:
    events = fake.sse([{"choices": [{"index": 0, "delta": {"content": 42}}]}, "[DONE]"])
    server.add("POST", "/v1/chat/completions", fake.stream_response(events))
    with pytest.raises(InvalidResponseError, match=r"not a chat\.completion\.chunk"):
        await chat(endpoint(server.url), ctx)


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
async def test_unreachable_host_is_typed(ctx: CallContext, task: TaskType) -> None:
    with pytest.raises(UnreachableError):
        await run_task(endpoint("http://127.0.0.1:9", task), ctx)


async def test_a_stream_that_breaks_halfway_is_interrupted(server: FakeServer, ctx: CallContext) -> None:
    events = fake.chat_stream_events(["Hel", "lo", " wor", "ld"])
    server.add("POST", "/v1/chat/completions", fake.stream_response(events, abort_after=3))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError):
        async for chunk in openai_plugin.PROVIDER.chat_completion_stream(endpoint(server.url), HELLO, ctx):
            received.append(chunk)
    assert "".join(c.content or "" for c in received) == "Hello"


async def test_a_stream_that_ends_without_done_is_interrupted(server: FakeServer, ctx: CallContext) -> None:
    events = fake.chat_stream_events(["Hi"], done=False)
    server.add("POST", "/v1/chat/completions", fake.stream_response(events))
    with pytest.raises(StreamInterruptedError, match=r"before `data: \[DONE\]`"):
        await chat(endpoint(server.url), ctx)


async def test_a_mid_stream_error_event_is_interrupted_with_openais_message(
    server: FakeServer, ctx: CallContext
) -> None:
    server.add("POST", "/v1/chat/completions", fake.midstream_error_response(["Hel"]))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError) as info:
        async for chunk in openai_plugin.PROVIDER.chat_completion_stream(endpoint(server.url), HELLO, ctx):
            received.append(chunk)
    assert info.value.provider_message == "The server had an error while processing your request."
    assert info.value.code == "server_error" and not info.value.retryable
    assert "".join(c.content or "" for c in received) == "Hel"


# ---------------------------------------------------------------------------------------------
# Save & test


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
async def test_save_and_test_makes_one_minimal_real_call(
    server: FakeServer, openai: fake.OpenAIFake, ctx: CallContext, task: TaskType
) -> None:
    result = await openai_plugin.PROVIDER.test(endpoint(server.url, task), ctx)

    assert result.ok and result.failure is None and result.latency_ms is not None
    assert len(server.requests) == 1
    sent = server.last
    assert sent.path == path_for(task)
    body = sent.json()
    if task is EMBED:
        assert body == {"model": fake.EMBEDDING_MODEL, "input": ["Hello world"]}
    else:
        assert body["messages"] == [{"role": "user", "content": "Hello world"}]
        assert body["max_completion_tokens"] == 1
        assert body.get("stream", False) is (task is CHAT)


WRONG_KEY = "sk-wrong-key-1234567890"
FAILURES = [
    pytest.param(fake.invalid_api_key_response(WRONG_KEY), FailureKind.CREDENTIALS, id="credentials"),
    pytest.param(fake.model_not_found_response("gpt-9"), FailureKind.MODEL_NOT_FOUND, id="model_not_found"),
    pytest.param(fake.rate_limit_response(), FailureKind.RATE_LIMITED, id="rate_limited"),
    pytest.param(fake.malformed_json_response(), FailureKind.INVALID_RESPONSE, id="invalid_response"),
    pytest.param(fake.server_error_response(), FailureKind.PROVIDER_ERROR, id="provider_error"),
]  # fmt: skip


@pytest.mark.parametrize("task", [CHAT, COMPLETION, EMBED], ids=lambda t: t.value)
@pytest.mark.parametrize(("answer", "kind"), FAILURES)
async def test_save_and_test_reports_the_failure_kind_without_the_key(
    server: FakeServer,
    ctx: CallContext,
    caplog: pytest.LogCaptureFixture,
    task: TaskType,
    answer: FakeResponse,
    kind: FailureKind,
) -> None:
    server.add("POST", path_for(task), answer)
    with caplog.at_level(logging.DEBUG):
        result = await openai_plugin.PROVIDER.test(endpoint(server.url, task), ctx)
    assert not result.ok and result.failure is kind
    assert_no_canary(result, result.to_dict(), result.message, caplog.text)


async def test_save_and_test_of_an_unreachable_url(ctx: CallContext) -> None:
    result = await openai_plugin.PROVIDER.test(endpoint("http://127.0.0.1:9"), ctx)
    assert not result.ok and result.failure is FailureKind.UNREACHABLE


async def test_save_and_test_with_a_wrong_model_against_the_fake(
    server: FakeServer, openai: fake.OpenAIFake, ctx: CallContext
) -> None:
    result = await openai_plugin.PROVIDER.test(endpoint(server.url, model_id="gpt-does-not-exist"), ctx)
    assert result.failure is FailureKind.MODEL_NOT_FOUND
    assert "The model `gpt-does-not-exist` does not exist" in result.message


async def test_missing_key_is_a_config_error_before_any_request(server: FakeServer, ctx: CallContext) -> None:
    ep = endpoint(server.url, key=None)
    with pytest.raises(ConfigValidationError, match="API Key is required"):
        await chat(ep, ctx)
    result = await openai_plugin.PROVIDER.test(ep, ctx)
    assert result.failure is FailureKind.CONFIG and server.requests == []


# ---------------------------------------------------------------------------------------------
# The fake's cross-provider helpers


async def test_connector_and_serve_chat_work_together(server: FakeServer, ctx: CallContext) -> None:
    fake.serve_chat(server, ["Hi", " you"], prompt_tokens=11, completion_tokens=2)
    config, secrets = fake.connector(server.url)
    ep = InferenceEndpoint(inference_id="x", task_type=CHAT, settings=config, secrets=Secrets(secrets))
    chunks = await chat(ep, ctx)
    assert "".join(c.content or "" for c in chunks) == "Hi you"
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].usage == Usage(prompt_tokens=11, completion_tokens=2, total_tokens=13)
    assert await openai_plugin.PROVIDER.completion(
        InferenceEndpoint(inference_id="y", task_type=COMPLETION, settings=config, secrets=Secrets(secrets)),
        CompletionRequest(input="x"),
        ctx,
    ) == ["Hi you"]


class TestContract(ProviderContract):
    """The shared provider contract kit, against the OpenAI fake."""

    provider_id = "openai"
    fake = openai_testing.FAKE

    def connector_settings(self, base_url: str, task_type: TaskType) -> tuple[dict, dict]:
        return fake.connector(base_url, task_type.value, secret=self.canary)

    def serve_rejected_credentials(self, server: FakeServer) -> None:
        fake.OpenAIFake(server, api_key="sk-the-only-valid-key-0123456789").install()
