"""The `watsonxai` provider: IBM watsonx.ai's text APIs (`/ml/v1/text/{chat,chat_stream,embeddings,
rerank}?version=<api_version>`) on the connector's regional host, as Elasticsearch's `watsonxai`
service calls them.

Auth is IBM Cloud IAM's: the connector's API key is exchanged at `https://iam.cloud.ibm.com/identity/token`
(the host setting `iam_url` moves it, for IBM Cloud's other IAM hosts and for tests) for a bearer
token, cached per key until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
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
    RateLimitError,
    RerankRequest,
    RerankResult,
    StreamInterruptedError,
    TaskType,
    error_for_status,
    fields,
    hookimpl,
    openai_kit,
)

__all__ = ["IAM_URL", "PROVIDER", "TOKENS", "ai_connector_providers", "watsonx_error"]

PROVIDER_ID = "watsonxai"
IAM_URL = "https://iam.cloud.ibm.com/identity/token"
IAM_URL_ENV = "AI_CONNECTOR_WATSONX_IAM_URL"
APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
TASK_TYPES = (TaskType.TEXT_EMBEDDING, TaskType.COMPLETION, TaskType.CHAT_COMPLETION, TaskType.RERANK)

# ES's IbmWatsonxService.Configuration: exactly these five (its descriptor has no api_key and no
# rate_limit; both are service settings all the same, so they are declared here too).
SETTINGS_SCHEMA = fields.schema(
    {
        "api_version": fields.field(
            "string", "API Version", "The IBM watsonx API version ID to use.", **{"x-updatable": False}
        ),
        "project_id": fields.field("string", "Project ID", **{"x-updatable": False}),
        "model_id": fields.model_id(),
        "url": fields.field("string", "URL", **{"x-updatable": False}),
        "max_input_tokens": fields.field(
            "integer",
            "Maximum Input Tokens",
            "Allows you to specify the maximum number of tokens per input.",
            minimum=1,
            **{"x-updatable": False, "x-task-types": ["text_embedding"]},
        ),
        "rate_limit": fields.rate_limit(),
    },
    required=["api_version", "project_id", "model_id", "url"],
)
AUTH_SCHEMA = fields.schema({"api_key": fields.api_key()}, required=["api_key"])
# IbmWatsonxRerankTaskSettings.
RERANK_TASK_SETTINGS = fields.schema(
    {
        "truncate_input_tokens": fields.field(
            "integer", "Truncate Input Tokens", "Truncate each input to this many tokens.", minimum=1
        ),
        "return_documents": fields.field("boolean", "Return Documents", "Return the inputs' text."),
        "top_n": fields.field("integer", "Top N", "How many of the best results to return.", minimum=1),
    }
)


# ---------------------------------------------------------------------------------------------
# IAM: the API key for a bearer token, cached


def _iam_url(host_settings: Mapping[str, Any]) -> str:
    return str(host_settings.get("iam_url") or IAM_URL)


class TokenCache:
    """Bearer tokens per (IAM URL, API key digest), reused until `margin` seconds before expiry;
    one exchange at a time per key (a lock per key and event loop)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, margin: float = 300.0) -> None:
        self.clock = clock
        self.margin = margin
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def _fresh(self, key: tuple[str, str]) -> str | None:
        entry = self._tokens.get(key)
        return entry[0] if entry is not None and self.clock() < entry[1] else None

    async def token(self, api_key: str, ctx: CallContext) -> str:
        """A valid bearer token for `api_key`: the cached one, or a new one from IAM."""
        iam = _iam_url(ctx.host_settings)
        key = (iam, hashlib.sha256(api_key.encode()).hexdigest())
        if (token := self._fresh(key)) is not None:
            return token
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        async with locks.setdefault(key, asyncio.Lock()):
            if (token := self._fresh(key)) is not None:
                return token
            token, lifetime = await _exchange(iam, api_key, ctx)
            self._tokens[key] = (token, self.clock() + lifetime - min(self.margin, lifetime / 2))
            return token

    def forget(self, api_key: str, host_settings: Mapping[str, Any]) -> None:
        """Drop a token watsonx refused, so the next call exchanges again."""
        self._tokens.pop((_iam_url(host_settings), hashlib.sha256(api_key.encode()).hexdigest()), None)

    def clear(self) -> None:
        """Drop every cached token."""
        self._tokens.clear()


TOKENS = TokenCache()
"""The process-wide token cache, shared by every watsonx connector."""


def _iam_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """IAM's `{"errorCode":"BXNIM0415E","errorMessage":...}`: a 400 for an unknown key is a
    credentials error."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    data = data if isinstance(data, Mapping) else {}
    message, code = data.get("errorMessage"), data.get("errorCode")
    message = (
        f"IBM Cloud IAM refused the API key: {message}" if message else "IBM Cloud IAM refused the API key"
    )
    cls = AuthenticationError if status in (400, 401, 403) else None
    return error_for_status(status, message, headers=headers, code=code, cls=cls)


async def _exchange(iam: str, api_key: str, ctx: CallContext) -> tuple[str, float]:
    resp = await ctx.request(
        "POST",
        iam,
        data={"grant_type": APIKEY_GRANT, "apikey": api_key},
        headers={"Accept": "application/json"},
    )
    if resp.status_code >= 400:
        raise _iam_error(resp.status_code, resp.headers, resp.content).redacted(ctx.redact)
    try:
        data = resp.json()
        token, lifetime = data["access_token"], float(data.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidResponseError(f"{PROVIDER_ID}: IAM's answer has no access_token") from None
    if not isinstance(token, str) or not token:
        raise InvalidResponseError(f"{PROVIDER_ID}: IAM's answer has no access_token")
    return token, lifetime if 0 < lifetime < 86400 * 366 else 3600.0


# ---------------------------------------------------------------------------------------------
# Requests


def _api_url(endpoint: InferenceEndpoint, path: str) -> str:
    """`https://<url>/ml/v1/text/<path>`: ES takes `url` as the regional host (e.g.
    `us-south.ml.cloud.ibm.com`); a full URL is taken as it is."""
    host = fields.require(endpoint, "url", "URL").rstrip("/")
    base = host if "://" in host else f"https://{host}"
    return f"{base}/ml/v1/text/{path}"


def _urls(endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
    return [_api_url(endpoint, "chat"), _iam_url(host_settings)]


async def _auth(endpoint: InferenceEndpoint, ctx: CallContext) -> tuple[dict[str, str], Callable[[Any], str]]:
    """The headers of a watsonx request (`Authorization: Bearer <IAM token>` wins) and a redactor
    that also hides the token."""
    token = await TOKENS.token(fields.require(endpoint, "api_key", "API Key", secret=True), ctx)
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {token}"
    return headers, lambda text: ctx.redact(text).replace(token, "[REDACTED]")


def _refused(exc: ProviderError, endpoint: InferenceEndpoint, ctx: CallContext) -> None:
    if isinstance(exc, AuthenticationError):  # an expired or revoked token: exchange again next time
        TOKENS.forget(str(endpoint.secrets.get("api_key", "")), ctx.host_settings)


async def _post(endpoint: InferenceEndpoint, path: str, body: Mapping[str, Any], ctx: CallContext) -> Any:
    headers, redact = await _auth(endpoint, ctx)
    params = {"version": fields.require(endpoint, "api_version", "API Version")}
    try:
        return await ctx.send_json(
            "POST", _api_url(endpoint, path), json=body, headers=headers, params=params
        )
    except ProviderError as exc:
        _refused(exc, endpoint, ctx)
        raise exc.redacted(redact) from None


def _ids(endpoint: InferenceEndpoint) -> dict[str, str]:
    return {
        "model_id": fields.require(endpoint, "model_id", "Model ID"),
        "project_id": fields.require(endpoint, "project_id", "Project ID"),
    }


def _chat_body(endpoint: InferenceEndpoint, request: ChatRequest) -> dict[str, Any]:
    """OpenAI's chat fields plus watsonx's `model_id` and `project_id` (the request's model wins)."""
    body = openai_kit.chat_request_to_openai(request, stream=False, max_tokens_field="max_tokens")
    body.pop("user", None)
    ids = _ids(endpoint)
    if model := body.pop("model", None):
        ids["model_id"] = model
    return {**ids, **body}


# ---------------------------------------------------------------------------------------------
# Errors


def watsonx_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The typed error for watsonx's `{"errors":[{"code","message","more_info"}],"trace","status_code"}`
    (ES's own reader wants `error.message`; both are read). A model watsonx does not serve is not
    found whatever the status; a spent token quota is not worth retrying."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        data = body.decode("utf-8", "replace").strip()[:1000] or None
    message = code = None
    if isinstance(data, Mapping):
        errors = data.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], Mapping) else None
        first = first or (data.get("error") if isinstance(data.get("error"), Mapping) else None)
        if first is not None:
            message, code = first.get("message"), first.get("code")
    elif isinstance(data, str):
        message = data
    code = code if isinstance(code, str) else None
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if code in ("model_not_supported", "model_not_found"):
        cls = ModelNotFoundError
    elif code and "quota" in code:
        cls, retryable = RateLimitError, False
    elif code in ("authentication_token_expired", "authentication_token_not_valid"):
        cls = AuthenticationError
    text = message if isinstance(message, str) else None
    return error_for_status(status, text, headers=headers, code=code, cls=cls, retryable=retryable)


# ---------------------------------------------------------------------------------------------
# The calls


async def completion(endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext) -> list[str]:
    """`POST /ml/v1/text/chat` with the input as the user message -> `[text]`."""
    chat = ChatRequest(messages=({"role": "user", "content": request.input},), max_tokens=request.max_tokens)
    return openai_kit.completion_results(await _post(endpoint, "chat", _chat_body(endpoint, chat), ctx))


async def chat_completion(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> list[ChatChunk]:
    """`POST /ml/v1/text/chat` (not streamed): its OpenAI-like answer as the chunks `chat_stream`
    would carry for it."""
    return openai_kit.answer_chunks(
        await _post(endpoint, "chat", _chat_body(endpoint, request), ctx), PROVIDER_ID
    )


async def chat_completion_stream(
    endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> AsyncIterator[ChatChunk]:
    """`POST /ml/v1/text/chat_stream`: `event: message` + OpenAI-like chunks (`model_id`, usage in
    the last one); the stream ends after the finish reason, with or without `[DONE]`."""
    body = _chat_body(endpoint, request)  # settings refused here, before the stream starts
    version = fields.require(endpoint, "api_version", "API Version")
    headers, redact = await _auth(endpoint, ctx)
    reader = openai_kit.ChatStreamReader(PROVIDER_ID, redact)
    try:
        async with ctx.open_sse(
            "POST", _api_url(endpoint, "chat_stream"), json=body, headers=headers, params={"version": version}
        ) as events:
            async for event in events:
                chunks = _stream_event(reader, event.event, event.data)
                for chunk in chunks:
                    yield chunk
                if reader.done:
                    return
    except ProviderError as exc:
        _refused(exc, endpoint, ctx)
        raise exc.redacted(redact) from None
    if not reader.finished:
        reader.end()  # broke off before the finish reason
    if reader.usage is not None:
        yield reader.usage


def _stream_event(reader: Any, kind: str | None, data: str) -> tuple[ChatChunk, ...]:
    if data == "[DONE]" or not data:
        return tuple(reader.read(data))
    try:
        obj = json.loads(data)
    except ValueError:
        raise InvalidResponseError(f"{PROVIDER_ID}: a stream event is not JSON") from None
    if kind == "error" or (isinstance(obj, Mapping) and ("errors" in obj or "error" in obj)):
        error = watsonx_error(200, {}, data.encode())
        message = reader.redact(error.provider_message) if error.provider_message else None
        raise StreamInterruptedError(
            f"{PROVIDER_ID}: the stream carried an error: {message or 'no message'}",
            provider_message=message,
            code=error.code,
        )
    return tuple(reader.read_object(obj, data))


async def text_embedding(
    endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
) -> list[list[float]]:
    """`POST /ml/v1/text/embeddings` `{"inputs","model_id","project_id"}` -> `results[*].embedding`."""
    answer = await _post(endpoint, "embeddings", {"inputs": list(request.input), **_ids(endpoint)}, ctx)
    try:
        vectors = [[float(x) for x in item["embedding"]] for item in answer["results"]]
    except (KeyError, TypeError, ValueError):
        raise InvalidResponseError(
            f"{PROVIDER_ID}: the embeddings answer has no results[].embedding"
        ) from None
    if len(vectors) != len(request.input):
        raise InvalidResponseError(
            f"{PROVIDER_ID}: {len(vectors)} embeddings for {len(request.input)} inputs"
        )
    return vectors


async def rerank(endpoint: InferenceEndpoint, request: RerankRequest, ctx: CallContext) -> list[RerankResult]:
    """`POST /ml/v1/text/rerank` -> `results[*].{index,score,input.text}`, best first."""
    settings = endpoint.task_settings
    top_n = request.top_n if request.top_n is not None else settings.get("top_n")
    options: dict[str, Any] = {"inputs": bool(settings.get("return_documents", request.return_documents))}
    if top_n is not None:
        options["top_n"] = top_n
    parameters: dict[str, Any] = {"return_options": options}
    if settings.get("truncate_input_tokens") is not None:
        parameters["truncate_input_tokens"] = settings["truncate_input_tokens"]
    body = {
        "model_id": _ids(endpoint)["model_id"],
        "query": request.query,
        "inputs": [{"text": t} for t in request.input],
        "project_id": _ids(endpoint)["project_id"],
        "parameters": parameters,
    }
    answer = await _post(endpoint, "rerank", body, ctx)
    try:
        results = [
            RerankResult(
                index=int(item["index"]),
                score=float(item["score"]),
                text=(item.get("input") or {}).get("text") if options["inputs"] else None,
            )
            for item in answer["results"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidResponseError(
            f"{PROVIDER_ID}: the rerank answer has no results[].{{index,score}}"
        ) from None
    results.sort(key=lambda r: r.score, reverse=True)
    return results if top_n is None else results[:top_n]


PROVIDER = Provider(
    id=PROVIDER_ID,
    name="IBM watsonx",
    task_types=frozenset(TASK_TYPES),
    settings_schema=SETTINGS_SCHEMA,
    auth_schema=AUTH_SCHEMA,
    task_settings_schemas={TaskType.RERANK: RERANK_TASK_SETTINGS},
    parse_error=watsonx_error,
    chat_completion_stream=chat_completion_stream,
    chat_completion=chat_completion,
    completion=completion,
    text_embedding=text_embedding,
    rerank=rerank,
    urls=_urls,
    host_settings_env={"iam_url": IAM_URL_ENV},
    default_requests_per_minute=dict.fromkeys(TASK_TYPES, 120),
    description="IBM watsonx.ai foundation models (chat, embeddings, rerank), with IBM Cloud IAM auth.",
    docs_url="https://cloud.ibm.com/apidocs/watsonx-ai",
)


@hookimpl
def ai_connector_providers() -> list[Provider]:
    """Declare the IBM watsonx provider."""
    return [PROVIDER]
