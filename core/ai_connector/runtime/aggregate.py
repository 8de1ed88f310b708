"""Kibana's aggregation of a chat stream into one `chat.completion` (stack_connectors inference
`helpers.ts` `chunksIntoMessage`, and the checks of `performApiUnifiedCompletion`).

- content deltas are concatenated; an empty result becomes `null`; refusal deltas likewise make
  `message.refusal` (OpenAI's field, which Kibana's schema passes through);
- tool-call deltas are joined by `index`: their `id`, `function.name` and `function.arguments` are
  concatenated; arguments that end up empty (or blank) become `"{}"`;
- `usage` comes from the usage chunk; `object` is `"chat.completion"`; role is `"assistant"`;
- a chunk whose `finish_reason` is `"length"` makes the whole call fail with the token-limit error
  (Kibana's `createTokenLimitReachedError`); any error event of the stream fails it too.

Two details differ from Kibana, on purpose: a chunk that carries both deltas and usage keeps both
(Kibana's `scan` drops the deltas of such a chunk, which only OpenAI never sends), and the answer
keeps the last `finish_reason` and `index: 0` on its choice (both optional in Kibana's
UnifiedChatCompleteResponse schema, and what OpenAI clients read), with `logprobs: null` and, when
no chunk carried a finish reason, `tool_calls` or `stop`: every field OpenAI's
CreateChatCompletionResponse requires is there.
"""

from __future__ import annotations

from typing import Any

from ai_connector.errors import ResponseTooLargeError
from ai_connector.runtime.errors import TokenLimitReachedError
from ai_connector.types import ChatChunk, Usage

__all__ = ["ChatAggregator", "answer_body_cap"]


class ChatAggregator:
    """Accumulates the ChatChunks of one stream; `result()` gives Kibana's `chat.completion`."""

    __slots__ = (
        "_content",
        "_refusal",
        "_size",
        "_tools",
        "created",
        "finish_reason",
        "id",
        "length_reached",
        "max_size",
        "max_tokens",
        "model",
        "provider",
        "usage",
    )

    def __init__(
        self,
        *,
        id: str,
        model: str,
        created: int,
        max_tokens: int | None = None,
        provider: str | None = None,
        max_size: int | None = None,
    ) -> None:
        self.id = id
        self.max_size = max_size  # characters of content and tool calls at most (None: no cap)
        self._size = 0
        self.model = model
        self.created = created
        self.max_tokens = max_tokens
        self.provider = provider
        self._content: list[str] = []
        self._refusal: list[str] = []
        self._tools: dict[int, dict[str, Any]] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.length_reached = False

    def add(self, chunk: ChatChunk) -> None:
        """Fold one chunk in (Kibana keeps the id and model of the latest chunk that has them)."""
        if chunk.id:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        if chunk.content:
            self._content.append(chunk.content)
            self._grow(len(chunk.content))
        if chunk.refusal:
            self._refusal.append(chunk.refusal)
            self._grow(len(chunk.refusal))
        for delta in chunk.tool_calls:
            self._grow(len(delta.id or "") + len(delta.name or "") + len(delta.arguments or ""))
            call = self._tools.get(delta.index)
            if call is None:
                call = self._tools[delta.index] = {
                    "id": "",
                    "type": "function",
                    "function": {"name": "", "arguments": ""},
                }
            if delta.id:
                call["id"] += delta.id
            if delta.name:
                call["function"]["name"] += delta.name
            if delta.arguments:
                call["function"]["arguments"] += delta.arguments
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            if chunk.finish_reason == "length":
                self.length_reached = True

    def _grow(self, size: int) -> None:
        self._size += size
        if self.max_size is not None and self._size > self.max_size:
            raise self.too_large_error()

    def too_large_error(self) -> ResponseTooLargeError:
        """The error of an answer past `max_size` (also raised for a whole answer's body past
        `answer_body_cap`, which only an answer past `max_size` or a padded body reaches)."""
        return ResponseTooLargeError(
            f"{self.provider}: the aggregated answer exceeds the host's limit of {self.max_size} "
            "characters (max_aggregated_bytes)",
            provider=self.provider,
        )

    def token_limit_error(self) -> TokenLimitReachedError:
        """The error Kibana raises for `finish_reason: "length"`, with the figures known so far."""
        return TokenLimitReachedError(
            token_limit=self.max_tokens,
            token_count=None if self.usage is None else self.usage.completion_tokens,
            provider=self.provider,
        )

    def result(self) -> dict[str, Any]:
        """The aggregated `chat.completion`; raises TokenLimitReachedError after a `length` finish."""
        if self.length_reached:
            raise self.token_limit_error()
        content = "".join(self._content)
        refusal = "".join(self._refusal)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content or None,
            "refusal": refusal or None,
        }
        if self._tools:
            calls = [self._tools[i] for i in sorted(self._tools)]
            for call in calls:
                if not call["function"]["arguments"].strip():
                    call["function"]["arguments"] = "{}"
            message["tool_calls"] = calls
        finish = self.finish_reason or ("tool_calls" if self._tools else "stop")
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        }
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        return out


def answer_body_cap(max_aggregated_chars: int, max_response_bytes: int) -> int:
    """The byte cap on the body of a non-streamed chat answer (whose chunks are folded like a
    stream's): room for `max_aggregated_chars` characters even if every one is `\\uXXXX`-escaped
    (6 bytes), plus the ordinary body cap for the rest, so no answer the aggregated stream accepts
    is refused for its size; the aggregator then applies the same character cap as to a stream."""
    return max_response_bytes + 6 * max_aggregated_chars
