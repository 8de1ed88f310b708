"""The two ways both Gemini services are called: a JSON POST read whole, and a chat stream."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    InvalidResponseError,
    StreamInterruptedError,
)
from ai_connector_gemini.errors import google_error, parse_google_status, stream_error
from ai_connector_gemini.response import ChunkTranslator
from ai_connector_gemini.stream import GeminiStreamDecoder

__all__ = ["post_json", "stream_chat"]


async def post_json(
    ctx: CallContext,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    provider: str,
) -> Any:
    """POST `body` and return the parsed JSON answer; a non-2xx answer raises its typed error and a
    2xx that is not JSON an InvalidResponseError."""
    resp = await ctx.request("POST", url, json=body, headers=headers)
    if resp.status_code >= 400:
        raise google_error(resp.status_code, resp.content, provider=provider, headers=resp.headers)
    try:
        return resp.json()
    except ValueError:
        raise InvalidResponseError(
            f"{provider}: the answer (status {resp.status_code}) is not JSON",
            status=resp.status_code,
        ) from None


def _chunks_for(value: Any, translator: ChunkTranslator, *, provider: str, status: int) -> list[ChatChunk]:
    if isinstance(value, list):  # the non-SSE form: one JSON array of responses
        out: list[ChatChunk] = []
        for item in value:
            out.extend(_chunks_for(item, translator, provider=provider, status=status))
        return out
    if not isinstance(value, Mapping):
        raise InvalidResponseError(f"{provider}: a stream event is not a JSON object")
    if "error" in value:
        google_status = parse_google_status(value)
        if google_status is not None:
            raise stream_error(google_status, provider=provider, http_status=status)
    try:
        return translator.translate(value)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        raise InvalidResponseError(
            f"{provider}: a stream event is not a GenerateContentResponse", status=status
        ) from None


async def stream_chat(
    ctx: CallContext,
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str],
    provider: str,
) -> AsyncIterator[ChatChunk]:
    """POST a `streamGenerateContent?alt=sse` request and yield unified ChatChunks.

    Gemini sends no terminator: the stream is complete once a candidate carried `finishReason`, so a
    body that ends before that raises StreamInterruptedError, as does an error object mid-stream.
    """
    async with ctx.stream("POST", url, json=body, headers=headers, params={"alt": "sse"}) as resp:
        status = resp.status_code
        if status >= 400:
            raw = await ctx.read_error_body(resp)
            raise google_error(status, raw, provider=provider, headers=resp.headers)
        translator = ChunkTranslator()
        decoder = GeminiStreamDecoder()
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        async for raw in ctx.iter_bytes(resp):
            try:
                values = decoder.feed(utf8.decode(raw))
            except ValueError:
                raise InvalidResponseError(
                    f"{provider}: a stream event's data is not JSON", status=status
                ) from None
            for value in values:
                for chunk in _chunks_for(value, translator, provider=provider, status=status):
                    yield chunk
        try:
            values = decoder.feed(utf8.decode(b"", final=True)) + decoder.close()
        except ValueError:
            raise InvalidResponseError(
                f"{provider}: a stream event's data is not JSON", status=status
            ) from None
        for value in values:
            for chunk in _chunks_for(value, translator, provider=provider, status=status):
                yield chunk
    if not translator.finished:
        raise StreamInterruptedError(
            f"{provider}: the stream ended before the model finished (no finishReason)",
            status=status,
        )
    usage = translator.usage_chunk()
    if usage is not None:
        yield usage
