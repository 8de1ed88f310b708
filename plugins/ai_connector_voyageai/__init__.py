"""The Voyage AI provider (`voyageai`): text embedding and rerank, as Elasticsearch's `voyageai`
service calls `https://api.voyageai.com/v1/embeddings` and `/v1/rerank`.

Settings are ES's (`VoyageAIService.Configuration`: `model_id`, `api_key`, `rate_limit`), plus a `url`
that overrides the API's base URL (for proxies and tests; ES has none). ES's multimodal `embedding`
task type has no counterpart in this host and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    EmbeddingRequest,
    InferenceEndpoint,
    Provider,
    RerankRequest,
    RerankResult,
    TaskType,
    fields,
    hookimpl,
)
from ai_connector_voyageai.wire import (
    PROVIDER_ID,
    embeddings,
    embeddings_body,
    parse_error,
    rerank_body,
    rerank_results,
)

__all__ = ["DEFAULT_URL", "PROVIDER", "ai_connector_providers", "request_url"]

DEFAULT_URL = "https://api.voyageai.com"  # VoyageAIUtils.HOST
_PATHS = {TaskType.TEXT_EMBEDDING: "/v1/embeddings", TaskType.RERANK: "/v1/rerank"}
DEFAULT_REQUESTS_PER_MINUTE = 2000  # VoyageAI*ServiceSettings' default, for both task types

# Field texts and flags are ES's (VoyageAIService.Configuration).
SETTINGS_SCHEMA: dict[str, Any] = fields.schema(
    {
        "model_id": fields.model_id(),
        "rate_limit": fields.rate_limit(),
        "url": fields.url(
            "Overrides the Voyage AI API base URL, for proxies and tests.", default=DEFAULT_URL
        ),
    },
    required=["model_id"],
)

AUTH_SCHEMA: dict[str, Any] = fields.schema({"api_key": fields.api_key()}, required=["api_key"])

_TRUNCATION: dict[str, Any] = {
    "type": "boolean",
    "title": "Truncation",
    "description": "Whether to truncate inputs that exceed the model's context length (Voyage's default) "
    "instead of refusing them.",
}

# ES's VoyageAIEmbeddingsTaskSettings and VoyageAIRerankTaskSettings.
TASK_SETTINGS_SCHEMAS: dict[TaskType, dict[str, Any]] = {
    TaskType.TEXT_EMBEDDING: {
        "type": "object",
        "properties": {
            "input_type": {
                "type": "string",
                "title": "Input Type",
                "description": "Whether the inputs are documents to store (ingest) or queries (search); "
                "a request's own input type wins.",
                "enum": ["ingest", "search"],
            },
            "truncation": _TRUNCATION,
        },
        "additionalProperties": False,
    },
    TaskType.RERANK: {
        "type": "object",
        "properties": {
            "return_documents": {
                "type": "boolean",
                "title": "Return Documents",
                "description": "Whether to return the document text with each result.",
                "default": False,
            },
            "top_k": {
                "type": "integer",
                "title": "Top K",
                "description": "The number of most relevant documents to return; all of them when empty.",
                "minimum": 1,
            },
            "truncation": _TRUNCATION,
        },
        "additionalProperties": False,
    },
}


def request_url(endpoint: InferenceEndpoint) -> str:
    """`{url}/v1/embeddings` or `{url}/v1/rerank`, from the connector's base URL or Voyage's."""
    base = (endpoint.settings.get("url") or DEFAULT_URL).rstrip("/")
    return base + _PATHS[endpoint.task_type]


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [request_url(endpoint)]


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    """The connector's custom headers, then the bearer key and ES's Request-Source (which win)."""
    key = fields.require(endpoint, "api_key", "API Key", secret=True)
    own = {"authorization", "request-source"}
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() not in own}
    headers["Authorization"] = f"Bearer {key}"
    headers["Request-Source"] = "unspecified:elasticsearch"  # VoyageAIUtils.createRequestSourceHeader
    return headers


async def _post(endpoint: InferenceEndpoint, body: Mapping[str, Any], ctx: CallContext) -> Any:
    return await ctx.send_json("POST", request_url(endpoint), json=body, headers=_headers(endpoint))


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`POST /v1/embeddings`; the request's input type wins over the task setting."""
    task_settings = endpoint.task_settings
    body = embeddings_body(
        request.input,
        model=endpoint.settings["model_id"],
        input_type=request.input_type or task_settings.get("input_type"),
        truncation=task_settings.get("truncation"),
    )
    return embeddings(await _post(endpoint, body, ctx), len(request.input))


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`POST /v1/rerank`, results best first; the request's top_n wins over the `top_k` task setting."""
    task_settings = endpoint.task_settings
    body = rerank_body(
        request.query,
        request.input,
        model=endpoint.settings["model_id"],
        return_documents=task_settings.get("return_documents"),
        top_k=request.top_n if request.top_n is not None else task_settings.get("top_k"),
        truncation=task_settings.get("truncation"),
    )
    return rerank_results(await _post(endpoint, body, ctx), with_text=request.return_documents)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Voyage AI",
    task_types=frozenset({TaskType.TEXT_EMBEDDING, TaskType.RERANK}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas=TASK_SETTINGS_SCHEMAS,
    parse_error=parse_error,
    text_embedding=text_embedding,
    rerank=rerank,
    urls=_urls,
    default_requests_per_minute=dict.fromkeys(_PATHS, DEFAULT_REQUESTS_PER_MINUTE),
    description="Voyage AI's embedding and reranker models.",
    docs_url="https://docs.voyageai.com/reference/embeddings-api",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Voyage AI provider."""
    return [PROVIDER]
