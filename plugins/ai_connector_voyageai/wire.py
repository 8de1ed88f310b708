"""Voyage AI's API on the wire, as Elasticsearch's `voyageai` service speaks it: the bodies of
`/v1/embeddings` and `/v1/rerank` (ES's `VoyageAIEmbeddingsRequestEntity`, `VoyageAIRerankRequestEntity`),
their `data[*]` answers, and Voyage's `{"detail": ...}` error bodies typed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.plugin import (
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    RerankResult,
    error_for_status,
)

__all__ = [
    "PROVIDER_ID",
    "embeddings",
    "embeddings_body",
    "error_message",
    "parse_error",
    "rerank_body",
    "rerank_results",
]

PROVIDER_ID = "voyageai"

# ES accepts only ingest and search for Voyage (validateInputTypeAgainstAllowlist); its internal
# variants map the same way.
_INPUT_TYPES = {
    "ingest": "document",
    "internal_ingest": "document",
    "search": "query",
    "internal_search": "query",
}


def _unexpected(what: str) -> InvalidResponseError:
    return InvalidResponseError(f"{PROVIDER_ID}: unexpected {what} response shape")


def voyage_input_type(input_type: str | None) -> str | None:
    """Voyage's `input_type` (`document` / `query`) for Kibana's; None sends none."""
    if input_type is None:
        return None
    try:
        return _INPUT_TYPES[input_type.lower()]
    except KeyError:
        raise InvalidRequestError(
            f"{PROVIDER_ID}: input type [{input_type}] is not supported; use one of ingest, search",
        ) from None


def embeddings_body(
    texts: Sequence[str], *, model: str, input_type: str | None, truncation: bool | None
) -> dict[str, Any]:
    """`POST /v1/embeddings`: float embeddings (`output_dtype` is always sent, as ES does)."""
    body: dict[str, Any] = {"input": list(texts), "model": model}
    voyage_type = voyage_input_type(input_type)
    if voyage_type is not None:
        body["input_type"] = voyage_type
    if truncation is not None:
        body["truncation"] = truncation
    body["output_dtype"] = "float"
    return body


def rerank_body(
    query: str,
    documents: Sequence[str],
    *,
    model: str,
    return_documents: bool | None,
    top_k: int | None,
    truncation: bool | None,
) -> dict[str, Any]:
    """`POST /v1/rerank`: Kibana's top_n is Voyage's `top_k`; the optional fields only when set."""
    body: dict[str, Any] = {"model": model, "query": query, "documents": list(documents)}
    if return_documents is not None:
        body["return_documents"] = return_documents
    if top_k is not None:
        body["top_k"] = top_k
    if truncation is not None:
        body["truncation"] = truncation
    return body


def embeddings(data: Any, count: int) -> list[list[float]]:
    """`data[*].embedding` in `index` order."""
    try:
        items = sorted(data["data"], key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unexpected("embeddings") from None
    if len(vectors) != count:
        raise InvalidResponseError(f"{PROVIDER_ID}: {len(vectors)} embeddings came back for {count} inputs")
    return vectors


def rerank_results(data: Any, *, with_text: bool) -> list[RerankResult]:
    """`data[*]` `{index, relevance_score, document?}` (the document a plain string), best first."""
    try:
        out = [
            RerankResult(
                index=int(item["index"]),
                score=float(item["relevance_score"]),
                text=item.get("document") if with_text and isinstance(item.get("document"), str) else None,
            )
            for item in data["data"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unexpected("rerank") from None
    out.sort(key=lambda r: r.score, reverse=True)
    return out


def error_message(body: bytes) -> str | None:
    """`detail` of Voyage's `{"detail": "..."}` error body; the start of any other body's text."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace").strip()[:1000] or None
    detail = data.get("detail") if isinstance(data, Mapping) else None
    return detail if isinstance(detail, str) else None


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for a Voyage answer (docs.voyageai.com/docs/error-codes): an unknown model is a
    400 naming it. A 429 is retryable even when it names the missing payment method: that is the free
    tier's reduced per-minute limit, not a spent allowance."""
    message = error_message(body)
    lowered = (message or "").lower()
    cls: type[ProviderError] | None = None
    if status == 400 and "model" in lowered and ("not supported" in lowered or "not found" in lowered):
        cls = ModelNotFoundError
    return error_for_status(status, message, headers=headers, cls=cls)
