"""The body of `:streamGenerateContent?alt=sse` split into JSON values.

Google frames each GenerateContentResponse as `data: {...}` followed by a blank line (CRLF line ends,
no terminator event). When the server fails after the stream has started it writes a bare,
pretty-printed `{"error": {...}}` object that is not an SSE event at all, so a plain SSE parser would
drop it silently; this decoder returns it like any other value.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

__all__ = ["GeminiStreamDecoder"]


class GeminiStreamDecoder:
    """Incremental decoder: feed text, get the JSON values completed so far (parsed).

    `data:` lines are joined and dispatched by a blank line, as SSE does (LF, CRLF or CR line ends,
    `:` comments ignored); lines outside any event that start a JSON object or array are collected until
    they parse. Raises ValueError when a dispatched event's data is not JSON.
    """

    __slots__ = ("_data", "_pending", "_stray")

    def __init__(self) -> None:
        self._pending = ""
        self._data: list[str] = []
        self._stray: list[str] = []

    def feed(self, text: str) -> list[Any]:
        """Decode more of the body; returns the values whose end has arrived."""
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
        out: list[Any] = []
        for line in lines:
            self._line(line, out)
        return out

    def close(self) -> list[Any]:
        """End of body: a complete stray JSON value or a last event whose data is complete JSON but
        which no blank line followed is returned (some servers end the body right after the final
        event); an event cut off mid-JSON is dropped (the caller notices the missing finishReason)."""
        out: list[Any] = []
        tail = self._pending.rstrip("\r")
        self._pending = ""
        if tail:
            self._line(tail, out)
        if self._stray:
            with contextlib.suppress(ValueError):
                out.append(json.loads("\n".join(self._stray)))
            self._stray = []
        if self._data:
            with contextlib.suppress(ValueError):
                out.append(json.loads("\n".join(self._data)))
            self._data = []
        return out

    def _line(self, line: str, out: list[Any]) -> None:
        if line.startswith("data:"):
            self._data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif not line:
            if self._data:
                data = "\n".join(self._data)
                self._data = []
                try:
                    out.append(json.loads(data))
                except ValueError:
                    raise ValueError("a stream event's data is not JSON") from None
        elif line[0] == ":":
            return
        elif self._stray or line.lstrip()[:1] in ("{", "["):
            self._stray.append(line)
            if line.rstrip()[-1:] in ("}", "]"):
                try:
                    value = json.loads("\n".join(self._stray))
                except ValueError:
                    return  # not complete yet
                self._stray = []
                out.append(value)
        # Other SSE fields (event:, id:, retry:) carry nothing Gemini uses.
