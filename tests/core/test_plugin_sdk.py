"""The plugin author's SDK: a small public surface, a call context that does the chores (errors that
know their provider, one call for JSON, one for SSE, through the provider's error parser), schema
fields with Elasticsearch's labels, a default Save & test, and the OpenAI-compatible kit."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import ai_connector.plugin as sdk
from ai_connector.context import CallContext
from ai_connector.http import build_client
from ai_connector.openai_kit import chat_chunks
from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
    ChatRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    ModelNotFoundError,
    Provider,
    ProviderError,
    RerankRequest,
    RerankResult,
    StreamInterruptedError,
    TaskType,
    Usage,
    error_for_status,
    fields,
    openai_compatible,
)
from ai_connector.redaction import Redactor
from ai_connector.sse import iter_sse_text
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind, Secrets
from ai_connector.validation import check_provider_schemas

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-sdk-canary-5f1e0c"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh(server: FakeServer) -> None:
    server.reset()


@pytest.fixture
async def ctx() -> AsyncIterator[CallContext]:
    async with build_client() as client:
        yield CallContext(client=client, provider_id="demo", redactor=Redactor([SECRET]))


def endpoint(task: TaskType = TaskType.CHAT_COMPLETION, **settings: Any) -> InferenceEndpoint:
    return InferenceEndpoint(
        inference_id="demo-1", task_type=task, settings=settings, secrets=Secrets({"api_key": SECRET})
    )


def demo_error(status: int, headers: Any, body: bytes) -> ProviderError:
    """A provider's own error parser: its body's `problem` text, 401 as credentials."""
    text = json.loads(body).get("problem") if body else None
    cls = AuthenticationError if status == 401 else None
    return error_for_status(status, text, headers=headers, cls=cls)


# ---------------------------------------------------------------------------------------------
# The public surface


def test_the_public_api_is_small_and_holds_no_host_internals() -> None:
    assert 25 <= len(sdk.__all__) <= 35
    for internal in ("DEFAULT_TIMEOUT", "DEFAULT_MAX_RESPONSE_BYTES", "UrlPolicy", "Redactor", "Secrets"):
        assert internal not in sdk.__all__ and not hasattr(sdk, internal)
    assert all(hasattr(sdk, name) for name in sdk.__all__)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.split(".")[0] == "ai_connector"}


@pytest.mark.parametrize("root", ["plugins", "examples"])
def test_plugins_import_only_the_public_api(root: str) -> None:
    sources = [p for p in (ROOT / root).rglob("*.py") if "tests" not in p.parts and p.name != "testing.py"]
    assert sources
    for path in sources:
        assert _imported_modules(path) <= {"ai_connector.plugin"}, path


def test_field_builders_carry_elasticsearchs_labels_and_flags() -> None:
    # ES DefaultSecretSettings / RateLimitSettings (kibana-ai-connector.md section 3.1).
    assert fields.api_key() == {
        "type": "string",
        "title": "API Key",
        "description": "API Key for the provider you're connecting to.",
        "x-sensitive": True,
        "x-updatable": True,
    }
    limit = fields.rate_limit()["properties"]["requests_per_minute"]
    assert (limit["title"], limit["description"], limit["x-updatable"]) == (
        "Rate Limit",
        "Minimize the number of rate limit errors.",
        False,
    )
    assert fields.model_id()["title"] == "Model ID" and fields.model_id()["x-updatable"] is False
    url = fields.url(default="https://x.example/v1")
    assert (url["title"], url["format"], url["default"], url["x-updatable"]) == (
        "URL",
        "uri",
        "https://x.example/v1",
        False,
    )
    schema = fields.schema(
        {"model_id": fields.model_id(), "api_key": fields.api_key()}, required=["model_id"]
    )
    assert schema["required"] == ["model_id"] and schema["additionalProperties"] is False


# ---------------------------------------------------------------------------------------------
# The call context's chores


def _demo(**calls: Any) -> Provider:
    return Provider(
        id="demo",
        name="Demo",
        task_types=frozenset({TaskType(t) for t in calls.pop("tasks", ["chat_completion"])}),
        settings_schema=fields.schema({"url": fields.url()}),
        parse_error=demo_error,
        **calls,
    )


async def test_errors_name_the_calling_provider_without_being_told(ctx: CallContext) -> None:
    async def chat(ep: InferenceEndpoint, request: ChatRequest, ctx: CallContext) -> AsyncIterator[ChatChunk]:
        yield ChatChunk(role="assistant")
        raise StreamInterruptedError("broke off")

    async def embed(ep: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext) -> list[list[float]]:
        raise error_for_status(404, "no such model")

    provider = _demo(
        tasks=["chat_completion", "text_embedding"], chat_completion_stream=chat, text_embedding=embed
    )
    with pytest.raises(StreamInterruptedError) as broke:
        async for _ in provider.chat_completion_stream(endpoint(), ChatRequest(messages=()), ctx):
            pass
    assert broke.value.provider == "demo"
    with pytest.raises(ModelNotFoundError) as missing:
        await provider.text_embedding(endpoint(TaskType.TEXT_EMBEDDING), EmbeddingRequest(input=("a",)), ctx)
    assert (
        missing.value.provider == "demo" and str(missing.value) == "demo returned status 404: no such model"
    )
    # Outside any provider's call nothing is assumed.
    assert ProviderError("x").provider is None


async def test_send_json_returns_the_answer_or_the_providers_typed_error_redacted(
    server: FakeServer, ctx: CallContext
) -> None:
    server.add("POST", "/ok", FakeResponse.json({"answer": 42}))
    server.add("POST", "/refused", FakeResponse.json({"problem": f"key {SECRET} refused"}, status=401))

    async def embed(ep: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext) -> list[list[float]]:
        answer = await ctx.send_json("POST", ep.settings["url"], json={"input": list(request.input)})
        return [[float(answer["answer"])]]

    provider = _demo(tasks=["text_embedding"], text_embedding=embed)
    ok = endpoint(TaskType.TEXT_EMBEDDING, url=server.url + "/ok")
    assert await provider.text_embedding(ok, EmbeddingRequest(input=("a",)), ctx) == [[42.0]]
    assert server.last.json() == {"input": ["a"]}

    refused = endpoint(TaskType.TEXT_EMBEDDING, url=server.url + "/refused")
    with pytest.raises(AuthenticationError) as info:
        await provider.text_embedding(refused, EmbeddingRequest(input=("a",)), ctx)
    assert info.value.provider == "demo" and info.value.status == 401
    assert SECRET not in str(info.value) and SECRET not in (info.value.provider_message or "")


async def test_open_sse_yields_events_or_raises_the_typed_error(server: FakeServer, ctx: CallContext) -> None:
    server.add("POST", "/stream", FakeResponse(chunks=["data: one\n\n", "data: two\n\n"]))
    server.add(
        "POST", "/busy", FakeResponse.json({"problem": "slow down"}, status=429, headers={"retry-after": "7"})
    )

    async def read(url: str) -> list[str]:
        async def chat(ep: InferenceEndpoint, r: ChatRequest, ctx: CallContext) -> AsyncIterator[ChatChunk]:
            async with ctx.open_sse("POST", url, json={}) as events:
                async for event in events:
                    yield ChatChunk(content=event.data)

        bound = _demo(chat_completion_stream=chat)
        return [c.content or "" async for c in bound.chat_completion_stream(endpoint(), ChatRequest(()), ctx)]

    assert await read(server.url + "/stream") == ["one", "two"]
    with pytest.raises(ProviderError) as info:
        await read(server.url + "/busy")
    assert info.value.kind is FailureKind.RATE_LIMITED and info.value.retry_after == 7.0
    assert info.value.provider_message == "slow down"


# ---------------------------------------------------------------------------------------------
# The default Save & test


async def test_a_provider_without_a_test_gets_a_minimal_call_per_task_type(ctx: CallContext) -> None:
    seen: list[Any] = []

    async def chat(ep: InferenceEndpoint, request: ChatRequest, ctx: CallContext) -> AsyncIterator[ChatChunk]:
        seen.append(request)
        yield ChatChunk(role="assistant", content="Hi")

    async def embed(ep: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext) -> list[list[float]]:
        seen.append(request)
        return [[0.1]]

    async def rerank(ep: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
        seen.append(request)
        raise error_for_status(401, "bad key")

    provider = _demo(
        tasks=["chat_completion", "text_embedding", "rerank"],
        chat_completion_stream=chat,
        text_embedding=embed,
        rerank=rerank,
    )
    assert (await provider.test(endpoint(TaskType.CHAT_COMPLETION), ctx)).ok
    assert (await provider.test(endpoint(TaskType.TEXT_EMBEDDING), ctx)).ok
    failed = await provider.test(endpoint(TaskType.RERANK), ctx)
    assert not failed.ok and failed.failure is FailureKind.CREDENTIALS and failed.status_code == 401
    hello, word, docs = seen
    assert hello.messages == ({"role": "user", "content": "Hello world"},) and hello.max_tokens == 1
    assert len(word.input) == 1 and len(docs.input) == 2


# ---------------------------------------------------------------------------------------------
# The OpenAI-compatible kit


def _events(text: str) -> AsyncIterator[Any]:
    async def gen() -> AsyncIterator[Any]:
        for event in iter_sse_text(text):
            yield event

    return gen()


def _sse(*objs: Any) -> str:
    return "".join(f"data: {o if isinstance(o, str) else json.dumps(o)}\n\n" for o in objs)


async def test_the_kit_stream_keeps_choice_zero_refusals_one_finish_and_usage_last(ctx: CallContext) -> None:
    text = _sse(
        {"choices": [{"index": 1, "delta": {"role": "assistant", "content": "other"}}]},
        {"choices": [{"index": 1, "delta": {}}, {"index": 0, "delta": {"refusal": "I can't"}}]},
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f"}}]}}
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 2}},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        "[DONE]",
    )
    chunks = [c async for c in chat_chunks(_events(text), ctx=ctx)]
    assert chunks[0] == ChatChunk(role="assistant")
    assert "".join(c.refusal or "" for c in chunks) == "I can't"  # a refusal stays a refusal
    assert all(c.content is None for c in chunks)
    assert [t.name for c in chunks for t in c.tool_calls] == ["f"]
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].is_usage_only and chunks[-1].usage == Usage(prompt_tokens=2)
    assert sum(c.usage is not None for c in chunks) == 1


async def test_a_mid_stream_error_event_is_typed_and_names_the_provider(ctx: CallContext) -> None:
    text = _sse({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}, {"error": {"message": "overloaded"}})
    with pytest.raises(StreamInterruptedError, match="demo: the stream carried an error: overloaded"):
        async for _ in chat_chunks(_events(text), ctx=ctx):
            pass


def test_one_call_declares_a_whole_openai_compatible_provider() -> None:
    groq = openai_compatible(
        id="groq", name="Groq", base_url="https://api.groq.com/openai/v1", task_types=["chat_completion"]
    )
    assert groq.task_types == {TaskType.CHAT_COMPLETION} and check_provider_schemas(groq) == []
    assert groq.settings_schema["properties"]["url"]["default"] == "https://api.groq.com/openai/v1"
    assert groq.settings_schema["required"] == ("model_id",)
    assert groq.auth_schema["required"] == ("api_key",)
    assert groq.urls is not None
    ep = InferenceEndpoint(inference_id="g", task_type=TaskType.CHAT_COMPLETION, settings={"model_id": "m"})
    assert list(groq.urls(ep, {})) == ["https://api.groq.com/openai/v1/chat/completions"]
    local = openai_compatible(id="local", name="Local", api_key="none", headers={"X-Team": "a"})
    assert "api_key" not in local.auth_schema["properties"]
    assert local.settings_schema["required"] == ("url", "model_id")


def _models(*ids: str) -> FakeResponse:
    return FakeResponse.json({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})


def _compatible_endpoint(url: str, model: str = "llama3.2") -> InferenceEndpoint:
    return InferenceEndpoint(
        inference_id="c",
        task_type=TaskType.CHAT_COMPLETION,
        settings={"url": url, "model_id": model},
        secrets=Secrets({"api_key": SECRET}),
        headers={"X-Team": "a"},
    )


async def test_openai_compatible_save_and_test_lists_the_models(server: FakeServer, ctx: CallContext) -> None:
    from ai_connector_openai_compatible import PROVIDER

    server.add("GET", "/v1/models", _models("llama3.2", "qwen2.5"))
    result = await PROVIDER.test(_compatible_endpoint(server.url + "/v1"), ctx)
    assert result.ok and "'llama3.2'" in result.message and "2 models" in result.message
    sent = server.last
    assert (sent.method, sent.path) == ("GET", "/v1/models")
    assert sent.headers["authorization"] == f"Bearer {SECRET}" and sent.headers["x-team"] == "a"

    missing = await PROVIDER.test(_compatible_endpoint(server.url + "/v1", "mistral"), ctx)
    assert not missing.ok and missing.failure is FailureKind.MODEL_NOT_FOUND
    assert "'mistral'" in missing.message and "llama3.2, qwen2.5" in missing.message


async def test_openai_compatible_without_a_model_list_proves_itself_with_one_token(
    server: FakeServer, ctx: CallContext
) -> None:
    from ai_connector_openai_compatible import PROVIDER

    server.add("GET", "/v1/models", FakeResponse.json({"error": {"message": "not found"}}, status=404))
    stream = _sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        "[DONE]",
    )
    server.add(
        "POST", "/v1/chat/completions", FakeResponse(chunks=[stream], content_type="text/event-stream")
    )
    result = await PROVIDER.test(_compatible_endpoint(server.url + "/v1"), ctx)
    assert result.ok
    body = server.last.json()
    assert body["messages"] == [{"role": "user", "content": "Hello world"}] and body["max_tokens"] == 1
