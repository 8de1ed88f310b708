"""A server-sent events parser (WHATWG rules) over an httpx response, shared by every SSE provider.

LF, CRLF and CR line ends; `:` comment lines ignored; several `data:` lines joined by `\\n`; a blank
line dispatches; an event cut off by the end of the stream is dropped, as the spec says.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent", "aiter_sse"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event; `event` is "message" when the stream named none."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental decoder: feed text, get the events completed so far."""

    __slots__ = ("_data", "_event", "_id", "_pending", "_retry")

    def __init__(self) -> None:
        self._pending = ""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, text: str) -> Iterator[ServerSentEvent]:
        """Decode more of the stream; yields every event whose blank line has arrived."""
        buf = self._pending + text
        # A CR at the very end may be the first half of CRLF: keep it for the next feed.
        if buf.endswith("\r"):
            buf, self._pending = buf[:-1], "\r"
        else:
            self._pending = ""
        if "\r" in buf:
            buf = buf.replace("\r\n", "\n").replace("\r", "\n")
        lines = buf.split("\n")
        self._pending = lines.pop() + self._pending
        for line in lines:
            event = self._line(line)
            if event is not None:
                yield event

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not self._data:  # the spec dispatches nothing for an event without data lines
                self._event = None
                return None
            event = ServerSentEvent(
                data="\n".join(self._data), event=self._event or "message", id=self._id, retry=self._retry
            )
            self._data = []
            self._event = None
            self._retry = None
            return event
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Events from an async byte stream (e.g. `ctx.iter_bytes(response)`), decoded as UTF-8."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    sse = SSEDecoder()
    async for chunk in chunks:
        for event in sse.feed(decoder.decode(chunk)):
            yield event
    for event in sse.feed(decoder.decode(b"", final=True)):
        yield event


def iter_sse_text(text: str | Iterable[str]) -> Iterator[ServerSentEvent]:
    """Events from text already in memory (tests, recorded transcripts)."""
    sse = SSEDecoder()
    parts = [text] if isinstance(text, str) else text
    for part in parts:
        yield from sse.feed(part)
