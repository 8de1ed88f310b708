"""The OpenAI provider (`openai`): chat completion (streamed), completion and text embedding.

Settings mirror Elasticsearch's `openai` service (`GET _inference/_services`). ES's `url` is the
full URL of the task's endpoint, not a base URL. Its default, `https://api.openai.com/v1/chat/completions`
(the schema default, as in ES and Kibana), stands for "OpenAI's own endpoint for this task": chat
and completion post to it, and text_embedding posts to `https://api.openai.com/v1/embeddings`, ES's
embeddings default. Any other `url` is used exactly as given, as ES does, so a proxy for embeddings
is configured with its `.../embeddings` URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

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

__all__ = ["DEFAULT_CHAT_URL", "DEFAULT_EMBEDDINGS_URL", "PROVIDER", "ai_connector_providers", "request_url"]

PROVIDER_ID = "openai"
DEFAULT_CHAT_URL = "https://api.openai.com/v1/chat/completions"
DEFAULT_EMBEDDINGS_URL = "https://api.openai.com/v1/embeddings"

# Field texts are ES's (OpenAiService.Configuration and its testGetConfiguration JSON).
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model_id": {
            "type": "string",
            "title": "Model ID",
            "description": "The name of the model to use for the inference task.",
            "x-updatable": False,
        },
        "organization_id": {
            "type": "string",
            "title": "Organization ID",
            "description": "The unique identifier of your organization.",
            "x-updatable": False,
        },
        "url": {
            "type": "string",
            "title": "URL",
            "description": "The absolute URL of the external service to send requests to.",
            "format": "uri",
            "default": DEFAULT_CHAT_URL,
            "x-updatable": False,
        },
        "dimensions": {
            "type": "integer",
            "title": "Dimensions",
            "description": "The number of dimensions the resulting embeddings should have. "
            "For more information refer to https://platform.openai.com/docs/api-reference/embeddings/create#embeddings-create-dimensions.",
            "minimum": 1,
            "x-updatable": False,
            "x-task-types": ["text_embedding"],
        },
        "rate_limit": rate_limit_field(
            "Default number of requests allowed per minute. "
            "For text_embedding is 3000. For completion is 500."
        ),
    },
    "required": ["model_id"],
    "additionalProperties": False,
}

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "title": "API Key",
            "description": "The OpenAI API authentication key. "
            "For more details about generating OpenAI API keys, refer to the https://platform.openai.com/account/api-keys.",
            "x-sensitive": True,
            "x-updatable": True,
        }
    },
    "required": ["api_key"],
    "additionalProperties": False,
}

# ES's OpenAI task settings: `user` for every task type.
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


def request_url(endpoint: InferenceEndpoint) -> str:
    """The URL this endpoint's task posts to (see the module docstring for the rule)."""
    url = endpoint.settings.get("url") or DEFAULT_CHAT_URL
    if endpoint.task_type is TaskType.TEXT_EMBEDDING and url == DEFAULT_CHAT_URL:
        return DEFAULT_EMBEDDINGS_URL
    return url


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [request_url(endpoint)]


def _missing_key() -> ConfigValidationError:
    return ConfigValidationError(
        [FieldError("secrets.providerSecrets.api_key", "api_key", "API Key", "API Key is required")]
    )


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    """The connector's custom headers, then OpenAI's auth and organization headers (which win)."""
    key = endpoint.secrets.get("api_key")
    if not key:
        raise _missing_key()
    own = {"authorization", "openai-organization"}
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() not in own}
    headers["Authorization"] = f"Bearer {key}"
    org = endpoint.settings.get("organization_id")
    if org:
        headers["OpenAI-Organization"] = org
    return headers


def _model(endpoint: InferenceEndpoint, override: str | None = None) -> str:
    model = override or endpoint.settings.get("model_id")
    if not model:
        raise ConfigValidationError(
            [FieldError("config.providerConfig.model_id", "model_id", "Model ID", "Model ID is required")]
        )
    return model


def _user(endpoint: InferenceEndpoint) -> str | None:
    return endpoint.task_settings.get("user") or None


def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Stream a chat completion from `POST .../chat/completions` (`stream: true`, usage included).

    Returns `stream_chat`'s generator itself (no generator around it, so closing it closes the
    request at once); settings it refuses raise here, before any request.
    """
    body = chat_request_to_openai(
        request, model=_model(endpoint, request.model), max_tokens_field="max_completion_tokens"
    )
    if "user" not in body and (user := _user(endpoint)):
        body["user"] = user
    return stream_chat(
        ctx, request_url(endpoint), body=body, headers=_headers(endpoint), provider=PROVIDER_ID
    )


async def _complete(
    endpoint: InferenceEndpoint, text: str, ctx: CallContext, *, max_tokens: int | None = None
) -> list[str]:
    body: dict[str, Any] = {
        "model": _model(endpoint),
        "messages": [{"role": "user", "content": text}],
        "n": 1,
    }
    if max_tokens is not None:
        body["max_completion_tokens"] = max_tokens
    if user := _user(endpoint):
        body["user"] = user
    answer = await post_json(
        ctx, request_url(endpoint), body=body, headers=_headers(endpoint), provider=PROVIDER_ID
    )
    return completion_results(answer, provider=PROVIDER_ID)


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """ES's `completion`: one non-streaming chat call with the input as the user message."""
    return await _complete(endpoint, request.input, ctx)


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """Embed each input with `POST .../embeddings`; `dimensions` and `user` as the connector sets them."""
    inputs = list(request.input)
    body: dict[str, Any] = {"model": _model(endpoint), "input": inputs}
    if endpoint.settings.get("dimensions") is not None:
        body["dimensions"] = endpoint.settings["dimensions"]
    if user := _user(endpoint):
        body["user"] = user
    answer = await post_json(
        ctx, request_url(endpoint), body=body, headers=_headers(endpoint), provider=PROVIDER_ID
    )
    return embedding_vectors(answer, len(inputs), provider=PROVIDER_ID)


async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
    """Save & test: a 1-token "Hello world" chat, or one "Hello world" embedding, on the connector's
    model (`GET /models` alone would not prove the model id)."""
    return await hello_test(
        endpoint, ctx, chat=chat_completion_stream, complete=_complete, embed=text_embedding
    )


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="OpenAI",
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
    default_requests_per_minute={
        TaskType.TEXT_EMBEDDING: 3000,
        TaskType.COMPLETION: 500,
        TaskType.CHAT_COMPLETION: 500,
    },
    description="OpenAI's chat completions and embeddings API (api.openai.com or an OpenAI-compatible URL).",
    docs_url="https://platform.openai.com/docs/api-reference",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Register the OpenAI provider."""
    return [PROVIDER]
