"""Contextual AI's rerank API on the wire, as Elasticsearch's `contextualai` service speaks it: the
body of `POST /v1/rerank` (ES's `ContextualAiRerankRequestEntity`), its `results[*]` answer, and
error answers typed by status, with the body's `detail` or `message` when it has one and the HTTP
status line otherwise (which is all ES's `ContextualAiErrorResponseEntity` reports)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from ai_connector.plugin import (
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    RerankResult,
    error_for_status,
)

__all__ = ["PROVIDER_ID", "error_message", "parse_error", "rerank_body", "rerank_results"]

PROVIDER_ID = "contextualai"


def rerank_body(
    query: str, documents: Sequence[str], *, model: str, top_n: int | None, instruction: str | None
) -> dict[str, Any]:
    """`POST /v1/rerank`: `query`, `documents`, `model`, then `top_n` and `instruction` when set."""
    body: dict[str, Any] = {"query": query, "documents": list(documents), "model": model}
    if top_n is not None:
        body["top_n"] = top_n
    if instruction:
        body["instruction"] = instruction
    return body


def rerank_results(data: Any) -> list[RerankResult]:
    """`results[*]` `{index, relevance_score}`, best first; ES never returns the document text."""
    try:
        out = [
            RerankResult(index=int(r["index"]), score=float(r["relevance_score"])) for r in data["results"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: unexpected rerank response shape") from None
    out.sort(key=lambda r: r.score, reverse=True)
    return out


def _status_line(status: int) -> str:
    try:
        return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP/1.1 {status}"


def error_message(status: int, body: bytes) -> str:
    """The body's `detail` (a string, or FastAPI's list of `{msg}`) or `message`; else the status line."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, Mapping):
        detail = data.get("detail", data.get("message"))
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, list):
            msgs = [d["msg"] for d in detail if isinstance(d, Mapping) and isinstance(d.get("msg"), str)]
            if msgs:
                return "; ".join(msgs)
    return _status_line(status)


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for a Contextual AI answer, by status; a 400/404/422 about the model is
    model-not-found."""
    message = error_message(status, body)
    lowered = message.lower()
    cls: type[ProviderError] | None = None
    if status in (400, 404, 422) and "model" in lowered:
        cls = ModelNotFoundError
    return error_for_status(status, message, headers=headers, cls=cls)
