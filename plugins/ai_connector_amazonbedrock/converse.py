"""Bedrock's Converse wire format: OpenAI-shaped chat requests out, Converse answers and
ConverseStream events in (as unified ChatChunks)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.plugin import (
    ChatChunk,
    ChatRequest,
    InvalidRequestError,
    InvalidResponseError,
    StreamInterruptedError,
    ToolCallDelta,
    Usage,
    aws_eventstream,
)

__all__ = ["FINISH_REASONS", "ConverseStreamTranslator", "converse_body", "converse_chunks", "converse_text"]

# Converse stopReason -> OpenAI finish_reason.
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}

# Model families whose Converse models take a `top_k` (ES AmazonBedrockProviderCapabilities).
TOP_K_PROVIDERS = frozenset({"anthropic", "cohere", "mistral"})


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    """Converse text blocks from OpenAI content (a string or `[{type: text, text}]`); blank text is
    dropped because Converse refuses blank blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    blocks = []
    for part in content:
        if isinstance(part, Mapping) and part.get("type", "text") == "text":
            text = part.get("text")
            if isinstance(text, str) and text.strip():
                blocks.append({"text": text})
    return blocks


def _plain_text(content: Any) -> str:
    return "".join(b["text"] for b in _text_blocks(content))


def _tool_use_blocks(tool_calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    blocks = []
    for call in tool_calls:
        fn = call.get("function") or {}
        raw = fn.get("arguments") or "{}"
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise InvalidRequestError(
                f"tool call {call.get('id')!r}: arguments are not JSON, and Bedrock needs a JSON object"
            ) from None
        if not isinstance(arguments, Mapping):
            raise InvalidRequestError(f"tool call {call.get('id')!r}: arguments must be a JSON object")
        blocks.append({"toolUse": {"toolUseId": call.get("id"), "name": fn.get("name"), "input": arguments}})
    return blocks


def _messages(request: ChatRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, Converse messages); consecutive same-role turns are merged because Converse
    requires user and assistant turns to alternate (tool results travel in the user turn)."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content")))
            continue
        if role == "tool":
            text = _plain_text(message.get("content"))
            result = {"toolUseId": message.get("tool_call_id"), "content": [{"text": text}]}
            role, blocks = "user", [{"toolResult": result}]
        elif role == "assistant":
            blocks = _text_blocks(message.get("content")) + _tool_use_blocks(message.get("tool_calls") or ())
        elif role == "user":
            blocks = _text_blocks(message.get("content"))
        else:
            raise InvalidRequestError(f"message role {role!r} is not one of system, user, assistant, tool")
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    return system, messages


def _tool_config(request: ChatRequest, has_tool_blocks: bool) -> dict[str, Any] | None:
    if not request.tools:
        return None
    choice = request.tool_choice
    # Converse has no "none": leave the tools out, unless earlier turns use them (Converse then
    # insists on toolConfig being present).
    if choice == "none" and not has_tool_blocks:
        return None
    tools = []
    for tool in request.tools:
        fn = tool.get("function") or {}
        spec: dict[str, Any] = {"name": fn.get("name")}
        if fn.get("description"):
            spec["description"] = fn["description"]
        spec["inputSchema"] = {"json": dict(fn.get("parameters") or {"type": "object", "properties": {}})}
        tools.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": tools}
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        if name:
            config["toolChoice"] = {"tool": {"name": name}}
    return config


def converse_body(
    request: ChatRequest, *, task_settings: Mapping[str, Any], family: str | None
) -> dict[str, Any]:
    """The JSON body of Converse/ConverseStream for `request`; the connector's task settings
    (ES's `temperature`, `top_p`, `top_k`, `max_new_tokens`) fill what the request leaves unset."""
    system, messages = _messages(request)
    if not messages:
        raise InvalidRequestError("the chat request has no user or assistant message with text")
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    inference: dict[str, Any] = {}
    max_tokens = request.max_tokens if request.max_tokens is not None else task_settings.get("max_new_tokens")
    if max_tokens is not None:
        inference["maxTokens"] = max_tokens
    temperature = request.temperature if request.temperature is not None else task_settings.get("temperature")
    if temperature is not None:
        inference["temperature"] = temperature
    top_p = request.top_p if request.top_p is not None else task_settings.get("top_p")
    if top_p is not None:
        inference["topP"] = top_p
    if request.stop:
        inference["stopSequences"] = [request.stop] if isinstance(request.stop, str) else list(request.stop)
    if inference:
        body["inferenceConfig"] = inference
    has_tool_blocks = any(
        "toolUse" in block or "toolResult" in block for m in messages for block in m["content"]
    )
    tool_config = _tool_config(request, has_tool_blocks)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    top_k = task_settings.get("top_k")
    if top_k is not None and family in TOP_K_PROVIDERS:
        body["additionalModelRequestFields"] = {"top_k": top_k}
    return body


def converse_text(answer: Any, provider: str) -> str:
    """The assistant's text from a Converse response (`output.message.content[].text`)."""
    try:
        content = answer["output"]["message"]["content"]
        texts = [block["text"] for block in content if "text" in block]
    except (KeyError, TypeError):
        raise InvalidResponseError(
            f"{provider}: the Converse answer has no output.message.content", status=200
        ) from None
    if not all(isinstance(t, str) for t in texts):
        raise InvalidResponseError(f"{provider}: a Converse text block is not a string")
    return "".join(texts)


def converse_chunks(answer: Any, provider: str) -> list[ChatChunk]:
    """The unified chunks a Converse answer stands for, as ConverseStreamTranslator gives them for
    the same answer streamed: the role, the text blocks' text, one complete tool call per `toolUse`
    block (its `input` as JSON text: the same JSON value as the stream's fragments, whitespace
    aside), the finish reason (`stopReason` as FINISH_REASONS maps it), the usage. Other blocks
    (reasoningContent, citations...) are skipped, as the stream skips them."""
    try:
        content = answer["output"]["message"]["content"]
        text: list[str] = []
        calls: list[ToolCallDelta] = []
        for block in content:
            if "text" in block:
                if not isinstance(block["text"], str):
                    raise TypeError("a text block is not a string")
                text.append(block["text"])
            elif "toolUse" in block:
                tool = block["toolUse"]
                arguments = json.dumps(tool.get("input") or {}, ensure_ascii=False)
                calls.append(ToolCallDelta(len(calls), tool["toolUseId"], tool["name"], arguments))
        usage = answer.get("usage")
        reason = answer.get("stopReason")
    except (KeyError, TypeError, AttributeError):
        raise InvalidResponseError(
            f"{provider}: the Converse answer has no output.message.content", status=200
        ) from None
    out = [ChatChunk(role="assistant", content="".join(text) or None, tool_calls=tuple(calls))]
    out.append(ChatChunk(finish_reason=FINISH_REASONS.get(reason, "stop")))
    if isinstance(usage, Mapping):
        out.append(
            ChatChunk(
                usage=Usage(
                    prompt_tokens=int(usage.get("inputTokens") or 0),
                    completion_tokens=int(usage.get("outputTokens") or 0),
                    total_tokens=usage.get("totalTokens"),
                )
            )
        )
    return out


class ConverseStreamTranslator:
    """Turns ConverseStream events into unified ChatChunks, one event at a time.

    Tool calls are numbered in the order their `contentBlockStart` arrives (OpenAI's `index`), not by
    Converse's content block index, which also counts text blocks.
    """

    __slots__ = ("_provider", "_started", "_stopped", "_tools")

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._tools: dict[int, int] = {}
        self._started = False
        self._stopped = False

    def _bad(self, what: str) -> InvalidResponseError:
        return InvalidResponseError(f"{self._provider}: {what}", status=200)

    def translate(self, event: aws_eventstream.StreamEvent) -> ChatChunk | None:
        """The chunk for one event (None when it carries nothing for the client); raises
        StreamInterruptedError for exception/error messages."""
        if event.message_type != "event":
            message = event.body.get("message") or event.body.get("Message") or "no message"
            raise StreamInterruptedError(
                f"{self._provider}: the stream failed with {event.kind}: {message}",
                status=200,
                provider_message=str(message),
                code=event.kind,
            )
        kind, body = event.kind, event.body
        try:
            if kind == "contentBlockDelta":
                delta = body["delta"]
                text = delta.get("text")
                if text is not None:
                    if not isinstance(text, str):
                        raise self._bad("contentBlockDelta text is not a string")
                    if not self._started:
                        self._started = True
                        return ChatChunk(role="assistant", content=text)
                    return ChatChunk(content=text)
                tool_use = delta.get("toolUse")
                if tool_use is not None:
                    index = self._tools.get(body["contentBlockIndex"])
                    if index is None:
                        raise self._bad("toolUse input for a content block that never started")
                    piece = tool_use.get("input")
                    if not isinstance(piece, str):
                        raise self._bad("toolUse input delta is not a string")
                    return ChatChunk(tool_calls=(ToolCallDelta(index=index, arguments=piece),))
                return None  # reasoningContent, citations...: nothing in the unified shape
            if kind == "messageStart":
                self._started = True
                return ChatChunk(role=body.get("role") or "assistant")
            if kind == "contentBlockStart":
                tool_use = (body.get("start") or {}).get("toolUse")
                if tool_use is None:
                    return None
                index = len(self._tools)
                self._tools[body["contentBlockIndex"]] = index
                call = ToolCallDelta(
                    index=index, id=tool_use["toolUseId"], name=tool_use["name"], arguments=""
                )
                if not self._started:
                    self._started = True
                    return ChatChunk(role="assistant", tool_calls=(call,))
                return ChatChunk(tool_calls=(call,))
            if kind == "messageStop":
                self._stopped = True
                reason = body.get("stopReason")
                return ChatChunk(finish_reason=FINISH_REASONS.get(reason, "stop"))
            if kind == "metadata":
                usage = body.get("usage")
                if not isinstance(usage, Mapping):
                    return None
                return ChatChunk(
                    usage=Usage(
                        prompt_tokens=int(usage.get("inputTokens") or 0),
                        completion_tokens=int(usage.get("outputTokens") or 0),
                        total_tokens=usage.get("totalTokens"),
                    )
                )
        except (KeyError, TypeError, AttributeError, ValueError):
            raise self._bad(f"malformed {kind} event") from None
        return None  # contentBlockStop and event types added after this was written

    def finish(self) -> None:
        """Call when the body ends: a stream that never reached messageStop was cut short."""
        if not self._stopped:
            raise StreamInterruptedError(
                f"{self._provider}: the stream ended before its messageStop event",
                status=200,
            )
