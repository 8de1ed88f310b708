"""The `amazon_sagemaker` provider: a model behind an Amazon SageMaker endpoint, called as
Elasticsearch's `amazon_sagemaker` service calls it: SageMaker Runtime's `InvokeEndpoint`
(`POST /endpoints/<name>/invocations`) and, for chat, `InvokeEndpointWithResponseStream`
(`.../invocations-response-stream`, an AWS event stream of `PayloadPart`s carrying the model's SSE),
signed with SigV4 (botocore, service `sagemaker`).

The `api` setting says what the model speaks: `openai` (OpenAI's embeddings and chat bodies, e.g. a
vLLM or TGI container) or `elastic` (Elasticsearch's own inference shapes, which also give sparse
embeddings and rerank).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ai_connector.plugin import (
    AuthenticationError,
    CallContext,
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    InvalidResponseError,
    ModelNotFoundError,
    Provider,
    ProviderError,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    SSEDecoder,
    StreamInterruptedError,
    TaskType,
    aws_eventstream,
    error_for_status,
    fields,
    hookimpl,
    openai_kit,
)

__all__ = ["PROVIDER", "ai_connector_providers", "runtime_error"]

PROVIDER_ID = "amazon_sagemaker"
SIGNING_NAME = "sagemaker"  # sagemaker-runtime's signingName
# Task types per `api` (SageMakerSchemas): the elastic API adds sparse embeddings and rerank.
API_TASKS: Mapping[str, frozenset[TaskType]] = {
    "openai": frozenset({TaskType.TEXT_EMBEDDING, TaskType.COMPLETION, TaskType.CHAT_COMPLETION}),
    "elastic": frozenset(TaskType),
}
# Settings sent as SageMaker Runtime headers (InvokeEndpoint's request parameters).
_HEADERS = {
    "target_model": "X-Amzn-SageMaker-Target-Model",
    "target_container_hostname": "X-Amzn-SageMaker-Target-Container-Hostname",
    "custom_attributes": "X-Amzn-SageMaker-Custom-Attributes",
    "enable_explanations": "X-Amzn-SageMaker-Enable-Explanations",
    "inference_id": "X-Amzn-SageMaker-Inference-Id",
    "session_id": "X-Amzn-SageMaker-Session-Id",
    "target_variant": "X-Amzn-SageMaker-Target-Variant",
}


def _text(title: str, description: str) -> dict[str, Any]:
    return fields.field("string", title, description, **{"x-updatable": False})


# SageMakerServiceSettings.configuration, texts verbatim; `url` is ours (endpoints, proxies, tests).
SETTINGS_SCHEMA = fields.schema(
    {
        "api": fields.field(
            "string",
            "API",
            "The API format that your SageMaker Endpoint expects.",
            enum=sorted(API_TASKS),
            **{"x-updatable": False},
        ),
        "endpoint_name": _text("Endpoint Name", "The name specified when creating the SageMaker Endpoint."),
        "region": _text("Region", "The AWS region that your model or ARN is deployed in."),
        "target_model": _text(
            "Target Model", "The model to request when calling a SageMaker multi-model Endpoint."
        ),
        "target_container_hostname": _text(
            "Target Container Hostname",
            "The hostname of the container when calling a SageMaker multi-container Endpoint.",
        ),
        "batch_size": fields.field(
            "integer",
            "Batch Size",
            "The maximum size a single chunk of input can be when chunking input for semantic text.",
            minimum=1,
            **{"x-updatable": False},
        ),
        "url": fields.url(
            "Overrides the SageMaker Runtime URL (https://runtime.sagemaker.{region}.amazonaws.com); "
            "requests are still signed for the region."
        ),
    },
    required=["api", "endpoint_name", "region"],
)
AUTH_SCHEMA = fields.schema(
    {
        "access_key": fields.field(
            "string",
            "Access Key",
            "A valid AWS access key that has permissions to use Amazon SageMaker.",
            **{"x-sensitive": True, "x-updatable": True},
        ),
        "secret_key": fields.field(
            "string",
            "Secret Key",
            "A valid AWS secret key that is paired with the access_key.",
            **{"x-sensitive": True, "x-updatable": True},
        ),
    },
    required=["access_key", "secret_key"],
)
# SageMakerTaskSettings.configuration (every task type).
TASK_SETTINGS = fields.schema(
    {
        "custom_attributes": _text(
            "Custom Attributes",
            "An opaque informational value forwarded as-is to the model within SageMaker.",
        ),
        "enable_explanations": _text(
            "Enable Explanations",
            "JMESPath expression overriding the ClarifyingExplainerConfig in the SageMaker Endpoint "
            "Configuration.",
        ),
        "inference_id": _text(
            "Inference ID", "Informational identifying for auditing requests within the SageMaker Endpoint."
        ),
        "session_id": _text(
            "Session ID", "Creates or reuses an existing Session for SageMaker stateful models."
        ),
        "target_variant": _text(
            "Target Variant", "The production variant when calling the SageMaker Endpoint"
        ),
    }
)


# ---------------------------------------------------------------------------------------------
# Where, and signed how


def _api(endpoint: InferenceEndpoint) -> str:
    """The endpoint's `api`, refused (as ES's 405) when it cannot serve the task type."""
    api = fields.require(endpoint, "api", "API")
    supported = API_TASKS.get(api, frozenset())
    if endpoint.task_type not in supported:
        names = sorted(t.value for t in supported)
        raise fields.invalid(
            "api",
            "API",
            f"Task [{endpoint.task_type.value}] is not compatible for service [sagemaker] and api [{api}]. "
            f"Supported tasks: [{', '.join(names)}]",
        )
    return api


def _url(endpoint: InferenceEndpoint, *, stream: bool = False) -> str:
    region = fields.require(endpoint, "region", "Region")
    base = str(endpoint.settings.get("url") or f"https://runtime.sagemaker.{region}.amazonaws.com").rstrip(
        "/"
    )
    name = fields.require(endpoint, "endpoint_name", "Endpoint Name")
    return f"{base}/endpoints/{name}/invocations" + ("-response-stream" if stream else "")


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [_url(endpoint)]


def _signed(endpoint: InferenceEndpoint, url: str, body: bytes, *, stream: bool = False) -> dict[str, str]:
    """The request's headers (SageMaker's `X-Amzn-SageMaker-*` from the settings) signed with SigV4."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {k: v for k, v in endpoint.headers.items() if k.lower() != "authorization"}
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "application/vnd.amazon.eventstream" if stream else "application/json"
    values = {**endpoint.settings, **endpoint.task_settings}
    headers.update({name: str(values[key]) for key, name in _HEADERS.items() if values.get(key)})
    credentials = Credentials(
        fields.require(endpoint, "access_key", "Access Key", secret=True),
        fields.require(endpoint, "secret_key", "Secret Key", secret=True),
    )
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(credentials, SIGNING_NAME, fields.require(endpoint, "region", "Region")).add_auth(request)
    return dict(request.headers.items())


async def _invoke(endpoint: InferenceEndpoint, payload: Mapping[str, Any], ctx: CallContext) -> Any:
    url = _url(endpoint)
    body = json.dumps(payload).encode()
    return await ctx.send_json("POST", url, content=body, headers=_signed(endpoint, url, body))


def runtime_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for SageMaker Runtime's `{"message"}` / `{"Message"}` bodies (type in
    `x-amzn-ErrorType`): refused keys or signatures are credentials errors, an endpoint that does not
    exist (a 400 ValidationError) is not found, a `ModelError` (424) carries the model's own message."""
    try:
        data = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        data = {}
    data = data if isinstance(data, Mapping) else {}
    kind = (headers.get("x-amzn-errortype") or str(data.get("__type") or "")).split(":")[0].split("#")[-1]
    message = data.get("OriginalMessage") or data.get("message") or data.get("Message")
    message = message if isinstance(message, str) else None
    cls: type[ProviderError] | None = None
    if kind in ("UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException"):
        cls = AuthenticationError
    elif kind == "ValidationError" and message and "not found" in message.lower():
        cls = ModelNotFoundError
    return error_for_status(status, message, headers=headers, code=kind or None, cls=cls)


# ---------------------------------------------------------------------------------------------
# InvokeEndpoint calls


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """openai: `{"input"}` -> `data[].embedding`; elastic: `{"input","input_type"?}` -> ES's
    `text_embedding`."""
    if _api(endpoint) == "openai":
        answer = await _invoke(endpoint, {"input": list(request.input)}, ctx)
        return openai_kit.embedding_vectors(answer, len(request.input))
    payload: dict[str, Any] = {"input": list(request.input)}
    if request.input_type:
        payload["input_type"] = request.input_type
    items = _elastic(await _invoke(endpoint, payload, ctx), "text_embedding", len(request.input))
    try:
        return [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError):
        raise InvalidResponseError(f"{PROVIDER_ID}: unreadable text_embedding result") from None


def _elastic(answer: Any, key: str, count: int) -> list[Any]:
    items = answer.get(key) if isinstance(answer, Mapping) else None
    if not isinstance(items, list) or (count >= 0 and len(items) != count):
        raise InvalidResponseError(
            f"{PROVIDER_ID}: the answer has no `{key}` list for the {max(count, 0)} inputs"
        )
    return items


async def sparse_embedding(
    endpoint: InferenceEndpoint, request: SparseEmbeddingRequest, ctx: CallContext
) -> list[dict[str, float]]:
    """elastic: `{"input"}` -> `{"sparse_embedding":[{"is_truncated","embedding":{token: weight}}]}`."""
    _api(endpoint)
    items = _elastic(
        await _invoke(endpoint, {"input": list(request.input)}, ctx), "sparse_embedding", len(request.input)
    )
    try:
        return [{str(t): float(w) for t, w in item["embedding"].items()} for item in items]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: unreadable sparse_embedding result") from None


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """elastic: `{"query","input","return_documents","top_n"?}` -> ES's `rerank` list, best first."""
    _api(endpoint)
    payload: dict[str, Any] = {
        "query": request.query,
        "input": list(request.input),
        "return_documents": request.return_documents,
    }
    if request.top_n is not None:
        payload["top_n"] = request.top_n
    items = _elastic(await _invoke(endpoint, payload, ctx), "rerank", -1)
    try:
        results = [
            RerankResult(
                index=int(i["index"]),
                score=float(i["relevance_score"]),
                text=i.get("text") if request.return_documents else None,
            )
            for i in items
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: unreadable rerank result") from None
    results.sort(key=lambda r: r.score, reverse=True)
    return results if request.top_n is None else results[: request.top_n]


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """openai: one user message, OpenAI's answer; elastic: `{"input"}` -> `{"completion":[{"result"}]}`."""
    if _api(endpoint) == "openai":
        chat = ChatRequest(
            messages=({"role": "user", "content": request.input},), max_tokens=request.max_tokens
        )
        body = openai_kit.chat_request_to_openai(chat, stream=False)
        return openai_kit.completion_results(await _invoke(endpoint, {**body, "n": 1}, ctx))
    items = _elastic(await _invoke(endpoint, {"input": [request.input]}, ctx), "completion", 1)
    result = items[0].get("result") if isinstance(items[0], Mapping) else None
    if not isinstance(result, str):
        raise InvalidResponseError(f"{PROVIDER_ID}: unreadable completion result")
    return [result]


async def chat_completion(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> list[ChatChunk]:
    """The same chat request through InvokeEndpoint (not streamed): the container's OpenAI
    `chat.completion`, as the chunks its stream would carry."""
    _api(endpoint)
    answer = await _invoke(endpoint, openai_kit.chat_request_to_openai(request, stream=False), ctx)
    return openai_kit.answer_chunks(answer, PROVIDER_ID)


# ---------------------------------------------------------------------------------------------
# InvokeEndpointWithResponseStream


async def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """OpenAI's streaming chat body; the answer's `PayloadPart` bytes are the model's SSE text
    (`data: {chunk}` ... `data: [DONE]`), reassembled across parts; `ModelStreamError` and
    `InternalStreamFailure` events are typed mid-stream errors."""
    _api(endpoint)
    url = _url(endpoint, stream=True)
    body = json.dumps(openai_kit.chat_request_to_openai(request, stream=True)).encode()
    headers = _signed(endpoint, url, body, stream=True)
    frames = aws_eventstream.FrameReader(PROVIDER_ID)  # one message at most AWS's 16 MiB
    text = codecs.getincrementaldecoder("utf-8")("replace")  # a character may span two parts
    events = SSEDecoder(ctx.max_sse_line_bytes, ctx.max_sse_event_bytes)  # linear, capped
    reader = openai_kit.ChatStreamReader(PROVIDER_ID, ctx.redact)
    async with ctx.stream("POST", url, content=body, headers=headers) as resp:
        if resp.status_code >= 400:
            raw = await ctx.read_error_body(resp)
            raise runtime_error(resp.status_code, resp.headers, raw).redacted(ctx.redact)
        async for data in ctx.iter_bytes(resp):
            for message in frames.feed(data):
                for event in events.feed(text.decode(_payload(message, ctx))):
                    for chunk in reader.read(event.data):
                        yield chunk
                if reader.done:
                    return
        frames.finish()
        for event in events.feed(text.decode(b"", final=True)) + events.close():
            for chunk in reader.read(event.data):
                yield chunk
            if reader.done:
                return
    if not reader.finished:
        reader.end()
    if reader.usage is not None:
        yield reader.usage


def _payload(message: Any, ctx: CallContext) -> bytes:
    """A `PayloadPart`'s bytes; a stream error event raised as StreamInterruptedError."""
    headers = message.headers
    if headers.get(":message-type") == "event" and headers.get(":event-type") == "PayloadPart":
        return bytes(message.payload)
    kind = (
        headers.get(":exception-type") or headers.get(":error-code") or headers.get(":event-type") or "error"
    )
    try:
        data = json.loads(message.payload) if message.payload else {}
    except ValueError:
        data = {}
    text = data.get("Message") or data.get("message") or headers.get(":error-message") or str(kind)
    text = ctx.redact(str(text))
    raise StreamInterruptedError(
        f"{PROVIDER_ID}: the stream carried an error: {text}",
        provider_message=text,
        code=str(kind),
        status=200,
    )


async def on_save(endpoint: InferenceEndpoint, ctx: CallContext, is_update: bool) -> None:
    """Refuse, at save, a task type the endpoint's `api` cannot serve (ES answers 405)."""
    _api(endpoint)


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="Amazon SageMaker",
    task_types=frozenset(TaskType),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas=dict.fromkeys(TaskType, TASK_SETTINGS),
    parse_error=runtime_error,
    chat_completion_stream=chat_completion_stream,
    chat_completion=chat_completion,
    completion=completion,
    text_embedding=text_embedding,
    sparse_embedding=sparse_embedding,
    rerank=rerank,
    urls=_urls,
    on_save=on_save,
    description="A model behind an Amazon SageMaker endpoint (OpenAI or Elasticsearch payloads).",
    docs_url="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html",
    chat_options=frozenset({"user"}),  # the chat body is OpenAI's (openai_kit), `user` included
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the Amazon SageMaker provider."""
    return [PROVIDER]
