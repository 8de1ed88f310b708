"""A started stream's two clocks: at most `idle` seconds waiting for the provider's next chunk
(comments and keep-alives make no chunk, so they do not count) and at most `duration` seconds in all
(Kibana bounds its inference streams by `MAX_STREAM_DURATION_MS` the same way).

One timer per stream, re-armed only when it fires, instead of an `asyncio.timeout` per chunk (a
timer handle and a context object per chunk cost more than the rest of a chunk's way through the
runtime): each wait only notes when it started. A fired timer cancels the waiting task and the
cancellation it caused becomes a StreamTimeoutError, as `asyncio.timeout` turns its own into a
TimeoutError; a cancellation from elsewhere stays a cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

from ai_connector.errors import StreamTimeoutError

__all__ = ["StreamWatchdog"]

T = TypeVar("T")


class StreamWatchdog:
    """`await watchdog.next(chunks)` for each chunk of one stream; `close()` when it ends."""

    __slots__ = (
        "_deadline",
        "_duration",
        "_fired",
        "_handle",
        "_idle",
        "_loop",
        "_provider",
        "_since",
        "_task",
    )

    def __init__(self, idle: float, duration: float, provider: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = idle
        self._duration = duration
        self._provider = provider
        self._deadline = self._loop.time() + duration
        self._since = 0.0  # when the current wait began
        self._task: asyncio.Task[object] | None = None  # the task waiting now, None between waits
        self._fired: str | None = None
        self._handle: asyncio.TimerHandle | None = None

    async def next(self, chunks: AsyncIterator[T]) -> T | None:
        """The next chunk, None at the end; StreamTimeoutError when a clock runs out."""
        loop = self._loop
        self._since = now = loop.time()
        if now >= self._deadline:
            raise self._error("duration")
        if self._handle is None:
            self._handle = loop.call_at(min(now + self._idle, self._deadline), self._check)
        task = asyncio.current_task(loop)  # with the loop given: no running-loop lookup per chunk
        cancelling = task.cancelling() if task is not None else 0
        self._task = task
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None
        except asyncio.CancelledError:
            fired, self._fired = self._fired, None
            if fired is None or task is None or task.uncancel() > cancelling:
                raise
        finally:
            self._task = None
        raise self._error(fired)  # outside the except block: no CancelledError as its context

    def _check(self) -> None:
        """The timer: cancel a wait that ran out of time, else re-arm for the earliest due time."""
        now = self._loop.time()
        idle_at = self._since + self._idle if self._task is not None else now + self._idle
        if self._task is not None and now >= min(idle_at, self._deadline):
            self._fired = "idle" if idle_at < self._deadline else "duration"
            self._handle = None
            self._task.cancel()
            return
        if self._task is None and now >= self._deadline:
            self._handle = None  # nobody waits: the next wait raises at once
            return
        self._handle = self._loop.call_at(min(idle_at, self._deadline), self._check)

    def _error(self, which: str) -> StreamTimeoutError:
        if which == "idle":
            what = f"no stream event within {self._idle:g} seconds (stream_idle_timeout)"
        else:
            what = (
                f"the stream exceeded the maximum duration of {self._duration:g} seconds "
                "(max_stream_duration)"
            )
        return StreamTimeoutError(f"{self._provider}: {what}", provider=self._provider)

    def close(self) -> None:
        """Stop the timer (the stream ended)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()
