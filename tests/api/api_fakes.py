"""A fake provider registered directly (no entry point) and the FakeServer routes it talks to, so the
API tests do not depend on the real provider plugins."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ai_connector.plugin import (
    ChatChunk,
    InferenceEndpoint,
    Provider,
    TaskType,
    Usage,
    error_for_status,
    hookimpl,
)
from ai_connector.routines import default_test
from ai_connector.sse import aiter_sse
from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from canaries import canary_secret

CANARY = canary_secret("api")  # a secret value: no response body, audit line or log may hold it

SETTINGS = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "title": "URL", "format": "uri", "description": "The service's base URL."},
        "model_id": {"type": "string", "title": "Model ID", "description": "The model to use."},
        "dimensions": {"type": "integer", "title": "Dimensions", "x-task-types": ["text_embedding"]},
    },
    "required": ["url", "model_id"],
    "additionalProperties": False,
}
AUTH = {
    "type": "object",
    "properties": {
        "api_key": {"type": "string", "title": "API Key", "x-sensitive": True, "x-updatable": True},
    },
    "required": ["api_key"],
    "additionalProperties": False,
}


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    return {"authorization": f"Bearer {endpoint.secrets['api_key']}"}


async def chat(endpoint: InferenceEndpoint, request: Any, ctx: Any):
    url = endpoint.settings["url"].rstrip("/") + "/chat"
    body = {"model": endpoint.settings["model_id"], "messages": list(request.messages), "stream": True}
    async with ctx.stream("POST", url, json=body, headers=_headers(endpoint)) as resp:
        if resp.status_code >= 400:
            raw = await ctx.read_error_body(resp)
            raise error_for_status(resp.status_code, raw.decode(errors="replace"), provider="fake")
        yield ChatChunk(role="assistant")
        async for event in aiter_sse(ctx.iter_bytes(resp)):
            if event.data == "[DONE]":
                break
            data = json.loads(event.data)
            if "error" in data:
                from ai_connector.errors import StreamInterruptedError

                raise StreamInterruptedError(f"fake: {data['error']}", provider="fake")
            yield ChatChunk(content=data["text"])
        yield ChatChunk(finish_reason="stop")
        yield ChatChunk(usage=Usage(prompt_tokens=3, completion_tokens=2))


async def embed(endpoint: InferenceEndpoint, request: Any, ctx: Any) -> list[list[float]]:
    url = endpoint.settings["url"].rstrip("/") + "/embed"
    resp = await ctx.request("POST", url, json={"input": list(request.input)}, headers=_headers(endpoint))
    if resp.status_code >= 400:
        raise error_for_status(resp.status_code, resp.text, provider="fake")
    return resp.json()["data"]


def _urls(endpoint: InferenceEndpoint, host_settings: Any) -> Sequence[str]:
    return [endpoint.settings["url"]]


PROVIDER = Provider(
    id="fake",
    name="Fake LLM",
    task_types=frozenset({TaskType.CHAT_COMPLETION, TaskType.TEXT_EMBEDDING}),
    settings_schema=SETTINGS,
    auth_schema=AUTH,
    chat_completion_stream=chat,
    text_embedding=embed,
    test=default_test({TaskType.CHAT_COMPLETION: chat, TaskType.TEXT_EMBEDDING: embed}),
    urls=_urls,
)


class FakePlugin:
    """The plugin object registered with `load_registry(plugins=[("fake", FakePlugin())])`."""

    @hookimpl
    def ai_connector_providers(self):
        yield PROVIDER


def sse_events(pieces: Sequence[str], *, done: bool = True) -> list[str]:
    out = [f"data: {json.dumps({'text': p})}\n\n" for p in pieces]
    if done:
        out.append("data: [DONE]\n\n")
    return out


def install(server: FakeServer, *, pieces: Sequence[str] = ("Hello", " world"), key: str = CANARY) -> None:
    """Answer `/chat` (streamed) and `/embed` like a well-behaved service that checks the key."""

    def refused(request: RecordedRequest) -> FakeResponse | None:
        if request.headers.get("authorization") != f"Bearer {key}":
            return FakeResponse.json({"error": "invalid api key"}, 401)
        return None

    def on_chat(request: RecordedRequest) -> FakeResponse:
        return refused(request) or FakeResponse(chunks=sse_events(pieces), content_type="text/event-stream")

    def on_embed(request: RecordedRequest) -> FakeResponse:
        no = refused(request)
        if no is not None:
            return no
        inputs = request.json()["input"]
        return FakeResponse.json({"data": [[0.5, 0.25] for _ in inputs]})

    server.add("POST", "/chat", on_chat)
    server.add("POST", "/embed", on_embed)
