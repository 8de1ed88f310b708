"""A server-sent events parser (WHATWG rules) over an httpx response, shared by every SSE provider.

LF, CRLF and CR line ends; `:` comment lines ignored; several `data:` lines joined by `\\n`; a blank
line dispatches.

At the end of the stream (`close()`), one deliberate difference from the spec: an event whose lines
all arrived whole but which no blank line followed is dispatched. WHATWG HTML's "Interpreting an
event stream" discards it ("Once the end of the file is reached, any pending data must be
discarded"), which suits a browser's EventSource: it reconnects and resumes after the last dispatched
id. A provider's body is never resumed, and servers do end it right after their last event's lines:
the transcripts on Anthropic's "Streaming Messages" page end `message_stop` and the mid-stream `error`
event with a single line end; dropping such an event turns a whole answer (or a provider's error)
into an interrupted stream, and a final `data: [DONE]` without its blank line into a missing one. An
event whose last line has no line end at all is still discarded, as that line may be cut short.
(openai-python's SSEDecoder follows the spec and drops both; it can, as it does not require `[DONE]`.)

Linear in the stream's length however it is split: a line still without its end is kept as a list
of parts and joined once, when its end arrives. A line longer than `max_line` or an event whose data
passes `max_event` (characters) raises ResponseTooLargeError naming the limit, so one upstream can
neither grow the host's memory nor hold the event loop.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ai_connector.errors import ResponseTooLargeError

__all__ = ["SSEDecoder", "ServerSentEvent", "aiter_sse"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event; `event` is "message" when the stream named none."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


DEFAULT_MAX_LINE = 4 * 1024 * 1024
DEFAULT_MAX_EVENT = 8 * 1024 * 1024


class SSEDecoder:
    """Incremental decoder: feed text, get the events completed so far (see the module docstring)."""

    __slots__ = ("_data", "_event", "_id", "_max_event", "_max_line", "_parts", "_pending", "_retry", "_size")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE, max_event: int = DEFAULT_MAX_EVENT) -> None:
        self._max_line = max_line
        self._max_event = max_event
        self._parts: list[str] = []  # the unfinished line, in the pieces it arrived in
        self._pending = 0  # its length
        self._data: list[str] = []
        self._size = 0  # characters in _data
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def _too_large(self, what: str, limit: int, setting: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"the stream sent {what} longer than the host's limit of {limit} characters ({setting})"
        )

    def feed(self, text: str) -> list[ServerSentEvent]:
        """Decode more of the stream; the events whose blank line has arrived (a list, maybe empty)."""
        if "\n" not in text and "\r" not in text:  # the middle of a line: keep it for later
            if text:
                self._parts.append(text)
                self._pending += len(text)
                if self._pending > self._max_line:
                    raise self._too_large("a line", self._max_line, "max_sse_line_bytes")
            return []
        parts = self._parts
        if parts:
            parts.append(text)
            buf = "".join(parts)
            parts.clear()
        else:
            buf = text
        # A CR at the very end may be the first half of CRLF: keep it for the next feed.
        tail = ""
        if buf.endswith("\r"):
            buf, tail = buf[:-1], "\r"
        if "\r" in buf:
            buf = buf.replace("\r\n", "\n").replace("\r", "\n")
        lines = buf.split("\n")
        rest = lines.pop() + tail
        if rest:
            parts.append(rest)
        self._pending = len(rest)
        if self._pending > self._max_line:
            raise self._too_large("a line", self._max_line, "max_sse_line_bytes")
        out: list[ServerSentEvent] = []
        for line in lines:
            if not line:  # a blank line dispatches the event (handled inline: it is every other line)
                if self._data:
                    data = "\n".join(self._data)
                    out.append(ServerSentEvent(data, self._event or "message", self._id, self._retry))
                    self._data = []
                    self._size = 0
                    self._retry = None
                self._event = None  # the spec dispatches nothing for an event without data lines
            elif line.startswith("data:"):  # the common field, handled inline
                self._add_data(line[6:] if line.startswith(" ", 5) else line[5:])
            else:
                self._line(line)
        return out

    def close(self) -> list[ServerSentEvent]:
        """The end of the stream: the last event if its lines arrived whole without a blank line after
        them (see the module docstring); an event whose last line has no line end is discarded."""
        parts = self._parts
        out: list[ServerSentEvent] = []
        if parts and parts[-1].endswith("\r"):  # a CR held back as maybe half a CRLF did end its line
            out = self.feed("\n")
        if not parts and self._data:
            out.extend(self.feed("\n"))
        parts.clear()
        self._pending = 0
        self._data, self._size, self._event = [], 0, None
        return out

    def _add_data(self, value: str) -> None:
        self._size += len(value) + 1
        if self._size > self._max_event:
            raise self._too_large("an event", self._max_event, "max_sse_event_bytes")
        self._data.append(value)

    def _line(self, line: str) -> None:
        """A non-blank line other than `data:`."""
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._add_data(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)


class _EventStream:
    """`aiter_sse`'s iterator. Not an async generator: one left unfinished (a stream read up to its
    `[DONE]`) would be finalised through the event loop, a task per stream. Like a generator, it
    ends for good after an error, and closing it leaves its source alone (the source's owner, e.g.
    `CallContext.stream()`, closes that)."""

    __slots__ = ("_chunks", "_decode", "_done", "_ready", "_sse")

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        limits: Any = getattr(chunks, "sse_limits", None)  # the host's caps, from `ctx.iter_bytes()`
        self._chunks = chunks.__aiter__()
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._sse = SSEDecoder(*limits) if limits else SSEDecoder()
        self._ready: deque[ServerSentEvent] = deque()
        self._done = False

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> ServerSentEvent:
        ready = self._ready
        while not ready:
            if self._done:
                raise StopAsyncIteration
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                ready.extend(self._sse.feed(self._decode(b"", True)))
                ready.extend(self._sse.close())
                continue
            except BaseException:
                self._done = True
                raise
            ready.extend(self._sse.feed(self._decode(chunk)))
        return ready.popleft()

    async def aclose(self) -> None:
        """End the iteration (the source is not closed)."""
        self._done = True
        self._ready.clear()


def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Events from an async byte stream (e.g. `ctx.iter_bytes(response)`, whose context's SSE line
    and event caps apply), decoded as UTF-8."""
    return _EventStream(chunks)


def iter_sse_text(text: str | Iterable[str]) -> Iterator[ServerSentEvent]:
    """Events from text already in memory (tests, recorded transcripts)."""
    sse = SSEDecoder()
    parts = [text] if isinstance(text, str) else text
    for part in parts:
        yield from sse.feed(part)
    yield from sse.close()
