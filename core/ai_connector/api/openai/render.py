"""The host's answers rendered as OpenAI's response objects (OpenAI's OpenAPI document, components
`CreateChatCompletionResponse`, `CreateChatCompletionStreamResponse`, `CreateCompletionResponse`,
`CreateEmbeddingResponse`, `Model` and `ListModelsResponse`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ai_connector.api.openai.errors import error_event

__all__ = [
    "ChatCompletionBuilder",
    "completion_events",
    "completion_response",
    "embedding_response",
    "model_object",
    "sse",
    "stream_events",
]

# ASCII-escaped: the C encoder is about twice as fast with ensure_ascii (a cost paid per chunk)
_encode = json.JSONEncoder(separators=(",", ":")).encode
DONE = b"data: [DONE]\n\n"


def sse(data: Any) -> bytes:
    """One server-sent event carrying `data` as JSON."""
    return b"data: " + _encode(data).encode() + b"\n\n"


class ChatCompletionBuilder:
    """Folds the unified stream's `chat.completion.chunk` dicts into one `chat.completion`.

    Unlike Kibana's `unified_completion` aggregation, a `length` finish is an answer, not an error:
    OpenAI returns the truncated message with `finish_reason: "length"`.
    """

    __slots__ = ("_content", "_refusal", "_tools", "created", "finish_reason", "id", "model", "usage")

    def __init__(self, model: str) -> None:
        self.id = ""
        self.model = model
        self.created = 0
        self._content: list[str] = []
        self._refusal: list[str] = []
        self._tools: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def add(self, chunk: Mapping[str, Any]) -> None:
        """Fold one chunk in (a unified chunk: `id`, `created`, `model` and `choices` always there)."""
        if not self.id:
            self.id = chunk["id"]
            self.created = chunk["created"]
            self.model = chunk["model"] or self.model
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content = delta.get("content")
            if content:
                self._content.append(content)
            refusal = delta.get("refusal")
            if refusal:
                self._refusal.append(refusal)
            for call in delta.get("tool_calls", ()):
                self._tool_delta(call)
            if choice["finish_reason"]:
                self.finish_reason = choice["finish_reason"]

    def _tool_delta(self, call: Mapping[str, Any]) -> None:
        index = call.get("index", 0)
        known = self._tools.get(index)
        if known is None:
            known = self._tools[index] = {
                "id": "",
                "type": "function",
                "function": {"name": "", "arguments": ""},
            }
        if call.get("id"):
            known["id"] += call["id"]
        fn = call.get("function") or {}
        if fn.get("name"):
            known["function"]["name"] += fn["name"]
        if fn.get("arguments"):
            known["function"]["arguments"] += fn["arguments"]

    def result(self) -> dict[str, Any]:
        """The `chat.completion` object."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self._content) or None,
            "refusal": "".join(self._refusal) or None,
        }
        if self._tools:
            message["tool_calls"] = [_with_arguments(self._tools[i]) for i in sorted(self._tools)]
        finish = self.finish_reason or ("tool_calls" if self._tools else "stop")
        out: dict[str, Any] = {
            "id": self.id or "chatcmpl-" + uuid.uuid4().hex,
            "object": "chat.completion",
            "created": self.created or int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        }
        if self.usage is not None:
            out["usage"] = self.usage
        return out


def _with_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """A call whose model sent no arguments gets `"{}"`, so a client's `json.loads` works."""
    fn = call["function"]
    return {**call, "function": {**fn, "arguments": fn["arguments"] if fn["arguments"].strip() else "{}"}}


async def stream_events(
    first: dict[str, Any] | None, rest: AsyncIterator[dict[str, Any]], include_usage: bool, model: str
) -> AsyncIterator[bytes]:
    """The event bytes of each chunk, then the usage chunk (when asked for and known) and `[DONE]`.

    Every chunk gets the first one's id, created and model (OpenAI: the same for every chunk of a
    stream; a provider may name its message only in some events) and `logprobs: null` on its
    choice. Usage goes in its own last chunk with `choices: []`, and nowhere else: OpenAI's prose
    says the other chunks carry `usage: null`, but its schema (CreateChatCompletionStreamResponse,
    version 2.3.0) types `usage` as an object, so the field is left out (clients read both the
    same way). A failure after the first byte ends the stream with an `error` event, no `[DONE]`.
    """
    if first is None:
        yield DONE
        return
    identity: dict[str, Any] = {k: first[k] for k in ("id", "object", "created", "model") if k in first}
    usage: Any = None

    def event(chunk: dict[str, Any]) -> bytes | None:
        nonlocal usage
        if "usage" in chunk:
            usage = chunk.pop("usage") or usage
        if not chunk["choices"]:
            return None
        chunk.update(identity)  # each chunk dict is the stream's own, fresh one: changed in place
        for choice in chunk["choices"]:
            choice.setdefault("logprobs", None)
        return sse(chunk)

    try:
        data = event(first)
        if data is not None:
            yield data
        async for chunk in rest:
            data = event(chunk)
            if data is not None:
                yield data
        if include_usage and usage is not None:
            yield sse({**identity, "choices": [], "usage": usage})
        yield DONE
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        yield b"event: error\n" + sse(error_event(exc, model=model))
    finally:
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:  # closes the upstream call when the client went away
            with contextlib.suppress(Exception):
                await aclose()


def _vector(values: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":  # little-endian float32, as OpenAI encodes (and the openai SDK decodes)
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
    return values


def embedding_response(data: list[Mapping[str, Any]], model: str, encoding: str) -> dict[str, Any]:
    """`CreateEmbeddingResponse` from `text_embedding`'s `[{"embedding": [...]}, ...]`.

    Kibana's answer carries no token usage, so `usage` reports 0 tokens (the field is required).
    """
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _vector(item["embedding"], encoding)}
            for i, item in enumerate(data)
        ],
        "model": model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    }


def completion_response(data: list[Mapping[str, Any]], model: str) -> dict[str, Any]:
    """`CreateCompletionResponse` from `completion`'s `[{"result": str}]` (no usage is known)."""
    return {
        "id": "cmpl-" + uuid.uuid4().hex,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"text": item.get("result", ""), "index": i, "logprobs": None, "finish_reason": "stop"}
            for i, item in enumerate(data)
        ],
    }


async def completion_events(response: dict[str, Any]) -> AsyncIterator[bytes]:
    """A `CreateCompletionResponse` as OpenAI's legacy completions stream: the `text_completion`
    chunk, then `data: [DONE]`. The connector's completion task answers in one piece, so its whole
    text (and finish reason) arrive in that one chunk."""
    yield sse(response)
    yield DONE


def model_object(
    connector_id: str, provider: str, task_type: str, name: str, inference_id: str | None
) -> dict[str, Any]:
    """OpenAI's `Model` for a connector: `owned_by` its provider, plus the connector's task type,
    name and inferenceId (extra fields OpenAI clients keep). `created` is 0: Kibana's connector
    object carries no creation time."""
    out: dict[str, Any] = {"id": connector_id, "object": "model", "created": 0, "owned_by": provider}
    out["name"] = name
    out["task_type"] = task_type
    if inference_id:
        out["inference_id"] = inference_id
    return out
