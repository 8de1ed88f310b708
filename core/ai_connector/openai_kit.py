"""OpenAI's chat, completion and embeddings wire, which is also the core's unified format: the
building block every OpenAI-compatible service shares (OpenAI, Azure OpenAI, Elasticsearch's
`_stream`, vLLM, Ollama, LiteLLM...). Requests out; `chat.completion.chunk` streams, answers and
error bodies in. `ai_connector.openai_service` builds whole providers from it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from ai_connector.calling import current_provider
from ai_connector.errors import (
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    StreamInterruptedError,
    error_for_status,
)
from ai_connector.sse import ServerSentEvent
from ai_connector.types import ChatChunk, ChatRequest, ToolCallDelta, Usage

if TYPE_CHECKING:
    from ai_connector.context import CallContext

__all__ = [
    "ChatStreamReader",
    "answer_chat",
    "answer_chunks",
    "chat_chunks",
    "chat_request_to_openai",
    "chunk_from_openai",
    "completion_results",
    "embedding_vectors",
    "openai_error_fields",
    "parse_error",
    "stream_chat",
]

# A spent quota or credit balance will not come back by waiting (wire.md section 1).
_QUOTA_CODES = frozenset({"insufficient_quota", "credit_balance_exhausted"})
# OpenAI's unknown model and Azure's unknown deployment, whatever status carries them.
_NOT_FOUND_CODES = frozenset({"model_not_found", "DeploymentNotFound"})
_MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError)


# -- requests ---------------------------------------------------------------------------------------
def chat_request_to_openai(
    request: ChatRequest,
    *,
    model: str | None = None,
    stream: bool = True,
    max_tokens_field: str = "max_tokens",
) -> dict[str, Any]:
    """The JSON body of `POST /chat/completions` for `request`; `model` is used when the request has none.

    Streaming bodies ask for the trailing usage chunk (`stream_options.include_usage`).
    """
    body: dict[str, Any] = {"messages": [dict(m) for m in request.messages]}
    chosen = request.model or model
    if chosen:
        body["model"] = chosen
    if request.max_tokens is not None:
        body[max_tokens_field] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop is not None:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [dict(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = (
            request.tool_choice if isinstance(request.tool_choice, str) else dict(request.tool_choice)
        )
    if request.user is not None:
        body["user"] = request.user
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# -- errors -----------------------------------------------------------------------------------------
def openai_error_fields(body: bytes | str) -> tuple[str | None, str | None, str | None]:
    """(message, code, type) from an OpenAI-shaped error body `{"error": {...}}`; Nones when absent.

    `code` may be a number on Azure ("429"); it is returned as a string.
    """
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return (text.strip()[:1000] or None), None, None
    err = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(err, Mapping):
        code = err.get("code")
        return (
            err.get("message") if isinstance(err.get("message"), str) else None,
            None if code is None else str(code),
            err.get("type") if isinstance(err.get("type"), str) else None,
        )
    if isinstance(err, str):
        return err, None, None
    if isinstance(data, Mapping) and isinstance(data.get("message"), str):
        return data["message"], None, None
    return None, None, None


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for an OpenAI-shaped error answer `{"error": {message, type, param, code}}`.

    Unknown model or deployment codes are ModelNotFoundError whatever the status; a spent quota (429)
    is not retryable; `x-should-retry` (which openai-python obeys) overrides the default; the
    Retry-After hints (`retry-after-ms`, `retry-after`) are kept.
    """
    message, code, kind = openai_error_fields(body)
    cls = ModelNotFoundError if code in _NOT_FOUND_CODES else None
    retryable: bool | None = None
    if status == 429 and (code in _QUOTA_CODES or kind in _QUOTA_CODES):
        retryable = False
    hint = headers.get("x-should-retry")
    if hint in ("true", "false"):
        retryable = hint == "true"
    return error_for_status(status, message, headers=headers, code=code or kind, retryable=retryable, cls=cls)


# -- the chat stream --------------------------------------------------------------------------------
def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        total_tokens=raw.get("total_tokens"),
    )


def _first_choice(choices: Any) -> Any:
    """The choice with index 0 (a server asked for several sends each with its index), else None."""
    first = choices[0]
    if first.get("index", 0) == 0:
        return first
    return next((c for c in choices if c.get("index", 0) == 0), None)


def chunk_from_openai(obj: Mapping[str, Any]) -> ChatChunk | None:
    """A ChatChunk from one parsed `chat.completion.chunk` (choice index 0 only; a refusal delta stays
    a refusal); None when it carries nothing (e.g. Azure's leading `prompt_filter_results` chunk).
    Raises ValueError/TypeError/KeyError on a malformed chunk."""
    choices = obj.get("choices") or []
    raw_usage = obj.get("usage")
    usage = None if raw_usage is None else _usage(raw_usage)
    choice = _first_choice(choices) if choices else None
    if choice is None:
        if usage is None:
            return None
        return ChatChunk(usage=usage, id=obj.get("id"), model=obj.get("model"))
    delta = choice.get("delta") or {}
    tool_calls: tuple[ToolCallDelta, ...] = ()
    raw_calls = delta.get("tool_calls")
    if raw_calls:
        calls = []
        for i, call in enumerate(raw_calls):
            fn = call.get("function") or {}
            calls.append(
                ToolCallDelta(
                    index=int(call.get("index", i)),
                    id=call.get("id"),
                    name=fn.get("name"),
                    arguments=fn.get("arguments"),
                )
            )
        tool_calls = tuple(calls)
    content = delta.get("content")
    if content is not None and not isinstance(content, str):
        raise TypeError("delta.content is not a string")
    refusal = delta.get("refusal")
    if refusal is not None and not isinstance(refusal, str):
        raise TypeError("delta.refusal is not a string")
    # positionally: role, content, tool_calls, finish_reason, usage, id, model, refusal
    return ChatChunk(
        delta.get("role"),
        content,
        tool_calls,
        choice.get("finish_reason"),
        usage,
        obj.get("id"),
        obj.get("model"),
        refusal,
    )


_NOTHING: tuple[ChatChunk, ...] = ()
_decode = json.JSONDecoder().raw_decode


class ChatStreamReader:
    """One OpenAI chat stream's state: each event's data in, the unified chunks it makes out.

    The unified stream's invariant: a role chunk first, then content, tool-call and refusal deltas,
    exactly one finish reason, and one usage-only chunk last (once `[DONE]` arrives). Chunks that
    carry nothing are dropped; a `data: {"error": ...}` event or an end before `[DONE]` raises
    StreamInterruptedError; no data events at all, or a chunk that is not the documented JSON,
    InvalidResponseError.
    """

    __slots__ = ("done", "finished", "provider", "redact", "role_sent", "seen", "usage")

    def __init__(self, provider: str | None = None, redact: Any = None) -> None:
        self.provider = provider or current_provider() or "the provider"
        self.redact = redact or (lambda text: text)
        self.seen = False
        self.role_sent = False
        self.finished = False
        self.done = False
        self.usage: ChatChunk | None = None  # the usage-only chunk, held back to the end

    def read(self, data: str) -> tuple[ChatChunk, ...]:
        """The chunks event `data` makes; `done` is set at `[DONE]`."""
        provider = self.provider
        if data == "[DONE]":
            self.done = True
            return _NOTHING if self.usage is None else (self.usage,)
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
                raise InvalidResponseError(f"{provider}: a stream event is not JSON") from None
        if not isinstance(obj, dict):
            raise InvalidResponseError(f"{provider}: a stream event is not a JSON object")
        return self.read_object(obj, data)

    def read_object(self, obj: Mapping[str, Any], data: str | None = None) -> tuple[ChatChunk, ...]:
        """The chunks one parsed `chat.completion.chunk` (or error event) makes; for a service that
        wraps OpenAI's chunks in its own events (`data` is the raw text, for the error message)."""
        provider = self.provider
        self.seen = True
        if "error" in obj:
            message, code, kind = openai_error_fields(data if data is not None else json.dumps(obj))
            message = self.redact(message) if message is not None else None
            raise StreamInterruptedError(
                f"{provider}: the stream carried an error: {message or 'no error message'}",
                provider_message=message,
                code=code or kind,
            )
        try:
            chunk = chunk_from_openai(obj)
        except _MALFORMED as exc:
            raise InvalidResponseError(
                f"{provider}: a stream chunk is not a chat.completion.chunk ({type(exc).__name__})"
            ) from None
        if chunk is None:
            return _NOTHING
        return self._shape(chunk)

    def _shape(self, chunk: ChatChunk) -> tuple[ChatChunk, ...]:
        """`chunk` held to the invariant: usage held back, one finish reason, the role only first."""
        if chunk.usage is not None:
            self.usage = ChatChunk(usage=chunk.usage, id=chunk.id, model=chunk.model)
            if chunk.is_usage_only:
                return _NOTHING
            chunk = dataclasses.replace(chunk, usage=None)
        if chunk.finish_reason is not None:
            if self.finished:
                chunk = dataclasses.replace(chunk, finish_reason=None)
            self.finished = True
        if chunk.role is not None and self.role_sent:
            chunk = dataclasses.replace(chunk, role=None)
        if (
            chunk.role is None
            and chunk.content is None
            and chunk.refusal is None
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
        if not self.seen:
            raise InvalidResponseError(
                f"{self.provider}: the answer is not an event stream of `data:` chat.completion.chunk events"
            )
        raise StreamInterruptedError(f"{self.provider}: the stream ended before `data: [DONE]`")


async def chat_chunks(
    events: AsyncIterable[ServerSentEvent], *, ctx: CallContext | None = None
) -> AsyncGenerator[ChatChunk, None]:
    """Unified chunks from the events of an OpenAI chat stream (the rules of ChatStreamReader)."""
    reader = ChatStreamReader(None if ctx is None else ctx.provider_id, None if ctx is None else ctx.redact)
    async for event in events:
        for chunk in reader.read(event.data):
            yield chunk
        if reader.done:
            return
    reader.end()


async def stream_chat(
    ctx: CallContext,
    url: str,
    *,
    body: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> AsyncIterator[ChatChunk]:
    """POST a streaming chat request and yield its unified chunks until `data: [DONE]`; an error
    status raises the calling provider's typed error."""
    async with (
        ctx.open_sse("POST", url, json=body, headers=headers, params=params) as events,
        aclosing(chat_chunks(events, ctx=ctx)) as chunks,  # closed with this one, not by the loop
    ):
        async for chunk in chunks:
            yield chunk


# -- whole answers ----------------------------------------------------------------------------------
def answer_chunks(obj: Any, provider: str | None = None) -> list[ChatChunk]:
    """The unified chunks a non-streamed `chat.completion` stands for (choice index 0): the role
    chunk with the whole message (content, refusal, each tool call complete at its index) and the
    finish reason, then the usage-only chunk when the answer reports usage. Folded by the host's
    aggregator they give what the same answer's stream gives. A 200 whose body is `{"error": ...}`
    raises ProviderServerError (as an error event ends a stream), a body that is not a
    `chat.completion` InvalidResponseError."""
    who = provider or current_provider() or "the provider"
    if isinstance(obj, Mapping) and "error" in obj:
        said, code, kind = openai_error_fields(json.dumps(obj))
        raise ProviderServerError(
            f"{who}: the answer carried an error: {said or 'no error message'}",
            provider_message=said,
            code=code or kind,
            status=200,
            retryable=False,  # as the stream's error event, which is never retried
        )
    try:
        choices = obj["choices"]
        choice = _first_choice(choices) if choices else None
        message = (choice.get("message") or {}) if choice is not None else {}
        content, refusal = message.get("content"), message.get("refusal")
        if not isinstance(content, str | None) or not isinstance(refusal, str | None):
            raise TypeError("message.content or message.refusal is not a string")
        calls = tuple(
            ToolCallDelta(
                index=i,
                id=call.get("id"),
                name=(call.get("function") or {}).get("name"),
                arguments=(call.get("function") or {}).get("arguments"),
            )
            for i, call in enumerate(message.get("tool_calls") or ())
        )
        finish = None if choice is None else choice.get("finish_reason")
        answer_id, model = obj.get("id"), obj.get("model")
        raw_usage = obj.get("usage")
    except _MALFORMED as exc:
        raise InvalidResponseError(
            f"{who}: the answer is not a chat.completion ({type(exc).__name__})", status=200
        ) from None
    out: list[ChatChunk] = []
    if choice is not None:
        role = message.get("role") or "assistant"
        out.append(ChatChunk(role, content or None, calls, finish, None, answer_id, model, refusal or None))
    usage = None if raw_usage is None else _usage(raw_usage)
    if usage is not None:
        out.append(ChatChunk(usage=usage, id=answer_id, model=model))
    return out


async def answer_chat(
    ctx: CallContext,
    url: str,
    *,
    body: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> list[ChatChunk]:
    """POST a non-streamed chat request; the answer as `answer_chunks` (an error status raises the
    calling provider's typed error, as for the stream)."""
    answer = await ctx.send_json("POST", url, json=body, headers=headers, params=params)
    return answer_chunks(answer, ctx.provider_id)


def completion_results(obj: Any) -> list[str]:
    """The assistant's text from a non-streaming `chat.completion` answer, as ES's `[{result}]` list."""
    try:
        message = _first_choice(obj["choices"])["message"]
        text = message.get("content")
        if text is None:
            text = message.get("refusal")  # a refusal is the model's whole answer
    except _MALFORMED:
        text = None
    if not isinstance(text, str):
        raise InvalidResponseError(
            f"{current_provider()}: the chat completion has no `choices[0].message.content` text"
        )
    return [text]


def embedding_vectors(obj: Any, expected: int) -> list[list[float]]:
    """The vectors of an embeddings answer `{"data": [{"index", "embedding"}]}`, in input order."""
    try:
        items = sorted(obj["data"], key=lambda item: item["index"])
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except _MALFORMED:
        raise InvalidResponseError(
            f"{current_provider()}: the embeddings answer is not a list of `{{index, embedding}}` objects"
        ) from None
    if len(vectors) != expected:
        raise InvalidResponseError(
            f"{current_provider()}: asked for {expected} embeddings, got {len(vectors)}"
        )
    return vectors
