"""The public API for provider plugin authors: everything a plugin imports comes from here, and
nothing else (the host's own machinery stays private).

    from ai_connector.plugin import hookimpl, openai_compatible

    @hookimpl
    def ai_connector_providers():
        return [openai_compatible(id="groq", name="Groq", base_url="https://api.groq.com/openai/v1")]

The names, by what they are for:

- declaring a provider: `hookimpl`, `Provider`, `TaskType`, `openai_compatible` / `OpenAICompatible`
  (a whole provider for an OpenAI-compatible service), and `fields` (schema fields with ES's labels
  and flags: `fields.api_key()`, `url()`, `model_id()`, `rate_limit()`, `schema()`, `require()`);
- the call context: `CallContext` (`send_json`, `open_sse`, `request`, `stream`, `redact`,
  `host_settings`) and `InferenceEndpoint` (the saved connector a call runs for);
- requests and results: `ChatRequest`, `ChatChunk`, `ToolCallDelta`, `Usage`, `CompletionRequest`,
  `EmbeddingRequest`, `SparseEmbeddingRequest`, `RerankRequest`, `RerankResult`, `TestResult`;
- errors (they name the calling provider by themselves): `ProviderError` and its kinds,
  `ConfigValidationError` with its `FieldError`s, and `error_for_status` for a provider's `parse_error`;
- helpers: `openai_kit` (OpenAI's wire: request bodies, the chunk stream, a whole answer as its
  chunks for `Provider.chat_completion`, error bodies), `aws_eventstream` (AWS's binary event
  stream, framed with the host's message cap: `FrameReader`, `decode_event`), `SSEDecoder` (an
  event stream carried inside another framing, decoded linearly with the context's caps),
  `run_test` (a *Save & test* routine from any call) and `current_provider()` (the id of the
  provider whose call is running, for a library that several providers share).

Names are added here, not removed; the modules behind them are private.
"""

from __future__ import annotations

from ai_connector import aws_eventstream, fields, openai_kit
from ai_connector.calling import current_provider
from ai_connector.context import CallContext
from ai_connector.errors import (
    AuthenticationError,
    ConfigValidationError,
    FieldError,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    ResponseTooLargeError,
    StreamInterruptedError,
    error_for_status,
)
from ai_connector.hookspecs import hookimpl
from ai_connector.openai_service import OpenAICompatible, openai_compatible
from ai_connector.routines import run_test
from ai_connector.sse import SSEDecoder
from ai_connector.types import (
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    InferenceEndpoint,
    Provider,
    RerankRequest,
    RerankResult,
    SparseEmbeddingRequest,
    TaskType,
    TestResult,
    ToolCallDelta,
    Usage,
)

__all__ = [
    "AuthenticationError",
    "CallContext",
    "ChatChunk",
    "ChatRequest",
    "CompletionRequest",
    "ConfigValidationError",
    "EmbeddingRequest",
    "FieldError",
    "InferenceEndpoint",
    "InvalidRequestError",
    "InvalidResponseError",
    "ModelNotFoundError",
    "OpenAICompatible",
    "Provider",
    "ProviderError",
    "ProviderServerError",
    "RateLimitError",
    "RerankRequest",
    "RerankResult",
    "ResponseTooLargeError",
    "SSEDecoder",
    "SparseEmbeddingRequest",
    "StreamInterruptedError",
    "TaskType",
    "TestResult",
    "ToolCallDelta",
    "Usage",
    "aws_eventstream",
    "current_provider",
    "error_for_status",
    "fields",
    "hookimpl",
    "openai_compatible",
    "openai_kit",
    "run_test",
]
