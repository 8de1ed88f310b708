"""Helpers of the runtime tests: a fake provider ("fakellm") registered directly, speaking a small
OpenAI-like wire to a real local FakeServer, so the runtime's client, transport, retries and
cancellation are exercised over real HTTP; wire helpers; and a fake clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ai_connector.manager import ProviderRegistry
from ai_connector.openai_kit import chat_request_to_openai, chunk_from_openai, openai_error_fields
from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    Provider,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    StreamInterruptedError,
    TaskType,
    error_for_status,
    hookimpl,
)
from ai_connector.routines import default_test
from ai_connector.sse import aiter_sse
from ai_connector.testing import FakeResponse
from ai_connector.validation import ValidatedConnector, validate_connector

API_KEY = "sk-runtime-test-canary-0123456789"
TRANSPORTS = ("httpx", "aiohttp")

SETTINGS = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "title": "URL", "format": "uri"},
        "model_id": {"type": "string", "title": "Model ID"},
        "rate_limit": {
            "type": "object",
            "title": "Rate limit",
            "properties": {"requests_per_minute": {"type": "integer", "title": "Rate Limit", "minimum": 1}},
        },
    },
    "required": ["url"],
    "additionalProperties": False,
}
AUTH = {
    "type": "object",
    "properties": {"api_key": {"type": "string", "title": "API Key", "x-sensitive": True}},
    "required": ["api_key"],
    "additionalProperties": False,
}

# What the hooks saw, for the lifecycle tests.
HOOK_CALLS: list[tuple[str, Any]] = []


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    return {"authorization": f"Bearer {endpoint.secrets['api_key']}"}


def _raise_for(resp: Any, body: bytes) -> None:
    message, code, _ = openai_error_fields(body)
    raise error_for_status(resp.status_code, message, provider="fakellm", headers=resp.headers, code=code)


# How the fake plugin sends its chat stream: httpx's API (`ctx.stream`), or the context's helper
# (`ctx.open_sse`), which takes the host's short path on the aiohttp transport (the `way` fixture).
WAY = {"helpers": False}


async def chat(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    body = chat_request_to_openai(request, model=endpoint.settings.get("model_id"))
    url, headers = endpoint.settings["url"] + "/chat", _headers(endpoint)
    if WAY["helpers"]:
        async with ctx.open_sse("POST", url, json=body, headers=headers) as events:
            async for chunk in _chat_chunks(events):
                yield chunk
        return
    async with ctx.stream("POST", url, json=body, headers=headers) as resp:
        if resp.status_code >= 400:
            _raise_for(resp, await ctx.read_error_body(resp))
        async for chunk in _chat_chunks(aiter_sse(ctx.iter_bytes(resp))):
            yield chunk


async def _chat_chunks(events: AsyncIterator[Any]) -> AsyncIterator[ChatChunk]:
    async for event in events:
        if event.data == "[DONE]":
            return
        obj = json.loads(event.data)
        if "error" in obj:
            err = obj["error"]
            raise StreamInterruptedError(
                f"fakellm stream error: {err.get('message') or err.get('reason')}", provider="fakellm"
            )
        chunk = chunk_from_openai(obj)
        if chunk is not None:
            yield chunk


async def _post(endpoint: InferenceEndpoint, ctx: CallContext, path: str, body: Any) -> Any:
    if WAY["helpers"]:
        return await ctx.send_json(
            "POST", endpoint.settings["url"] + path, json=body, headers=_headers(endpoint)
        )
    resp = await ctx.request("POST", endpoint.settings["url"] + path, json=body, headers=_headers(endpoint))
    if resp.status_code >= 400:
        _raise_for(resp, resp.content)
    try:
        return resp.json()
    except ValueError:
        raise InvalidResponseError(
            "fakellm answered something that is not JSON", provider="fakellm"
        ) from None


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    if request.input == "crash":  # a plugin bug whose message holds the key
        raise KeyError(f"no field in answer for key {endpoint.secrets['api_key']}")
    data = await _post(endpoint, ctx, "/completion", {"input": request.input})
    return [c["result"] for c in data["completion"]]


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    data = await _post(
        endpoint, ctx, "/embed", {"input": list(request.input), "input_type": request.input_type}
    )
    return [e["embedding"] for e in data["text_embedding"]]


async def sparse_embedding(
    endpoint: InferenceEndpoint, request: SparseEmbeddingRequest, ctx: CallContext
) -> list[dict[str, float]]:
    data = await _post(endpoint, ctx, "/sparse", {"input": list(request.input)})
    return data["sparse_embedding"]


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    data = await _post(endpoint, ctx, "/rerank", {"input": list(request.input), "query": request.query})
    return [
        RerankResult(index=r["index"], score=r["relevance_score"], text=r.get("text")) for r in data["rerank"]
    ]


async def on_save(endpoint: InferenceEndpoint, ctx: CallContext, is_update: bool) -> None:
    HOOK_CALLS.append(("on_save", is_update))
    await _post(endpoint, ctx, "/hook", {"hook": "on_save", "is_update": is_update})


async def on_delete(endpoint: InferenceEndpoint, ctx: CallContext) -> None:
    HOOK_CALLS.append(("on_delete", endpoint.inference_id))


CALLS = {
    TaskType.CHAT_COMPLETION: chat,
    TaskType.COMPLETION: completion,
    TaskType.TEXT_EMBEDDING: text_embedding,
    TaskType.SPARSE_EMBEDDING: sparse_embedding,
    TaskType.RERANK: rerank,
}


class FakePlugin:
    """The plugin object registered with load_registry(plugins=[("fake", FakePlugin())])."""

    @hookimpl
    def ai_connector_providers(self) -> Iterable[Provider]:
        yield Provider(
            id="fakellm",
            name="Fake LLM",
            task_types=frozenset(TaskType),
            settings_schema=SETTINGS,
            auth_schema=AUTH,
            test=default_test(CALLS),
            chat_completion_stream=chat,
            completion=completion,
            text_embedding=text_embedding,
            sparse_embedding=sparse_embedding,
            rerank=rerank,
            on_save=on_save,
            on_delete=on_delete,
            urls=lambda endpoint, host: [endpoint.settings["url"]],
        )
        # The same service, but it only embeds and declares ES-style default rate limits.
        yield Provider(
            id="fakeembed",
            name="Fake Embeddings",
            task_types=frozenset({TaskType.TEXT_EMBEDDING}),
            settings_schema=SETTINGS,
            auth_schema=AUTH,
            test=default_test({TaskType.TEXT_EMBEDDING: text_embedding}),
            text_embedding=text_embedding,
            default_requests_per_minute={TaskType.TEXT_EMBEDDING: 60},
        )


def make_connector(
    registry: ProviderRegistry,
    url: str,
    task_type: str = "chat_completion",
    *,
    provider: str = "fakellm",
    connector_id: str | None = "conn-1",
    rpm: int | None = None,
    context_window: int | None = None,
    model: str | None = "fake-model-1",
) -> ValidatedConnector:
    """A validated connector of the fake provider pointing at `url`."""
    provider_config: dict[str, Any] = {"url": url}
    if model:
        provider_config["model_id"] = model
    if rpm is not None:
        provider_config["rate_limit.requests_per_minute"] = rpm
    config: dict[str, Any] = {
        "provider": provider,
        "taskType": task_type,
        "inferenceId": f"{provider}-{task_type}-test",
        "providerConfig": provider_config,
    }
    if context_window is not None:
        config["contextWindowLength"] = context_window
    doc = {
        "name": "test connector",
        "connector_type_id": ".inference",
        "config": config,
        "secrets": {"providerSecrets": {"api_key": API_KEY}},
    }
    return validate_connector(doc, registry, connector_id=connector_id)


# -- OpenAI-style wire helpers ------------------------------------------------------------------------


def sse(*objs: Any, done: bool = True) -> list[str]:
    """SSE events for each object (JSON-encoded unless already a string), then `[DONE]`."""
    out = [f"data: {o if isinstance(o, str) else json.dumps(o)}\n\n" for o in objs]
    if done:
        out.append("data: [DONE]\n\n")
    return out


def chunk(
    content: str | None = None,
    *,
    role: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
) -> dict[str, Any]:
    """An upstream `chat.completion.chunk` with one choice."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake-model-1",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def usage_chunk(prompt: int = 9, completion: int = 12) -> dict[str, Any]:
    """The trailing usage chunk (empty choices)."""
    return {
        "id": "chatcmpl-upstream",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake-model-1",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def hello_stream(*pieces: str, usage: bool = True) -> FakeResponse:
    """A streamed answer made of `pieces`, ended with stop (and a usage chunk)."""
    objs: list[Any] = [chunk(role="assistant", content="")]
    objs += [chunk(p) for p in pieces]
    objs.append(chunk(finish_reason="stop"))
    if usage:
        objs.append(usage_chunk())
    return FakeResponse(chunks=sse(*objs), content_type="text/event-stream")


def endless_stream(delay: float = 0.05, pieces: int = 400) -> FakeResponse:
    """A long stream that trickles one chunk every `delay` seconds (for cancellation tests)."""
    objs = [chunk(role="assistant", content="")] + [chunk(f"w{i} ") for i in range(pieces)]
    return FakeResponse(chunks=sse(*objs), chunk_delay=delay, content_type="text/event-stream")


def hello_params(text: str = "Hello world", **body: Any) -> dict[str, Any]:
    """unified_completion params with one user message."""
    return {"body": {"messages": [{"role": "user", "content": text}], **body}}


# -- fake time -------------------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when the code under test sleeps through `sleep`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
