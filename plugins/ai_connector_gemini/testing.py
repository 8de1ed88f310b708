"""Builders for Gemini's wire format, for the Vertex AI and AI Studio fakes (and anyone's tests).

Bodies follow Google's documented shapes: GenerateContentResponse chunks framed as SSE with CRLF line
ends and no terminator (FirebaseExtended/vertexai-sdk-test-data `mock-responses/*/streaming-*.txt`),
and `google.rpc.Status` error bodies with typed `details`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ai_connector.testing.scenario import ChatScenario

__all__ = [
    "MID_STREAM_CANCELLED",
    "error_info",
    "generate_response",
    "help_links",
    "quota_failure",
    "retry_info",
    "rpc_status",
    "scenario_answer",
    "scenario_objects",
    "sse",
    "text_stream",
    "usage_metadata",
]


def usage_metadata(prompt_tokens: int, completion_tokens: int | None = None) -> dict[str, Any]:
    """`usageMetadata`; without completion tokens it is the prompt-only form of the early chunks."""
    meta: dict[str, Any] = {"promptTokenCount": prompt_tokens}
    if completion_tokens is not None:
        meta["candidatesTokenCount"] = completion_tokens
    meta["totalTokenCount"] = prompt_tokens + (completion_tokens or 0)
    return meta


def generate_response(
    text: str | None = None,
    *,
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
    function_calls: Sequence[Mapping[str, Any]] = (),
    model_version: str = "gemini-2.0-flash",
) -> dict[str, Any]:
    """One GenerateContentResponse: a model candidate with `text` and/or `functionCall` parts."""
    parts: list[dict[str, Any]] = []
    if text is not None:
        parts.append({"text": text})
    parts.extend({"functionCall": dict(call)} for call in function_calls)
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
        candidate["index"] = 0
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = dict(usage)
    out["modelVersion"] = model_version
    return out


def sse(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Each object as one `data:` event, CRLF-framed as Google sends them (no terminator)."""
    return [f"data: {json.dumps(obj)}\r\n\r\n" for obj in objects]


def text_stream(
    pieces: Sequence[str],
    *,
    prompt_tokens: int = 5,
    completion_tokens: int = 7,
    finish_reason: str = "STOP",
    model_version: str = "gemini-2.0-flash",
) -> list[str]:
    """The SSE chunks of a streamed text answer: one event per piece, the last carrying `finishReason`
    and the full `usageMetadata` (earlier ones the prompt-only usage, as the Gemini API sends)."""
    pieces = list(pieces) or [""]
    last = len(pieces) - 1
    objects = [
        generate_response(
            piece,
            finish_reason=finish_reason if i == last else None,
            usage=usage_metadata(prompt_tokens, completion_tokens if i == last else None),
            model_version=model_version,
        )
        for i, piece in enumerate(pieces)
    ]
    return sse(objects)


def rpc_status(code: int, message: str, status: str, *details: Mapping[str, Any]) -> dict[str, Any]:
    """A `google.rpc.Status` error body: `{"error": {"code", "message", "status", "details"?}}`."""
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = [dict(d) for d in details]
    return {"error": err}


def error_info(reason: str, domain: str, **metadata: str) -> dict[str, Any]:
    """A `google.rpc.ErrorInfo` detail."""
    out: dict[str, Any] = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": domain,
    }
    if metadata:
        out["metadata"] = metadata
    return out


def retry_info(delay: str) -> dict[str, Any]:
    """A `google.rpc.RetryInfo` detail, e.g. `retry_info("59s")`."""
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def quota_failure(quota_metric: str, quota_id: str, **dimensions: str) -> dict[str, Any]:
    """A `google.rpc.QuotaFailure` detail with one violation."""
    violation: dict[str, Any] = {"quotaMetric": quota_metric, "quotaId": quota_id}
    if dimensions:
        violation["quotaDimensions"] = dimensions
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [violation]}


def help_links(description: str, url: str) -> dict[str, Any]:
    """A `google.rpc.Help` detail with one link."""
    return {
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": description, "url": url}],
    }


# What Google writes into an already-started stream when it gives up: a bare, pretty-printed status
# object, not an SSE event (the SDK test data's `streaming-failure-error-mid-stream` case: 499 CANCELLED).
MID_STREAM_CANCELLED = (
    json.dumps(rpc_status(499, "The operation was cancelled.", "CANCELLED"), indent=2) + "\r\n"
)


# ---------------------------------------------------------------------------------------------
# One answer, streamed or whole (ai_connector.testing.scenario)

_FINISH = {
    "stop": "STOP",
    "stop_sequence": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "content_filter": "SAFETY",
}
_THOUGHT = {"text": "Let me think about the weather.", "thought": True}
_RATINGS = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]


def _scenario_usage(scenario: ChatScenario, final: bool) -> dict[str, Any] | None:
    if scenario.usage is None:
        return None
    prompt, completion = scenario.usage
    return usage_metadata(prompt, completion if final else None)


def _blocked(scenario: ChatScenario) -> dict[str, Any] | None:
    """A prompt Google blocked: no candidate, `promptFeedback.blockReason` (vendor key `blockReason`)."""
    own = scenario.own("gemini")
    if not own.get("blockReason"):
        return None
    feedback = {"blockReason": own["blockReason"], "safetyRatings": _RATINGS}
    if own.get("blockReasonMessage"):
        feedback["blockReasonMessage"] = own["blockReasonMessage"]
    out: dict[str, Any] = {"promptFeedback": feedback, "modelVersion": "gemini-2.0-flash"}
    usage = _scenario_usage(scenario, False)
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def _candidate(scenario: ChatScenario, parts: list[dict[str, Any]], final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if final:
        own = scenario.own("gemini")
        candidate["finishReason"] = own.get("finishReason") or _FINISH[scenario.finish]
        if own.get("finishMessage"):
            candidate["finishMessage"] = own["finishMessage"]
        candidate["index"] = 0
        if scenario.odd_blocks:
            candidate["safetyRatings"] = _RATINGS
    return candidate


def _calls(scenario: ChatScenario) -> list[dict[str, Any]]:
    return [{"functionCall": {"name": c.name, "args": dict(c.arguments)}} for c in scenario.tool_calls]


def scenario_answer(scenario: ChatScenario) -> dict[str, Any]:
    """`scenario` as one unary GenerateContentResponse."""
    blocked = _blocked(scenario)
    if blocked is not None:
        return blocked
    parts: list[dict[str, Any]] = [_THOUGHT] if scenario.odd_blocks else []
    if scenario.text:
        parts.append({"text": scenario.whole_text})
    parts += _calls(scenario)
    out: dict[str, Any] = {"candidates": [_candidate(scenario, parts, True)]}
    usage = _scenario_usage(scenario, True)
    if usage is not None:
        out["usageMetadata"] = usage
    out["modelVersion"] = "gemini-2.0-flash"
    return out


def scenario_objects(scenario: ChatScenario) -> list[dict[str, Any]]:
    """`scenario` as `streamGenerateContent` sends it: a thought summary first (when `odd_blocks`),
    one object per text piece, the function calls whole in one object, the finish reason and the
    full usage on the last (the earlier ones carry the prompt-only usage)."""
    blocked = _blocked(scenario)
    if blocked is not None:
        return [blocked]
    groups: list[list[dict[str, Any]]] = [[_THOUGHT]] if scenario.odd_blocks else []
    groups += [[{"text": piece}] for piece in scenario.text]
    if scenario.tool_calls:
        groups.append(_calls(scenario))
    groups = groups or [[{"text": ""}]]
    out = []
    for i, parts in enumerate(groups):
        final = i == len(groups) - 1
        obj: dict[str, Any] = {"candidates": [_candidate(scenario, parts, final)]}
        usage = _scenario_usage(scenario, final)
        if usage is not None:
            obj["usageMetadata"] = usage
        obj["modelVersion"] = "gemini-2.0-flash"
        out.append(obj)
    return out
