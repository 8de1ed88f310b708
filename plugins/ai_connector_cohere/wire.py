"""Cohere's v2 API on the wire, as Elasticsearch's `cohere` service speaks it: the request bodies of
`/v2/embed`, `/v2/rerank` and `/v2/chat`, their answers parsed, the v2 chat SSE events translated to
unified chunks, and Cohere's `{"message": ...}` error bodies typed.

Bodies follow ES's `CohereV2EmbeddingsRequest`, `CohereV2RerankRequest` and
`CohereV2CompletionRequest`; answers are read where ES's `Cohere*ResponseEntity` reads them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from ai_connector.plugin import (
    AuthenticationError,
    ChatChunk,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    RerankResult,
    StreamInterruptedError,
    Usage,
    error_for_status,
)

__all__ = [
    "PROVIDER_ID",
    "REQUEST_SOURCE",
    "chat_body",
    "chat_text",
    "embed_body",
    "embeddings",
    "error_message",
    "parse_error",
    "rerank_body",
    "rerank_results",
    "translate_stream",
]

PROVIDER_ID = "cohere"
# CohereUtils.createRequestSourceHeader: how Cohere tells Elasticsearch's traffic apart.
REQUEST_SOURCE = "unspecified:elasticsearch"

# Kibana's input types -> Cohere's (CohereUtils.inputTypeToString); ES's internal ones included.
_INPUT_TYPES = {
    "ingest": "search_document",
    "internal_ingest": "search_document",
    "search": "search_query",
    "internal_search": "search_query",
    "classification": "classification",
    "clustering": "clustering",
}
# Cohere v2 finish reasons -> OpenAI's; ERROR and TIMEOUT end the stream with an error instead.
_FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}
_FAILED = frozenset({"ERROR", "TIMEOUT", "ERROR_TOXIC", "ERROR_LIMIT"})


def _unexpected(what: str, status: int | None = None) -> InvalidResponseError:
    return InvalidResponseError(f"{PROVIDER_ID}: unexpected {what} response shape", status=status)


# ---------------------------------------------------------------------------------------------
# Requests


def cohere_input_type(input_type: str | None) -> str:
    """Cohere's `input_type` for Kibana's; none given is a search, as ES defaults for v2."""
    if input_type is None:
        return "search_query"
    try:
        return _INPUT_TYPES[input_type.lower()]
    except KeyError:
        known = ", ".join(sorted(k for k in _INPUT_TYPES if not k.startswith("internal")))
        raise InvalidRequestError(
            f"{PROVIDER_ID}: input type [{input_type}] is not supported; use one of {known}",
        ) from None


def embed_body(
    texts: Sequence[str], *, model: str, input_type: str | None, truncate: str | None
) -> dict[str, Any]:
    """`POST /v2/embed`: float embeddings of `texts`, `truncate` only when the connector sets it."""
    body: dict[str, Any] = {
        "texts": list(texts),
        "model": model,
        "input_type": cohere_input_type(input_type),
        "embedding_types": ["float"],
    }
    if truncate:
        body["truncate"] = truncate
    return body


def rerank_body(
    query: str,
    documents: Sequence[str],
    *,
    model: str,
    top_n: int | None,
    return_documents: bool | None,
    max_chunks_per_doc: int | None,
) -> dict[str, Any]:
    """`POST /v2/rerank`; the optional fields only when set."""
    body: dict[str, Any] = {"model": model, "query": query, "documents": list(documents)}
    if return_documents is not None:
        body["return_documents"] = return_documents
    if top_n is not None:
        body["top_n"] = top_n
    if max_chunks_per_doc is not None:
        body["max_chunks_per_doc"] = max_chunks_per_doc
    return body


def chat_body(text: str, *, model: str, stream: bool, max_tokens: int | None = None) -> dict[str, Any]:
    """`POST /v2/chat` for ES's completion task: the input as one user message."""
    body: dict[str, Any] = {"messages": [{"role": "user", "content": text}], "model": model, "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


# ---------------------------------------------------------------------------------------------
# Answers


def embeddings(data: Any, count: int) -> list[list[float]]:
    """The vectors of an embed answer: v2's `embeddings.float` (or `int8` / `binary`), or v1's list."""
    found = data.get("embeddings") if isinstance(data, Mapping) else None
    if isinstance(found, Mapping):
        found = next((found[k] for k in ("float", "int8", "binary") if k in found), None)
    try:
        vectors = [[float(x) for x in vector] for vector in found]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise _unexpected("embed") from None
    if len(vectors) != count:
        raise InvalidResponseError(f"{PROVIDER_ID}: {len(vectors)} embeddings came back for {count} inputs")
    return vectors


def rerank_results(data: Any, *, with_text: bool) -> list[RerankResult]:
    """`results[*]` `{index, relevance_score, document?: {text}}`, best first as Cohere sends them."""
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


def chat_text(data: Any) -> str:
    """The text of a v2 chat answer: its `message.content` text blocks joined (thinking blocks
    skipped); v1's top-level `text` is accepted too."""
    text = data.get("text") if isinstance(data, Mapping) else None
    if isinstance(text, str) and "message" not in data:
        return text
    try:
        content = data["message"]["content"]
        return "".join(block["text"] for block in content if block.get("type", "text") == "text")
    except (KeyError, TypeError, AttributeError):
        raise _unexpected("chat") from None


def _usage(usage: Any) -> Usage | None:
    """OpenAI-style usage from v2's `usage`: the model's `tokens`, else the `billed_units`."""
    if not isinstance(usage, Mapping):
        return None
    counts = usage.get("tokens") or usage.get("billed_units")
    if not isinstance(counts, Mapping):
        return None
    return Usage(
        prompt_tokens=int(counts.get("input_tokens") or 0),
        completion_tokens=int(counts.get("output_tokens") or 0),
    )


def _stream_failed(reason: str, message: str | None, redact: Callable[[Any], str]) -> StreamInterruptedError:
    text = redact(message or f"the model stopped with finish reason {reason}")
    return StreamInterruptedError(
        f"Cohere stopped the stream due to an error: {text}",
        status=200,
        provider_message=text,
        code=reason,
    )


async def translate_stream(
    events: AsyncIterator[Any], *, redact: Callable[[Any], str] = str
) -> AsyncGenerator[ChatChunk, None]:
    """Unified chunks from `/v2/chat`'s SSE events (`message-start`, `content-delta`, ...,
    `message-end`), ending at `message-end`.

    Thinking blocks, tool-plan, tool-call and citation events and unknown events are skipped; a
    `message-end` whose finish reason is ERROR or TIMEOUT, and a stream that ends (or sends
    `[DONE]`) before `message-end`, raise StreamInterruptedError.
    """
    thinking: set[int] = set()  # content block indexes that carry reasoning, not the answer
    async for event in events:
        if event.data == "[DONE]":
            break
        try:
            data = json.loads(event.data)
            kind = data.get("type") or event.event
            if kind == "content-delta":
                if data.get("index", 0) in thinking:
                    continue
                text = data["delta"]["message"]["content"].get("text")
                if text:
                    yield ChatChunk(content=text)
            elif kind == "content-start":
                content = data["delta"]["message"]["content"]
                if content.get("type") == "thinking":
                    thinking.add(data.get("index", 0))
                elif content.get("text"):
                    yield ChatChunk(content=content["text"])
            elif kind == "message-start":
                yield ChatChunk(role="assistant", id=data.get("id"))
            elif kind == "message-end":
                delta = data.get("delta") or {}
                reason = delta.get("finish_reason") or "COMPLETE"
                if reason in _FAILED:
                    raise _stream_failed(reason, delta.get("error"), redact)
                yield ChatChunk(finish_reason=_FINISH.get(reason, "stop"))
                usage = _usage(delta.get("usage"))
                if usage is not None:
                    yield ChatChunk(usage=usage)
                return
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidResponseError(
                f"{PROVIDER_ID}: unreadable {event.event!r} stream event ({type(exc).__name__})",
            ) from None
    raise StreamInterruptedError(f"{PROVIDER_ID}: the stream ended before message-end")


# ---------------------------------------------------------------------------------------------
# Errors


def error_message(body: bytes) -> str | None:
    """`message` of Cohere's `{"id"?, "message"}` error body; the start of any other body's text."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace").strip()[:1000] or None
    message = data.get("message") if isinstance(data, Mapping) else None
    return message if isinstance(message, str) else None


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for a Cohere error answer (statuses from docs.cohere.com/reference/errors).

    402 (the account's billing limit) and a 429 for a trial key's monthly allowance are spent
    quotas: rate-limited in kind, not worth retrying. 498 is Cohere's "invalid token".
    """
    message = error_message(body)
    lowered = (message or "").lower()
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if status == 402 or (status == 429 and "/ month" in lowered):
        cls, retryable = RateLimitError, False
    elif status == 498:
        cls = AuthenticationError
    elif status in (400, 404) and "model" in lowered and "not found" in lowered:
        cls = ModelNotFoundError
    return error_for_status(status, message, headers=headers, cls=cls, retryable=retryable)
