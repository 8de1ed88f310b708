"""A wire-exact fake of a vLLM model server on OpenShift AI: OpenAI's chat and embeddings at
`/v1/...` (the OpenAI kit's fake) with vLLM's error bodies (`{"object": "error", ...}`, code a
number), and the Cohere/Jina-style `/v1/rerank`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, error_answer

__all__ = [
    "CHAT_MODEL",
    "EMBEDDING_MODEL",
    "ERRORS",
    "FAKE",
    "RERANK_MODEL",
    "connector",
    "error_answer",
    "serve_chat",
]

CHAT_MODEL = "llama-31-8b-instruct"
EMBEDDING_MODEL = "gritlm-7b"
RERANK_MODEL = "bge-reranker-v2-m3"
PATHS = {"text_embedding": "/v1/embeddings", "rerank": "/v1/rerank"}


def _vllm(status: int, message: str, kind: str) -> tuple[int, dict[str, Any]]:
    return status, {"object": "error", "message": message, "type": kind, "param": None, "code": status}


ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (401, {"error": "Unauthorized"}),
    "model_not_found": _vllm(404, "The model `x` does not exist.", "NotFoundError"),
    "rate_limit": _vllm(429, "Too many requests", "TooManyRequestsError"),
    "server_error": _vllm(500, "EngineCore encountered an issue.", "InternalServerError"),
}


def install(server: FakeServer, api_key: str = DEFAULT_KEY) -> OpenAIFake:
    """OpenAI's chat and embeddings, and `/v1/rerank`."""
    fake = OpenAIFake(server, api_key=api_key, models=(CHAT_MODEL, EMBEDDING_MODEL), errors=ERRORS).install()

    def rerank(request: RecordedRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return error_answer(ERRORS, "credentials")
        body = request.json()
        if body.get("model", RERANK_MODEL) != RERANK_MODEL:
            return error_answer(ERRORS, "model_not_found")
        docs = body.get("documents") or []
        results = [
            {"index": i, "document": {"text": d}, "relevance_score": round(0.9 / (i + 1), 4)}
            for i, d in enumerate(docs)
        ][: body.get("top_n") or None]
        usage = {"total_tokens": 8 * len(docs)}
        return FakeResponse.json(
            {"id": "rerank-7f1c", "model": RERANK_MODEL, "usage": usage, "results": results}
        )

    server.add("POST", "/v1/rerank", rerank)
    return fake


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of an OpenShift AI connector aimed at the fake at `base_url`."""
    model = {"text_embedding": EMBEDDING_MODEL, "rerank": RERANK_MODEL}.get(task_type, CHAT_MODEL)
    url = base_url.rstrip("/") + PATHS.get(task_type, "/v1/chat/completions")
    return {"model_id": model, "url": url}, {"api_key": secret}


def serve_chat(
    server: FakeServer, pieces: Sequence[str], *, prompt_tokens: int = 5, completion_tokens: int = 7
) -> None:
    """Answer `POST /v1/chat/completions` with `pieces`."""
    OpenAIFake(server).serve(
        "/v1/chat/completions", pieces, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


FAKE = fake_class("openshift_ai", install=install, connector=connector, serve_chat=serve_chat)
