"""The `elasticsearch` provider: models deployed on an Elasticsearch cluster's machine-learning nodes
(ELSER, E5, a reranker, any Eland-imported model), reached through the cluster's `_inference` API.

As for the `elastic` (EIS) provider, the cluster's URL and API key are host configuration
(`AI_CONNECTOR_ELASTICSEARCH_URL` / `AI_CONNECTOR_ELASTICSEARCH_API_KEY`), which a connector may
override with its `url` setting and `api_key` secret. The connector owns its inference endpoint
(`"service": "elasticsearch"`): saving creates it (or, on update, changes its allocations with
`_update`), deleting removes it, except for the cluster's preconfigured ones (ids starting with `.`).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from ai_connector.plugin import (
    CallContext,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    Provider,
    ProviderError,
    RateLimitError,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    TaskType,
    error_for_status,
    fields,
    hookimpl,
)

__all__ = ["API_KEY_ENV", "PROVIDER", "URL_ENV", "ai_connector_providers", "cluster_error"]

PROVIDER_ID = "elasticsearch"
URL_ENV = "AI_CONNECTOR_ELASTICSEARCH_URL"
API_KEY_ENV = "AI_CONNECTOR_ELASTICSEARCH_API_KEY"
TASK_TYPES = (TaskType.RERANK, TaskType.TEXT_EMBEDDING, TaskType.SPARSE_EMBEDDING)

# Labels, descriptions, defaults and flags are ES's (ElasticsearchInternalService.Configuration);
# `url` is ours: where the cluster is, when not the host's.
SETTINGS_SCHEMA = fields.schema(
    {
        "model_id": fields.model_id(),
        "num_allocations": fields.field(
            "integer",
            "Number Allocations",
            "The total number of allocations this model is assigned across machine learning nodes.",
            default=1,
            minimum=1,
            **{"x-updatable": True},
        ),
        "num_threads": fields.field(
            "integer",
            "Number Threads",
            "Sets the number of threads used by each model allocation during inference.",
            default=2,
            minimum=1,
            maximum=32,
            **{"x-updatable": False},
        ),
        "url": fields.url(
            f"The Elasticsearch cluster's URL, when not the host's ({URL_ENV}).", title="Elasticsearch URL"
        ),
    },
    required=["model_id", "num_allocations", "num_threads"],
)
AUTH_SCHEMA = fields.schema(
    {
        "api_key": fields.api_key(
            "An Elasticsearch API key (the encoded value, or id:key) that overrides the host's "
            f"({API_KEY_ENV})."
        )
    }
)
# ES's rerank task settings (CustomElandRerankTaskSettings).
RERANK_TASK_SETTINGS = fields.schema(
    {
        "return_documents": fields.field(
            "boolean", "Return Documents", "Whether to return the reranked documents' text.", default=True
        )
    }
)
_SERVICE_SETTINGS = ("model_id", "num_allocations", "num_threads")


# ---------------------------------------------------------------------------------------------
# Where the cluster is and how to authenticate


def _base(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> str | None:
    url = endpoint.settings.get("url") or host_settings.get("url")
    return str(url).rstrip("/") if url else None


def _endpoint_url(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> str:
    """`{cluster}/_inference/{task_type}/{inference_id}`; a clear error when no cluster is configured."""
    base = _base(endpoint, host_settings)
    if base is None:
        raise InvalidRequestError(
            f"{PROVIDER_ID}: no Elasticsearch URL is configured: set the host's {URL_ENV} "
            "or the connector's `url` setting (providerConfig.url)"
        )
    return f"{base}/_inference/{endpoint.task_type.value}/{quote(endpoint.inference_id, safe='')}"


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [_endpoint_url(endpoint, host_settings)] if _base(endpoint, host_settings) else []


def _encoded_key(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> str | None:
    """The API key as ES's `ApiKey` scheme wants it: base64 of `id:key` (a raw pair is encoded)."""
    key = endpoint.secrets.get("api_key") or host_settings.get("api_key")
    if not key:
        return None
    key = str(key)
    return base64.b64encode(key.encode()).decode() if ":" in key else key


def _headers(endpoint: InferenceEndpoint, ctx: CallContext) -> dict[str, str]:
    """The connector's headers, then `Authorization: ApiKey` (none: a cluster without security)."""
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() != "authorization"}
    if key := _encoded_key(endpoint, ctx.host_settings):
        headers["Authorization"] = f"ApiKey {key}"
    return headers


def _redactor(endpoint: InferenceEndpoint, ctx: CallContext) -> Callable[[Any], str]:
    """The call's redactor plus the host's key (raw and encoded), which the call does not know."""
    keys = {
        str(k) for k in (ctx.host_settings.get("api_key"), _encoded_key(endpoint, ctx.host_settings)) if k
    }

    def redact(text: Any) -> str:
        out = ctx.redact(text)
        for key in keys:
            out = out.replace(key, "[REDACTED]") if len(key) >= 4 else out
        return out

    return redact


async def _send(
    method: str, endpoint: InferenceEndpoint, ctx: CallContext, body: Any = None, suffix: str = ""
) -> Any:
    url = _endpoint_url(endpoint, ctx.host_settings) + suffix
    try:
        return await ctx.send_json(method, url, json=body, headers=_headers(endpoint, ctx))
    except ProviderError as exc:
        raise exc.redacted(_redactor(endpoint, ctx)) from None


# ---------------------------------------------------------------------------------------------
# Errors


def cluster_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for ES's envelope `{"error":{"root_cause","type","reason",...},"status"}`.

    A 404 names a missing endpoint or model; a 429 is a full inference queue (retryable) or a
    tripped circuit breaker whose `durability` is PERMANENT (retrying does not help, like a quota).
    """
    try:
        data = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        data = body.decode("utf-8", "replace").strip()[:1000] or None
    error = data.get("error") if isinstance(data, Mapping) else data
    if not isinstance(error, Mapping):
        return error_for_status(status, error if isinstance(error, str) else None, headers=headers)
    reason = error.get("reason") if isinstance(error.get("reason"), str) else None
    caused = error.get("caused_by")
    if isinstance(caused, Mapping) and isinstance(caused.get("reason"), str) and caused["reason"] != reason:
        reason = f"{reason}; caused by: {caused['reason']}" if reason else caused["reason"]
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    retryable = False if status == 429 and error.get("durability") == "PERMANENT" else None
    cls = RateLimitError if status == 429 else None
    return error_for_status(status, reason, headers=headers, code=kind, cls=cls, retryable=retryable)


# ---------------------------------------------------------------------------------------------
# Inference calls


def _results(data: Any, key: str, count: int) -> list[Any]:
    items = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise InvalidResponseError(f"{PROVIDER_ID}: the answer has no `{key}` list")
    if count >= 0 and len(items) != count:
        raise InvalidResponseError(f"{PROVIDER_ID}: {len(items)} {key} results came back for {count} inputs")
    return items


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`POST _inference/text_embedding/{id}` `{"input", "input_type"?}` -> one vector per input."""
    body: dict[str, Any] = {"input": list(request.input)}
    if request.input_type:
        body["input_type"] = request.input_type
    items = _results(await _send("POST", endpoint, ctx, body), "text_embedding", len(request.input))
    try:
        return [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError):
        raise InvalidResponseError(f"{PROVIDER_ID}: unreadable text_embedding result") from None


async def sparse_embedding(
    endpoint: InferenceEndpoint, request: SparseEmbeddingRequest, ctx: CallContext
) -> list[dict[str, float]]:
    """`POST _inference/sparse_embedding/{id}` -> `[{"is_truncated", "embedding": {token: weight}}]`."""
    items = _results(
        await _send("POST", endpoint, ctx, {"input": list(request.input)}),
        "sparse_embedding",
        len(request.input),
    )
    try:
        return [{str(t): float(w) for t, w in item["embedding"].items()} for item in items]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: unreadable sparse_embedding result") from None


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`POST _inference/rerank/{id}` `{"query","input","task_settings":{"return_documents"}}`,
    best first (ES sorts them; `top_n` is applied here, ES's request has none on older clusters)."""
    body = {
        "query": request.query,
        "input": list(request.input),
        "task_settings": {"return_documents": request.return_documents},
    }
    items = _results(await _send("POST", endpoint, ctx, body), "rerank", -1)
    try:
        results = [
            RerankResult(
                index=int(item["index"]),
                score=float(item["relevance_score"]),
                text=item.get("text") if request.return_documents else None,
            )
            for item in items
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: unreadable rerank result") from None
    results.sort(key=lambda r: r.score, reverse=True)
    return results if request.top_n is None else results[: request.top_n]


# ---------------------------------------------------------------------------------------------
# The connector's own inference endpoint (Kibana's preSaveHook / postDeleteHook)


def _preconfigured(endpoint: InferenceEndpoint) -> bool:
    """`.elser-2-elasticsearch`, `.multilingual-e5-small-elasticsearch`, ...: the cluster's own."""
    return endpoint.inference_id.startswith(".")


async def _exists(endpoint: InferenceEndpoint, ctx: CallContext) -> bool:
    try:
        await _send("GET", endpoint, ctx)
    except ModelNotFoundError:
        return False
    return True


async def on_save(endpoint: InferenceEndpoint, ctx: CallContext, is_update: bool) -> None:
    """Create the endpoint (`PUT`, which deploys the model), or on update change its allocations
    (`PUT .../_update`, the one updatable setting); a preconfigured endpoint must only exist."""
    exists = await _exists(endpoint, ctx)
    task, inference_id = endpoint.task_type.value, endpoint.inference_id
    if _preconfigured(endpoint):
        if not exists:
            raise ModelNotFoundError(
                f"{PROVIDER_ID}: the preconfigured inference endpoint {inference_id} ({task}) does not exist",
                status=404,
            )
        return
    if exists:
        if not is_update:
            raise InvalidRequestError(
                f"Inference with id {inference_id} and task type {task} already exists."
            )
        allocations = {"num_allocations": endpoint.settings.get("num_allocations", 1)}
        await _send("PUT", endpoint, ctx, {"service_settings": allocations}, "/_update")
        return
    body: dict[str, Any] = {
        "service": PROVIDER_ID,
        "service_settings": {k: endpoint.settings[k] for k in _SERVICE_SETTINGS if k in endpoint.settings},
    }
    if endpoint.task_settings:
        body["task_settings"] = dict(endpoint.task_settings)
    await _send("PUT", endpoint, ctx, body)


async def on_delete(endpoint: InferenceEndpoint, ctx: CallContext) -> None:
    """Delete the connector's endpoint (never a preconfigured one); already gone is fine."""
    if not _preconfigured(endpoint):
        with contextlib.suppress(ModelNotFoundError):
            await _send("DELETE", endpoint, ctx)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Elasticsearch",
    task_types=frozenset(TASK_TYPES),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas={TaskType.RERANK: RERANK_TASK_SETTINGS},
    parse_error=cluster_error,
    text_embedding=text_embedding,
    sparse_embedding=sparse_embedding,
    rerank=rerank,
    urls=_urls,
    host_settings_env={"url": URL_ENV, "api_key": API_KEY_ENV},
    on_save=on_save,
    on_delete=on_delete,
    description="Models deployed on an Elasticsearch cluster's ML nodes (ELSER, E5, rerankers, Eland).",
    docs_url="https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-inference-put-elasticsearch",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Elasticsearch (ML nodes) provider."""
    return [PROVIDER]
