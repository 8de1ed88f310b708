"""A real HTTP/1.1 server on 127.0.0.1 (uvicorn in a background thread) for provider fakes.

Handlers receive the recorded request and return a `FakeResponse`: a whole body, or chunks sent
one by one (optionally with delays), optionally cut off mid-body to imitate a broken stream. The
server records every request and notices when a client disconnects during a streamed answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json as _json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = ["FakeResponse", "FakeServer", "RecordedRequest"]


@dataclass(frozen=True)
class RecordedRequest:
    """What a client sent: method, path, query, lower-cased headers and the raw body."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    raw_path: str | None = None
    """The path exactly as sent (percent-encoding kept), when the server reports it."""

    @property
    def query(self) -> dict[str, str]:
        """The query parameters, last value wins."""
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.body)


@dataclass
class FakeResponse:
    """An answer: `body` (bytes, str, or a JSON-able object) or `chunks` streamed in order.

    `chunk_delay` sleeps between chunks; `abort_after` ends the connection after that many chunks
    without finishing the body (a truncated stream).
    """

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = field(default_factory=dict)
    chunks: Iterable[bytes | str] | None = None
    chunk_delay: float = 0.0
    abort_after: int | None = None
    content_type: str | None = None

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> FakeResponse:
        """A JSON answer."""
        return cls(status=status, body=obj, headers=dict(headers or {}), content_type="application/json")

    def _header_list(self) -> list[tuple[bytes, bytes]]:
        items = self.headers.items() if isinstance(self.headers, Mapping) else self.headers
        out = [(k.lower().encode(), str(v).encode()) for k, v in items]
        names = {k for k, _ in out}
        if self.content_type and b"content-type" not in names:
            out.append((b"content-type", self.content_type.encode()))
        return out


Handler = Callable[[RecordedRequest], "FakeResponse | Awaitable[FakeResponse]"]


class _Abort(Exception):
    """Raised inside the app to drop the connection mid-body."""


class FakeServer:
    """A local HTTP server whose routes answer with FakeResponses; use as a context manager."""

    def __init__(self, *, port: int = 0) -> None:
        self.port = port  # 0: a free port
        self.cut_streams_after: int | None = None
        """When set, every streamed answer breaks off after that many chunks (a broken stream)."""
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._queued: list[FakeResponse] = []
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.disconnected = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._sock: socket.socket | None = None

    # -- routes ---------------------------------------------------------------------------------
    def add(self, method: str, path: str, answer: Handler | FakeResponse) -> None:
        """Answer `method` requests whose path fully matches the regex `path` (first match wins;
        routes added later are tried first, so a test can override a default)."""
        handler: Handler = (lambda _r, a=answer: a) if isinstance(answer, FakeResponse) else answer
        self._routes.insert(0, (method.upper(), re.compile(path), handler))

    def queue(self, answer: FakeResponse, *, times: int = 1) -> None:
        """Answer the next `times` requests with `answer`, whatever their route (a failure, a
        scripted stream), then go back to the routes."""
        self._queued.extend([answer] * times)

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator form of `add`."""

        def deco(fn: Handler) -> Handler:
            self.add(method, path, fn)
            return fn

        return deco

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321`."""
        assert self._sock is not None, "server not started"
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def last(self) -> RecordedRequest:
        """The most recent request."""
        return self.requests[-1]

    # -- ASGI app -------------------------------------------------------------------------------
    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=body,
            raw_path=scope["raw_path"].decode("latin-1") if scope.get("raw_path") else None,
        )
        self.requests.append(request)
        handler = self._find(request)
        if self._queued:
            resp = self._queued.pop(0)
        elif handler is None:
            resp = FakeResponse.json({"error": f"no fake route for {request.method} {request.path}"}, 599)
        else:
            result = handler(request)
            resp = await result if inspect.isawaitable(result) else result
        if self.cut_streams_after is not None and resp.chunks is not None:
            resp = dataclasses.replace(resp, abort_after=self.cut_streams_after)
        await self._send(resp, receive, send)

    def _find(self, request: RecordedRequest) -> Handler | None:
        for method, pattern, handler in self._routes:
            if method in (request.method, "*") and pattern.fullmatch(request.path):
                return handler
        return None

    async def _send(self, resp: FakeResponse, receive: Any, send: Any) -> None:
        headers = resp._header_list()
        if resp.chunks is None:
            body = resp.body
            if isinstance(body, str):
                body = body.encode()
            elif not isinstance(body, bytes | bytearray):
                body = _json.dumps(body).encode()
                if not any(k == b"content-type" for k, _ in headers):
                    headers.append((b"content-type", b"application/json"))
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            await send({"type": "http.response.body", "body": bytes(body)})
            return
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        watcher = asyncio.ensure_future(self._watch_disconnect(receive))
        try:
            for i, chunk in enumerate(resp.chunks):
                if resp.abort_after is not None and i >= resp.abort_after:
                    raise _Abort()
                if i and resp.chunk_delay:
                    await asyncio.sleep(resp.chunk_delay)
                if watcher.done():
                    return
                data = chunk.encode() if isinstance(chunk, str) else chunk
                await send({"type": "http.response.body", "body": data, "more_body": True})
            if resp.abort_after is not None:
                raise _Abort()
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()

    async def _watch_disconnect(self, receive: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnects += 1
                self.disconnected.set()
                return

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeServer:
        """Start serving on 127.0.0.1 (on `port`, else a free one); returns once it accepts connections."""
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        sock = self._sock
        self._thread = threading.Thread(
            target=lambda: self._server.run(sockets=[sock]), name="ai-connector-fake-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self, *, routes: bool = False) -> None:
        """Forget recorded requests, queued answers and disconnects; with `routes`, the routes too
        (a module-scoped server shared by tests starts each test empty)."""
        if routes:
            self._routes.clear()
        self.cut_streams_after = None
        self._queued.clear()
        self.requests.clear()
        self.disconnects = 0
        self.disconnected.clear()
