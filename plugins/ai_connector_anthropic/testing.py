"""A wire-exact fake of Anthropic's Messages API for tests, built on `ai_connector.testing.FakeServer`.

`FakeAnthropic` checks what a client sends (path, `x-api-key`, `anthropic-version`, JSON body with
`model`, `max_tokens`, `messages`) and answers as Anthropic documents it: a Message, an SSE stream
(`message_start` ... `message_stop`, with `ping`s), or an error body
`{"type":"error","error":{"type","message"},"request_id"}` with the status Anthropic uses for that
type (docs.anthropic.com/en/api/errors), `retry-after` and `anthropic-ratelimit-*` headers on 429.
Queue one-off answers (errors, truncated or failing streams, malformed JSON) with `then()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class
from ai_connector.testing.scenario import ChatScenario, split

__all__ = [
    "API_VERSION",
    "DEFAULT_API_KEY",
    "DEFAULT_MODEL",
    "ERROR_TYPES",
    "FakeAnthropic",
    "connector",
    "error_body",
    "error_response",
    "message",
    "scenario_events",
    "scenario_message",
    "scenario_response",
    "serve_chat",
    "serve_scenario",
    "sse",
    "stream_events",
    "stream_response",
]

API_VERSION = "2023-06-01"
DEFAULT_MODEL = "claude-sonnet-4-5-20250929"
DEFAULT_API_KEY = "fake-anthropic-key-0000"

# Status -> error type, from Anthropic's error documentation.
ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_MESSAGES: Mapping[int, str] = {
    400: "There was an issue with the format or content of your request.",
    401: "invalid x-api-key",
    402: "There is an issue with your billing or payment information.",
    403: "Your API key does not have permission to use the specified resource.",
    404: "The requested resource was not found.",
    409: "Conflict.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of request tokens has exceeded your per-minute rate limit "
    "(https://docs.anthropic.com/en/api/rate-limits). Please reduce the prompt length or the maximum "
    "tokens requested, or try again later.",
    500: "Internal server error",
    504: "Request timed out.",
    529: "Overloaded",
}

_REQUEST_ID = "req_011CQfakeRequestId0000"
_SSE_TYPE = "text/event-stream; charset=utf-8"


def error_body(status: int, message: str | None = None, *, error_type: str | None = None) -> dict[str, Any]:
    """Anthropic's error body for `status` (type from `ERROR_TYPES` unless given)."""
    return {
        "type": "error",
        "error": {
            "type": error_type or ERROR_TYPES.get(status, "api_error"),
            "message": message or _MESSAGES.get(status, "error"),
        },
        "request_id": _REQUEST_ID,
    }


def error_response(
    status: int, message: str | None = None, *, error_type: str | None = None, retry_after: int | None = None
) -> FakeResponse:
    """An error answer; a 429 carries `retry-after` (when given) and the rate-limit headers."""
    headers = {"request-id": _REQUEST_ID}
    if status == 429:
        headers.update(
            {
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2025-08-21T12:40:59Z",
            }
        )
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return FakeResponse.json(
        error_body(status, message, error_type=error_type), status=status, headers=headers
    )


def message(
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    input_tokens: int = 10,
    output_tokens: int = 5,
    stop_reason: str = "end_turn",
) -> dict[str, Any]:
    """A non-streamed Message with one text block."""
    return {
        "id": "msg_01FakeMessage0000000000",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def stream_events(
    pieces: Sequence[str],
    *,
    model: str = DEFAULT_MODEL,
    input_tokens: int = 10,
    output_tokens: int = 5,
    stop_reason: str = "end_turn",
    tool_calls: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> list[dict[str, Any]]:
    """The events of a streamed Message: a text block of `pieces`, then one tool_use block per
    `(id, name, partial_json fragments)`, then message_delta (stop_reason, output tokens) and message_stop."""
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_01FakeStream00000000000",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": model,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        }
    ]
    index = 0
    if pieces:
        events.append(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        )
        events.append({"type": "ping"})
        events += [
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            for piece in pieces
        ]
        events.append({"type": "content_block_stop", "index": 0})
        index = 1
    for call_id, name, fragments in tool_calls:
        events.append(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}},
            }
        )
        events += [
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": f},
            }
            for f in ("", *fragments)
        ]
        events.append({"type": "content_block_stop", "index": index})
        index += 1
    return events + _ending(stop_reason, None, output_tokens)


def _ending(stop_reason: str, stop_sequence: str | None, output_tokens: int) -> list[dict[str, Any]]:
    """The last two events: message_delta (stop reason, cumulative output tokens), message_stop."""
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


def sse(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Events framed as Anthropic sends them: `event: <type>` + `data: <json>` + blank line."""
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events]


def stream_response(
    events: Iterable[Mapping[str, Any]], *, abort_after: int | None = None, chunk_delay: float = 0.0
) -> FakeResponse:
    """A streamed answer of `events`; `abort_after` cuts the connection after that many events."""
    return FakeResponse(
        chunks=sse(events),
        abort_after=abort_after,
        chunk_delay=chunk_delay,
        headers={"request-id": _REQUEST_ID, "cache-control": "no-cache"},
        content_type=_SSE_TYPE,
    )


# ---------------------------------------------------------------------------------------------
# One answer, streamed or whole (ai_connector.testing.scenario)

_STOP_REASONS = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
# Documented blocks a chat client does not relay: extended thinking, a server tool and its result.
_THINKING = {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"}
_SERVER_TOOL = {
    "type": "server_tool_use",
    "id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
    "name": "web_search",
    "input": {"query": "weather Paris"},
}
_SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
    "content": [],
}


def _scenario_blocks(scenario: ChatScenario) -> list[dict[str, Any]]:
    """The Message's content blocks for `scenario`, in order."""
    blocks: list[dict[str, Any]] = [_THINKING, _SERVER_TOOL, _SEARCH_RESULT] if scenario.odd_blocks else []
    if scenario.text:
        blocks.append({"type": "text", "text": scenario.whole_text})
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)}
        for c in scenario.tool_calls
    ]
    return blocks


def _stop(scenario: ChatScenario) -> tuple[str, str | None]:
    own = scenario.own("anthropic")
    reason = own.get("stop_reason") or _STOP_REASONS[scenario.finish]
    return reason, ("\n\nHuman:" if reason == "stop_sequence" else None)


def scenario_message(scenario: ChatScenario, *, model: str = DEFAULT_MODEL) -> dict[str, Any]:
    """`scenario` as one non-streamed Message."""
    reason, sequence = _stop(scenario)
    prompt, completion = scenario.usage or (0, 0)
    return {
        "id": "msg_01FakeMessage0000000000",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _scenario_blocks(scenario),
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": {"input_tokens": prompt, "output_tokens": completion},
    }


def scenario_events(scenario: ChatScenario, *, model: str = DEFAULT_MODEL) -> list[dict[str, Any]]:
    """`scenario` as Anthropic streams it: message_start, per block its start, deltas (text pieces,
    `partial_json` fragments of the tool input, thinking and signature deltas) and stop, a ping,
    message_delta with the stop reason and the output tokens, message_stop."""
    reason, sequence = _stop(scenario)
    prompt, completion = scenario.usage or (0, 0)
    start = {
        **scenario_message(scenario, model=model),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    start["id"] = "msg_01FakeStream00000000000"
    start["usage"] = {"input_tokens": prompt, "output_tokens": 1}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(_scenario_blocks(scenario)):
        kind = block["type"]
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            head: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in scenario.text]
        elif kind in ("tool_use", "server_tool_use"):
            head = {**block, "input": {}}
            fragments = split(json.dumps(block["input"], ensure_ascii=False))  # Anthropic's spacing
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in ("", *fragments)]
        elif kind == "thinking":
            head = {"type": "thinking", "thinking": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": block["thinking"]},
                {"type": "signature_delta", "signature": block["signature"]},
            ]
        else:
            head = block
        events.append({"type": "content_block_start", "index": index, "content_block": head})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
        if index == 0:
            events.append({"type": "ping"})
    return events + _ending(reason, sequence, completion)


def scenario_response(scenario: ChatScenario, request_body: Mapping[str, Any]) -> FakeResponse:
    """The answer to a Messages request for `scenario`: streamed when it asks (`stream: true`), one
    Message otherwise."""
    model = request_body.get("model") or DEFAULT_MODEL
    if request_body.get("stream"):
        return stream_response(scenario_events(scenario, model=model))
    return FakeResponse.json(scenario_message(scenario, model=model), headers={"request-id": _REQUEST_ID})


def serve_scenario(server: FakeServer, scenario: ChatScenario) -> None:
    """Answer every keyed `POST /v1/messages` with `scenario`, streamed or whole as it asks."""

    def answer(request: RecordedRequest) -> FakeResponse:
        if not request.headers.get("x-api-key"):
            return error_response(401)
        if request.headers.get("anthropic-version") != API_VERSION:
            return error_response(400, "anthropic-version: header is required")
        return scenario_response(scenario, request.json())

    server.add("POST", "/v1/messages", answer)


class FakeAnthropic:
    """Anthropic's `POST /v1/messages` and `GET /v1/models` on a FakeServer, checking each request."""

    def __init__(
        self,
        server: FakeServer,
        *,
        api_key: str = DEFAULT_API_KEY,
        models: Sequence[str] = (DEFAULT_MODEL,),
        text: str = "Hello!",
        pieces: Sequence[str] = ("Hello", "!"),
        input_tokens: int = 25,
        output_tokens: int = 15,
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.models = list(models)
        self.text = text
        self.pieces = list(pieces)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.queued: list[FakeResponse] = []
        server.add("POST", "/v1/messages", self._messages)
        server.add("GET", "/v1/models", self._list_models)

    def then(self, response: FakeResponse) -> None:
        """Answer the next accepted request with `response` (after the key and body checks)."""
        self.queued.append(response)

    def _auth(self, request: RecordedRequest) -> FakeResponse | None:
        if request.headers.get("x-api-key") != self.api_key:
            return error_response(401)
        if not request.headers.get("anthropic-version"):
            return error_response(400, "anthropic-version: header is required")
        return None

    def _messages(self, request: RecordedRequest) -> FakeResponse:
        refused = self._auth(request)
        if refused is not None:
            return refused
        if not request.headers.get("content-type", "").startswith("application/json"):
            return error_response(400, "Content-Type must be application/json")
        try:
            body = request.json()
        except ValueError:
            return error_response(400, "There was an issue with the format or content of your request.")
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            return error_response(400, "max_tokens: Field required")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return error_response(400, "messages: at least one message is required")
        if body.get("model") not in self.models:
            return error_response(404, f"model: {body.get('model')}")
        if self.queued:
            return self.queued.pop(0)
        if body.get("stream"):
            events = stream_events(
                self.pieces,
                model=body["model"],
                input_tokens=self.input_tokens,
                output_tokens=self.output_tokens,
            )
            return stream_response(events)
        answer = message(
            self.text, model=body["model"], input_tokens=self.input_tokens, output_tokens=self.output_tokens
        )
        return FakeResponse.json(answer, headers={"request-id": _REQUEST_ID})

    def _list_models(self, request: RecordedRequest) -> FakeResponse:
        refused = self._auth(request)
        if refused is not None:
            return refused
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}
            for m in self.models
        ]
        return FakeResponse.json(
            {"data": data, "has_more": False, "first_id": self.models[0], "last_id": self.models[-1]}
        )


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming an Anthropic connector at `base_url`."""
    return {"model_id": DEFAULT_MODEL, "url": base_url}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer any keyed `POST /v1/messages` with `pieces` as the assistant's text, ending with
    `end_turn` (finish reason "stop") and that usage: streamed when the request streams, one
    Message otherwise."""
    serve_scenario(
        server, ChatScenario("serve_chat", text=tuple(pieces), usage=(prompt_tokens, completion_tokens))
    )


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.stream()`, `.connector()`; `python -m ai_connector.testing anthropic --port N` serves one.
FAKE = fake_class(
    "anthropic",
    install=lambda server, key: FakeAnthropic(server, api_key=key),
    connector=connector,
    serve_chat=serve_chat,
)
