"""One model answer that a provider's fake renders in both of its vendor's forms, streamed and
whole, so a test can check that a provider's non-streamed chat call and its stream give the host
the same `unified_completion` (see `tests/providers/test_chat_nonstream.py`).

The scenario speaks a vendor-neutral vocabulary; each fake maps it onto its own wire (stop reasons,
refusal fields, tool-call blocks, usage fields) and `vendor` carries what only one vendor has (a
Gemini `finishReason` of its own, Anthropic's `pause_turn`...). OpenAI's chat wire, which many
services share, is rendered here (`openai_chunks`, `openai_answer`); each vendor's fake frames it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FINISHES", "ChatScenario", "ScenarioToolCall", "openai_answer", "openai_chunks", "split"]

# The neutral finish vocabulary a fake maps to its vendor's stop reasons.
FINISHES = frozenset({"stop", "stop_sequence", "length", "tool_calls", "content_filter"})


@dataclass(frozen=True)
class ScenarioToolCall:
    """One complete tool call of the answer: its id, the function's name and its arguments."""

    id: str
    name: str
    arguments: Mapping[str, Any]

    def arguments_json(self) -> str:
        """The arguments as the model writes them (compact JSON): the stream sends this text in
        pieces, the whole answer in one string (or as the object, where the vendor sends objects)."""
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ChatScenario:
    """An answer: `text` pieces (one stream event each), `refusal` pieces (a vendor with a refusal
    field), `tool_calls`, the `finish` (one of FINISHES), `usage` as (prompt, completion) tokens or
    None when the vendor reports none, `odd_blocks` for the vendor's documented content a client
    skips (thinking, server tools, annotations), and `vendor` for one vendor's own fields, keyed by
    the fake's name (e.g. `{"gemini": {"finishReason": "RECITATION"}}`)."""

    name: str
    text: Sequence[str] = ()
    refusal: Sequence[str] = ()
    tool_calls: Sequence[ScenarioToolCall] = ()
    finish: str = "stop"
    usage: tuple[int, int] | None = (11, 7)
    odd_blocks: bool = False
    vendor: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.finish not in FINISHES:
            raise ValueError(f"finish {self.finish!r} is not one of {sorted(FINISHES)}")

    def own(self, vendor: str) -> Mapping[str, Any]:
        """What this scenario sets for `vendor` alone (empty when nothing)."""
        return self.vendor.get(vendor, {})

    @property
    def whole_text(self) -> str:
        """The answer's text in one piece."""
        return "".join(self.text)


def split(text: str, parts: int = 3) -> list[str]:
    """`text` cut into at most `parts` non-empty pieces (a tool call's arguments as a stream sends them)."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


# Azure's content-filter annotations (on chunks and answers alike, when `odd_blocks`).
_FILTER_RESULTS = {"hate": {"filtered": False, "severity": "safe"}}
_PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": _FILTER_RESULTS}]


def _openai_finish(scenario: ChatScenario) -> str:
    return "stop" if scenario.finish == "stop_sequence" else scenario.finish


def _openai_usage(scenario: ChatScenario) -> dict[str, int] | None:
    if scenario.usage is None:
        return None
    prompt, completion = scenario.usage
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def openai_chunks(
    scenario: ChatScenario,
    *,
    envelope: Mapping[str, Any],
    include_usage: bool = True,
    usage_on_finish: bool = False,
) -> list[dict[str, Any] | str]:
    """`scenario` as an OpenAI chat stream's `chat.completion.chunk` objects (then `"[DONE]"`), each
    carrying `envelope` (id, created, model...): the role chunk, content or refusal deltas, each tool
    call's head then its arguments in pieces, the finish chunk, the usage chunk (`choices: []`) when
    `include_usage`; `usage_on_finish` puts the usage on the finish chunk instead (Mistral, watsonx).
    With `odd_blocks`, Azure's `prompt_filter_results` chunk and `content_filter_results`."""

    def chunk(delta: Mapping[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish}
        if scenario.odd_blocks:
            choice["content_filter_results"] = _FILTER_RESULTS
        return {**envelope, "object": "chat.completion.chunk", "choices": [choice]}

    events: list[dict[str, Any] | str] = []
    if scenario.odd_blocks:
        events.append({**chunk({}), "choices": [], "prompt_filter_results": _PROMPT_FILTER})
    role: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
    if scenario.refusal:
        role = {"role": "assistant", "content": None, "refusal": ""}
    events.append(chunk(role))
    events += [chunk({"content": p}) for p in scenario.text]
    events += [chunk({"refusal": p}) for p in scenario.refusal]
    for i, call in enumerate(scenario.tool_calls):
        head = {
            "index": i,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        for piece in split(call.arguments_json()):
            events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    usage = _openai_usage(scenario)
    finish = chunk({}, _openai_finish(scenario))
    if usage_on_finish and usage is not None:
        finish["usage"] = usage
    events.append(finish)
    if include_usage and not usage_on_finish and usage is not None:
        events.append({**chunk({}), "choices": [], "usage": usage})
    events.append("[DONE]")
    return events


def openai_answer(scenario: ChatScenario, *, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """`scenario` as one non-streamed `chat.completion` (OpenAI's CreateChatCompletionResponse)
    carrying `envelope`."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": scenario.whole_text or None,
        "refusal": "".join(scenario.refusal) or None,
    }
    if scenario.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}
            for c in scenario.tool_calls
        ]
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _openai_finish(scenario),
    }
    body: dict[str, Any] = {**envelope, "object": "chat.completion", "choices": [choice]}
    if scenario.odd_blocks:
        message["annotations"] = []
        choice["content_filter_results"] = _FILTER_RESULTS
        body["prompt_filter_results"] = _PROMPT_FILTER
    usage = _openai_usage(scenario)
    if usage is not None:
        body["usage"] = usage
    return body
