"""A whole provider for an OpenAI-compatible service, from one declaration.

`openai_compatible(id=..., name=..., base_url=...)` returns a `Provider` whose settings are ES's
(`url`, `model_id`, `rate_limit`), whose secret is an `api_key` (required, optional or absent),
whose calls speak OpenAI's wire through `ai_connector.openai_kit`, and whose *Save & test* is a
one-token call (or, with `list_models_test`, `GET /models` and whether the model is among them).
Subclass `OpenAICompatible` and override a method (`request_url`, `request_headers`, `chat_body`,
`parse_error`...) for a service that differs in one place, as Azure OpenAI does in its URL and auth
header; a subclass that also serves `rerank` or `sparse_embedding` defines that method and lists the
task type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ai_connector import fields, openai_kit
from ai_connector.context import CallContext
from ai_connector.errors import ProviderError
from ai_connector.routines import default_test, run_test
from ai_connector.types import (
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    FailureKind,
    InferenceEndpoint,
    Provider,
    TaskType,
    TestFn,
    TestResult,
)

__all__ = ["OpenAICompatible", "openai_compatible"]

_ALL_TASKS = frozenset({TaskType.CHAT_COMPLETION, TaskType.COMPLETION, TaskType.TEXT_EMBEDDING})
_USER_TASK_SETTINGS: dict[str, Any] = fields.schema(
    {"user": {"type": "string", "title": "User", "description": "Specifies the user issuing the request."}}
)


@dataclass(frozen=True, kw_only=True)
class OpenAICompatible:
    """An OpenAI-compatible service: what differs between them, as data, and the calls built on it.

    `base_url` is the default of the connector's `url` setting (the API root, e.g.
    `https://api.groq.com/openai/v1`); None makes `url` required. `api_key` says whether the key is
    `"required"`, `"optional"` (local servers) or `"none"`. `headers` are sent on every request.
    """

    id: str
    name: str
    base_url: str | None = None
    api_key: Literal["required", "optional", "none"] = "required"
    task_types: Iterable[TaskType | str] = _ALL_TASKS
    headers: Mapping[str, str] = field(default_factory=dict)
    max_tokens_field: str = "max_tokens"
    list_models_test: bool = False
    whole_chat: bool = True
    """Whether a non-streamed `unified_completion` asks for one `chat.completion` (faster than
    reading and folding a stream: `benchmarks/nonstream.py`); False keeps the stream for a service
    whose non-streamed answer is not the same."""
    description: str = ""
    docs_url: str | None = None
    default_requests_per_minute: Mapping[TaskType, int] = field(default_factory=dict)
    chat_options: frozenset[str] = frozenset({"user"})  # OpenAI's chat body carries `user` (chat_body)

    # -- declaration --------------------------------------------------------------------------------
    def settings_schema(self) -> dict[str, Any]:
        """ES's `url`, `model_id` and `rate_limit` settings."""
        url = {
            "type": "string",
            "title": "URL",
            "description": f"The base URL of the {self.name} API (the part before `/chat/completions`).",
            "format": "uri",
            "x-updatable": False,
        }
        if self.base_url:
            url["default"] = self.base_url
        return fields.schema(
            {"url": url, "model_id": fields.model_id(), "rate_limit": fields.rate_limit()},
            required=["model_id"] if self.base_url else ["url", "model_id"],
        )

    def auth_schema(self) -> dict[str, Any]:
        """The `api_key` secret, required or optional; no field when the service takes none."""
        if self.api_key == "none":
            return fields.schema({})
        return fields.schema(
            {"api_key": fields.api_key()}, required=["api_key"] if self.api_key == "required" else []
        )

    def task_settings_schemas(self) -> dict[TaskType, dict[str, Any]]:
        """OpenAI's `user` task setting for every task type."""
        return {TaskType(t): _USER_TASK_SETTINGS for t in self.task_types}

    # -- what each request carries ------------------------------------------------------------------
    def request_url(self, endpoint: InferenceEndpoint) -> str:
        """The URL the endpoint's task posts to: the base URL plus `/chat/completions` or `/embeddings`."""
        base = endpoint.settings.get("url") or self.base_url or fields.require(endpoint, "url", "URL")
        path = "embeddings" if endpoint.task_type is TaskType.TEXT_EMBEDDING else "chat/completions"
        return f"{base.rstrip('/')}/{path}"

    def request_params(self, endpoint: InferenceEndpoint) -> dict[str, str] | None:
        """Query parameters for every request (none by default)."""
        return None

    def auth_headers(self, endpoint: InferenceEndpoint) -> dict[str, str]:
        """`Authorization: Bearer <api_key>` (a ConfigValidationError when a required key is missing)."""
        if self.api_key == "required":
            return {"Authorization": f"Bearer {fields.require(endpoint, 'api_key', 'API Key', secret=True)}"}
        key = endpoint.secrets.get("api_key") if self.api_key == "optional" else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request_headers(self, endpoint: InferenceEndpoint) -> dict[str, str]:
        """The connector's custom headers, the service's, then the auth headers (which win)."""
        auth = self.auth_headers(endpoint)
        own = {k.lower() for k in auth}
        headers = {k: v for k, v in {**endpoint.headers, **self.headers}.items() if k.lower() not in own}
        headers.update(auth)
        return headers

    def model(self, endpoint: InferenceEndpoint, override: str | None = None) -> str:
        """The request's model, else the connector's `model_id` ("" sends none: the URL chose it)."""
        return override or fields.require(endpoint, "model_id", "Model ID")

    def _with_user(self, endpoint: InferenceEndpoint, body: dict[str, Any]) -> dict[str, Any]:
        if "user" not in body and (user := endpoint.task_settings.get("user")):
            body["user"] = user
        return body

    def tokens_field(self, endpoint: InferenceEndpoint) -> str:
        """The body's name for the answer's token limit (`max_tokens`, or `max_completion_tokens`)."""
        return self.max_tokens_field

    def chat_body(self, endpoint: InferenceEndpoint, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The `/chat/completions` body for a chat request (streamed or not)."""
        body = openai_kit.chat_request_to_openai(
            request,
            model=self.model(endpoint, request.model),
            stream=stream,
            max_tokens_field=self.tokens_field(endpoint),
        )
        return self._with_user(endpoint, body)

    def completion_body(self, endpoint: InferenceEndpoint, request: CompletionRequest) -> dict[str, Any]:
        """ES's `completion`: one non-streaming chat call with the input as the user message."""
        body: dict[str, Any] = {"messages": [{"role": "user", "content": request.input}], "n": 1}
        if model := self.model(endpoint):
            body = {"model": model, **body}
        if request.max_tokens is not None:
            body[self.tokens_field(endpoint)] = request.max_tokens
        return self._with_user(endpoint, body)

    def embedding_body(self, endpoint: InferenceEndpoint, request: EmbeddingRequest) -> dict[str, Any]:
        """The `/embeddings` body; `dimensions` when the connector sets it."""
        body: dict[str, Any] = {"input": list(request.input)}
        if model := self.model(endpoint):
            body = {"model": model, **body}
        if endpoint.settings.get("dimensions") is not None:
            body["dimensions"] = endpoint.settings["dimensions"]
        return self._with_user(endpoint, body)

    # -- the calls ----------------------------------------------------------------------------------
    def chat_completion_stream(
        self, endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
    ) -> AsyncIterator[ChatChunk]:
        """Stream a chat completion; settings refused before any request raise here, not mid-stream."""
        return openai_kit.stream_chat(
            ctx,
            self.request_url(endpoint),
            body=self.chat_body(endpoint, request, stream=True),
            headers=self.request_headers(endpoint),
            params=self.request_params(endpoint),
        )

    async def chat_completion(
        self, endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
    ) -> list[ChatChunk]:
        """The same chat request without streaming: one `chat.completion`, as the chunks its stream
        would carry (`openai_kit.answer_chunks`)."""
        return await openai_kit.answer_chat(
            ctx,
            self.request_url(endpoint),
            body=self.chat_body(endpoint, request, stream=False),
            headers=self.request_headers(endpoint),
            params=self.request_params(endpoint),
        )

    async def _post(self, endpoint: InferenceEndpoint, body: dict[str, Any], ctx: CallContext) -> Any:
        return await ctx.send_json(
            "POST",
            self.request_url(endpoint),
            json=body,
            headers=self.request_headers(endpoint),
            params=self.request_params(endpoint),
        )

    async def completion(
        self, endpoint: InferenceEndpoint, request: CompletionRequest, ctx: CallContext
    ) -> list[str]:
        """ES's `completion`: the assistant's text as a one-item list."""
        return openai_kit.completion_results(
            await self._post(endpoint, self.completion_body(endpoint, request), ctx)
        )

    async def text_embedding(
        self, endpoint: InferenceEndpoint, request: EmbeddingRequest, ctx: CallContext
    ) -> list[list[float]]:
        """One vector per input, in input order."""
        answer = await self._post(endpoint, self.embedding_body(endpoint, request), ctx)
        return openai_kit.embedding_vectors(answer, len(request.input))

    async def models_test(self, endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
        """*Save & test* by `GET <url>/models`: succeeds when the connector's model is listed, fails as
        model_not_found with the listed ids when it is not; a server without `/models` gets the
        one-token call instead."""
        model = self.model(endpoint)
        base = endpoint.settings.get("url") or self.base_url or fields.require(endpoint, "url", "URL")
        listed: list[str] = []

        async def call() -> None:
            answer = await ctx.send_json(
                "GET", f"{base.rstrip('/')}/models", headers=self.request_headers(endpoint)
            )
            data = answer.get("data") if isinstance(answer, Mapping) else None
            listed.extend(str(m.get("id")) for m in data or () if isinstance(m, Mapping) and m.get("id"))

        result = await run_test(call)
        if not result.ok:
            if result.status_code in (404, 405):  # no model listing here: prove it with a real call
                return await self._fallback_test(endpoint, ctx)
            return result
        if model in listed:
            return TestResult(
                ok=True,
                message=f"Connected: the server lists {len(listed)} models, {model!r} among them",
                latency_ms=result.latency_ms,
            )
        shown = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "")
        return TestResult(
            ok=False,
            message=f"The server does not list the model {model!r}; it lists: {shown or 'no model'}",
            latency_ms=result.latency_ms,
            failure=FailureKind.MODEL_NOT_FOUND,
        )

    async def _fallback_test(self, endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
        calls: dict[TaskType | str, Any] = {t: c for t, c in self._calls().items()}
        return await default_test(calls)(endpoint, ctx)

    def _calls(self) -> dict[TaskType, Any]:
        calls: dict[TaskType, Callable[..., Any] | None] = {
            TaskType.CHAT_COMPLETION: self.chat_completion_stream,
            TaskType.COMPLETION: self.completion,
            TaskType.TEXT_EMBEDDING: self.text_embedding,
            TaskType.SPARSE_EMBEDDING: getattr(self, "sparse_embedding", None),  # a subclass's own
            TaskType.RERANK: getattr(self, "rerank", None),
        }
        declared = {TaskType(x) for x in self.task_types}
        return {t: c for t, c in calls.items() if t in declared and c is not None}

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """The typed error for an error answer: OpenAI's error bodies (`openai_kit.parse_error`)."""
        return openai_kit.parse_error(status, headers, body)

    def urls(self, endpoint: InferenceEndpoint, host_settings: Mapping[str, Any]) -> list[str]:
        """The URL a connector calls, for the allowedHosts check at save."""
        return [self.request_url(endpoint)]

    def test(self) -> TestFn | None:
        """The *Save & test* routine: listing models when asked to, else the core's default."""
        return self.models_test if self.list_models_test else None

    def provider(self) -> Provider:
        """The whole Provider."""
        calls = self._calls()
        return Provider(
            id=self.id,
            name=self.name,
            task_types=frozenset(calls),
            settings_schema=self.settings_schema(),
            auth_schema=self.auth_schema(),
            task_settings_schemas=self.task_settings_schemas(),
            test=self.test(),
            chat_completion_stream=calls.get(TaskType.CHAT_COMPLETION),
            chat_completion=self.chat_completion
            if self.whole_chat and TaskType.CHAT_COMPLETION in calls
            else None,
            completion=calls.get(TaskType.COMPLETION),
            text_embedding=calls.get(TaskType.TEXT_EMBEDDING),
            sparse_embedding=calls.get(TaskType.SPARSE_EMBEDDING),
            rerank=calls.get(TaskType.RERANK),
            parse_error=self.parse_error,
            urls=self.urls,
            default_requests_per_minute=self.default_requests_per_minute,
            description=self.description or f"{self.name}, an OpenAI-compatible API.",
            docs_url=self.docs_url,
            chat_options=self.chat_options,
        )


def openai_compatible(
    *,
    id: str,
    name: str,
    base_url: str | None = None,
    api_key: Literal["required", "optional", "none"] = "required",
    task_types: Iterable[TaskType | str] = _ALL_TASKS,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> Provider:
    """A whole Provider for an OpenAI-compatible service (see `OpenAICompatible` for the options)."""
    return OpenAICompatible(
        id=id,
        name=name,
        base_url=base_url,
        api_key=api_key,
        task_types=task_types,
        headers=headers or {},
        **options,
    ).provider()
