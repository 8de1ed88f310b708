"""Elasticsearch's inference API on the wire, as EIS connectors use it: where to send (the host's or
the connector's Elasticsearch URL), how to authenticate (`ApiKey`), ES's error envelope typed, and
the task responses parsed (ES reference 4.3-4.5)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from ai_connector.plugin import (
    CallContext,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ProviderError,
    RateLimitError,
    RerankResult,
    error_for_status,
)

__all__ = [
    "API_KEY_ENV",
    "NO_URL_MESSAGE",
    "PROVIDER_ID",
    "URL_ENV",
    "es_error",
    "es_error_fields",
    "es_headers",
    "es_url",
    "inference_url",
    "parse_completion",
    "parse_embeddings",
    "parse_json",
    "parse_rerank",
    "parse_sparse",
    "redactor_for",
]

PROVIDER_ID = "elastic"
URL_ENV = "AI_CONNECTOR_ELASTICSEARCH_URL"
API_KEY_ENV = "AI_CONNECTOR_ELASTICSEARCH_API_KEY"
NO_URL_MESSAGE = (
    "elastic: no Elasticsearch URL is configured: set the host's Elasticsearch URL "
    f"({URL_ENV}) or the connector's `url` setting (providerConfig.url)"
)


def es_url(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> str:
    """The Elasticsearch base URL: the connector's `url`, else the host's; a clear error without either."""
    url = endpoint.settings.get("url") or host_settings.get("url")
    if not url:
        raise InvalidRequestError(NO_URL_MESSAGE)
    return str(url).rstrip("/")


def inference_url(base: str, endpoint: InferenceEndpoint) -> str:
    """`{es}/_inference/{task_type}/{inference_id}` (the id path-escaped)."""
    return f"{base}/_inference/{endpoint.task_type.value}/{quote(endpoint.inference_id, safe='')}"


def _api_key(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> str | None:
    key = endpoint.secrets.get("api_key") or host_settings.get("api_key")
    if not key:
        return None
    key = str(key)
    # ES wants the base64 of `id:api_key`; accept the raw pair too (base64 never holds a colon).
    if ":" in key:
        key = base64.b64encode(key.encode()).decode()
    return key


def es_headers(endpoint: InferenceEndpoint, ctx: CallContext) -> dict[str, str]:
    """The connector's custom headers, then `Authorization: ApiKey ...` (which wins) when a key is set.

    Without any key the request goes unauthenticated (an Elasticsearch without security).
    """
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() != "authorization"}
    key = _api_key(endpoint, ctx.host_settings)
    if key:
        headers["Authorization"] = f"ApiKey {key}"
    return headers


def redactor_for(endpoint: InferenceEndpoint, ctx: CallContext) -> Callable[[Any], str]:
    """`ctx.redact` plus the host's API key (raw and encoded), which the call's redactor may not know."""
    extra = {str(v) for v in (ctx.host_settings.get("api_key"), _api_key(endpoint, ctx.host_settings)) if v}
    extra = {v for v in extra if len(v) >= 4}

    def redact(text: Any) -> str:
        out = ctx.redact(text)
        for value in extra:
            out = out.replace(value, "[REDACTED]")
        return out

    return redact


# ---------------------------------------------------------------------------------------------
# Errors


def es_error_fields(body: bytes | str) -> tuple[str | None, str | None]:
    """(reason, type) from ES's `{"error":{"root_cause","type","reason","caused_by"},"status"}`.

    The `caused_by` reason is appended (that is where a wrapped upstream failure says what went
    wrong); a string `error` or a non-JSON body gives its text.
    """
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return (text.strip()[:1000] or None), None
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, str):
        return error, None
    if not isinstance(error, Mapping):
        return None, None
    reason = error.get("reason") or error.get("message")
    reason = reason if isinstance(reason, str) else None
    caused = error.get("caused_by")
    if isinstance(caused, Mapping) and isinstance(caused.get("reason"), str) and caused["reason"] != reason:
        reason = f"{reason}; caused by: {caused['reason']}" if reason else caused["reason"]
    kind = error.get("type")
    return reason, (kind if isinstance(kind, str) else None)


def es_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for an Elasticsearch error response.

    ES answers an upstream 429 with a 400 `status_exception` whose reason holds `status [429]`
    (elastic/elasticsearch#139710, which Kibana's detectandThrowUserError works around): that is a
    rate limit, and a spent quota is not worth retrying.
    """
    reason, kind = es_error_fields(body)
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if status == 400 and reason and "status [429]" in reason:
        cls, retryable = RateLimitError, "quota" not in reason.lower()
    return error_for_status(status, reason, headers=headers, code=kind, cls=cls, retryable=retryable)


# ---------------------------------------------------------------------------------------------
# Responses


def _unexpected(what: str) -> InvalidResponseError:
    return InvalidResponseError(f"{PROVIDER_ID}: unexpected {what} response shape")


def parse_json(content: bytes, status: int) -> Mapping[str, Any]:
    """A response body as a JSON object; InvalidResponseError otherwise."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: the response is not JSON", status=status) from None
    if not isinstance(data, Mapping):
        raise InvalidResponseError(f"{PROVIDER_ID}: the response is not a JSON object", status=status)
    return data


def parse_completion(data: Mapping[str, Any]) -> list[str]:
    """`{"completion":[{"result"}]}` -> the results."""
    try:
        results = [item["result"] for item in data["completion"]]
    except (KeyError, TypeError):
        raise _unexpected("completion") from None
    if not all(isinstance(r, str) for r in results):
        raise _unexpected("completion")
    return results


def parse_embeddings(data: Mapping[str, Any], count: int) -> list[list[float]]:
    """`{"text_embedding":[{"embedding":[...]}]}` (or the byte/bit variants) -> one vector per input."""
    items = data.get("text_embedding")
    if items is None:
        items = data.get("text_embedding_bytes", data.get("text_embedding_bits"))
    try:
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError):
        raise _unexpected("text_embedding") from None
    if len(vectors) != count:
        raise InvalidResponseError(f"{PROVIDER_ID}: {len(vectors)} embeddings came back for {count} inputs")
    return vectors


def parse_sparse(data: Mapping[str, Any], count: int) -> list[dict[str, float]]:
    """`{"sparse_embedding":[{token: weight}]}`, or the newer `[{"is_truncated", "embedding": {...}}]`."""
    try:
        out = []
        for item in data["sparse_embedding"]:
            weights = item.get("embedding")
            if not (isinstance(weights, Mapping) and "is_truncated" in item):
                weights = item
            out.append({str(token): float(weight) for token, weight in weights.items()})
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unexpected("sparse_embedding") from None
    if len(out) != count:
        raise InvalidResponseError(
            f"{PROVIDER_ID}: {len(out)} sparse embeddings came back for {count} inputs"
        )
    return out


def parse_rerank(data: Mapping[str, Any], *, top_n: int | None, return_documents: bool) -> list[RerankResult]:
    """`{"rerank":[{"index","relevance_score","text"?}]}`, best first; scores may be quoted strings."""
    try:
        results = [
            RerankResult(
                index=int(item["index"]),
                score=float(item["relevance_score"]),
                text=item.get("text") if return_documents else None,
            )
            for item in data["rerank"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unexpected("rerank") from None
    results.sort(key=lambda r: r.score, reverse=True)
    # top_n is applied here: ES's request-level top_n is not available on every version.
    return results if top_n is None else results[:top_n]
