"""Gemini's wire format, shared by the Google Vertex AI and Google AI Studio providers.

Not a plugin (no entry point, no hook): a library both plugins import. It turns OpenAI-shaped chat
requests into `GenerateContentRequest` bodies, reads `GenerateContentResponse` streams and answers into
unified ChatChunks and text, and reads Google's `google.rpc.Status` error bodies into typed errors.
"""

from ai_connector_gemini.calls import answer_chunks, stream_chat
from ai_connector_gemini.errors import GoogleStatus, google_error, parse_duration, parse_google_status
from ai_connector_gemini.request import SYNTHETIC_CALL_ID_PREFIX, chat_body, embedding_task_type, prompt_body
from ai_connector_gemini.response import (
    FINISH_REASONS,
    ChunkTranslator,
    finish_reason,
    response_text,
    usage_from,
)
from ai_connector_gemini.stream import GeminiStreamDecoder

__all__ = [
    "FINISH_REASONS",
    "SYNTHETIC_CALL_ID_PREFIX",
    "ChunkTranslator",
    "GeminiStreamDecoder",
    "GoogleStatus",
    "answer_chunks",
    "chat_body",
    "embedding_task_type",
    "finish_reason",
    "google_error",
    "parse_duration",
    "parse_google_status",
    "prompt_body",
    "response_text",
    "stream_chat",
    "usage_from",
]
