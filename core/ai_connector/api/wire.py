"""`serve`'s HTTP/1.1 protocol: uvicorn's, with the writes of one event-loop turn sent together.

An ASGI server writes to the socket on every `send`: a response's head and its body are two
writes, and a stream whose chunks are already at hand (an upstream that delivered twenty events in
one read) is one write per event. On loopback and in virtual machines each write that wakes the
reader costs tens of microseconds of CPU, more than rendering the event. Here every write made
during one turn of the event loop is held and written once at the start of the next turn (the
bytes and their order unchanged; a buffer past `FLUSH_BYTES` is written at once, so the real
transport's flow control still pauses a fast producer; a complete answer is written as soon as it
is complete). An event that arrives later is not delayed: the turn that produced it ends as soon
as it waits for the next.

uvicorn takes the protocol class as its `http` setting; without httptools this falls back to
uvicorn's own choice.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["FLUSH_BYTES", "CoalescingHttpToolsProtocol", "CoalescingTransport", "http_protocol"]

FLUSH_BYTES = 65_536  # uvicorn's HIGH_WATER_LIMIT: past this, write now so backpressure still works


class CoalescingTransport:
    """A transport whose writes within one loop turn reach the socket as one write.

    Everything but `write`, `writelines` and `close` is the wrapped transport's own.
    """

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes) -> None:
        """Hold `data` until the loop's next turn (or write now, with the rest, past FLUSH_BYTES)."""
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._size = len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)
            self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what is held, as one write."""
        pending, self._pending = self._pending, None
        if not pending or self._transport.is_closing():  # a connection lost meanwhile: nobody reads
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_protocol() -> Any:
    """uvicorn's httptools protocol writing through a CoalescingTransport, or "auto" without httptools."""
    return "auto" if CoalescingHttpToolsProtocol is None else CoalescingHttpToolsProtocol


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not on every platform: uvicorn's h11, unchanged
    CoalescingHttpToolsProtocol: Any = None
else:

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        """HttpToolsProtocol on a CoalescingTransport; a complete answer is written at once."""

        _coalescing: CoalescingTransport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self._coalescing = CoalescingTransport(transport, self.loop)
            super().connection_made(self._coalescing)  # type: ignore[arg-type]

        def on_response_complete(self) -> None:
            # The answer is whole (uvicorn calls this after its last write): nothing more can join
            # it, so it need not wait for the turn's end.
            if self._coalescing is not None:
                self._coalescing.flush()
            super().on_response_complete()
