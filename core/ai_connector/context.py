"""The context the host passes into every provider call: the shared HTTP client, timeouts, the URL
policy, a redacting logger and the host's settings for this provider. Providers do all their I/O
through it and never build clients of their own.

Plugins only ever see httpx's API: `request()` and `stream()` take httpx's arguments and return
`httpx.Response` objects whose `.request` is the `httpx.Request` that was sent. Requests are built with
the client's `build_request` and sent with `send(stream=True)`; the host's redirect and URL policy and
the speed work live in the client's transport (`ai_connector.http`, `ai_connector.runtime.transport`),
httpx's intended seam.

The helpers `send_json()` and `open_sse()` hand plugins no httpx object, so they take the host
client's short path when it has one (`HostClient.short_path()`: bytes and headers straight to the
aiohttp transport, the same URL and redirect checks on every hop), and httpx's API otherwise. The
caps, error typing and redaction below are shared by both ways.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from json import dumps as _dumps
from types import MappingProxyType
from typing import Any

import httpx

from ai_connector import exchange
from ai_connector.errors import (
    InvalidResponseError,
    ProviderError,
    ProviderTimeoutError,
    RedirectError,
    ResponseTooLargeError,
    StreamInterruptedError,
    UnreachableError,
)
from ai_connector.redaction import RedactingLogger, Redactor
from ai_connector.sse import ServerSentEvent, aiter_sse
from ai_connector.urlpolicy import UrlPolicy

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_SSE_EVENT_BYTES",
    "DEFAULT_MAX_SSE_LINE_BYTES",
    "DEFAULT_TIMEOUT",
    "CallContext",
    "transport_error",
]

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024  # Kibana's maxResponseContentLength default, 1 MB
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # Kibana's LLM connectors wait up to 2 minutes
DEFAULT_MAX_SSE_LINE_BYTES = 4 * 1024 * 1024  # one SSE line (a data: line carries one JSON chunk)
DEFAULT_MAX_SSE_EVENT_BYTES = 8 * 1024 * 1024  # one SSE event (its data: lines joined)
_ERROR_BODY_LIMIT = 64 * 1024
_URLS: dict[str, httpx.URL] = {}  # parsed URLs (immutable), so the client need not parse them per call
_URL_CACHE_SIZE = 512
_BODY_ITER = "ai_connector.body"  # where a response keeps the body iterator ctx handed out
_NOT_HTTP = "the server did not answer with an HTTP response"


def _parsed(url: str) -> httpx.URL:
    """`url` parsed (cached: httpx.URL is immutable), so neither path parses it per call."""
    parsed = _URLS.get(url)
    if parsed is None:
        parsed = httpx.URL(url)
        if len(_URLS) >= _URL_CACHE_SIZE:
            _URLS.clear()
        _URLS[url] = parsed
    return parsed


async def _error_start(chunks: Any) -> bytes:
    """The start (64 KiB at most) of an error answer's body, closing `chunks`; b"" when it cannot
    be read."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= _ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    finally:
        await _aclose(chunks)
    return b"".join(parts)[:_ERROR_BODY_LIMIT]


def transport_error(exc: httpx.HTTPError, url: str, provider_id: str, redact: Any) -> ProviderError:
    """The typed, redacted error for an httpx failure before a response: a timeout, a redirect
    loop, a peer that is not speaking HTTP (its bytes are never echoed), or no connection."""
    where = redact(url.split("?", 1)[0])
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError(
            f"{provider_id}: no answer from {where} within the timeout ({type(exc).__name__})",
            provider=provider_id,
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return RedirectError(
            f"{provider_id}: too many redirects from {where}", provider=provider_id, code="too_many_redirects"
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        text = str(exc)
        if "disconnected" in text.lower() or "closed" in text.lower():
            reason = "the connection closed without an answer"
        else:  # the parser's message quotes what the peer sent: never hand that on
            return InvalidResponseError(f"{provider_id}: {where}: {_NOT_HTTP}", provider=provider_id)
        return UnreachableError(f"{provider_id}: could not reach {where}: {reason}", provider=provider_id)
    return UnreachableError(
        f"{provider_id}: could not reach {where}: {redact(exc) or type(exc).__name__}",
        provider=provider_id,
    )


def _httpx_chunks(response: httpx.Response) -> Any:
    """httpx's decoded bytes of `response`; for a body with no Content-Encoding not yet read, the
    response's byte stream itself (the same bytes, one generator fewer to finish)."""
    if response.is_stream_consumed or "content-encoding" in response.headers:
        return response.aiter_bytes()
    return response.stream.__aiter__()  # type: ignore[union-attr]


class _HttpxAnswer:
    """An httpx response in the shape of the short path's answer (`status`, `headers`, `body`),
    for a client without one: `body` iterates its chunks and closes the response with them."""

    __slots__ = ("_chunks", "_response", "body", "headers", "status")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = _httpx_chunks(response)
        self.status = response.status_code
        self.headers = response.headers
        self.body = self

    def __aiter__(self) -> Any:
        return self._chunks

    async def aclose(self) -> None:
        try:
            await _aclose(self._chunks)
        finally:
            await self._response.aclose()


async def _aclose(chunks: Any) -> None:
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


class _Body:
    """A response body as an async iterator of non-empty byte chunks, with transport failures as
    StreamInterruptedError and, for an event stream, its longest line capped (whoever parses the
    events: the core's or a plugin's own decoder). `sse_limits` tells `ai_connector.sse` the host's
    line and event caps.

    Not an async generator: one left unfinished (a stream read up to its `[DONE]`) would be finalised
    through the event loop, a task per body; `aclose()` finishes the source iterator at once.
    """

    __slots__ = ("_ctx", "_inner", "_line_cap", "_since_eol", "_status", "sse_limits")

    def __init__(self, ctx: CallContext, chunks: Any, status: int, headers: Mapping[str, str]) -> None:
        self._ctx = ctx
        self._inner = chunks.__aiter__()
        self._status = status
        self._since_eol = 0
        is_sse = headers.get("content-type", "").startswith("text/event-stream")
        self._line_cap = ctx.max_sse_line_bytes if is_sse else 0
        self.sse_limits = (ctx.max_sse_line_bytes, ctx.max_sse_event_bytes)

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        try:
            while True:
                chunk: bytes = await self._inner.__anext__()
                if chunk:
                    break
        except httpx.HTTPError as exc:
            raise self._ctx._interrupted(exc, self._status) from None
        if self._line_cap:
            end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            self._since_eol = len(chunk) - end - 1 if end >= 0 else self._since_eol + len(chunk)
            if self._since_eol > self._line_cap:
                raise self._line_too_long()
        return chunk

    def _line_too_long(self) -> ResponseTooLargeError:
        provider = self._ctx.provider_id
        return ResponseTooLargeError(
            f"{provider}: the event stream sent a line longer than the host's limit of "
            f"{self._line_cap} bytes (max_sse_line_bytes)",
            status=self._status,
            provider=provider,
        )

    async def aclose(self) -> None:
        """Finish the source iterator now, not through the event loop."""
        await _aclose(self._inner)


class _Streaming:
    """`CallContext.stream()`: an async context manager as a plain class (no generator to set up)."""

    __slots__ = ("_args", "_ctx", "_response")

    def __init__(self, ctx: CallContext, args: tuple[Any, ...]) -> None:
        self._ctx = ctx
        self._args = args
        self._response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        self._response = await self._ctx._open(*self._args)
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        response, self._response = self._response, None
        if response is not None:
            await self._ctx._close(response)


@dataclass(slots=True)
class CallContext:
    """Everything a provider call may use for I/O and diagnostics.

    `client` is the host's shared `httpx.AsyncClient` (pooled; its transport enforces the URL
    policy and the redirect policy on every request and redirect hop). Use `request()` for bodies
    read whole (size-capped) and `stream()` + `iter_bytes()` for streams: they turn transport
    failures into typed errors. `host_settings` holds the host's configuration for this provider
    (e.g. an Elasticsearch URL). `max_sse_line_bytes` and `max_sse_event_bytes` cap what
    `ai_connector.sse` buffers from `iter_bytes()`.
    """

    client: httpx.AsyncClient
    provider_id: str
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    url_policy: UrlPolicy = field(default_factory=UrlPolicy)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    redactor: Redactor = field(default_factory=Redactor, repr=False)
    host_settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    logger: logging.LoggerAdapter[logging.Logger] = field(default=None, repr=False)  # type: ignore[arg-type]
    max_sse_line_bytes: int = DEFAULT_MAX_SSE_LINE_BYTES
    max_sse_event_bytes: int = DEFAULT_MAX_SSE_EVENT_BYTES

    def __post_init__(self) -> None:
        if self.logger is None:
            self.logger = RedactingLogger(
                logging.getLogger(f"ai_connector.provider.{self.provider_id}"), self.redactor
            )

    def redact(self, text: Any) -> str:
        """`text` with every secret of this call (and secret-looking patterns) masked."""
        return self.redactor(text)

    def _interrupted(self, exc: BaseException, status: int) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"{self.provider_id}: the stream broke off before it ended "
            f"({type(exc).__name__}: {self.redact(exc)})",
            status=status,
            provider=self.provider_id,
        )

    # -- sending --------------------------------------------------------------------------------------
    def _failed(self, exc: Exception, url: str) -> Exception:
        """What a failure to send becomes: a ProviderError of the transport's (the redirect policy)
        now naming whose call it was, an httpx error its typed, redacted ProviderError."""
        if isinstance(exc, ProviderError):
            if exc.provider is None:
                exc.provider = self.provider_id
                exc.message = f"{self.provider_id}: {exc.message}"
                exc.args = (exc.message,)
            return exc
        if isinstance(exc, httpx.HTTPError):
            return transport_error(exc, url, self.provider_id, self.redact)
        return exc

    async def _open(
        self,
        method: str,
        url: str,
        json: Any,
        content: Any,
        data: Any,
        params: Any,
        headers: Any,
        timeout: httpx.Timeout | float | None,
    ) -> httpx.Response:
        """Build the request as the client builds it and send it, the body left to stream."""
        self.url_policy.check(url)
        try:
            request = self.client.build_request(
                method,
                _parsed(url),
                json=json,
                content=content,
                data=data,
                params=params,
                headers=headers,
                timeout=self.timeout if timeout is None else timeout,
            )
            return await self.client.send(request, stream=True)
        except (ProviderError, httpx.HTTPError) as exc:
            raise self._failed(exc, url) from None

    async def _answer(
        self, method: str, url: str, json: Any, content: bytes | None, params: Any, headers: Any
    ) -> Any:
        """The answer's `status`, `headers` and `body` (chunks raising httpx's errors; `aclose()`
        ends the request) for the helpers of `ai_connector.exchange`: by the host client's short
        path when it has one (no httpx Request/Response built; the same host rules on every hop,
        see `ai_connector.http`), else through httpx's API as `stream()`."""
        short_path = getattr(self.client, "short_path", None)
        send = short_path() if short_path is not None else None
        if send is None or "@" in url:  # credentials in the URL: httpx sends them as Basic auth
            return _HttpxAnswer(await self._open(method, url, json, content, None, params, headers, None))
        self.url_policy.check(url)
        try:
            target = _parsed(url)
            if params is not None:  # as httpx builds it: the params replace the URL's query
                target = httpx.URL(target, params=params)
            content_type = None
            if json is not None:  # encoded as httpx encodes `json=`
                content = _dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
                content_type = "application/json"
            return await send(method, target, headers, content, content_type, self.timeout)
        except (ProviderError, httpx.HTTPError) as exc:
            raise self._failed(exc, url) from None

    async def _read_whole(self, status: int, headers: Mapping[str, str], chunks: Any, url: str) -> bytes:
        """A body read whole, up to `max_response_bytes` (ResponseTooLargeError past it; an error
        status's body is cut at 64 KiB); `chunks` is closed after."""
        try:
            limit = self.max_response_bytes if status < 400 else _ERROR_BODY_LIMIT
            declared = headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit and status < 400:
                raise self._too_large(status, f"response body of {declared} bytes exceeds")
            parts: list[bytes] = []
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    if status >= 400:
                        break  # an error body is only read for its message: keep the start
                    raise self._too_large(status, "response body exceeds")
                parts.append(chunk)
        except httpx.HTTPError as exc:
            raise transport_error(exc, url, self.provider_id, self.redact) from None
        finally:
            await _aclose(chunks)
        return b"".join(parts)

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        params: exchange.QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> httpx.Response:
        """Send a request and read its whole body, up to `max_response_bytes` (ResponseTooLargeError,
        an InvalidResponseError, past it).

        Error statuses are returned, not raised: the provider maps its own error bodies.
        """
        resp = await self._open(method, url, json, content, data, params, headers, timeout)
        try:
            status = resp.status_code
            content_read = await self._read_whole(status, resp.headers, _httpx_chunks(resp), url)
        finally:
            await self._close(resp)
        headers_out = [
            (k, v) for k, v in resp.headers.multi_items() if k not in ("content-encoding", "content-length")
        ]
        return httpx.Response(
            status,
            headers=headers_out,
            content=content_read,
            request=resp.request,
            extensions={"http_version": resp.http_version.encode()},
        )

    def _too_large(self, status: int, what: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"{self.provider_id}: {what} the host's limit of {self.max_response_bytes} bytes "
            "(max_response_bytes)",
            status=status,
            provider=self.provider_id,
        )

    async def _close(self, resp: httpx.Response) -> None:
        body = resp.extensions.get(_BODY_ITER)
        if body is not None:
            await body.aclose()
        await resp.aclose()

    def stream(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        params: exchange.QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """Open a streaming request; the response is closed (and the upstream request with it) on exit.

        Read an error status's body with `read_error_body()`; iterate a success with `iter_bytes()`.
        """
        return _Streaming(self, (method, url, json, content, None, params, headers, timeout))

    async def read_error_body(self, response: httpx.Response) -> bytes:
        """The start (64 KiB at most) of an error response's body; b"" when it cannot be read."""
        return await _error_start(_httpx_chunks(response))

    def iter_bytes(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body of a streaming response; a connection that breaks off raises StreamInterruptedError.

        An async iterator (not a generator): it needs no closing, and `stream()` finishes it on exit.
        """
        body = _Body(self, _httpx_chunks(response), response.status_code, response.headers)
        response.extensions[_BODY_ITER] = body
        return body

    async def _error_body(self, chunks: Any) -> bytes:
        """`read_error_body()` for an answer of `_answer()`."""
        return await _error_start(chunks)

    def _events(self, answer: Any) -> AsyncIterator[ServerSentEvent]:
        """The server-sent events of an answer of `_answer()`, with the host's line and event caps
        and typed errors, as from `iter_bytes()`."""
        return aiter_sse(_Body(self, answer.body, answer.status, answer.headers))

    # -- the chores of a provider request (ai_connector.exchange) -----------------------------------
    async def send_json(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: exchange.QueryParams | None = None,
    ) -> Any:
        """Send `json` (or raw `content`) and return the parsed JSON answer; an error status raises
        the calling provider's typed error (its `parse_error`), redacted."""
        return await exchange.send_json(
            self, method, url, json=json, content=content, headers=headers, params=params
        )

    def open_sse(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        params: exchange.QueryParams | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[ServerSentEvent]]:
        """`async with ctx.open_sse("POST", url, json=body) as events:` the stream's server-sent
        events; an error status raises the calling provider's typed error on entry."""
        return exchange.open_sse(self, method, url, json=json, headers=headers, params=params)
