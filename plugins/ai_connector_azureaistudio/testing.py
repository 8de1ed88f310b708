"""A wire-exact fake of Azure AI Studio deployments on a `FakeServer`, one route family per kind:

- pay-as-you-go (`token`) models: `POST /v1/chat/completions`, `/v1/embeddings`, `/v1/rerank`, the raw
  key in `Authorization` (as ES sends it); OpenAI answers, Cohere's rerank answer;
- managed (`realtime`) endpoints: `POST /score`, `Authorization: Bearer <key>`, `{"input_data":...}` in,
  `{"output": "..."}` out;
- Azure OpenAI deployments: `POST /openai/deployments/<name>/{chat/completions,embeddings}?api-version=`
  with an `api-key` header.
Errors are Azure's `{"error":{"code","message"}}`: 401 "Access denied due to invalid subscription
key...", 404 `DeploymentNotFound`, 429 "Rate limit is exceeded" with `Retry-After`, 403 "Out of call
volume quota", 500.
"""

from __future__ import annotations

import re
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class

__all__ = [
    "ACCESS_DENIED",
    "DEPLOYMENT",
    "FAKE",
    "FakeAzureStudio",
    "azure_error",
    "connector",
    "quota_exceeded",
    "rate_limited",
]

DEPLOYMENT = "gpt-4o-mini"
ACCESS_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
    "key for an active subscription and use a correct regional API endpoint for your resource."
)


def azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> FakeResponse:
    """Azure's error body."""
    return FakeResponse.json({"error": {"code": code, "message": message}}, status=status, headers=headers)


def rate_limited(seconds: int = 5) -> FakeResponse:
    """Azure's 429 with its Retry-After hint."""
    return azure_error(
        429, "429", f"Rate limit is exceeded. Try again in {seconds} seconds.", {"Retry-After": str(seconds)}
    )


def quota_exceeded() -> FakeResponse:
    """Azure's 403 for a spent call-volume quota."""
    return azure_error(
        403, "403", "Out of call volume quota for this resource. Quota will be replenished in 12:00:00."
    )


def _vector(text: str) -> list[float]:
    return [round(len(text) / 100.0, 4), 0.0123, -0.0456]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class FakeAzureStudio:
    """Token, realtime and Azure OpenAI deployments on one server, each checking its own auth."""

    def __init__(
        self, server: FakeServer, *, api_key: str, answer: str = "Hello from Azure AI Studio."
    ) -> None:
        self.api_key = api_key
        self.answer = answer
        server.add("POST", "/v1/chat/completions", self._auth("raw", self._chat))
        server.add("POST", "/v1/embeddings", self._auth("raw", self._embeddings))
        server.add("POST", "/v1/rerank", self._auth("raw", self._rerank))
        server.add("POST", "/score", self._auth("bearer", self._score))
        server.add(
            "POST", r"/openai/deployments/(?P<d>[^/]+)/chat/completions", self._auth("api-key", self._chat)
        )
        server.add(
            "POST", r"/openai/deployments/(?P<d>[^/]+)/embeddings", self._auth("api-key", self._embeddings)
        )

    def _auth(self, scheme: str, handler: Any) -> Any:
        def answer(request: RecordedRequest) -> FakeResponse:
            if scheme == "api-key":
                ok = request.headers.get("api-key") == self.api_key
            else:
                expected = f"Bearer {self.api_key}" if scheme == "bearer" else self.api_key
                ok = request.headers.get("authorization") == expected
            if not ok:
                return azure_error(401, "401", ACCESS_DENIED)
            if request.path.startswith("/openai/"):
                if "api-version" not in request.query:
                    return azure_error(404, "404", "Resource not found")
                if request.path.split("/")[3] != DEPLOYMENT:
                    return azure_error(
                        404,
                        "DeploymentNotFound",
                        "The API deployment for this resource does not exist. If you created the deployment "
                        "within the last 5 minutes, please wait a moment and try again.",
                    )
            try:
                body = request.json()
            except ValueError:
                return azure_error(400, "BadRequest", "Invalid JSON body")
            return handler(body)

        return answer

    def _chat(self, body: dict[str, Any]) -> FakeResponse:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return azure_error(400, "Invalid input", "'messages' is a required property")
        return FakeResponse.json(
            {
                "id": "cmpl-fake0001",
                "object": "chat.completion",
                "created": 1733000000,
                "model": "Cohere-command-r",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
            }
        )

    def _score(self, body: dict[str, Any]) -> FakeResponse:
        data = body.get("input_data")
        if not isinstance(data, dict) or not data.get("input_string"):
            return azure_error(400, "BadRequest", "input_data.input_string is required")
        return FakeResponse.json({"output": self.answer})

    def _embeddings(self, body: dict[str, Any]) -> FakeResponse:
        inputs = body.get("input")
        if not isinstance(inputs, list) or not inputs:
            return azure_error(400, "Invalid input", "'input' is a required property")
        data = [{"object": "embedding", "index": i, "embedding": _vector(t)} for i, t in enumerate(inputs)]
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return FakeResponse.json({"object": "list", "data": data, "model": "embed-v-4-0", "usage": usage})

    def _rerank(self, body: dict[str, Any]) -> FakeResponse:
        documents, query = body.get("documents"), body.get("query")
        if not isinstance(documents, list) or not documents or not query:
            return azure_error(400, "Invalid input", "'query' and 'documents' are required")
        words = _words(query)
        scored = sorted(
            ((round(len(words & _words(d)) + 1.0 / (i + 2), 6), i, d) for i, d in enumerate(documents)),
            reverse=True,
        )
        if body.get("top_n"):
            scored = scored[: body["top_n"]]
        results = [
            {
                "index": i,
                "relevance_score": s,
                **({"document": {"text": d}} if body.get("return_documents") else {}),
            }
            for s, i, d in scored
        ]
        meta = {"api_version": {"version": "1"}, "billed_units": {"search_units": 1}}
        return FakeResponse.json({"id": "rerank-fake-0001", "results": results, "meta": meta})


def connector(
    base_url: str, task_type: str, *, secret: str, provider: str = "cohere", endpoint_type: str = "token"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) for a deployment on the fake: a Cohere pay-as-you-go one by
    default; `provider="openai"` aims at the Azure OpenAI deployment, `endpoint_type="realtime"` at
    `/score`."""
    target = base_url
    if provider == "openai":
        path = "embeddings" if task_type == "text_embedding" else "chat/completions"
        target = f"{base_url}/openai/deployments/{DEPLOYMENT}/{path}?api-version=2024-10-21"
    elif endpoint_type == "realtime":
        target = f"{base_url}/score"
    return {"target": target, "endpoint_type": endpoint_type, "provider": provider}, {"api_key": secret}


# The shared fake API; `python -m ai_connector.testing azureaistudio --port N` serves one.
FAKE = fake_class(
    "azureaistudio", install=lambda server, key: FakeAzureStudio(server, api_key=key), connector=connector
)
