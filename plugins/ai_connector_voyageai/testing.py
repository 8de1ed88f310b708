"""A wire-exact fake of Voyage AI's embeddings and rerank API for tests, on `ai_connector.testing.FakeServer`.

`FakeVoyage` serves `POST /v1/embeddings` and `/v1/rerank`, checks the bearer key, the JSON body, the
model and Voyage's enums (`input_type` query/document, `output_dtype`), and answers as Voyage does:
`{"object": "list", "data": [...], "model", "usage": {"total_tokens"}}`, rerank `data[*]` best first
with the document as a plain string, and `{"detail": "..."}` errors: 401 invalid key, 400 for an
unknown model or a bad field, 429 with the free tier's payment-method text, 5xx. Queue one-off
answers with `then()`.
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
    "FREE_TIER_LIMIT",
    "PATHS",
    "RERANK_MODEL",
    "FakeVoyage",
    "connector",
    "error_response",
    "fake_vector",
]

DEFAULT_API_KEY = "pa-fakevoyagekey000000000000000000"
EMBED_MODEL = "voyage-3"
RERANK_MODEL = "rerank-2"
PATHS: Mapping[str, str] = {"text_embedding": "/v1/embeddings", "rerank": "/v1/rerank"}
DIMENSIONS = 8
FREE_TIER_LIMIT = (
    "You have not yet added your payment method in the billing page and will have reduced rate limits of "
    "3 RPM and 10K TPM. Please add payment method in the billing page "
    "(https://dash.voyageai.com/billing/payment-methods) to unlock our standard rate limits."
)
_DETAILS: Mapping[int, str] = {
    400: "Invalid request body.",
    401: "Provided API key is invalid.",
    403: "Your IP address is not allowed to access the API.",
    429: "Rate limit exceeded. Please try again later.",
    500: "Internal server error.",
    503: "Service is temporarily unavailable. Please try again later.",
}


def error_response(status: int, detail: str | None = None, *, retry_after: int | None = None) -> FakeResponse:
    """Voyage's `{"detail": "..."}` error answer."""
    headers = {} if retry_after is None else {"retry-after": str(retry_after)}
    return FakeResponse.json(
        {"detail": detail or _DETAILS.get(status, "error")}, status=status, headers=headers
    )


def fake_vector(text: str) -> list[float]:
    """A deterministic float vector for `text`."""
    return [round(b / 128.0 - 1.0, 6) for b in hashlib.sha256(text.encode()).digest()[:DIMENSIONS]]


def _score(query: str, document: str) -> float:
    words = set(query.lower().split())
    hits = sum(1 for w in document.lower().split() if w in words)
    return round(0.25 + hits / (len(document.split()) or 1) * 0.5, 6)


class FakeVoyage:
    """Voyage AI's embeddings and rerank endpoints on a FakeServer, checking each request."""

    def __init__(
        self,
        server: FakeServer,
        *,
        api_key: str = DEFAULT_API_KEY,
        models: Sequence[str] = (EMBED_MODEL, RERANK_MODEL),
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.models = list(models)
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
            return None, error_response(400, "Request body is not valid JSON.")
        model = body.get("model") if isinstance(body, dict) else None
        if model not in self.models:
            supported = ", ".join(f"'{m}'" for m in self.models)
            return None, error_response(
                400, f"Model {model} is not supported. Supported models are [{supported}]."
            )
        if self.queued:
            return None, self.queued.pop(0)
        return body, None

    def _embeddings(self, request: RecordedRequest) -> FakeResponse:
        body, refused = self._accept(request)
        if body is None:
            return refused  # type: ignore[return-value]
        texts = body.get("input")
        if not isinstance(texts, list) or not texts:
            return error_response(400, "Value for argument 'input' must be a non-empty list.")
        if body.get("input_type") not in (None, "query", "document"):
            return error_response(400, "Value for argument 'input_type' must be 'query', 'document' or null.")
        if body.get("output_dtype", "float") not in ("float", "int8", "uint8", "binary", "ubinary"):
            return error_response(400, "Value for argument 'output_dtype' is not supported.")
        data = [{"object": "embedding", "embedding": fake_vector(t), "index": i} for i, t in enumerate(texts)]
        return FakeResponse.json(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"total_tokens": 5 * len(texts)},
            }
        )

    def _rerank(self, request: RecordedRequest) -> FakeResponse:
        body, refused = self._accept(request)
        if body is None:
            return refused  # type: ignore[return-value]
        documents = body.get("documents")
        if not isinstance(body.get("query"), str) or not isinstance(documents, list) or not documents:
            return error_response(400, "Value for argument 'documents' must be a non-empty list.")
        ranked = sorted(range(len(documents)), key=lambda i: (-_score(body["query"], documents[i]), i))
        data = []
        for i in ranked[: body.get("top_k") or len(documents)]:
            item: dict[str, Any] = {"relevance_score": _score(body["query"], documents[i]), "index": i}
            if body.get("return_documents"):
                item["document"] = documents[i]
            data.append(item)
        return FakeResponse.json(
            {"object": "list", "data": data, "model": body["model"], "usage": {"total_tokens": 26}}
        )


def connector(
    base_url: str, task_type: str = "text_embedding", *, secret: str = "canary-secret-0000"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) aiming a Voyage AI connector at `base_url`."""
    if task_type not in PATHS:
        raise ValueError(f"{task_type!r} is not a task type of this service: use one of {', '.join(PATHS)}")
    model = RERANK_MODEL if task_type == "rerank" else EMBED_MODEL
    return {"model_id": model, "url": base_url}, {"api_key": secret}


# The shared fake API (ai_connector.testing.fakes): `FAKE(server=None, api_key=...)`, `.url`, `.requests`,
# `.fail()`, `.connector(task)`; `python -m ai_connector.testing voyageai --port N --task-type <task>`.
FAKE = fake_class(
    "voyageai", install=lambda server, key: FakeVoyage(server, api_key=key), connector=connector
)
