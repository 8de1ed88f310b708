"""The plugin contract's data types: what a provider declares and what flows through its calls.

Everything here is a small frozen (or slotted) dataclass so that plugins and the host agree on one
shape without paying pydantic's cost on the hot path of every streamed chunk.
"""

from __future__ import annotations

import enum
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ai_connector.calling import Caller, bind
from ai_connector.errors import (  # FailureKind is defined with the errors that carry it; re-exported
    ConfigValidationError,
    FailureKind,
    HostNotAllowedError,
    ProviderError,
)

if TYPE_CHECKING:
    from ai_connector.context import CallContext

__all__ = [
    "CHAT_OPTIONS",
    "MINIMAL_TEST_REQUESTS",
    "ChatChunk",
    "ChatRequest",
    "CompletionRequest",
    "EmbeddingRequest",
    "FailureKind",
    "InferenceEndpoint",
    "Provider",
    "RerankRequest",
    "RerankResult",
    "Secrets",
    "SparseEmbeddingRequest",
    "TaskType",
    "TestResult",
    "ToolCallDelta",
    "Usage",
    "default_test",
    "run_test",
]


class TaskType(enum.StrEnum):
    """The Elasticsearch inference task types a connector can be created for."""

    COMPLETION = "completion"
    CHAT_COMPLETION = "chat_completion"
    TEXT_EMBEDDING = "text_embedding"
    SPARSE_EMBEDDING = "sparse_embedding"
    RERANK = "rerank"


_PROVIDER_ID = re.compile(r"^[a-z][a-z0-9_\-]{1,63}$")


class Secrets(Mapping[str, str]):
    """A read-only mapping of secret values whose repr and str never show a value."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, str] = {k: v for k, v in (data or {}).items() if v is not None and v != ""}

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return "Secrets(" + ", ".join(f"{k}='**********'" for k in self._data) + ")"

    __str__ = __repr__

    def values_for_redaction(self) -> list[str]:
        """Every secret value, for the host's redactor; longest first so overlaps redact fully."""
        return sorted((v for v in self._data.values() if isinstance(v, str) and v), key=len, reverse=True)

    def __reduce__(self) -> Any:  # pickling would write secrets somewhere we do not control
        raise TypeError("Secrets cannot be pickled")


@dataclass(frozen=True, slots=True)
class InferenceEndpoint:
    """What a provider call receives: one saved connector resolved for its provider.

    `settings` is the connector's providerConfig un-flattened (Kibana's `service_settings`, less the
    secrets), `task_settings` its taskTypeConfig, `secrets` its providerSecrets. Schema defaults are
    already applied and values validated against the provider's schemas.
    """

    inference_id: str
    task_type: TaskType
    settings: Mapping[str, Any]
    secrets: Secrets = field(default_factory=Secrets)
    task_settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    connector_id: str | None = None


# ---------------------------------------------------------------------------------------------
# Requests and results of the inference calls


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat completion request in OpenAI's shape, as Kibana's `unified_completion` takes it.

    `messages` are OpenAI chat messages (`role`, `content`, `name`, `tool_calls`, `tool_call_id`);
    `tools`/`tool_choice` are OpenAI's. A provider translates these into its own wire format and
    drops what its service cannot express.
    """

    messages: Sequence[Mapping[str, Any]]
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: Sequence[str] | None = None
    tools: Sequence[Mapping[str, Any]] | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    user: str | None = None
    metadata: Mapping[str, str] | None = None
    # Kibana's `telemetryMetadata.pluginId`: which feature asked (Elastic's X-Elastic-Product-Use-Case)
    use_case: str | None = None


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A plain completion: one input string, as ES's `completion` task takes it; `max_tokens` bounds
    the answer where the service can (the default *Save & test* asks for one token)."""

    input: str
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Dense embeddings for each input; `input_type` is Kibana's `inputType` (`ingest`/`search`)."""

    input: Sequence[str]
    input_type: str | None = None


@dataclass(frozen=True, slots=True)
class SparseEmbeddingRequest:
    """Sparse (token -> weight) embeddings for each input."""

    input: Sequence[str]


@dataclass(frozen=True, slots=True)
class RerankRequest:
    """Score each input against the query; `top_n` limits how many results come back."""

    query: str
    input: Sequence[str]
    top_n: int | None = None
    return_documents: bool = True


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One reranked input: its position in the request, its relevance score and, optionally, its text."""

    index: int
    score: float
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts, as OpenAI reports them in the last chunk of a stream."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None

    def to_dict(self) -> dict[str, int]:
        """OpenAI's `usage` object; total is computed when the provider gave none."""
        total = self.total_tokens
        if total is None:
            total = self.prompt_tokens + self.completion_tokens
        return {
            "completion_tokens": self.completion_tokens,
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": total,
        }


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call; pieces with the same `index` are concatenated by the aggregator."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """OpenAI's `delta.tool_calls[]` item."""
        out: dict[str, Any] = {"index": self.index}
        if self.id is not None:
            out["id"] = self.id
            out["type"] = "function"
        fn: dict[str, str] = {}
        if self.name is not None:
            fn["name"] = self.name
        if self.arguments is not None:
            fn["arguments"] = self.arguments
        if fn:
            out["function"] = fn
        return out


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One unified streaming event: an OpenAI `chat.completion.chunk` with a single choice.

    Providers yield these whatever their wire format; a chunk with only `usage` set is the final
    usage chunk (rendered with `choices: []`, as OpenAI does).
    """

    role: str | None = None
    content: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    refusal: str | None = None  # a piece of the model's refusal (OpenAI's `delta.refusal`)

    @property
    def is_usage_only(self) -> bool:
        """True for the trailing chunk that carries only token usage."""
        return (
            self.usage is not None
            and self.role is None
            and self.content is None
            and not self.tool_calls
            and self.finish_reason is None
            and self.refusal is None
        )

    def to_openai(self, *, id: str, model: str, created: int) -> dict[str, Any]:
        """Render as OpenAI's chunk JSON; `id`/`model`/`created` come from the stream when missing here."""
        out: dict[str, Any] = {
            "id": self.id or id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": self.model or model,
        }
        if self.is_usage_only:
            out["choices"] = []
        else:
            delta: dict[str, Any] = {}
            if self.role is not None:
                delta["role"] = self.role
            if self.content is not None:
                delta["content"] = self.content
            if self.refusal is not None:
                delta["refusal"] = self.refusal
            if self.tool_calls:
                delta["tool_calls"] = [t.to_dict() for t in self.tool_calls]
            out["choices"] = [{"index": 0, "delta": delta, "finish_reason": self.finish_reason}]
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class TestResult:
    """The outcome of *Save & test*: succeeded or not, why, and how long the provider took."""

    __test__ = False  # not a pytest test class, despite its name

    ok: bool
    message: str
    latency_ms: float | None = None
    failure: FailureKind | None = None
    status_code: int | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and CLI."""
        return {
            "status": "succeeded" if self.ok else "failed",
            "message": self.message,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "failure": None if self.failure is None else self.failure.value,
            "status_code": self.status_code,
        }


# ---------------------------------------------------------------------------------------------
# The provider declaration

TestFn = Callable[[InferenceEndpoint, "CallContext"], Awaitable[TestResult]]
ChatStreamFn = Callable[[InferenceEndpoint, ChatRequest, "CallContext"], AsyncIterator[ChatChunk]]
ChatAnswerFn = Callable[[InferenceEndpoint, ChatRequest, "CallContext"], Awaitable[Sequence[ChatChunk]]]
CompletionFn = Callable[[InferenceEndpoint, CompletionRequest, "CallContext"], Awaitable[list[str]]]
CompletionStreamFn = Callable[[InferenceEndpoint, CompletionRequest, "CallContext"], AsyncIterator[ChatChunk]]
EmbeddingFn = Callable[[InferenceEndpoint, EmbeddingRequest, "CallContext"], Awaitable[list[list[float]]]]
SparseEmbeddingFn = Callable[
    [InferenceEndpoint, SparseEmbeddingRequest, "CallContext"], Awaitable[list[dict[str, float]]]
]
RerankFn = Callable[[InferenceEndpoint, RerankRequest, "CallContext"], Awaitable[list[RerankResult]]]
UrlsFn = Callable[[InferenceEndpoint, Mapping[str, Any]], Sequence[str]]
SaveHookFn = Callable[[InferenceEndpoint, "CallContext", bool], Awaitable[None]]
DeleteHookFn = Callable[[InferenceEndpoint, "CallContext"], Awaitable[None]]
ErrorParserFn = Callable[[int, Mapping[str, str], bytes], "ProviderError"]

# Which call serves which task type; the collector checks a provider declares one for each.
CALL_FOR_TASK: Mapping[TaskType, str] = MappingProxyType(
    {
        TaskType.CHAT_COMPLETION: "chat_completion_stream",
        TaskType.COMPLETION: "completion",
        TaskType.TEXT_EMBEDDING: "text_embedding",
        TaskType.SPARSE_EMBEDDING: "sparse_embedding",
        TaskType.RERANK: "rerank",
    }
)


# The optional ChatRequest fields a provider may or may not carry to its service (Provider.chat_options).
CHAT_OPTIONS = frozenset({"user", "metadata"})


# The coroutine calls bound to their provider (see ai_connector.calling); the chat stream is bound apart.
_BOUND_CALLS = (
    "test",
    "chat_completion",
    "completion",
    "text_embedding",
    "sparse_embedding",
    "rerank",
    "on_save",
    "on_delete",
)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, JSON-serialisable deep copy of a frozen schema (for jsonschema and json.dumps)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One LLM service, as a plugin declares it from `ai_connector_providers()`.

    `id` is the Kibana/Elasticsearch service key (`openai`, `amazonbedrock`, ...). The schemas are
    JSON Schema 2020-12 objects that satisfy `schemas/provider-schema.meta.json`; `settings_schema`
    holds non-secret settings (Kibana's providerConfig), `auth_schema` the secrets (providerSecrets),
    `task_settings_schemas` the per-task-type settings (taskTypeConfig). Each task type in
    `task_types` needs its call: `chat_completion` -> `chat_completion_stream`, `completion` ->
    `completion`, and so on; a chat provider whose service also answers without streaming may add
    `chat_completion` (the non-streamed `unified_completion` then uses it). Calls are coroutines
    (the chat stream an async generator) that use only the `CallContext` they are given for I/O.
    Without a `test`, *Save & test* runs the connector's task call on Kibana-style minimal input
    (`ai_connector.routines.default_test`). `parse_error` turns an error answer (status, headers,
    body) into the typed error the context's JSON and SSE helpers raise. The calls are bound to the
    provider: errors raised inside them name it.
    """

    id: str
    name: str
    task_types: frozenset[TaskType]
    settings_schema: Mapping[str, Any]
    auth_schema: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    task_settings_schemas: Mapping[TaskType, Mapping[str, Any]] = field(default_factory=dict)
    test: TestFn | None = None  # always set after __post_init__
    chat_completion_stream: ChatStreamFn | None = None
    chat_completion: ChatAnswerFn | None = None
    """Optional: the same chat request answered without streaming (one JSON answer), returned as the
    ChatChunks its stream would have carried (`openai_kit.answer_chunks` builds them from an OpenAI
    `chat.completion`). The host then uses it for the non-streamed `unified_completion`, folding
    those chunks exactly as it folds a stream; without it that sub-action reads and folds the stream."""
    completion: CompletionFn | None = None
    completion_stream: CompletionStreamFn | None = None
    """ES's streamed completion (`_inference/completion/{id}/_stream`), for a service that streams
    its completion task; optional, and no sub-action uses it (Kibana's `completion` is one piece)."""
    text_embedding: EmbeddingFn | None = None
    sparse_embedding: SparseEmbeddingFn | None = None
    rerank: RerankFn | None = None
    parse_error: ErrorParserFn | None = None
    urls: UrlsFn | None = None
    """The URLs a connector will call (for the allowedHosts check at save), from its settings and
    the host's settings for this provider."""
    host_settings_env: Mapping[str, str] = field(default_factory=dict)
    """Host-level settings this provider reads from `ctx.host_settings`, each with the environment
    variable that sets it (e.g. `{"url": "AI_CONNECTOR_ELASTICSEARCH_URL"}`); the host's config file
    (`[provider_settings.<id>]`) wins over the environment."""
    on_save: SaveHookFn | None = None
    """Kibana's preSaveHook: called with `is_update` before a connector is stored; raising aborts the
    save (e.g. the elastic provider creates its Elasticsearch inference endpoint here)."""
    on_delete: DeleteHookFn | None = None
    """Kibana's postDeleteHook: called after a connector is deleted; failures are logged, not fatal."""
    default_requests_per_minute: Mapping[TaskType, int] = field(default_factory=dict)
    """ES's default `rate_limit.requests_per_minute` per task type, used when a connector sets none."""
    description: str = ""
    docs_url: str | None = None
    api_version: int = 1
    chat_options: frozenset[str] = frozenset()
    """The optional `ChatRequest` fields (of CHAT_OPTIONS: `user`, `metadata`) this provider carries to
    its service, as it is or in the service's own field (Anthropic's `metadata.user_id`); the
    OpenAI-compatible route refuses one that is not listed rather than let it drop silently."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _PROVIDER_ID.match(self.id):
            raise ValueError(
                f"provider id {self.id!r} is invalid: use 2-64 lowercase letters, digits, '_' or '-'"
            )
        try:
            task_types = frozenset(TaskType(t) for t in self.task_types)
        except ValueError as exc:
            known = ", ".join(t.value for t in TaskType)
            raise ValueError(
                f"provider {self.id!r} declares an unknown task type ({exc}); known: {known}"
            ) from None
        if not task_types:
            raise ValueError(f"provider {self.id!r} declares no task type")
        object.__setattr__(self, "task_types", task_types)
        object.__setattr__(self, "settings_schema", _freeze(self.settings_schema))
        object.__setattr__(self, "auth_schema", _freeze(self.auth_schema))
        object.__setattr__(
            self,
            "task_settings_schemas",
            MappingProxyType({TaskType(k): _freeze(v) for k, v in self.task_settings_schemas.items()}),
        )
        object.__setattr__(self, "host_settings_env", MappingProxyType(dict(self.host_settings_env)))
        options = frozenset(self.chat_options)
        if not options <= CHAT_OPTIONS:
            raise ValueError(
                f"provider {self.id!r} declares unknown chat options {sorted(options - CHAT_OPTIONS)}"
            )
        object.__setattr__(self, "chat_options", options)
        object.__setattr__(
            self,
            "default_requests_per_minute",
            MappingProxyType({TaskType(k): int(v) for k, v in self.default_requests_per_minute.items()}),
        )
        for task in task_types:
            if getattr(self, CALL_FOR_TASK[task]) is None:
                raise ValueError(
                    f"provider {self.id!r} declares task type {task.value!r} but no "
                    f"{CALL_FOR_TASK[task]!r} call"
                )
        test = getattr(self.test, "__wrapped__", self.test)
        if test is None or getattr(test, "ai_connector_default", False):  # replace() rebuilds it
            object.__setattr__(self, "test", default_test(self))
        if not callable(self.test):
            raise ValueError(f"provider {self.id!r} has no callable test routine")
        caller = Caller(self.id, self.parse_error)
        for name in _BOUND_CALLS:
            object.__setattr__(self, name, bind(getattr(self, name), caller))
        for name in ("chat_completion_stream", "completion_stream"):
            object.__setattr__(self, name, bind(getattr(self, name), caller, stream=True))

    def call_for(self, task_type: TaskType | str) -> Callable[..., Any] | None:
        """The inference call that serves `task_type`, or None when the provider lacks it."""
        name = CALL_FOR_TASK.get(TaskType(task_type))
        return None if name is None else getattr(self, name)


# ---------------------------------------------------------------------------------------------
# Save & test: the runner every test routine uses, and the default routine (beside Provider, which
# builds it for a provider that declares none; `ai_connector.routines` is their public home)


async def run_test(call: Callable[[], Awaitable[Any]], *, success_message: str | None = None) -> TestResult:
    """Await `call()`, timing it; a ProviderError, a refused host or a ConfigValidationError becomes a
    failed TestResult.

    Any other exception propagates: the host reports it as an internal failure, redacted.
    """
    start = time.perf_counter()
    try:
        await call()
    except ProviderError as exc:
        return TestResult(
            ok=False,
            message=exc.message,
            latency_ms=(time.perf_counter() - start) * 1000.0,
            failure=exc.kind,
            status_code=exc.status,
        )
    except HostNotAllowedError as exc:
        return TestResult(ok=False, message=str(exc), failure=FailureKind.HOST_NOT_ALLOWED)
    except ConfigValidationError as exc:  # settings the schema cannot express (e.g. a missing host URL)
        return TestResult(ok=False, message=str(exc), failure=FailureKind.CONFIG)
    latency = (time.perf_counter() - start) * 1000.0
    return TestResult(ok=True, message=success_message or "Connector test succeeded", latency_ms=latency)


# The default *Save & test* inputs: the cheapest call that still proves key, URL and model together
# (Kibana's own test sends "Hello world"; one token, one word and two documents keep it cheap).
_HELLO = "Hello world"
MINIMAL_TEST_REQUESTS: Mapping[TaskType, Any] = MappingProxyType(
    {
        TaskType.CHAT_COMPLETION: ChatRequest(messages=({"role": "user", "content": _HELLO},), max_tokens=1),
        TaskType.COMPLETION: CompletionRequest(input=_HELLO, max_tokens=1),
        TaskType.TEXT_EMBEDDING: EmbeddingRequest(input=(_HELLO,)),
        TaskType.SPARSE_EMBEDDING: SparseEmbeddingRequest(input=(_HELLO,)),
        TaskType.RERANK: RerankRequest(query="star wars", input=("luke", "leia"), top_n=1),
    }
)


def default_test(
    calls: Provider | Mapping[TaskType, Callable[..., Any]] | Mapping[str, Callable[..., Any]],
) -> TestFn:
    """The *Save & test* of a provider that declares none: its own task call on minimal input
    (`MINIMAL_TEST_REQUESTS`), a chat stream read to its end, errors as a failed TestResult.

    `calls` is the provider (its calls are looked up when the test runs) or a map of task types to
    calls. Providers with a cheaper proof (a token-free endpoint that still checks the model) write
    their own.
    """
    by_task = {} if isinstance(calls, Provider) else {TaskType(k): v for k, v in calls.items()}
    provider = calls if isinstance(calls, Provider) else None

    async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
        task = endpoint.task_type
        call = provider.call_for(task) if provider is not None else by_task[task]
        assert call is not None, "validation admits only endpoints of a task the provider serves"
        request = MINIMAL_TEST_REQUESTS[task]

        async def invoke() -> None:
            if task is TaskType.CHAT_COMPLETION:
                async for _ in call(endpoint, request, ctx):
                    pass
            else:
                await call(endpoint, request, ctx)

        return await run_test(invoke)

    test.ai_connector_default = True  # type: ignore[attr-defined]  # rebuilt by dataclasses.replace
    return test
