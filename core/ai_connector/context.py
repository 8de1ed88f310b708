"""The context the host passes into every provider call: the shared HTTP client, timeouts, the URL
policy, a redacting logger and the host's settings for this provider. Providers do all their I/O
through it and never build clients of their own.

Plugins only ever see httpx's API: `request()` and `stream()` take httpx's arguments and return
`httpx.Response` objects whose `.request` is the `httpx.Request` that was sent. With the host's own
client (`ai_connector.http.HostClient`) they do not go through `AsyncClient.send`, whose auth flow,
cookie handling, event hooks and redirect machinery cost more than the rest of a call: the request is
built as `AsyncClient.build_request` builds it (same headers in the same order, the client's default
headers included, the same body bytes and timeout extension) and handed to the client's transport,
which checks the URL policy; redirects are followed as httpx follows them (same method, URL and
header rules, the same `max_redirects`), every hop through the policy-checking transport. Anything
this path does not cover (another client, a client with auth, hooks or query params, form data,
streamed uploads, credentials in the URL) goes through `AsyncClient.send` as before.
"""

from __future__ import annotations

import datetime
import json as _json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx

from ai_connector import exchange
from ai_connector.errors import (
    InvalidResponseError,
    ProviderError,
    ProviderTimeoutError,
    StreamInterruptedError,
    UnreachableError,
)
from ai_connector.redaction import RedactingLogger, Redactor
from ai_connector.sse import ServerSentEvent
from ai_connector.urlpolicy import UrlPolicy

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "DEFAULT_TIMEOUT", "CallContext"]

DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024  # Kibana's maxResponseContentLength default, 1 MB
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)  # Kibana's LLM connectors wait up to 2 minutes
_ERROR_BODY_LIMIT = 64 * 1024

# -- the direct path: httpx requests built and sent without AsyncClient.send --------------------------

_URLS: dict[str, httpx.URL] = {}  # parsed absolute URLs (httpx.URL is immutable); bounded
_URL_CACHE_SIZE = 512
_BODY_METHODS = ("POST", "PUT", "PATCH")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODY_ITER = "_ai_connector_body"  # where a response keeps the body iterator ctx handed out
_JSON = _json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)  # httpx's options


def _parsed_url(url: str) -> httpx.URL | None:
    """The parsed URL when the direct path can send to it (absolute, no credentials), else None."""
    parsed = _URLS.get(url)
    if parsed is None:
        parsed = httpx.URL(url)
        if parsed.is_relative_url or parsed.userinfo:
            return None  # a base URL to merge, or credentials for httpx's BasicAuth: the client's job
        if len(_URLS) >= _URL_CACHE_SIZE:
            _URLS.clear()
        _URLS[url] = parsed
    return parsed


_DEFAULTS: dict[tuple[tuple[bytes, bytes], ...], tuple[tuple[tuple[bytes, bytes], ...], tuple[str, ...]]] = {}


def _client_defaults(headers: httpx.Headers) -> tuple[tuple[tuple[bytes, bytes], ...], tuple[str, ...]]:
    """The client's default headers and their lower-case names, derived once per set of defaults
    (read from the client at each call: they may change)."""
    raw = tuple(headers.raw)
    hit = _DEFAULTS.get(raw)
    if hit is None:
        hit = (raw, tuple(k.decode("latin-1").lower() for k, _ in raw))
        if len(_DEFAULTS) >= 16:
            _DEFAULTS.clear()
        _DEFAULTS[raw] = hit
    return hit


def _encode_body(json: Any, content: bytes | str | None) -> tuple[bytes, str | None] | None:
    """(body, content type to default to) as httpx encodes `content=` or `json=`; None for anything
    the direct path leaves to httpx (streamed or iterated content)."""
    if content is not None:
        if isinstance(content, str):
            return content.encode("utf-8"), None
        if isinstance(content, bytes):
            return content, None
        return None
    if json is not None:  # httpx's encode_json, byte for byte
        return _JSON.encode(json).encode("utf-8"), "application/json"
    return b"", None


def _port_or_default(url: httpx.URL) -> int | None:
    return url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)


def _redirect_request(request: httpx.Request, response: httpx.Response) -> httpx.Request:
    """The next hop for a redirect `response`, by httpx's rules (AsyncClient._build_redirect_request):
    303 (and 302) become GET, a POST answered 301 becomes GET; a relative Location is joined to the
    request URL; Authorization is dropped when leaving the origin (unless the hop is the same host's
    http -> https upgrade); Host follows the URL; a switch to GET drops the body and its headers."""
    method = request.method
    status = response.status_code
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        method = "GET"
    try:
        url = httpx.URL(response.headers["Location"])
    except httpx.InvalidURL as exc:
        raise httpx.RemoteProtocolError(f"Invalid URL in location header: {exc}.", request=request) from None
    if url.scheme and not url.host:
        url = url.copy_with(host=request.url.host)
    if url.is_relative_url:
        url = request.url.join(url)
    if request.url.fragment and not url.fragment:
        url = url.copy_with(fragment=request.url.fragment)

    headers = httpx.Headers(request.headers)
    old = request.url
    same_origin = (
        url.scheme == old.scheme and url.host == old.host and _port_or_default(url) == _port_or_default(old)
    )
    if not same_origin:
        https_upgrade = (
            url.host == old.host
            and old.scheme == "http"
            and _port_or_default(old) == 80
            and url.scheme == "https"
            and _port_or_default(url) == 443
        )
        if not https_upgrade:
            headers.pop("Authorization", None)
        headers["Host"] = url.netloc.decode("ascii")
    to_get = method != request.method and method == "GET"
    if to_get:
        headers.pop("Content-Length", None)
        headers.pop("Transfer-Encoding", None)
    headers.pop("Cookie", None)
    return httpx.Request(
        method,
        url,
        headers=headers,
        stream=None if to_get else request.stream,
        extensions=request.extensions,
    )


async def _close_response(response: httpx.Response) -> None:
    """`response.aclose()`, less httpx's context manager that only labels errors its stream raises."""
    if not response.is_closed:
        response.is_closed = True
        await response.stream.aclose()  # type: ignore[union-attr]


class _Body:
    """The decoded body of a response as an async iterator of non-empty byte chunks, with transport
    failures as StreamInterruptedError.

    Not an async generator: one left unfinished (a stream read up to its `[DONE]`) would be finalised
    through the event loop, a task per body. A body without Content-Encoding is read straight from
    the transport's stream, keeping httpx's bookkeeping (`is_stream_consumed`, bytes downloaded, the
    response closed at the end); an encoded one goes through `aiter_bytes()` to be decoded.
    """

    __slots__ = ("_ctx", "_inner", "_raw", "_response")

    def __init__(self, ctx: CallContext | None, response: httpx.Response) -> None:
        self._ctx = ctx  # None: transport failures stay httpx's errors
        self._response = response
        self._inner: Any = None
        self._raw = "content-encoding" not in response.headers and "_content" not in response.__dict__

    def __aiter__(self) -> _Body:
        return self

    def _start(self) -> Any:
        response = self._response
        if self._raw:
            if response.is_stream_consumed:
                raise httpx.StreamConsumed()
            if response.is_closed:
                raise httpx.StreamClosed()
            response.is_stream_consumed = True
            response._num_bytes_downloaded = 0
            inner = response.stream.__aiter__()
        else:
            inner = response.aiter_bytes()
        self._inner = inner
        return inner

    async def __anext__(self) -> bytes:
        inner = self._inner
        if inner is None:
            inner = self._start()
        try:
            while True:
                chunk = await inner.__anext__()
                if chunk:
                    break
        except StopAsyncIteration:
            if self._raw:
                await _close_response(self._response)  # as httpx does once the body has been read
            raise
        except httpx.HTTPError as exc:
            if self._ctx is None:
                raise
            raise self._ctx._interrupted(exc, self._response) from None
        if self._raw:
            self._response._num_bytes_downloaded += len(chunk)
        return chunk

    async def aclose(self) -> None:
        """Finish an inner async generator (httpx's own body iterators) now, not through the loop."""
        inner, self._inner = self._inner, None
        close = getattr(inner, "aclose", None)
        if close is not None and inner is not self._response.stream:
            await close()


class _Streaming:
    """`CallContext.stream()`: an async context manager as a plain class (no generator to set up)."""

    __slots__ = ("_args", "_ctx", "_response", "_started")

    def __init__(self, ctx: CallContext, args: tuple[Any, ...]) -> None:
        self._ctx = ctx
        self._args = args
        self._response: httpx.Response | None = None
        self._started = 0.0

    async def __aenter__(self) -> httpx.Response:
        self._started = time.perf_counter()
        self._response, _ = await self._ctx._open(*self._args)
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        response, self._response = self._response, None
        if response is not None:
            await self._ctx._close(response, self._started)


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

    def _interrupted(self, exc: BaseException, response: httpx.Response) -> StreamInterruptedError:
        return StreamInterruptedError(
            f"{self.provider_id}: the stream broke off before it ended "
            f"({type(exc).__name__}: {self.redact(exc)})",
            status=response.status_code,
            provider=self.provider_id,
        )

    # -- sending --------------------------------------------------------------------------------------
    def _direct_request(
        self,
        method: str,
        url: str,
        json: Any,
        content: Any,
        data: Any,
        params: Any,
        headers: Any,
        timeout: httpx.Timeout | float | None,
    ) -> tuple[httpx.Request, Any] | None:
        """(request, transport) for the direct path, built exactly as `client.build_request` would
        build it; None when the client's own `send` must do it (see the module docstring)."""
        direct = getattr(self.client, "direct_transport", None)
        transport = direct() if direct is not None else None
        if transport is None or data is not None:
            return None
        if headers is not None and (
            not isinstance(headers, Mapping)
            or isinstance(headers, httpx.Headers)
            or not all(isinstance(k, str) for k in headers)
        ):
            return None  # multi-valued or bytes headers: httpx merges them
        parsed = _parsed_url(url)
        encoded = _encode_body(json, content)
        if parsed is None or encoded is None:
            return None
        body, content_type = encoded
        method = method.upper()
        # The client's default headers, then the call's (a call's header replaces a default of the
        # same name), then the body's headers unless given; Host (and an empty POST's length) first.
        pairs, names = _client_defaults(self.client.headers)
        if headers:
            given = {k.lower() for k in headers}
            merged: list[tuple[Any, Any]] = [p for p, n in zip(pairs, names, strict=True) if n not in given]
            merged += headers.items()
            present = given.union(names)
        else:
            merged = list(pairs)
            present = set(names)
        first: list[tuple[Any, Any]] = []
        if "host" not in present:
            first.append(("Host", parsed.netloc.decode("ascii")))
        sized = "content-length" in present or "transfer-encoding" in present
        if body:
            if not sized:
                merged.append(("Content-Length", str(len(body))))
        elif method in _BODY_METHODS and not sized:
            first.append(("Content-Length", "0"))
        if content_type is not None and "content-type" not in present:
            merged.append(("Content-Type", content_type))
        if first:
            merged = first + merged
        spec = self.timeout if timeout is None else timeout
        if not isinstance(spec, httpx.Timeout):
            spec = httpx.Timeout(spec)
        request = httpx.Request(
            method,
            parsed,
            params=params,
            headers=merged,
            stream=httpx.ByteStream(body),
            extensions={"timeout": spec.as_dict()},
        )
        request.read()
        return request, transport

    async def _send(self, request: httpx.Request, transport: Any) -> httpx.Response:
        """Send `request` through the policy-checking `transport`, following redirects as httpx does."""
        client = self.client
        if client.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        history: list[httpx.Response] = []
        while True:
            if len(history) > client.max_redirects:
                raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=request)
            start = time.perf_counter()
            response = await transport.handle_async_request(request)
            response.request = request
            if history:
                response.history = list(history)
            if response.status_code not in _REDIRECT_STATUSES or "location" not in response.headers:
                return response
            try:
                next_request = _redirect_request(request, response)
                if not client.follow_redirects:
                    response.next_request = next_request
                    return response
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
            response.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)
            history.append(response)
            request = next_request

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
    ) -> tuple[httpx.Response, httpx.Request]:
        self.url_policy.check(url)
        direct = self._direct_request(method, url, json, content, data, params, headers, timeout)
        try:
            if direct is not None:
                request = direct[0]
                return await self._send(request, direct[1]), request
            request = self.client.build_request(
                method,
                url,
                json=json,
                content=content,
                data=data,
                params=params,
                headers=headers,
                timeout=self.timeout if timeout is None else timeout,
            )
            return await self.client.send(request, stream=True), request
        except ProviderError:
            raise
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None

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
        started = time.perf_counter()
        resp, req = await self._open(method, url, json, content, data, params, headers, timeout)
        try:
            status = resp.status_code
            limit = self.max_response_bytes if status < 400 else _ERROR_BODY_LIMIT
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit and status < 400:
                raise InvalidResponseError(
                    f"{self.provider_id}: response body of {declared} bytes exceeds the host's limit "
                    f"of {limit} bytes",
                    status=status,
                    provider=self.provider_id,
                )
            parts: list[bytes] = []
            size = 0
            body = _Body(None, resp)
            try:
                async for chunk in body:
                    size += len(chunk)
                    if size > limit:
                        if status >= 400:
                            break  # an error body is only read for its message: keep the start
                        raise InvalidResponseError(
                            f"{self.provider_id}: response body exceeds the host's limit of {limit} bytes",
                            status=status,
                            provider=self.provider_id,
                        )
                    parts.append(chunk)
            finally:
                await body.aclose()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        finally:
            await self._close(resp, started)
        headers_out = [
            (k, v) for k, v in resp.headers.multi_items() if k not in ("content-encoding", "content-length")
        ]
        return httpx.Response(
            status,
            headers=headers_out,
            content=b"".join(parts),
            request=req,
            extensions={"http_version": resp.http_version.encode()},
        )

    async def _close(self, resp: httpx.Response, started: float) -> None:
        body = resp.__dict__.pop(_BODY_ITER, None)
        if body is not None:
            await body.aclose()
        if "_elapsed" not in resp.__dict__:
            resp.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
        await _close_response(resp)

    def stream(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> AbstractAsyncContextManager[httpx.Response]:
        """Open a streaming request; the response is closed (and the upstream request with it) on exit.

        Read an error status's body with `read_error_body()`; iterate a success with `iter_bytes()`.
        """
        return _Streaming(self, (method, url, json, content, None, params, headers, timeout))

    async def read_error_body(self, response: httpx.Response) -> bytes:
        """The start (64 KiB at most) of an error response's body; b"" when it cannot be read."""
        parts: list[bytes] = []
        size = 0
        body = _Body(None, response)
        try:
            async for chunk in body:
                parts.append(chunk)
                size += len(chunk)
                if size >= _ERROR_BODY_LIMIT:
                    break
        except httpx.HTTPError:
            pass
        finally:
            await body.aclose()
        return b"".join(parts)[:_ERROR_BODY_LIMIT]

    def iter_bytes(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body of a streaming response; a connection that breaks off raises StreamInterruptedError.

        An async iterator (not a generator): it needs no closing, and `stream()` finishes it on exit.
        """
        body = _Body(self, response)
        response.__dict__[_BODY_ITER] = body
        return body

    # -- the chores of a provider request (ai_connector.exchange) -----------------------------------
    async def send_json(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
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
        params: Mapping[str, Any] | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[ServerSentEvent]]:
        """`async with ctx.open_sse("POST", url, json=body) as events:` the stream's server-sent
        events; an error status raises the calling provider's typed error on entry."""
        return exchange.open_sse(self, method, url, json=json, headers=headers, params=params)
