"""A wire-exact fake of Fireworks AI's inference API: OpenAI's embeddings at
`/inference/v1/embeddings` (the OpenAI kit's fake) and its `/inference/v1/rerank`
(`results[{index, relevance_score, document}]`, the shape ES's FireworksAiRerankResponseEntity
reads), with Fireworks' error bodies."""

from __future__ import annotations

from typing import Any

from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest
from ai_connector.testing.fakes import DEFAULT_KEY, fake_class
from ai_connector_openai.testing import OpenAIFake, error_answer

__all__ = ["EMBEDDING_MODEL", "ERRORS", "FAKE", "RERANK_MODEL", "connector", "error_answer"]

EMBEDDING_MODEL = "nomic-ai/nomic-embed-text-v1.5"
RERANK_MODEL = "fireworks/qwen3-reranker-8b"
PREFIX = "/inference/v1"


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"object": "error", "type": kind, "message": message}}


ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": (401, _error("The API key you provided is invalid.", "unauthorized")),
    "model_not_found": (404, _error("Model not found, inaccessible, and/or not deployed", "not_found_error")),
    "rate_limit": (429, _error("Request rate limit exceeded, please try again later", "rate_limit_exceeded")),
    "server_error": (500, _error("Internal server error", "internal_server_error")),
}


def install(server: FakeServer, api_key: str = DEFAULT_KEY) -> OpenAIFake:
    """OpenAI's embeddings, and `/inference/v1/rerank`."""
    fake = OpenAIFake(
        server, api_key=api_key, models=(EMBEDDING_MODEL,), prefix=PREFIX, errors=ERRORS
    ).install()

    def rerank(request: RecordedRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return error_answer(ERRORS, "credentials")
        body = request.json()
        if body.get("model") != RERANK_MODEL:
            return error_answer(ERRORS, "model_not_found")
        docs = body.get("documents") or []
        keep = body.get("return_documents", True)
        data = [
            {"index": i, "relevance_score": round(0.95 - 0.3 * i, 4), **({"document": d} if keep else {})}
            for i, d in enumerate(docs)
        ][: body.get("top_n") or None]
        usage = {"prompt_tokens": 6 * len(docs), "total_tokens": 6 * len(docs), "completion_tokens": 0}
        return FakeResponse.json({"object": "list", "model": RERANK_MODEL, "results": data, "usage": usage})

    server.add("POST", f"{PREFIX}/rerank", rerank)
    return fake


def connector(
    base_url: str, task_type: str = "text_embedding", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of a FireworksAI connector aimed at the fake at `base_url`."""
    model = RERANK_MODEL if task_type == "rerank" else EMBEDDING_MODEL
    return {"model_id": model, "url": base_url.rstrip("/") + PREFIX}, {"api_key": secret}


FAKE = fake_class("fireworksai", install=install, connector=connector)
