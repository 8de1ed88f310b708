"""The chores of one provider request, behind `CallContext.send_json` and `CallContext.open_sse`:
send, turn an error status into the provider's typed error (its `parse_error`, or a generic one),
parse the JSON answer or frame the SSE stream, and redact the call's secrets from every error.

Built only on the context's public `request()`, `stream()`, `read_error_body()` and `iter_bytes()`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import httpx

from ai_connector.calling import current_caller
from ai_connector.errors import InvalidResponseError, ProviderError, error_for_status
from ai_connector.sse import ServerSentEvent, aiter_sse


class CallContext(Protocol):
    """What these chores use of `ai_connector.context.CallContext` (which delegates to them)."""

    provider_id: str

    def redact(self, text: Any) -> str: ...

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response: ...

    def stream(self, method: str, url: str, **kwargs: Any) -> AbstractAsyncContextManager[httpx.Response]: ...

    async def read_error_body(self, response: httpx.Response) -> bytes: ...

    def iter_bytes(self, response: httpx.Response) -> AsyncIterator[bytes]: ...


__all__ = ["error_message", "open_sse", "parse_error_generic", "send_json"]


def error_message(body: bytes | str) -> str | None:
    """The message of an error body: `error.message`, `error` (a string), `message` or `detail`,
    else the start of the text; None for an empty body."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return text.strip()[:1000] or None
    if isinstance(data, Mapping):
        err = data.get("error")
        if isinstance(err, Mapping) and isinstance(err.get("message"), str):
            return err["message"]
        for candidate in (err, data.get("message"), data.get("detail")):
            if isinstance(candidate, str):
                return candidate
    return None


def parse_error_generic(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The error for a provider that declares no `parse_error`: its status and message, Retry-After."""
    return error_for_status(status, error_message(body), headers=headers)


def _raise_for(ctx: CallContext, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    caller = current_caller()
    parse = caller.parse_error if caller is not None and caller.provider_id == ctx.provider_id else None
    error = (parse or parse_error_generic)(status, headers, body)
    if error.provider is None:
        error.provider = ctx.provider_id
    return error.redacted(ctx.redact)


async def send_json(
    ctx: CallContext,
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """Send `json` (or raw `content`, e.g. a signed body) and return the parsed JSON answer; an
    error status raises the provider's typed error, a success that is not JSON an InvalidResponseError."""
    resp = await ctx.request(method, url, json=json, content=content, headers=headers, params=params)
    if resp.status_code >= 400:
        raise _raise_for(ctx, resp.status_code, resp.headers, resp.content)
    try:
        return _loads(resp.content)
    except ValueError:
        raise InvalidResponseError(
            f"{ctx.provider_id} answered status {resp.status_code} with a body that is not JSON",
            status=resp.status_code,
            provider=ctx.provider_id,
        ) from None


_loads = json.loads


class _SSE:
    """`open_sse`: an async context manager (a plain class, no generator to finalise) whose value is
    the stream's events; leaving it closes the upstream request."""

    __slots__ = ("_args", "_ctx", "_opened")

    def __init__(self, ctx: CallContext, args: tuple[Any, ...]) -> None:
        self._ctx = ctx
        self._args = args
        self._opened: Any = None

    async def __aenter__(self) -> AsyncIterator[ServerSentEvent]:
        ctx = self._ctx
        method, url, body, headers, params = self._args
        opened = ctx.stream(method, url, json=body, headers=headers, params=params)
        resp: httpx.Response = await opened.__aenter__()
        self._opened = opened
        if resp.status_code >= 400:
            try:
                raw = await ctx.read_error_body(resp)
            finally:
                self._opened = None
                await opened.__aexit__(None, None, None)
            raise _raise_for(ctx, resp.status_code, resp.headers, raw)
        return aiter_sse(ctx.iter_bytes(resp))

    async def __aexit__(self, *exc: object) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.__aexit__(*exc)


def open_sse(
    ctx: CallContext,
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
) -> _SSE:
    """Open a server-sent-event stream: `async with open_sse(...) as events`; an error status raises
    the provider's typed error on entry, a connection that breaks off StreamInterruptedError."""
    return _SSE(ctx, (method, url, json, headers, params))
