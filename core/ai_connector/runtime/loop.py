"""Sync over async: a private event loop in a daemon thread, for the blocking facades.

`SyncRuntime` and `SyncConnectorService` both submit coroutines here and wait. Interrupting the
waiting thread (KeyboardInterrupt) cancels the call on the loop, which closes its upstream request;
`iterate()` turns an async iterator into a plain one that closes the async one when left early.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")
_END = object()


class LoopThread:
    """An event loop running in a daemon thread named `name`; `owner` names it in errors."""

    def __init__(self, name: str, owner: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.owner = owner
        self.closed = False
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result (RuntimeError once stopped)."""
        if self.closed:
            coro.close()
            raise RuntimeError(f"this {self.owner} is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()  # e.g. KeyboardInterrupt while waiting: stop the call on the loop
                with contextlib.suppress(concurrent.futures.CancelledError, Exception):
                    future.result(timeout=5)
            raise

    def iterate(self, chunks: AsyncIterator[T]) -> Iterator[T]:
        """A blocking iterator over `chunks`; leaving it early (break, close, garbage collection)
        closes `chunks` on the loop."""

        async def next_chunk() -> Any:
            return await anext(chunks, _END)

        try:
            while True:
                item = self.run(next_chunk())
                if item is _END:
                    return
                yield item
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None and not self.closed:
                self.run(aclose())

    def stop(self) -> None:
        """Stop the loop and its thread; idempotent."""
        self.closed = True
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
