"""A wire-exact fake of NVIDIA's API Catalog / NIM: OpenAI's chat and embeddings at `/v1/...` (the
OpenAI kit's fake; embeddings must carry `input_type`), NIM's reranking at
`/v1/retrieval/nvidia/reranking` (`rankings[].logit`), and NVIDIA's problem-details error bodies."""

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

CHAT_MODEL = "meta/llama-3.1-8b-instruct"
EMBEDDING_MODEL = "nvidia/nv-embedqa-e5-v5"
RERANK_MODEL = "nvidia/nv-rerankqa-mistral-4b-v3"
RERANK_PATH = "/v1/retrieval/nvidia/reranking"
PATHS = {"text_embedding": "/v1/embeddings", "rerank": RERANK_PATH}


def _problem(status: int, title: str, detail: str) -> tuple[int, dict[str, Any]]:
    return status, {"type": "about:blank", "status": status, "title": title, "detail": detail}


# NVIDIA's cloud functions answer errors as RFC 7807 problem details.
ERRORS: dict[str, tuple[int, Any]] = {
    "credentials": _problem(401, "Unauthorized", "Authentication failed"),
    "model_not_found": _problem(404, "Not Found", "Function 'x': Not found for account 'acct-0001'"),
    "rate_limit": _problem(429, "Too Many Requests", "Too many requests, please retry later"),
    "quota": _problem(402, "Payment Required", "Account 'acct-0001': Cloud credits expired"),
    "server_error": _problem(500, "Internal Server Error", "Inference error"),
}


def install(server: FakeServer, api_key: str = DEFAULT_KEY) -> OpenAIFake:
    """OpenAI's chat and embeddings (refusing embeddings without `input_type`), and reranking."""
    fake = OpenAIFake(server, api_key=api_key, models=(CHAT_MODEL, EMBEDDING_MODEL), errors=ERRORS).install()

    def embed(request: RecordedRequest) -> FakeResponse:
        if request.json().get("input_type") not in ("passage", "query"):
            return FakeResponse.json(
                {
                    "object": "error",
                    "message": "input_type parameter is required for asymmetric models",
                    "type": "invalid_request_error",
                },
                400,
            )
        return fake.embeddings(request)

    def rerank(request: RecordedRequest) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return error_answer(ERRORS, "credentials")
        body = request.json()
        if body.get("model") != RERANK_MODEL:
            return error_answer(ERRORS, "model_not_found")
        passages = body.get("passages") or []
        rankings = [{"index": i, "logit": round(2.5 - i * 1.25, 4)} for i in range(len(passages))]
        return FakeResponse.json({"rankings": sorted(rankings, key=lambda r: -r["logit"])})

    server.add("POST", "/v1/embeddings", embed)
    server.add("POST", RERANK_PATH, rerank)
    return fake


def connector(
    base_url: str, task_type: str = "chat_completion", *, secret: str = DEFAULT_KEY
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(providerConfig, providerSecrets) of an NVIDIA connector aimed at the fake at `base_url`."""
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


FAKE = fake_class("nvidia", install=install, connector=connector, serve_chat=serve_chat)
