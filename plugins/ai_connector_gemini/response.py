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
    ProviderError,
    ToolCallDelta,
    Usage,
    current_provider,
)
from ai_connector_gemini.request import SYNTHETIC_CALL_ID_PREFIX

__all__ = [
    "FINISH_REASONS",
    "ChunkTranslator",
    "blocked_prompt_error",
    "finish_error",
    "finish_reason",
    "response_text",
    "usage_from",
]

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


# The reasons an answer ends normally; any other `finishReason` means Google stopped the answer.
_NORMAL_FINISH = frozenset({"STOP", "MAX_TOKENS"})


def finish_error(candidate: Mapping[str, Any]) -> ProviderError | None:
    """The typed error for a candidate Google stopped for a non-normal `finishReason`, None otherwise.

    A content-policy stop (SAFETY, RECITATION, BLOCKLIST...) is an InvalidRequestError, the rest
    (OTHER, MALFORMED_FUNCTION_CALL...) an InvalidResponseError; both carry Google's `finishMessage`
    and the reason as `code`, so the caller sees why instead of a silently cut answer.
    """
    reason = candidate.get("finishReason")
    if not reason or reason in _NORMAL_FINISH:
        return None
    detail = candidate.get("finishMessage")
    detail = detail if isinstance(detail, str) and detail else None
    cls = InvalidRequestError if FINISH_REASONS.get(str(reason)) == "content_filter" else InvalidResponseError
    return cls(
        f"{current_provider()}: the model's answer was stopped ({reason})"
        + (f": {detail}" if detail else ""),
        provider_message=detail,
        code=str(reason),
    )


def blocked_prompt_error(obj: Mapping[str, Any]) -> InvalidRequestError | None:
    """The InvalidRequestError for a prompt Google blocked (`promptFeedback.blockReason`), carrying its
    `blockReasonMessage`; None when the prompt was not blocked."""
    feedback = obj.get("promptFeedback") or {}
    block = feedback.get("blockReason")
    if not block:
        return None
    detail = feedback.get("blockReasonMessage")
    detail = detail if isinstance(detail, str) and detail else None
    return InvalidRequestError(
        f"{current_provider()}: the prompt was blocked ({block})" + (f": {detail}" if detail else ""),
        provider_message=detail,
        code=str(block),
    )


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
            error = finish_error(candidate)
            if error is not None:
                raise error
            content = candidate.get("content")
            if not content and not candidate.get("finishReason") and not self.finished:
                raise InvalidResponseError(
                    f"{current_provider()}: a stream event's candidate has no content and no finishReason"
                )
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
            if reason and not self.finished:  # Vertex may repeat the reason on a trailing chunk
                mapped = "tool_calls" if self._tool_calls and reason == "STOP" else finish_reason(reason)
                out.append(ChatChunk(finish_reason=mapped))
                self.finished = True
        else:
            blocked = blocked_prompt_error(obj)
            if blocked is not None:  # the prompt itself was blocked: no candidate will come
                raise blocked
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

    A blocked prompt (`promptFeedback.blockReason`) or an answer stopped for safety/recitation is an
    InvalidRequestError carrying Google's message; another non-normal finish, a candidate without
    content, or a body that is not a GenerateContentResponse is an InvalidResponseError.
    """
    who = current_provider()
    try:
        candidates = obj.get("candidates")
        if not candidates:
            blocked = blocked_prompt_error(obj)
            if blocked is not None:
                raise blocked
            raise InvalidResponseError(f"{who}: the response has no candidates")
        candidate = candidates[0]
        error = finish_error(candidate)
        if error is not None:
            raise error
        content = candidate.get("content")
        if not content and not candidate.get("finishReason"):
            raise InvalidResponseError(f"{who}: the response's candidate has no content")
        parts = (content or {}).get("parts") or ()
        if not isinstance(parts, list | tuple):
            raise TypeError("content.parts is not a list")
        text: list[str] = []
        for part in parts:
            piece = part.get("text")
            if piece is not None and not part.get("thought"):
                if not isinstance(piece, str):
                    raise TypeError("part.text is not a string")
                text.append(piece)
        return "".join(text)
    except (AttributeError, TypeError, KeyError, IndexError):
        raise InvalidResponseError(f"{who}: the response is not a GenerateContentResponse") from None
