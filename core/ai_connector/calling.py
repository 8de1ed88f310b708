"""Which provider is calling: a context variable set around each of a provider's calls.

`Provider` binds its calls here, so an error raised inside one knows its provider without a
`provider=` argument, and `CallContext`'s JSON and SSE helpers find the provider's error parser.
Imports nothing from the package, so the error and type modules can both use it.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Caller", "bind", "current_caller", "current_provider"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The provider a call runs for: its id and its error parser (None: the core's generic one)."""

    provider_id: str
    parse_error: Callable[[int, Mapping[str, str], bytes], Any] | None = None


_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("ai_connector_caller", default=None)


def current_caller() -> Caller | None:
    """The provider whose call is running in this context, if any."""
    return _CALLER.get()


def current_provider() -> str | None:
    """The id of the provider whose call is running in this context, if any."""
    caller = _CALLER.get()
    return None if caller is None else caller.provider_id


class _BoundCall:
    """A provider's coroutine call with the caller set while it runs."""

    __slots__ = ("__wrapped__", "caller")

    def __init__(self, fn: Callable[..., Any], caller: Caller) -> None:
        self.__wrapped__ = fn
        self.caller = caller

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = _CALLER.set(self.caller)
        try:
            return await self.__wrapped__(*args, **kwargs)
        finally:
            _CALLER.reset(token)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _BoundCall) and (other.__wrapped__, other.caller) == (
            self.__wrapped__,
            self.caller,
        )

    def __hash__(self) -> int:
        return hash((self.__wrapped__, self.caller))


class _BoundStream(_BoundCall):
    """A provider's chat stream call: the caller is set while the call builds its iterator and
    around each step of it (an async generator runs in its consumer's context)."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        token = _CALLER.set(self.caller)
        try:
            return _BoundIterator(self.__wrapped__(*args, **kwargs), self.caller)
        finally:
            _CALLER.reset(token)


class _BoundIterator:
    """An async iterator stepped with the caller set; not a generator, so closing it is immediate."""

    __slots__ = ("_caller", "_inner")

    def __init__(self, inner: AsyncIterator[Any], caller: Caller) -> None:
        self._inner = inner
        self._caller = caller

    def __aiter__(self) -> _BoundIterator:
        return self

    async def __anext__(self) -> Any:
        token = _CALLER.set(self._caller)
        try:
            return await self._inner.__anext__()
        finally:
            _CALLER.reset(token)

    async def aclose(self) -> None:
        """Close the provider's iterator (and the request behind it) now."""
        close = getattr(self._inner, "aclose", None)
        if close is not None:
            token = _CALLER.set(self._caller)
            try:
                await close()
            finally:
                _CALLER.reset(token)


def bind(fn: Callable[..., Any] | None, caller: Caller, *, stream: bool = False) -> Any:
    """`fn` bound to `caller` (None stays None; a call already bound is re-bound to the new caller)."""
    if fn is None:
        return None
    fn = getattr(fn, "__wrapped__", fn) if isinstance(fn, _BoundCall) else fn
    return _BoundStream(fn, caller) if stream else _BoundCall(fn, caller)
