"""A wire-exact fake of the OpenAI API on `ai_connector.testing.FakeServer`, for this plugin's tests,
host applications and the cross-provider suite.

`OpenAIFake(server).install()` answers `POST /v1/chat/completions` (streamed or not),
`POST /v1/embeddings` and `GET /v1/models` the way api.openai.com does, after checking what the
client sent: the bearer key, the JSON body, the model. The `*_response` functions build OpenAI's
documented answers (error bodies from wire.md section 1, SSE streams, broken streams) for a test to
install on a route with `server.add(...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class
from ai_connector.testing.scenario import ChatScenario, openai_answer, openai_chunks

__all__ = [
    "CHAT_MODEL",
    "EMBEDDING_MODEL",
    "OpenAIFake",
    "chat_chunk",
    "chat_completion_body",
    "chat_stream_events",
    "connector",
    "embeddings_body",
    "error_answer",
    "error_body",
    "insufficient_quota_response",
    "invalid_api_key_response",
    "malformed_json_response",
    "midstream_error_response",
    "model_not_found_response",
    "rate_limit_response",
    "scenario_response",
    "serve_chat",
    "serve_scenario",
    "server_error_response",
    "sse",
    "stream_response",
]

CHAT_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
_CREATED = 1727346168
_SSE = "text/event-stream; charset=utf-8"


# ---------------------------------------------------------------------------------------------
# Bodies


def error_body(message: str, type: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error object: all four fields are always present (spec `ErrorResponse`)."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _masked(key: str) -> str:
    # OpenAI echoes a masked key ("sk-VKMIs***...wjh3"); never the whole of it.
    return f"{key[:8]}***...{key[-4:]}" if len(key) > 16 else "***"


def invalid_api_key_response(presented: str | None = None) -> FakeResponse:
    """401 for a wrong key (`invalid_api_key`), or for no key at all."""
    if presented:
        body = error_body(
            f"Incorrect API key provided: {_masked(presented)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )
    else:
        body = error_body(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
        )
    return FakeResponse.json(body, 401)


def model_not_found_response(model: str) -> FakeResponse:
    """404 for a model id that does not exist or is not accessible (`model_not_found`)."""
    return FakeResponse.json(
        error_body(
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
        404,
    )


def rate_limit_response(
    *, retry_after: str | None = "19", retry_after_ms: str | None = None, model: str = "gpt-4o"
) -> FakeResponse:
    """429 `rate_limit_exceeded` (tokens per minute), with OpenAI's rate-limit headers."""
    headers = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-reset-tokens": "18.642s",
        "x-request-id": "req_7a3c3f0e1b2d4c5e",
    }
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    body = error_body(
        f"Rate limit reached for {model} in organization org-XXX on tokens per min (TPM): Limit 30000, "
        "Used 14567, Requested 24754. Please try again in 18.642s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        "tokens",
        "rate_limit_exceeded",
    )
    return FakeResponse.json(body, 429, headers)


def insufficient_quota_response() -> FakeResponse:
    """429 `insufficient_quota`: the account is out of credit; waiting will not help."""
    return FakeResponse.json(
        error_body(
            "You exceeded your current quota, please check your plan and billing details. For more "
            "information on this error, read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            "insufficient_quota",
        ),
        429,
    )


def server_error_response() -> FakeResponse:
    """500 `server_error`."""
    return FakeResponse.json(
        error_body(
            "The server had an error while processing your request. Sorry about that!", "server_error", None
        ),
        500,
    )


def malformed_json_response() -> FakeResponse:
    """A 200 whose body is cut-off JSON."""
    return FakeResponse(
        status=200, body='{"id": "chatcmpl-1", "object": "chat.comp', content_type="application/json"
    )


def chat_completion_body(
    text: str, *, model: str = CHAT_MODEL, prompt_tokens: int = 5, completion_tokens: int = 7
) -> dict[str, Any]:
    """A non-streaming `chat.completion` answer."""
    return {
        "id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL",
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_5050236cbd",
    }


def embeddings_body(
    vectors: Sequence[Sequence[float]], *, model: str = EMBEDDING_MODEL, order: Sequence[int] | None = None
) -> dict[str, Any]:
    """An embeddings answer; `order` lists the indexes in the order the items appear."""
    order = range(len(vectors)) if order is None else order
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": list(vectors[i])} for i in order],
        "model": model,
        "usage": {"prompt_tokens": 4 * len(vectors), "total_tokens": 4 * len(vectors)},
    }


# ---------------------------------------------------------------------------------------------
# Streams


def sse(events: Iterable[Mapping[str, Any] | str]) -> list[str]:
    """OpenAI's data-only SSE framing: `data: <json>` and a blank line per event."""
    return [f"data: {e if isinstance(e, str) else json.dumps(e, separators=(',', ':'))}\n\n" for e in events]


def chat_chunk(
    delta: Mapping[str, Any], finish_reason: str | None = None, *, model: str = CHAT_MODEL
) -> dict[str, Any]:
    """One `chat.completion.chunk` with a single choice carrying `delta`."""
    return {
        "id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "system_fingerprint": "fp_5050236cbd",
        "choices": [{"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}],
    }


def chat_stream_events(
    pieces: Sequence[str],
    *,
    model: str = CHAT_MODEL,
    prompt_tokens: int = 5,
    completion_tokens: int = 7,
    include_usage: bool = True,
    finish_reason: str = "stop",
    done: bool = True,
) -> list[str]:
    """The SSE events of a streamed answer, as api.openai.com frames them (see wire-samples/openai.txt):
    a role chunk with empty content, one chunk per piece, the finish chunk, the usage chunk with
    `choices: []` when asked for, then `data: [DONE]`."""
    events: list[Mapping[str, Any] | str] = [
        chat_chunk({"role": "assistant", "content": "", "refusal": None}, model=model)
    ]
    events += [chat_chunk({"content": p}, model=model) for p in pieces]
    events.append(chat_chunk({}, finish_reason, model=model))
    if include_usage:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        events.append({**chat_chunk({}, model=model), "choices": [], "usage": usage})
    if done:
        events.append("[DONE]")
    return sse(events)


def stream_response(events: Sequence[str], *, abort_after: int | None = None) -> FakeResponse:
    """A 200 event stream; `abort_after` drops the connection after that many events."""
    return FakeResponse(status=200, chunks=list(events), content_type=_SSE, abort_after=abort_after)


def error_answer(
    errors: Mapping[str, tuple[int, Any]], kind: str, *, retry_after: int | None = None
) -> FakeResponse:
    """A vendor's answer for a kind of failure (`credentials`, `model_not_found`, `rate_limit`,
    `quota`, `server_error`), from its table of (status, JSON body or text); `retry_after` adds the
    `Retry-After` header."""
    status, body = errors[kind]
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    if isinstance(body, str):
        return FakeResponse(status=status, body=body, content_type="text/plain", headers=headers)
    return FakeResponse.json(body, status, headers)


def midstream_error_response(
    pieces: Sequence[str] = ("Hel",),
    *,
    message: str = "The server had an error while processing your request.",
) -> FakeResponse:
    """A stream that starts, then carries `data: {"error": {...}}` instead of more chunks."""
    head = chat_stream_events(pieces, include_usage=False, done=False)[:-1]  # no finish chunk
    return stream_response(head + sse([error_body(message, "server_error", None)]))


# ---------------------------------------------------------------------------------------------
# One answer, streamed or whole (ai_connector.testing.scenario)


def _envelope(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL",
        "created": _CREATED,
        "model": model,
        "system_fingerprint": "fp_5050236cbd",
    }


def scenario_events(
    scenario: ChatScenario,
    *,
    model: str = CHAT_MODEL,
    include_usage: bool = True,
    usage_on_finish: bool = False,
) -> list[str]:
    """The SSE events of `scenario` as api.openai.com streams it (`scenario.openai_chunks`)."""
    return sse(
        openai_chunks(
            scenario, envelope=_envelope(model), include_usage=include_usage, usage_on_finish=usage_on_finish
        )
    )


def scenario_body(scenario: ChatScenario, *, model: str = CHAT_MODEL) -> dict[str, Any]:
    """`scenario` as one non-streamed `chat.completion` (`scenario.openai_answer`)."""
    return openai_answer(scenario, envelope=_envelope(model))


def scenario_response(
    scenario: ChatScenario, request_body: Mapping[str, Any], *, usage_on_finish: bool = False
) -> FakeResponse:
    """The answer to a chat request for `scenario`: streamed when the request streams (usage when it
    asks for it, as OpenAI does, or on the finish chunk), one `chat.completion` otherwise."""
    model = request_body.get("model") or CHAT_MODEL
    if request_body.get("stream"):
        include = bool((request_body.get("stream_options") or {}).get("include_usage"))
        events = scenario_events(
            scenario, model=model, include_usage=include, usage_on_finish=usage_on_finish
        )
        return stream_response(events)
    return FakeResponse.json(scenario_body(scenario, model=model))


def serve_scenario(
    server: FakeServer,
    scenario: ChatScenario,
    path: str = "/v1/chat/completions",
    *,
    usage_on_finish: bool = False,
) -> None:
    """Answer `POST <path>` (a regular expression) with `scenario`, streamed or whole as each request asks."""
    server.add(
        "POST",
        path,
        lambda request: scenario_response(scenario, request.json(), usage_on_finish=usage_on_finish),
    )


# ---------------------------------------------------------------------------------------------
# The fake service


class OpenAIFake:
    """The OpenAI API on a FakeServer: checks the bearer key and request bodies, answers like OpenAI.

    `reply` is the assistant's text, streamed piece by piece; embeddings are deterministic vectors of
    `dimensions` floats (or the request's `dimensions`). Requests are recorded on `server.requests`.
    An OpenAI-compatible vendor's fake gives its own `errors` (kind -> (status, body), see
    `error_answer`) and `prefix`, and overrides `stream_events` where its stream framing differs.
    """

    def __init__(
        self,
        server: FakeServer,
        *,
        api_key: str = "canary-secret-0000",
        models: Iterable[str] = (CHAT_MODEL, EMBEDDING_MODEL),
        prefix: str = "/v1",
        reply: Sequence[str] = ("Hello", " there", "!"),
        dimensions: int = 4,
        errors: Mapping[str, tuple[int, Any]] | None = None,
    ) -> None:
        self.server = server
        self.errors = errors
        self.api_key = api_key
        self.models = set(models)
        self.prefix = prefix.rstrip("/")
        self.reply = tuple(reply)
        self.dimensions = dimensions

    def install(self) -> OpenAIFake:
        """Add the routes to the server."""
        self.server.add("POST", f"{self.prefix}/chat/completions", self.chat)
        self.server.add("POST", f"{self.prefix}/embeddings", self.embeddings)
        self.server.add("GET", f"{self.prefix}/models", self._models)
        return self

    @property
    def base_url(self) -> str:
        """The fake's API base, e.g. `http://127.0.0.1:5555/v1`."""
        return self.server.url + self.prefix

    def unauthorized(self, presented: str | None) -> FakeResponse:
        """The answer to a wrong (`presented`) or missing bearer key."""
        if self.errors is not None:
            return error_answer(self.errors, "credentials")
        return invalid_api_key_response(presented)

    def unknown_model(self, model: str) -> FakeResponse:
        """The answer to a model the service does not serve."""
        if self.errors is not None:
            return error_answer(self.errors, "model_not_found")
        return model_not_found_response(model)

    def stream_events(
        self, pieces: Sequence[str], body: Mapping[str, Any], finish: str, prompt: int, completion: int
    ) -> list[str]:
        """The SSE events streaming `pieces` for the request `body` (usage when it asks for it)."""
        return chat_stream_events(
            pieces,
            model=body.get("model") or CHAT_MODEL,
            prompt_tokens=prompt,
            completion_tokens=completion,
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            finish_reason=finish,
        )

    def serve(self, path: str, pieces: Sequence[str], *, prompt_tokens: int, completion_tokens: int) -> None:
        """Answer any `POST <path>` (no checks) with `pieces`, finish reason "stop" and that usage:
        streamed the vendor's way when the request streams, one `chat.completion` otherwise."""

        def answer(request: RecordedRequest) -> FakeResponse:
            body = request.json()
            if body.get("stream"):
                return stream_response(
                    self.stream_events(pieces, body, "stop", prompt_tokens, completion_tokens)
                )
            text = "".join(pieces)
            model = body.get("model") or CHAT_MODEL
            return FakeResponse.json(
                chat_completion_body(
                    text, model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
                )
            )

        self.server.add("POST", path, answer)

    def _refusal(self, request: RecordedRequest) -> tuple[FakeResponse | None, dict[str, Any]]:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:]:
            return self.unauthorized(None), {}
        if auth[7:] != self.api_key:
            return self.unauthorized(auth[7:]), {}
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return FakeResponse.json(
                error_body(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
                    "sent was not valid JSON.)",
                    "invalid_request_error",
                    None,
                ),
                400,
            ), {}
        model = body.get("model")
        if not isinstance(model, str):
            return FakeResponse.json(
                error_body("you must provide a model parameter", "invalid_request_error", None), 400
            ), body
        if model not in self.models:
            return self.unknown_model(model), body
        return None, body

    def chat(self, request: RecordedRequest) -> FakeResponse:
        """The `POST /chat/completions` route (a vendor's fake may wrap it)."""
        refusal, body = self._refusal(request)
        if refusal is not None:
            return refusal
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return FakeResponse.json(
                error_body("[] is too short - 'messages'", "invalid_request_error", None, "messages"), 400
            )
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        pieces = self.reply[:limit] if isinstance(limit, int) else self.reply
        finish = "length" if len(pieces) < len(self.reply) else "stop"
        if body.get("stream"):
            return stream_response(self.stream_events(pieces, body, finish, 5, len(pieces)))
        answer = chat_completion_body("".join(pieces), model=body["model"], completion_tokens=len(pieces))
        answer["choices"][0]["finish_reason"] = finish
        return FakeResponse.json(answer)

    def embeddings(self, request: RecordedRequest) -> FakeResponse:
        """The `POST /embeddings` route (a vendor's fake may wrap it)."""
        refusal, body = self._refusal(request)
        if refusal is not None:
            return refusal
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return FakeResponse.json(
                error_body(
                    "'input' : input cannot be an empty string", "invalid_request_error", None, "input"
                ),
                400,
            )
        size = body.get("dimensions") or self.dimensions
        vectors = [[round((i + 1) * 0.1 + j * 0.01, 4) for j in range(size)] for i in range(len(inputs))]
        return FakeResponse.json(embeddings_body(vectors, model=body["model"]))

    def _models(self, request: RecordedRequest) -> FakeResponse:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return self.unauthorized(auth[7:] or None)
        data = [
            {"id": m, "object": "model", "created": _CREATED, "owned_by": "system"}
            for m in sorted(self.models)
        ]
        return FakeResponse.json({"object": "list", "data": data})


# ---------------------------------------------------------------------------------------------
# The cross-provider helpers


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of an OpenAI connector aimed at the fake at `base_url`."""
    base = base_url.rstrip("/")
    if task_type == "text_embedding":
        return {"model_id": EMBEDDING_MODEL, "url": f"{base}/v1/embeddings"}, {"api_key": secret}
    return {"model_id": CHAT_MODEL, "url": f"{base}/v1/chat/completions"}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /v1/chat/completions` with `pieces` as the assistant's text, finish reason "stop"
    and that usage: streamed when the request streams, one `chat.completion` otherwise."""

    def answer(request: RecordedRequest) -> FakeResponse:
        try:
            body = request.json()
        except ValueError:
            body = {}
        model = body.get("model") or CHAT_MODEL
        if body.get("stream"):
            return stream_response(
                chat_stream_events(
                    pieces, model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
                )
            )
        return FakeResponse.json(
            chat_completion_body(
                "".join(pieces), model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        )

    server.add("POST", "/v1/chat/completions", answer)


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.stream()`, `.connector()`; `python -m ai_connector.testing openai --port N` serves one.
FAKE = fake_class(
    "openai",
    install=lambda server, key: OpenAIFake(server, api_key=key).install(),
    connector=connector,
    serve_chat=serve_chat,
)
