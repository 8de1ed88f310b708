"""Building blocks for a provider's *Save & test* routine: a runner that times a call and turns its
typed error into a TestResult, and the default test of a provider that declares none."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ai_connector.errors import ConfigValidationError, HostNotAllowedError, ProviderError
from ai_connector.types import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    FailureKind,
    InferenceEndpoint,
    Provider,
    RerankRequest,
    SparseEmbeddingRequest,
    TaskType,
    TestFn,
    TestResult,
)

if TYPE_CHECKING:
    from ai_connector.context import CallContext

__all__ = ["MINIMAL_TEST_REQUESTS", "default_test", "run_test"]


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


def default_test(calls: Provider | Mapping[TaskType | str, Callable[..., Any]]) -> TestFn:
    """The *Save & test* of a provider that declares none: its own task call on minimal input
    (`MINIMAL_TEST_REQUESTS`), a chat stream read to its end, errors as a failed TestResult.

    `calls` is the provider (its calls are looked up when the test runs) or a map of task types to
    calls. Providers with a cheaper proof (a token-free endpoint that still checks the model) write
    their own.
    """
    by_task = None if isinstance(calls, Provider) else {TaskType(k): v for k, v in calls.items()}
    provider = calls if isinstance(calls, Provider) else None

    async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
        task = endpoint.task_type
        call = provider.call_for(task) if provider is not None else by_task[task]  # type: ignore[index]
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
