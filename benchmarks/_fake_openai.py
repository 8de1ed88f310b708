"""A minimal OpenAI-wire server for the overhead benchmark, run in its own process so it does not
compete with the client for the GIL: `python benchmarks/_fake_openai.py PORT`.

`POST /v1/chat/completions` answers every request with the same pre-built bytes: for model
`bench-stream` a 21-chunk stream (role, 18 content deltas, finish, usage, then `[DONE]`); for any
other model a small stream (one content chunk, finish, usage) when the request streams, or one small
`chat.completion` when it does not. uvicorn runs it with httptools when installed, else h11.
"""

from __future__ import annotations

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
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    streaming = b'"stream":true' in body or b'"stream": true' in body
    if b"bench-stream" in body:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        for event in STREAM_EVENTS:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    payload = SMALL_STREAM if streaming else SMALL_JSON
    ctype = b"text/event-stream; charset=utf-8" if streaming else b"application/json"
    headers = [(b"content-type", ctype), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def main() -> None:
    import uvicorn

    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        http=http,
        log_level="error",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
