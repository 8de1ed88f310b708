"""A wire-exact fake of Azure OpenAI on `ai_connector.testing.FakeServer`, for this plugin's tests,
host applications and the cross-provider suite.

`AzureOpenAIFake(server).install()` answers
`POST /openai/deployments/{deployment}/{chat/completions|embeddings}?api-version=...` the way an
Azure OpenAI resource does, after checking the `api-key` header or the Entra ID bearer token, the
`api-version` query and the deployment. The `*_response` functions build Azure's documented error
answers (wire.md section 2: `error.code` is a string, often the status itself).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class
from ai_connector_openai.testing import embeddings_body, sse, stream_response

__all__ = [
    "API_VERSION",
    "CHAT_DEPLOYMENT",
    "EMBEDDING_DEPLOYMENT",
    "AzureOpenAIFake",
    "chat_completion_body",
    "chat_stream_events",
    "connector",
    "deployment_not_found_response",
    "error_body",
    "invalid_key_response",
    "rate_limit_response",
    "serve_chat",
    "server_error_response",
]

API_VERSION = "2024-10-21"
CHAT_DEPLOYMENT = "gpt-4o"
EMBEDDING_DEPLOYMENT = "text-embedding-3-small"
_MODEL = "gpt-4o-2024-05-13"
_CREATED = 1727346168
_PATH = r"/openai/deployments/(?P<deployment>[^/]+)/(?P<op>chat/completions|embeddings)"
_FILTERS_OK = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """Azure's error object: `{"error": {"code": "<string>", "message": ...}}`."""
    return {"error": {"code": code, "message": message}}


def invalid_key_response() -> FakeResponse:
    """401 for a wrong or missing key or token."""
    return FakeResponse.json(
        error_body(
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
            "valid key for an active subscription and use a correct regional API endpoint for your resource.",
        ),
        401,
    )


def deployment_not_found_response() -> FakeResponse:
    """404 `DeploymentNotFound`: Azure's "bad model"."""
    return FakeResponse.json(
        error_body(
            "DeploymentNotFound",
            "The API deployment for this resource does not exist. If you created the deployment within "
            "the last 5 minutes, please wait a moment and try again.",
        ),
        404,
    )


def rate_limit_response(*, retry_after: str = "86400", retry_after_ms: str | None = None) -> FakeResponse:
    """429 over the token rate limit, with `retry-after`, `retry-after-ms` and remaining counts."""
    headers = {
        "retry-after": retry_after,
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-remaining-tokens": "0",
        "apim-request-id": "5e7a2f0c-1f0c-4a57-8d8e-3c8a0c0e9f21",
    }
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return FakeResponse.json(
        error_body(
            "429",
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
            "2024-08-01-preview have exceeded token rate limit of your current OpenAI S0 pricing tier. "
            "Please retry after "
            f"{retry_after} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to "
            "further increase the default rate limit.",
        ),
        429,
        headers,
    )


def server_error_response() -> FakeResponse:
    """500, with the OpenAI-shaped `server_error` body Azure passes through."""
    return FakeResponse.json(
        {
            "error": {
                "message": "The server had an error while processing your request. Sorry about that!",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        },
        500,
    )


def chat_completion_body(text: str, *, prompt_tokens: int = 5, completion_tokens: int = 7) -> dict[str, Any]:
    """A non-streaming chat completion, with Azure's content-filter annotations."""
    return {
        "id": "chatcmpl-7R1nGnsXO8n4oi9UPz2f3UHdgAYMn",
        "object": "chat.completion",
        "created": _CREATED,
        "model": _MODEL,
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTERS_OK}],
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
                "content_filter_results": _FILTERS_OK,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _chunk(delta: Mapping[str, Any], finish: str | None, filters: bool = True) -> dict[str, Any]:
    choice: dict[str, Any] = {"delta": dict(delta), "finish_reason": finish, "index": 0, "logprobs": None}
    if filters:
        choice["content_filter_results"] = _FILTERS_OK if delta.get("content") else {}
    return {
        "choices": [choice],
        "created": _CREATED,
        "id": "chatcmpl-AxFzEQeSzG1Yb1xW10fNKXEyTkquw",
        "model": _MODEL,
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_5b26d85e12",
    }


def chat_stream_events(
    pieces: Sequence[str],
    *,
    prompt_tokens: int = 5,
    completion_tokens: int = 7,
    include_usage: bool = True,
    finish_reason: str = "stop",
) -> list[str]:
    """A streamed answer as Azure frames it: first a chunk with `choices: []` and
    `prompt_filter_results`, then role, pieces and finish chunks with `content_filter_results`, the usage
    chunk when asked for, then `data: [DONE]`."""
    events: list[Mapping[str, Any] | str] = [
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTERS_OK}],
        },
        _chunk({"role": "assistant", "content": ""}, None),
    ]
    events += [_chunk({"content": p}, None) for p in pieces]
    events.append(_chunk({}, finish_reason))
    if include_usage:
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        events.append({**_chunk({}, None, filters=False), "choices": [], "usage": usage})
    events.append("[DONE]")
    return sse(events)


class AzureOpenAIFake:
    """An Azure OpenAI resource on a FakeServer: checks the key or token, `api-version` and deployment.

    `deployments` maps deployment names to what they serve (`chat` or `embeddings`); `reply` is the
    assistant's text, one piece per token; embeddings are deterministic vectors of `dimensions` floats.
    """

    def __init__(
        self,
        server: FakeServer,
        *,
        api_key: str | None = "canary-secret-0000",
        entra_token: str | None = None,
        deployments: Mapping[str, str] | None = None,
        reply: Sequence[str] = ("Hello", " there", "!"),
        dimensions: int = 4,
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.entra_token = entra_token
        self.deployments = dict(deployments or {CHAT_DEPLOYMENT: "chat", EMBEDDING_DEPLOYMENT: "embeddings"})
        self.reply = tuple(reply)
        self.dimensions = dimensions

    def install(self) -> AzureOpenAIFake:
        """Add the deployment routes to the server."""
        self.server.add("POST", _PATH, self._answer)
        return self

    def _authorized(self, request: RecordedRequest) -> bool:
        key = request.headers.get("api-key")
        auth = request.headers.get("authorization", "")
        if key is not None:
            return self.api_key is not None and key == self.api_key
        return self.entra_token is not None and auth == f"Bearer {self.entra_token}"

    def _answer(self, request: RecordedRequest) -> FakeResponse:
        if not self._authorized(request):
            return invalid_key_response()
        if not request.query.get("api-version"):
            return FakeResponse.json(error_body("404", "Resource not found"), 404)
        route = re.fullmatch(_PATH, request.path)
        deployment, operation = (route["deployment"], route["op"]) if route else ("", "")
        if deployment not in self.deployments:
            return deployment_not_found_response()
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return FakeResponse.json(
                error_body("BadRequest", "Failed to parse the request body as JSON."), 400
            )
        if operation == "embeddings":
            return self._embeddings(body)
        return self._chat(body)

    def _chat(self, body: Mapping[str, Any]) -> FakeResponse:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return FakeResponse.json(error_body("BadRequest", "'messages' is a required property"), 400)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        pieces = self.reply[:limit] if isinstance(limit, int) else self.reply
        finish = "length" if len(pieces) < len(self.reply) else "stop"
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return stream_response(
                chat_stream_events(
                    pieces, completion_tokens=len(pieces), include_usage=usage, finish_reason=finish
                )
            )
        answer = chat_completion_body("".join(pieces), completion_tokens=len(pieces))
        answer["choices"][0]["finish_reason"] = finish
        return FakeResponse.json(answer)

    def _embeddings(self, body: Mapping[str, Any]) -> FakeResponse:
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return FakeResponse.json(error_body("BadRequest", "'input' is a required property"), 400)
        size = body.get("dimensions") or self.dimensions
        vectors = [[round((i + 1) * 0.1 + j * 0.01, 4) for j in range(size)] for i in range(len(inputs))]
        return FakeResponse.json(embeddings_body(vectors, model="text-embedding-3-small"))


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of an Azure OpenAI connector aimed at the fake at `base_url`."""
    deployment = EMBEDDING_DEPLOYMENT if task_type == "text_embedding" else CHAT_DEPLOYMENT
    config = {
        "resource_name": "fake-resource",
        "deployment_id": deployment,
        "api_version": API_VERSION,
        "url": base_url.rstrip("/"),
    }
    return config, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer any deployment's `chat/completions` with `pieces` as the assistant's text, finish reason
    "stop" and that usage: streamed (Azure framing) when the request streams, one completion otherwise."""

    def answer(request: RecordedRequest) -> FakeResponse:
        try:
            body = request.json()
        except ValueError:
            body = {}
        if body.get("stream"):
            return stream_response(
                chat_stream_events(pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            )
        return FakeResponse.json(
            chat_completion_body(
                "".join(pieces), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        )

    server.add("POST", r"/openai/deployments/[^/]+/chat/completions", answer)


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.stream()`, `.connector()`; `python -m ai_connector.testing azureopenai --port N` serves one.
FAKE = fake_class(
    "azureopenai",
    install=lambda server, key: AzureOpenAIFake(server, api_key=key).install(),
    connector=connector,
    serve_chat=serve_chat,
)
