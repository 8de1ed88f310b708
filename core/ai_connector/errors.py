"""The exception hierarchy: one base, typed provider errors that carry status, provider message and
whether a retry may help, and the host's own refusals. Messages never carry a secret: the host
redacts every known secret value from provider errors before they leave a call."""

from __future__ import annotations

import email.utils
import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ai_connector.calling import current_provider

__all__ = [
    "AIConnectorError",
    "AuthenticationError",
    "ConfigValidationError",
    "ContextWindowExceededError",
    "FailureKind",
    "FieldError",
    "HostNotAllowedError",
    "InvalidRequestError",
    "InvalidResponseError",
    "ModelNotFoundError",
    "PluginLoadError",
    "ProviderError",
    "ProviderServerError",
    "ProviderTimeoutError",
    "RateLimitError",
    "RedirectError",
    "ResponseTooLargeError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "UnknownProviderError",
    "UnreachableError",
    "UnsupportedTaskError",
    "error_for_status",
    "parse_retry_after",
]


class FailureKind(enum.StrEnum):
    """Why a call or a *Save & test* failed, so a UI can say what to fix."""

    CREDENTIALS = "credentials"  # 401/403: the key or token was refused
    MODEL_NOT_FOUND = "model_not_found"  # unknown model, deployment or inference endpoint
    UNREACHABLE = "unreachable"  # DNS, connection refused, TLS, timeout before an answer
    RATE_LIMITED = "rate_limited"  # 429 or the connector's own rate limit
    INVALID_RESPONSE = "invalid_response"  # the provider answered something we cannot read
    INVALID_REQUEST = "invalid_request"  # 400/422: the provider refused the request's content
    TIMEOUT = "timeout"  # the host's timeout ran out while waiting
    PROVIDER_ERROR = "provider_error"  # 5xx and other failures on the provider's side
    HOST_NOT_ALLOWED = "host_not_allowed"  # the host's allowedHosts policy refused the URL
    CONFIG = "config"  # the connector's settings are invalid


class AIConnectorError(Exception):
    """Base of every error this package raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation failure: where (JSON path), which field (key and label), and why."""

    path: str
    field: str
    label: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"path": self.path, "field": self.field, "label": self.label, "message": self.message}


class ConfigValidationError(AIConnectorError, ValueError):
    """A connector document, its settings or a request's parameters failed validation.

    Carries every error found, not only the first; no message contains a sensitive value.
    """

    def __init__(self, errors: Sequence[FieldError], *, what: str = "connector") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.what = what
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [f"{e.path}: {e.message}" for e in self.errors]
        return f"invalid {self.what}: " + "; ".join(lines)


class PluginLoadError(AIConnectorError):
    """A plugin could not be loaded (raised only in strict mode; otherwise it is reported and skipped)."""


class UnknownProviderError(AIConnectorError, LookupError):
    """No loaded provider has this id."""

    def __init__(self, provider_id: str, known: Sequence[str]) -> None:
        self.provider_id = provider_id
        super().__init__(f"unknown provider {provider_id!r}; available: {', '.join(known) or 'none'}")


class UnsupportedTaskError(AIConnectorError):
    """The connector's provider or task type does not offer the requested operation."""


class HostNotAllowedError(AIConnectorError):
    """The host's allowedHosts policy refuses a URL (at save, before a request, or on a redirect)."""

    failure = FailureKind.HOST_NOT_ALLOWED

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f'target url "{url}" is not added to the allowed_hosts of this host')


class ContextWindowExceededError(AIConnectorError):
    """The request would exceed the connector's contextWindowLength; refused before any network call."""

    def __init__(self, *, estimated_prompt_tokens: int, max_tokens: int, context_window: int) -> None:
        self.estimated_prompt_tokens = estimated_prompt_tokens
        self.max_tokens = max_tokens
        self.context_window = context_window
        super().__init__(
            f"request needs about {estimated_prompt_tokens} prompt tokens + {max_tokens} completion "
            f"tokens = {estimated_prompt_tokens + max_tokens}, over the connector's context window "
            f"length of {context_window} tokens"
        )


class ProviderError(AIConnectorError):
    """The provider refused or failed a call.

    `status` is the HTTP status (None when no response arrived), `provider_message` the provider's own
    error text, `retryable` whether the same request may succeed later, `retry_after` the provider's
    hint in seconds (Retry-After, retry-after-ms, Google's RetryInfo), `kind` what a UI should say.
    `provider` defaults to the provider whose call is running.
    """

    kind: FailureKind = FailureKind.PROVIDER_ERROR
    default_retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider_message: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.provider_message = provider_message
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.provider = current_provider() if provider is None else provider
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"

    def redacted(self, redact: Any) -> ProviderError:
        """This error with `redact` (str -> str) applied to every text it carries; same type."""
        clone = type(self).__new__(type(self))
        ProviderError.__init__(
            clone,
            redact(self.message),
            status=self.status,
            provider_message=None if self.provider_message is None else redact(self.provider_message),
            retryable=self.retryable,
            retry_after=self.retry_after,
            provider=self.provider,
            code=self.code,
        )
        return clone


class AuthenticationError(ProviderError):
    """The provider refused the credentials (401/403)."""

    kind = FailureKind.CREDENTIALS


class ModelNotFoundError(ProviderError):
    """The model, deployment or inference endpoint does not exist or is not accessible."""

    kind = FailureKind.MODEL_NOT_FOUND


class RateLimitError(ProviderError):
    """Rate limited (429, or the connector's own limit); retryable unless it is a spent quota."""

    kind = FailureKind.RATE_LIMITED
    default_retryable = True


class InvalidRequestError(ProviderError):
    """The provider refused the request's content (400/422)."""

    kind = FailureKind.INVALID_REQUEST


class ProviderServerError(ProviderError):
    """The provider failed (5xx, overloaded); retryable."""

    kind = FailureKind.PROVIDER_ERROR
    default_retryable = True


class UnreachableError(ProviderError):
    """No answer: DNS, refused connection, TLS failure. Retryable when nothing was sent."""

    kind = FailureKind.UNREACHABLE
    default_retryable = True


class ProviderTimeoutError(ProviderError):
    """The provider did not answer within the timeout."""

    kind = FailureKind.TIMEOUT
    default_retryable = True


class InvalidResponseError(ProviderError):
    """The provider answered with something that is not its documented format."""

    kind = FailureKind.INVALID_RESPONSE


class StreamInterruptedError(ProviderError):
    """A stream broke off or carried an error event after it had started; never retried."""

    kind = FailureKind.PROVIDER_ERROR


class RedirectError(ProviderError):
    """A redirect the host does not follow (to another origin, one that would drop the method or
    body, a loop, too many hops); never retried. `code` says which; the message names the refused
    origin only, never its path, query or credentials."""

    kind = FailureKind.INVALID_RESPONSE


class ResponseTooLargeError(InvalidResponseError):
    """An answer (a body, an aggregated stream, an SSE line or event) went past the host's cap."""


class StreamTimeoutError(ProviderTimeoutError):
    """A stream went silent too long between events, or outlived the host's total stream duration;
    never retried (the caller may already have seen part of it)."""

    default_retryable = False


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, then `retry-after` (seconds or an HTTP-date), as
    openai-python reads them; None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, delta)


_BY_STATUS: dict[int, type[ProviderError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: ModelNotFoundError,
    408: ProviderTimeoutError,
    409: ProviderServerError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def error_for_status(
    status: int,
    provider_message: str | None,
    *,
    provider: str | None = None,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
    retryable: bool | None = None,
    retry_after: float | None = None,
    cls: type[ProviderError] | None = None,
) -> ProviderError:
    """The typed error for an HTTP error status, the way every built-in provider maps them.

    `cls` overrides the class chosen by status (e.g. Google's 400 for a bad API key is an
    AuthenticationError); `retry_after` overrides what the headers say; `provider` defaults to the
    calling provider.
    """
    if provider is None:
        provider = current_provider() or "the provider"
    if cls is None:
        cls = _BY_STATUS.get(status) or (ProviderServerError if status >= 500 else ProviderError)
    if retry_after is None and headers is not None:
        retry_after = parse_retry_after(headers)
    text = provider_message or "no error message"
    return cls(
        f"{provider} returned status {status}: {text}",
        status=status,
        provider_message=provider_message,
        retryable=retryable,
        retry_after=retry_after,
        provider=provider,
        code=code,
    )
