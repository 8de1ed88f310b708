"""Building blocks for a provider's *Save & test* routine: Kibana's default test inputs and a
runner that times a call and turns its typed error into a TestResult."""

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
    RerankRequest,
    SparseEmbeddingRequest,
    TaskType,
    TestFn,
    TestResult,
)

if TYPE_CHECKING:
    from ai_connector.context import CallContext

__all__ = ["KIBANA_TEST_REQUESTS", "default_test", "run_test"]

_SKY = "The sky above the port was the color of television tuned to a dead channel."

# Kibana's default test params (stack_connectors public/connector_types/inference/constants.tsx).
KIBANA_TEST_REQUESTS: Mapping[TaskType, Any] = MappingProxyType(
    {
        TaskType.CHAT_COMPLETION: ChatRequest(messages=({"role": "user", "content": "Hello world"},)),
        TaskType.COMPLETION: CompletionRequest(input="What is Elastic?"),
        TaskType.RERANK: RerankRequest(
            input=("luke", "like", "leia", "chewy", "r2d2", "star", "wars"),
            query="star wars main character",
        ),
        TaskType.SPARSE_EMBEDDING: SparseEmbeddingRequest(input=(_SKY,)),
        TaskType.TEXT_EMBEDDING: EmbeddingRequest(input=(_SKY,), input_type="ingest"),
    }
)


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


def default_test(calls: Mapping[TaskType | str, Callable[..., Any]]) -> TestFn:
    """A test routine that runs the connector's own task call with Kibana's default input.

    `calls` maps task types to the provider's inference calls; a chat stream is read to its end.
    Providers with a cheaper proof (a token-free endpoint that still checks the model) write their own.
    """
    by_task = {TaskType(k): v for k, v in calls.items()}

    async def test(endpoint: InferenceEndpoint, ctx: CallContext) -> TestResult:
        call = by_task[endpoint.task_type]
        request = KIBANA_TEST_REQUESTS[endpoint.task_type]

        async def invoke() -> None:
            if endpoint.task_type is TaskType.CHAT_COMPLETION:
                async for _ in call(endpoint, request, ctx):
                    pass
            else:
                await call(endpoint, request, ctx)

        return await run_test(invoke)

    return test
