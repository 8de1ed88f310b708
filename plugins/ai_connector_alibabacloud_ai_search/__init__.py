"""The `alibabacloud-ai-search` provider: Alibaba Cloud's AI Search Open Platform (OpenSearch) model
services, as Elasticsearch's `alibabacloud-ai-search` service calls them:
`<http_schema>://<host>/v3/openapi/workspaces/<workspace>/<text-embedding|text-sparse-embedding|ranker|
text-generation>/<service_id>` with `Authorization: Bearer <api_key>`, answers in the platform's
`{"request_id","latency","usage","result"}` envelope and errors as
`{"request_id","latency","code","message"}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
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

__all__ = ["PROVIDER", "ai_connector_providers", "search_error"]

PROVIDER_ID = "alibabacloud-ai-search"
TASK_TYPES = (TaskType.TEXT_EMBEDDING, TaskType.SPARSE_EMBEDDING, TaskType.RERANK, TaskType.COMPLETION)
# The path of each task type's service (AlibabaCloudSearchUtils).
_PATHS: Mapping[TaskType, str] = {
    TaskType.TEXT_EMBEDDING: "text-embedding",
    TaskType.SPARSE_EMBEDDING: "text-sparse-embedding",
    TaskType.RERANK: "ranker",
    TaskType.COMPLETION: "text-generation",
}
# Kibana's input types as the platform names them (AlibabaCloudSearchEmbeddingsTaskSettings).
_INPUT_TYPES = {"ingest": "document", "search": "query"}

# AlibabaCloudSearchService.Configuration: labels and texts verbatim, `{infer}` included, and the
# `service_id` labelled "Project ID" as ES labels it.
SETTINGS_SCHEMA = fields.schema(
    {
        "service_id": fields.field(
            "string",
            "Project ID",
            "The name of the model service to use for the {infer} task.",
            **{"x-updatable": False},
        ),
        "host": fields.field(
            "string",
            "Host",
            "The name of the host address used for the {infer} task. You can find the host address at "
            "https://opensearch.console.aliyun.com/cn-shanghai/rag/api-key[ the API keys section] of the "
            "documentation.",
            **{"x-updatable": False},
        ),
        "http_schema": fields.field(
            "string", "HTTP Schema", enum=["https", "http"], **{"x-updatable": False}
        ),
        "workspace": fields.field(
            "string",
            "Workspace",
            "The name of the workspace used for the {infer} task.",
            **{"x-updatable": False},
        ),
        "rate_limit": fields.rate_limit(),
    },
    required=["service_id", "host", "http_schema", "workspace"],
)
AUTH_SCHEMA = fields.schema(
    {"api_key": fields.api_key("A valid API key for the AlibabaCloud AI Search API.")}, required=["api_key"]
)
_INPUT_TYPE = fields.field(
    "string",
    "Input Type",
    "The type of the input: `ingest` (documents) or `search` (queries).",
    enum=["ingest", "search"],
)
TASK_SETTINGS: Mapping[TaskType, Mapping[str, Any]] = {
    TaskType.TEXT_EMBEDDING: fields.schema({"input_type": _INPUT_TYPE}),
    TaskType.SPARSE_EMBEDDING: fields.schema(
        {
            "input_type": _INPUT_TYPE,
            "return_token": fields.field(
                "boolean", "Return Token", "Return the tokens' text, not only their ids.", default=False
            ),
        }
    ),
    TaskType.COMPLETION: fields.schema(
        {
            "parameters": fields.field(
                "object",
                "Parameters",
                "Parameters of the text-generation service (temperature, top_p, max_tokens...).",
                additionalProperties={"type": "number"},
            )
        }
    ),
}


def _url(endpoint: InferenceEndpoint) -> str:
    schema = endpoint.settings.get("http_schema") or "https"  # ES's default when absent
    host = fields.require(endpoint, "host", "Host").rstrip("/")
    workspace = fields.require(endpoint, "workspace", "Workspace")
    service = fields.require(endpoint, "service_id", "Project ID")
    return f"{schema}://{host}/v3/openapi/workspaces/{workspace}/{_PATHS[endpoint.task_type]}/{service}"


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [_url(endpoint)]


async def _post(endpoint: InferenceEndpoint, body: Mapping[str, Any], ctx: CallContext) -> Mapping[str, Any]:
    """POST the task's body; the envelope's `result` object."""
    key = fields.require(endpoint, "api_key", "API Key", secret=True)
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {key}"
    answer = await ctx.send_json("POST", _url(endpoint), json=body, headers=headers)
    result = answer.get("result") if isinstance(answer, Mapping) else None
    if not isinstance(result, Mapping):
        raise InvalidResponseError(f"{PROVIDER_ID}: the answer has no `result` object")
    return result


def search_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for `{"request_id","latency","code","message"}`: `ServiceIdNotExist` is an
    unknown model service, `Throttling.AllocationQuota` a spent quota (not worth retrying)."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = None
    data = data if isinstance(data, Mapping) else {}
    message = data.get("message") if isinstance(data.get("message"), str) else None
    code = data.get("code") if isinstance(data.get("code"), str) else None
    if message is None and data == {} and body:
        message = body.decode("utf-8", "replace").strip()[:1000] or None
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if code == "ServiceIdNotExist":
        cls = ModelNotFoundError
    elif code and code.startswith("Throttling"):
        cls, retryable = RateLimitError, code != "Throttling.AllocationQuota"
    return error_for_status(status, message, headers=headers, code=code, cls=cls, retryable=retryable)


def _input_type(endpoint: InferenceEndpoint, request_type: str | None) -> dict[str, str]:
    """The request's input type, else the connector's, as `document`/`query`."""
    chosen = request_type or endpoint.task_settings.get("input_type")
    return {"input_type": _INPUT_TYPES[chosen]} if chosen in _INPUT_TYPES else {}


def _unreadable(task: str) -> InvalidResponseError:
    return InvalidResponseError(f"{PROVIDER_ID}: unreadable {task} result")


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`{"input","input_type"?}` -> `result.embeddings[{index, embedding}]`, in input order."""
    body = {"input": list(request.input), **_input_type(endpoint, request.input_type)}
    result = await _post(endpoint, body, ctx)
    try:
        items = sorted(result["embeddings"], key=lambda item: int(item["index"]))
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError):
        raise _unreadable("text_embedding") from None
    if len(vectors) != len(request.input):
        raise InvalidResponseError(
            f"{PROVIDER_ID}: {len(vectors)} embeddings for {len(request.input)} inputs"
        )
    return vectors


async def sparse_embedding(
    endpoint: InferenceEndpoint, request: SparseEmbeddingRequest, ctx: CallContext
) -> list[dict[str, float]]:
    """`{"input","input_type"?,"return_token"?}` -> `result.sparse_embeddings[{index, embedding:
    [{token_id, weight, token?}]}]`; a token's text is its key when returned, else its id."""
    body: dict[str, Any] = {"input": list(request.input), **_input_type(endpoint, None)}
    if (return_token := endpoint.task_settings.get("return_token")) is not None:
        body["return_token"] = bool(return_token)
    result = await _post(endpoint, body, ctx)
    try:
        items = sorted(result["sparse_embeddings"], key=lambda item: int(item["index"]))
        out = [
            {str(t.get("token") or t["token_id"]): float(t["weight"]) for t in item["embedding"]}
            for item in items
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _unreadable("sparse_embedding") from None
    if len(out) != len(request.input):
        raise InvalidResponseError(
            f"{PROVIDER_ID}: {len(out)} sparse embeddings for {len(request.input)} inputs"
        )
    return out


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`{"query","docs"}` -> `result.scores[{index, score}]`, best first (the service returns no
    text: the request's own document is given back when asked for)."""
    result = await _post(endpoint, {"query": request.query, "docs": list(request.input)}, ctx)
    try:
        results = [
            RerankResult(
                index=int(item["index"]),
                score=float(item["score"]),
                text=request.input[int(item["index"])] if request.return_documents else None,
            )
            for item in result["scores"]
        ]
    except (KeyError, TypeError, ValueError, IndexError):
        raise _unreadable("rerank") from None
    results.sort(key=lambda r: r.score, reverse=True)
    return results if request.top_n is None else results[: request.top_n]


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """`{"messages":[{"role":"user","content"}],"parameters"?}` -> `[result.text]`."""
    body: dict[str, Any] = {"messages": [{"role": "user", "content": request.input}]}
    if isinstance(parameters := endpoint.task_settings.get("parameters"), Mapping):
        body["parameters"] = dict(parameters)
    text = (await _post(endpoint, body, ctx)).get("text")
    if not isinstance(text, str):
        raise _unreadable("completion")
    return [text]


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="AlibabaCloud AI Search",
    task_types=frozenset(TASK_TYPES),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas=TASK_SETTINGS,
    parse_error=search_error,
    text_embedding=text_embedding,
    sparse_embedding=sparse_embedding,
    rerank=rerank,
    completion=completion,
    urls=_urls,
    default_requests_per_minute=dict.fromkeys(TASK_TYPES, 1000),
    description="Alibaba Cloud AI Search Open Platform model services (embeddings, rerank, Qwen).",
    docs_url="https://www.alibabacloud.com/help/en/open-search/search-platform/",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the AlibabaCloud AI Search provider."""
    return [PROVIDER]
