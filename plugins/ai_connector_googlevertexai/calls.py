"""Google Vertex AI calls: Gemini chat and completion (`generateContent`, `streamGenerateContent`),
text embeddings (`:predict`), rerank (Discovery Engine ranking API) and the *Save & test* routine."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    RerankRequest,
    RerankResult,
    TaskType,
    TestResult,
    fields,
    run_test,
)
from ai_connector_gemini import (
    answer_chunks,
    chat_body,
    embedding_task_type,
    prompt_body,
    response_text,
    stream_chat,
)
from ai_connector_googlevertexai.auth import PROVIDER_ID, ServiceAccount, TokenCache, load_service_account

__all__ = [
    "DEFAULT_RERANK_MODEL",
    "DISCOVERY_ENGINE_URL",
    "PROVIDER_ID",
    "TOKENS",
    "chat_completion",
    "chat_completion_stream",
    "completion",
    "rerank",
    "test",
    "text_embedding",
    "urls",
]

DISCOVERY_ENGINE_URL = "https://discoveryengine.googleapis.com"
DEFAULT_RERANK_MODEL = "semantic-ranker-default@latest"
LOCATION_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
_LOCATION = re.compile(LOCATION_PATTERN)

TOKENS = TokenCache()
"""The process-wide access-token cache, shared by every Vertex AI connector."""


def _setting(endpoint: InferenceEndpoint, key: str, label: str) -> str:
    value = endpoint.settings.get(key)
    if not isinstance(value, str) or not value:
        raise fields.invalid(key, label, f"{label} is required", path=f"providerConfig.{key}")
    return value


def _location(endpoint: InferenceEndpoint) -> str:
    location = _setting(endpoint, "location", "GCP Region")
    # The region becomes part of a hostname: refuse anything that could steer the request elsewhere.
    if not _LOCATION.match(location):
        raise fields.invalid(
            "location",
            "GCP Region",
            "GCP Region must be a region name such as us-central1",
            path="providerConfig.location",
        )
    return location


def _aiplatform_base(endpoint: InferenceEndpoint, location: str) -> str:
    override = endpoint.settings.get("url")
    if override:
        return str(override).rstrip("/")
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def _model_url(endpoint: InferenceEndpoint, method: str, model: str | None = None) -> str:
    """`.../v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`."""
    location = _location(endpoint)
    project = _setting(endpoint, "project_id", "GCP Project")
    model = model or _setting(endpoint, "model_id", "Model ID")
    return (
        f"{_aiplatform_base(endpoint, location)}/v1/projects/{quote(project, safe='')}"
        f"/locations/{location}/publishers/google/models/{quote(model, safe='@')}:{method}"
    )


def _rank_url(endpoint: InferenceEndpoint) -> str:
    project = _setting(endpoint, "project_id", "GCP Project")
    base = str(endpoint.settings.get("url") or DISCOVERY_ENGINE_URL).rstrip("/")
    return (
        f"{base}/v1/projects/{quote(project, safe='')}/locations/global"
        "/rankingConfigs/default_ranking_config:rank"
    )


async def _headers(endpoint: InferenceEndpoint, account: ServiceAccount, ctx: CallContext) -> dict[str, str]:
    token = await TOKENS.token(account, ctx)
    return {**endpoint.headers, "authorization": f"Bearer {token}"}


async def _post(endpoint: InferenceEndpoint, url: str, body: Mapping[str, Any], ctx: CallContext) -> Any:
    account = load_service_account(endpoint.secrets)
    headers = await _headers(endpoint, account, ctx)
    try:
        return await ctx.send_json("POST", url, json=body, headers=headers)
    except AuthenticationError as exc:
        if exc.status == 401:  # the token was revoked or expired early: exchange again next time
            TOKENS.forget(account)
        raise


async def chat_completion(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> list[ChatChunk]:
    """The same Gemini chat turn unary (`generateContent`), as the chunks its stream would carry."""
    url = _model_url(endpoint, "generateContent", request.model)
    return answer_chunks(await _post(endpoint, url, chat_body(request), ctx))


async def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Stream a Gemini chat turn (`streamGenerateContent?alt=sse`) as unified chunks."""
    body = chat_body(request)
    url = _model_url(endpoint, "streamGenerateContent", request.model)
    account = load_service_account(endpoint.secrets)
    headers = await _headers(endpoint, account, ctx)
    try:
        async with contextlib.aclosing(stream_chat(ctx, url, body, headers=headers)) as chunks:
            async for chunk in chunks:  # closed with this generator: the request ends at once
                yield chunk
    except AuthenticationError as exc:
        if exc.status == 401:
            TOKENS.forget(account)
        raise


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """One `generateContent` turn for `input`; Kibana's `[{result}]` as a one-item list."""
    answer = await _post(endpoint, _model_url(endpoint, "generateContent"), prompt_body(request.input), ctx)
    return [response_text(answer)]


def _invalid(message: str) -> InvalidResponseError:
    return InvalidResponseError(f"{PROVIDER_ID}: {message}")


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """Dense embeddings from the publisher model's `:predict`, in input order."""
    task_type = embedding_task_type(request.input_type)
    instances: list[dict[str, str]] = []
    for text in request.input:
        instance = {"content": text}
        if task_type:
            instance["task_type"] = task_type
        instances.append(instance)
    answer = await _post(endpoint, _model_url(endpoint, "predict"), {"instances": instances}, ctx)
    predictions = answer.get("predictions") if isinstance(answer, Mapping) else None
    if not isinstance(predictions, list) or len(predictions) != len(instances):
        raise _invalid("the answer has no prediction for each input")
    try:
        return [[float(v) for v in p["embeddings"]["values"]] for p in predictions]
    except (TypeError, KeyError, ValueError):
        raise _invalid("a prediction has no embeddings.values list of numbers") from None


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """Rank the inputs against the query with the Discovery Engine ranking API, best first."""
    body: dict[str, Any] = {
        "model": endpoint.settings.get("model_id") or DEFAULT_RERANK_MODEL,
        "query": request.query,
        "records": [{"id": str(i), "content": text} for i, text in enumerate(request.input)],
    }
    if request.top_n is not None:
        body["topN"] = request.top_n
    if not request.return_documents:
        body["ignoreRecordDetailsInResponse"] = True
    answer = await _post(endpoint, _rank_url(endpoint), body, ctx)
    records = answer.get("records", []) if isinstance(answer, Mapping) else None
    if not isinstance(records, list):
        raise _invalid("the answer has no records list")
    results: list[RerankResult] = []
    try:
        for record in records:
            index = int(record["id"])
            if not 0 <= index < len(request.input):
                raise ValueError(index)
            results.append(
                RerankResult(
                    index=index,
                    score=float(record.get("score", 0.0)),  # proto3 JSON omits a 0 score
                    text=request.input[index] if request.return_documents else None,
                )
            )
    except (TypeError, KeyError, ValueError):
        raise _invalid("a ranked record has no valid id or score") from None
    return results


async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
    """Kibana's *Save & test*: the cheapest real call for the task type.

    Chat and completion send a one-token `generateContent` ("Hello world", maxOutputTokens 1): unlike
    the free `countTokens`, it proves the model serves generation, along with the token, project and
    region. Embeddings embed "Hello world"; rerank ranks two records.
    """
    task = endpoint.task_type

    async def call() -> None:
        if task in (TaskType.CHAT_COMPLETION, TaskType.COMPLETION):
            body = prompt_body("Hello world", max_output_tokens=1)
            await _post(endpoint, _model_url(endpoint, "generateContent"), body, ctx)
        elif task is TaskType.TEXT_EMBEDDING:
            await text_embedding(endpoint, EmbeddingRequest(input=("Hello world",), input_type="ingest"), ctx)
        else:
            await rerank(
                endpoint, RerankRequest(query="star wars main character", input=("luke", "leia")), ctx
            )

    return await run_test(call)


def urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> Sequence[str]:
    """The URLs a connector calls: its Vertex AI (or Discovery Engine) endpoint and the token endpoint
    named by its service-account key."""
    out: list[str] = []
    try:
        if endpoint.task_type is TaskType.RERANK:
            out.append(_rank_url(endpoint))
        else:
            method = "predict" if endpoint.task_type is TaskType.TEXT_EMBEDDING else "generateContent"
            out.append(_model_url(endpoint, method))
    except ConfigValidationError:
        pass  # the validator reports the missing or bad setting itself
    with contextlib.suppress(AuthenticationError):
        out.append(load_service_account(endpoint.secrets).token_uri)
    return out
