"""Per-connector rate limiting: a token bucket per connector at `rate_limit.requests_per_minute`.

The limit is the connector's own `providerConfig.rate_limit.requests_per_minute`, else the provider's
Elasticsearch default for the task type (`Provider.default_requests_per_minute`), else none. Buckets
are keyed by connector id (the inference id for an unsaved connector), so two connectors to the same
service have independent budgets (ES groups by service, key and model; a host keeps connectors apart).

The bucket refills at `rpm / 60` tokens a second and holds at most one second's worth (at least one
token): the average rate is the limit, with only a small burst. A caller that finds it empty reserves
the next free slot and waits for it, in arrival order, as long as that slot comes before the call's
deadline; when it would not, the caller gets a RateLimitError at once (nothing is reserved, so a
refused request does not push back the others). No request is ever dropped silently. Each provider
request takes one token, retries included, since each one counts against the provider's quota.

A host served by N worker processes (`serve --workers N`) gives each worker 1/N of every limit
(`RateLimiter.workers`): the sum never exceeds the connector's limit and no request waits on
another process; the price is that a worker receiving more than its share of one connector's calls
waits or refuses earlier than a shared bucket would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ai_connector.errors import RateLimitError

__all__ = ["DEFAULT_MAX_WAITERS", "RateLimiter", "TokenBucket"]

DEFAULT_MAX_WAITERS = 2000  # ES's default request queue size per endpoint


class TokenBucket:
    """One connector's bucket; `reserve()` is synchronous, so reservations are atomic on the loop."""

    __slots__ = ("_clock", "_tokens", "_updated", "capacity", "rate", "requests_per_minute", "waiters")

    def __init__(self, requests_per_minute: float, clock: Callable[[], float]) -> None:
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        self.requests_per_minute = requests_per_minute
        self.rate = requests_per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self.waiters = 0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now

    def reserve(self, max_wait: float) -> float | None:
        """Take a token: 0.0 when one is free now, else the seconds until the reserved slot; None
        (and nothing taken) when that slot is more than `max_wait` seconds away."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        wait = (1.0 - self._tokens) / self.rate
        if wait > max_wait:
            return None
        self._tokens -= 1.0  # below zero: slots promised to earlier waiters
        return wait

    def next_slot_in(self) -> float:
        """Seconds until a token would be free for a new caller."""
        self._refill()
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate

    def refund(self) -> None:
        """Give back a reserved token (its caller was cancelled before using it)."""
        self._tokens = min(self.capacity, self._tokens + 1.0)


class RateLimiter:
    """The host's buckets, one per connector key."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_waiters: int = DEFAULT_MAX_WAITERS,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}
        self.max_waiters = max_waiters
        self.workers = 1  # processes sharing each connector's limit: this one takes 1/workers of it

    def bucket(self, key: str, requests_per_minute: float) -> TokenBucket:
        """The bucket of `key`, new when the connector's limit changed."""
        bucket = self._buckets.get(key)
        if bucket is None or bucket.requests_per_minute != requests_per_minute:
            bucket = self._buckets[key] = TokenBucket(requests_per_minute, self._clock)
        return bucket

    async def acquire(self, key: str, requests_per_minute: float | None, max_wait: float) -> None:
        """Wait for `key`'s next slot (at most `max_wait` seconds), or raise RateLimitError."""
        if not requests_per_minute:
            return
        bucket = self.bucket(key, requests_per_minute / self.workers)
        if bucket.waiters >= self.max_waiters:
            raise RateLimitError(
                f"connector {key}: {bucket.waiters} requests are already waiting for its rate limit of "
                f"{requests_per_minute:g} requests per minute (queue full)",
                retry_after=bucket.next_slot_in(),
            )
        wait = bucket.reserve(max(0.0, max_wait))
        if wait is None:
            next_in = bucket.next_slot_in()
            raise RateLimitError(
                f"connector {key} is over its rate limit of {requests_per_minute:g} requests per minute: "
                f"the next request slot is in {next_in:.2f}s, after this call's remaining time of "
                f"{max(0.0, max_wait):.2f}s",
                retry_after=next_in,
            )
        if wait <= 0:
            return
        bucket.waiters += 1
        try:
            await self._sleep(wait)
        except BaseException:
            bucket.refund()
            raise
        finally:
            bucket.waiters -= 1
