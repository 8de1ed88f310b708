"""OpenAI's error body (`{"error": {"message", "type", "param", "code"}}`) and the status codes
OpenAI answers with, so an OpenAI client raises the exception it would raise against OpenAI.

The host's typed errors map one way each: an unknown connector is OpenAI's 404 `model_not_found`,
a bad key 401, the license and enabled-type gates 403, the provider's rate limit 429 with
`retry-after`, the provider's own refusal of the request 400 with the provider's message, and an
upstream failure 502 (bad gateway), 503 (provider overloaded) or 504 (timeout).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from ai_connector.errors import (
    AIConnectorError,
    ConfigValidationError,
    ContextWindowExceededError,
    HostNotAllowedError,
    InvalidResponseError,
    ProviderError,
    ProviderServerError,
    ProviderTimeoutError,
    RateLimitError,
    UnreachableError,
    UnsupportedTaskError,
)

__all__ = [
    "OpenAIError",
    "bad_request",
    "error_event",
    "from_exception",
    "from_outcome",
    "model_not_found",
]

log = logging.getLogger("ai_connector.api")

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"
INTERNAL_MESSAGE = "The server had an error while processing your request."


class OpenAIError(Exception):
    """A refusal rendered as OpenAI renders it: status, body fields and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """OpenAI's ErrorResponse."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> Response:
        """The JSON response for this error."""
        content = json.dumps(self.body(), ensure_ascii=False, separators=(",", ":"))
        return Response(content, status_code=self.status, media_type="application/json", headers=self.headers)


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> OpenAIError:
    """A 400 `invalid_request_error`."""
    return OpenAIError(400, message, param=param, code=code)


def model_not_found(model: str) -> OpenAIError:
    """OpenAI's answer for a model that does not exist (here: no connector by that id or inferenceId)."""
    return OpenAIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def _retry_after(exc: ProviderError) -> dict[str, str]:
    if exc.retry_after is None:
        return {}
    return {"retry-after": str(max(0, math.ceil(exc.retry_after)))}


def _provider_error(exc: ProviderError) -> OpenAIError:
    message = exc.message
    if isinstance(exc, RateLimitError):
        return OpenAIError(
            429, message, type="requests", code="rate_limit_exceeded", headers=_retry_after(exc)
        )
    if isinstance(exc, ProviderTimeoutError):
        return OpenAIError(504, message, type=SERVER_ERROR, code="timeout")
    if isinstance(exc, UnreachableError | InvalidResponseError):
        return OpenAIError(502, message, type=SERVER_ERROR, code=None)
    if isinstance(exc, ProviderServerError) or (exc.status is not None and exc.status >= 500):
        status = 503 if exc.status in (503, 529) else 502  # 529: Anthropic's "overloaded"
        return OpenAIError(status, message, type=SERVER_ERROR, headers=_retry_after(exc))
    if exc.status is not None and 400 <= exc.status < 500:
        # The provider refused the request (its own 4xx, credentials included): the caller's 400.
        return OpenAIError(400, exc.provider_message or message, code=exc.code)
    return OpenAIError(502, message, type=SERVER_ERROR)


def from_exception(exc: BaseException, *, model: str) -> OpenAIError:
    """The OpenAI error for an exception the service or the runtime raised."""
    from ai_connector.host.errors import ForbiddenError, HostError, NotFoundError

    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, NotFoundError):
        return model_not_found(model)
    if isinstance(exc, ForbiddenError):
        return OpenAIError(403, exc.message, code="permission_denied")
    if isinstance(exc, ContextWindowExceededError):
        return bad_request(str(exc), param="messages", code="context_length_exceeded")
    if isinstance(exc, ProviderError):
        return _provider_error(exc)
    if isinstance(exc, ConfigValidationError | UnsupportedTaskError | HostNotAllowedError):
        return bad_request(str(exc))
    if isinstance(exc, HostError):
        if exc.status_code < 500:
            return OpenAIError(exc.status_code, exc.message)
        return OpenAIError(500, exc.message, type=SERVER_ERROR)
    if isinstance(exc, AIConnectorError):
        return bad_request(str(exc))
    log.error("OpenAI route failed: %s", type(exc).__name__, exc_info=exc)
    return OpenAIError(500, INTERNAL_MESSAGE, type=SERVER_ERROR)


def from_outcome(outcome: Mapping[str, Any]) -> OpenAIError:
    """The OpenAI error for a `ConnectorService.execute` failure body (`status: "error"`).

    That body keeps only Kibana's fields (message, service_message, retry, errorSource), not the
    typed error, so the mapping is coarser than `from_exception`: the caller's fault is 400 (429
    when a retry may help), the framework's or provider's 502 (503 when a retry may help).
    """
    error = getattr(outcome, "error", None)  # host.responses.ExecuteOutcome keeps the typed error
    if isinstance(error, BaseException):
        return from_exception(error, model="")  # (an unknown model never becomes an outcome)
    message = outcome.get("service_message") or outcome.get("message") or INTERNAL_MESSAGE
    retry = bool(outcome.get("retry"))
    if "service_message" not in outcome:  # the params failed validation (Kibana's framework 400)
        return bad_request(message)
    if outcome.get("errorSource") == "user":
        if retry:
            return OpenAIError(429, message, type="requests", code="rate_limit_exceeded")
        return bad_request(message)
    return OpenAIError(503 if retry else 502, message, type=SERVER_ERROR)


def error_event(exc: BaseException, *, model: str) -> dict[str, Any]:
    """The `error` event that ends a stream which failed after its first chunk (as OpenAI does)."""
    return from_exception(exc, model=model).body()
