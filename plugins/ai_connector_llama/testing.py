"""A wire-exact fake of a Llama Stack server: OpenAI's chat at `/v1/openai/v1/chat/completions` (the
OpenAI kit's fake) and Llama Stack's own embeddings at `/v1/inference/embeddings`
(`{"model_id", "contents"}` -> `{"embeddings": [[...]]}`), with FastAPI-style error bodies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, error_answer

__all__ = ["CHAT_MODEL", "EMBEDDING_MODEL", "ERRORS", "FAKE", "connector", "error_answer", "serve_chat"]

CHAT_MODEL = "llama3.2:3b"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
CHAT_PATH = "/v1/openai/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/inference/embeddings"
ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (401, {"detail": "Invalid or missing Authorization header"}),
    "model_not_found": (
        404,
        {"detail": "Model 'x' not found. Use client.models.list() to list available models."},
    ),
    "rate_limit": (429, {"detail": "Too Many Requests"}),
    "server_error": (500, {"detail": "Internal server error: An unexpected error occurred."}),
}


def _fake(server: FakeServer, api_key: str = DEFAULT_KEY) -> OpenAIFake:
    return OpenAIFake(
        server, api_key=api_key, models=(CHAT_MODEL, EMBEDDING_MODEL), prefix="/v1/openai/v1", errors=ERRORS
    )


def install(server: FakeServer, api_key: str = DEFAULT_KEY) -> OpenAIFake:
    """OpenAI's chat, and the native embeddings route."""
    fake = _fake(server, api_key).install()

    def embeddings(request: RecordedRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return error_answer(ERRORS, "credentials")
        body = request.json()
        if body.get("model_id") != EMBEDDING_MODEL:
            return error_answer(ERRORS, "model_not_found")
        contents = body.get("contents") or []
        return FakeResponse.json({"embeddings": [[0.1 * (i + 1), 0.2, -0.3] for i in range(len(contents))]})

    server.add("POST", EMBEDDINGS_PATH, embeddings)
    return fake


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a Llama connector aimed at the fake at `base_url`."""
    base = base_url.rstrip("/")
    if task_type == "text_embedding":
        return {"model_id": EMBEDDING_MODEL, "url": base + EMBEDDINGS_PATH}, {"api_key": secret}
    return {"model_id": CHAT_MODEL, "url": base + CHAT_PATH}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /v1/openai/v1/chat/completions` with `pieces`."""
    _fake(server).serve(CHAT_PATH, pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


FAKE = fake_class("llama", install=install, connector=connector, serve_chat=serve_chat)
