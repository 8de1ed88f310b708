"""A wire-exact fake of Jina AI's embeddings and rerank API for tests, on `ai_connector.testing.FakeServer`.

`FakeJina` serves `POST /v1/embeddings` and `/v1/rerank`, checks the bearer key, the JSON body and the
model, and answers as Jina does: OpenAI-shaped embeddings (`data[*].embedding`, int8 values for
`binary`), Cohere-shaped rerank results (`document` as `{"text"}`, or a plain string with
`document_as_string`), and FastAPI error bodies: `{"detail": "..."}`, or for a body that fails
validation (an unknown model, a wrong `task`) a 422 whose `detail` is a list of `{loc, msg, type}`.
Queue one-off answers with `then()`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import fake_class

__all__ = [
    "DEFAULT_API_KEY",
    "EMBED_MODEL",
    "FAKE",
    "PATHS",
    "RERANK_MODEL",
    "FakeJina",
    "connector",
    "error_response",
    "fake_vector",
    "validation_error",
]

DEFAULT_API_KEY = "jina_fakekey0000000000000000"
EMBED_MODEL = "jina-embeddings-v3"
RERANK_MODEL = "jina-reranker-v2-base-multilingual"
PATHS: Mapping[str, str] = {"text_embedding": "/v1/embeddings", "rerank": "/v1/rerank"}
TASKS = ("retrieval.query", "retrieval.passage", "separation", "classification", "text-matching")
DIMENSIONS = 8

# Texts as Jina's API answers them (not verified against the live service: see the plugin's notes).
_DETAILS: Mapping[int, str] = {
    400: "Invalid request",
    401: "Unauthorized. Please provide a valid API key in the Authorization header.",
    402: "Insufficient account balance. Please top up your API key at https://jina.ai/?api_key",
    403: "Forbidden",
    429: "Rate limit exceeded. Please try again later.",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def error_response(status: int, detail: str | None = None, *, retry_after: int | None = None) -> FakeResponse:
    """Jina's `{"detail": "..."}` error answer."""
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    return FakeResponse.json(
        {"detail": detail or _DETAILS.get(status, "error")}, status=status, headers=headers
    )


def validation_error(field: str, msg: str, value: Any, kind: str = "enum") -> FakeResponse:
    """FastAPI's 422 for a body field that fails validation."""
    detail = [{"type": kind, "loc": ["body", field], "msg": msg, "input": value}]
    return FakeResponse.json({"detail": detail}, status=422)


def fake_vector(text: str, binary: bool = False) -> list[Any]:
    """A deterministic vector for `text`: floats, or int8 values for `binary`."""
    digest = hashlib.sha256(text.encode()).digest()[:DIMENSIONS]
    return [b - 128 for b in digest] if binary else [round(b / 128.0 - 1.0, 6) for b in digest]


def _score(query: str, document: str) -> float:
    words = set(query.lower().split())
    hits = sum(1 for w in document.lower().split() if w in words)
    return round(0.1 + hits / (len(document.split()) or 1) * 0.8, 6)


class FakeJina:
    """Jina AI's embeddings and rerank endpoints on a FakeServer, checking each request."""

    def __init__(
        self,
        server: FakeServer,
        *,
        api_key: str = DEFAULT_API_KEY,
        models: Sequence[str] = (EMBED_MODEL, RERANK_MODEL),
        document_as_string: bool = False,
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.models = list(models)
        self.document_as_string = document_as_string
        self.queued: list[FakeResponse] = []
        server.add("POST", PATHS["text_embedding"], self._embeddings)
        server.add("POST", PATHS["rerank"], self._rerank)

    def then(self, response: FakeResponse) -> None:
        """Answer the next accepted request with `response` (after the key and body checks)."""
        self.queued.append(response)

    def _accept(self, request: RecordedRequest) -> tuple[dict[str, Any] | None, FakeResponse | None]:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return None, error_response(401)
        try:
            body = request.json()
        except ValueError:
            return None, FakeResponse.json(
                {"detail": [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error"}]}, 422
            )
        model = body.get("model") if isinstance(body, dict) else None
        if model not in self.models:
            allowed = ", ".join(f"'{m}'" for m in self.models)
            return None, validation_error("model", f"Input should be {allowed}", model)
        if self.queued:
            return None, self.queued.pop(0)
        return body, None

    def _embeddings(self, request: RecordedRequest) -> FakeResponse:
        body, refused = self._accept(request)
        if body is None:
            return refused  # type: ignore[return-value]
        texts = body.get("input")
        if not isinstance(texts, list) or not texts:
            return validation_error("input", "Input should be a valid list", texts, "list_type")
        if "task" in body and body["task"] not in TASKS:
            return validation_error(
                "task", "Input should be " + ", ".join(f"'{t}'" for t in TASKS), body["task"]
            )
        binary = body.get("embedding_type") in ("binary", "ubinary")
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t, binary)}
            for i, t in enumerate(texts)
        ]
        tokens = 4 * len(texts)
        return FakeResponse.json(
            {
                "model": body["model"],
                "object": "list",
                "usage": {"total_tokens": tokens, "prompt_tokens": tokens},
                "data": data,
            }
        )

    def _rerank(self, request: RecordedRequest) -> FakeResponse:
        body, refused = self._accept(request)
        if body is None:
            return refused  # type: ignore[return-value]
        documents = body.get("documents")
        if not isinstance(body.get("query"), str) or not isinstance(documents, list):
            return validation_error("documents", "Field required", None, "missing")
        ranked = sorted(range(len(documents)), key=lambda i: (-_score(body["query"], documents[i]), i))
        results = []
        for i in ranked[: body.get("top_n") or len(documents)]:
            item: dict[str, Any] = {"index": i, "relevance_score": _score(body["query"], documents[i])}
            if body.get("return_documents", True):
                item["document"] = documents[i] if self.document_as_string else {"text": documents[i]}
            results.append(item)
        return FakeResponse.json({"model": body["model"], "usage": {"total_tokens": 15}, "results": results})


def connector(
    base_url: str, task_type: str = "text_embedding", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming a Jina AI connector at `base_url`."""
    if task_type not in PATHS:
        raise ValueError(f"{task_type!r} is not a task type of this service: use one of {', '.join(PATHS)}")
    model = RERANK_MODEL if task_type == "rerank" else EMBED_MODEL
    return {"model_id": model, "url": base_url}, {"api_key": secret}


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.connector(task)`; `python -m ai_connector.testing jinaai --port N --task-type <task>`.
FAKE = fake_class("jinaai", install=lambda server, key: FakeJina(server, api_key=key), connector=connector)
