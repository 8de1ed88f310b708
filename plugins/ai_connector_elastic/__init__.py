"""The Elastic Inference Service provider (`elastic`): EIS models through an Elasticsearch
deployment's inference API (endpoints with `"service": "elastic"`).

As on Kibana's product page, an EIS connector needs no credentials of its own: the Elasticsearch
URL and API key are host configuration (`ctx.host_settings["url"]` / `["api_key"]`, filled from
`AI_CONNECTOR_ELASTICSEARCH_URL` / `AI_CONNECTOR_ELASTICSEARCH_API_KEY`), which a connector may
override with its `url` setting and `api_key` secret. Like Kibana's `.inference` connector the
connector owns its ES inference endpoint: `on_save` creates it (re-creates it on update) and
`on_delete` removes it, except for preconfigured EIS endpoints (ids starting with `.`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    Provider,
    ProviderError,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    StreamInterruptedError,
    TaskType,
    TestResult,
    fields,
    hookimpl,
    openai_kit,
    run_test,
)
from ai_connector_elastic.wire import (
    API_KEY_ENV,
    PROVIDER_ID,
    URL_ENV,
    es_error,
    es_headers,
    es_url,
    inference_url,
    parse_completion,
    parse_embeddings,
    parse_json,
    parse_rerank,
    parse_sparse,
    redactor_for,
)

__all__ = ["PROVIDER", "ai_connector_providers"]

# Field texts are ES's (ElasticInferenceServiceTests testGetConfiguration). ES's model_id lists
# every task type this provider offers, so it carries no x-task-types.
SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # Required to create an endpoint; a connector on a preconfigured one (Kibana's form sends only
        # provider, taskType and inferenceId) needs none.
        "model_id": {**fields.model_id(), "x-service-required": True},
        "max_input_tokens": {
            "type": "integer",
            "title": "Maximum Input Tokens",
            "description": "Allows you to specify the maximum number of tokens per input.",
            "minimum": 1,
            "x-updatable": False,
            "x-task-types": ["text_embedding", "sparse_embedding"],
        },
        "max_batch_size": {
            "type": "integer",
            "title": "Maximum Batch Size",
            "description": "Allows you to specify the maximum number of chunks per batch.",
            "minimum": 1,
            "x-updatable": True,
            "x-task-types": ["sparse_embedding"],
        },
        "url": {
            "type": "string",
            "title": "URL",
            "description": "Overrides the host's Elasticsearch URL (AI_CONNECTOR_ELASTICSEARCH_URL), for "
            "another deployment, proxies and tests.",
            "format": "uri",
        },
    },
    "additionalProperties": False,
}

# No credentials of its own (ES authenticates to EIS): an optional key overrides the host's.
AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "api_key": fields.api_key(
            "An Elasticsearch API key (the encoded value) that overrides the host's "
            "(AI_CONNECTOR_ELASTICSEARCH_API_KEY)."
        )
    },
    "additionalProperties": False,
}

# Settings of ours that are not ES service settings.
_LOCAL_SETTINGS = frozenset({"url"})
# Kibana's default test params (stack_connectors public/connector_types/inference/constants.tsx):
# ES runs them on the connector's own inference endpoint.
_SKY = "The sky above the port was the color of television tuned to a dead channel."
KIBANA_TEST_REQUESTS: Mapping[TaskType, Any] = {
    TaskType.CHAT_COMPLETION: ChatRequest(messages=({"role": "user", "content": "Hello world"},)),
    TaskType.COMPLETION: CompletionRequest(input="What is Elastic?"),
    TaskType.RERANK: RerankRequest(
        input=("luke", "like", "leia", "chewy", "r2d2", "star", "wars"), query="star wars main character"
    ),
    TaskType.SPARSE_EMBEDDING: SparseEmbeddingRequest(input=(_SKY,)),
    TaskType.TEXT_EMBEDDING: EmbeddingRequest(input=(_SKY,), input_type="ingest"),
}
# Kibana's performApiUnifiedCompletionStream asks ES to wait this long.
_STREAM_TIMEOUT = "180s"


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    base = endpoint.settings.get("url") or host_settings.get("url")
    if not base:
        return []  # the call itself explains what to configure
    return [inference_url(str(base).rstrip("/"), endpoint)]


def _is_preconfigured(endpoint: InferenceEndpoint) -> bool:
    """EIS's preconfigured endpoints (`.elser-2-elastic`, ...) belong to the deployment, not the connector."""
    return endpoint.inference_id.startswith(".")


async def _infer(endpoint: InferenceEndpoint, body: Mapping[str, Any], ctx: CallContext) -> Mapping[str, Any]:
    """`POST _inference/{task}/{id}` and the parsed JSON answer (an object)."""
    url = inference_url(es_url(endpoint, ctx.host_settings), endpoint)
    try:
        answer = await ctx.send_json("POST", url, json=body, headers=es_headers(endpoint, ctx))
    except ProviderError as exc:  # the host's own ES key is redacted too
        raise exc.redacted(redactor_for(endpoint, ctx)) from None
    if not isinstance(answer, Mapping):
        raise InvalidResponseError(f"{PROVIDER_ID}: the response is not a JSON object")
    return answer


def _stream_error(obj: Mapping[str, Any]) -> StreamInterruptedError:
    error = obj.get("error")
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("reason")
        code = error.get("code") or error.get("type")
    else:
        message, code = (error if isinstance(error, str) else None), None
    message = message or "error event"
    return StreamInterruptedError(
        f"{PROVIDER_ID}: the stream failed: {message}",
        status=200,
        provider_message=message,
        code=code,
    )


def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Stream `POST _inference/chat_completion/{id}/_stream` as unified chunks.

    ES takes OpenAI's body with `max_completion_tokens` and no `stream`/`user` fields, and answers
    `event: message` + OpenAI chunks, bare or wrapped in `{"chat_completion": ...}`, then `[DONE]`.
    """
    body = openai_kit.chat_request_to_openai(request, stream=False, max_tokens_field="max_completion_tokens")
    body.pop("user", None)  # not part of ES's unified chat request
    url = inference_url(es_url(endpoint, ctx.host_settings), endpoint) + "/_stream"
    headers = es_headers(endpoint, ctx)
    headers["Accept"] = "text/event-stream"
    # Kibana sends the caller's telemetryMetadata.pluginId, and "inference" without one.
    headers["X-Elastic-Product-Use-Case"] = request.use_case or "inference"
    return _stream(ctx, url, body, headers, redactor_for(endpoint, ctx))


async def _stream(
    ctx: CallContext, url: str, body: Mapping[str, Any], headers: Mapping[str, str], redact: Any
) -> AsyncIterator[ChatChunk]:
    reader = openai_kit.ChatStreamReader(PROVIDER_ID, redact)
    try:
        async with ctx.open_sse(
            "POST", url, json=body, params={"timeout": _STREAM_TIMEOUT}, headers=headers
        ) as events:
            async for event in events:
                if event.data == "[DONE]":
                    for chunk in reader.read(event.data):
                        yield chunk
                    return
                try:
                    obj = json.loads(event.data)
                    if "error" in obj:
                        raise _stream_error(obj)
                    chunks = reader.read_object(obj.get("chat_completion") or obj)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise InvalidResponseError(
                        f"{PROVIDER_ID}: unreadable stream chunk ({type(exc).__name__})"
                    ) from None
                for chunk in chunks:
                    yield chunk
    except ProviderError as exc:  # the host's own ES key is redacted too
        raise exc.redacted(redact) from None
    raise StreamInterruptedError(f"{PROVIDER_ID}: the stream ended before [DONE]")


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """`POST _inference/completion/{id}` `{"input"}` -> `[result, ...]`."""
    return parse_completion(await _infer(endpoint, {"input": request.input}, ctx))


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`POST _inference/text_embedding/{id}`, with Kibana's `task_settings.input_type` when given."""
    body: dict[str, Any] = {"input": list(request.input)}
    if request.input_type:
        body["task_settings"] = {"input_type": request.input_type}
    return parse_embeddings(await _infer(endpoint, body, ctx), len(request.input))


async def sparse_embedding(
    endpoint: InferenceEndpoint, request: SparseEmbeddingRequest, ctx: CallContext
) -> list[dict[str, float]]:
    """`POST _inference/sparse_embedding/{id}` -> one token->weight map per input."""
    data = await _infer(endpoint, {"input": list(request.input)}, ctx)
    return parse_sparse(data, len(request.input))


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`POST _inference/rerank/{id}` `{"query","input"}` -> results, best first."""
    data = await _infer(endpoint, {"query": request.query, "input": list(request.input)}, ctx)
    return parse_rerank(data, top_n=request.top_n, return_documents=request.return_documents)


_CALLS: Mapping[TaskType, Any] = {
    TaskType.COMPLETION: completion,
    TaskType.TEXT_EMBEDDING: text_embedding,
    TaskType.SPARSE_EMBEDDING: sparse_embedding,
    TaskType.RERANK: rerank,
}


# ---------------------------------------------------------------------------------------------
# The connector owns its ES inference endpoint (Kibana's preSaveHook / postDeleteHook)


async def _get_endpoint(url: str, endpoint: InferenceEndpoint, ctx: CallContext) -> Mapping[str, Any] | None:
    """`GET _inference/{task}/{id}`: the endpoint's configuration, None on 404, typed errors otherwise."""
    resp = await ctx.request("GET", url, headers=es_headers(endpoint, ctx))
    if resp.status_code == 404:
        return None
    if resp.status_code >= 400:
        raise es_error(resp.status_code, resp.headers, resp.content).redacted(redactor_for(endpoint, ctx))
    data = parse_json(resp.content, resp.status_code)
    endpoints = data.get("endpoints")
    if isinstance(endpoints, list) and not endpoints:
        return None
    return data


async def _delete_endpoint(url: str, endpoint: InferenceEndpoint, ctx: CallContext) -> None:
    resp = await ctx.request("DELETE", url, headers=es_headers(endpoint, ctx))
    if resp.status_code >= 400 and resp.status_code != 404:  # already gone is what we wanted
        raise es_error(resp.status_code, resp.headers, resp.content).redacted(redactor_for(endpoint, ctx))


async def on_save(endpoint: InferenceEndpoint, ctx: CallContext, is_update: bool) -> None:
    """Create (or, on update, delete and re-create) the connector's ES inference endpoint.

    As Kibana's preSaveHook: creating over an existing endpoint is refused; ES has no general
    update API, hence delete + PUT. A preconfigured endpoint is only checked to exist.
    """
    url = inference_url(es_url(endpoint, ctx.host_settings), endpoint)
    existing = await _get_endpoint(url, endpoint, ctx)
    task, inference_id = endpoint.task_type.value, endpoint.inference_id
    if _is_preconfigured(endpoint):
        if existing is None:
            raise ModelNotFoundError(
                f"{PROVIDER_ID}: the preconfigured inference endpoint {inference_id} ({task}) does not "
                "exist on this Elasticsearch deployment",
                status=404,
            )
        return
    if existing is not None:
        if not is_update:
            raise InvalidRequestError(
                f"Inference with id {inference_id} and task type {task} already exists."
            )
        await _delete_endpoint(url, endpoint, ctx)
    if not endpoint.settings.get("model_id"):
        raise InvalidRequestError(  # Elasticsearch's own refusal, before any request
            "Validation Failed: 1: [service_settings] does not contain the required setting [model_id];"
        )
    body: dict[str, Any] = {
        "service": PROVIDER_ID,
        "service_settings": {k: v for k, v in endpoint.settings.items() if k not in _LOCAL_SETTINGS},
    }
    if endpoint.task_settings:
        body["task_settings"] = dict(endpoint.task_settings)
    resp = await ctx.request("PUT", url, json=body, headers=es_headers(endpoint, ctx))
    if resp.status_code >= 400:
        raise es_error(resp.status_code, resp.headers, resp.content).redacted(redactor_for(endpoint, ctx))


async def on_delete(endpoint: InferenceEndpoint, ctx: CallContext) -> None:
    """Delete the connector's ES inference endpoint (Kibana's postDeleteHook); never a preconfigured one."""
    if _is_preconfigured(endpoint):
        return
    await _delete_endpoint(inference_url(es_url(endpoint, ctx.host_settings), endpoint), endpoint, ctx)


async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
    """Save & test: `GET _inference/{task}/{id}` proves the key and the endpoint, then Kibana's
    default request for the task type proves EIS answers."""

    async def check() -> None:
        url = inference_url(es_url(endpoint, ctx.host_settings), endpoint)
        if await _get_endpoint(url, endpoint, ctx) is None:
            raise ModelNotFoundError(
                f"Inference Endpoint by ID {endpoint.inference_id} does not exist!",
                status=404,
            )
        request = KIBANA_TEST_REQUESTS[endpoint.task_type]
        if endpoint.task_type is TaskType.CHAT_COMPLETION:
            async for _ in chat_completion_stream(endpoint, request, ctx):
                pass
        else:
            await _CALLS[endpoint.task_type](endpoint, request, ctx)

    return await run_test(check)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Elastic Inference Service",
    task_types=frozenset(
        {
            TaskType.CHAT_COMPLETION,
            TaskType.COMPLETION,
            TaskType.TEXT_EMBEDDING,
            TaskType.SPARSE_EMBEDDING,
            TaskType.RERANK,
        }
    ),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    test=test,
    parse_error=es_error,
    chat_completion_stream=chat_completion_stream,
    completion=completion,
    text_embedding=text_embedding,
    sparse_embedding=sparse_embedding,
    rerank=rerank,
    urls=_urls,
    host_settings_env={"url": URL_ENV, "api_key": API_KEY_ENV},
    on_save=on_save,
    on_delete=on_delete,
    description="Models hosted by Elastic (EIS), reached through an Elasticsearch deployment.",
    docs_url="https://www.elastic.co/docs/explore-analyze/elastic-inference/eis",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Elastic Inference Service provider."""
    return [PROVIDER]
