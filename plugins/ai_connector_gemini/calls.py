"""The chat stream both Gemini services share, and the chunks a unary answer stands for (their JSON
calls are `ctx.send_json`, with `google_error` as the providers' error parser)."""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from ai_connector.plugin import (
    CallContext,
    ChatChunk,
    InvalidResponseError,
    StreamInterruptedError,
    current_provider,
)
from ai_connector_gemini.errors import google_error, parse_google_status, stream_error
from ai_connector_gemini.response import ChunkTranslator
from ai_connector_gemini.stream import GeminiStreamDecoder

__all__ = ["answer_chunks", "stream_chat"]


def _chunks_for(value: Any, translator: ChunkTranslator, *, status: int) -> list[ChatChunk]:
    provider = current_provider()
    if isinstance(value, list):  # the non-SSE form: one JSON array of responses
        out: list[ChatChunk] = []
        for item in value:
            out.extend(_chunks_for(item, translator, status=status))
        return out
    if not isinstance(value, Mapping):
        raise InvalidResponseError(f"{provider}: a stream event is not a JSON object")
    if "error" in value:
        google_status = parse_google_status(value)
        if google_status is not None:
            raise stream_error(google_status, http_status=status)
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
) -> AsyncGenerator[ChatChunk, None]:
    """POST a `streamGenerateContent?alt=sse` request and yield unified ChatChunks.

    Gemini sends no terminator: the stream is complete once a candidate carried `finishReason`, so a
    body that ends before that raises StreamInterruptedError, as does an error object mid-stream.
    """
    provider = ctx.provider_id
    async with ctx.stream("POST", url, json=body, headers=headers, params={"alt": "sse"}) as resp:
        status = resp.status_code
        if status >= 400:
            raw = await ctx.read_error_body(resp)
            raise google_error(status, resp.headers, raw).redacted(ctx.redact)
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
                for chunk in _chunks_for(value, translator, status=status):
                    yield chunk
        try:
            values = decoder.feed(utf8.decode(b"", final=True)) + decoder.close()
        except ValueError:
            raise InvalidResponseError(
                f"{provider}: a stream event's data is not JSON", status=status
            ) from None
        for value in values:
            for chunk in _chunks_for(value, translator, status=status):
                yield chunk
    if not translator.finished:
        raise StreamInterruptedError(
            f"{provider}: the stream ended before the model finished (no finishReason)",
            status=status,
        )
    usage = translator.usage_chunk()
    if usage is not None:
        yield usage


def answer_chunks(answer: Any) -> list[ChatChunk]:
    """The unified chunks a unary `generateContent` answer stands for: exactly what `stream_chat`
    yields for the same GenerateContentResponse streamed (one translator, the same stop reasons,
    safety stops and blocked prompts raised as the same errors), the usage chunk last. An answer
    whose candidate never finished is an InvalidResponseError."""
    translator = ChunkTranslator()
    chunks = _chunks_for(answer, translator, status=200)
    if not translator.finished:
        raise InvalidResponseError(f"{current_provider()}: the answer has no finishReason", status=200)
    usage = translator.usage_chunk()
    return chunks if usage is None else [*chunks, usage]
