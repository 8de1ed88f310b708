"""Bedrock's binary event-stream (issue 12's gap): a frame whose prelude declares more than AWS's
message limit is refused with the host's size-cap error as soon as its 12-byte prelude is in, before
any of its payload is kept, however slowly the rest trickles in.

AWS's limit: awslabs/aws-c-event-stream, include/aws/event-stream/event_stream.h
(`AWS_EVENT_STREAM_MAX_MESSAGE_SIZE`, 16 MiB). The fault server is the one `test_upstream_faults.py`
runs (a raw asyncio server on its own thread); the faults here are registered on its table.
"""

from __future__ import annotations

import asyncio
import struct
import tracemalloc
import zlib
from typing import Any

import pytest
import test_upstream_faults as upstream
from test_upstream_faults import FAULTS, SETTINGS, FaultServer, Writer, under_fault

from ai_connector.aws_eventstream import MAX_MESSAGE_BYTES, FrameReader
from ai_connector.errors import InvalidResponseError, ResponseTooLargeError
from ai_connector.manager import default_registry
from ai_connector.plugin import ResponseTooLargeError as PluginResponseTooLargeError
from ai_connector.runtime import Runtime
from ai_connector.testing import FakeServer
from ai_connector.validation import validate_connector
from ai_connector_amazonbedrock import testing as bedrock_testing

MIB = 1024 * 1024
CHAT = {"body": {"messages": [{"role": "user", "content": "Hi"}]}}
HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/vnd.amazon.eventstream\r\n"
    b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
)
SENT: dict[str, int] = {}  # fault -> bytes of the oversized frame written before the client hung up


def prelude(total: int, headers: int = 0) -> bytes:
    """A frame's first 12 bytes: the declared lengths and their (valid) CRC32."""
    head = struct.pack(">II", total, headers)
    return head + struct.pack(">I", zlib.crc32(head))


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def oversized(total: int, name: str) -> Any:
    """A fault: one valid event, then a frame declaring `total` bytes whose rest trickles in 16 KiB
    pieces for as long as the client listens (up to 64 MiB, far past any cap)."""

    async def fault(w: Writer) -> None:
        start = bedrock_testing.event_message("messageStart", {"role": "assistant"})
        w.write(HEAD + chunk(start) + chunk(prelude(total)))
        await w.drain()
        SENT[name] = 0
        piece = b"\0" * (16 * 1024)
        for _ in range(64 * MIB // len(piece)):
            w.write(chunk(piece))
            await w.drain()
            SENT[name] += len(piece)
            await asyncio.sleep(0.01)

    fault.__name__ = name
    return fault


# Past AWS's 16 MiB by one byte (still under botocore's own 24 MiB payload limit, so only this cap
# refuses it), and the largest length a prelude can declare.
DECLARED = {"frame-16mib-plus-1": MAX_MESSAGE_BYTES + 1, "frame-4gib": 2**32 - 1}
FAULTS.update({name: oversized(total, name) for name, total in DECLARED.items()})
# That module's fixtures: one fault server and one healthy fake per module, a Runtime per test.
faults, healthy, runtime = upstream.faults, upstream.healthy, upstream.runtime


def bedrock(url: str) -> Any:
    config, secrets = bedrock_testing.connector(url)
    doc = {
        "name": "bedrock-frames",
        "connector_type_id": ".inference",
        "config": {
            "provider": "amazonbedrock",
            "taskType": "chat_completion",
            "inferenceId": "bedrock-frames",
            "providerConfig": config,
        },
        "secrets": {"providerSecrets": secrets},
    }
    return validate_connector(doc, default_registry(), connector_id="bedrock-frames")


# -- the reader alone --------------------------------------------------------------------------------


def test_the_cap_is_aws_message_limit_and_the_plugin_api_exports_its_error() -> None:
    assert MAX_MESSAGE_BYTES == 16 * MIB
    assert PluginResponseTooLargeError is ResponseTooLargeError
    assert issubclass(ResponseTooLargeError, InvalidResponseError)


@pytest.mark.parametrize("total", [MAX_MESSAGE_BYTES + 1, 2**32 - 1])
def test_an_oversized_declaration_is_refused_on_the_prelude_s_last_byte(total: int) -> None:
    reader = FrameReader("amazonbedrock")
    head = prelude(total)
    for i in range(11):
        assert list(reader.feed(head[i : i + 1])) == []
    with pytest.raises(ResponseTooLargeError) as caught:
        list(reader.feed(head[11:]))
    assert str(total) in str(caught.value) and str(MAX_MESSAGE_BYTES) in str(caught.value)
    assert not caught.value.retryable


def test_the_cap_is_exact() -> None:
    """A frame of exactly `max_frame` bytes decodes; one byte more is refused."""
    headers = [(":event-type", 7, "messageStart"), (":message-type", 7, "event")]
    empty = len(bedrock_testing.encode_message(headers, b""))
    frame = bedrock_testing.encode_message(headers, b'{"role":"assistant"}' + b" " * (1024 - empty - 20))
    assert len(frame) == 1024
    (message,) = FrameReader("amazonbedrock", max_frame=1024).feed(frame)
    assert message.headers[":event-type"] == "messageStart"
    with pytest.raises(ResponseTooLargeError):
        list(FrameReader("amazonbedrock", max_frame=1023).feed(frame))


def test_a_lying_headers_length_is_malformed_not_buffered() -> None:
    reader = FrameReader("amazonbedrock")
    with pytest.raises(InvalidResponseError, match="malformed event-stream frame"):
        list(reader.feed(prelude(100, headers=200)))
    with pytest.raises(InvalidResponseError, match="malformed event-stream frame"):
        list(FrameReader("amazonbedrock").feed(prelude(8)))


def test_many_frames_in_one_read_and_one_frame_in_many_reads_decode_alike() -> None:
    frames = [bedrock_testing.event_message("contentBlockDelta", {"i": i}) for i in range(200)]
    data = b"".join(frames)
    whole = [m.payload for m in FrameReader("amazonbedrock").feed(data)]
    reader = FrameReader("amazonbedrock")
    pieces = [m.payload for i in range(0, len(data), 7) for m in reader.feed(data[i : i + 7])]
    reader.finish()
    assert whole == pieces and len(whole) == 200


def test_memory_stays_flat_while_an_oversized_frame_trickles() -> None:
    """Fed like the fault below (the prelude, then 16 KiB pieces), the reader refuses at once; the
    old framing (botocore's buffer) kept every byte of a frame it had accepted."""
    tracemalloc.start()
    try:
        reader = FrameReader("amazonbedrock")
        start = bedrock_testing.event_message("messageStart", {"role": "assistant"})
        assert len(list(reader.feed(start))) == 1
        base = tracemalloc.get_traced_memory()[0]
        refused = 0
        piece = b"\0" * (16 * 1024)
        for data in [prelude(MAX_MESSAGE_BYTES + 1)] + [piece] * 1024:  # 16 MiB offered
            try:
                list(reader.feed(data))
            except ResponseTooLargeError:
                refused += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused >= 1
    assert peak - base < 1 * MIB


# -- through the Runtime, against a trickling upstream -------------------------------------------------


@pytest.mark.parametrize("fault", list(DECLARED))
async def test_a_trickled_oversized_frame_ends_in_the_size_cap_error(
    runtime: Runtime, faults: FaultServer, healthy: FakeServer, fault: str
) -> None:
    conn = bedrock(f"{faults.url}/{fault}")
    got: list[Any] = []

    async def stream() -> None:
        async for piece in runtime.stream(conn, CHAT):
            got.append(piece)

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        error, elapsed = await under_fault(runtime, healthy, f"bedrock-{fault}", stream)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(error, ResponseTooLargeError), repr(error)
    assert str(DECLARED[fault]) in str(error) and str(MAX_MESSAGE_BYTES) in str(error)
    assert not error.retryable
    # Refused on the prelude: long before the idle timeout, with at most a few pieces of the trickle
    # on the wire, and no growth near the declared size in this process (server thread included).
    assert elapsed < SETTINGS.stream_idle_timeout + 2.0
    await asyncio.sleep(0.2)  # let the fault server see the hang-up
    assert SENT[fault] < 8 * MIB
    assert peak - base < 8 * MIB
