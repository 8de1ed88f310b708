"""The Anthropic provider (`anthropic`): completion (ES's task type) and streamed chat completion.

Settings mirror Elasticsearch's `anthropic` service (`GET _inference/_services`); Kibana puts
`max_tokens` in the task settings, next to ES's `temperature`, `top_p` and `top_k`. Both task types
call `POST /v1/messages`: completion reads one Message, chat streams Anthropic's SSE events and
translates them into unified chunks (see `wire.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    InferenceEndpoint,
    InvalidRequestError,
    Provider,
    TaskType,
    fields,
    hookimpl,
)
from ai_connector_anthropic.wire import (
    API_VERSION,
    DEFAULT_MAX_TOKENS,
    PROVIDER_ID,
    error_from_response,
    message_chunks,
    message_text,
    messages_body,
    translate_stream,
)

__all__ = ["DEFAULT_URL", "PROVIDER", "ai_connector_providers", "messages_url"]

DEFAULT_URL = "https://api.anthropic.com"

# Field texts are ES's (AnthropicService configuration and its testGetConfiguration JSON).
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model_id": fields.model_id(),
        "rate_limit": fields.rate_limit(
            "By default, the anthropic service sets the number of requests allowed per minute to 50."
        ),
        "url": {
            "type": "string",
            "title": "URL",
            "description": "Overrides the Anthropic API base URL, for private endpoints, proxies and tests.",
            "format": "uri",
            "default": DEFAULT_URL,
        },
    },
    "required": ["model_id"],
    "additionalProperties": False,
}

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"api_key": fields.api_key()},
    "required": ["api_key"],
    "additionalProperties": False,
}

# ES's AnthropicTaskSettings; max_tokens is optional here because the call falls back to 1024.
TASK_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_tokens": {
            "type": "integer",
            "title": "Max Tokens",
            "description": "The maximum number of tokens to generate before stopping.",
            "minimum": 1,
            "default": DEFAULT_MAX_TOKENS,
        },
        "temperature": {
            "type": "number",
            "title": "Temperature",
            "description": "The amount of randomness injected into the response. For more details "
            "about the supported range, refer to Anthropic documentation.",
            "minimum": 0,
            "maximum": 1,
        },
        "top_p": {
            "type": "number",
            "title": "Top P",
            "description": "Specifies to use Anthropic's nucleus sampling. You should either alter "
            "temperature or top_p, but not both.",
            "minimum": 0,
            "maximum": 1,
        },
        "top_k": {
            "type": "integer",
            "title": "Top K",
            "description": "Specifies to only sample from the top K options for each subsequent token. "
            "It is recommended for advanced use cases only.",
            "minimum": 1,
        },
    },
    "additionalProperties": False,
}


def messages_url(endpoint: InferenceEndpoint) -> str:
    """`{url}/v1/messages`; a `url` that already ends in `/v1` or `/v1/messages` is not doubled."""
    base = (endpoint.settings.get("url") or DEFAULT_URL).rstrip("/")
    if base.endswith("/v1/messages"):
        return base
    if base.endswith("/v1"):
        return base + "/messages"
    return base + "/v1/messages"


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [messages_url(endpoint)]


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    """The connector's custom headers, then Anthropic's key and version headers (which win)."""
    key = endpoint.secrets.get("api_key")
    if not key:
        raise AuthenticationError(f"{PROVIDER_ID}: no API key is configured (secret api_key)")
    own = {"x-api-key", "anthropic-version", "authorization"}
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() not in own}
    headers["x-api-key"] = key
    headers["anthropic-version"] = API_VERSION
    return headers


def _model(endpoint: InferenceEndpoint) -> str:
    model: str | None = endpoint.settings.get("model_id")
    if not model:
        raise InvalidRequestError(f"{PROVIDER_ID}: no model is configured (setting model_id)")
    return model


def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Stream a chat completion from `POST /v1/messages` (`stream: true`) as unified chunks."""
    body = messages_body(request, model=_model(endpoint), task_settings=endpoint.task_settings, stream=True)
    headers = {**_headers(endpoint), "accept": "text/event-stream"}
    return _stream(ctx, messages_url(endpoint), body, headers)


async def _stream(
    ctx: CallContext, url: str, body: Mapping[str, Any], headers: Mapping[str, str]
) -> AsyncIterator[ChatChunk]:
    async with (
        ctx.open_sse("POST", url, json=body, headers=headers) as events,
        aclosing(translate_stream(events, redact=ctx.redact)) as chunks,
    ):
        async for chunk in chunks:  # closed with this generator, not later by the event loop
            yield chunk


async def chat_completion(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> list[ChatChunk]:
    """The same chat request without streaming: one Message, as the chunks its stream would carry."""
    body = messages_body(request, model=_model(endpoint), task_settings=endpoint.task_settings, stream=False)
    return message_chunks(
        await ctx.send_json("POST", messages_url(endpoint), json=body, headers=_headers(endpoint))
    )


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """ES's `completion` task: one user message, one non-streamed Message, its text as `[result]`."""
    chat = ChatRequest(messages=({"role": "user", "content": request.input},), max_tokens=request.max_tokens)
    body = messages_body(chat, model=_model(endpoint), task_settings=endpoint.task_settings, stream=False)
    return [
        message_text(
            await ctx.send_json("POST", messages_url(endpoint), json=body, headers=_headers(endpoint))
        )
    ]


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Anthropic",
    task_types=frozenset({TaskType.COMPLETION, TaskType.CHAT_COMPLETION}),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas={
        TaskType.COMPLETION: TASK_SETTINGS_SCHEMA,
        TaskType.CHAT_COMPLETION: TASK_SETTINGS_SCHEMA,
    },
    parse_error=error_from_response,
    chat_completion_stream=chat_completion_stream,
    chat_completion=chat_completion,
    completion=completion,
    urls=_urls,
    default_requests_per_minute={TaskType.COMPLETION: 50, TaskType.CHAT_COMPLETION: 50},
    description="Claude models through Anthropic's Messages API.",
    docs_url="https://docs.anthropic.com/en/api/messages",
    chat_options=frozenset({"user"}),  # sent as Anthropic's metadata.user_id (wire.py)
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Anthropic provider."""
    return [PROVIDER]
