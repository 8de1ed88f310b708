"""Shared pieces of the host tests: the fake provider, the fake service's answers and the
expected Kibana response shapes."""

from __future__ import annotations

from typing import Any

from ai_connector.plugin import (
    ChatChunk,
    InvalidRequestError,
    Provider,
    TaskType,
    Usage,
    error_for_status,
    hookimpl,
)
from ai_connector.routines import default_test
from ai_connector.testing.fakeserver import FakeResponse
from canaries import canary_secret

# A secret no response, log line, audit event or stored plaintext may ever contain.
CANARY = canary_secret("host")
KEY = "k" * 40  # an encryption key (>= 32 characters)
OTHER_KEY = "o" * 40

SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "title": "URL", "format": "uri"},
        "model_id": {"type": "string", "title": "Model ID"},
    },
    "required": ["url", "model_id"],
    "additionalProperties": False,
}
AUTH_SCHEMA = {
    "type": "object",
    "properties": {"api_key": {"type": "string", "title": "API Key", "x-sensitive": True}},
    "required": ["api_key"],
    "additionalProperties": False,
}


class FakePlugin:
    """One provider, `fake`: chat over POST {url}/chat, embeddings over POST {url}/embed."""

    def __init__(self) -> None:
        self.hook_calls: list[tuple[str, str | None, Any]] = []

    async def chat(self, endpoint, request, ctx):
        resp = await ctx.request(
            "POST",
            endpoint.settings["url"] + "/chat",
            headers={"authorization": f"Bearer {endpoint.secrets['api_key']}"},
            json={"model": endpoint.settings["model_id"], "messages": list(request.messages)},
        )
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, resp.text, provider="fake", headers=resp.headers)
        yield ChatChunk(role="assistant")
        for piece in resp.json()["pieces"]:
            yield ChatChunk(content=piece)
        yield ChatChunk(finish_reason="stop")
        yield ChatChunk(usage=Usage(prompt_tokens=3, completion_tokens=2))

    async def embed(self, endpoint, request, ctx):
        resp = await ctx.request(
            "POST",
            endpoint.settings["url"] + "/embed",
            headers={"authorization": f"Bearer {endpoint.secrets['api_key']}"},
            json={"input": list(request.input)},
        )
        if resp.status_code >= 400:
            raise error_for_status(resp.status_code, resp.text, provider="fake", headers=resp.headers)
        return resp.json()["vectors"]

    async def on_save(self, endpoint, ctx, is_update):
        self.hook_calls.append(("on_save", endpoint.connector_id, is_update))
        if endpoint.settings["model_id"] == "hook-fails":
            raise InvalidRequestError(
                f"Inference with id {endpoint.inference_id} and task type "
                f"{endpoint.task_type.value} already exists.",
                status=400,
                provider="fake",
            )

    async def on_delete(self, endpoint, ctx):
        self.hook_calls.append(("on_delete", endpoint.connector_id, None))
        if endpoint.settings["model_id"] == "delete-fails":
            raise RuntimeError(f"cannot delete, key {endpoint.secrets.get('api_key')}")

    @hookimpl
    def ai_connector_providers(self):
        yield Provider(
            id="fake",
            name="Fake Service",
            task_types={TaskType.CHAT_COMPLETION, TaskType.TEXT_EMBEDDING},
            settings_schema=SETTINGS_SCHEMA,
            auth_schema=AUTH_SCHEMA,
            chat_completion_stream=self.chat,
            text_embedding=self.embed,
            test=default_test({TaskType.CHAT_COMPLETION: self.chat, TaskType.TEXT_EMBEDDING: self.embed}),
            urls=lambda endpoint, host_settings: [endpoint.settings["url"]],
            on_save=self.on_save,
            on_delete=self.on_delete,
        )


def answer_chat(request: Any) -> FakeResponse:
    """The fake service: 401 echoing the key when it is wrong (as OpenAI does), else two pieces."""
    auth = request.headers.get("authorization", "")
    if auth != f"Bearer {CANARY}":
        key = auth.removeprefix("Bearer ")
        return FakeResponse.json({"error": {"message": f"Incorrect API key provided: {key}"}}, status=401)
    return FakeResponse.json({"pieces": ["Hello", " world"]})


def body(url: str, *, name: str = "My fake", task: str = "chat_completion", **config: Any) -> dict[str, Any]:
    """A Kibana create body for the fake provider."""
    return {
        "name": name,
        "connector_type_id": ".inference",
        "config": {
            "provider": "fake",
            "taskType": task,
            "inferenceId": config.pop("inferenceId", "fake-endpoint-1"),
            "providerConfig": {"url": url, "model_id": config.pop("model_id", "fake-model")},
            **config,
        },
        "secrets": {"providerSecrets": {"api_key": CANARY}},
    }


def connector_response(
    cid: str, name: str, config: dict[str, Any], *, missing: bool = False
) -> dict[str, Any]:
    """Kibana's connector object, whole (A3.1)."""
    return {
        "id": cid,
        "name": name,
        "config": config,
        "connector_type_id": ".inference",
        "is_preconfigured": False,
        "is_deprecated": False,
        "is_missing_secrets": missing,
        "is_system_action": False,
        "is_connector_type_deprecated": False,
    }


def stored_config(
    url: str,
    *,
    task: str = "chat_completion",
    inference_id: str = "fake-endpoint-1",
    model_id: str = "fake-model",
) -> dict[str, Any]:
    """The normalised config the service stores and returns for `body(url)`."""
    return {
        "provider": "fake",
        "taskType": task,
        "inferenceId": inference_id,
        "providerConfig": {"url": url, "model_id": model_id},
        "taskTypeConfig": {},
    }
