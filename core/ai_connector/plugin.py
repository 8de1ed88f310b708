"""The public API for provider plugin authors: everything a plugin imports comes from here.

This module is the stable surface (names are added, not removed); the modules behind it are private.
"""

from __future__ import annotations

from ai_connector.context import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, CallContext
from ai_connector.errors import (
    AIConnectorError,
    AuthenticationError,
    ConfigValidationError,
    FieldError,
    HostNotAllowedError,
    InvalidRequestError,
    InvalidResponseError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitError,
    StreamInterruptedError,
    UnreachableError,
    error_for_status,
    parse_retry_after,
)
from ai_connector.fields import rate_limit_field
from ai_connector.hookspecs import hookimpl
from ai_connector.openai_format import chat_request_to_openai, chunk_from_openai, openai_error_fields
from ai_connector.redaction import Redactor
from ai_connector.routines import KIBANA_TEST_REQUESTS, default_test, run_test
from ai_connector.sse import ServerSentEvent, aiter_sse
from ai_connector.types import (
    ChatChunk,
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    FailureKind,
    InferenceEndpoint,
    Provider,
    RerankRequest,
    RerankResult,
    Secrets,
    SparseEmbeddingRequest,
    TaskType,
    TestResult,
    ToolCallDelta,
    Usage,
)
from ai_connector.urlpolicy import UrlPolicy

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "KIBANA_TEST_REQUESTS",
    "AIConnectorError",
    "AuthenticationError",
    "CallContext",
    "ChatChunk",
    "ChatRequest",
    "CompletionRequest",
    "ConfigValidationError",
    "EmbeddingRequest",
    "FailureKind",
    "FieldError",
    "HostNotAllowedError",
    "InferenceEndpoint",
    "InvalidRequestError",
    "InvalidResponseError",
    "ModelNotFoundError",
    "Provider",
    "ProviderError",
    "ProviderServerError",
    "ProviderTimeoutError",
    "RateLimitError",
    "Redactor",
    "RerankRequest",
    "RerankResult",
    "Secrets",
    "ServerSentEvent",
    "SparseEmbeddingRequest",
    "StreamInterruptedError",
    "TaskType",
    "TestResult",
    "ToolCallDelta",
    "UnreachableError",
    "UrlPolicy",
    "Usage",
    "aiter_sse",
    "chat_request_to_openai",
    "chunk_from_openai",
    "default_test",
    "error_for_status",
    "hookimpl",
    "openai_error_fields",
    "parse_retry_after",
    "rate_limit_field",
    "run_test",
]
