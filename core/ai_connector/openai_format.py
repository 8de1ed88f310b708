"""OpenAI's chat wire format, which is also the core's unified format: requests out, chunks in.

Shared by every provider that speaks it (OpenAI, Azure OpenAI, Elasticsearch's `_stream`, Mistral,
...), so each of them parses `chat.completion.chunk` exactly the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ai_connector.types import ChatChunk, ChatRequest, ToolCallDelta, Usage

__all__ = ["chat_request_to_openai", "chunk_from_openai", "openai_error_fields"]


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


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        total_tokens=raw.get("total_tokens"),
    )


def chunk_from_openai(obj: Mapping[str, Any]) -> ChatChunk | None:
    """A ChatChunk from one parsed `chat.completion.chunk`; None when it carries nothing (e.g. Azure's
    leading `prompt_filter_results` chunk). Raises ValueError/TypeError/KeyError on a malformed chunk."""
    choices = obj.get("choices") or []
    raw_usage = obj.get("usage")
    usage = None if raw_usage is None else _usage(raw_usage)
    if not choices:
        if usage is None:
            return None
        return ChatChunk(usage=usage, id=obj.get("id"), model=obj.get("model"))
    choice = choices[0]
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
    # positionally: role, content, tool_calls, finish_reason, usage, id, model
    return ChatChunk(
        delta.get("role"),
        content,
        tool_calls,
        choice.get("finish_reason"),
        usage,
        obj.get("id"),
        obj.get("model"),
    )


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
