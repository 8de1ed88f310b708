"""Per-connector rate limit: a token bucket at `rate_limit.requests_per_minute` (else the provider's
ES default); over the limit a caller waits up to its timeout, then gets a rate-limit error. Nothing is
dropped silently; a refused caller does not push the others back. Time is a fake clock."""

from __future__ import annotations

import asyncio

import pytest
from runtime_fakes import FakeClock, make_connector

from ai_connector.errors import RateLimitError
from ai_connector.manager import ProviderRegistry
from ai_connector.runtime import Runtime
from ai_connector.runtime.ratelimit import RateLimiter, TokenBucket
from ai_connector.testing import FakeResponse, FakeServer
from ai_connector.types import FailureKind

COMPLETION = FakeResponse.json({"completion": [{"result": "ok"}]})
EMBEDDING = FakeResponse.json({"text_embedding": [{"embedding": [1.0]}]})


def test_bucket_starts_full_then_spaces_requests(clock: FakeClock) -> None:
    bucket = TokenBucket(120, clock)  # 2 a second, holds 2
    assert [bucket.reserve(10) for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve(10) == pytest.approx(0.5)
    assert bucket.reserve(10) == pytest.approx(1.0)  # queued behind the previous waiter
    clock.now += 1.0
    assert bucket.reserve(10) == pytest.approx(0.5)


def test_a_refused_reservation_takes_nothing(clock: FakeClock) -> None:
    bucket = TokenBucket(60, clock)
    assert bucket.reserve(0) == 0.0
    assert bucket.reserve(0.5) is None
    assert bucket.reserve(0.5) is None
    assert bucket.reserve(1.0) == pytest.approx(1.0)  # the refusals did not push this slot back


def test_a_slow_limit_holds_one_token(clock: FakeClock) -> None:
    bucket = TokenBucket(50, clock)  # anthropic's ES default
    assert bucket.capacity == 1.0
    assert bucket.reserve(60) == 0.0
    assert bucket.reserve(60) == pytest.approx(1.2)


async def test_limiter_waits_then_refuses_past_the_callers_time(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    await limiter.acquire("c1", 60, 5)
    await limiter.acquire("c1", 60, 5)
    assert clock.sleeps == [pytest.approx(1.0)]
    with pytest.raises(RateLimitError) as info:
        await limiter.acquire("c1", 60, 0.5)
    assert info.value.kind is FailureKind.RATE_LIMITED and info.value.retry_after == pytest.approx(1.0)
    assert "rate limit of 60 requests per minute" in str(info.value)
    await limiter.acquire("c1", None, 0)  # no limit: never waits
    assert len(clock.sleeps) == 1


async def test_a_cancelled_waiter_gives_its_slot_back(clock: FakeClock) -> None:
    gate = asyncio.Event()

    async def blocked_sleep(_seconds: float) -> None:
        await gate.wait()

    limiter = RateLimiter(clock=clock, sleep=blocked_sleep)
    await limiter.acquire("c1", 60, 5)
    waiter = asyncio.create_task(limiter.acquire("c1", 60, 5))
    await asyncio.sleep(0)
    assert limiter.bucket("c1", 60).waiters == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    bucket = limiter.bucket("c1", 60)
    assert bucket.waiters == 0 and bucket.next_slot_in() == pytest.approx(1.0)


async def test_a_full_queue_refuses_at_once(clock: FakeClock) -> None:
    gate = asyncio.Event()

    async def blocked_sleep(_seconds: float) -> None:
        await gate.wait()

    limiter = RateLimiter(clock=clock, sleep=blocked_sleep, max_waiters=1)
    await limiter.acquire("c1", 60, 100)
    first = asyncio.create_task(limiter.acquire("c1", 60, 100))
    await asyncio.sleep(0)
    with pytest.raises(RateLimitError, match="queue full"):
        await limiter.acquire("c1", 60, 100)
    gate.set()
    await first


async def test_runtime_enforces_the_connectors_limit(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/completion", COMPLETION)
    connector = make_connector(registry, server.url, "completion", rpm=60)
    await runtime.execute(connector, "completion", {"input": "1"})
    await runtime.execute(connector, "completion", {"input": "2"})
    assert clock.sleeps == [pytest.approx(1.0)]
    with pytest.raises(RateLimitError) as info:
        await runtime.execute(connector, "completion", {"input": "3"}, timeout=0.5)
    assert "conn-1 is over its rate limit of 60 requests per minute" in str(info.value)
    assert [r.json()["input"] for r in server.requests] == ["1", "2"]  # the refused one was not sent


async def test_the_providers_default_applies_when_the_connector_sets_none(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/embed", EMBEDDING)
    connector = make_connector(registry, server.url, "text_embedding", provider="fakeembed")
    params = {"input": "x", "inputType": "ingest"}
    await runtime.execute(connector, "text_embedding", params)
    await runtime.execute(connector, "text_embedding", params)
    assert clock.sleeps == [pytest.approx(1.0)]  # fakeembed declares 60 a minute for text_embedding


async def test_two_connectors_have_independent_buckets(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer, clock: FakeClock
) -> None:
    server.add("POST", "/completion", COMPLETION)
    one = make_connector(registry, server.url, "completion", rpm=60, connector_id="one")
    two = make_connector(registry, server.url, "completion", rpm=60, connector_id="two")
    await runtime.execute(one, "completion", {"input": "x"})
    await runtime.execute(two, "completion", {"input": "x"})
    assert clock.sleeps == []


async def test_a_rate_limited_test_reports_rate_limited(
    runtime: Runtime, registry: ProviderRegistry, server: FakeServer
) -> None:
    server.add("POST", "/completion", COMPLETION)
    connector = make_connector(registry, server.url, "completion", rpm=1)
    assert (await runtime.test(connector)).ok
    result = await runtime.test(connector, timeout=1)
    assert not result.ok and result.failure is FailureKind.RATE_LIMITED
    assert len(server.requests) == 1
