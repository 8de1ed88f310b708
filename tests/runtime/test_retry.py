"""Retries: 429/5xx and connection failures are retried with backoff (Retry-After honoured up to a
cap), a bounded number of times; never 400/401/403/404, never a spent quota, never once a stream has
started. Time is a fake clock: no test waits for real."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import pytest
from runtime_fakes import API_KEY, FakeClock, chunk, hello_params, hello_stream, make_connector, sse

from ai_connector.errors import (
    AuthenticationError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    StreamInterruptedError,
    UnreachableError,
)
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import Runtime, RuntimeSettings
from ai_connector.runtime.retry import RetryPolicy
from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest


def error(
    status: int, message: str = "try later", headers: dict[str, str] | None = None, code: str | None = None
):
    return FakeResponse.json({"error": {"message": message, "code": code}}, status, headers)


def sequence(*answers: FakeResponse) -> Callable[[RecordedRequest], FakeResponse]:
    """A handler answering with each FakeResponse in turn (the last one repeats)."""
    seen: list[int] = []

    def handler(_req: RecordedRequest) -> FakeResponse:
        seen.append(1)
        return answers[min(len(seen), len(answers)) - 1]

    return handler


async def test_429_with_retry_after_seconds_waits_then_succeeds(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/chat", sequence(error(429, headers={"retry-after": "2"}), hello_stream("ok")))
    answer = await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert answer["choices"][0]["message"]["content"] == "ok"
    assert clock.sleeps == [2.0]
    assert len(server.requests) == 2


async def test_429_with_retry_after_http_date_waits_until_then(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    server.add("POST", "/chat", sequence(error(429, headers={"retry-after": when}), hello_stream("ok")))
    await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert len(clock.sleeps) == 1 and 1.0 <= clock.sleeps[0] <= 3.5


async def test_retry_after_ms_is_read_too(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/chat", sequence(error(429, headers={"retry-after-ms": "1500"}), hello_stream("ok")))
    await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert clock.sleeps == [1.5]


async def test_a_retry_after_over_the_cap_fails_at_once_with_the_hint(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/chat", error(429, headers={"retry-after": "3600"}))
    with pytest.raises(RateLimitError) as info:
        await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert info.value.retry_after == 3600 and info.value.retryable
    assert clock.sleeps == [] and len(server.requests) == 1


async def test_repeated_5xx_stops_after_the_attempt_budget(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/chat", error(503, "overloaded"))
    with pytest.raises(ProviderServerError) as info:
        await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert info.value.status == 503 and "overloaded" in str(info.value)
    assert len(server.requests) == 3  # Kibana's default max attempts
    assert clock.sleeps == [0.25, 0.5]  # full jitter with random() = 0.5: 0.5 * 0.5, 0.5 * 1.0


async def test_the_attempt_budget_is_a_setting(
    registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/completion", error(500))
    settings = RuntimeSettings(max_attempts=5, transport="httpx")
    async with Runtime(registry, settings, clock=clock, sleep=clock.sleep, random=lambda: 1.0) as rt:
        with pytest.raises(ProviderServerError):
            await rt.execute(make_connector(registry, server.url, "completion"), "completion", {"input": "x"})
    assert len(server.requests) == 5
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, ModelNotFoundError),
    ],
)
async def test_client_errors_are_never_retried(
    runtime: Runtime,
    registry: ProviderRegistry,
    server: FakeServer,
    clock: FakeClock,
    status: int,
    kind: type[ProviderError],
) -> None:
    server.add("POST", "/completion", error(status, f"refused {API_KEY}"))
    with pytest.raises(kind) as info:
        await runtime.execute(
            make_connector(registry, server.url, "completion"), "completion", {"input": "x"}
        )
    assert len(server.requests) == 1 and clock.sleeps == []
    assert API_KEY not in str(info.value) and API_KEY not in (info.value.provider_message or "")


async def test_a_spent_quota_is_not_retried(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/chat", error(429, "You exceeded your current quota", code="insufficient_quota"))
    with pytest.raises(RateLimitError):
        await runtime.execute(make_connector(registry, server.url), "unified_completion", hello_params())
    assert len(server.requests) == 1 and clock.sleeps == []


async def test_no_retry_once_the_stream_has_started(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add(
        "POST",
        "/chat",
        FakeResponse(chunks=sse(chunk("a", role="assistant"), chunk("b"), done=False), abort_after=1),
    )
    connector = make_connector(registry, server.url)
    with pytest.raises(StreamInterruptedError):
        async for _ in runtime.stream(connector, hello_params()):
            pass
    with pytest.raises(StreamInterruptedError):
        await runtime.execute(connector, "unified_completion", hello_params())
    assert len(server.requests) == 2 and clock.sleeps == []


async def test_a_429_before_the_first_chunk_of_a_stream_is_retried(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/chat", sequence(error(429, headers={"retry-after": "1"}), hello_stream("x", "y")))
    chunks = [c async for c in runtime.stream(make_connector(registry, server.url), hello_params())]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "xy"
    assert clock.sleeps == [1.0] and len(server.requests) == 2


async def test_connection_refused_is_retried_then_reported_redacted(
    runtime: Runtime, registry: ProviderRegistry, clock: FakeClock
) -> None:
    connector = make_connector(registry, "http://127.0.0.1:9", "completion")
    with pytest.raises(UnreachableError) as info:
        await runtime.execute(connector, "completion", {"input": "x"})
    assert clock.sleeps == [0.25, 0.5]
    assert "127.0.0.1:9" in str(info.value)


async def test_backoff_never_runs_past_the_deadline(
    registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/completion", error(429, headers={"retry-after": "20"}))
    async with Runtime(registry, RuntimeSettings(transport="httpx"), clock=clock, sleep=clock.sleep) as rt:
        with pytest.raises(RateLimitError):
            await rt.execute(
                make_connector(registry, server.url, "completion"), "completion", {"input": "x"}, timeout=5
            )
    assert len(server.requests) == 1 and clock.sleeps == []


def test_policy_backoff_is_full_jitter_exponential_and_capped() -> None:
    policy = RetryPolicy(max_attempts=10)
    assert [policy.backoff(n, lambda: 1.0) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff(3, lambda: 0.0) == 0.0


@pytest.mark.parametrize("hint", [None, 0.0, -1.0])
def test_policy_treats_a_zero_or_missing_hint_as_absent(hint: float | None) -> None:
    err = RateLimitError("slow down", status=429, retry_after=hint)
    assert RetryPolicy().delay_after(err, 1, lambda: 1.0) == 0.5


def test_policy_never_retries_a_client_status_even_if_marked_retryable() -> None:
    for status in (400, 401, 403, 404):
        assert (
            RetryPolicy().delay_after(ProviderError("x", status=status, retryable=True), 1, lambda: 1.0)
            is None
        )
    assert (
        RetryPolicy().delay_after(ProviderServerError("x", status=502), 3, lambda: 1.0) is None
    )  # budget spent
