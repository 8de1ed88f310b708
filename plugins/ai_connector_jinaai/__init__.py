"""The Jina AI provider (`jinaai`): text embedding and rerank, as Elasticsearch's `jinaai` service
calls `https://api.jina.ai/v1/embeddings` and `/v1/rerank`.

Settings are ES's (`JinaAIServiceTests.testGetConfiguration`), plus a `url` that overrides the API's
base URL (for proxies and tests; ES has none). ES's multimodal `embedding` task type has no
counterpart in this host and is left out.
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
from ai_connector_jinaai.wire import (
    PROVIDER_ID,
    embeddings,
    embeddings_body,
    parse_error,
    rerank_body,
    rerank_results,
)

__all__ = ["DEFAULT_URL", "PROVIDER", "ai_connector_providers", "request_url"]

DEFAULT_URL = "https://api.jina.ai"  # JinaAIUtils.HOST
_PATHS = {TaskType.TEXT_EMBEDDING: "/v1/embeddings", TaskType.RERANK: "/v1/rerank"}
DEFAULT_REQUESTS_PER_MINUTE = 2000  # JinaAIServiceSettings' default, for both task types

# Field texts, defaults and flags are ES's (JinaAIService.Configuration and testGetConfiguration).
SETTINGS_SCHEMA: dict[str, Any] = fields.schema(
    {
        "model_id": fields.model_id(),
        "dimensions": {
            "type": "integer",
            "title": "Dimensions",
            "description": "The number of dimensions the resulting embeddings should have. For more "
            "information refer to "
            "https://api.jina.ai/docs#tag/embeddings/operation/create_embedding_v1_embeddings_post.",
            "minimum": 1,
            "x-updatable": False,
            "x-task-types": ["text_embedding"],
        },
        "embedding_type": {
            "type": "string",
            "title": "Embedding type",
            "description": "The type of embedding to return. One of [float, bit, binary]. bit and binary are "
            "equivalent and are encoded as bytes with signed int8 precision.",
            "enum": ["float", "bit", "binary"],
            "default": "float",
            "x-updatable": False,
            "x-task-types": ["text_embedding"],
        },
        "similarity": {
            "type": "string",
            "title": "Similarity",
            "description": "The similarity measure. One of [cosine, dot_product, l2_norm]. For float "
            "embeddings, the default similarity is dot_product. For bit and binary embeddings, the default "
            "similarity is l2_norm.",
            "enum": ["cosine", "dot_product", "l2_norm"],
            "x-updatable": False,
            "x-task-types": ["text_embedding"],
        },
        "rate_limit": fields.rate_limit(),
        "url": fields.url("Overrides the Jina AI API base URL, for proxies and tests.", default=DEFAULT_URL),
    },
    required=["model_id"],
)

AUTH_SCHEMA: dict[str, Any] = fields.schema({"api_key": fields.api_key()}, required=["api_key"])

# ES's JinaAIEmbeddingsTaskSettings and JinaAIRerankTaskSettings.
TASK_SETTINGS_SCHEMAS: dict[TaskType, dict[str, Any]] = {
    TaskType.TEXT_EMBEDDING: {
        "type": "object",
        "properties": {
            "input_type": {
                "type": "string",
                "title": "Input Type",
                "description": "What the embeddings are for, sent as Jina's task; a request's own input type "
                "wins.",
                "enum": ["classification", "clustering", "ingest", "search"],
            },
            "late_chunking": {
                "type": "boolean",
                "title": "Late Chunking",
                "description": "Embed the inputs' chunks together with the context of the whole text "
                "(only for inputs of at most 5500 words).",
            },
        },
        "additionalProperties": False,
    },
    TaskType.RERANK: {
        "type": "object",
        "properties": {
            "top_n": {
                "type": "integer",
                "title": "Top N",
                "description": "The number of most relevant documents to return; all of them when empty.",
                "minimum": 1,
            },
            "return_documents": {
                "type": "boolean",
                "title": "Return Documents",
                "description": "Whether to return the document text with each result.",
            },
        },
        "additionalProperties": False,
    },
}


def request_url(endpoint: InferenceEndpoint) -> str:
    """`{url}/v1/embeddings` or `{url}/v1/rerank`, from the connector's base URL or Jina's."""
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
    headers["Request-Source"] = "unspecified:elasticsearch"  # JinaAIUtils.createRequestSourceHeader
    return headers


async def _post(endpoint: InferenceEndpoint, body: Mapping[str, Any], ctx: CallContext) -> Any:
    return await ctx.send_json("POST", request_url(endpoint), json=body, headers=_headers(endpoint))


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`POST /v1/embeddings`; the request's input type wins over the task setting."""
    settings, task_settings = endpoint.settings, endpoint.task_settings
    body = embeddings_body(
        request.input,
        model=settings["model_id"],
        embedding_type=settings.get("embedding_type"),
        input_type=request.input_type or task_settings.get("input_type"),
        late_chunking=task_settings.get("late_chunking"),
        dimensions=settings.get("dimensions"),
    )
    return embeddings(await _post(endpoint, body, ctx), len(request.input))


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`POST /v1/rerank`, results best first; the request's top_n wins over the task setting."""
    task_settings = endpoint.task_settings
    body = rerank_body(
        request.query,
        request.input,
        model=endpoint.settings["model_id"],
        top_n=request.top_n if request.top_n is not None else task_settings.get("top_n"),
        return_documents=task_settings.get("return_documents"),
    )
    return rerank_results(await _post(endpoint, body, ctx), with_text=request.return_documents)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Jina AI",
    task_types=frozenset({TaskType.TEXT_EMBEDDING, TaskType.RERANK}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas=TASK_SETTINGS_SCHEMAS,
    parse_error=parse_error,
    text_embedding=text_embedding,
    rerank=rerank,
    urls=_urls,
    default_requests_per_minute=dict.fromkeys(_PATHS, DEFAULT_REQUESTS_PER_MINUTE),
    description="Jina AI's embedding and reranker models.",
    docs_url="https://api.jina.ai/docs",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Jina AI provider."""
    return [PROVIDER]
