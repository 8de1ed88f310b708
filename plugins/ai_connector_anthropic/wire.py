"""Anthropic's Messages API on the wire: OpenAI-shaped chat requests translated to Anthropic's body,
the streamed SSE events translated back to unified chunks, and Anthropic's error bodies typed.

Formats follow docs.anthropic.com (streaming, errors) and the transcripts in `wire-samples/streams/`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from ai_connector.plugin import (
    ChatChunk,
    ChatRequest,
    InvalidRequestError,
    InvalidResponseError,
    ProviderError,
    RateLimitError,
    StreamInterruptedError,
    ToolCallDelta,
    Usage,
    error_for_status,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_MAX_TOKENS",
    "PROVIDER_ID",
    "error_fields",
    "error_from_response",
    "message_chunks",
    "message_text",
    "messages_body",
    "translate_messages",
    "translate_stream",
]

PROVIDER_ID = "anthropic"
API_VERSION = "2023-06-01"
# Anthropic requires max_tokens on every request; ES's task setting is required, Kibana leaves it
# to the user, so a connector without one gets this.
DEFAULT_MAX_TOKENS = 1024

# Anthropic stop_reason -> OpenAI finish_reason.
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_TOOL_CHOICE = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}


# ---------------------------------------------------------------------------------------------
# Requests


def _invalid(message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{PROVIDER_ID}: {message}")


def _image_block(part: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI `image_url` part as an Anthropic image block (data URLs become base64 sources)."""
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str) or not url:
        raise _invalid("an image_url content part has no url")
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if encoding != "base64" or not data:
            raise _invalid("image data URLs must be base64-encoded")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (a string, a list of parts or None) as Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        # Anthropic refuses empty text blocks.
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, Sequence):
        raise _invalid("message content must be a string or a list of content parts")
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            text = part.get("text")
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part))
        else:
            raise _invalid(f"content part type {kind!r} is not supported")
    return blocks


def _text_of(content: Any) -> str:
    """The plain text of OpenAI message content (for system prompts)."""
    return "".join(b["text"] for b in _content_blocks(content) if b["type"] == "text")


def _tool_use_block(call: Mapping[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    raw = fn.get("arguments") or "{}"
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise _invalid(f"the arguments of tool call {call.get('id')!r} are not valid JSON") from None
    if not isinstance(arguments, Mapping):
        raise _invalid(f"the arguments of tool call {call.get('id')!r} are not a JSON object")
    return {"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": dict(arguments)}


def translate_messages(messages: Sequence[Mapping[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages) for Anthropic from OpenAI chat messages.

    System/developer messages become the top-level `system`; assistant `tool_calls` become
    `tool_use` blocks; `tool` messages become `tool_result` blocks of a user turn. Consecutive
    turns of one role are merged, since all results of a tool round must share one user turn.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = _content_blocks(message.get("content"))
        elif role == "assistant":
            blocks = _content_blocks(message.get("content"))
            blocks += [_tool_use_block(call) for call in message.get("tool_calls") or ()]
        elif role == "tool":
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
            parts = _content_blocks(message.get("content"))
            if parts:
                result["content"] = parts
            blocks = [result]
            role = "user"
        else:
            raise _invalid(f"message role {role!r} is not supported")
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for message in out:
        blocks = message["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            message["content"] = blocks[0]["text"]  # the plain form, as most clients send it
    return ("\n\n".join(system) or None), out


def _tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        fn = tool.get("function") if tool.get("type", "function") == "function" else None
        if not isinstance(fn, Mapping) or not fn.get("name"):
            raise _invalid("only function tools with a name are supported")
        entry: dict[str, Any] = {"name": fn["name"]}
        if fn.get("description"):
            entry["description"] = fn["description"]
        entry["input_schema"] = dict(fn.get("parameters") or {"type": "object", "properties": {}})
        out.append(entry)
    return out


def _tool_choice(choice: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(choice, str):
        if choice in _TOOL_CHOICE:
            return dict(_TOOL_CHOICE[choice])
    else:
        name = (choice.get("function") or {}).get("name")
        if choice.get("type") == "function" and name:
            return {"type": "tool", "name": name}
    raise _invalid(f"tool_choice {choice!r} is not supported")


def messages_body(
    request: ChatRequest, *, model: str, task_settings: Mapping[str, Any], stream: bool
) -> dict[str, Any]:
    """The JSON body of `POST /v1/messages`; request values win over the connector's task settings."""
    system, messages = translate_messages(request.messages)
    max_tokens = request.max_tokens
    if max_tokens is None:
        max_tokens = task_settings.get("max_tokens") or DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {"model": request.model or model, "max_tokens": max_tokens, "messages": messages}
    if system:
        body["system"] = system
    temperature = request.temperature if request.temperature is not None else task_settings.get("temperature")
    if temperature is not None:
        body["temperature"] = temperature
    top_p = request.top_p if request.top_p is not None else task_settings.get("top_p")
    if top_p is not None:
        body["top_p"] = top_p
    if task_settings.get("top_k") is not None:
        body["top_k"] = task_settings["top_k"]
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.tools:
        body["tools"] = _tools(request.tools)
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if stream:
        body["stream"] = True
    return body


# ---------------------------------------------------------------------------------------------
# Responses


def message_text(data: Any) -> str:
    """The text of a non-streamed Message (`content` text blocks joined); InvalidResponseError otherwise."""
    content = data.get("content") if isinstance(data, Mapping) else None
    if not isinstance(content, list):
        raise InvalidResponseError(f"{PROVIDER_ID}: the response is not a Message (no content list)")
    try:
        return "".join(block["text"] for block in content if block.get("type") == "text")
    except (KeyError, TypeError, AttributeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: a text block of the Message has no text") from None


def message_chunks(data: Any) -> list[ChatChunk]:
    """The unified chunks a non-streamed Message stands for, as `translate_stream` gives them for
    the same Message streamed: the role (with id and model), its text blocks' text, one complete
    tool call per `tool_use` block (its `input` as JSON text), the finish reason, the usage.

    Blocks of other kinds (thinking, redacted_thinking, server_tool_use, web_search_tool_result...)
    are skipped, as the stream skips them; a body that is not a Message is an InvalidResponseError.
    The stream's tool arguments are the model's own JSON text, these are `input` re-serialised
    (`json.dumps`, Anthropic's spacing): the same JSON value, whitespace aside.
    """
    try:
        if data.get("type") != "message" or not isinstance(data["content"], list):
            raise TypeError("not a Message")
        text: list[str] = []
        calls: list[ToolCallDelta] = []
        for block in data["content"]:
            kind = block.get("type")
            if kind == "text":
                if not isinstance(block["text"], str):
                    raise TypeError("a text block's text is not a string")
                text.append(block["text"])
            elif kind == "tool_use":
                arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
                calls.append(ToolCallDelta(len(calls), block["id"], block["name"], arguments))
        usage = data.get("usage")
        stop = data.get("stop_reason")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidResponseError(
            f"{PROVIDER_ID}: the answer is not a Message ({type(exc).__name__})"
        ) from None
    out = [ChatChunk(role="assistant", id=data.get("id"), model=data.get("model"))]
    if text and "".join(text):
        out.append(ChatChunk(content="".join(text)))
    if calls:
        out.append(ChatChunk(tool_calls=tuple(calls)))
    out.append(ChatChunk(finish_reason=_FINISH.get(stop or "end_turn", "stop")))
    if isinstance(usage, Mapping):
        out.append(
            ChatChunk(
                usage=Usage(
                    prompt_tokens=_prompt_tokens(usage),
                    completion_tokens=int(usage.get("output_tokens") or 0),
                )
            )
        )
    return out


def _prompt_tokens(usage: Mapping[str, Any]) -> int:
    # OpenAI's prompt_tokens counts cached input too; Anthropic reports cache reads/writes apart.
    return (
        int(usage.get("input_tokens") or 0)
        + int(usage.get("cache_creation_input_tokens") or 0)
        + int(usage.get("cache_read_input_tokens") or 0)
    )


async def translate_stream(
    events: AsyncIterator[Any], *, redact: Callable[[Any], str] = str
) -> AsyncGenerator[ChatChunk, None]:
    """Unified chunks from Anthropic's Messages SSE events, ending at `message_stop`.

    `ping`, `content_block_stop`, thinking/signature deltas, unknown events and content blocks of kinds
    the connector does not request (server_tool_use, mcp_tool_use, web_search_tool_result...) with all
    their deltas are skipped, as Anthropic asks clients to; `event: error` and a stream that ends early
    raise StreamInterruptedError (its text passed through `redact`); a delta for a block that never
    started is an InvalidResponseError.
    """
    tool_slot: dict[int, int] = {}  # content block index -> OpenAI tool call index
    text_blocks: set[int] = set()  # indexes of the text blocks: only those and tool_use are relayed
    started: set[int] = set()  # every block index opened, whatever its kind
    stop_reason: str | None = None
    prompt: int | None = None
    completion: int | None = None
    async for event in events:
        if event.event == "ping":
            continue
        try:
            data = json.loads(event.data)
            kind = data.get("type") or event.event
            if kind == "content_block_delta":
                delta = data["delta"]
                delta_type = delta.get("type")
                index = data["index"]
                if index not in started:
                    raise KeyError(index)
                if delta_type == "text_delta" and index in text_blocks:
                    yield ChatChunk(content=delta["text"])
                elif delta_type == "input_json_delta" and index in tool_slot:
                    fragment = delta["partial_json"]
                    if fragment:
                        yield ChatChunk(
                            tool_calls=(ToolCallDelta(index=tool_slot[index], arguments=fragment),)
                        )
            elif kind == "content_block_start":
                block = data["content_block"]
                block_type = block.get("type")
                started.add(data["index"])
                if block_type == "tool_use":
                    slot = tool_slot[data["index"]] = len(tool_slot)
                    yield ChatChunk(
                        tool_calls=(
                            ToolCallDelta(index=slot, id=block["id"], name=block["name"], arguments=""),
                        )
                    )
                elif block_type == "text":
                    text_blocks.add(data["index"])
                    if block.get("text"):
                        yield ChatChunk(content=block["text"])
            elif kind == "message_start":
                message = data["message"]
                usage = message.get("usage")
                if usage:
                    prompt = _prompt_tokens(usage)
                    completion = usage.get("output_tokens", completion)
                yield ChatChunk(role="assistant", id=message.get("id"), model=message.get("model"))
            elif kind == "message_delta":
                stop_reason = data.get("delta", {}).get("stop_reason") or stop_reason
                usage = data.get("usage")
                if usage:
                    # output_tokens is cumulative: the last message_delta holds the total.
                    if usage.get("output_tokens") is not None:
                        completion = int(usage["output_tokens"])
                    if usage.get("input_tokens") is not None:
                        prompt = _prompt_tokens(usage)
            elif kind == "message_stop":
                yield ChatChunk(finish_reason=_FINISH.get(stop_reason or "end_turn", "stop"))
                if prompt is not None or completion is not None:
                    yield ChatChunk(usage=Usage(prompt_tokens=prompt or 0, completion_tokens=completion or 0))
                return
            elif kind == "error":
                error = data.get("error") or {}
                reason = redact(error.get("message") or "error event")
                raise StreamInterruptedError(
                    f"{PROVIDER_ID}: the stream failed: {reason}",
                    status=200,
                    provider_message=reason,
                    code=error.get("type"),
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidResponseError(
                f"{PROVIDER_ID}: unreadable {event.event!r} stream event ({type(exc).__name__})",
            ) from None
    raise StreamInterruptedError(f"{PROVIDER_ID}: the stream ended before message_stop")


# ---------------------------------------------------------------------------------------------
# Errors


def error_fields(body: bytes) -> tuple[str | None, str | None]:
    """(message, error type) from Anthropic's `{"type":"error","error":{"type","message"}}`.

    A body that is not JSON (a proxy's HTML page) gives its start as the message.
    """
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()[:1000]
        return (text or None), None
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, Mapping):
        message = error.get("message")
        kind = error.get("type")
        return (message if isinstance(message, str) else None), (kind if isinstance(kind, str) else None)
    return None, None


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for an Anthropic error response (status table in docs.anthropic.com/en/api/errors)."""
    message, kind = error_fields(body)
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if kind == "billing_error":
        # An account that cannot pay: rate-limited in kind, but waiting does not help.
        cls, retryable = RateLimitError, False
    return error_for_status(status, message, headers=headers, code=kind, cls=cls, retryable=retryable)
