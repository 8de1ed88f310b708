"""Jina AI's API on the wire, as Elasticsearch's `jinaai` service speaks it: the bodies of
`/v1/embeddings` and `/v1/rerank` (ES's `JinaAIEmbeddingsRequestEntity`, `JinaAIRerankRequestEntity`),
their OpenAI-shaped and Cohere-shaped answers, and Jina's FastAPI `{"detail": ...}` error bodies typed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ai_connector.plugin import (
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    RerankResult,
    error_for_status,
)

__all__ = [
    "LATE_CHUNKING_WORD_LIMIT",
    "PROVIDER_ID",
    "embeddings",
    "embeddings_body",
    "error_message",
    "parse_error",
    "rerank_body",
    "rerank_results",
]

PROVIDER_ID = "jinaai"
# ES sends late_chunking=false past this many words (JinaAIEmbeddingsRequestEntity): Jina refuses longer.
LATE_CHUNKING_WORD_LIMIT = 5500

# Kibana's input types -> Jina's `task` (JinaAIEmbeddingsRequestEntity.convertInputType).
_TASKS = {
    "ingest": "retrieval.passage",
    "internal_ingest": "retrieval.passage",
    "search": "retrieval.query",
    "internal_search": "retrieval.query",
    "clustering": "separation",
    "classification": "classification",
}
# ES's JinaAIEmbeddingType -> Jina's `embedding_type`: bit and binary are the same packed int8 bytes.
_EMBEDDING_TYPES = {"float": "float", "bit": "binary", "binary": "binary"}


def _task(input_type: str, model: str) -> str | None:
    try:
        task = _TASKS[input_type.lower()]
    except KeyError:
        known = ", ".join(sorted(k for k in _TASKS if not k.startswith("internal")))
        raise InvalidRequestError(
            f"{PROVIDER_ID}: input type [{input_type}] is not supported; use one of {known}",
        ) from None
    # jina-clip models embed passages without a task; ES sends one only for queries.
    if model.startswith("jina-clip") and task != "retrieval.query":
        return None
    return task


def embeddings_body(
    texts: Sequence[str],
    *,
    model: str,
    embedding_type: str | None,
    input_type: str | None,
    late_chunking: bool | None,
    dimensions: int | None,
) -> dict[str, Any]:
    """`POST /v1/embeddings`: `input`, `model`, `embedding_type`, then the optional fields when set."""
    body: dict[str, Any] = {
        "input": list(texts),
        "model": model,
        "embedding_type": _EMBEDDING_TYPES[embedding_type or "float"],
    }
    task = _task(input_type, model) if input_type else None
    if task:
        body["task"] = task
    if late_chunking is not None:
        words = sum(len(t.split()) for t in texts)
        body["late_chunking"] = late_chunking and words <= LATE_CHUNKING_WORD_LIMIT
    if dimensions is not None:
        body["dimensions"] = dimensions
    return body


def rerank_body(
    query: str, documents: Sequence[str], *, model: str, top_n: int | None, return_documents: bool | None
) -> dict[str, Any]:
    """`POST /v1/rerank`; `top_n` and `return_documents` only when set."""
    body: dict[str, Any] = {"model": model, "query": query, "documents": list(documents)}
    if top_n is not None:
        body["top_n"] = top_n
    if return_documents is not None:
        body["return_documents"] = return_documents
    return body


def _unexpected(what: str) -> InvalidResponseError:
    return InvalidResponseError(f"{PROVIDER_ID}: unexpected {what} response shape")


def embeddings(data: Any, count: int) -> list[list[float]]:
    """`data[*].embedding` in `index` order (floats, or int8 values for bit/binary)."""
    try:
        items = sorted(data["data"], key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unexpected("embeddings") from None
    if len(vectors) != count:
        raise InvalidResponseError(f"{PROVIDER_ID}: {len(vectors)} embeddings came back for {count} inputs")
    return vectors


def rerank_results(data: Any, *, with_text: bool) -> list[RerankResult]:
    """`results[*]` `{index, relevance_score, document?}`, best first; `document` is `{text}` or a string."""
    try:
        out = []
        for item in data["results"]:
            document = item.get("document")
            text = document.get("text") if isinstance(document, Mapping) else document
            out.append(
                RerankResult(
                    index=int(item["index"]),
                    score=float(item["relevance_score"]),
                    text=text if with_text and isinstance(text, str) else None,
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unexpected("rerank") from None
    return out


def error_message(body: bytes) -> str | None:
    """`detail` of a FastAPI error body: a string, or a validation list whose `msg`s are joined; the
    start of any other body's text."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace").strip()[:1000] or None
    detail = data.get("detail") if isinstance(data, Mapping) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping) and isinstance(item.get("msg"), str):
                where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{where}: {item['msg']}" if where else item["msg"])
        return "; ".join(parts) or None
    return None


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for a Jina answer: 402 is a spent balance (a quota, not worth retrying); an
    unknown model comes back as a 400/422 about the model (FastAPI's validation error at `model`)."""
    message = error_message(body)
    lowered = (message or "").lower()
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if status == 402:
        cls, retryable = RateLimitError, False
    elif status in (400, 422) and (
        lowered.startswith("model: ")  # a validation error located at the body's `model`
        or ("model" in lowered and ("not found" in lowered or "not supported" in lowered))
    ):
        cls = ModelNotFoundError
    return error_for_status(status, message, headers=headers, cls=cls, retryable=retryable)
