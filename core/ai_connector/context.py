"""The context the host passes into every provider call: the shared HTTP client, timeouts, the URL
policy, a redacting logger and the host's settings for this provider. Providers do all their I/O
through it and never build clients of their own."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx

from ai_connector.errors import (
    InvalidResponseError,
    ProviderError,
    ProviderTimeoutError,
    StreamInterruptedError,
    UnreachableError,
)
from ai_connector.redaction import RedactingLogger, Redactor
from ai_connector.urlpolicy import UrlPolicy

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "DEFAULT_TIMEOUT", "CallContext"]

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024  # Kibana's maxResponseContentLength default, 1 MB
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # Kibana's LLM connectors wait up to 2 minutes
_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(slots=True)
class CallContext:
    """Everything a provider call may use for I/O and diagnostics.

    `client` is the host's shared `httpx.AsyncClient` (pooled; its transport enforces the URL
    policy on every request and redirect hop). Use `request()` for bodies read whole (size-capped)
    and `stream()` + `iter_bytes()` for streams: they turn transport failures into typed errors.
    `host_settings` holds the host's configuration for this provider (e.g. an Elasticsearch URL).
    """

    client: httpx.AsyncClient
    provider_id: str
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    url_policy: UrlPolicy = field(default_factory=UrlPolicy)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    redactor: Redactor = field(default_factory=Redactor, repr=False)
    host_settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    logger: logging.LoggerAdapter = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.logger is None:
            self.logger = RedactingLogger(
                logging.getLogger(f"ai_connector.provider.{self.provider_id}"), self.redactor
            )

    def redact(self, text: Any) -> str:
        """`text` with every secret of this call (and secret-looking patterns) masked."""
        return self.redactor(text)

    def _transport_error(self, exc: Exception, url: str) -> ProviderError:
        where = self.redact(url.split("?", 1)[0])
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeoutError(
                f"{self.provider_id}: no answer from {where} within the timeout ({type(exc).__name__})",
                provider=self.provider_id,
            )
        return UnreachableError(
            f"{self.provider_id}: could not reach {where}: {self.redact(exc) or type(exc).__name__}",
            provider=self.provider_id,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> httpx.Response:
        """Send a request and read its whole body, up to `max_response_bytes` (InvalidResponseError past it).

        Error statuses are returned, not raised: the provider maps its own error bodies.
        """
        self.url_policy.check(url)
        req = self.client.build_request(
            method,
            url,
            json=json,
            content=content,
            data=data,
            params=params,
            headers=headers,
            timeout=self.timeout if timeout is None else timeout,
        )
        try:
            resp = await self.client.send(req, stream=True)
        except ProviderError:
            raise
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        try:
            limit = self.max_response_bytes if resp.status_code < 400 else _ERROR_BODY_LIMIT
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit and resp.status_code < 400:
                raise InvalidResponseError(
                    f"{self.provider_id}: response body of {declared} bytes exceeds the host's limit "
                    f"of {limit} bytes",
                    status=resp.status_code,
                    provider=self.provider_id,
                )
            parts: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    if resp.status_code >= 400:
                        break  # an error body is only read for its message: keep the start
                    raise InvalidResponseError(
                        f"{self.provider_id}: response body exceeds the host's limit of {limit} bytes",
                        status=resp.status_code,
                        provider=self.provider_id,
                    )
                parts.append(chunk)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        finally:
            await resp.aclose()
        headers_out = [
            (k, v) for k, v in resp.headers.multi_items() if k not in ("content-encoding", "content-length")
        ]
        return httpx.Response(
            resp.status_code,
            headers=headers_out,
            content=b"".join(parts),
            request=req,
            extensions={"http_version": resp.http_version.encode()},
        )

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Open a streaming request; the response is closed (and the upstream request with it) on exit.

        Read an error status's body with `read_error_body()`; iterate a success with `iter_bytes()`.
        """
        self.url_policy.check(url)
        req = self.client.build_request(
            method,
            url,
            json=json,
            content=content,
            params=params,
            headers=headers,
            timeout=self.timeout if timeout is None else timeout,
        )
        try:
            resp = await self.client.send(req, stream=True)
        except ProviderError:
            raise
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        try:
            yield resp
        finally:
            await resp.aclose()

    async def read_error_body(self, response: httpx.Response) -> bytes:
        """The start (64 KiB at most) of an error response's body; b"" when it cannot be read."""
        parts: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                parts.append(chunk)
                size += len(chunk)
                if size >= _ERROR_BODY_LIMIT:
                    break
        except httpx.HTTPError:
            pass
        return b"".join(parts)[:_ERROR_BODY_LIMIT]

    async def iter_bytes(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body of a streaming response; a connection that breaks off raises StreamInterruptedError."""
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise StreamInterruptedError(
                f"{self.provider_id}: the stream broke off before it ended "
                f"({type(exc).__name__}: {self.redact(exc)})",
                status=response.status_code,
                provider=self.provider_id,
            ) from None
