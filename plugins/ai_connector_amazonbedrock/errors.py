"""Bedrock's error responses mapped onto the plugin API's typed errors.

The error code comes from the `x-amzn-ErrorType` header (cut at the first `:`, the part after the
last `#`), else from the body's `__type` or `code`, as botocore's rest-json parser reads it; the text
from the body's `message` (or `Message`, which IAM's AccessDenied answers use).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ai_connector.plugin import (
    AuthenticationError,
    InvalidRequestError,
    ModelNotFoundError,
    ProviderError,
    ProviderServerError,
    RateLimitError,
    error_for_status,
)

__all__ = ["CREDENTIAL_ERRORS", "INVALID_MODEL_MESSAGE", "error_code", "error_from_response"]

# Bedrock's answer to an unknown model id (a 400 ValidationException, told apart by its text).
INVALID_MODEL_MESSAGE = "The provided model identifier is invalid."

# Codes AWS uses when it refuses who is calling, not what they ask for.
CREDENTIAL_ERRORS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "AccessDeniedException",
        "ExpiredTokenException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)


def _short(code: str) -> str:
    return code.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def error_code(headers: Mapping[str, str], body: Any) -> str | None:
    """The AWS error code of a response, botocore's way; None when it names none."""
    raw = headers.get("x-amzn-errortype")
    if raw:
        return _short(raw) or None
    if isinstance(body, Mapping):
        for key in ("__type", "code", "Code"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return _short(value) or None
    return None


def _message(body: Any, raw: bytes) -> str | None:
    if isinstance(body, Mapping):
        for key in ("message", "Message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                # A signature mismatch appends the canonical request AWS expected, header values
                # included; keep only the explanation, not a copy of what was sent.
                return value.split("\n\n", 1)[0].strip()
        return None
    text = raw.decode("utf-8", "replace").strip()
    return text[:1000] or None


def error_from_response(status: int, headers: Mapping[str, str], raw: bytes) -> ProviderError:
    """The typed error for a non-2xx Bedrock answer."""
    try:
        body: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        body = None
    code = error_code(headers, body)
    message = _message(body, raw)
    cls: type[ProviderError] | None = None
    retryable: bool | None = None
    if code in CREDENTIAL_ERRORS:
        cls = AuthenticationError
    elif code == "ValidationException" or (status == 400 and code is None):
        cls = ModelNotFoundError if message == INVALID_MODEL_MESSAGE else InvalidRequestError
    elif code == "ResourceNotFoundException":
        cls = ModelNotFoundError
    elif code in ("ThrottlingException", "ModelNotReadyException", "TooManyRequestsException"):
        cls = RateLimitError
    elif code == "ServiceQuotaExceededException":
        cls, retryable = RateLimitError, False  # a quota does not refill by retrying
    elif code in ("ModelErrorException", "ModelStreamErrorException"):
        cls, retryable = ProviderServerError, False  # the model failed on this very input
    # Bedrock sends no retry hint (wire.md section 3); error_for_status still reads one if a proxy adds it.
    return error_for_status(status, message, headers=headers, code=code, retryable=retryable, cls=cls)
