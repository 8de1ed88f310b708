"""The Bedrock runtime calls: ConverseStream for chat, Converse for completion and Save & test,
InvokeModel for Titan and Cohere embeddings. Every request is SigV4-signed by botocore's signer over
the exact body bytes that are then sent."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    ConfigValidationError,
    EmbeddingRequest,
    FieldError,
    InferenceEndpoint,
    InvalidRequestError,
    InvalidResponseError,
    TaskType,
    TestResult,
    aws_eventstream,
    run_test,
)
from ai_connector_amazonbedrock.converse import (
    ConverseStreamTranslator,
    converse_body,
    converse_chunks,
    converse_text,
)
from ai_connector_amazonbedrock.errors import error_from_response
from ai_connector_amazonbedrock.signing import encode_label, sign

__all__ = [
    "DEFAULT_URL",
    "EVENTSTREAM_CONTENT_TYPE",
    "PROVIDER_ID",
    "base_url",
    "chat_completion",
    "chat_completion_stream",
    "completion",
    "connector_errors",
    "on_save",
    "operation_url",
    "test",
    "text_embedding",
]

PROVIDER_ID = "amazonbedrock"
DEFAULT_URL = "https://bedrock-runtime.{region}.amazonaws.com"
EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"

# ES AmazonBedrockProviderCapabilities: which model families serve which task.
CHAT_PROVIDERS = frozenset({"amazontitan", "anthropic", "ai21labs", "cohere", "meta", "mistral"})
EMBEDDING_PROVIDERS = frozenset({"amazontitan", "cohere"})
COHERE_MAX_BATCH = 96  # ES embeddingsMaxBatchSize for cohere; Titan takes one text per request

# Kibana's inputType (and ES's InputType) -> Cohere's input_type
# (ES AmazonBedrockCohereEmbeddingsRequestEntity).
COHERE_INPUT_TYPES: Mapping[str, str] = {
    "ingest": "search_document",
    "internal_ingest": "search_document",
    "search": "search_query",
    "internal_search": "search_query",
    "classification": "classification",
    "clustering": "clustering",
}

_REGION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_OWN_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "host", "content-type"})


# ---------------------------------------------------------------------------------------------
# Settings


def _field(key: str, label: str, message: str, *, where: str = "config.providerConfig") -> FieldError:
    return FieldError(f"{where}.{key}", key, label, message)


def _family(endpoint: InferenceEndpoint) -> str:
    return str(endpoint.settings.get("provider") or "").strip().lower()


def connector_errors(endpoint: InferenceEndpoint) -> list[FieldError]:
    """What ES refuses about this connector's settings, with ES's own texts (AmazonBedrockService)."""
    errors: list[FieldError] = []
    settings = endpoint.settings
    for key, label in (("provider", "Provider"), ("model", "Model"), ("region", "Region")):
        if not settings.get(key):
            errors.append(_field(key, label, f"{label} is required"))
    region = settings.get("region")
    if region and not _REGION.match(str(region)):
        errors.append(_field("region", "Region", "Region must be an AWS region name such as us-east-1"))
    for key, label in (("access_key", "Access Key"), ("secret_key", "Secret Key")):
        if not endpoint.secrets.get(key):
            errors.append(_field(key, label, f"{label} is required", where="secrets.providerSecrets"))
    family = _family(endpoint)
    if family:
        allowed = EMBEDDING_PROVIDERS if endpoint.task_type is TaskType.TEXT_EMBEDDING else CHAT_PROVIDERS
        if family not in allowed:
            errors.append(
                _field(
                    "provider",
                    "Provider",
                    f"The [{endpoint.task_type.value}] task type for provider [{family}] is not available",
                )
            )
    task = endpoint.task_settings
    if task.get("top_k") is not None and family and family not in ("anthropic", "cohere", "mistral"):
        errors.append(
            _field(
                "top_k",
                "Top K",
                f"The [top_k] task parameter is not available for provider [{family}]",
                where="config.taskTypeConfig",
            )
        )
    if task.get("truncate") is not None and family and family != "cohere":
        errors.append(
            _field(
                "truncate",
                "Truncate",
                f"The [text_embedding] task type for provider [{family}] does not allow [truncate] field",
                where="config.taskTypeConfig",
            )
        )
    return errors


def _check(endpoint: InferenceEndpoint) -> None:
    errors = connector_errors(endpoint)
    if errors:
        raise ConfigValidationError(errors)


async def on_save(endpoint: InferenceEndpoint, ctx: CallContext, is_update: bool) -> None:
    """Refuse, at save, the settings ES would refuse when creating the endpoint (e.g. an embedding
    connector on an Anthropic model)."""
    _check(endpoint)


def base_url(endpoint: InferenceEndpoint) -> str:
    """The runtime's base URL: the `url` override, else `https://bedrock-runtime.{region}.amazonaws.com`."""
    url = endpoint.settings.get("url")
    if url:
        return str(url).rstrip("/")
    region = str(endpoint.settings.get("region") or "")
    if not _REGION.match(region):
        raise ConfigValidationError(
            [_field("region", "Region", "Region must be an AWS region name such as us-east-1")]
        )
    return DEFAULT_URL.format(region=region)


def operation_url(endpoint: InferenceEndpoint, operation: str, model: str | None = None) -> str:
    """`{base}/model/{modelId}/{operation}` with the model id percent-encoded as a path label."""
    model_id = model or str(endpoint.settings.get("model") or "")
    return f"{base_url(endpoint)}/model/{encode_label(model_id)}/{operation}"


# ---------------------------------------------------------------------------------------------
# Transport


def _signed(
    endpoint: InferenceEndpoint, url: str, body: Mapping[str, Any], *, accept: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body's bytes and the headers to send: the connector's own headers, then ours, signed."""
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() not in _OWN_HEADERS}
    headers["Content-Type"] = "application/json"
    if accept is not None:
        headers["Accept"] = accept
    signed = sign(
        "POST",
        url,
        content,
        headers,
        access_key=endpoint.secrets["access_key"],
        secret_key=endpoint.secrets["secret_key"],
        region=str(endpoint.settings["region"]),
    )
    return content, signed


async def _signed_post(
    ctx: CallContext,
    endpoint: InferenceEndpoint,
    url: str,
    body: Mapping[str, Any],
    *,
    accept: str | None = None,
) -> Any:
    content, headers = _signed(endpoint, url, body, accept=accept)
    return await ctx.send_json("POST", url, content=content, headers=headers)


# ---------------------------------------------------------------------------------------------
# Chat and completion (Converse)


def _body(endpoint: InferenceEndpoint, request: ChatRequest) -> dict[str, Any]:
    return converse_body(request, task_settings=endpoint.task_settings, family=_family(endpoint))


async def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """Stream a chat completion from ConverseStream, decoding its binary event stream."""
    _check(endpoint)
    url = operation_url(endpoint, "converse-stream", request.model)
    content, headers = _signed(endpoint, url, _body(endpoint, request))
    async with ctx.stream("POST", url, content=content, headers=headers) as resp:
        if resp.status_code >= 400:
            raw = await ctx.read_error_body(resp)
            raise error_from_response(resp.status_code, resp.headers, raw).redacted(ctx.redact)
        content_type = resp.headers.get("content-type", "")
        if not content_type.startswith(EVENTSTREAM_CONTENT_TYPE):
            raise InvalidResponseError(
                f"{PROVIDER_ID}: ConverseStream answered {content_type or 'no content type'}, "
                f"not {EVENTSTREAM_CONTENT_TYPE}",
                status=resp.status_code,
            )
        reader = aws_eventstream.FrameReader(PROVIDER_ID)
        translator = ConverseStreamTranslator(PROVIDER_ID)
        async for data in ctx.iter_bytes(resp):
            for message in reader.feed(data):
                chunk = translator.translate(aws_eventstream.decode_event(message, PROVIDER_ID))
                if chunk is not None:
                    yield chunk
        reader.finish()
        translator.finish()


async def chat_completion(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> list[ChatChunk]:
    """The same chat request through Converse (not streamed), as the chunks ConverseStream would carry."""
    _check(endpoint)
    url = operation_url(endpoint, "converse", request.model)
    return converse_chunks(await _signed_post(ctx, endpoint, url, _body(endpoint, request)), PROVIDER_ID)


async def _converse(endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext) -> str:
    _check(endpoint)
    url = operation_url(endpoint, "converse", request.model)
    answer = await _signed_post(ctx, endpoint, url, _body(endpoint, request))
    return converse_text(answer, PROVIDER_ID)


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """ES's `completion` on Bedrock: one Converse call with the input as the user's message."""
    chat = ChatRequest(messages=({"role": "user", "content": request.input},))
    return [await _converse(endpoint, chat, ctx)]


# ---------------------------------------------------------------------------------------------
# Embeddings (InvokeModel)


def _vector(raw: Any) -> list[float]:
    if not isinstance(raw, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in raw
    ):
        raise InvalidResponseError(f"{PROVIDER_ID}: an embedding is not a list of numbers", status=200)
    return raw


def _cohere_input_type(input_type: str | None) -> str:
    if not input_type:
        return "search_document"  # Cohere requires one; ES defaults to document
    mapped = COHERE_INPUT_TYPES.get(input_type.lower())
    if mapped is None:
        known = ", ".join(sorted(COHERE_INPUT_TYPES))
        raise InvalidRequestError(f"input type {input_type!r} is not one of {known}")
    return mapped


async def _titan_embeddings(
    ctx: CallContext, endpoint: InferenceEndpoint, url: str, inputs: Sequence[str]
) -> list[list[float]]:
    dimensions = endpoint.settings.get("dimensions")
    vectors = []
    for text in inputs:
        body: dict[str, Any] = {"inputText": text}
        if dimensions is not None:
            body["dimensions"] = dimensions
        answer = await _signed_post(ctx, endpoint, url, body, accept="application/json")
        vectors.append(_vector(answer.get("embedding") if isinstance(answer, Mapping) else None))
    return vectors


async def _cohere_embeddings(
    ctx: CallContext, endpoint: InferenceEndpoint, url: str, inputs: Sequence[str], input_type: str | None
) -> list[list[float]]:
    kind = _cohere_input_type(input_type)
    truncate = endpoint.task_settings.get("truncate")
    vectors: list[list[float]] = []
    for start in range(0, len(inputs), COHERE_MAX_BATCH):
        batch = list(inputs[start : start + COHERE_MAX_BATCH])
        body: dict[str, Any] = {"texts": batch, "input_type": kind}
        if truncate is not None:
            body["truncate"] = truncate
        answer = await _signed_post(ctx, endpoint, url, body, accept="application/json")
        raw = answer.get("embeddings") if isinstance(answer, Mapping) else None
        if isinstance(raw, Mapping):  # the shape Cohere uses when embedding types are named
            raw = raw.get("float")
        if not isinstance(raw, list) or len(raw) != len(batch):
            raise InvalidResponseError(
                f"{PROVIDER_ID}: expected {len(batch)} embeddings in the answer",
                status=200,
            )
        vectors.extend(_vector(v) for v in raw)
    return vectors


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """Embed each input with InvokeModel, in the model family's own body (ES picks it by `provider`)."""
    _check(endpoint)
    url = operation_url(endpoint, "invoke")
    inputs = list(request.input)
    if not inputs:
        return []
    if _family(endpoint) == "cohere":
        return await _cohere_embeddings(ctx, endpoint, url, inputs, request.input_type)
    return await _titan_embeddings(ctx, endpoint, url, inputs)


# ---------------------------------------------------------------------------------------------
# Save & test

HELLO = ChatRequest(messages=({"role": "user", "content": "Hello world"},), max_tokens=1)


async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
    """Save & test: a 1-token Converse "Hello world" on the connector's model, or one "Hello world"
    embedding: real calls that prove the credentials, the region and the model id together."""
    if endpoint.task_type is TaskType.TEXT_EMBEDDING:
        hello = EmbeddingRequest(input=("Hello world",), input_type="ingest")
        return await run_test(lambda: text_embedding(endpoint, hello, ctx))
    return await run_test(lambda: _converse(endpoint, HELLO, ctx))
