"""OpenAI's HTTP wire protocol, as OpenAI and Azure OpenAI both speak it: error bodies to typed
errors, the `chat.completion.chunk` SSE stream to unified ChatChunks, and the non-streaming chat and
embeddings responses to results.

Both plugins call these with their own URL, headers and body; only that glue differs between them.
The request and chunk shapes themselves come from the core (`chat_request_to_openai`,
`chunk_from_openai`, `openai_error_fields`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    ChatRequest,
    ConfigValidationError,
    EmbeddingRequest,
    FailureKind,
    InferenceEndpoint,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ServerSentEvent,
    StreamInterruptedError,
    TaskType,
    TestResult,
    Usage,
    aiter_sse,
    chunk_from_openai,
    error_for_status,
    openai_error_fields,
    run_test,
)

__all__ = [
    "chat_chunks",
    "completion_results",
    "embedding_vectors",
    "error_from_response",
    "hello_test",
    "post_json",
    "stream_chat",
]

TEST_INPUT = "Hello world"

# A spent quota or credit balance will not come back by waiting (wire.md section 1).
_QUOTA_CODES = frozenset({"insufficient_quota", "credit_balance_exhausted"})
# OpenAI's unknown model and Azure's unknown deployment, whatever status carries them.
_NOT_FOUND_CODES = frozenset({"model_not_found", "DeploymentNotFound"})
_MALFORMED_CHUNK = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str,
    ctx: CallContext,
) -> ProviderError:
    """The typed error for an OpenAI-shaped error answer `{"error": {message, type, param, code}}`.

    A quota 429 is not retryable; `x-should-retry` (which openai-python obeys) overrides the default.
    """
    message, code, kind = openai_error_fields(body)
    if message is not None:
        message = ctx.redact(message)
    cls = ModelNotFoundError if code in _NOT_FOUND_CODES else None
    retryable: bool | None = None
    if status == 429 and (code in _QUOTA_CODES or kind in _QUOTA_CODES):
        retryable = False
    hint = headers.get("x-should-retry")
    if hint in ("true", "false"):
        retryable = hint == "true"
    return error_for_status(
        status, message, provider=provider, headers=headers, code=code or kind, retryable=retryable, cls=cls
    )


async def post_json(
    ctx: CallContext,
    url: str,
    *,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    provider: str,
    params: Mapping[str, str] | None = None,
) -> Any:
    """POST a JSON body and return the parsed JSON answer; error statuses raise typed errors."""
    resp = await ctx.request("POST", url, json=body, headers=headers, params=params)
    if resp.status_code >= 400:
        raise error_from_response(resp.status_code, resp.content, resp.headers, provider=provider, ctx=ctx)
    try:
        return json.loads(resp.content)
    except ValueError:
        raise InvalidResponseError(
            f"{provider} answered status {resp.status_code} with a body that is not JSON",
            status=resp.status_code,
            provider=provider,
        ) from None


async def stream_chat(
    ctx: CallContext,
    url: str,
    *,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    provider: str,
    params: Mapping[str, str] | None = None,
) -> AsyncIterator[ChatChunk]:
    """POST a streaming chat request and yield its unified chunks until `data: [DONE]` (the rules of
    `chat_chunks`, applied here without a generator in between)."""
    async with ctx.stream("POST", url, json=body, headers=headers, params=params) as resp:
        if resp.status_code >= 400:
            raw = await ctx.read_error_body(resp)
            raise error_from_response(resp.status_code, raw, resp.headers, provider=provider, ctx=ctx)
        reader = _ChunkReader(provider, ctx)
        async for event in aiter_sse(ctx.iter_bytes(resp)):
            for chunk in reader.read(event.data):
                yield chunk
            if reader.done:
                return
        reader.end()


async def chat_chunks(
    events: AsyncIterable[ServerSentEvent], *, provider: str, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Unified chunks from the events of an OpenAI chat stream.

    Yields a role chunk first, then the deltas and the finish reason, then one usage-only chunk once
    `[DONE]` arrives. Chunks that carry nothing (Azure's leading `prompt_filter_results`, trailing
    content-filter notes) are dropped. A `data: {"error": ...}` event or an end before `[DONE]` raises
    StreamInterruptedError; a body with no data events at all, or a chunk that is not the documented
    JSON, raises InvalidResponseError.
    """
    reader = _ChunkReader(provider, ctx)
    async for event in events:
        for chunk in reader.read(event.data):
            yield chunk
        if reader.done:
            return
    reader.end()


_NOTHING: tuple[ChatChunk, ...] = ()
_decode = json.JSONDecoder().raw_decode


class _ChunkReader:
    """One OpenAI chat stream's state: each event's data in, the unified chunks it makes out (see
    `chat_chunks` for the rules)."""

    __slots__ = ("ctx", "done", "provider", "role_sent", "seen", "usage")

    def __init__(self, provider: str, ctx: CallContext) -> None:
        self.provider = provider
        self.ctx = ctx
        self.seen = False
        self.role_sent = False
        self.done = False
        self.usage: Usage | None = None

    def read(self, data: str) -> tuple[ChatChunk, ...]:
        """The chunks event `data` makes; `done` is set at `[DONE]`."""
        provider = self.provider
        if data == "[DONE]":
            self.done = True
            return _NOTHING if self.usage is None else (ChatChunk(usage=self.usage),)
        if not data:
            return _NOTHING
        self.seen = True
        try:
            obj, end = _decode(data)  # json.loads without its whitespace scans; it decides the rest
        except ValueError:
            end = -1
        if end != len(data):
            try:
                obj = json.loads(data)
            except ValueError:
                raise InvalidResponseError(
                    f"{provider}: a stream event is not JSON", provider=provider
                ) from None
        if not isinstance(obj, dict):
            raise InvalidResponseError(f"{provider}: a stream event is not a JSON object", provider=provider)
        if "error" in obj:
            message, code, kind = openai_error_fields(data)
            message = self.ctx.redact(message) if message is not None else None
            raise StreamInterruptedError(
                f"{provider}: the stream carried an error: {message or 'no error message'}",
                provider_message=message,
                provider=provider,
                code=code or kind,
            )
        try:
            chunk = chunk_from_openai(obj)
        except _MALFORMED_CHUNK as exc:
            raise InvalidResponseError(
                f"{provider}: a stream chunk is not a chat.completion.chunk ({type(exc).__name__})",
                provider=provider,
            ) from None
        if chunk is None:
            return _NOTHING
        if chunk.usage is not None:
            self.usage = chunk.usage  # held back: the contract wants exactly one usage chunk, last
            if chunk.is_usage_only:
                return _NOTHING
            chunk = dataclasses.replace(chunk, usage=None)
        if (
            chunk.role is None
            and chunk.content is None
            and not chunk.tool_calls
            and chunk.finish_reason is None
        ):
            return _NOTHING
        if not self.role_sent:
            self.role_sent = True
            if chunk.role is None:
                return (ChatChunk(role="assistant", id=chunk.id, model=chunk.model), chunk)
        return (chunk,)

    def end(self) -> None:
        """The stream ended without `[DONE]`: raise what that means."""
        provider = self.provider
        if not self.seen:
            raise InvalidResponseError(
                f"{provider}: the answer is not an event stream of `data:` chat.completion.chunk events",
                provider=provider,
            )
        raise StreamInterruptedError(f"{provider}: the stream ended before `data: [DONE]`", provider=provider)


def completion_results(obj: Any, *, provider: str) -> list[str]:
    """The assistant's text from a non-streaming `chat.completion` answer, as ES's `[{result}]` list."""
    try:
        message = obj["choices"][0]["message"]
        text = message.get("content")
        if text is None:
            text = message.get("refusal")  # a refusal is the model's whole answer
    except _MALFORMED_CHUNK:
        text = None
    if not isinstance(text, str):
        raise InvalidResponseError(
            f"{provider}: the chat completion has no `choices[0].message.content` text", provider=provider
        )
    return [text]


def embedding_vectors(obj: Any, expected: int, *, provider: str) -> list[list[float]]:
    """The vectors of an embeddings answer `{"data": [{"index", "embedding"}]}`, in input order."""
    try:
        items = sorted(obj["data"], key=lambda item: item["index"])
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except _MALFORMED_CHUNK:
        raise InvalidResponseError(
            f"{provider}: the embeddings answer is not a list of `{{index, embedding}}` objects",
            provider=provider,
        ) from None
    if len(vectors) != expected:
        raise InvalidResponseError(
            f"{provider}: asked for {expected} embeddings, got {len(vectors)}", provider=provider
        )
    return vectors


ChatFn = Callable[[InferenceEndpoint, ChatRequest, CallContext], AsyncIterator[ChatChunk]]
CompleteFn = Callable[..., Awaitable[list[str]]]
EmbedFn = Callable[[InferenceEndpoint, EmbeddingRequest, CallContext], Awaitable[list[list[float]]]]


async def hello_test(
    endpoint: InferenceEndpoint,
    ctx: CallContext,
    *,
    chat: ChatFn,
    complete: CompleteFn,
    embed: EmbedFn,
) -> TestResult:
    """Save & test for an OpenAI-wire service: the cheapest real call for the connector's task type.

    A 1-token "Hello world" chat (streamed for chat_completion, `complete(endpoint, text, ctx,
    max_tokens=1)` for completion) or one "Hello world" embedding: each proves the credentials, the
    URL and the model or deployment together, which listing models would not. Settings the plugin
    refuses before any request (ConfigValidationError) become a `config` failure.
    """
    task = endpoint.task_type

    async def call() -> None:
        if task is TaskType.TEXT_EMBEDDING:
            await embed(endpoint, EmbeddingRequest(input=(TEST_INPUT,)), ctx)
        elif task is TaskType.COMPLETION:
            await complete(endpoint, TEST_INPUT, ctx, max_tokens=1)
        else:
            hello = ChatRequest(messages=({"role": "user", "content": TEST_INPUT},), max_tokens=1)
            async for _ in chat(endpoint, hello, ctx):
                pass

    try:
        return await run_test(call)
    except ConfigValidationError as exc:
        return TestResult(ok=False, message=str(exc), failure=FailureKind.CONFIG)
