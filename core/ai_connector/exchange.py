"""The chores of one provider request, behind `CallContext.send_json` and `CallContext.open_sse`:
send, turn an error status into the provider's typed error (its `parse_error`, or a generic one),
parse the JSON answer or frame the SSE stream, and redact the call's secrets from every error.

Built on the context's `_answer()` (the host client's short path, or httpx's API for a client
without one), `_read_whole()`, `_error_body()` and `_events()`: the same caps and typed errors as
`request()`, `stream()`, `read_error_body()` and `iter_bytes()`, which share them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from ai_connector.calling import current_caller
from ai_connector.errors import InvalidResponseError, ProviderError, error_for_status
from ai_connector.sse import ServerSentEvent


class Answer(Protocol):
    """An answer's head and body, as `CallContext._answer` gives it."""

    status: int
    headers: Mapping[str, str]
    body: Any  # async iterator of bytes raising httpx's errors, with aclose()


class CallContext(Protocol):
    """What these chores use of `ai_connector.context.CallContext` (which delegates to them)."""

    provider_id: str

    def redact(self, text: Any) -> str: ...

    async def _answer(
        self, method: str, url: str, json: Any, content: bytes | None, params: Any, headers: Any
    ) -> Answer: ...

    async def _read_whole(self, status: int, headers: Mapping[str, str], chunks: Any, url: str) -> bytes: ...

    async def _error_body(self, chunks: Any) -> bytes: ...

    def _events(self, answer: Answer) -> AsyncIterator[ServerSentEvent]: ...


__all__ = ["QueryParams", "error_message", "open_sse", "parse_error_generic", "send_json"]

# A query string as httpx takes it: a mapping, or (key, value) pairs when order or a repeated key matters.
QueryParams = Mapping[str, Any] | Sequence[tuple[str, str]]


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
        message = err.get("message") if isinstance(err, Mapping) else None
        if isinstance(message, str):
            return message
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
    params: QueryParams | None = None,
) -> Any:
    """Send `json` (or raw `content`, e.g. a signed body) and return the parsed JSON answer; an
    error status raises the provider's typed error, a success that is not JSON an InvalidResponseError."""
    answer = await ctx._answer(method, url, json, content, params, headers)
    status = answer.status
    body = await ctx._read_whole(status, answer.headers, answer.body, url)
    if status >= 400:
        raise _raise_for(ctx, status, answer.headers, body)
    try:
        return _loads(body)
    except ValueError:
        raise InvalidResponseError(
            f"{ctx.provider_id} answered status {status} with a body that is not JSON",
            status=status,
            provider=ctx.provider_id,
        ) from None


_loads = json.loads


class _SSE:
    """`open_sse`: an async context manager (a plain class, no generator to finalise) whose value is
    the stream's events; leaving it closes the upstream request."""

    __slots__ = ("_args", "_body", "_ctx")

    def __init__(self, ctx: CallContext, args: tuple[Any, ...]) -> None:
        self._ctx = ctx
        self._args = args
        self._body: Any = None

    async def __aenter__(self) -> AsyncIterator[ServerSentEvent]:
        ctx = self._ctx
        method, url, body, headers, params = self._args
        answer = await ctx._answer(method, url, body, None, params, headers)
        if answer.status >= 400:
            raise _raise_for(ctx, answer.status, answer.headers, await ctx._error_body(answer.body))
        self._body = answer.body
        return ctx._events(answer)

    async def __aexit__(self, *exc: object) -> None:
        body, self._body = self._body, None
        if body is not None:
            await body.aclose()


def open_sse(
    ctx: CallContext,
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    params: QueryParams | None = None,
) -> _SSE:
    """Open a server-sent-event stream: `async with open_sse(...) as events`; an error status raises
    the provider's typed error on entry, a connection that breaks off StreamInterruptedError."""
    return _SSE(ctx, (method, url, json, headers, params))
