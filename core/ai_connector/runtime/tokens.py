"""A deterministic, conservative estimate of a chat request's prompt tokens, for `contextWindowLength`.

No tokenizer is available without a network download (tiktoken fetches its encodings at first use),
so the estimate counts characters, erring on the high side for typical text:

- every ASCII character counts 1/3 of a token (BPE tokenizers average about 4 characters a token on
  English prose and about 3 on code and JSON);
- every non-ASCII character counts one whole token (CJK and most other scripts take one or more
  tokens per character; accented Latin letters are over-counted, which is the safe side);
- each message adds 4 tokens of framing (OpenAI documents 3-4 for role and separators), and the
  request adds 3 for priming the reply;
- text counted: every message's role, name, content (string, or the `text` of each content part; a
  non-text part counts its JSON form), tool calls' names and arguments, tool_call_id, and the tool
  definitions (their JSON form).

The sum is rounded up: `ceil(ascii / 3) + non_ascii + 4 * messages + 3`. The same request always
gives the same figure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping

from ai_connector.errors import ContextWindowExceededError
from ai_connector.types import ChatRequest

__all__ = [
    "PER_MESSAGE_TOKENS",
    "REPLY_PRIMING_TOKENS",
    "check_context_window",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
]

PER_MESSAGE_TOKENS = 4
REPLY_PRIMING_TOKENS = 3


def _texts(request: ChatRequest) -> Iterator[str]:
    for message in request.messages:
        for key in ("role", "name", "tool_call_id"):
            value = message.get(key)
            if isinstance(value, str):
                yield value
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list | tuple):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    yield part["text"]
                else:
                    yield json.dumps(part, sort_keys=True, default=str)
        for call in message.get("tool_calls") or ():
            fn = (call.get("function") if isinstance(call, Mapping) else None) or {}
            for key in ("name", "arguments"):
                if isinstance(fn.get(key), str):
                    yield fn[key]
    if request.tools:
        yield json.dumps(list(request.tools), sort_keys=True, default=str)


def estimate_text_tokens(text: str) -> tuple[int, int]:
    """(ASCII characters, non-ASCII characters) of `text`."""
    if text.isascii():
        return len(text), 0
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return len(text) - non_ascii, non_ascii


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """The documented estimate of the prompt tokens `request` sends (see the module docstring)."""
    ascii_chars = 0
    other = 0
    for text in _texts(request):
        a, o = estimate_text_tokens(text)
        ascii_chars += a
        other += o
    return (
        math.ceil(ascii_chars / 3) + other + PER_MESSAGE_TOKENS * len(request.messages) + REPLY_PRIMING_TOKENS
    )


def check_context_window(request: ChatRequest, context_window: int | None) -> None:
    """Raise ContextWindowExceededError when estimated prompt tokens + requested max tokens
    (`max_tokens`, 0 when unset) exceed `context_window`; nothing when it is None."""
    if not context_window:
        return
    prompt = estimate_prompt_tokens(request)
    completion = request.max_tokens or 0
    if prompt + completion > context_window:
        raise ContextWindowExceededError(
            estimated_prompt_tokens=prompt, max_tokens=completion, context_window=int(context_window)
        )
