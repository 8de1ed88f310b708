"""The runtime's settings: timeouts, retries, limits, allowed hosts, transport, per-provider host settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RuntimeSettings"]


@dataclass(frozen=True)
class RuntimeSettings:
    """How the host runs connectors; every field has Kibana's (or Elasticsearch's) default.

    - `timeout`: seconds a call may take in all (rate-limit wait, attempts and backoff included);
      for a stream, until its first chunk, then at most this long between two reads. Kibana's LLM
      connectors wait 2 minutes.
    - `max_attempts`: attempts per call on retryable failures (Kibana's DEFAULT_MAX_ATTEMPTS, 3).
    - `max_retry_wait`: the longest provider `Retry-After` honoured; a longer one fails at once.
    - `max_response_bytes`: cap on a non-streamed response body (Kibana's maxResponseContentLength).
    - `allowed_hosts`: Kibana's `xpack.actions.allowedHosts`, `*` allows any host.
    - `transport`: "auto" (the default transport, see `ai_connector.runtime.transport`), "httpx" or
      "aiohttp".
    - `provider_settings`: the host's settings per provider id, handed to calls as
      `CallContext.host_settings` (e.g. `{"elastic": {"url": ..., "api_key": ...}}`); values under
      secret-looking keys are redacted from every error.
    - `connect_timeout`: seconds to open a connection (never more than `timeout`).
    - `max_connections`: size of the shared connection pool.
    - `max_connections_per_host`: connections to one host at most (below the pool's size, so hung
      connections to one service cannot starve the others; ES's per-route default is 20).
    - `max_aggregated_bytes`: cap on a `unified_completion` answer aggregated from its stream
      (content and tool-call arguments, in characters); Elasticsearch caps inference responses
      at 50 MB.
    - `max_sse_line_bytes`, `max_sse_event_bytes`: the longest SSE line and event the host buffers.
    - `stream_idle_timeout`: seconds a started stream may go without an event (comments and
      keep-alives do not count).
    - `max_stream_duration`: seconds a stream may last in all, as Kibana's inference streams are
      bounded by `MAX_STREAM_DURATION_MS`.
    """

    timeout: float = 120.0
    max_attempts: int = 3
    max_retry_wait: float = 30.0
    max_response_bytes: int = 1_048_576
    allowed_hosts: tuple[str, ...] = ("*",)
    transport: str = "auto"
    provider_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    connect_timeout: float = 10.0
    max_connections: int = 100
    max_connections_per_host: int = 20
    max_aggregated_bytes: int = 50 * 1024 * 1024
    max_sse_line_bytes: int = 4 * 1024 * 1024
    max_sse_event_bytes: int = 8 * 1024 * 1024
    stream_idle_timeout: float = 120.0
    max_stream_duration: float = 600.0

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if not 1 <= self.max_attempts <= 10:
            raise ValueError("max_attempts must be between 1 and 10")
        if self.max_retry_wait < 0:
            raise ValueError("max_retry_wait must not be negative")
        if self.max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        for name in ("max_aggregated_bytes", "max_sse_line_bytes", "max_sse_event_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.stream_idle_timeout <= 0 or self.max_stream_duration <= 0:
            raise ValueError("stream_idle_timeout and max_stream_duration must be positive")
        if not 1 <= self.max_connections_per_host <= self.max_connections:
            raise ValueError("max_connections_per_host must be between 1 and max_connections")
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))
