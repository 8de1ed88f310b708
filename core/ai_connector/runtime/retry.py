"""When and how long to wait before trying a failed provider call again.

Retried: ProviderErrors marked `retryable` (429 unless the quota is spent, 5xx, 408/409, connection
failures before any response byte, connect timeouts), at most `max_attempts` attempts in all, never
past the call's deadline, never once a stream has handed out its first chunk (the caller of
`stream` has seen data; ES does not replay either), and never on 400/401/403/404/405/413/422 whatever
the provider says.

The wait before attempt `n + 1` follows openai-python: the provider's hint (`Retry-After` seconds or
HTTP-date, `retry-after-ms`) when it is positive and at most `max_retry_wait`; a hint above the cap
means the provider will not take the request soon, so the error is raised at once (it carries the
hint in `retry_after`); otherwise exponential backoff with full jitter,
`random() * min(max_delay, initial_delay * 2 ** (n - 1))`, which spreads clients that failed together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ai_connector.errors import ProviderError

__all__ = ["NEVER_RETRIED_STATUSES", "RetryPolicy"]

NEVER_RETRIED_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 422})
_SPENT_QUOTA_CODES = frozenset({"insufficient_quota"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts budget and backoff shape (defaults: Kibana's 3 attempts, openai-python's backoff)."""

    max_attempts: int = 3
    max_retry_wait: float = 30.0
    initial_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def is_retryable(self, error: BaseException) -> bool:
        """Whether `error` may succeed if the same request is sent again."""
        if not isinstance(error, ProviderError) or not error.retryable:
            return False
        if error.status in NEVER_RETRIED_STATUSES:
            return False
        return error.code not in _SPENT_QUOTA_CODES

    def backoff(self, attempt: int, random: Callable[[], float]) -> float:
        """Full-jitter exponential backoff after failed attempt number `attempt` (1-based)."""
        return random() * min(self.max_delay, self.initial_delay * (2.0 ** (attempt - 1)))

    def delay_after(self, error: BaseException, attempt: int, random: Callable[[], float]) -> float | None:
        """Seconds to wait before the next attempt, or None when there must be no next attempt."""
        if attempt >= self.max_attempts or not self.is_retryable(error):
            return None
        hint = getattr(error, "retry_after", None)
        if hint is not None and hint > 0:
            return hint if hint <= self.max_retry_wait else None
        return self.backoff(attempt, random)
