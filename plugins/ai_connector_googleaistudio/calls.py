"""Google AI Studio (the Gemini Developer API) calls: completion (`generateContent`), text embeddings
(`batchEmbedContents`) and the *Save & test* routine. The API key travels only in `x-goog-api-key`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    TaskType,
    TestResult,
    run_test,
)
from ai_connector_gemini import embedding_task_type, prompt_body, response_text

__all__ = ["DEFAULT_URL", "PROVIDER_ID", "completion", "test", "text_embedding", "urls"]

PROVIDER_ID = "googleaistudio"
DEFAULT_URL = "https://generativelanguage.googleapis.com"


def _model(endpoint: InferenceEndpoint) -> str:
    model = str(endpoint.settings.get("model_id") or "")
    return model.removeprefix("models/")  # the API names models "models/{id}"; accept either form


def _url(endpoint: InferenceEndpoint, method: str) -> str:
    base = str(endpoint.settings.get("url") or DEFAULT_URL).rstrip("/")
    return f"{base}/v1beta/models/{quote(_model(endpoint), safe='')}:{method}"


def _headers(endpoint: InferenceEndpoint) -> dict[str, str]:
    key = endpoint.secrets.get("api_key")
    if not key:
        raise AuthenticationError(f"{PROVIDER_ID}: the API Key (api_key) is missing")
    return {**endpoint.headers, "x-goog-api-key": key}


async def _post(endpoint: InferenceEndpoint, method: str, body: Mapping[str, Any], ctx: CallContext) -> Any:
    return await ctx.send_json("POST", _url(endpoint, method), json=body, headers=_headers(endpoint))


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """One `generateContent` turn for `input`; Kibana's `[{result}]` as a one-item list."""
    answer = await _post(endpoint, "generateContent", prompt_body(request.input), ctx)
    return [response_text(answer)]


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """Dense embeddings for every input in one `batchEmbedContents` call, in input order."""
    model = f"models/{_model(endpoint)}"
    task_type = embedding_task_type(request.input_type)
    requests: list[dict[str, Any]] = []
    for text in request.input:
        item: dict[str, Any] = {"model": model, "content": {"parts": [{"text": text}]}}
        if task_type:
            item["taskType"] = task_type
        requests.append(item)
    answer = await _post(endpoint, "batchEmbedContents", {"requests": requests}, ctx)
    embeddings = answer.get("embeddings") if isinstance(answer, Mapping) else None
    if not isinstance(embeddings, list) or len(embeddings) != len(requests):
        raise InvalidResponseError(f"{PROVIDER_ID}: the answer has no embedding for each input")
    try:
        return [[float(v) for v in e["values"]] for e in embeddings]
    except (TypeError, KeyError, ValueError):
        raise InvalidResponseError(f"{PROVIDER_ID}: an embedding has no values list of numbers") from None


async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
    """Kibana's *Save & test*: a one-token `generateContent` ("Hello world", maxOutputTokens 1) for
    completion, which proves the key and the model (listing models would prove only the key); an
    embedding of "Hello world" for text_embedding."""

    async def call() -> None:
        if endpoint.task_type is TaskType.TEXT_EMBEDDING:
            await text_embedding(endpoint, EmbeddingRequest(input=("Hello world",), input_type="ingest"), ctx)
        else:
            await _post(endpoint, "generateContent", prompt_body("Hello world", max_output_tokens=1), ctx)

    return await run_test(call)


def urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> Sequence[str]:
    """The URL a connector calls for its task type."""
    method = "batchEmbedContents" if endpoint.task_type is TaskType.TEXT_EMBEDDING else "generateContent"
    return [_url(endpoint, method)]
