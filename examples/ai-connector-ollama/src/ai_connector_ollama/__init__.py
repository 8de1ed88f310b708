"""Ollama (OpenAI-compatible API) as an ai-connector provider: an example third-party plugin."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    ChatRequest,
    InferenceEndpoint,
    InvalidResponseError,
    Provider,
    StreamInterruptedError,
    TaskType,
    TestResult,
    aiter_sse,
    chat_request_to_openai,
    chunk_from_openai,
    error_for_status,
    hookimpl,
    openai_error_fields,
    run_test,
)

DEFAULT_URL = "http://localhost:11434"

SETTINGS: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "model_id": {
            "type": "string",
            "title": "Model ID",
            "description": "The Ollama model, e.g. llama3.2.",
        },
        "url": {
            "type": "string",
            "title": "URL",
            "format": "uri",
            "default": DEFAULT_URL,
            "description": "Base URL of the Ollama server.",
        },
    },
    "required": ["model_id"],
    "additionalProperties": False,
}

AUTH: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": {
            "type": "string",
            "title": "API Key",
            "description": "Only for servers behind an authenticating proxy.",
            "x-sensitive": True,
            "x-updatable": True,
        }
    },
    "additionalProperties": False,
}


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    headers = dict(endpoint.headers)
    if "api_key" in endpoint.secrets:
        headers["authorization"] = f"Bearer {endpoint.secrets['api_key']}"
    return headers


def _url(endpoint: InferenceEndpoint) -> str:
    return (endpoint.settings.get("url") or DEFAULT_URL).rstrip("/") + "/v1/chat/completions"


async def chat(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Stream a chat completion as unified chunks."""
    body = chat_request_to_openai(request, model=endpoint.settings["model_id"])
    async with ctx.stream("POST", _url(endpoint), json=body, headers=_headers(endpoint)) as resp:
        if resp.status_code >= 400:
            message, code, _ = openai_error_fields(await ctx.read_error_body(resp))
            raise error_for_status(
                resp.status_code, message, provider="ollama", headers=resp.headers, code=code
            )
        async for event in aiter_sse(ctx.iter_bytes(resp)):
            if event.data == "[DONE]":
                return
            try:
                data = json.loads(event.data)
            except ValueError:
                raise InvalidResponseError(
                    "ollama sent a chunk that is not JSON", provider="ollama"
                ) from None
            if "error" in data:
                message, _, _ = openai_error_fields(event.data)
                raise StreamInterruptedError(
                    f"ollama: {message}", provider_message=message, provider="ollama"
                )
            chunk = chunk_from_openai(data)
            if chunk is not None:
                yield chunk
    raise StreamInterruptedError("ollama: the stream ended before [DONE]", provider="ollama")


async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
    """Save & test: a one-token "Hello world" chat proves the URL, the model and the key."""

    async def hello() -> None:
        request = ChatRequest(messages=({"role": "user", "content": "Hello world"},), max_tokens=1)
        async for _ in chat(endpoint, request, ctx):
            pass

    return await run_test(hello)


def urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> Sequence[str]:
    """The one URL a connector calls (for the host's allowedHosts check)."""
    return [_url(endpoint)]


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Ollama provider."""
    return [
        Provider(
            id="ollama",
            name="Ollama",
            task_types=frozenset({TaskType.CHAT_COMPLETION}),
            settings_schema=SETTINGS,
            auth_schema=AUTH,
            chat_completion_stream=chat,
            test=test,
            urls=urls,
            docs_url="https://github.com/ollama/ollama/blob/main/docs/openai.md",
        )
    ]
