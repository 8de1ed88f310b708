"""Gemini's `GenerateContentResponse` read into the unified shapes: stream chunks -> ChatChunks, a
unary answer -> its text, `usageMetadata` -> Usage, `finishReason` -> OpenAI's vocabulary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    ChatChunk,
    InvalidRequestError,
    InvalidResponseError,
    ToolCallDelta,
    Usage,
    current_provider,
)
from ai_connector_gemini.request import SYNTHETIC_CALL_ID_PREFIX

__all__ = ["FINISH_REASONS", "ChunkTranslator", "finish_reason", "response_text", "usage_from"]

FINISH_REASONS: Mapping[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
}


def finish_reason(value: str) -> str:
    """OpenAI's finish reason for a Gemini `finishReason`; the rest (OTHER, LANGUAGE,
    MALFORMED_FUNCTION_CALL...) end the turn without a more specific OpenAI name, so `stop`."""
    return FINISH_REASONS.get(value, "stop")


def usage_from(meta: Mapping[str, Any]) -> Usage:
    """Usage from `usageMetadata`; thinking tokens count as completion tokens, as OpenAI counts
    reasoning tokens."""
    total = meta.get("totalTokenCount")
    return Usage(
        prompt_tokens=int(meta.get("promptTokenCount") or 0),
        completion_tokens=int(meta.get("candidatesTokenCount") or 0)
        + int(meta.get("thoughtsTokenCount") or 0),
        total_tokens=None if total is None else int(total),
    )


class ChunkTranslator:
    """Turns the stream's GenerateContentResponse objects into ChatChunks, one object at a time.

    The first call yields the `assistant` role chunk; text parts become content deltas (thought
    summaries are skipped); each complete `functionCall` becomes one tool call with its arguments as JSON
    text. `finished` turns true once a candidate carried `finishReason` (or the prompt was blocked);
    `usage` keeps the latest `usageMetadata`, which Google repeats cumulatively.
    """

    __slots__ = ("_started", "_tool_calls", "finished", "usage")

    def __init__(self) -> None:
        self._started = False
        self._tool_calls = 0
        self.finished = False
        self.usage: Usage | None = None

    def translate(self, obj: Mapping[str, Any]) -> list[ChatChunk]:
        """The chunks for one response object; raises TypeError/KeyError/ValueError on a bad shape."""
        out: list[ChatChunk] = []
        if not self._started:
            self._started = True
            out.append(ChatChunk(role="assistant"))
        candidates = obj.get("candidates")
        if candidates:
            candidate = candidates[0]
            content = candidate.get("content")
            if content:
                text: list[str] = []
                for part in content.get("parts") or ():
                    if part.get("thought"):
                        continue
                    piece = part.get("text")
                    if piece:
                        if not isinstance(piece, str):
                            raise TypeError("part.text is not a string")
                        text.append(piece)
                    call = part.get("functionCall")
                    if call:
                        if text:
                            out.append(ChatChunk(content="".join(text)))
                            text = []
                        out.append(ChatChunk(tool_calls=(self._tool_call(call),)))
                if text:
                    out.append(ChatChunk(content="".join(text)))
            reason = candidate.get("finishReason")
            if reason:
                mapped = "tool_calls" if self._tool_calls and reason == "STOP" else finish_reason(reason)
                out.append(ChatChunk(finish_reason=mapped))
                self.finished = True
        elif (obj.get("promptFeedback") or {}).get("blockReason"):
            # The prompt itself was blocked: no candidate will come.
            out.append(ChatChunk(finish_reason="content_filter"))
            self.finished = True
        meta = obj.get("usageMetadata")
        if meta:
            self.usage = usage_from(meta)
        return out

    def _tool_call(self, call: Mapping[str, Any]) -> ToolCallDelta:
        index = self._tool_calls
        self._tool_calls += 1
        name = call["name"]
        if not isinstance(name, str):
            raise TypeError("functionCall.name is not a string")
        call_id = call.get("id") or f"{SYNTHETIC_CALL_ID_PREFIX}{index}"
        arguments = json.dumps(call.get("args") or {}, ensure_ascii=False, separators=(",", ":"))
        return ToolCallDelta(index=index, id=call_id, name=name, arguments=arguments)

    def usage_chunk(self) -> ChatChunk | None:
        """The trailing usage-only chunk, when the stream reported usage."""
        return None if self.usage is None else ChatChunk(usage=self.usage)


def response_text(obj: Any) -> str:
    """The answer text of a unary `generateContent` response (thought summaries left out).

    A blocked prompt (no candidate, `promptFeedback.blockReason`) is an InvalidRequestError; a body that
    is not a GenerateContentResponse is an InvalidResponseError.
    """
    who = current_provider()
    try:
        candidates = obj.get("candidates")
        if not candidates:
            block = (obj.get("promptFeedback") or {}).get("blockReason")
            if block:
                raise InvalidRequestError(f"{who}: the prompt was blocked ({block})", code=str(block))
            raise InvalidResponseError(f"{who}: the response has no candidates")
        parts = (candidates[0].get("content") or {}).get("parts") or ()
        return "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    except (AttributeError, TypeError, KeyError, IndexError):
        raise InvalidResponseError(f"{who}: the response is not a GenerateContentResponse") from None
