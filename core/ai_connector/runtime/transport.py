"""An `httpx.AsyncBaseTransport` over one aiohttp `ClientSession`, and the choice of transport.

httpx's default transport (httpcore) is the bottleneck at concurrency on one host; aiohttp's
connection pool and C HTTP parser are several times faster. Plugins keep using httpx's API (and the
host's PolicyTransport keeps checking allowedHosts on every request and redirect hop, because httpx,
not aiohttp, follows redirects); only the bytes move through aiohttp.

Faithful to httpx's own transport where it matters:
- no redirects in aiohttp (`allow_redirects=False`): httpx follows them, hop by hop;
- no decompression in aiohttp (`auto_decompress=False`): httpx decodes `Content-Encoding` exactly as
  with its own transport, and `Accept-Encoding` is whatever httpx sent (the host's short path, which
  builds no httpx objects, sends httpx's Accept-Encoding and has aiohttp decode: `send_raw`);
- no cookies (aiohttp's jar is a dummy) and no environment proxies, as with an explicit httpx transport;
- the same TLS trust as httpx (`httpx.create_ssl_context()`);
- httpx's per-request timeouts (connect, read, pool) become aiohttp's `sock_connect`, `sock_read`
  and `connect`; aiohttp's errors become httpx's (`ConnectError`, `ConnectTimeout`, `ReadTimeout`,
  `RemoteProtocolError`, `ReadError`), so `CallContext` types them the same way;
- a response body closed before its end closes the connection (the server sees the disconnect).

The session is created lazily inside the running event loop and re-created if the transport is used
from another loop (a client shared across test loops).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp
import httpx
from yarl import URL

__all__ = [
    "DEFAULT_TRANSPORT",
    "TRANSPORTS",
    "TRANSPORT_ENV",
    "AiohttpTransport",
    "PerHostLimit",
    "RawResponse",
    "make_transport",
    "resolve",
]

TRANSPORTS = ("httpx", "aiohttp")
DEFAULT_TRANSPORT = "aiohttp"  # what "auto" means: the fastest that passes the whole test suite
TRANSPORT_ENV = "AI_CONNECTOR_TRANSPORT"  # overrides "auto" (used to run the suite on each transport)

_TIMEOUT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ServerTimeoutError, asyncio.TimeoutError)
_CONNECT_TIMEOUT: type[BaseException] = getattr(aiohttp, "ConnectionTimeoutError", asyncio.TimeoutError)
_HTTP_VERSIONS = {aiohttp.HttpVersion11: b"HTTP/1.1", aiohttp.HttpVersion10: b"HTTP/1.0"}


def resolve(name: str | None) -> str:
    """The concrete transport for a setting: "auto" (or None) is `$AI_CONNECTOR_TRANSPORT`, else
    DEFAULT_TRANSPORT; "httpx" and "aiohttp" are themselves."""
    choice = (name or "auto").strip().lower()
    if choice == "auto":
        choice = (os.environ.get(TRANSPORT_ENV) or DEFAULT_TRANSPORT).strip().lower()
    if choice not in TRANSPORTS:
        raise ValueError(f"unknown transport {name!r}: use 'auto', 'httpx' or 'aiohttp'")
    return choice


def make_transport(
    name: str | None = "auto", *, max_connections: int = 100, max_connections_per_host: int | None = None
) -> httpx.AsyncBaseTransport:
    """A fresh transport of the kind `name` resolves to. `max_connections_per_host` caps one host's
    share of the pool (aiohttp's `limit_per_host`; PerHostLimit around httpx's, which has none)."""
    if resolve(name) == "aiohttp":
        return AiohttpTransport(
            max_connections=max_connections, max_connections_per_host=max_connections_per_host
        )
    inner = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    )
    return PerHostLimit(inner, max_connections_per_host) if max_connections_per_host else inner


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its host's slot back once, when it is closed."""

    __slots__ = ("_inner", "_release")

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class PerHostLimit(httpx.AsyncBaseTransport):
    """At most `limit` requests in flight per origin over a transport whose pool has no per-host
    cap (httpx's own): a slot is taken before the request and given back when its body is closed;
    waiting longer than the request's pool timeout is httpx's PoolTimeout."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self._slots: dict[tuple[bytes, str, int | None], asyncio.Semaphore] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for a slot of the request's origin, then send it through the wrapped transport."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # semaphores belong to one loop
            self._loop, self._slots = loop, {}
        url = request.url
        key = (url.raw_scheme, url.host, url.port)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self.limit)
        try:
            async with asyncio.timeout((request.extensions.get("timeout") or {}).get("pool")):
                await slot.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection to this host came free in time", request=request) from None
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException:
            slot.release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Releasing(response.stream, slot.release)
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


def _request_error(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError:
    """httpx's exception for an aiohttp failure before the response head arrived."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, _CONNECT_TIMEOUT):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(exc, _TIMEOUT_ERRORS):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(_connect_text(exc), request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(text, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text, request=request)
    if isinstance(exc, ssl.SSLError):
        return httpx.ConnectError(text, request=request)
    return httpx.ReadError(text, request=request)


def _connect_text(exc: aiohttp.ClientConnectorError) -> str:
    """`cannot connect to host:port: Connection refused`, not aiohttp's `... ssl:default [Connect
    call failed ('127.0.0.1', 9)]` (which says `ssl` even for a plain-HTTP URL)."""
    errno = getattr(exc.os_error, "errno", None)
    if isinstance(errno, int) and errno > 0:
        reason = os.strerror(errno)
    else:  # a resolver error (negative errno) says it best itself
        reason = getattr(exc.os_error, "strerror", None) or str(exc.os_error)
    return f"cannot connect to {exc.host}:{exc.port}: {reason}"


def _body_error(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError:
    """httpx's exception for an aiohttp failure while the body streamed."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, _TIMEOUT_ERRORS):
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body ({text})", request=request
        )
    return httpx.ReadError(text, request=request)


class _AiohttpBody(httpx.AsyncByteStream):
    """The response body as httpx reads it: aiohttp's bytes as they arrive, closed promptly.

    A plain async iterator, not an async generator: a generator left unfinished (a stream read up
    to its `[DONE]`) would be finalised through the event loop's asyncgen hook, a task per body.
    """

    __slots__ = ("_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request | None) -> None:
        self._response = response
        self._request = request

    def __aiter__(self) -> _AiohttpBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._response.content.readany()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _body_error(exc, self._request) from None
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            response.release()
        else:
            response.close()  # drop the connection: the upstream request ends now


class RawResponse:
    """What `AiohttpTransport.send_raw` answers: the status, the headers (case-insensitive, as
    received) and the body as an async iterator of bytes that raises httpx's exceptions;
    `body.aclose()` gives the connection back, or drops it when the body was not read to its end."""

    __slots__ = ("body", "headers", "http_version", "raw_headers", "reason", "status")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request | None) -> None:
        self.status = response.status
        self.headers = response.headers
        self.raw_headers = response.raw_headers
        self.body = _AiohttpBody(response, request)
        version = response.version
        self.http_version = (_HTTP_VERSIONS.get(version) if version else None) or (
            f"HTTP/{version.major}.{version.minor}".encode() if version else b"HTTP/1.1"
        )
        self.reason = response.reason or ""


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over a pooled aiohttp session (see the module docstring)."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_connections_per_host: int | None = None,
        keepalive_expiry: float = 15.0,
    ) -> None:
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host or 0  # aiohttp's 0: no per-host cap
        self.keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl: ssl.SSLContext | None = None
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=self.max_connections_per_host,
            ssl=self._ssl,
            keepalive_timeout=self.keepalive_expiry,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("Content-Type",),  # aiohttp would label a bare body octet-stream
            timeout=aiohttp.ClientTimeout(total=None),
            requote_redirect_url=False,
        )
        self._loop = loop
        return self._session

    def _timeout(
        self, connect: float | None, read: float | None, pool: float | None
    ) -> aiohttp.ClientTimeout:
        key = (connect, read, pool)
        timeout = self._timeouts.get(key)
        if timeout is None:
            total_connect = None if connect is None and pool is None else (connect or 0) + (pool or 0)
            timeout = aiohttp.ClientTimeout(
                total=None, connect=total_connect, sock_connect=connect, sock_read=read
            )
            if len(self._timeouts) < 64:
                self._timeouts[key] = timeout
        return timeout

    async def send_raw(
        self,
        method: str,
        url: httpx.URL,
        headers: Any,
        body: bytes | None,
        timeout: Mapping[str, float | None],
        *,
        decompress: bool = False,
        request: httpx.Request | None = None,
    ) -> RawResponse:
        """Send one request (no redirect followed) and answer its head, the body left to stream.

        The host's short path (`ai_connector.http.PolicyTransport.send_direct`) and
        `handle_async_request` both send through here. `headers` is anything aiohttp takes, sent
        as given; `timeout` is httpx's timeout extension (`httpx.Timeout.as_dict()`); `decompress` has
        aiohttp decode a Content-Encoding (httpx decodes for itself).
        Failures are httpx's exceptions, tied to `request` when there is one.
        """
        session = self._get_session()
        try:
            response = await session.request(
                method,
                self._url(url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=self._timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
                auto_decompress=decompress,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _request_error(exc, request) from None
        return RawResponse(response, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through aiohttp; the body streams through the returned response."""
        try:
            body: bytes = request.content
        except httpx.RequestNotRead:
            body = await request.aread()
        raw = await self.send_raw(
            request.method,
            request.url,
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body,
            request.extensions.get("timeout") or {},
            request=request,
        )
        return httpx.Response(
            raw.status,
            headers=raw.raw_headers,
            stream=raw.body,
            extensions={
                "http_version": raw.http_version,
                "reason_phrase": raw.reason.encode("latin-1", "replace"),
            },
        )

    @staticmethod
    def _url(url: httpx.URL) -> URL:
        """aiohttp's URL for `url`, as encoded, without credentials (httpx sends those, when it does,
        as an Authorization header, and aiohttp refuses a request that has both)."""
        out = URL(str(url), encoded=True)
        return out.with_user(None) if url.userinfo else out

    async def aclose(self) -> None:
        """Close the session (and its pooled connections) when it belongs to the running loop."""
        session, self._session = self._session, None
        if session is None or session.closed:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            await session.close()
        else:  # its loop is gone or elsewhere: drop the connections without awaiting
            connector = session.connector
            if connector is not None and self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(session.close()))
