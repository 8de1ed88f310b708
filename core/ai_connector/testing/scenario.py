"""One model answer that a provider's fake renders in both of its vendor's forms, streamed and
whole, so a test can check that a provider's non-streamed chat call and its stream give the host
the same `unified_completion` (see `tests/providers/test_chat_nonstream.py`).

The scenario speaks a vendor-neutral vocabulary; each fake maps it onto its own wire (stop reasons,
refusal fields, tool-call blocks, usage fields) and `vendor` carries what only one vendor has (a
Gemini `finishReason` of its own, Anthropic's `pause_turn`...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FINISHES", "ChatScenario", "ScenarioToolCall", "split"]

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
