"""Reading `application/vnd.amazon.eventstream` bodies (Bedrock ConverseStream) with botocore's parser.

botocore's `EventStreamBuffer` does the framing and checks both CRCs; this module feeds it the
response's bytes, keeps count of what it has not yet framed (a stream that ends mid-frame was cut),
and turns its parse failures into the plugin API's typed errors. botocore is imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ai_connector.plugin import InvalidResponseError, StreamInterruptedError

__all__ = ["FrameReader", "StreamEvent", "decode_event"]


class StreamEvent:
    """One decoded message: its `:message-type`, `:event-type` (or exception/error code), and JSON body."""

    __slots__ = ("body", "kind", "message_type")

    def __init__(self, message_type: str, kind: str, body: Any) -> None:
        self.message_type = message_type
        self.kind = kind
        self.body = body


class FrameReader:
    """Incremental event-stream framer: feed bytes, get the complete messages so far."""

    __slots__ = ("_buffer", "_pending", "_provider")

    def __init__(self, provider: str) -> None:
        from botocore.eventstream import EventStreamBuffer

        self._buffer = EventStreamBuffer()
        self._pending = 0
        self._provider = provider

    def feed(self, data: bytes) -> Iterator[Any]:
        """Yield every botocore `EventStreamMessage` completed by `data` (CRCs verified)."""
        self._buffer.add_data(data)
        self._pending += len(data)
        while True:
            try:
                message = next(self._buffer)
            except StopIteration:
                return
            # botocore raises its ParserError family, but also KeyError (unknown header type),
            # struct.error and UnicodeDecodeError on a frame whose lengths are lies: catch them all.
            except Exception as exc:
                raise InvalidResponseError(
                    f"{self._provider}: malformed event-stream frame ({type(exc).__name__}: {exc})",
                    status=200,
                ) from None
            self._pending -= message.prelude.total_length
            yield message

    def finish(self) -> None:
        """Call at the end of the body: bytes left over mean the last frame was cut off."""
        if self._pending:
            raise StreamInterruptedError(
                f"{self._provider}: the stream ended inside an event-stream frame "
                f"({self._pending} bytes of an incomplete message)",
                status=200,
            )


def decode_event(message: Any, provider: str) -> StreamEvent:
    """The message type, event/exception name and parsed JSON payload of one framed message.

    `error` messages carry their code and text in headers (`:error-code`, `:error-message`) and
    are returned with that text as the body's `message`.
    """
    headers = message.headers
    message_type = headers.get(":message-type")
    if message_type == "event":
        kind = headers.get(":event-type")
    elif message_type == "exception":
        kind = headers.get(":exception-type")
    elif message_type == "error":
        return StreamEvent(
            "error", str(headers.get(":error-code") or "error"), {"message": headers.get(":error-message")}
        )
    else:
        raise InvalidResponseError(
            f"{provider}: event-stream message without a known :message-type ({message_type!r})",
            status=200,
        )
    if not isinstance(kind, str) or not kind:
        raise InvalidResponseError(
            f"{provider}: event-stream {message_type} message without its type header",
            status=200,
        )
    payload = message.payload
    try:
        body = json.loads(payload) if payload else {}
    except (ValueError, UnicodeDecodeError):
        raise InvalidResponseError(
            f"{provider}: the {kind} event's payload is not JSON", status=200
        ) from None
    if not isinstance(body, dict):
        raise InvalidResponseError(f"{provider}: the {kind} event's payload is not a JSON object", status=200)
    return StreamEvent(message_type, kind, body)
