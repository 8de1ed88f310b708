"""The Azure OpenAI provider (`azureopenai`): completion and text embedding as in Elasticsearch, plus
streamed chat completion (Azure's chat endpoint streams OpenAI's SSE).

Requests go to `https://{resource_name}.openai.azure.com/openai/deployments/{deployment_id}/
{chat/completions|embeddings}?api-version={api_version}`; the optional `url` setting replaces
`https://{resource_name}.openai.azure.com` (private endpoints, proxies, tests). Authentication is an
`api-key` header or an Entra ID token as `Authorization: Bearer`, exactly one of them, as ES requires.
The wire format is OpenAI's, parsed by the OpenAI plugin's `wire` module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    FieldError,
    InferenceEndpoint,
    Provider,
    TaskType,
    TestResult,
    chat_request_to_openai,
    hookimpl,
    rate_limit_field,
)
from ai_connector_openai.wire import (
    completion_results,
    embedding_vectors,
    hello_test,
    post_json,
    stream_chat,
)

__all__ = ["PROVIDER", "ai_connector_providers", "request_url"]

PROVIDER_ID = "azureopenai"
_PATHS: Mapping[TaskType, str] = {
    TaskType.CHAT_COMPLETION: "chat/completions",
    TaskType.COMPLETION: "chat/completions",
    TaskType.TEXT_EMBEDDING: "embeddings",
}
# `stream_options` and `max_completion_tokens` arrived with api-version 2024-09-01-preview (GA in
# 2024-10-21); older versions refuse them as unrecognized arguments.
_NEWER_API_SINCE = "2024-09-01"

# Field texts are ES's (AzureOpenAiService configuration, AzureOpenAiServiceTests.testGetConfiguration).
_EITHER = "You must provide either an API key or an Entra ID."
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "resource_name": {
            "type": "string",
            "title": "Resource Name",
            "description": "The name of your Azure OpenAI resource.",
            # Azure resource (custom subdomain) names: letters, digits and hyphens; it becomes a hostname.
            "pattern": "^[A-Za-z0-9][A-Za-z0-9-]*$",
            "x-updatable": False,
        },
        "deployment_id": {
            "type": "string",
            "title": "Deployment ID",
            "description": "The deployment name of your deployed models.",
            "minLength": 1,
            "x-updatable": False,
        },
        "api_version": {
            "type": "string",
            "title": "API Version",
            "description": "The Azure API version ID to use.",
            "minLength": 1,
            "x-updatable": False,
        },
        "dimensions": {
            "type": "integer",
            "title": "Dimensions",
            "description": "The number of dimensions the resulting embeddings should have. For more "
            "information refer to https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#request-body-1.",
            "minimum": 1,
            "x-updatable": False,
            "x-task-types": ["text_embedding"],
        },
        "rate_limit": rate_limit_field(
            "The azureopenai service sets a default number of requests allowed per "
            "minute depending on the task type."
        ),
        "url": {
            "type": "string",
            "title": "URL",
            "description": "Overrides the service's base URL, https://{resource_name}.openai.azure.com, "
            "for private endpoints, proxies and tests.",
            "format": "uri",
            "x-updatable": False,
        },
    },
    "required": ["resource_name", "deployment_id", "api_version"],
    "additionalProperties": False,
}

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "title": "API Key",
            "description": _EITHER,
            "x-sensitive": True,
            "x-updatable": True,
        },
        "entra_id": {
            "type": "string",
            "title": "Entra ID",
            "description": _EITHER,
            "x-sensitive": True,
            "x-updatable": True,
        },
    },
    "oneOf": [{"required": ["api_key"]}, {"required": ["entra_id"]}],
    "additionalProperties": False,
}

# ES's Azure OpenAI task settings: `user` for every task type.
_USER_TASK_SETTINGS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user": {
            "type": "string",
            "title": "User",
            "description": "Specifies the user issuing the request.",
        }
    },
    "additionalProperties": False,
}


def _setting(endpoint: InferenceEndpoint, key: str, label: str) -> str:
    value = endpoint.settings.get(key)
    if not value:
        raise ConfigValidationError(
            [FieldError(f"config.providerConfig.{key}", key, label, f"{label} is required")]
        )
    return str(value)


def request_url(endpoint: InferenceEndpoint) -> str:
    """The deployment URL of this endpoint's task, without the `api-version` query."""
    base = endpoint.settings.get("url")
    if not base:
        base = f"https://{_setting(endpoint, 'resource_name', 'Resource Name')}.openai.azure.com"
    deployment = quote(_setting(endpoint, "deployment_id", "Deployment ID"), safe="")
    return f"{base.rstrip('/')}/openai/deployments/{deployment}/{_PATHS[endpoint.task_type]}"


def _params(endpoint: InferenceEndpoint) -> dict[str, str]:
    return {"api-version": _setting(endpoint, "api_version", "API Version")}


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [f"{request_url(endpoint)}?{urlencode(_params(endpoint))}"]


def _newer_api(endpoint: InferenceEndpoint) -> bool:
    """Whether the api-version knows `stream_options` and `max_completion_tokens`; a version that is
    not a date (`preview`, `latest`) is a current surface."""
    version = _setting(endpoint, "api_version", "API Version")
    return not version[:1].isdigit() or version[:10] >= _NEWER_API_SINCE


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    """The connector's custom headers, then exactly one of `api-key` or the Entra ID bearer token."""
    key = endpoint.secrets.get("api_key")
    token = endpoint.secrets.get("entra_id")
    if key and token:
        reason = "Provide only one of API Key or Entra ID, not both"
    elif not key and not token:
        reason = _EITHER
    else:
        reason = None
    if reason is not None:
        raise ConfigValidationError([FieldError("secrets.providerSecrets", "api_key", "API Key", reason)])
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() not in ("api-key", "authorization")}
    if key:
        headers["api-key"] = key
    else:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _user(endpoint: InferenceEndpoint) -> str | None:
    return endpoint.task_settings.get("user") or None


def _max_tokens_field(endpoint: InferenceEndpoint) -> str:
    return "max_completion_tokens" if _newer_api(endpoint) else "max_tokens"


def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Stream a chat completion from the deployment's `chat/completions`; usage is asked for when the
    api-version knows `stream_options`. Returns `stream_chat`'s generator itself (closing it closes
    the request at once); settings it refuses raise here, before any request."""
    body = chat_request_to_openai(request, max_tokens_field=_max_tokens_field(endpoint))
    body.pop("model", None)  # the deployment in the URL chooses the model
    if not _newer_api(endpoint):
        body.pop("stream_options", None)
    if "user" not in body and (user := _user(endpoint)):
        body["user"] = user
    return stream_chat(
        ctx,
        request_url(endpoint),
        body=body,
        headers=_headers(endpoint),
        params=_params(endpoint),
        provider=PROVIDER_ID,
    )


async def _complete(
    endpoint: InferenceEndpoint, text: str, ctx: CallContext, *, max_tokens: int | None = None
) -> list[str]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": text}], "n": 1}
    if max_tokens is not None:
        body[_max_tokens_field(endpoint)] = max_tokens
    if user := _user(endpoint):
        body["user"] = user
    answer = await post_json(
        ctx,
        request_url(endpoint),
        body=body,
        headers=_headers(endpoint),
        params=_params(endpoint),
        provider=PROVIDER_ID,
    )
    return completion_results(answer, provider=PROVIDER_ID)


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """ES's `completion`: one non-streaming chat call on the deployment with the input as the user message."""
    return await _complete(endpoint, request.input, ctx)


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """Embed each input with the deployment's `embeddings`; `dimensions` and `user` as the connector
    sets them."""
    inputs = list(request.input)
    body: dict[str, Any] = {"input": inputs}
    if endpoint.settings.get("dimensions") is not None:
        body["dimensions"] = endpoint.settings["dimensions"]
    if user := _user(endpoint):
        body["user"] = user
    answer = await post_json(
        ctx,
        request_url(endpoint),
        body=body,
        headers=_headers(endpoint),
        params=_params(endpoint),
        provider=PROVIDER_ID,
    )
    return embedding_vectors(answer, len(inputs), provider=PROVIDER_ID)


async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
    """Save & test: a 1-token "Hello world" chat, or one "Hello world" embedding, on the deployment,
    which proves key or token, resource, deployment and api-version together."""
    return await hello_test(
        endpoint, ctx, chat=chat_completion_stream, complete=_complete, embed=text_embedding
    )


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Azure OpenAI",
    task_types=frozenset({TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas={
        TaskType.CHAT_COMPLETION: _USER_TASK_SETTINGS,
        TaskType.COMPLETION: _USER_TASK_SETTINGS,
        TaskType.TEXT_EMBEDDING: _USER_TASK_SETTINGS,
    },
    test=test,
    chat_completion_stream=chat_completion_stream,
    completion=completion,
    text_embedding=text_embedding,
    urls=_urls,
    # ES's defaults: 1440 for embeddings (240K TPM), 120 for chat completions (20K TPM).
    default_requests_per_minute={
        TaskType.TEXT_EMBEDDING: 1440,
        TaskType.COMPLETION: 120,
        TaskType.CHAT_COMPLETION: 120,
    },
    description="Azure OpenAI Service deployments (chat completions and embeddings).",
    docs_url="https://learn.microsoft.com/en-us/azure/ai-services/openai/reference",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the Azure OpenAI provider."""
    return [PROVIDER]
