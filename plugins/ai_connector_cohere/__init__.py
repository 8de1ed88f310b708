"""The Cohere provider (`cohere`): text embedding, rerank and completion (streamed too), on Cohere's
v2 API as Elasticsearch's `cohere` service calls it.

Settings are ES's (`CohereServiceTests.testGetConfiguration`: `api_key`, `model_id`, `rate_limit`),
plus ES's optional `url`, the full URL of the task's endpoint, used exactly as given (ES keeps it for
tests and proxies). Without it each task calls Cohere's own endpoint under `https://api.cohere.ai/v2`.
New ES endpoints always use the v2 API, which needs a model: `model_id` is optional in the
descriptor, as in ES, and refused at save when missing, with ES's message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    Provider,
    RerankRequest,
    RerankResult,
    TaskType,
    fields,
    hookimpl,
)
from ai_connector_cohere.wire import (
    PROVIDER_ID,
    REQUEST_SOURCE,
    chat_body,
    chat_text,
    embed_body,
    embeddings,
    parse_error,
    rerank_body,
    rerank_results,
    translate_stream,
)

__all__ = ["DEFAULT_URLS", "PROVIDER", "ai_connector_providers", "completion_stream", "request_url"]

# CohereUtils: host api.cohere.ai, version v2, paths embed / rerank / chat.
DEFAULT_URLS: Mapping[TaskType, str] = {
    TaskType.TEXT_EMBEDDING: "https://api.cohere.ai/v2/embed",
    TaskType.RERANK: "https://api.cohere.ai/v2/rerank",
    TaskType.COMPLETION: "https://api.cohere.ai/v2/chat",
}
# CohereServiceSettings.DEFAULT_RATE_LIMIT_SETTINGS, for every task type.
DEFAULT_REQUESTS_PER_MINUTE = 10_000
MODEL_REQUIRED = "The [service_settings.model_id] field is required for the Cohere V2 API."

# Field texts and flags are ES's (CohereServiceTests.testGetConfiguration): model_id is optional there.
SETTINGS_SCHEMA: dict[str, Any] = fields.schema(
    {
        "model_id": fields.model_id(),
        "rate_limit": fields.rate_limit(),
        "url": fields.url(
            "The absolute URL of the task's endpoint, used as given (for proxies and tests); "
            "Cohere's own v2 endpoint when empty."
        ),
    }
)
AUTH_SCHEMA: dict[str, Any] = fields.schema({"api_key": fields.api_key()}, required=["api_key"])

# ES's CohereEmbeddingsTaskSettings and CohereRerankTaskSettings (elasticsearch-specification).
TASK_SETTINGS_SCHEMAS: dict[TaskType, dict[str, Any]] = {
    TaskType.TEXT_EMBEDDING: {
        "type": "object",
        "properties": {
            "input_type": {
                "type": "string",
                "title": "Input Type",
                "description": "The type of input passed to the model; required for embedding models v3 and "
                "higher. A request's own input type wins.",
                "enum": ["classification", "clustering", "ingest", "search"],
            },
            "truncate": {
                "type": "string",
                "title": "Truncate",
                "description": "How inputs longer than the model's maximum are handled.",
                "enum": ["END", "NONE", "START"],
            },
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
            },
            "top_n": {
                "type": "integer",
                "title": "Top N",
                "description": "The number of most relevant documents to return; all of them when empty.",
                "minimum": 1,
            },
            "max_chunks_per_doc": {
                "type": "integer",
                "title": "Max Chunks Per Doc",
                "description": "The maximum number of chunks a document is split into.",
                "minimum": 1,
            },
        },
        "additionalProperties": False,
    },
}


def request_url(endpoint: InferenceEndpoint) -> str:
    """The connector's `url` as given, else Cohere's v2 endpoint for its task type."""
    return endpoint.settings.get("url") or DEFAULT_URLS[endpoint.task_type]


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [request_url(endpoint)]


def _model(endpoint: InferenceEndpoint) -> str:
    model = endpoint.settings.get("model_id")
    if not model:
        raise fields.invalid("model_id", "Model ID", MODEL_REQUIRED)
    return str(model)


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    """The connector's custom headers, then Cohere's bearer key and ES's Request-Source (which win)."""
    key = fields.require(endpoint, "api_key", "API Key", secret=True)
    own = {"authorization", "request-source"}
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() not in own}
    headers["Authorization"] = f"Bearer {key}"
    headers["Request-Source"] = REQUEST_SOURCE
    return headers


async def _post(endpoint: InferenceEndpoint, body: Mapping[str, Any], ctx: CallContext) -> Any:
    return await ctx.send_json("POST", request_url(endpoint), json=body, headers=_headers(endpoint))


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`POST /v2/embed`: float vectors; the request's input type wins over the task setting."""
    settings = endpoint.task_settings
    body = embed_body(
        request.input,
        model=_model(endpoint),
        input_type=request.input_type or settings.get("input_type"),
        truncate=settings.get("truncate"),
    )
    return embeddings(await _post(endpoint, body, ctx), len(request.input))


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`POST /v2/rerank`: results best first; the request's top_n wins over the task setting."""
    settings = endpoint.task_settings
    body = rerank_body(
        request.query,
        request.input,
        model=_model(endpoint),
        top_n=request.top_n if request.top_n is not None else settings.get("top_n"),
        return_documents=settings.get("return_documents"),
        max_chunks_per_doc=settings.get("max_chunks_per_doc"),
    )
    return rerank_results(await _post(endpoint, body, ctx), with_text=request.return_documents)


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """`POST /v2/chat` (not streamed): the input as one user message, the answer's text as `[result]`."""
    body = chat_body(request.input, model=_model(endpoint), stream=False, max_tokens=request.max_tokens)
    return [chat_text(await _post(endpoint, body, ctx))]


async def completion_stream(
    endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """ES's streamed completion: `POST /v2/chat` with `stream: true`, Cohere's v2 SSE events as
    unified chunks (role first, text, one finish reason, usage last)."""
    body = chat_body(request.input, model=_model(endpoint), stream=True, max_tokens=request.max_tokens)
    headers = {**_headers(endpoint), "Accept": "text/event-stream"}
    async with (
        ctx.open_sse("POST", request_url(endpoint), json=body, headers=headers) as events,
        aclosing(translate_stream(events, redact=ctx.redact)) as chunks,
    ):
        async for chunk in chunks:  # closed with this generator, not later by the event loop
            yield chunk


async def on_save(endpoint: InferenceEndpoint, ctx: CallContext, is_update: bool) -> None:
    """Refuse a connector without a model, as ES refuses to create a v2 endpoint without one."""
    _model(endpoint)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Cohere",
    task_types=frozenset({TaskType.TEXT_EMBEDDING, TaskType.RERANK, TaskType.COMPLETION}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas=TASK_SETTINGS_SCHEMAS,
    parse_error=parse_error,
    completion=completion,
    completion_stream=completion_stream,
    text_embedding=text_embedding,
    rerank=rerank,
    urls=_urls,
    on_save=on_save,
    default_requests_per_minute=dict.fromkeys(DEFAULT_URLS, DEFAULT_REQUESTS_PER_MINUTE),
    description="Cohere's Embed, Rerank and Command models through Cohere's v2 API.",
    docs_url="https://docs.cohere.com/reference/about",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Cohere provider."""
    return [PROVIDER]
