"""The HTTP edge's guards: a request body cap (Kibana's `server.maxPayload`), a JSON nesting limit,
and the security headers every answer carries.

Both body checks run on the bytes as they arrive, before anything parses or buffers the body
whole, so four 200 MB bodies cost the host nothing: a declared `Content-Length` over the cap is
refused before a byte is read, and a chunked body is refused as soon as its count passes the cap.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ai_connector.api.errors import error_body

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "MAX_JSON_DEPTH",
    "SECURITY_HEADERS",
    "BodyCheck",
    "BodyGuard",
    "JsonDepthExceeded",
    "PayloadTooLarge",
    "SecurityHeaders",
    "declared_too_large",
]

DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576  # Kibana's `server.maxPayload` default (1 MiB)
# Deep enough for any connector document or tool schema, shallow enough that no parser, validator
# or copy on the way recurses into Python's limit (which would be a 500 and a dropped connection).
MAX_JSON_DEPTH = 100


class PayloadTooLarge(HTTPException):
    """413 with hapi's text (Kibana's core http_server.test.ts, 'payload is too large': `{statusCode:
    413, error: 'Request Entity Too Large', message: 'Payload content length greater than maximum
    allowed: 1'}` for maxBytes 1).

    A Starlette HTTPException so FastAPI's body reading passes it through unchanged.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Payload content length greater than maximum allowed: {max_bytes}")


class JsonDepthExceeded(HTTPException):
    """400: a JSON body nested deeper than MAX_JSON_DEPTH."""

    def __init__(self, limit: int) -> None:
        super().__init__(400, f"[request body]: JSON nested deeper than {limit} levels is not accepted")


# Inside a string `\\.` swallows an escape pair (so `\"` never closes it); a lone backslash at the
# end of a chunk is remembered, since its pair arrives with the next chunk.
_STRUCTURE = re.compile(rb'\\(?:.|$)|["\[\]{}]', re.DOTALL)


class _DepthCounter:
    """Tracks the nesting depth of a JSON text fed in chunks, without parsing it.

    While the text holds at most `limit` opening brackets in all (strings included), no nesting can
    pass the limit, so those chunks are only counted (at C speed) and kept; the first chunk that
    could take the text past the limit has them scanned token by token, and every chunk after it.
    """

    __slots__ = ("_depth", "_escape", "_held", "_in_string", "_opens", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._opens = 0
        self._held: list[bytes] | None = []  # None once scanning token by token

    def feed(self, chunk: bytes) -> None:
        """Raise JsonDepthExceeded when `chunk` takes the text past the limit."""
        held = self._held
        if held is not None:
            self._opens += chunk.count(b"[") + chunk.count(b"{")
            held.append(chunk)
            if self._opens <= self.limit:
                return
            self._held = None
            for part in held:
                self._scan(part)
            return
        self._scan(chunk)

    def _scan(self, chunk: bytes) -> None:
        if self._escape and chunk:
            chunk, self._escape = chunk[1:], False
        for m in _STRUCTURE.finditer(chunk):
            token = m.group()
            if token[:1] == b"\\":
                self._escape = len(token) == 1
            elif token == b'"':
                self._in_string = not self._in_string
            elif self._in_string:
                continue
            elif token in (b"[", b"{"):
                self._depth += 1
                if self._depth > self.limit:
                    raise JsonDepthExceeded(self.limit)
            else:
                self._depth -= 1


class BodyCheck:
    """The body guard's checks on a request body fed as it arrives: its size against `limit`
    (PayloadTooLarge) and, for a JSON body, its nesting (JsonDepthExceeded)."""

    __slots__ = ("_depth", "limit", "received")

    def __init__(self, limit: int, json: bool) -> None:
        self.limit = limit
        self.received = 0
        self._depth = _DepthCounter(MAX_JSON_DEPTH) if json else None

    def feed(self, chunk: bytes) -> None:
        """Raise PayloadTooLarge or JsonDepthExceeded when `chunk` takes the body past a limit."""
        self.received += len(chunk)
        if self.received > self.limit:
            raise PayloadTooLarge(self.limit)
        if self._depth is not None:
            self._depth.feed(chunk)


def declared_too_large(scope: Scope, limit: int) -> bool:
    """A `Content-Length` over `limit` (refused before a byte is read); a malformed one is the
    server's to refuse."""
    declared = _header(scope, b"content-length")
    try:
        return bool(declared) and int(declared[0]) > limit
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> list[bytes]:
    return [v for k, v in scope["headers"] if k == name]


def _is_json(scope: Scope) -> bool:
    types = _header(scope, b"content-type")
    if not types:
        return True
    media = types[0].split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class BodyGuard:
    """Refuses a request body over `max_bytes()` with 413, and a JSON body nested too deeply with 400.

    `max_bytes` is read per request, so an app whose service opens at startup picks up its
    settings then. The refusal is raised from the wrapped `receive`: FastAPI renders it through its
    handlers, and anything else that reads the body is answered here. (The `_execute` fast path,
    which runs in front of this layer, checks with the same BodyCheck and hands a refused body on
    to this layer.)
    """

    def __init__(self, app: ASGIApp, max_bytes: Callable[[], int]) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes()
        if declared_too_large(scope, limit):
            await _refuse(PayloadTooLarge(limit), send)
            return
        check = BodyCheck(limit, _is_json(scope))

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                check.feed(message.get("body", b""))
            return message

        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except (PayloadTooLarge, JsonDepthExceeded) as exc:
            if started:
                raise
            await _refuse(exc, send)


async def _refuse(exc: HTTPException, send: Send) -> None:
    import json

    body = json.dumps(error_body(exc.status_code, str(exc.detail)), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.status_code == 413:
        # The rest of the body is never read: tell the client the connection ends here.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# The page's own files (index.html, its scripts and styles under /static) satisfy this; inline
# <script> and <style> elements of an HTML answer are allowed only by their hash (added per page).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
_INLINE = re.compile(rb"<(script|style)(?![^>]*\bsrc=)[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
_FIXED_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff")]


def _policy_for(html: bytes) -> bytes:
    """The policy with the hashes of `html`'s own inline scripts and styles added."""
    hashes: dict[bytes, list[str]] = {b"script": [], b"style": []}
    for m in _INLINE.finditer(html):
        digest = base64.b64encode(hashlib.sha256(m.group(2)).digest()).decode()
        hashes[m.group(1).lower()].append(f"'sha256-{digest}'")
    policy = CONTENT_SECURITY_POLICY
    if hashes[b"script"]:
        policy = policy.replace("script-src 'self'", "script-src 'self' " + " ".join(hashes[b"script"]))
    if hashes[b"style"]:
        policy = policy.replace("style-src 'self'", "style-src 'self' " + " ".join(hashes[b"style"]), 1)
    return policy.encode()


class SecurityHeaders:
    """Adds `Content-Security-Policy`, `X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff`
    to every answer. An HTML answer (the host's own pages, a few KB) is held until its body is
    complete so its inline scripts and styles can be allowed by hash; every other answer streams."""

    _cache: dict[bytes, bytes]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cache = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def secured_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _OURS]
                if not _is_html(headers):
                    headers += SECURITY_HEADERS
                    await send({**message, "headers": headers})
                    return
                start = {**message, "headers": headers}
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            html = b"".join(chunks)
            key = hashlib.sha256(html).digest()
            policy = self._cache.get(key)
            if policy is None:
                policy = self._cache[key] = _policy_for(html)
                if len(self._cache) > 64:  # a handful of pages; never grow without bound
                    self._cache.pop(next(iter(self._cache)))
            headers = [*start["headers"], *_FIXED_HEADERS, (b"content-security-policy", policy)]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, secured_send)


_POLICY = CONTENT_SECURITY_POLICY.encode()
# What every answer but an HTML page carries (an answer sent without this layer adds them itself).
SECURITY_HEADERS = (*_FIXED_HEADERS, (b"content-security-policy", _POLICY))
_OURS = frozenset({b"x-frame-options", b"x-content-type-options", b"content-security-policy"})


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    for k, v in headers:
        if k.lower() == b"content-type":
            return v.split(b";", 1)[0].strip().lower() == b"text/html"
    return False
