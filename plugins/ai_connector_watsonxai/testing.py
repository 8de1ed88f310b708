"""A wire-exact fake of IBM watsonx.ai and IBM Cloud IAM on one `FakeServer`.

IAM (`POST /identity/token`, form `grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=...`)
answers `{"access_token","refresh_token":"not_supported","token_type":"Bearer","expires_in",
"expiration","scope"}` or its 400 `{"errorCode":"BXNIM0415E","errorMessage":...,"context":{...}}`.
watsonx (`/ml/v1/text/{chat,chat_stream,embeddings,rerank}?version=`) checks the bearer token it
issued and answers in watsonx's shapes; errors are `{"errors":[{"code","message","more_info"}],
"trace","status_code"}`. The stream is `id: N` / `event: message` / `data: {chunk}` with the usage
in the last chunk and no `[DONE]`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import ProviderFake
from ai_connector.testing.scenario import ChatScenario, openai_answer, openai_chunks

__all__ = [
    "API_VERSION",
    "FAKE",
    "MODELS",
    "PROJECT_ID",
    "FakeWatsonx",
    "WatsonxFake",
    "chat_stream",
    "iam_error",
    "watsonx_error",
]

API_VERSION = "2024-05-02"
PROJECT_ID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
MODELS = {
    "ibm/granite-3-8b-instruct": "chat",
    "meta-llama/llama-3-3-70b-instruct": "chat",
    "ibm/slate-30m-english-rtrvr": "embeddings",
    "cross-encoder/ms-marco-minilm-l-12-v2": "rerank",
}
DEFAULT_MODEL = {
    "chat_completion": "ibm/granite-3-8b-instruct",
    "completion": "ibm/granite-3-8b-instruct",
    "text_embedding": "ibm/slate-30m-english-rtrvr",
    "rerank": "cross-encoder/ms-marco-minilm-l-12-v2",
}
_MORE_INFO = "https://cloud.ibm.com/apidocs/watsonx-ai"
_SSE = "text/event-stream"


def watsonx_error(status: int, code: str, message: str) -> FakeResponse:
    """watsonx's error body with that status."""
    body = {
        "errors": [{"code": code, "message": message, "more_info": _MORE_INFO}],
        "trace": hashlib.sha256(message.encode()).hexdigest()[:32],
        "status_code": status,
    }
    return FakeResponse.json(body, status=status)


def iam_error(
    status: int = 400, code: str = "BXNIM0415E", message: str = "Provided API key could not be found."
) -> FakeResponse:
    """IBM Cloud IAM's error body (a 400 BXNIM0415E for an unknown API key)."""
    context = {
        "requestId": "fake-iam-request-0001",
        "requestType": "incoming.Identity_Token",
        "userAgent": "ai-connector",
        "url": "https://iam.cloud.ibm.com",
        "locale": "en_US",
    }
    return FakeResponse.json({"errorCode": code, "errorMessage": message, "context": context}, status=status)


def chat_stream(
    pieces: Sequence[str],
    *,
    model: str = DEFAULT_MODEL["chat_completion"],
    prompt_tokens: int = 5,
    completion_tokens: int = 7,
    abort_after: int | None = None,
) -> FakeResponse:
    """A `chat_stream` answer: a role chunk, one chunk per piece, then the finish reason with the usage."""
    base: dict[str, Any] = {
        "id": "chat-fake-0001",
        "object": "chat.completion.chunk",
        "model_id": model,
        "model": model,
    }
    base |= {"created": 1733000000, "model_version": "1.1.0", "created_at": "2026-11-30T14:00:00.000Z"}
    chunks: list[dict[str, Any]] = [
        {
            **base,
            "choices": [{"index": 0, "finish_reason": None, "delta": {"role": "assistant", "content": ""}}],
        }
    ]
    chunks += [
        {**base, "choices": [{"index": 0, "finish_reason": None, "delta": {"content": p}}]} for p in pieces
    ]
    usage = {
        "completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    chunks.append(
        {**base, "choices": [{"index": 0, "finish_reason": "stop", "delta": {"content": ""}}], "usage": usage}
    )
    events = [f"id: {i}\nevent: message\ndata: {json.dumps(c)}\n\n" for i, c in enumerate(chunks, 1)]
    return FakeResponse(chunks=events, abort_after=abort_after, content_type=_SSE)


class FakeWatsonx:
    """IAM and watsonx.ai's text APIs on a FakeServer; `exchanges` counts IAM token grants."""

    def __init__(self, server: FakeServer, *, api_key: str, expires_in: int = 3600) -> None:
        self.server = server
        self.api_key = api_key
        self.expires_in = expires_in
        self.tokens: set[str] = set()
        self.exchanges = 0
        self.pieces: Sequence[str] = ("Hello", " from", " watsonx")
        self.usage = (5, 7)
        self.scenario: ChatScenario | None = None  # when set, chat and chat_stream answer it
        server.add("POST", "/identity/token", self._token)
        for path in ("chat", "chat_stream", "embeddings", "rerank"):
            server.add("POST", f"/ml/v1/text/{path}", self._api(path))

    @property
    def iam_url(self) -> str:
        """Where this fake's IAM takes API keys (the provider's `iam_url` host setting)."""
        return f"{self.server.url}/identity/token"

    def _token(self, request: RecordedRequest) -> FakeResponse:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "urn:ibm:params:oauth:grant-type:apikey":
            return iam_error(400, "BXNIM0109E", "Property missing or empty. Property name: 'grant_type'")
        if form.get("apikey") != self.api_key:
            return iam_error()
        self.exchanges += 1
        token = f"fake-iam-token-{self.exchanges}-{hashlib.sha256(self.api_key.encode()).hexdigest()[:12]}"
        self.tokens.add(token)
        now = int(time.time())
        return FakeResponse.json(
            {
                "access_token": token,
                "refresh_token": "not_supported",
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "expiration": now + self.expires_in,
                "scope": "ibm openid",
            }
        )

    def _api(self, path: str) -> Any:
        def answer(request: RecordedRequest) -> FakeResponse:
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return watsonx_error(
                    401,
                    "authentication_token_not_valid",
                    "Failed to authenticate the request due to invalid token: "
                    "Failed to parse and verify token",
                )
            if request.query.get("version") != API_VERSION:
                return watsonx_error(
                    400, "invalid_request_entity", "Missing or invalid query parameter `version`"
                )
            body = request.json()
            if not body.get("project_id"):
                return watsonx_error(
                    400,
                    "json_validation_error",
                    "Json document validation error: project_id or space_id must be specified",
                )
            model = body.get("model_id")
            if MODELS.get(model) != ("chat" if path == "chat_stream" else path):
                return watsonx_error(404, "model_not_supported", f"Model '{model}' is not supported")
            return getattr(self, f"_{path}")(body)

        return answer

    def _envelope(self, model: str) -> dict[str, Any]:
        return {
            "id": "chat-fake-0001",
            "model_id": model,
            "model": model,
            "created": 1733000000,
            "model_version": "1.1.0",
            "created_at": "2026-11-30T14:00:00.000Z",
        }

    def _scenario(self, scenario: ChatScenario, model: str, stream: bool) -> FakeResponse:
        """`scenario` as `text/chat` answers it, or as `text/chat_stream` streams it (`id:` and
        `event: message` on each event, the usage on the finish chunk, no `[DONE]`)."""
        if not stream:
            return FakeResponse.json(openai_answer(scenario, envelope=self._envelope(model)))
        chunks = openai_chunks(scenario, envelope=self._envelope(model), usage_on_finish=True)[:-1]
        events = [f"id: {i}\nevent: message\ndata: {json.dumps(c)}\n\n" for i, c in enumerate(chunks, 1)]
        return FakeResponse(chunks=events, content_type=_SSE)

    def _chat(self, body: dict[str, Any]) -> FakeResponse:
        if self.scenario is not None:
            return self._scenario(self.scenario, body["model_id"], stream=False)
        text = "".join(self.pieces)
        prompt, completion = self.usage
        return FakeResponse.json(
            {
                "id": "chat-fake-0002",
                "model_id": body["model_id"],
                "model": body["model_id"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "created": 1733000000,
                "model_version": "1.1.0",
                "created_at": "2026-11-30T14:00:00.000Z",
                "usage": {
                    "completion_tokens": completion,
                    "prompt_tokens": prompt,
                    "total_tokens": prompt + completion,
                },
            }
        )

    def _chat_stream(self, body: dict[str, Any]) -> FakeResponse:
        if self.scenario is not None:
            return self._scenario(self.scenario, body["model_id"], stream=True)
        prompt, completion = self.usage
        return chat_stream(
            self.pieces, model=body["model_id"], prompt_tokens=prompt, completion_tokens=completion
        )

    def _embeddings(self, body: dict[str, Any]) -> FakeResponse:
        inputs = body.get("inputs") or []
        results = [{"embedding": [round(len(t) / 100.0, 4), -0.0271, 0.0496]} for t in inputs]
        return FakeResponse.json(
            {
                "model_id": body["model_id"],
                "results": results,
                "created_at": "2026-11-30T14:00:00.000Z",
                "input_token_count": sum(len(t.split()) for t in inputs),
            }
        )

    def _rerank(self, body: dict[str, Any]) -> FakeResponse:
        words = set(body["query"].lower().split())
        texts = [item["text"] for item in body.get("inputs") or []]
        scored = sorted(
            ((len(words & set(t.lower().split())) + 1.0 / (i + 2), i, t) for i, t in enumerate(texts)),
            reverse=True,
        )
        options = (body.get("parameters") or {}).get("return_options") or {}
        if options.get("top_n"):
            scored = scored[: options["top_n"]]
        results = [
            {"index": i, "score": round(s, 6), **({"input": {"text": t}} if options.get("inputs") else {})}
            for s, i, t in scored
        ]
        return FakeResponse.json(
            {
                "model_id": body["model_id"],
                "results": results,
                "created_at": "2026-11-30T14:00:00.000Z",
                "input_token_count": sum(len(t.split()) for t in texts),
            }
        )


def connector(base_url: str, task_type: str, *, secret: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming a watsonx connector at the fake (whose IAM is the
    host setting `iam_url` = `<base_url>/identity/token`)."""
    settings = {"url": base_url, "api_version": API_VERSION, "project_id": PROJECT_ID}
    return {**settings, "model_id": DEFAULT_MODEL[task_type]}, {"api_key": secret}


class WatsonxFake(ProviderFake):
    """The shared fake API for watsonx (`python -m ai_connector.testing watsonxai --port N`; point
    the host's AI_CONNECTOR_WATSONX_IAM_URL at `<url>/identity/token`)."""

    provider_id = "watsonxai"
    watsonx: FakeWatsonx

    def install(self) -> WatsonxFake:
        self.watsonx = FakeWatsonx(self.server, api_key=self.api_key)
        return self

    def serve_chat(self, pieces: Sequence[str], *, prompt_tokens: int, completion_tokens: int) -> None:
        self.watsonx.pieces = tuple(pieces)
        self.watsonx.usage = (prompt_tokens, completion_tokens)

    def connector_settings(self, task_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return connector(self.url, task_type, secret=self.api_key)


FAKE = WatsonxFake
