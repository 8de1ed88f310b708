"""The `azureaistudio` provider: models deployed from Azure AI Studio (Azure AI Foundry), as
Elasticsearch's `azureaistudio` service calls them.

What is sent where depends on the deployment's `provider` and `endpoint_type` (ES's
AzureAiStudio*Model and AzureAiStudioRequest): a pay-as-you-go (`token`) deployment takes
`<target>/v1/{chat/completions,embeddings,rerank}` with the raw key in `Authorization`; a `realtime`
(managed compute) one takes `<target>` itself, `input_data` bodies and `Authorization: Bearer`; an
`openai` deployment takes `<target>` itself with an `api-key` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    Provider,
    ProviderError,
    RateLimitError,
    RerankRequest,
    RerankResult,
    TaskType,
    error_for_status,
    fields,
    hookimpl,
    openai_kit,
)

__all__ = ["PROVIDER", "ai_connector_providers", "studio_error"]

PROVIDER_ID = "azureaistudio"
TASK_TYPES = (TaskType.TEXT_EMBEDDING, TaskType.COMPLETION, TaskType.RERANK)
# Which task types each model provider serves (ES's AzureAiStudioProviderCapabilities).
CAPABILITIES: Mapping[str, frozenset[TaskType]] = {
    "cohere": frozenset(TASK_TYPES),
    "openai": frozenset({TaskType.TEXT_EMBEDDING, TaskType.COMPLETION}),
    "databricks": frozenset({TaskType.COMPLETION}),
    "meta": frozenset({TaskType.COMPLETION}),
    "microsoft_phi": frozenset({TaskType.COMPLETION}),
    "mistral": frozenset({TaskType.COMPLETION}),
}
_PATHS = {TaskType.COMPLETION: "/v1/chat/completions", TaskType.TEXT_EMBEDDING: "/v1/embeddings"}
DEFAULT_MAX_NEW_TOKENS = 64  # AzureAiStudioChatCompletionTaskSettings

# AzureAiStudioService.Configuration (texts verbatim); `dimensions` is a text_embedding service setting.
SETTINGS_SCHEMA = fields.schema(
    {
        "target": fields.url("The target URL of your Azure AI Studio model deployment.", title="Target"),
        "endpoint_type": fields.field(
            "string",
            "Endpoint Type",
            "Specifies the type of endpoint that is used in your model deployment.",
            enum=["token", "realtime"],
            **{"x-updatable": False},
        ),
        "provider": fields.field(
            "string",
            "Provider",
            "The model provider for your deployment.",
            enum=sorted(CAPABILITIES),
            **{"x-updatable": False},
        ),
        "dimensions": fields.field(
            "integer",
            "Dimensions",
            "The number of dimensions the resulting output embeddings should have.",
            minimum=1,
            **{"x-updatable": False, "x-task-types": ["text_embedding"]},
        ),
        "rate_limit": fields.rate_limit(),
    },
    required=["target", "endpoint_type", "provider"],
)
AUTH_SCHEMA = fields.schema({"api_key": fields.api_key()}, required=["api_key"])
_UNIT = {"minimum": 0.0, "maximum": 2.0}
TASK_SETTINGS: Mapping[TaskType, Mapping[str, Any]] = {
    TaskType.COMPLETION: fields.schema(
        {
            "temperature": fields.field("number", "Temperature", "The sampling temperature.", **_UNIT),
            "top_p": fields.field("number", "Top P", "Nucleus sampling: the probability mass kept.", **_UNIT),
            "do_sample": fields.field("boolean", "Do Sample", "Whether to sample (else greedy decoding)."),
            "max_new_tokens": fields.field(
                "integer",
                "Max New Tokens",
                "The most tokens to generate.",
                minimum=1,
                default=DEFAULT_MAX_NEW_TOKENS,
            ),
        }
    ),
    TaskType.TEXT_EMBEDDING: fields.schema(
        {"user": fields.field("string", "User", "Specifies the user issuing the request.")}
    ),
    TaskType.RERANK: fields.schema(
        {
            "return_documents": fields.field("boolean", "Return Documents", "Return the documents' text."),
            "top_n": fields.field("integer", "Top N", "How many of the best results to return.", minimum=1),
        }
    ),
}


def _checked(endpoint: InferenceEndpoint) -> tuple[str, str]:
    """(provider, endpoint_type), refused as ES refuses them: a task type the provider does not serve,
    or a `realtime` endpoint for anything but completion."""
    provider = fields.require(endpoint, "provider", "Provider")
    endpoint_type = fields.require(endpoint, "endpoint_type", "Endpoint Type")
    task = endpoint.task_type
    if task not in CAPABILITIES.get(provider, frozenset()):
        raise fields.invalid(
            "provider", "Provider", f"The [{task.value}] task type for provider [{provider}] is not available"
        )
    if endpoint_type == "realtime" and task is not TaskType.COMPLETION:
        raise fields.invalid(
            "endpoint_type",
            "Endpoint Type",
            f"The [{endpoint_type}] endpoint type with [{task.value}] task type for provider [{provider}] "
            "is not available",
        )
    return provider, endpoint_type


def _url(endpoint: InferenceEndpoint) -> str:
    """The target itself for `openai` and `realtime` deployments, else the target plus the task's path."""
    provider, endpoint_type = _checked(endpoint)
    target = fields.require(endpoint, "target", "Target")
    if endpoint.task_type is TaskType.RERANK:
        return target.rstrip("/") + "/v1/rerank"
    if provider == "openai" or endpoint_type == "realtime":
        return target
    return target.rstrip("/") + _PATHS[endpoint.task_type]


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [_url(endpoint)]


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    """`api-key` (openai), `Authorization: Bearer` (realtime) or the raw key in `Authorization` (token)."""
    provider, endpoint_type = _checked(endpoint)
    key = fields.require(endpoint, "api_key", "API Key", secret=True)
    if provider == "openai":
        auth = {"api-key": key}
    else:
        auth = {"Authorization": f"Bearer {key}" if endpoint_type == "realtime" else key}
    own = {k.lower() for k in auth} | {"authorization", "api-key"}
    return {**{k: v for k, v in endpoint.headers.items() if k.lower() not in own}, **auth}


async def _post(endpoint: InferenceEndpoint, body: Mapping[str, Any], ctx: CallContext) -> Any:
    return await ctx.send_json("POST", _url(endpoint), json=body, headers=_headers(endpoint))


def studio_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """Azure's `{"error":{"code","message"}}` (OpenAI's shape, read by the kit); an exhausted quota
    (Azure's 403 "Out of call volume quota", or a 429 naming a quota) is not worth retrying."""
    error = openai_kit.parse_error(status, headers, body)
    text = (error.provider_message or "").lower()
    if status in (403, 429) and "quota" in text and "rate limit" not in text:
        return error_for_status(
            status,
            error.provider_message,
            headers=headers,
            code=error.code,
            cls=RateLimitError,
            retryable=False,
        )
    return error


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """The input as one user message with the sampling `parameters`; OpenAI's answer (token) or
    `{"output": "..."}` (realtime)."""
    _, endpoint_type = _checked(endpoint)
    settings = endpoint.task_settings
    parameters = {
        k: settings[k] for k in ("temperature", "top_p", "do_sample") if settings.get(k) is not None
    }
    parameters["max_new_tokens"] = (
        request.max_tokens or settings.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS
    )
    message = {"content": request.input, "role": "user"}
    if endpoint_type == "realtime":
        answer = await _post(
            endpoint, {"input_data": {"input_string": [message], "parameters": parameters}}, ctx
        )
        output = answer.get("output") if isinstance(answer, Mapping) else None
        if not isinstance(output, str):
            raise InvalidResponseError(f"{PROVIDER_ID}: the realtime answer has no `output` text")
        return [output]
    return openai_kit.completion_results(
        await _post(endpoint, {"messages": [message], "parameters": parameters}, ctx)
    )


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`{"input","user"?,"dimensions"?,"input_type"?}` -> OpenAI's `data[{index, embedding}]`."""
    body: dict[str, Any] = {"input": list(request.input)}
    if user := endpoint.task_settings.get("user"):
        body["user"] = user
    if endpoint.settings.get("dimensions") is not None:
        body["dimensions"] = endpoint.settings["dimensions"]
    if request.input_type in ("ingest", "search"):
        body["input_type"] = "document" if request.input_type == "ingest" else "query"
    return openai_kit.embedding_vectors(await _post(endpoint, body, ctx), len(request.input))


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """Cohere's rerank on Azure: `{"documents","query","return_documents","top_n"?}` ->
    `results[{index, relevance_score, document.text?}]`, best first."""
    settings = endpoint.task_settings
    top_n = request.top_n if request.top_n is not None else settings.get("top_n")
    documents = (
        request.return_documents if settings.get("return_documents") is None else settings["return_documents"]
    )
    body: dict[str, Any] = {
        "documents": list(request.input),
        "query": request.query,
        "return_documents": documents,
    }
    if top_n is not None:
        body["top_n"] = top_n
    answer = await _post(endpoint, body, ctx)
    try:
        results = [
            RerankResult(
                index=int(item["index"]),
                score=float(item["relevance_score"]),
                text=(item.get("document") or {}).get("text") if documents else None,
            )
            for item in answer["results"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidResponseError(
            f"{PROVIDER_ID}: the rerank answer has no results[].relevance_score"
        ) from None
    results.sort(key=lambda r: r.score, reverse=True)
    return results if top_n is None else results[:top_n]


async def on_save(endpoint: InferenceEndpoint, ctx: CallContext, is_update: bool) -> None:
    """Refuse a provider / endpoint type / task type that ES refuses, when the connector is saved."""
    _checked(endpoint)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Azure AI Studio",
    task_types=frozenset(TASK_TYPES),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas=TASK_SETTINGS,
    parse_error=studio_error,
    completion=completion,
    text_embedding=text_embedding,
    rerank=rerank,
    urls=_urls,
    on_save=on_save,
    default_requests_per_minute=dict.fromkeys(TASK_TYPES, 240),
    description="Models deployed from Azure AI Studio / AI Foundry (serverless or managed endpoints).",
    docs_url="https://learn.microsoft.com/azure/ai-studio/",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Azure AI Studio provider."""
    return [PROVIDER]
