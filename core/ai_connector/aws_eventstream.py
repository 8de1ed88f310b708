"""Reading `application/vnd.amazon.eventstream` bodies (AWS's binary event stream: Bedrock's
ConverseStream, SageMaker's InvokeEndpointWithResponseStream) with botocore's parser; for plugins, as
`ai_connector.plugin.aws_eventstream`.

This module frames the response's bytes by each message's prelude (refusing a declared length past
AWS's message limit with the host's size-cap error, and a prelude whose CRC is wrong), keeps what it
has not yet framed (a stream that ends mid-frame was cut), and hands botocore's `EventStreamBuffer`
one whole frame at a time to check the message CRC and parse the headers. botocore is imported on
first use.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

from ai_connector.errors import InvalidResponseError, ResponseTooLargeError, StreamInterruptedError

__all__ = ["MAX_MESSAGE_BYTES", "FrameReader", "StreamEvent", "decode_event"]

# AWS's event-stream implementations cap one message at 16 MiB and its headers at 128 KiB
# (awslabs/aws-c-event-stream, include/aws/event-stream/event_stream.h:
# AWS_EVENT_STREAM_MAX_MESSAGE_SIZE, AWS_EVENT_STREAM_MAX_HEADERS_SIZE; botocore checks the headers).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_PRELUDE = struct.Struct(">III")  # total length, headers length, CRC32 of those 8 bytes
_PRELUDE_BYTES = _PRELUDE.size
_MIN_FRAME_BYTES = _PRELUDE_BYTES + 4  # prelude and the message CRC: no headers, no payload


class StreamEvent:
    """One decoded message: its `:message-type`, `:event-type` (or exception/error code), and JSON body."""

    __slots__ = ("body", "kind", "message_type")

    def __init__(self, message_type: str, kind: str, body: Any) -> None:
        self.message_type = message_type
        self.kind = kind
        self.body = body


class FrameReader:
    """Incremental event-stream framer: feed bytes, get the complete messages so far.

    It frames by the prelude itself (total length, headers length, their CRC32) and hands botocore
    one whole frame at a time, so a frame arriving in many reads is joined once (botocore's buffer
    copies everything it holds on each `add_data`), and a declared length past `max_frame` is
    refused before any of that frame's payload is kept.
    """

    __slots__ = ("_buffer", "_failed", "_have", "_max_frame", "_need", "_parts", "_pos", "_provider")

    def __init__(self, provider: str, max_frame: int = MAX_MESSAGE_BYTES) -> None:
        from botocore.eventstream import EventStreamBuffer

        self._buffer = EventStreamBuffer()
        self._parts: list[bytes] = []  # the bytes not yet framed, in the pieces they arrived in...
        self._pos = 0  # ...from this offset into the first piece
        self._have = 0  # how many they are
        self._need = 0  # the current frame's declared total length, once its prelude is in
        self._max_frame = max_frame
        self._provider = provider
        self._failed: InvalidResponseError | None = None

    def feed(self, data: bytes) -> Iterator[Any]:
        """Yield every botocore `EventStreamMessage` completed by `data` (CRCs verified).

        After a refusal the reader keeps nothing and refuses every later feed the same way."""
        if self._failed is not None:
            raise self._failed
        if data:
            self._parts.append(data)
            self._have += len(data)
        try:
            while True:
                if not self._need:
                    if self._have < _PRELUDE_BYTES:
                        return
                    self._need = self._prelude()
                if self._have < self._need:
                    return
                yield self._message()
        except InvalidResponseError as exc:
            self._failed = exc
            self._parts.clear()
            self._have = self._need = self._pos = 0
            raise

    def _joined(self) -> bytes:
        """The unframed bytes as one piece (from `_pos`), joined once per read at most."""
        parts = self._parts
        if len(parts) > 1:
            parts[:] = [parts[0][self._pos :] + b"".join(parts[1:])]
            self._pos = 0
        return parts[0]

    def _prelude(self) -> int:
        """The declared total length of the next frame, checked before any of its payload is kept."""
        data, pos = self._joined(), self._pos
        total: int
        headers: int
        crc: int
        total, headers, crc = _PRELUDE.unpack_from(data, pos)
        if zlib.crc32(data[pos : pos + 8]) != crc:
            raise self._malformed("prelude checksum mismatch")
        if total > self._max_frame:
            raise ResponseTooLargeError(
                f"{self._provider}: the stream declared an event-stream message of {total} bytes, "
                f"longer than the limit of {self._max_frame} bytes",
                status=200,
            )
        if total < _MIN_FRAME_BYTES or headers > total - _MIN_FRAME_BYTES:
            raise self._malformed(f"a total length of {total} cannot hold {headers} bytes of headers")
        return total

    def _message(self) -> Any:
        """Parse the complete frame at the start of the unframed bytes (botocore checks its CRC)."""
        data, pos, need = self._joined(), self._pos, self._need
        self._buffer.add_data(data[pos : pos + need])
        self._have -= need
        self._need = 0
        if self._have:
            self._pos = pos + need
        else:
            self._parts.clear()
            self._pos = 0
        try:
            return next(self._buffer)
        # botocore raises its ParserError family, but also KeyError (unknown header type),
        # struct.error and UnicodeDecodeError on headers whose lengths are lies: catch them all.
        except Exception as exc:
            raise self._malformed(f"{type(exc).__name__}: {exc}") from None

    def _malformed(self, why: str) -> InvalidResponseError:
        return InvalidResponseError(f"{self._provider}: malformed event-stream frame ({why})", status=200)

    def finish(self) -> None:
        """Call at the end of the body: bytes left over mean the last frame was cut off."""
        if self._have:
            raise StreamInterruptedError(
                f"{self._provider}: the stream ended inside an event-stream frame "
                f"({self._have} bytes of an incomplete message)",
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
