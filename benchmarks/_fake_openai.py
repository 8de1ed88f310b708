"""A minimal OpenAI-wire server for the benchmarks, run in its own process so it does not compete
with the client for the GIL: `python benchmarks/_fake_openai.py PORT`.

`POST /v1/chat/completions` answers every request with the same pre-built bytes: for model
`bench-stream` a 21-chunk stream (role, 18 content deltas, finish, usage, then `[DONE]`, one HTTP
chunk each); for any other model a small stream (one content chunk, finish, usage) when the request
streams, or one small `chat.completion` when it does not. `GET /health` answers `ok`.

It is a plain asyncio protocol on uvloop when installed (no ASGI server, no HTTP library): an
h11-based fake capped raw aiohttp at 2.9-3.7k requests/s here, below what the clients can do, so
it measured itself. It reads keep-alive HTTP/1.1 requests with a Content-Length body (what every
contender sends) and nothing more.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

CREATED = 1727346168


def _chunk(model: str, delta: dict[str, Any] | None, finish: str | None = None, usage: bool = False) -> bytes:
    obj: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_bench",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        obj["usage"] = {"prompt_tokens": 9, "completion_tokens": 18, "total_tokens": 27}
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


STREAM_CHUNKS = 21
STREAM_EVENTS = (
    [_chunk("bench-stream", {"role": "assistant", "content": ""})]
    + [_chunk("bench-stream", {"content": f"tok{i} "}) for i in range(STREAM_CHUNKS - 3)]
    + [_chunk("bench-stream", {}, "stop"), _chunk("bench-stream", None, usage=True), b"data: [DONE]\n\n"]
)
SMALL_STREAM = (
    _chunk("bench-small", {"role": "assistant", "content": "Hello! How can I help you today?"})
    + _chunk("bench-small", {}, "stop")
    + _chunk("bench-small", None, usage=True)
    + b"data: [DONE]\n\n"
)
SMALL_JSON = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": "bench-small",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18},
    }
).encode()


# model `bench-long` (benchmarks/nonstream.py): a 200-piece answer, streamed one HTTP chunk per event
# when the request streams, else the same text as one chat.completion.
LONG_PIECES = [f"word{i} " for i in range(200)]
LONG_EVENTS = (
    [_chunk("bench-long", {"role": "assistant", "content": ""})]
    + [_chunk("bench-long", {"content": p}) for p in LONG_PIECES]
    + [_chunk("bench-long", {}, "stop"), _chunk("bench-long", None, usage=True), b"data: [DONE]\n\n"]
)
LONG_JSON = (
    SMALL_JSON.replace(b"bench-small", b"bench-long")
    .replace(b"Hello! How can I help you today?", "".join(LONG_PIECES).encode())
    .replace(b'"completion_tokens": 9, "total_tokens": 18', b'"completion_tokens": 18, "total_tokens": 27')
)


def _response(body: bytes, content_type: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def _chunked(events: list[bytes]) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    head += b"transfer-encoding: chunked\r\n\r\n"
    return head + b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"


SSE = b"text/event-stream; charset=utf-8"
ANSWERS = {
    "stream": _chunked(STREAM_EVENTS),
    "small-stream": _response(SMALL_STREAM, SSE),
    "small": _response(SMALL_JSON, b"application/json"),
    "health": _response(b"ok", b"text/plain"),
    "long-stream": _chunked(LONG_EVENTS),
    "long": _response(LONG_JSON, b"application/json"),
}


def answer(request_line: bytes, body: bytes) -> bytes:
    """The pre-built response bytes for one request."""
    if request_line.startswith(b"GET /health"):
        return ANSWERS["health"]
    if b"bench-stream" in body:
        return ANSWERS["stream"]
    streaming = b'"stream":true' in body or b'"stream": true' in body
    if b"bench-long" in body:
        return ANSWERS["long-stream" if streaming else "long"]
    return ANSWERS["small-stream" if streaming else "small"]


class FakeProtocol(asyncio.Protocol):
    """One connection: keep-alive requests, each answered as soon as its body is in."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            self.transport.write(answer(head.split(b"\r\n", 1)[0], body))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeProtocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    try:
        import uvloop

        uvloop.run(serve(int(sys.argv[1])))
    except ImportError:
        asyncio.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
